"""Known-answer tests for ``captune.augment`` and MusicBench's control-sentence rule.

Fixtures are built here: MIDI written with mido (``fixtures.make_midi``), sine
tones and constant signals in numpy, and Bach chorales from music21's bundled
corpus for the metamorphic check (transform, relabel, re-extract, compare).
Expected values come from music theory and arithmetic written out in each test.
"""

import io
import math

import mido
import numpy as np
import pytest
from music21 import corpus
from music21 import midi as m21midi

from captune.augment import audio, labels, midi as amidi, plan, verify
from captune.captioners.control import K_PROBABILITIES, musicbench_controls
from captune.extractors import BadInput, midi
from fixtures import DRUMS_KIT, PIANO, drum_pattern, make_midi, melody, progression_piece


def _with_key_signature(data: bytes, key: str) -> bytes:
    """``data`` with a key signature meta event (mido spelling, e.g. 'C', 'F#m') at tick 0 of track 0."""
    mid = mido.MidiFile(file=io.BytesIO(data))
    mid.tracks[0].insert(0, mido.MetaMessage("key_signature", key=key, time=0))
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def _key_signatures(data: bytes) -> list[str]:
    mid = mido.MidiFile(file=io.BytesIO(data))
    return [m.key for t in mid.tracks for m in t if m.type == "key_signature"]


def _notes(data: bytes, drums: bool):
    p = midi.from_midi_bytes(data)
    keep = p.is_drum == drums
    return sorted(zip(p.onset[keep].tolist(), p.pitch[keep].tolist()))


# ---------------------------------------------------------------------------
# MIDI: C major (I IV V I) at 96 bpm in 3/4, with bass and drums.
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def c_major():
    data = _with_key_signature(progression_piece(chords=("C", "F", "G", "C"), bpm=96, meter=(3, 4)), "C")
    return data, midi.extract(midi.from_midi_bytes(data))


def test_source_is_what_we_built(c_major):
    _, f = c_major
    assert (f["key"], f["tempo_bpm"], f["time_signature"]) == ("C major", 96.0, "3/4")
    # 4 chords x 4 repeats, one 3/4 bar each at 96 bpm: 16 x 3 x 60/96 = 30 s
    assert f["duration_s"] == pytest.approx(30.0)


def test_shift_up_three_is_eb_major(c_major):
    data, f = c_major
    v = plan.variant("pitch_shift", semitones=3)
    out = amidi.apply(data, v)
    assert _notes(out, drums=False) == [(t, p + 3) for t, p in _notes(data, drums=False)]
    assert _notes(out, drums=True) == _notes(data, drums=True)      # drums are not pitched
    assert _key_signatures(out) == ["Eb"]                           # 3 flats, not D# (9 sharps)
    expected = labels.rewrite(f, v)
    assert expected["key"] == "Eb major"
    assert expected["chord_summary"] == ["Eb", "Ab", "Bb"]           # I IV V of Eb
    found = midi.extract(midi.from_midi_bytes(out))
    assert found["key"] == "Eb major"
    assert found["tempo_bpm"] == pytest.approx(96.0)
    assert verify.check(expected, found) == {"key_ok": True, "tempo_ok": True,
                                             "key_found": "Eb major", "bpm_found": 96.0}


@pytest.mark.parametrize("key, shift, new", [("F#m", -2, "Em"), ("C", 1, "Db"), ("A", -3, "F#"),
                                             ("Ebm", 2, "Fm"), ("Am", 3, "Cm"), ("G#m", -1, "Gm")])
def test_key_signature_meta_is_respelled(key, shift, new):
    data = _with_key_signature(make_midi([(PIANO, False, melody([60, 64, 67]))]), key)
    assert _key_signatures(amidi.apply(data, plan.variant("pitch_shift", semitones=shift))) == [new]


