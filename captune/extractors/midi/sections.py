"""Sections of a symbolic piece: phrase-level segments on bar lines, labelled by repetition.

Conventions: a section is ``{'start_s', 'end_s', 'label', 'kind'}`` in seconds,
back to back from the first bar line (0 when notes come before it: a pickup) to the end
of the last note. Labels follow
the phrase-structure convention of Dai, Zhang & Dannenberg (2020): upper case
``A``, ``B``, ``C``… for melodic material (same letter, same melody), lower case
for spans without melody: ``i`` the intro, ``o`` the outro, and ``b``, ``c``…
(``i`` and ``o`` skipped) for instrumental passages, the same letter for the same
passage. Kinds: ``intro`` / ``outro`` / ``instrumental`` for spans without melody
(before the first, after the last, between melodic sections), ``chorus`` /
``verse`` by :func:`name_kinds`' rule, else ``melodic``; a MIDI file that is one
run of sections played twice or more, its melody note for note (:func:`played_through`:
a folk tune with its repeats written out), has no verse or chorus, nor has a score
or an unperformed export at the default tempo
(:func:`captune.extractors.midi.tempo.unperformed_default`: notation, as a score is).
A piece without melody, or without repetition, is one section.

Method, on *bars* (the bar grid is an input, :func:`bar_lines`):

1. The melody: the pitched track whose successive notes overlap least (a sung
   line holds one note at a time; ties to the one sounding longer) among tracks
   at or above the mean pitch, if at least ``MONOPHONIC`` of its notes do not
   overlap; else the top line of all
   pitched notes (a piano piece). A bar is melodic when the melody sounds for at
   least ``MELODIC_SHARE`` of it; melodic gaps of one bar are filled (a breath).
2. Bar self-similarity: the Jaccard similarity of the melody's (onset in
   eighths from the bar line, pitch) sets, the second bar's window moved by up
   to ``SHIFT_QUARTERS`` beats (the best kept), mixed with ``HARMONY_WEIGHT`` of
   the cosine of the accompaniment's pitch-class durations (for bars without
   melody, harmony alone; a melodic and a non-melodic bar: 0).
3. Segmentation by dynamic programming over bar lines: a segment of L bars
   earns the summed similarity of its bars to the best non-overlapping copy of
   itself elsewhere in the piece (the diagonal stripes of the self-similarity
   matrix) and pays ``SEGMENT_COST`` plus a hypermetric cost when L is not 4 or
   8 (``LENGTH_COST``: phrases of popular and folk music run in 4 and 8 bars);
   it gains ``BREATH_WEIGHT`` x the melody's silence around its first bar line
   and ``REPEAT_WEIGHT`` x how sharply a repetition starts there
   (:func:`repeat_starts`); segments never straddle a change between melodic
   and non-melodic bars.
4. Labels: each segment takes the label of the most similar earlier segment of
   its class (mean similarity of bars aligned from their starts) if that is at
   least ``SAME_LABEL``, else a new letter; a span without melody in which no
   note sounds, or any span of a piece only voices sing, joins the section before it
   (:func:`fold_rests`), a first lone
   bar (a pickup) joins the next segment, and neighbours heard only once merge
   (:func:`merge_runs`).

The bar grid (:func:`bar_lines`) is the one a build writes: the ``downbeats_s`` of
the meter :func:`captune.extractors.midi.bar_inference.settle` gives the piece
(inferred for implausible declarations, a declared meter's bars started on the
accents; a score's notated bars), so sections and ``downbeats_s`` never disagree;
notes before the first bar line (a pickup) open the first section.
``SEGMENT_COST``, ``REPEAT_WEIGHT``, ``BREATH_WEIGHT``, ``MELODIC_SHARE``,
``MAX_BARS`` and the long-segment costs were tuned on the even POP909 songs
002–454, ``HARMONY_WEIGHT`` on Nottingham (``benchmarks/sections.py``).
"""

import numpy as np

from captune.extractors.midi.bar_inference import settle
from captune.extractors.midi.meter import beat_ticks
from captune.extractors.midi.piece import Piece
from captune.extractors.midi.tempo import unperformed_default

