"""Known-answer tests for ``captune.extractors.fingerprint``.

A Bach chorale from music21's corpus (bwv66.6) is written as MIDI by music21 and
re-written with mido (independent of the symusic parser under test) the ways
near-copies differ in real corpora: transposed, a faster tempo map, a new
resolution and format 0, the timeline rescaled with no tempo map (a
performance), re-voiced (the bass doubled an octave below, other programs,
random velocities, a few melody notes dropped, the bass in fifths). Melodic
shingles are pitch intervals and inter-onset ratios of the parts' lines, so the
first four leave every shingle as it was (similarity 1) and re-voicing keeps
most of them; other chorales are other
tunes and must stay far below ``THRESHOLD``. Chroma is synthesized from triads
written here from music theory.
"""

import io
import os
import subprocess
import sys

import mido
import numpy as np
import pytest
from music21 import corpus, midi as m21midi

from captune.extractors import BadInput, fingerprint as fp
from captune.extractors.midi import from_midi_bytes
from captune.extractors.score import from_score_bytes

from fixtures import make_midi

CHORALE = "bwv66.6"
UNRELATED = ("bwv1.6", "bwv2.6", "bwv3.6", "bwv4.8", "bwv10.7")


def _score_piece(work: str):
    path = str(corpus.getWork(work))
    with open(path, "rb") as fh:
        return from_score_bytes(fh.read(), os.path.splitext(path)[1])


@pytest.fixture(scope="module")
def chorale_midi() -> bytes:
    return m21midi.translate.streamToMidiFile(corpus.parse(CHORALE)).writestr()


@pytest.fixture(scope="module")
def chorale_sig(chorale_midi):
    return fp.symbolic(from_midi_bytes(chorale_midi))


# ---------------------------------------------------------------------------
# mido rewrites of a MIDI file, in absolute ticks.
# ---------------------------------------------------------------------------

def _events(track):
    tick, out = 0, []
    for msg in track:
        tick += msg.time
        out.append((tick, msg))
    return out


def _track(events) -> mido.MidiTrack:
    track, last = mido.MidiTrack(), 0
    for tick, msg in sorted(events, key=lambda e: e[0]):  # stable: same-tick order kept
        track.append(msg.copy(time=tick - last))
        last = tick
    return track


def _is_note(msg) -> bool:
    return msg.type in ("note_on", "note_off")


def _note_tracks(mid) -> list[int]:
    return [i for i, t in enumerate(mid.tracks) if any(_is_note(m) for m in t)]


def rewrite(data: bytes, transpose=0, tempo_factor=1.0, tpq_factor=1, format0=False, performance=None,
            double_bass=False, bass_fifths=False, program=None, velocity_seed=None, drop_every=0) -> bytes:
    """The chorale rewritten (see the module doc); ``performance``: tick scale, tempo map removed."""
    mid = mido.MidiFile(file=io.BytesIO(data))
    notes = _note_tracks(mid)
    rng = np.random.default_rng(velocity_seed)
    tracks = []
    for i, track in enumerate(mid.tracks):
        events = []
        dropped = set()
        count = 0
        for tick, msg in _events(track):
            if msg.type == "set_tempo":
                if performance:
                    continue
                msg = msg.copy(tempo=round(msg.tempo / tempo_factor))
            if _is_note(msg) or msg.type == "program_change":
                # a part per channel (music21 writes all on channel 0), as a sequencer would
                msg = msg.copy(channel=notes.index(i))
            if msg.type == "program_change" and program is not None:
                msg = msg.copy(program=program)
            if _is_note(msg):
                msg = msg.copy(note=msg.note + transpose)
                starts = msg.type == "note_on" and msg.velocity > 0
                if starts and drop_every and i == notes[0]:
                    count += 1
                    if count % drop_every == 0:
                        dropped.add(msg.note)
                        continue
                if not starts and msg.note in dropped:
                    dropped.discard(msg.note)
                    continue
                if starts and velocity_seed is not None:
                    msg = msg.copy(velocity=int(rng.integers(30, 120)))
            scale = (performance or 1.0) * tpq_factor
            events.append((round(tick * scale), msg))
            if double_bass and i == notes[-1] and _is_note(msg):
                events.append((round(tick * scale), msg.copy(note=msg.note - 12)))
            if bass_fifths and i == notes[-1] and _is_note(msg):
                events.append((round(tick * scale), msg.copy(note=msg.note + 7)))
        tracks.append(_track(events))
    out = mido.MidiFile(type=1, ticks_per_beat=mid.ticks_per_beat * tpq_factor)
    if format0:
        out = mido.MidiFile(type=0, ticks_per_beat=out.ticks_per_beat)
        out.tracks.append(mido.merge_tracks(tracks))
    else:
        out.tracks.extend(tracks)
    buf = io.BytesIO()
    out.save(file=buf)
    return buf.getvalue()