def test_tempo_change_scales_bpm_and_duration_not_ticks(c_major):
    data, f = c_major
    out = amidi.apply(data, plan.variant("tempo_change", tempo_ratio=1.2))
    found = midi.extract(midi.from_midi_bytes(out))
    assert found["tempo_bpm"] == pytest.approx(96 * 1.2, abs=0.01)  # 115.2
    assert found["duration_s"] == pytest.approx(30.0 / 1.2, abs=1e-3)  # 25 s
    assert _notes(out, drums=False) == _notes(data, drums=False)
    assert found["time_signature"] == "3/4" and found["key"] == "C major"
    slow = midi.extract(midi.from_midi_bytes(amidi.apply(data, plan.variant("tempo_change", tempo_ratio=0.8))))
    assert slow["tempo_bpm"] == pytest.approx(76.8, abs=0.01) and slow["duration_s"] == pytest.approx(37.5, abs=1e-3)


def test_tempo_change_without_tempo_event_starts_from_120():
    data = make_midi([(PIANO, False, melody([60, 62, 64, 65]))], tempo_bpm=None)
    out = amidi.apply(data, plan.variant("tempo_change", tempo_ratio=1.25))
    assert midi.tempo(midi.from_midi_bytes(out))["tempo_bpm"] == pytest.approx(150.0)


def test_volume_ramp_follows_the_curve():
    # 40 quarter notes at 120 bpm: onsets every 0.5 s, the last ends at 20 s.
    data = make_midi([(PIANO, False, melody([60] * 40, velocity=100))], tempo_bpm=120)
    v = plan.variant("volume_change", gain_start=0.25, gain_end=1.0, change_at_s=4.0)
    p = midi.from_midi_bytes(amidi.apply(data, v))
    vel = dict(zip(np.round(p.seconds(p.onset), 3).tolist(), p.velocity.tolist()))
    # gain 0.25 up to 4 s, then x4 over the 16 s to the end, straight in dB:
    # at 12 s halfway in dB, 0.25 * 4 ** 0.5 = 0.5; at 16 s, 0.25 * 4 ** 0.75 = 0.707.
    assert vel[0.0] == 25 and vel[3.5] == 25
    assert vel[12.0] == 50
    assert vel[16.0] == round(100 * 0.25 * 4 ** 0.75) == 71
    assert all(np.diff([vel[t] for t in sorted(vel)]) >= 0)         # a crescendo never falls
    down = midi.from_midi_bytes(amidi.apply(data, plan.variant("volume_change", gain_start=1.0, gain_end=0.004,
                                                                change_at_s=0.0)))
    assert down.velocity.min() == 1                                   # 100 * 0.004 ** 0.975 < 1: clamped to 1


def test_original_is_untouched_and_bad_input_is_refused(c_major):
    data, _ = c_major
    assert amidi.apply(data, plan.ORIGINAL) is data
    high = make_midi([(PIANO, False, melody([120, 126]))])
    with pytest.raises(BadInput) as err:
        amidi.apply(high, plan.variant("pitch_shift", semitones=3))
    assert err.value.reason == "pitch_out_of_range"
    with pytest.raises(BadInput):
        amidi.apply(b"not a midi file", plan.variant("pitch_shift", semitones=1))
    drums_only = make_midi([(DRUMS_KIT, True, drum_pattern(2))])
    assert _notes(amidi.apply(drums_only, plan.variant("pitch_shift", semitones=3)), drums=True) \
        == _notes(drums_only, drums=True)


# ---------------------------------------------------------------------------
# labels.rewrite on hand-written facts.
# ---------------------------------------------------------------------------