MONOPHONIC = 0.9       # share of a melody's notes that start after the previous one ends
MELODIC_SHARE = 0.4    # share of a bar the melody sounds in for the bar to be melodic
HARMONY_WEIGHT = 0.2   # weight of the accompaniment's harmony in bar similarity
REPEAT_SHARE = 0.9     # share of a run's notes heard again, note for note, for a piece to be that run repeated
MAX_BARS = 12          # longest segment, in bars (chosen on the even POP909 songs)
SEGMENT_COST = 2.5     # cost of a segment, in bars of perfect similarity
LENGTH_COST = {4: 0.0, 8: 0.0, 2: 0.5, 6: 1.0, 12: 2.0}   # other lengths: IRREGULAR_COST
IRREGULAR_COST = 3.0
SHIFT_QUARTERS = 2     # a bar's melody is also compared this many quarter notes earlier and later
BREATH_QUARTERS = (2, 1)   # quarter notes before and after a bar line in which a breath is sought
BREATH_WEIGHT = 0.5    # gain of starting a segment after a silent melody, in bars of similarity
REPEAT_WEIGHT = 2.0    # gain of starting a segment where a repetition starts, in bars of similarity
SAME_LABEL = 0.5       # mean bar similarity for two segments to share a label
SOUNDING_FRAME_S = 0.05   # frame of the instruments' sounding shares in :func:`section_notes`, seconds
COSINE_TILE = 128      # rows and columns of a tile of the harmony's cosine matrix (:func:`_cosines`)
STRIPE_BARS = 4        # bars before and after a bar line compared to find where a repetition starts


def to_ticks(piece: Piece, seconds) -> np.ndarray:
    """Ticks (float64) of times in seconds, through the tempo map (the inverse of ``piece.seconds``)."""
    knots = np.append(piece.tempo_tick, max(piece.end_tick, int(piece.tempo_tick[-1])) + piece.tpq).astype(float)
    at = piece.seconds(knots)
    seconds = np.asarray(seconds, dtype=np.float64)
    last = (seconds - at[-1]) * 1e6 * piece.tpq / piece.tempo_mspq[-1] + knots[-1]   # beyond the last knot
    return np.where(seconds > at[-1], last, np.interp(seconds, at, knots))


def bar_lines(piece: Piece, downbeats_s=None) -> tuple[Piece, np.ndarray]:
    """(piece, bar-line ticks, float64, the end of the last note appended) of the bars a build writes:
    ``downbeats_s`` (seconds, the ``downbeats_s`` fact of ``piece``), or, when None, the downbeats
    of the meter :func:`captune.extractors.midi.bar_inference.settle` gives ``piece`` (returned
    with that meter). Downbeats before 0 or after the last note are dropped; no downbeat: one bar."""
    if downbeats_s is None:
        piece = settle(piece)[0]
        lines = beat_ticks(piece)[1].astype(np.float64)
    else:
        lines = to_ticks(piece, downbeats_s)
    lines = lines[(lines >= 0) & (lines < piece.end_tick)]
    return piece, np.append(lines if len(lines) else np.zeros(1), piece.end_tick)


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
    return x / np.where(norms > 0, norms, 1.0)


def _cosines(unit: np.ndarray) -> np.ndarray:
    """``unit @ unit.T``, in tiles of at most ``COSINE_TILE`` rows and columns: products small enough for
    OpenBLAS to compute each in one thread (the whole product of a piece of some 190 bars or more started
    threads, which cost more CPU time than the product, and left its last bits to the thread count)."""
    n = len(unit)
    out = np.empty((n, n))
    for i in range(0, n, COSINE_TILE):
        for j in range(0, n, COSINE_TILE):
            np.matmul(unit[i:i + COSINE_TILE], unit[j:j + COSINE_TILE].T, out=out[i:i + COSINE_TILE, j:j + COSINE_TILE])
    return out


def melody_notes(piece: Piece) -> np.ndarray:
    """Boolean mask of the melody's notes (module doc, step 1)."""
    pitched = ~piece.is_drum
    tracks = piece.track[pitched]
    count = np.bincount(tracks)
    ids = np.flatnonzero(count)
    best, best_key = None, (MONOPHONIC, 0)
    if len(ids) > 1:
        mean = np.bincount(tracks, weights=piece.pitch[pitched]) / np.maximum(count, 1)  # exact: integer sums
        order = np.argsort(tracks, kind="stable")              # by track, then onset (notes are in onset order)
        on, off, by = piece.onset[pitched][order], (piece.onset + piece.duration)[pitched][order], tracks[order]
        apart = np.bincount(by[1:], weights=(on[1:] >= off[:-1] - piece.tpq / 8) & (by[1:] == by[:-1]),
                            minlength=len(count))                  # notes starting after the previous one ends
        length = np.bincount(tracks, weights=piece.duration[pitched])
        overall = piece.pitch[pitched].mean()
        for t in ids.tolist():
            if mean[t] < overall or count[t] < 2:
                continue
            key = (round(float(apart[t] / (count[t] - 1)), 2), int(length[t]))   # ties: the line sounding longer
            if key >= best_key:
                best, best_key = t, key
    if best is not None:
        return piece.track == best
    return _top_line(piece, pitched)