# ---------------------------------------------------------------------------
# Symbolic signatures.
# ---------------------------------------------------------------------------

def test_signature_shape_and_range(chorale_sig):
    assert len(chorale_sig) == fp.NUM_HASHES
    assert all(isinstance(v, int) and 0 <= v < 2 ** 63 for v in chorale_sig)
    assert len(set(chorale_sig)) > fp.NUM_HASHES // 2   # ~150 shingles: minima of many different ones


def test_score_and_its_midi_agree(chorale_sig):
    # The score path renders the same MIDI through music21: the same notes, the same signature.
    assert fp.symbolic(_score_piece(CHORALE)) == chorale_sig


@pytest.mark.parametrize("change", [
    {"transpose": 5}, {"transpose": -3},
    {"tempo_factor": 1.2},
    {"tpq_factor": 2, "format0": True},
])
def test_exact_invariances(chorale_midi, chorale_sig, change):
    # Intervals, tick ratios and the per-track lines are unchanged: every shingle stays.
    assert fp.symbolic(from_midi_bytes(rewrite(chorale_midi, **change))) == chorale_sig


def test_performance_timeline(chorale_midi, chorale_sig):
    # Ticks x 1.2 with no tempo map: ratios of inter-onset intervals do not change
    # (up to tick rounding, far from the rounding edges of log2 ratios).
    piece = from_midi_bytes(rewrite(chorale_midi, performance=1.2))
    assert fp.similarity(fp.symbolic(piece), chorale_sig) >= 0.9


def test_revoiced_copy_is_a_near_duplicate(chorale_midi, chorale_sig):
    revoiced = rewrite(chorale_midi, transpose=2, tempo_factor=1.2, double_bass=True, bass_fifths=True,
                       program=40, velocity_seed=0, drop_every=12)
    sim = fp.similarity(fp.symbolic(from_midi_bytes(revoiced)), chorale_sig)
    # The bass in fifths is no longer a melodic line: soprano, alto and tenor (3 of 4 lines,
    # a few soprano shingles lost to the dropped notes) remain.
    assert fp.THRESHOLD < 0.5 < sim < 1.0


def test_each_revoicing_alone(chorale_midi, chorale_sig):
    sims = {name: fp.similarity(fp.symbolic(from_midi_bytes(rewrite(chorale_midi, **kw))), chorale_sig)
            for name, kw in {"programs": {"program": 40}, "velocities": {"velocity_seed": 1},
                             "dropped": {"drop_every": 12}, "doubled": {"double_bass": True},
                             "fifths": {"bass_fifths": True}}.items()}
    assert sims["programs"] == 1.0 and sims["velocities"] == 1.0   # neither enters a shingle
    assert sims["doubled"] == 1.0             # the octave below: the same pitch classes, the same top line
    assert 0.6 < sims["dropped"] < 1.0        # 3 of 36 soprano notes: at most 18 of ~140 shingles change
    assert 0.5 < sims["fifths"] < 1.0         # two pitch classes per event: the bass line (~1/4) leaves


def test_unrelated_chorales_stay_apart(chorale_sig):
    sigs = [chorale_sig] + [fp.symbolic(_score_piece(w)) for w in UNRELATED]
    for i in range(len(sigs)):
        for j in range(i + 1, len(sigs)):
            assert fp.similarity(sigs[i], sigs[j]) < fp.THRESHOLD / 2, (i, j)