FACTS = {
    "duration_s": 36.0, "duration_word": "Short song",
    "tempo_bpm": 100.0, "tempo_word": "Moderato", "tempo_source": "tempo_map",
    "tempo_changes": [{"time_s": 0.0, "bpm": 100.0}, {"time_s": 20.0, "bpm": 80.0}],
    "time_signature": "4/4",
    "key": "C major", "key_confidence": 0.9, "key_alternative": "A minor",
    "chords": [{"start_s": 0.0, "end_s": 2.4, "label": "Am"}, {"start_s": 2.4, "end_s": 4.8, "label": "G/B"},
               {"start_s": 4.8, "end_s": 6.0, "label": "N"}, {"start_s": 6.0, "end_s": 8.0, "label": "F#dim"}],
    "chord_summary": ["Am", "G/B"], "chord_summary_count": 2,
    "beats_s": [0.0, 0.6, 1.2], "downbeats_s": [0.0, 2.4],
    "note_stats": {"note_count": 100, "pitch_min": 40, "pitch_max": 80, "mean_velocity": 80.0,
                   "note_density": 2.5, "polyphony": 2.0, "pitch_mean": 60.5, "legato": 0.9, "onset_density": 2.0},
    "loudness_lufs": -14.0, "valence": 0.3, "mood": ["happy"],
}


def test_key_relabels_use_conventional_spelling():
    assert labels.transpose_key("F# minor", -2) == "E minor"
    assert labels.transpose_key("Bb major", 1) == "B major"
    assert labels.transpose_key("C major", 3) == "Eb major"       # not D# major
    assert labels.transpose_key("E minor", -1) == "Eb minor"      # 6 flats, not D# minor
    assert labels.transpose_key("A minor", 4) == "C# minor"       # 4 sharps, not Db minor
    assert labels.transpose_key(None, 2) is None
    # a chord in A major (C#m7 = iii7) shifted to Bb major and to Ab major, flat keys
    assert labels.transpose_chord("C#m7", 1, "Bb major") == "Dm7"
    assert labels.transpose_chord("C#m7", -1, "Ab major") == "Cm7"
    assert labels.transpose_chord("C#m7", 2, "B major") == "D#m7"  # iii7 of B is D#m7


def test_rewrite_pitch_shift():
    f = labels.rewrite(FACTS, plan.variant("pitch_shift", semitones=3))
    assert (f["key"], f["key_alternative"]) == ("Eb major", "C minor")
    # vi, V6 and #iv-dim of C become vi, V6 and #iv-dim of Eb
    assert [c["label"] for c in f["chords"]] == ["Cm", "Bb/D", "N", "Adim"]
    assert f["chord_summary"] == ["Cm", "Bb/D"]
    assert [c["start_s"] for c in f["chords"]] == [0.0, 2.4, 4.8, 6.0]
    s = f["note_stats"]
    assert (s["pitch_min"], s["pitch_max"], s["pitch_mean"]) == (43, 83, 63.5)
    assert (f["tempo_bpm"], f["duration_s"], s["note_density"]) == (100.0, 36.0, 2.5)
    assert FACTS["key"] == "C major" and FACTS["chords"][0]["label"] == "Am"   # input not mutated


def test_rewrite_tempo_change():
    f = labels.rewrite(FACTS, plan.variant("tempo_change", tempo_ratio=1.25))
    assert (f["tempo_bpm"], f["tempo_word"]) == (125.0, "Allegro")       # 110 < 125 <= 140
    assert (f["duration_s"], f["duration_word"]) == (28.8, "Short fragment")  # 36 / 1.25, under 30 s
    assert f["tempo_changes"] == [{"time_s": 0.0, "bpm": 125.0}, {"time_s": 16.0, "bpm": 100.0}]
    assert f["beats_s"] == [0.0, 0.48, 0.96] and f["downbeats_s"] == [0.0, 1.92]
    assert [(c["start_s"], c["end_s"]) for c in f["chords"]] == [(0.0, 1.92), (1.92, 3.84), (3.84, 4.8), (4.8, 6.4)]
    assert (f["note_stats"]["note_density"], f["note_stats"]["onset_density"]) == (3.125, 2.5)
    assert [c["label"] for c in f["chords"]] == ["Am", "G/B", "N", "F#dim"] and f["key"] == "C major"
    assert f["note_stats"]["polyphony"] == 2.0 and f["note_stats"]["legato"] == 0.9


