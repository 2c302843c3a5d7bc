"""Chords of audio: beat-synchronous chroma, template scores, Viterbi smoothing.

Conventions: as :mod:`captune.extractors.midi.chords`: labels ``<root><quality>``
from the same templates and vocabulary (qualities ``''``, ``m``, ``dim``,
``aug``, ``7``, ``maj7``, ``m7``, ``m7b5``; ``N`` no chord), roots spelled for the
key; segments ``{'start_s', 'end_s', 'label'}`` in seconds, equal neighbours merged.

Method:

1. Frames: every beat split in ``SUBDIVIDE`` (the MIDI path's half beats), plus
   the stretch before the first and after the last beat; without beats, frames
   of ``FALLBACK_FRAME_S``. Treble and bass chroma (:func:`.chroma.chromagram`)
   are averaged over the chroma frames whose centres fall in each frame.
2. Scores, as the MIDI labeller (:mod:`captune.extractors.midi.harmony`) with
   its templates, key prior and costs: cosine of the unit treble chroma with
   each template (the frame mixed with its beat, weights ``SCALES``), a bass
   bonus / penalty (``BASS_ROOT`` / ``BASS_FOREIGN``, the MIDI labeller's
   weights before it took a Viterbi path of its own) from the bass chroma's
   share on the root / off the chord, the key prior for diatonic chords, costs
   for sevenths and dim / aug triads.
3. ``N``: scores ``N_SCORE``, and wins outright in frames whose treble energy is
   under ``SILENCE_SHARE`` of the median frame's.
4. Viterbi over the 97 states with emissions ``score / TEMPERATURE`` and a
   self-transition probability ``STAY`` (any change equally likely), the
   smoothing of Chordino's HMM (Mauch 2010) in its simplest form.
"""

import numpy as np

from captune.extractors.midi.chords import _label_names
from captune.extractors.midi.harmony import (KEY_PRIOR, RARE_COST, SEVENTH_COST, SUBDIVIDE, _IS_RARE, _IS_SEVENTH,
                                             _MASK, _ROOTS, _SQRT_SIZES, _diatonic, _tone_sums, _unit)

SCALES = (1.0, 0.5)  # weights of the fits of the frame and of its beat
BASS_ROOT = 0.12
BASS_FOREIGN = 0.10
FALLBACK_FRAME_S = 0.5
N_SCORE = 0.55
SILENCE_SHARE = 0.05
TEMPERATURE = 0.05
STAY = 0.9


def frame_bounds(beats_s, duration_s: float) -> np.ndarray:
    """Frame edges (s): ``SUBDIVIDE`` frames per beat, plus the lead-in and the tail (see module doc)."""
    beats = np.asarray([b for b in (beats_s or []) if 0 < b < duration_s], dtype=np.float64)
    if len(beats) < 2:
        return np.append(np.arange(0.0, duration_s, FALLBACK_FRAME_S), duration_s)
    steps = np.arange(SUBDIVIDE) / SUBDIVIDE
    inner = (beats[:-1, None] + np.diff(beats)[:, None] * steps[None, :]).ravel()
    return np.concatenate([[0.0], inner, [beats[-1], duration_s]])


def frame_chroma(times_s: np.ndarray, chroma: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Mean of the ``chroma`` rows whose ``times_s`` fall in each frame (the nearest row if none)."""
    which = np.clip(np.searchsorted(bounds, times_s, side="right") - 1, 0, len(bounds) - 2)
    n = len(bounds) - 1
    sums = np.zeros((n, 12))
    np.add.at(sums, which, chroma)
    counts = np.bincount(which, minlength=n)
    empty = counts == 0
    if empty.any():
        centres = (bounds[:-1] + bounds[1:])[empty] / 2
        sums[empty] = chroma[np.clip(np.searchsorted(times_s, centres), 0, len(times_s) - 1)]
        counts[empty] = 1
    return sums / counts[:, None]


def scores(treble: np.ndarray, bass: np.ndarray, key: str | None) -> np.ndarray:
    """frames x (templates + N) scores (see module doc, step 2 and 3)."""
    beat = np.arange(len(treble)) // SUBDIVIDE
    new = np.append(True, beat[1:] != beat[:-1])
    beat_unit = _unit(np.add.reduceat(treble, np.flatnonzero(new), axis=0))[np.cumsum(new) - 1]
    w_frame, w_beat = SCALES
    mixed = (w_frame * _unit(treble) + w_beat * beat_unit) / (w_frame + w_beat)
    s = _tone_sums(mixed) / _SQRT_SIZES
    share = bass / np.maximum(bass.sum(axis=1, keepdims=True), 1e-12)
    s += BASS_ROOT * share[:, _ROOTS] - BASS_FOREIGN * np.einsum("ij,kj->ik", share, 1.0 - _MASK)
    s += (KEY_PRIOR * _diatonic(key) - SEVENTH_COST * _IS_SEVENTH - RARE_COST * _IS_RARE)[None, :]
    energy = treble.sum(axis=1)
    silent = energy < SILENCE_SHARE * max(float(np.median(energy)), 1e-12)
    s[silent] = -1e3  # forced N
    return np.concatenate([s, np.full((len(s), 1), N_SCORE)], axis=1)


def viterbi(emission: np.ndarray, stay: float = STAY) -> np.ndarray:
    """Most likely state path for log ``emission`` (frames x states), self-transition ``stay``,
    every other transition ``(1 - stay) / (states - 1)``; O(frames x states)."""
    frames, states = emission.shape
    log_stay, log_move = np.log(stay), np.log((1.0 - stay) / (states - 1))
    back = np.zeros((frames, states), dtype=np.int64)
    delta = emission[0].copy()
    for t in range(1, frames):
        best = int(np.argmax(delta))
        move = delta[best] + log_move
        keep = delta + log_stay
        back[t] = np.where(keep >= move, np.arange(states), best)
        delta = np.maximum(keep, move) + emission[t]
    path = np.empty(frames, dtype=np.int64)
    path[-1] = int(np.argmax(delta))
    for t in range(frames - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def chords_from_chroma(times_s, treble, bass, beats_s, duration_s: float, key: str | None) -> list[dict]:
    """Merged chord segments from a chromagram (see module doc)."""
    bounds = frame_bounds(beats_s, duration_s)
    s = scores(frame_chroma(times_s, treble, bounds), frame_chroma(times_s, bass, bounds), key)
    labels = _label_names(key)[viterbi(s / TEMPERATURE)]
    first = np.flatnonzero(np.append(True, labels[1:] != labels[:-1]))
    edges = np.round(bounds[np.append(first, len(labels))], 3).tolist()
    return [{"start_s": edges[i], "end_s": edges[i + 1], "label": str(labels[j])} for i, j in enumerate(first)]