def test_deterministic_across_processes(chorale_midi, chorale_sig, tmp_path):
    path = tmp_path / "chorale.mid"
    path.write_bytes(chorale_midi)
    code = ("import sys; from captune.extractors import fingerprint as fp; "
            "from captune.extractors.midi import from_midi_bytes; "
            "print(fp.symbolic(from_midi_bytes(open(sys.argv[1], 'rb').read())))")
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == str(chorale_sig)
    assert fp.symbolic(from_midi_bytes(chorale_midi)) == chorale_sig


def test_lines_skip_accompaniment():
    # A 12-note melody over block chords: only the melody is a line.
    melody = [(i * 0.5, 0.5, 60 + (0, 2, 4, 5, 7, 9)[i % 6], 90) for i in range(12)]
    chords = [(b, 2, p, 70) for b in (0, 2, 4) for p in (48, 52, 55)]
    piece = from_midi_bytes(make_midi([(0, False, melody), (0, False, chords)]))
    lines = fp.lines(piece)
    assert len(lines) == 1
    assert lines[0][1].tolist() == [m[2] for m in melody]


def test_echoed_line_is_the_same_line():
    # POP909 360-v1: the melody track doubles every note a 64th note later. Onsets closer
    # than MERGE_BEATS (1/12 quarter) are one event, so the line and signature are unchanged.
    melody = [(i * 0.5, 0.5, 60 + (0, 4, 7, 12, 7, 4, 2, 5)[i % 8], 90) for i in range(24)]
    echo = melody + [(b + 1 / 16, d, p, v) for b, d, p, v in melody]
    plain = from_midi_bytes(make_midi([(0, False, melody)]))
    doubled = from_midi_bytes(make_midi([(0, False, echo)]))
    assert [p.tolist() for _, p in fp.lines(doubled)] == [[m[2] for m in melody]]
    assert fp.symbolic(doubled) == fp.symbolic(plain) != []


def test_empty_signatures():
    drums = from_midi_bytes(make_midi([(0, True, [(i * 0.5, 0.25, 36, 100) for i in range(16)])]))
    assert fp.symbolic(drums) == []
    short = from_midi_bytes(make_midi([(0, False, [(i, 1, 60 + i, 90) for i in range(fp.SHINGLE_NOTES - 1)])]))
    assert fp.symbolic(short) == []
    assert fp.minhash(np.zeros(0, dtype=np.int64)) == []


# ---------------------------------------------------------------------------
# similarity and band keys.
# ---------------------------------------------------------------------------

def test_similarity_counts_equal_slots():
    a = list(range(fp.NUM_HASHES))
    b = a[:32] + [-1] * (fp.NUM_HASHES - 32)
    assert fp.similarity(a, a) == 1.0
    assert fp.similarity(a, b) == 32 / fp.NUM_HASHES
    assert fp.similarity(a, []) == 0.0 and fp.similarity(None, a) == 0.0
    with pytest.raises(BadInput) as err:
        fp.similarity(a, a[:64])
    assert err.value.reason == "signature_mismatch"


def test_minhash_estimates_jaccard():
    # Sets of 600 and 600 codes sharing 300: Jaccard 300 / 900 = 1/3; the estimate's
    # standard error with 128 hashes is sqrt(1/3 * 2/3 / 128) = 0.042.
    a, b = np.arange(0, 600), np.arange(300, 900)
    assert abs(fp.similarity(fp.minhash(a), fp.minhash(b)) - 1 / 3) < 4 * 0.042
    assert fp.minhash(np.concatenate([a, a])) == fp.minhash(a)   # a set: duplicates do not count


def test_band_keys():
    sig = list(range(fp.NUM_HASHES))
    keys = fp.band_keys(sig, 64)
    assert len(keys) == 64 and len(set(keys)) == 64
    assert [k.split(":")[0] for k in keys] == [str(i) for i in range(64)]
    other = sig[:2] + [999] + sig[3:]            # only band 1 (rows 2, 3) differs
    changed = [i for i, (x, y) in enumerate(zip(keys, fp.band_keys(other, 64))) if x != y]
    assert changed == [1]
    assert fp.band_keys([], 64) == []
    with pytest.raises(BadInput):
        fp.band_keys(sig, 48)


