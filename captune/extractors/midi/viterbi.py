"""Viterbi decoding with one cost for every change of state.

Conventions: ``evidence`` is frames x states, higher is better (summed along
the path); the cost of a change is in the same units. Used for local keys
(:mod:`.key_changes`) and chord labels (:mod:`.harmony`).
"""

import numpy as np


def viterbi(evidence: np.ndarray, switch) -> np.ndarray:
    """State index per frame maximising summed evidence minus ``switch`` per change (a number, or
    one cost per frame: the cost of changing into that frame).

    With one cost for every change, the best way into a state is to stay in it or to come
    from the previous frame's best state: the forward pass keeps the scores, each frame's
    leader and threshold, and the backtrack decides stay-or-jump from them (O(frames x states))."""
    n, states = evidence.shape
    switch = np.broadcast_to(np.asarray(switch, dtype=np.float64), (n,)).tolist()
    scores = np.empty((n, states))
    scores[0] = evidence[0]
    rows, frames = list(scores), list(evidence)  # row views: cheaper to index than the 2-D arrays
    leader = [0] * n
    threshold = [0.0] * n
    level = np.zeros(())  # a 0-d array: np.maximum takes it faster than a scalar
    prev = rows[0]
    for t in range(1, n):
        leader[t] = best = prev.argmax()
        threshold[t] = level[()] = prev[best] - switch[t]
        row = rows[t]
        np.maximum(prev, level, out=row)
        row += frames[t]
        prev = row
    path = [0] * n
    state = int(prev.argmax())
    for t in range(n - 1, 0, -1):
        path[t] = state
        if rows[t - 1][state] < threshold[t]:
            state = leader[t]
    path[0] = state
    return np.array(path, dtype=np.int64)