def _top_line(piece: Piece, pitched: np.ndarray) -> np.ndarray:
    """The highest pitched note of every onset."""
    idx = np.flatnonzero(pitched)
    order = np.lexsort((-piece.pitch[idx], piece.onset[idx]))
    idx = idx[order]
    first = np.append(True, piece.onset[idx][1:] != piece.onset[idx][:-1])
    mask = np.zeros(len(piece.onset), dtype=bool)
    mask[idx[first]] = True
    return mask


def bar_of(bounds: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """Per tick of ``ticks`` (in ascending order): the index of the last of ``bounds`` at or before it,
    -1 before the first (``np.searchsorted(bounds, ticks, 'right') - 1``, found by placing the few
    bounds among the many ticks)."""
    placed = np.searchsorted(ticks, bounds, side="left")
    return np.cumsum(np.bincount(placed, minlength=len(ticks) + 1))[:len(ticks)] - 1


def _chroma(piece: Piece, bounds: np.ndarray, mask: np.ndarray, part: np.ndarray) -> np.ndarray:
    """(2 x bars x 12) sounding ticks per pitch class between ``bounds`` of the notes in ``mask``:
    those outside ``part`` (a boolean per note), then those in it."""
    n = len(bounds) - 1
    group = part[mask].astype(np.int64)
    on, off = piece.onset[mask].astype(np.float64), (piece.onset + piece.duration)[mask].astype(np.float64)
    pc = piece.pitch[mask] % 12
    first = np.clip(bar_of(bounds, on), 0, n - 1)
    last = np.clip(np.searchsorted(bounds, off, side="left") - 1, first, n - 1)
    spans = last - first + 1
    note = np.repeat(np.arange(len(on)), spans)
    bar = np.repeat(first - (np.cumsum(spans) - spans), spans) + np.arange(spans.sum())
    overlap = np.maximum(np.minimum(off[note], bounds[bar + 1]) - np.maximum(on[note], bounds[bar]), 0)
    return np.bincount((group[note] * n + bar) * 12 + pc[note], weights=overlap, minlength=2 * n * 12).reshape(2, n, 12)


def bar_similarity(piece: Piece, bounds: np.ndarray, melody: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bars x bars similarity in [0, 1], melodic bar mask): module doc, steps 1-2."""
    accompaniment, tune_chroma = _chroma(piece, bounds, ~piece.is_drum, melody)
    sounding = tune_chroma.sum(axis=1)
    melodic = sounding >= MELODIC_SHARE * np.diff(bounds)
    gaps = ~melodic[1:-1] & melodic[:-2] & melodic[2:]
    melodic[1:-1] |= gaps
    chords = _cosines(_unit(accompaniment))
    similarity = chords * ~(melodic[:, None] ^ melodic[None, :])
    tuned = np.flatnonzero(melodic)                 # the melody is compared where it is used: melodic bars
    block = np.ix_(tuned, tuned)
    tune = _tune_similarity(piece, bounds[tuned], bounds[tuned + 1] - bounds[tuned], melody)
    similarity[block] = (1 - HARMONY_WEIGHT) * tune + HARMONY_WEIGHT * chords[block]
    return similarity, melodic


def _window_codes(piece: Piece, starts: np.ndarray, length: np.ndarray, melody: np.ndarray):
    """(window, code) pairs: every melody note whose onset falls in [start, start + length) of a window,
    coded as (eighth from the window's start, pitch). A piece's notes are in onset order (:class:`Piece`)."""
    on = piece.onset[melody].astype(np.float64)
    pitch = piece.pitch[melody].astype(np.int64)
    lo = np.searchsorted(on, starts - piece.tpq / 8)
    hi = np.searchsorted(on, starts + length - piece.tpq / 8)
    counts = hi - lo
    window = np.repeat(np.arange(len(starts)), counts)
    note = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
    eighth = np.rint((on[note] - starts[window]) * 2 / piece.tpq).astype(np.int64)
    return window, eighth * 128 + pitch[note]


def _tune_similarity(piece: Piece, starts: np.ndarray, length: np.ndarray, melody: np.ndarray) -> np.ndarray:
    """bars x bars (bars given by their ``starts`` and ``length`` in ticks): the Jaccard similarity of
    the melody's (eighth from the bar line, pitch) sets, the second bar's window moved by up to
    ``SHIFT_QUARTERS`` quarter notes either way (the best kept), so that a repeat still matches after
    a bar of another length."""
    n = len(starts)
    shifts = np.arange(-SHIFT_QUARTERS, SHIFT_QUARTERS + 1) * piece.tpq
    windows = len(shifts) * n
    window, code = _window_codes(piece, (starts[None, :] + shifts[:, None]).ravel(),   # shift-major: shift s, bar j
                                 np.concatenate([length] * len(shifts)), melody)
    if not len(code):                             # no melodic bar, or no melody note starts in one
        return np.zeros((n, n))
    # unique (window, code) pairs; the common codes of a bar and every window by joining on the code
    pair = np.sort(code * windows + window)
    pair = pair[np.append(True, pair[1:] != pair[:-1])]
    code, window = np.divmod(pair, windows)
    size = np.maximum(np.bincount(window, minlength=windows), 0.5)   # two empty windows: 0 / 1, not 0 / 0
    plain = (window >= SHIFT_QUARTERS * n) & (window < (SHIFT_QUARTERS + 1) * n)     # the bars' own windows
    new_code = np.append(True, code[1:] != code[:-1])
    first = np.flatnonzero(new_code)
    group = (np.cumsum(new_code) - 1)[plain]
    count = np.diff(np.append(first, len(code)))[group]       # per pair of a bar: the windows with its code
    left = np.repeat(window[plain] - SHIFT_QUARTERS * n, count)
    right = window[np.repeat(first[group] - (np.cumsum(count) - count), count) + np.arange(count.sum())]
    common = np.bincount(left * windows + right, minlength=n * windows).reshape(n, len(shifts), n)
    best = np.zeros((n, n))
    for k in range(len(shifts)):                  # shift by shift: arrays of bars x bars stay in the cache
        union = np.add.outer(size[SHIFT_QUARTERS * n:(SHIFT_QUARTERS + 1) * n], size[k * n:(k + 1) * n])
        union -= common[:, k]
        np.divide(common[:, k], union, out=union)
        np.maximum(best, union, out=best)
    return np.maximum(best, best.T)


def melody_breaths(piece: Piece, bounds: np.ndarray, melody: np.ndarray) -> np.ndarray:
    """Per bar line: the share of the ``BREATH_QUARTERS`` around it (two quarter notes before, one
    after) in which the melody is silent, in sixteenths. Phrases start after a breath."""
    step = piece.tpq / 4
    before, after = BREATH_QUARTERS
    frames = np.arange(bounds[0] - before * piece.tpq, bounds[-1] + after * piece.tpq, step)
    on, off = piece.onset[melody], (piece.onset + piece.duration)[melody]
    delta = (np.bincount(np.searchsorted(frames, on), minlength=len(frames) + 1)
             - np.bincount(np.searchsorted(frames, off), minlength=len(frames) + 1))
    silent = np.append(0, np.cumsum(np.cumsum(delta)[:-1] <= 0))
    first = np.searchsorted(frames, bounds[:-1] - before * piece.tpq)
    last = np.searchsorted(frames, bounds[:-1] + after * piece.tpq)
    return (silent[last] - silent[first]) / np.maximum(last - first, 1)


def diagonal_sums(similarity: np.ndarray, pad: int = 0) -> np.ndarray:
    """Cumulative sums along the diagonals of ``similarity`` with ``pad`` bars of zero similarity added
    before and after: with ``m = n + 2 * pad``, an (m + 1) x (m + 1) array whose ``cum[i, j]`` is the
    sum of the padded ``similarity[i - k, j - k]`` for k = 1..min(i, j). Without padding, bars a..a+m-1
    against c..c+m-1 sum to ``cum[a + m, c + m] - cum[a, c]``; with it, bar a is at ``a + pad`` and
    windows reaching past either end of the piece sum only what lies inside (the padding adds exact
    zeros). One cumulative sum: rows of ``cum`` followed by as many zeros, read with one more column
    per row, put each diagonal in a column (a diagonal leaving a row runs on through zeros only)."""
    m = len(similarity) + 2 * pad
    width = 2 * m + 2
    flat = np.zeros(-(-(m + 1) * width // (width + 1)) * (width + 1))
    grid = flat[:(m + 1) * width].reshape(m + 1, width)
    grid[1 + pad:m + 1 - pad, 1 + pad:m + 1 - pad] = similarity
    diagonals = flat.reshape(-1, width + 1)
    np.cumsum(diagonals, axis=0, out=diagonals)
    return grid[:, :m + 1]


def repetition(cum: np.ndarray, pad: int, longest: int) -> np.ndarray:
    """longest x n: ``[length - 1, a]`` is the summed similarity of bars a..a+length-1 to their best
    non-overlapping copy (a start c with |c - a| >= length that fits), 0 where none fits or the
    segment does not fit (a > n - length). ``cum``: :func:`diagonal_sums` padded by ``pad``. All
    lengths at once: beyond the piece the sums are zeros (a window that does not fit sums to at most 0).
    The pairs closer than the length, a band about each length's diagonal, are set to -inf as rows of
    n + 1 of the flat sums; a band's ends that run into the row before or after fall on pairs that are
    close for their own length or do not fit (at most 0 already), so the result is the same."""
    n = len(cum) - 1 - 2 * pad
    ext = np.zeros((n + longest + 1, n + longest + 1))
    ext[:n + 1, :n + 1] = cum[pad:pad + n + 1, pad:pad + n + 1]
    rows, cols = ext.strides
    flat = np.empty(longest * n * n + n)             # n more: the last band's rows run on past the sums
    sums = flat[:longest * n * n].reshape(longest, n, n)                 # [length - 1, a, c]
    np.subtract(np.lib.stride_tricks.as_strided(ext[1:, 1:], (longest, n, n), (rows + cols, rows, cols)),
                ext[:n, :n], out=sums)
    for length in range(1, longest + 1):       # c - a from 1 - length to length - 1
        start = (length - 1) * n * n + 1 - length
        flat[start:start + n * (n + 1)].reshape(n, n + 1)[:, :2 * length - 1] = -np.inf
    return np.maximum(sums.max(axis=2), 0.0)


def repeat_starts(cum: np.ndarray, pad: int, span: int = STRIPE_BARS) -> np.ndarray:
    """Per bar a: how sharply a repetition starts there, the largest rise over partners c of the mean
    similarity of the ``span`` bars from (a, c) over that of the ``span`` bars before (the start of a
    diagonal stripe); 0 where none rises. ``cum``: :func:`diagonal_sums` padded by ``pad`` >= span."""
    n = len(cum) - 1 - 2 * pad
    before, here, after = (cum[pad + k:pad + k + n, pad + k:pad + k + n] for k in (-span, 0, span))
    rise = after - here
    rise /= span
    fall = here - before
    fall /= span
    rise -= fall
    np.fill_diagonal(rise, 0.0)
    return np.maximum(rise.max(axis=1), 0.0)


def segment(cum: np.ndarray, pad: int, melodic: np.ndarray, breaths: np.ndarray) -> list[tuple[int, int]]:
    """``(start bar, end bar)`` segments by the dynamic programme of the module doc (step 3), on the
    diagonal sums of the bar similarity padded by ``pad`` >= ``STRIPE_BARS`` (:func:`diagonal_sums`)."""
    n = len(cum) - 1 - 2 * pad
    bonus = BREATH_WEIGHT * breaths + REPEAT_WEIGHT * repeat_starts(cum, pad)
    change = np.concatenate([[0], np.cumsum(melodic[1:] != melodic[:-1])])   # class runs
    longest = min(MAX_BARS, n)
    lengths = np.arange(1, longest + 1)
    cost = SEGMENT_COST + np.asarray([LENGTH_COST.get(int(l), IRREGULAR_COST) for l in lengths])
    start = np.arange(n)
    last = np.minimum(start[None, :] + lengths[:, None] - 1, n - 1)
    usable = (start[None, :] <= n - lengths[:, None]) & (change[last] == change[start][None, :])
    gains = np.where(usable, repetition(cum, pad, longest) - cost[:, None] + bonus[None, :], -np.inf)
    gains[0, 0] += cost[0]        # a lone first bar (a pickup, a count-in) is no phrase: :func:`merge_runs` joins it on
    gains = gains.tolist()        # plain floats: a dozen steps per bar line cost less than numpy calls
    best, back = [0.0] + [-np.inf] * n, [1] * (n + 1)
    for end in range(1, n + 1):
        for length in range(1, min(longest, end) + 1):      # the first (shortest) of equal scores wins
            score = best[end - length] + gains[length - 1][end - length]
            if score > best[end]:
                best[end], back[end] = score, length
    cuts, end = [], n
    while end > 0:
        cuts.append((end - back[end], end))
        end -= back[end]
    return cuts[::-1]


def label_segments(cum: np.ndarray, melodic: np.ndarray, segments: list[tuple[int, int]]) -> list[str]:
    """A provisional label per segment (module doc, step 4): ``i``, ``o``, or ``M<n>`` (melodic) / ``n<n>``
    (without melody) after the segment that first had it; :func:`merge_runs` turns them into letters."""
    labels: list[str] = []
    tuned = [bool(melodic[a]) for a, _ in segments]      # per segment; Python floats below: faster than numpy scalars
    first_melodic = next((i for i, t in enumerate(tuned) if t), len(segments))
    last_melodic = max((i for i, t in enumerate(tuned) if t), default=-1)
    for i, (a, b) in enumerate(segments):
        if not tuned[i] and (i < first_melodic or i > last_melodic):
            labels.append("i" if i < first_melodic else "o")
            continue
        best, best_sim = None, SAME_LABEL
        for j, (c, d) in enumerate(segments[:i]):
            if tuned[j] != tuned[i] or labels[j] in ("i", "o"):
                continue
            m = min(b - a, d - c)
            sim = (cum.item(a + m, c + m) - cum.item(a, c)) / m
            if sim >= best_sim:
                best, best_sim = labels[j], sim
        labels.append(best if best is not None else ("M" if tuned[i] else "n") + str(i))
    return labels


def merge_runs(segments: list[tuple[int, int]], labels: list[str]) -> tuple[list[tuple[int, int]], list[str]]:
    """A first segment of one bar (an anacrusis or a count-in) joins the next; neighbours merged when
    both are the intro (``i``), both the outro (``o``), or both heard only once and of one class (with
    or without melody); then letters re-assigned in order of first appearance."""
    if len(segments) > 1 and segments[0][1] - segments[0][0] == 1:   # a lone first bar: a pickup, a count-in
        segments = [(0, segments[1][1])] + segments[2:]
        labels = labels[1:]
    out_segments, out_labels = [], []
    for seg, label in zip(segments, labels):
        if out_labels:
            prev = out_labels[-1]
            once = labels.count(label) == 1 and labels.count(prev) == 1 and prev.isupper() == label.isupper()
            if (label == prev and label in ("i", "o")) or (once and prev not in ("i", "o")
                                                            and label not in ("i", "o")):
                out_segments[-1] = (out_segments[-1][0], seg[1])
                continue
        out_segments.append(seg)
        out_labels.append(label)
    letters = {"upper": iter("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), "lower": iter("bcdefghjklmnpqrstuvwxyz")}
    names: dict[str, str] = {"i": "i", "o": "o"}
    for label in out_labels:
        if label not in names:
            names[label] = next(letters["upper" if label.isupper() else "lower"], label)
    return out_segments, [names[label] for label in out_labels]


SUNG_PROGRAMS = (52, 53, 54)  # General MIDI's Choir Aahs, Voice Oohs, Synth Voice: what voices are written as


def a_cappella(piece: Piece) -> bool:
    """Every pitched note is sung (``SUNG_PROGRAMS``): a Mass, a madrigal, a chorale without instruments."""
    pitched = ~piece.is_drum
    return bool(pitched.any() and np.isin(piece.track_program[piece.track[pitched]], SUNG_PROGRAMS).all())


def fold_rests(piece: Piece, bounds: np.ndarray, segments: list[tuple[int, int]],
               labels: list[str]) -> tuple[list[tuple[int, int]], list[str]]:
    """A span without melody in which no note sounds at all (one voice of a chanson resting while the
    others sing, empty bars before the music) is no intro, outro or instrumental passage, nor is any
    span of an :func:`a_cappella` piece (there is no instrument: the other voices sing while the
    melody's rests, as in the staggered entries of a Mass movement): it joins the section before it
    (the first such span, the section after it)."""
    on, off = piece.onset, piece.onset + piece.duration
    sung = a_cappella(piece)
    out_segments, out_labels, start = [], [], None
    for (a, b), label in zip(segments, labels):
        if label.islower() and (sung or not ((on < bounds[b]) & (off > bounds[a])).any()):
            if out_segments:
                out_segments[-1] = (out_segments[-1][0], b)
            elif start is None:
                start = a
            continue
        out_segments.append((a if start is None else start, b))
        out_labels.append(label)
        start = None
    return (out_segments, out_labels) if out_segments else (segments, labels)


def name_kinds(labels: list[str], energy: list[float], song: bool = True) -> list[str]:
    """Kinds per section: ``intro`` / ``outro`` / ``instrumental`` by label case and place; in a
    ``song`` (False for a notated score: verse and chorus are popular-song words, and the same
    alternation in a minuet or a rondo is a theme's return, named by its letter) the
    chorus is the melodic label heard at least twice with the highest mean ``energy`` (notes per
    second x mean velocity) when at least two melodic labels repeat, and the verse the repeated label
    that most often comes right before it (of equal counts, the one heard first), if it does so at
    least twice and is heard first (a verse-chorus alternation that a verse opens); other melodic
    sections are ``melodic``."""
    kinds = ["intro" if l == "i" else "outro" if l == "o" else "instrumental" if l.islower() else "melodic"
             for l in labels]
    repeated = sorted({l for l in labels if l.isupper() and labels.count(l) >= 2})
    if len(repeated) < 2 or not song:
        return kinds
    mean = {l: sum(e for e, m in zip(energy, labels) if m == l) / labels.count(l) for l in repeated}
    chorus = max(repeated, key=lambda l: mean[l])
    before = [labels[i - 1] for i in range(1, len(labels)) if labels[i] == chorus and labels[i - 1] in repeated
              and labels[i - 1] != chorus]
    verse = max(sorted(set(before), key=labels.index), key=before.count) if before else None   # ties: heard first
    if verse is None or before.count(verse) < 2 or labels.index(verse) > labels.index(chorus):
        return kinds    # no verse-chorus alternation opened by the verse (a folk tune's A A B B, a rondo)
    return ["chorus" if l == chorus else "verse" if l == verse else k for l, k in zip(labels, kinds)]


def _energy(piece: Piece, bounds: np.ndarray, seconds: np.ndarray, segments: list[tuple[int, int]]) -> list[float]:
    """Notes per second x mean velocity of the pitched notes of each segment (``seconds``: of ``bounds``)."""
    pitched = ~piece.is_drum
    edges = [a for a, _ in segments] + [segments[-1][1]]
    which = bar_of(bounds[edges], piece.onset[pitched])
    inside = (which >= 0) & (which < len(segments))
    count = np.bincount(which[inside], minlength=len(segments))
    velocity = np.bincount(which[inside], weights=piece.velocity[pitched][inside], minlength=len(segments))
    return (count / np.maximum(np.diff(seconds[edges]), 1e-9) * velocity / np.maximum(count, 1)).tolist()


def played_through(piece: Piece, bounds: np.ndarray, segments: list[tuple[int, int]], labels: list[str],
                   melody: np.ndarray) -> bool:
    """True when the piece, from its first section to the last before an outro (a final chord), is one
    run of two or more labels played two or more times, its melody each time note for note: at least
    ``REPEAT_SHARE`` of the first run's (onset in ticks, pitch) pairs of ``melody`` notes (a mask,
    :func:`melody_notes`) come again in every later run, shifted by the distance between the runs'
    second sections (a first section may hold a pickup). A tune with its repeats written out, [A A B]
    then [A A B] again, not verses whose new words reshape the melody between choruses; a song's
    arrangement opens with an intro, a tune does not."""
    if labels[0] == "i":
        return False
    core = labels[:len(labels) - (labels[-1] == "o")]
    size = next((p for p in range(2, len(core) // 2 + 1) if core == core[:p] * (len(core) // p)), None)
    if size is None:
        return False
    onset, pitch = piece.onset[melody], piece.pitch[melody]
    start, end = int(bounds[segments[0][0]]), int(bounds[segments[size - 1][1]])

    def notes(shift: int) -> set:
        inside = (onset >= start + shift) & (onset < end + shift)
        return set(zip((onset[inside] - shift).tolist(), pitch[inside].tolist()))

    first, second = notes(0), int(bounds[segments[1][0]])
    return bool(first) and all(
        len(first & notes(int(bounds[segments[run * size + 1][0]]) - second)) >= REPEAT_SHARE * len(first)
        for run in range(1, len(core) // size))


def sections(piece: Piece, downbeats_s=None) -> list[dict]:
    """The sections of ``piece`` on the bar lines of ``downbeats_s`` (seconds, the ``downbeats_s``
    fact; None: those of the meter a build infers, :func:`bar_lines`); ``[]`` without a pitched note."""
    pitched = ~piece.is_drum
    if not pitched.any():
        return []
    piece, bounds = bar_lines(piece, downbeats_s)
    melody = melody_notes(piece)
    similarity, melodic = bar_similarity(piece, bounds, melody)
    padded = diagonal_sums(similarity, STRIPE_BARS)
    n = len(similarity)
    segments = segment(padded, STRIPE_BARS, melodic, melody_breaths(piece, bounds, melody))
    cum = padded[STRIPE_BARS:STRIPE_BARS + n + 1, STRIPE_BARS:STRIPE_BARS + n + 1]
    segments, labels = merge_runs(*fold_rests(piece, bounds, segments, label_segments(cum, melodic, segments)))
    seconds = piece.seconds(bounds)
    song = not (piece.notated or unperformed_default(piece) or played_through(piece, bounds, segments, labels, melody))
    kinds = name_kinds(labels, _energy(piece, bounds, seconds, segments), song=song)
    times = np.round(seconds, 3)
    if bounds[0] > piece.onset.min():
        times[0] = 0.0                    # notes before the first bar line (a pickup) open the first section
    return [{"start_s": float(times[a]), "end_s": float(times[b]), "label": label, "kind": kind}
            for (a, b), label, kind in zip(segments, labels, kinds)]


def section_notes(piece: Piece, found: list[dict]) -> list[dict]:
    """Per section of ``found`` (:func:`sections`), facts of the notes starting inside it, for the
    segment captions (:mod:`captune.captioners.form`): ``sounding`` {GM program (128 drums): share
    of the section's time in which it sounds, 0..1, 2 decimals}, ``pitch_mean`` (mean MIDI pitch of
    the pitched notes, None without), ``note_density`` (notes per second) and ``mean_velocity``."""
    if not found:
        return []
    edges = np.asarray([s["start_s"] for s in found] + [found[-1]["end_s"]])
    on = piece.seconds(piece.onset)
    off = piece.seconds(piece.onset + piece.duration)
    which = np.searchsorted(edges, on, side="right") - 1
    programs = piece.track_program[piece.track]
    frames = np.arange(edges[0], edges[-1], SOUNDING_FRAME_S)
    frame_section = np.searchsorted(edges, frames, side="right") - 1
    frames_per_section = np.bincount(frame_section, minlength=len(found))
    shares = {}
    for program in np.unique(programs).tolist():
        mask = programs == program
        delta = np.zeros(len(frames) + 1)
        np.add.at(delta, np.searchsorted(frames, on[mask]), 1)
        np.add.at(delta, np.searchsorted(frames, off[mask]), -1)
        sounding = np.cumsum(delta)[:-1] > 0
        shares[program] = np.bincount(frame_section, weights=sounding, minlength=len(found)) / np.maximum(
            frames_per_section, 1)
    pitched = ~piece.is_drum
    out = []
    for k, section in enumerate(found):
        inside = which == k
        tuned = inside & pitched
        seconds = max(section["end_s"] - section["start_s"], 1e-9)
        out.append({
            "sounding": {p: round(float(v[k]), 2) for p, v in shares.items() if v[k] > 0},
            "pitch_mean": round(float(piece.pitch[tuned].mean()), 2) if tuned.any() else None,
            "note_density": round(float(inside.sum() / seconds), 3),
            "mean_velocity": round(float(piece.velocity[inside].mean()), 2) if inside.any() else None,
        })
    return out