def test_rewrite_volume_change():
    v = plan.variant("volume_change", gain_start=0.1, gain_end=1.0, change_at_s=0.0)
    f = labels.rewrite(FACTS, v)
    # gain 10 ** (t / 36 - 1) over 0..36 s: mean amplitude 0.9 / ln 10, mean energy 0.99 / (2 ln 10)
    assert f["note_stats"]["mean_velocity"] == pytest.approx(80 * 0.9 / math.log(10), abs=0.01)
    assert f["loudness_lufs"] == pytest.approx(-14 + 10 * math.log10(0.99 / (2 * math.log(10))), abs=0.01)
    assert f["key"] == "C major" and f["tempo_bpm"] == 100.0 and f["valence"] == 0.3


def test_mean_gain_matches_the_curve_numerically():
    v = plan.variant("volume_change", gain_start=1.0, gain_end=0.3, change_at_s=4.6)
    t = np.linspace(0, 10, 200_001)
    for power in (1, 2):
        numeric = np.trapezoid(plan.gain_curve(t, v, 10.0) ** power, t) / 10
        assert plan.mean_gain(v, 10.0, power) == pytest.approx(numeric, rel=1e-6)


def test_verify_check():
    assert verify.check({"key": "Eb minor", "tempo_bpm": 100.0}, {"key": "D# minor", "tempo_bpm": 103.9}) == \
        {"key_ok": True, "tempo_ok": True, "key_found": "D# minor", "bpm_found": 103.9}
    r = verify.check({"key": "Eb major", "tempo_bpm": 100.0}, {"key": "Eb minor", "tempo_bpm": 104.1})
    assert (r["key_ok"], r["tempo_ok"]) == (False, False)
    r = verify.check({"key": None, "tempo_bpm": None}, {"key": "C major", "tempo_bpm": 120.0})
    assert (r["key_ok"], r["tempo_ok"], r["key_found"]) == (None, None, "C major")


# ---------------------------------------------------------------------------
# plan.variants
# ---------------------------------------------------------------------------

def test_plan_counts_ranges_and_halves():
    vs = plan.variants("a" * 64, 10.0, seed=7)
    kinds = [v["kind"] for v in vs]
    assert kinds == ["pitch_shift"] * 6 + ["tempo_change"] * 4 + ["volume_change"]
    assert [v["semitones"] for v in vs[:6]] == [-3, -2, -1, 1, 2, 3]
    ratios = [v["tempo_ratio"] for v in vs[6:10]]
    assert sum(r < 1 for r in ratios) == 2
    assert all(1.10 <= r <= 1.25 or 1 / 1.25 - 1e-6 <= r <= 1 / 1.10 + 1e-6 for r in ratios)
    (vol,) = vs[10:]
    g = min(vol["gain_start"], vol["gain_end"])
    assert max(vol["gain_start"], vol["gain_end"]) == 1.0 and 0.1 <= g <= 0.4
    assert 4.0 <= vol["change_at_s"] <= 6.0
    assert all(set(v) == set(plan.ORIGINAL) for v in vs)


def test_plan_is_reproducible_and_source_dependent():
    a = plan.variants("song-a", 10.0, seed=1)
    assert a == plan.variants("song-a", 10.0, seed=1)
    assert a != plan.variants("song-b", 10.0, seed=1)
    assert a != plan.variants("song-a", 10.0, seed=2)
    # over many sources: half of all tempo changes slow down, and both ramp directions occur
    many = [plan.variants(f"s{i}", 10.0, seed=0) for i in range(300)]
    tempo = [v["tempo_ratio"] for vs in many for v in vs if v["kind"] == "tempo_change"]
    assert sum(r < 1 for r in tempo) == len(tempo) / 2
    fast = [r for r in tempo if r > 1]
    assert np.mean(fast) == pytest.approx(1.175, abs=0.01)           # uniform on 1.10..1.25
    crescendos = sum(vs[-1]["gain_end"] == 1.0 for vs in many)
    assert 110 < crescendos < 190                                     # a fair coin, 300 flips
    at = [vs[-1]["change_at_s"] for vs in many]
    assert min(at) >= 4.0 and max(at) <= 6.0 and np.std(at) == pytest.approx(2 / math.sqrt(12), rel=0.15)