def test_candidate_probability_s_curve():
    # P(candidate) = 1 - (1 - s^r)^b with r = NUM_HASHES / BANDS: near-certain for the
    # versions (s >= 0.5), likely at the threshold, rare for unrelated pieces (s ~ 0.02).
    r = fp.NUM_HASHES // fp.BANDS

    def p(s):
        return 1 - (1 - s ** r) ** fp.BANDS

    assert p(0.5) > 0.999 and p(fp.THRESHOLD) > 0.9 and p(0.02) < 0.05


# ---------------------------------------------------------------------------
# Chroma signatures.
# ---------------------------------------------------------------------------

TRIADS = {"": (0, 4, 7), "m": (0, 3, 7)}            # major: M3 + P5; minor: m3 + P5
# A diatonic song in C: (root pc, quality, beats).
SONG = [(0, "", 4), (9, "m", 4), (5, "", 2), (7, "", 2), (0, "", 4), (4, "m", 2), (5, "", 2), (2, "m", 4),
        (7, "", 4), (0, "", 2), (9, "m", 2), (5, "", 4), (7, "", 4), (4, "m", 4), (9, "m", 2), (2, "m", 2),
        (7, "", 4), (0, "", 4)]
# The same chords of C in another order and rhythm: an unrelated song in the same key.
OTHER = [(0, "", 2), (5, "", 4), (2, "m", 2), (7, "", 4), (9, "m", 4), (4, "m", 2), (0, "", 2), (7, "", 2),
         (5, "", 2), (9, "m", 4), (2, "m", 4), (4, "m", 2), (0, "", 4), (5, "", 2), (7, "", 2), (9, "m", 4)]


def synth_chroma(song, bpm=100.0, frame_rate=10.0, transpose=0, noise=0.05, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frames = []
    for root, quality, beats in song:
        row = np.zeros(12)
        row[[(root + transpose + i) % 12 for i in TRIADS[quality]]] = 1.0
        frames += [row] * int(round(beats * 60.0 / bpm * frame_rate))
    chroma = np.asarray(frames)
    return np.clip(chroma + noise * rng.random(chroma.shape), 0, None)


def test_chord_sequence_known_answer():
    roots, minor = fp.chord_sequence(synth_chroma(SONG, bpm=120), 10.0)   # 2 beats = 1 s, over MIN_CHORD_S
    assert roots.tolist() == [r for r, _, _ in SONG]
    assert minor.tolist() == [int(q == "m") for _, q, _ in SONG]


def test_chord_sequence_drops_short_chords():
    # A C - F - G - C song with a 0.3 s passing Dm between F and G (under MIN_CHORD_S = 0.6 s).
    song = [(0, "", 4), (5, "", 4), (2, "m", 0.5), (7, "", 4), (0, "", 4)]
    roots, minor = fp.chord_sequence(synth_chroma(song), 10.0)
    assert roots.tolist() == [0, 5, 7, 0] and minor.tolist() == [0, 0, 0, 0]


def test_chroma_versions_and_unrelated():
    base = fp.from_chroma(synth_chroma(SONG), 10.0)
    assert len(base) == fp.NUM_HASHES
    # Transposed and 20 % faster with other noise: the same root steps and modes. A frame
    # rate of 21.5/s (the chroma frames of captune's audio analysis) too.
    assert fp.from_chroma(synth_chroma(SONG, bpm=120, transpose=3, seed=1), 10.0) == base
    assert fp.from_chroma(synth_chroma(SONG, frame_rate=21.5, transpose=-2, seed=2), 21.5) == base
    assert fp.similarity(fp.from_chroma(synth_chroma(OTHER), 10.0), base) < fp.THRESHOLD


def test_chroma_silence_and_bad_input():
    assert fp.from_chroma(np.zeros((200, 12)), 10.0) == []
    assert fp.from_chroma(np.zeros((0, 12)), 10.0) == []
    assert fp.from_chroma(synth_chroma(SONG[:3]), 10.0) == []   # 3 triads: no 4-triad shingle
    for bad in (np.ones((10, 11)), np.full((10, 12), np.nan), -np.ones((10, 12))):
        with pytest.raises(BadInput) as err:
            fp.from_chroma(bad, 10.0)
        assert err.value.reason == "bad_chroma"
    with pytest.raises(BadInput):
        fp.from_chroma(np.ones((10, 12)), 0.0)
