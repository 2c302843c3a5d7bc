"""The progression a musician would name: the loop of harmonies that covers the most of a piece.

Conventions: chord segments ``{'start_s', 'end_s', 'label'}`` as
:mod:`captune.extractors.midi.chords` writes them; the summary is a list of
those labels and the number of times the loop occurs (``chord_summary``,
``chord_summary_count``).

1. Harmonies, not voicings (:func:`harmony_of`): chords on one root with one
   function are one harmony: major, dominant and major sevenths (C, C7, Cmaj7),
   minor and minor seventh (Am, Am7), diminished and half-diminished (Bdim,
   Bm7b5); augmented stands alone. A harmony is shown by its member label that
   sounds longest in the piece.
2. Harmonic rhythm (:func:`harmonic_rhythm`): the piece is sampled per half
   bar (from the downbeats; else per two beats; else as segmented), each slot
   taking the harmony sounding longest in it, so passing chords inside a beat do
   not count; equal neighbours and ``N`` are dropped.
3. Loops (:func:`progression_summary`): among sequences of 2..``MAX_LENGTH``
   harmonies that are not themselves periodic (C G C G is C G twice, C G C is C G wrapped round) and touch
   at least two roots, the one whose occurrences cover the most seconds wins,
   provided they cover at least ``MIN_COVER`` of the piece's harmonic time, named
   from the rotation the piece plays first. Two
   harmonies count only where they alternate back to back (C G C G, a vamp): a
   V–I cadence returning through a piece is not a loop. A piece with no such loop is through-composed: the
   summary is empty (and a piece of at most 4 harmonies in all is listed once,
   count 1). The count is how many times the loop occurs anywhere.
"""

from collections import Counter, defaultdict

import numpy as np

MAX_LENGTH = 8
MIN_COVER = 0.25   # a loop played back to back over at least a quarter of the piece
_FUNCTION = {"": "major", "7": "major", "maj7": "major", "m": "minor", "m7": "minor",
             "dim": "diminished", "m7b5": "diminished", "aug": "augmented"}


def split_label(label: str) -> tuple[str, str]:
    """``'F#m7'`` → ``('F#', 'm7')``."""
    n = 2 if len(label) > 1 and label[1] in "#b" else 1
    return label[:n], label[n:]


def harmony_of(label: str) -> tuple[str, str] | None:
    """(root, function) of a chord label (module doc), None for ``N`` or an unknown quality."""
    if not label or label == "N":
        return None
    root, quality = split_label(label)
    function = _FUNCTION.get(quality)
    return (root, function) if function else None


def _slots(segments: list[dict], downbeats_s, beats_s) -> np.ndarray:
    """Slot boundaries in seconds: half bars, else pairs of beats, else the segments' own bounds."""
    end = segments[-1]["end_s"]
    if downbeats_s is not None and len(downbeats_s) > 1:
        db = np.asarray(downbeats_s, dtype=float)
        grid = np.sort(np.concatenate([db, (db[:-1] + db[1:]) / 2]))
    elif beats_s is not None and len(beats_s) > 2:
        grid = np.asarray(beats_s, dtype=float)[::2]
    else:
        grid = np.asarray([s["start_s"] for s in segments], dtype=float)
    grid = grid[(grid > segments[0]["start_s"]) & (grid < end)]
    return np.concatenate([[segments[0]["start_s"]], grid, [end]])


def harmonic_rhythm(segments: list[dict], downbeats_s=None, beats_s=None) -> tuple[list, list[float], dict]:
    """(harmonies, seconds each, shown label per harmony) of ``segments`` sampled at the harmonic
    rhythm (module doc, step 2)."""
    label_time: dict = defaultdict(Counter)
    for s in segments:
        h = harmony_of(s["label"])
        if h:
            label_time[h][s["label"]] += s["end_s"] - s["start_s"]
    shown = {h: c.most_common(1)[0][0] for h, c in label_time.items()}
    if not shown:
        return [], [], {}
    bounds = _slots(segments, downbeats_s, beats_s)
    starts = np.asarray([s["start_s"] for s in segments])
    ends = np.asarray([s["end_s"] for s in segments])
    harmonies = [harmony_of(s["label"]) for s in segments]
    seq, dur = [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        overlap = np.minimum(ends, b) - np.maximum(starts, a)
        weight: Counter = Counter()
        for i in np.flatnonzero(overlap > 0):
            if harmonies[i]:
                weight[harmonies[i]] += overlap[i]
        if not weight:
            continue
        h = weight.most_common(1)[0][0]
        if seq and seq[-1] == h:
            dur[-1] += b - a
        else:
            seq.append(h)
            dur.append(b - a)
    return seq, dur, shown


def _periodic(gram: tuple) -> bool:
    """True when ``gram`` repeats with a shorter period, whole or wrapped round: C G C G is C G twice,
    C G C is C G once and a half (a loop C G merged across its repeat)."""
    n = len(gram)
    return any(all(gram[i] == gram[i + p] for i in range(n - p)) for p in range(1, n))


def _non_overlapping(positions: list[int], n: int) -> list[int]:
    """Occurrences of an ``n``-gram at ascending ``positions``, overlapping ones skipped left to right."""
    found: list[int] = []
    for i in positions:
        if not found or i >= found[-1] + n:
            found.append(i)
    return found


def _cover(starts: list[int], n: int, cum: np.ndarray) -> float:
    """Seconds covered by the occurrences of an ``n``-gram starting at ``starts``: all of them for
    3 harmonies or more, only runs of back-to-back occurrences for 2 (module doc)."""
    if n > 2:
        return float(sum(cum[s + n] - cum[s] for s in starts))
    cover, run = 0.0, [starts[0]] if starts else []
    for s in starts[1:] + [None]:
        if s is not None and s == run[-1] + n:
            run.append(s)
            continue
        if len(run) >= 2:
            cover += cum[run[-1] + n] - cum[run[0]]
        run = [s] if s is not None else []
    return float(cover)


def _as_introduced(loop: tuple, positions: dict) -> tuple:
    """The rotation of ``loop`` that the piece plays first (a loop is named from where it starts)."""
    rotations = [loop[i:] + loop[:i] for i in range(len(loop))]
    return min((r for r in rotations if r in positions), key=lambda r: positions[r][0])


def progression_summary(segments: list[dict], downbeats_s=None, beats_s=None) -> tuple[list[str], int]:
    """(loop as chord labels, occurrences) of chord ``segments`` (module doc); ``([], 0)`` for a
    through-composed piece or no chords."""
    seq, dur, shown = harmonic_rhythm(segments, downbeats_s, beats_s)
    if not seq:
        return [], 0
    cum = np.concatenate([[0.0], np.cumsum(dur)])
    best, best_cover, index = None, 0.0, {}
    for n in range(2, min(MAX_LENGTH, len(seq) // 2) + 1):
        positions: dict = defaultdict(list)
        for i in range(len(seq) - n + 1):
            positions[tuple(seq[i:i + n])].append(i)
        index[n] = positions
        for gram, where in positions.items():
            if len(where) < 2 or _periodic(gram) or len({root for root, _ in gram}) < 2:
                continue
            starts = _non_overlapping(where, n)
            cover = _cover(starts, n, cum)
            if cover > best_cover:
                best, best_cover, best_count = gram, cover, len(starts)
    if best is not None and best_cover >= MIN_COVER * cum[-1]:
        return [shown[h] for h in _as_introduced(best, index[len(best)])], best_count
    if len(seq) == 1 or (len(seq) <= 4 and len({root for root, _ in seq}) >= 2):
        return [shown[h] for h in seq], 1
    return [], 0
