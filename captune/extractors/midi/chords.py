"""Chords of a symbolic piece: beat-synchronous template matching.

Conventions: labels are ``<root><quality>`` with the root spelled for the
piece's key (:func:`captune.extractors.pitch.spell_root`) and qualities
``''`` (major), ``m``, ``dim``, ``aug``, ``7``, ``maj7``, ``m7``, ``m7b5``;
``N`` is no chord. Segments are ``{'start_s', 'end_s', 'label'}`` in seconds.

Methods (``chords(piece, key, method=...)``):

- ``'harmony'`` (default): every beat of the notated grid
  (:func:`meter.beat_ticks`, shifted onto the notes by :func:`beat_phase` when
  the piece has no known pickup: a MIDI file that starts on an unpadded upbeat
  has its grid a fraction of a beat off; or beats found from onsets) is split
  in two frames (three for a dotted beat), labelled by :mod:`captune.extractors.midi.harmony` (melody-discounted
  and bass-aware evidence, template fits per frame, a prior
  from the key in force, parsimony for sevenths, a Viterbi path with a cost
  per chord change); equal neighbours merge.
- ``'plain'`` (:func:`plain_chords`, the baseline captune started with): for
  every beat sum how long each pitch class sounds (non-drum notes, in ticks);
  label it with the template of highest cosine similarity (Fujishima 1999), or
  ``N`` when nothing sounds or the best similarity is below ``MIN_SIMILARITY``
  (a lone pitch class scores 0.58 against a triad); merge equal neighbours.

Accuracy of both on Nottingham and POP909: ``benchmarks/accuracy.py``.
"""

from bisect import bisect_right
from functools import lru_cache

import numpy as np

from captune.extractors.midi.meter import beat_ticks as notated_beats
from captune.extractors.midi.piece import Piece
from captune.extractors.pitch import pitch_class, spell_root

QUALITIES = {  # intervals above the root, in semitones
    "": (0, 4, 7), "m": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8),
    "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10), "m7b5": (0, 3, 6, 10),
}
MIN_SIMILARITY = 0.65


def _templates() -> tuple[np.ndarray, list[tuple[int, str]]]:
    rows, names = [], []
    for quality, intervals in QUALITIES.items():
        for root in range(12):
            t = np.zeros(12)
            t[[(root + i) % 12 for i in intervals]] = 1.0
            rows.append(t / np.linalg.norm(t))
            names.append((root, quality))
    return np.asarray(rows), names


_TEMPLATES, _TEMPLATE_NAMES = _templates()


def segment_chroma(piece: Piece, bounds: np.ndarray) -> np.ndarray:
    """(len(bounds) - 1) x 12 ticks of sounding per pitch class between ``bounds``."""
    pitched = ~piece.is_drum
    on, off = piece.onset[pitched], (piece.onset + piece.duration)[pitched]
    pcs = piece.pitch[pitched] % 12
    first = np.clip(np.searchsorted(bounds, on, side="right") - 1, 0, len(bounds) - 2)
    last = np.clip(np.searchsorted(bounds, off, side="left") - 1, first, len(bounds) - 2)
    spans = last - first + 1
    note = np.repeat(np.arange(len(on)), spans)
    seg = np.repeat(first, spans) + (np.arange(spans.sum()) - np.repeat(np.cumsum(spans) - spans, spans))
    overlap = np.minimum(off[note], bounds[seg + 1]) - np.maximum(on[note], bounds[seg])
    chroma = np.bincount(seg * 12 + pcs[note], weights=np.maximum(overlap, 0), minlength=12 * (len(bounds) - 1))
    return chroma.reshape(len(bounds) - 1, 12)


def label_chroma(chroma: np.ndarray, key: str | None = None) -> list[str]:
    """Best template label per chroma row (see module doc)."""
    norms = np.linalg.norm(chroma, axis=1, keepdims=True)
    sims = np.einsum("ij,kj->ik", chroma / np.where(norms > 0, norms, 1.0), _TEMPLATES)  # no BLAS threads
    best = sims.argmax(axis=1)
    names = _label_names(key)
    best[sims[np.arange(len(best)), best] < MIN_SIMILARITY] = len(names) - 1
    return names[best].tolist()


@lru_cache(maxsize=None)
def _label_names(key: str | None) -> np.ndarray:
    """Label of every template spelled for ``key``, then ``N``."""
    return np.asarray([spell_root(root, key) + quality for root, quality in _TEMPLATE_NAMES] + ["N"])


def _beat_bounds(piece: Piece, beats: np.ndarray | None = None) -> np.ndarray:
    """Bounds in ticks: the notated beats (or ``beats``) plus the end of the last note."""
    beats = notated_beats(piece)[0] if beats is None else beats
    return np.append(beats, max(piece.end_tick, beats[-1] + 1)).astype(np.float64)


