"""End-to-end build on a mixed audio + MIDI corpus: clips, MIDI rendered with FluidSynth, and
audio augmentation verified by re-extraction.

The recording is Am Dm E Am (four beats each at 100 bpm, a click on every beat) played twice:
19.2 s of music plus a 1 s tail, so 8 s clips start at 0, 8 and 16 s (the 4.2 s tail is over half
a clip and stays). The MIDI file is a C major melody.
"""

import json
import os

import pytest
from fixtures import IN_MEMORY, SR, make_midi, melody, progression_audio, read_rows, wav_bytes

from captune.extractors.audio import from_audio_bytes
from captune.pipelines import build
from captune.pipelines.transforms import STAGE_BYTES

A_MINOR = wav_bytes(progression_audio(["Am", "Dm", "E", "Am"], bpm=100, repeats=2)[0])
C_MAJOR = make_midi([(0, False, melody([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60], dur=0.9))], tempo_bpm=120)


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    (root / "a_minor.wav").write_bytes(A_MINOR)
    (root / "c_major.mid").write_bytes(C_MAJOR)
    out = tmp_path_factory.mktemp("out")
    build.run(["--input", str(root), "--output", str(out), "--clip-seconds", "8", "--render-midi",
               "--augment", "musicbench", "--pitch-shifts", "2", "--tempo-changes", "0", "--volume-changes", "0",
               "--verify-augmentation", *IN_MEMORY])
    assert not list(out.glob("runs/*/.staging"))  # the clips' FLAC waited there for the shard writer
    return read_rows(out)


def test_recordings_become_clips_with_their_offsets(rows):
    clips = sorted((r for r in rows if r["modality"] == "audio" and r["variant"]["kind"] == "original"),
                   key=lambda r: r["clip_start_s"])
    assert [r["clip_start_s"] for r in clips] == [0.0, 8.0, 16.0]
    assert [r["duration_s"] for r in clips] == pytest.approx([8.0, 8.0, 4.2], abs=0.01)
    for r in clips:
        assert r["media"]["path"].endswith(".flac") and r["media"]["bytes"][:4] == b"fLaC"
        decoded = from_audio_bytes(r["media"]["bytes"], ".flac")
        assert decoded.duration_s == pytest.approx(r["duration_s"], abs=0.01)
        assert r["key"] == "A minor" and r["loudness_lufs"] is not None
    assert len({r["id"] for r in clips}) == 3 and len({r["group_id"] for r in clips}) == 1
    # every clip (about 190, 190 and 77 KB of FLAC) went through the staging folder, not the shuffles
    assert all(len(r["media"]["bytes"]) > STAGE_BYTES for r in clips)


def test_audio_variants_are_shifted_relabelled_and_verified(rows):
    shifted = [r for r in rows if r["modality"] == "audio" and r["variant"]["kind"] == "pitch_shift"]
    assert len(shifted) == 3 and all(r["variant"]["semitones"] == 2 for r in shifted)
    for r in shifted:
        assert r["key"] == "B minor"  # A minor + 2 semitones
        assert r["augmentation_check"]["key_found"] is not None
    full_clips = [r for r in shifted if r["duration_s"] > 5]
    assert all(r["augmentation_check"]["key_ok"] for r in full_clips), [r["augmentation_check"] for r in full_clips]


def test_rendered_midi_keeps_its_symbolic_facts_and_gains_audio_ones(rows):
    midi_rows = {r["variant"]["kind"]: r for r in rows if r["modality"] == "midi"}
    original = midi_rows["original"]
    # the tempo stays the symbolic one, not the rendering's beat tracking: 120 bpm and one velocity
    assert original["key"] == "C major" and original["tempo_source"] == "default" and original["tempo_bpm"] == 120
    assert original["media"]["path"] == "c_major.flac" and original["media"]["bytes"][:4] == b"fLaC"
    rendered = from_audio_bytes(original["media"]["bytes"], ".flac")
    # 11 notes of one beat at 120 bpm (the last one 0.9 beat) plus FluidSynth's release tail
    assert 5.0 < rendered.duration_s < 7.5
    assert original["loudness_lufs"] is not None and original["audio_stats"]["spectral_centroid_hz"] > 0
    shifted = midi_rows["pitch_shift"]
    assert shifted["key"] == "D major" and shifted["media"]["path"].endswith(".flac")
    assert shifted["augmentation_check"]["key_ok"] and shifted["augmentation_check"]["tempo_ok"]


def test_every_row_of_a_source_shares_its_split(rows):
    by_source = {}
    for r in rows:
        by_source.setdefault(r["source_id"], set()).add(r["split"])
    assert len(by_source) == 2 and all(len(s) == 1 for s in by_source.values())
    assert len(rows) == 3 * 2 + 2  # three clips and a MIDI file, each with one pitch-shifted variant
    assert all(os.path.basename(r["source_uri"]) in ("a_minor.wav", "c_major.mid") for r in rows)
    assert all(isinstance(r["fingerprint"], list) for r in rows)
    assert all(r["caption"] for r in rows)


def test_time_limits_scale_with_the_work_of_an_item():
    from captune.augment.plan import Settings as Augment
    from captune.items import Settings, work_factor

    plain, augmented = Settings(), Settings(augment=Augment())  # 6 shifts + 4 tempi + 1 ramp: 12 rows
    assert work_factor("a.mid", 10_000, plain) == 1.0 and work_factor("a.mid", 10_000, augmented) == 1.0
    assert work_factor("a.mid", 10_000, Settings(render_midi=True, augment=Augment())) == 12.0
    assert work_factor("a.ogg", 300_000, plain) == 1.0          # under a MB: one ordinary item
    assert work_factor("a.ogg", 5_000_000, augmented) == 5.0 * 12


def test_a_clip_that_cannot_be_analysed_costs_its_rows_only(tmp_path):
    """9.95 s cut into 1.8 s clips: five full clips and a 0.95 s tail (kept: over half a clip) that is
    under the 1 s the analysis needs. Built in multi-processing mode, where clips travel as elements of
    their own: the five clips give 2 rows each (original + one shift), the tail one ``clip`` failure,
    and the recording stays one source with no file failure."""
    samples, _ = progression_audio(["C", "G", "Am", "F"], bpm=100, repeats=1)
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    (root / "short_tail.wav").write_bytes(wav_bytes(samples[: int(9.95 * SR)]))
    build.run(["--input", str(root), "--output", str(out), "--clip-seconds", "1.8", "--augment", "musicbench",
               "--pitch-shifts", "1", "--tempo-changes", "0", "--volume-changes", "0"])
    rows = read_rows(out)
    assert sorted({r["clip_start_s"] for r in rows}) == pytest.approx([0.0, 1.8, 3.6, 5.4, 7.2])
    assert len(rows) == 10
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["failures_by_reason"] == {"clip/too_short": 1}
    assert counts["inputs"] == counts["sources"] == 1 and counts["file_failures"] == 0
    assert manifest["rows_made"] == 10 and "warnings" not in manifest
    [record] = [json.loads(line) for line in (out / json.loads((out / "manifest.json").read_text())["lists"]["failures"]).read_text().splitlines()]
    assert record["stage"] == "clip" and record["detail"].startswith("clip at 9 s")
