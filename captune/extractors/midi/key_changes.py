"""Key changes of a symbolic piece: local keys smoothed over time by Viterbi.

Conventions: keys as :mod:`captune.extractors.midi.key`; the result is the
record's ``key_changes``, ``[{'time_s': float, 'key': str}, ...]``, the key in
force from each ``time_s`` (seconds through the tempo map, rounded to the
millisecond) to the next; the first entry is at 0 s, and a piece that does not
modulate has one entry.

Method (a hidden Markov model over the 24 keys, decoded by Viterbi):

1. Frames of ``FRAME`` quarter notes from the first onset; each frame holds how
   long every pitch class sounds (non-drum notes).
2. Local evidence of every key in every frame: the Pearson r of the profile
   summed over the frame and ``WINDOW`` frames either side with the key
   profiles (:func:`captune.extractors.midi.key.correlations`); frames whose
   window is silent give no evidence.
3. The path maximising the summed evidence minus ``SWITCH`` per change of key:
   a change pays only when the new key fits better for long enough, so a
   passing secondary dominant or a one-bar tonicisation is not a modulation.
4. A path that never changes takes the global key (which also weighs the
   piece's ends and its final bass, and so can tell a minor key from its
   relative major better than the frames can).

``FRAME``, ``WINDOW`` and ``SWITCH`` were chosen on the even-numbered DCML
movements against their theorists' local-key regions (checked on the odd ones
and on POP909's key regions; ``benchmarks/key_agreement.py``, README).
"""

import numpy as np

from captune.extractors.midi.chords import segment_chroma
from captune.extractors.midi.key import DEFAULT_PROFILE, _MATRICES, _name
from captune.extractors.midi.piece import Piece
from captune.extractors.midi.viterbi import viterbi

FRAME = 4.0    # quarter notes per frame (a bar of 4/4)
WINDOW = 1     # frames either side summed into a frame's evidence (12 quarter notes in all)
SWITCH = 2.0   # cost of a change of key, in units of Pearson r summed over frames


def frame_bounds(piece: Piece) -> np.ndarray:
    """Frame bounds in ticks: every ``FRAME`` quarter notes from the first non-drum onset, then the end."""
    pitched = ~piece.is_drum
    t0 = int(piece.onset[pitched].min())
    t1 = int((piece.onset + piece.duration)[pitched].max())
    step = FRAME * piece.tpq
    return np.append(np.arange(t0, t1, step, dtype=np.float64), float(max(t1, t0 + 1)))


def local_evidence(chroma: np.ndarray, profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """frames x 24: Pearson r of each frame's windowed profile with every key (0 where silent)."""
    n = len(chroma)
    cumulative = np.concatenate([np.zeros((1, 12)), np.cumsum(chroma, axis=0)])
    i = np.arange(n)
    window = cumulative[np.minimum(i + WINDOW + 1, n)] - cumulative[np.maximum(i - WINDOW, 0)]
    centred = window - window.mean(axis=1, keepdims=True)
    spread = centred.std(axis=1, keepdims=True)
    z = centred / np.where(spread > 0, spread, 1.0)
    return np.einsum("tj,kj->tk", z, _MATRICES[profile]) / 12.0  # silent rows are 0; no BLAS pool


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