def test_plan_refuses_bad_duration():
    with pytest.raises(BadInput):
        plan.variants("x", 0.0, seed=0)


# ---------------------------------------------------------------------------
# MusicBench control sentences
# ---------------------------------------------------------------------------

ALL = {"key": "K.", "tempo": "T.", "chords": "C.", "beats": "B.", "volume": "V."}


def test_musicbench_k_distribution_and_volume_last():
    rng = np.random.default_rng(12345)
    n = 20_000
    draws = [musicbench_controls(ALL, rng) for _ in range(n)]
    assert all(d[-1] == "V." and d.count("V.") == 1 for d in draws)
    counts = np.bincount([len(d) - 1 for d in draws], minlength=5)
    expected = n * np.asarray(K_PROBABILITIES)
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 18.47                                               # chi-square, 4 dof, p = 0.001
    firsts = np.bincount(["CBTK".index(d[0][0]) for d in draws if len(d) > 1], minlength=4)
    assert firsts.min() > 0.22 * firsts.sum()                          # each sentence leads ~1/4 of the time
    assert len({tuple(d) for d in draws if len(d) == 5}) == 24        # all orders of four occur


def test_musicbench_missing_sentences():
    rng = np.random.default_rng(3)
    some = dict(ALL, key=None, volume=None)
    draws = [musicbench_controls(some, rng) for _ in range(8000)]
    assert not any("K." in d for d in draws) and not any("V." in d for d in draws)
    # every present sentence keeps its chance E[k] / 4 = (0.25 + 0.6 + 0.6 + 0.4) / 4 = 0.4625
    for s in ("T.", "C.", "B."):
        assert np.mean([s in d for d in draws]) == pytest.approx(0.4625, abs=0.02)
    assert musicbench_controls(dict.fromkeys(ALL), rng) == []
    again = [musicbench_controls(ALL, np.random.default_rng(9)) for _ in range(2)]
    assert again[0] == again[1]


# ---------------------------------------------------------------------------
# Audio
# ---------------------------------------------------------------------------

SR = 44100


def _tone(freq=440.0, seconds=2.0):
    t = np.arange(int(SR * seconds)) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(x):
    x = x[len(x) // 4: 3 * len(x) // 4]                                 # skip the edges
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=8 * len(x)))
    return np.fft.rfftfreq(8 * len(x), 1 / SR)[spec.argmax()]


def test_audio_pitch_shift_two_semitones():
    y = audio.apply(_tone(), SR, plan.variant("pitch_shift", semitones=2))
    assert y.dtype == np.float32 and len(y) == 2 * SR
    assert _peak_hz(y) == pytest.approx(440 * 2 ** (2 / 12), rel=0.003)   # B4, 493.88 Hz


def test_audio_time_stretch():
    y = audio.apply(_tone(seconds=4.0), SR, plan.variant("tempo_change", tempo_ratio=1.25))
    assert len(y) == pytest.approx(4 * SR / 1.25, rel=0.03)
    assert _peak_hz(y) == pytest.approx(440, rel=0.003)                 # pitch kept


def test_audio_gain_ramp_values():
    ones = np.ones(3 * SR, dtype=np.float32)
    y = audio.apply(ones, SR, plan.variant("volume_change", gain_start=0.25, gain_end=1.0, change_at_s=1.0))
    # 0.25 to 1 s, then x4 over 2 s straight in dB: at 2 s 0.25 * 4 ** 0.5 = 0.5
    assert y[int(0.5 * SR)] == pytest.approx(0.25)
    assert y[2 * SR] == pytest.approx(0.5, rel=1e-4)
    assert y[-1] == pytest.approx(1.0, rel=1e-3)
    assert np.array_equal(audio.apply(ones, SR, plan.ORIGINAL), ones)