def _merge(piece: Piece, bounds: np.ndarray, labels) -> list[dict]:
    """Segments ``{'start_s', 'end_s', 'label'}`` of per-beat ``labels``, equal neighbours merged."""
    labels = np.asarray(labels)
    if not len(labels):
        return []
    first = np.flatnonzero(np.append(True, labels[1:] != labels[:-1]))
    edges = np.append(first, len(labels))
    times = np.round(piece.seconds(bounds[edges]), 3).tolist()
    return [{"start_s": times[i], "end_s": times[i + 1], "label": label}
            for i, label in enumerate(labels[first].tolist())]


def plain_chords(piece: Piece, key: str | None = None) -> list[dict]:
    """The plain matcher captune started with (the accuracy baseline): per beat, the
    template of highest cosine similarity, ``N`` below ``MIN_SIMILARITY``."""
    bounds = _beat_bounds(piece)
    return _merge(piece, bounds, label_chroma(segment_chroma(piece, bounds), key))


def chords(piece: Piece, key: str | None = None, method: str = "harmony",
           beat_ticks: np.ndarray | None = None, key_changes: list[dict] | None = None) -> list[dict]:
    """Merged beat-synchronous chord segments (see module doc).

    ``method='harmony'`` (default): :func:`captune.extractors.midi.harmony.harmony_labels`, its key
    prior following ``key_changes`` (``[{'time_s', 'key'}, ...]``) where given, on the notated beats
    shifted by :func:`beat_phase` when the piece has no known pickup;
    ``method='plain'``: :func:`plain_chords`, the plain template matcher. ``beat_ticks``
    replaces the notated beats (e.g. beats found from onsets).
    """
    if method == "plain":
        return plain_chords(piece, key)
    if method != "harmony":
        raise ValueError(f"unknown chord method {method!r}; choose 'harmony' or 'plain'")
    from captune.extractors.midi.harmony import harmony_labels, subdivide
    downbeats = None
    if beat_ticks is not None and len(beat_ticks):
        grid = np.asarray(beat_ticks, dtype=np.float64)
        grid = np.concatenate([[0.0], grid]) if grid[0] > 0 else grid
        bounds = np.append(grid, max(piece.end_tick, grid[-1] + 1))
    else:
        beats, downbeats = notated_beats(piece)
        bounds = _beat_bounds(piece, beats)
        downbeats = downbeats.astype(np.float64)
        if not piece.pickup_ticks:  # a file starting on an unpadded upbeat: find where the beats are
            shift = beat_phase(piece, bounds)
            if shift:
                bounds = np.concatenate([[0.0], bounds[:-1] + shift, bounds[-1:]])
                bounds = bounds[np.append(np.diff(bounds) > 0, True)]
                downbeats = downbeats + shift
    frames = subdivide(bounds, piece.tpq)
    labels = harmony_labels(piece, frames, key, key_changes, bounds, downbeats)
    return respell(_merge(piece, frames, labels), key_changes)


def beat_phase(piece: Piece, bounds: np.ndarray) -> float:
    """Ticks by which the beats sit after ``bounds``' beats: the offset, in steps of a quarter of
    the beat (a sixth of a dotted one), on which the notes' sounding time (up to a beat each) starts
    most: long notes begin on beats (the agogic accent)."""
    beat = float(np.median(np.diff(bounds)))
    eighths = round(beat / (piece.tpq / 2))
    step = beat / (6 if eighths % 3 == 0 else 4)
    pitched = ~piece.is_drum
    offset = (piece.onset[pitched] - bounds[0]) % beat
    slot = np.round(offset / step).astype(np.int64) % round(beat / step)
    weight = np.bincount(slot, weights=np.minimum(piece.duration[pitched], beat), minlength=round(beat / step))
    return float(weight.argmax() * step)


def respell(segments: list[dict], key_changes: list[dict] | None) -> list[dict]:
    """``segments`` with each chord root spelled for the key in force where it starts (``key_changes``:
    ``[{'time_s', 'key'}, ...]``): the Eb chord of a D major piece's Bb major section, not D#."""
    if not key_changes or len(key_changes) < 2:
        return segments
    times = [change["time_s"] for change in key_changes]
    for segment in segments:
        label = segment["label"]
        if label == "N":
            continue
        local = key_changes[max(bisect_right(times, segment["start_s"] + 1e-6) - 1, 0)]["key"]
        size = 2 if label[1:2] in ("#", "b") else 1
        segment["label"] = spell_root(pitch_class(label[:size]), local) + label[size:]
    return segments
