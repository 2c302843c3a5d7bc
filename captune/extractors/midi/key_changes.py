"""Key changes of a symbolic piece: local keys smoothed over time by Viterbi.

Conventions: keys as :mod:`captune.extractors.midi.key`; the result is the
record's ``key_changes``, ``[{'time_s': float, 'key': str}, ...]``, the key in
force from each ``time_s`` (seconds through the tempo map, rounded to the
millisecond) to the next; the first entry is at 0 s, and a piece that does not
modulate has one entry.

Method (a hidden Markov model over the 24 keys, decoded by Viterbi):

1. Frames of ``FRAME`` quarter notes from the first onset; each frame holds how
   long every pitch class sounds (non-drum notes).
2. Local evidence of every key in every frame: the Pearson r of the frame's
   profile with the key profiles (:func:`captune.extractors.midi.key.correlations`)
   minus ``OUT_OF_SCALE`` times the share of the frame's sounding time on
   pitch classes outside the key's scale (major; natural minor + its raised
   seventh), minus ``ACCIDENTAL`` for every pitch class outside the scale that
   sounds in the frame at all: the accidentals of a new key (the F# of a move
   from C to G) are what tells it from the old one, and a single short F# says
   so as much as a long one; silent frames give no evidence.
3. Cadences (:func:`cadences`): where the bass falls a fifth (or rises a
   fourth) onto a downbeat from a dominant seventh chord (its third, the new
   key's leading tone, and its seventh sounding over the bass) to the triad on
   the new bass, the key of that triad gets ``CADENCE`` in the frame of the
   arrival: the authentic cadence is how a new key is confirmed.
4. The path maximising the summed evidence minus ``SWITCH`` per change of key:
   a change pays only when the new key fits better for long enough, so a
   passing secondary dominant or a one-bar tonicisation is not a modulation.
5. A path that never changes takes the global key (which also weighs the
   piece's ends and its final bass, and so can tell a minor key from its
   relative major better than the frames can).

``FRAME``, ``OUT_OF_SCALE`` and ``SWITCH`` were chosen on the even-numbered DCML
movements against their theorists' local-key regions (checked on the odd ones
and on POP909's key regions; ``benchmarks/key_agreement.py``, README);
``ACCIDENTAL`` and ``CADENCE`` later on the same even movements (the others kept);
``CHORD_TONE`` and ``BASS_HOLD`` were set by hand (a tenth of the run, a quarter of the beat)
and not tuned.
"""

import numpy as np

from captune.extractors.midi.chords import segment_chroma
from captune.extractors.midi.harmony import _MAJOR_SCALE, _MINOR_SCALE  # the chord prior's scales
from captune.extractors.midi.key import DEFAULT_PROFILE, _MATRICES, _name
from captune.extractors.midi.meter import beat_ticks
from captune.extractors.midi.piece import Piece
from captune.extractors.midi.viterbi import viterbi

FRAME = 4.0         # quarter notes per frame (a bar of 4/4)
OUT_OF_SCALE = 0.5  # evidence lost per share of the frame's time outside the key's scale
SWITCH = 3.0        # cost of a change of key, in units of the evidence summed over frames
ACCIDENTAL = 0.1    # evidence lost per pitch class outside the key's scale sounding in the frame
CADENCE = 1.5       # evidence for the key a dominant seventh resolves to on a downbeat
CHORD_TONE = 0.1    # share of a bass run's sounding time a pitch class needs to count as in its chord
BASS_HOLD = 0.25    # share of a beat a note must last to be the beat's bass


def _outside() -> np.ndarray:
    """24 x 12: 1.0 where a pitch class lies outside the key's scale (rows as the key profiles)."""
    out = np.ones((24, 12))
    for tonic in range(12):
        out[tonic, [(tonic + i) % 12 for i in _MAJOR_SCALE]] = 0.0
        out[12 + tonic, [(tonic + i) % 12 for i in _MINOR_SCALE]] = 0.0
    return out


_OUTSIDE = _outside()


def frame_bounds(piece: Piece) -> np.ndarray:
    """Frame bounds in ticks: every ``FRAME`` quarter notes from the first non-drum onset, then the end."""
    pitched = ~piece.is_drum
    t0 = int(piece.onset[pitched].min())
    t1 = int((piece.onset + piece.duration)[pitched].max())
    step = FRAME * piece.tpq
    return np.append(np.arange(t0, t1, step, dtype=np.float64), float(max(t1, t0 + 1)))