@pytest.mark.parametrize("spec", [{"kind": "pitch_shift", "semitones": None}, {"kind": "pitch_shift", "semitones": 1.5},
                                  {"kind": "tempo_change", "tempo_ratio": 0.0}, {"kind": "reverse"},
                                  {"kind": "volume_change", "gain_start": 0.0, "gain_end": 1.0, "change_at_s": 1.0}])
def test_bad_variants_are_refused_everywhere(spec, c_major):
    data, facts = c_major
    for call in (lambda: amidi.apply(data, spec), lambda: labels.rewrite(facts, spec),
                 lambda: audio.apply(np.zeros(100, np.float32), SR, spec)):
        with pytest.raises(BadInput) as err:
            call()
        assert err.value.reason == "bad_variant"


def test_audio_bad_input():
    for bad in (np.zeros((2, 100), np.float32), np.array([np.nan], np.float32), np.array([], np.float32)):
        with pytest.raises(BadInput):
            audio.apply(bad, SR, plan.ORIGINAL)


# ---------------------------------------------------------------------------
# Metamorphic: real chorales -> every MIDI variant -> re-extract -> agree with relabelling.
# ---------------------------------------------------------------------------

CHORALES = ("bach/bwv66.6", "bach/bwv7.7", "bach/bwv269", "bach/bwv347", "bach/bwv153.1")


def test_metamorphic_chorales():
    results = []
    for name in CHORALES:
        data = m21midi.translate.streamToMidiFile(corpus.parse(name)).writestr()
        facts = midi.extract(midi.from_midi_bytes(data))
        assert facts["key"] and facts["tempo_bpm"]
        for v in plan.variants(name, facts["duration_s"], seed=0):
            found = midi.extract(midi.from_midi_bytes(amidi.apply(data, v)))
            results.append(verify.check(labels.rewrite(facts, v), found))
    assert len(results) == 11 * len(CHORALES)
    assert np.mean([r["key_ok"] for r in results]) >= 0.9
    assert np.mean([r["tempo_ok"] for r in results]) >= 0.9


def test_tempo_change_keeps_section_labels_and_scales_their_times():
    """Relabelled sections of a x1.25 variant equal the sections found again in the transformed MIDI."""
    from fixtures import verse_chorus_song
    data = verse_chorus_song(bpm=100)
    variant = plan.variant("tempo_change", tempo_ratio=1.25)
    rewritten = labels.rewrite(midi.extract(midi.from_midi_bytes(data)), variant)["sections"]
    again = midi.extract(midi.from_midi_bytes(amidi.apply(data, variant)))["sections"]
    assert [s["label"] for s in rewritten] == ["i", "A", "B", "A", "B", "o"]
    assert rewritten[1]["start_s"] == 15.36                     # 8 bars of 4 beats at 125 bpm
    assert rewritten == again


def test_variants_rewrite_the_notes_of_each_section():
    """Section notes follow a variant: pitch + semitones, notes per second x the tempo ratio (as found
    again in the transformed MIDI); a gain curve leaves no section velocity."""
    from fixtures import verse_chorus_song
    data = verse_chorus_song(bpm=100)
    facts = midi.extract(midi.from_midi_bytes(data))
    for variant in (plan.variant("pitch_shift", semitones=3), plan.variant("tempo_change", tempo_ratio=1.25)):
        rewritten = labels.rewrite(facts, variant)["section_notes"]
        again = midi.extract(midi.from_midi_bytes(amidi.apply(data, variant)))["section_notes"]
        assert [n["pitch_mean"] for n in rewritten] == [n["pitch_mean"] for n in again]
        assert np.allclose([n["note_density"] for n in rewritten], [n["note_density"] for n in again], atol=2e-3)
    louder = labels.rewrite(facts, plan.variant("volume_change", gain_start=1.0, gain_end=1.5))
    assert all(n["mean_velocity"] is None for n in louder["section_notes"])

