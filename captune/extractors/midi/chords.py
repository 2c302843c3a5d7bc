"""Chords of a symbolic piece: beat-synchronous template matching.

Conventions: labels are ``<root><quality>`` with the root spelled for the
piece's key (:func:`captune.extractors.pitch.spell_root`) and qualities
``''`` (major), ``m``, ``dim``, ``aug``, ``7``, ``maj7``, ``m7``, ``m7b5``;
``N`` is no chord. Segments are ``{'start_s', 'end_s', 'label'}`` in seconds.

Method: for every beat of the notated grid (:func:`meter.beat_ticks`) sum how
long each pitch class sounds (non-drum notes, in ticks); label it with the
template of highest cosine similarity, or ``N`` when nothing sounds or the best
similarity is below ``MIN_SIMILARITY`` (a lone pitch class scores 0.58 against
a triad); merge equal neighbours.
"""

from collections import Counter
from functools import lru_cache

import numpy as np

from captune.extractors.midi.meter import beat_ticks
from captune.extractors.midi.piece import Piece
from captune.extractors.pitch import spell_root

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
    chroma = np.zeros((len(bounds) - 1, 12))
    np.add.at(chroma, (seg, pcs[note]), np.maximum(overlap, 0))
    return chroma


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


def chords(piece: Piece, key: str | None = None) -> list[dict]:
    """Merged beat-synchronous chord segments (see module doc)."""
    beats, _ = beat_ticks(piece)
    bounds = np.append(beats, max(piece.end_tick, beats[-1] + 1)).astype(np.float64)
    labels = label_chroma(segment_chroma(piece, bounds), key)
    times = np.round(piece.seconds(bounds), 3)
    segments: list[dict] = []
    for i, label in enumerate(labels):
        if segments and segments[-1]["label"] == label:
            segments[-1]["end_s"] = float(times[i + 1])
        else:
            segments.append({"start_s": float(times[i]), "end_s": float(times[i + 1]), "label": label})
    return segments


def _has_shorter_period(gram: tuple) -> bool:
    n = len(gram)
    return any(all(gram[i] == gram[i + p] for i in range(n - p)) for p in range(1, n))


def progression_summary(labels: list[str], max_length: int = 8) -> tuple[list[str], int]:
    """The repeating progression and how often it occurs (MidiCaps' ``chord_summary``).

    ``N`` is dropped and repeats collapsed first. Among n-grams of 2..``max_length``
    chords that are not themselves periodic (``C G C`` is ``C G`` wrapped round),
    the most frequent of each length competes; the longest one occurring at
    least 0.8 times as often as the most frequent of any length wins. Nothing
    repeating: the whole sequence once if it has at most 4 chords, else nothing.
    """
    seq = [l for l in labels if l != "N"]
    seq = [l for i, l in enumerate(seq) if i == 0 or l != seq[i - 1]]
    best: dict[int, tuple[tuple, int]] = {}
    for n in range(2, min(max_length, len(seq)) + 1):
        for gram, count in Counter(zip(*(seq[i:] for i in range(n)))).most_common():
            if count < 2:
                break
            if not _has_shorter_period(gram):  # most_common keeps first-seen order on ties
                best[n] = (gram, count)
                break
    if not best:
        return (seq, 1) if 0 < len(seq) <= 4 else ([], 0)
    top = max(count for _, count in best.values())
    n = max(n for n, (_, count) in best.items() if count >= 0.8 * top)
    gram, count = best[n]
    return list(gram), count