def local_evidence(chroma: np.ndarray, profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """frames x 24: each frame's Pearson r with every key minus ``OUT_OF_SCALE`` x its share
    outside the key's scale and ``ACCIDENTAL`` x the number of pitch classes outside the scale
    that sound (0 where silent)."""
    centred = chroma - chroma.mean(axis=1, keepdims=True)
    spread = centred.std(axis=1, keepdims=True)
    z = centred / np.where(spread > 0, spread, 1.0)
    total = chroma.sum(axis=1, keepdims=True)
    foreign = OUT_OF_SCALE * chroma / np.where(total > 0, total, 1.0) + ACCIDENTAL * (chroma > 0)
    evidence = (np.einsum("tj,kj->tk", z, _MATRICES[profile]) / 12.0  # einsum: no BLAS pool
                - np.einsum("tj,kj->tk", foreign, _OUTSIDE))
    evidence[total[:, 0] <= 0] = 0.0
    return evidence


def bass_runs(piece: Piece) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start ticks, bass pitch, starts on a downbeat) of the runs of notated beats on one bass note.
    A beat's bass is the lowest pitch among the non-drum notes struck in it that last at least
    ``BASS_HOLD`` of the beat, else the bass before (a held note, a rest); -1 before the first.
    No runs when no note lasts that long."""
    pitched = ~piece.is_drum
    on, pitch = piece.onset[pitched], piece.pitch[pitched].astype(np.int64)
    end = int((on + piece.duration[pitched]).max())
    beats, downbeats = beat_ticks(piece)
    beats = beats[beats < end]
    none = np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    if not len(beats) or not len(downbeats):
        return none
    lengths = np.diff(np.append(beats, end))
    beat = np.searchsorted(beats, on, side="right") - 1
    keep = (beat >= 0) & (piece.duration[pitched] >= BASS_HOLD * lengths[np.maximum(beat, 0)])
    bass = np.full(len(beats), 1 << 16)
    np.minimum.at(bass, beat[keep], pitch[keep])
    struck = np.flatnonzero(bass < 1 << 16)
    if not len(struck):  # no note holds a beat long enough: no bass line
        return none
    latest = np.searchsorted(struck, np.arange(len(beats)), side="right") - 1
    bass = np.where(latest >= 0, bass[struck[np.maximum(latest, 0)]], -1)
    starts = np.flatnonzero(np.append(True, bass[1:] != bass[:-1]))
    ticks = beats[starts].astype(np.float64)
    at = np.minimum(np.searchsorted(downbeats, ticks), len(downbeats) - 1)
    return ticks, bass[starts], downbeats[at] == ticks


def cadences(chroma: np.ndarray, bass: np.ndarray, on_downbeat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of the arriving run, key row) of the authentic cadences among bass runs
    (:func:`bass_runs`; ``chroma``: each run's sounding ticks per pitch class): a run on the note
    a fifth below (or a fourth above) the run before, starting on a downbeat, the run before
    holding the major third and the minor seventh over its bass (a dominant seventh: the new key's
    leading tone and fourth degree), the arriving run the major or minor third over its bass (the
    key's mode; the major when both sound). A chord tone sounds at least ``CHORD_TONE`` of its
    run's sounding time."""
    tone = chroma / np.maximum(chroma.sum(axis=1, keepdims=True), 1e-9) >= CHORD_TONE
    arriving = np.arange(1, len(bass))
    tonic = bass[arriving] % 12
    major, minor = tone[arriving, (tonic + 4) % 12], tone[arriving, (tonic + 3) % 12]
    found = ((bass[arriving - 1] >= 0) & ((bass[arriving - 1] - bass[arriving]) % 12 == 7)
             & on_downbeat[arriving] & tone[arriving - 1, (tonic + 11) % 12]
             & tone[arriving - 1, (tonic + 5) % 12] & (major | minor))
    return arriving[found], np.where(major, tonic, tonic + 12)[found]


def key_changes(piece: Piece, global_key: str | None, profile: str = DEFAULT_PROFILE) -> list[dict]:
    """``[{'time_s', 'key'}, ...]`` (see module doc); empty without a global key."""
    if global_key is None or not (~piece.is_drum).any():
        return []
    bounds = frame_bounds(piece)
    runs, bass, on_downbeat = bass_runs(piece)
    cells = np.union1d(bounds, runs)  # one pass over the notes for the frames and the runs
    chroma = segment_chroma(piece, cells)
    evidence = local_evidence(np.add.reduceat(chroma, np.searchsorted(cells, bounds[:-1]), axis=0), profile)
    arrivals, rows = cadences(np.add.reduceat(chroma, np.searchsorted(cells, runs), axis=0), bass, on_downbeat)
    frames = np.clip(np.searchsorted(bounds, runs[arrivals], side="right") - 1, 0, len(evidence) - 1)
    np.add.at(evidence, (frames, rows), CADENCE)
    path = viterbi(evidence, SWITCH)
    starts = np.flatnonzero(np.append(True, path[1:] != path[:-1]))
    if len(starts) == 1:
        return [{"time_s": 0.0, "key": global_key}]
    times = np.round(piece.seconds(bounds[starts]), 3)
    times[0] = 0.0
    return [{"time_s": float(t), "key": _name(path[s])} for t, s in zip(times, starts)]
