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
   seventh): the accidentals of a new key (the F# of a move from C to G) are
   what tells it from the old one; silent frames give no evidence.
3. The path maximising the summed evidence minus ``SWITCH`` per change of key:
   a change pays only when the new key fits better for long enough, so a
   passing secondary dominant or a one-bar tonicisation is not a modulation.
4. A path that never changes takes the global key (which also weighs the
   piece's ends and its final bass, and so can tell a minor key from its
   relative major better than the frames can).

``FRAME``, ``OUT_OF_SCALE`` and ``SWITCH`` were chosen on the even-numbered DCML
movements against their theorists' local-key regions (checked on the odd ones
and on POP909's key regions; ``benchmarks/key_agreement.py``, README).
"""

import numpy as np

from captune.extractors.midi.chords import segment_chroma
from captune.extractors.midi.harmony import _MAJOR_SCALE, _MINOR_SCALE  # the chord prior's scales
from captune.extractors.midi.key import DEFAULT_PROFILE, _MATRICES, _name
from captune.extractors.midi.piece import Piece
from captune.extractors.midi.viterbi import viterbi

FRAME = 4.0         # quarter notes per frame (a bar of 4/4)
OUT_OF_SCALE = 0.5  # evidence lost per share of the frame's time outside the key's scale
SWITCH = 3.0        # cost of a change of key, in units of the evidence summed over frames


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
    outside the key's scale (0 where silent)."""
    centred = chroma - chroma.mean(axis=1, keepdims=True)
    spread = centred.std(axis=1, keepdims=True)
    z = centred / np.where(spread > 0, spread, 1.0)
    total = chroma.sum(axis=1, keepdims=True)
    outside = np.einsum("tj,kj->tk", chroma / np.where(total > 0, total, 1.0), _OUTSIDE)
    evidence = np.einsum("tj,kj->tk", z, _MATRICES[profile]) / 12.0 - OUT_OF_SCALE * outside  # no BLAS pool
    evidence[total[:, 0] <= 0] = 0.0
    return evidence


def key_changes(piece: Piece, global_key: str | None, profile: str = DEFAULT_PROFILE) -> list[dict]:
    """``[{'time_s', 'key'}, ...]`` (see module doc); empty without a global key."""
    if global_key is None or not (~piece.is_drum).any():
        return []
    bounds = frame_bounds(piece)
    path = viterbi(local_evidence(segment_chroma(piece, bounds), profile), SWITCH)
    starts = np.flatnonzero(np.append(True, path[1:] != path[:-1]))
    if len(starts) == 1:
        return [{"time_s": 0.0, "key": global_key}]
    times = np.round(piece.seconds(bounds[starts]), 3)
    times[0] = 0.0
    return [{"time_s": float(t), "key": _name(path[s])} for t, s in zip(times, starts)]
