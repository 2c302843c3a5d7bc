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
3. Loops (:func:`progression_summary`): a loop is a sequence of 2..``MAX_LENGTH``
   harmonies on at least two roots, not itself periodic (C G C G is C G twice), that the
   piece plays twice in a row somewhere (C G Am F C G Am F; two harmonies: C G C G, a vamp,
   so a V–I cadence returning through a piece is no loop, nor is a fragment of a longer
   loop, which never follows itself). Each loop covers the seconds of all its turns, in any
   rotation, wherever they recur (a chorus loop heard in three choruses), except that two
   harmonies count only where they alternate (C G C G): a lone C G is a cadence or a
   neighbour chord, whose returns through a tonal piece make no loop; the one covering
   the most wins (ties: the shorter, then the one heard first), provided it covers at least ``MIN_COVER`` of the
   piece's harmonic time, named from the rotation the piece plays first, with the number of
   its turns.
4. Loops played with variations (:func:`varied_loop`), when no loop of step 3 covers
   ``MIN_COVER``: a song's repeats often change one chord (a passing chord, a different
   turnaround, one chord misheard), so no turn follows itself exactly. On the half-bar slots
   (not merged), a turn of 1..``MAX_BARS`` bars is played again when the next turn differs in at
   most one half bar per four bars (none in turns under four bars); the loop is, per half bar,
   the harmony most of a run's turns play, merged as in step 2, with the limits of step 3, and it
   covers every turn within the same tolerance, anywhere. The one covering the most (ties: the
   shorter) is the summary if it covers ``MIN_COVER``, named from its first run.
   A piece with neither repeats no loop: the summary is empty (and a
   piece of at most 4 harmonies in all is listed once, count 1).
"""

from collections import Counter, defaultdict

import numpy as np

MAX_LENGTH = 8
MAX_BARS = 8      # longest turn of a loop played with variations (step 4)
MIN_COVER = 0.15   # share of the harmonic time a loop's turns must cover (chosen on POP909's even songs)
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


def _slot_harmonies(segments: list[dict], bounds: np.ndarray) -> list:
    """The harmony sounding longest in each slot between ``bounds`` (None where none sounds)."""
    starts = np.asarray([s["start_s"] for s in segments])
    ends = np.asarray([s["end_s"] for s in segments])
    harmonies = [harmony_of(s["label"]) for s in segments]
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        overlap = np.minimum(ends, b) - np.maximum(starts, a)
        weight: Counter = Counter()
        for i in np.flatnonzero(overlap > 0):
            if harmonies[i]:
                weight[harmonies[i]] += overlap[i]
        out.append(weight.most_common(1)[0][0] if weight else None)
    return out


def _shown(segments: list[dict]) -> dict:
    """The label shown for each harmony: its member label that sounds longest."""
    label_time: dict = defaultdict(Counter)
    for s in segments:
        h = harmony_of(s["label"])
        if h:
            label_time[h][s["label"]] += s["end_s"] - s["start_s"]
    return {h: c.most_common(1)[0][0] for h, c in label_time.items()}


def _half_bars(segments: list[dict], downbeats_s, beats_s) -> tuple[np.ndarray, list]:
    """(slot boundaries in seconds, the harmony of each slot): :func:`_slots`, :func:`_slot_harmonies`."""
    bounds = _slots(segments, downbeats_s, beats_s)
    return bounds, _slot_harmonies(segments, bounds)


def _merged(bounds: np.ndarray, slots: list) -> tuple[list, list[float]]:
    """(harmonies, seconds each): the slots' harmonies without gaps, equal neighbours merged."""
    seq, dur = [], []
    for h, a, b in zip(slots, bounds[:-1], bounds[1:]):
        if h is None:
            continue
        if seq and seq[-1] == h:
            dur[-1] += b - a
        else:
            seq.append(h)
            dur.append(b - a)
    return seq, dur


def harmonic_rhythm(segments: list[dict], downbeats_s=None, beats_s=None) -> tuple[list, list[float], dict]:
    """(harmonies, seconds each, shown label per harmony) of ``segments`` sampled at the harmonic
    rhythm (module doc, step 2)."""
    shown = _shown(segments)
    if not shown:
        return [], [], {}
    return (*_merged(*_half_bars(segments, downbeats_s, beats_s)), shown)


def _periodic(gram: tuple) -> bool:
    """True when ``gram`` repeats with a shorter period, whole or wrapped round: C G C G is C G twice,
    C G C is C G once and a half (a loop C G merged across its repeat)."""
    n = len(gram)
    return any(all(gram[i] == gram[i + p] for i in range(n - p)) for p in range(1, n))


def repeated_loops(seq: list) -> set[tuple]:
    """Loops (module doc, step 3) that ``seq`` plays twice in a row somewhere, each as its
    smallest rotation."""
    found = set()
    for n in range(2, MAX_LENGTH + 1):
        run = 0
        for j in range(n, len(seq)):
            run = run + 1 if seq[j] == seq[j - n] else 0
            if run >= n:  # seq[j-2n+1 .. j] is two turns of seq[j-n+1 .. j]
                turn = tuple(seq[j - n + 1:j + 1])
                if not _periodic(turn) and len({root for root, _ in turn}) >= 2:
                    found.add(min(turn[i:] + turn[:i] for i in range(n)))
    return found


def _turns(seq: list, loop: tuple) -> list[int]:
    """Starts of the turns of ``loop`` (any rotation) in ``seq``, left to right, not overlapping; of
    a two-harmony loop only those in runs of two or more turns back to back (module doc, step 3)."""
    n = len(loop)
    rotations = {loop[i:] + loop[:i] for i in range(n)}
    starts, i = [], 0
    while i + n <= len(seq):
        if tuple(seq[i:i + n]) in rotations:
            starts.append(i)
            i += n
        else:
            i += 1
    if n == 2:
        starts = [s for s in starts if s + n in starts or s - n in starts]
    return starts


def _cycle(turn) -> tuple:
    """The harmonies of a turn of half-bar slots as a loop: no gaps, equal neighbours merged, also
    across the turn's end (F G F, then F again, is F G), reduced to its period (C G C G is C G)."""
    hs = [h for h in turn if h is not None]
    loop = [h for i, h in enumerate(hs) if i == 0 or h != hs[i - 1]]
    while len(loop) > 1 and loop[0] == loop[-1]:
        loop.pop()
    n = len(loop)
    period = next((q for q in range(1, n) if n % q == 0 and loop == loop[q:] + loop[:q]), n)
    return tuple(loop[:period])


def _varied_turns(slots: list, bars: int) -> list[tuple[list[int], list]]:
    """(first slots of its turns, per-slot harmonies) of each run of turns of ``bars`` bars that ``slots`` (half bars)
    plays twice or more in a row, each turn differing from the one before in at most one half bar per
    four bars (module doc, step 4); the run's harmony per slot is the one most of its turns play
    (ties: the earliest)."""
    p, allowed = 2 * bars, bars // 4
    same = [slots[i] is not None and slots[i] == slots[i - p] for i in range(p, len(slots))]
    runs, t = [], 0
    while t + 2 * p <= len(slots):
        if p - sum(same[t:t + p]) > allowed:
            t += 1
            continue
        turns = [t, t + p]
        while turns[-1] + 2 * p <= len(slots) and p - sum(same[turns[-1]:turns[-1] + p]) <= allowed:
            turns.append(turns[-1] + p)
        played = []
        for k in range(p):
            votes = Counter(slots[u + k] for u in turns if slots[u + k] is not None)
            played.append(max(votes, key=lambda h: (votes[h], -next(j for j, u in enumerate(turns) if slots[u + k] == h)))
                          if votes else None)
        runs.append((turns, played))
        t = turns[-1] + p
    return runs


def varied_loop(bounds: np.ndarray, slots: list) -> tuple[tuple, int, float, float]:
    """(loop as harmonies in the rotation played first, turns, seconds covered, harmonic seconds) of
    the loop played with variations that covers the most (module doc, step 4) among the half-bar
    ``slots`` between ``bounds`` (:func:`_half_bars`); ``((), 0, 0, total)`` if none."""
    seconds = np.diff(bounds)
    total = float(sum(d for h, d in zip(slots, seconds) if h is not None))
    variants: dict = defaultdict(list)  # loop's smallest rotation -> (bars, turns' first slots, per-slot harmonies)
    for bars in range(1, MAX_BARS + 1):
        for turns, played in _varied_turns(slots, bars):
            loop = _cycle(played)
            if 2 <= len(loop) <= MAX_LENGTH and len({root for root, _ in loop}) >= 2:
                variants[min(loop[i:] + loop[:i] for i in range(len(loop)))].append((bars, turns, played))
    best = ((), 0, 0.0, total)
    for runs in variants.values():
        covered, turns = np.zeros(len(slots), bool), 0
        for bars, run, played in runs:  # every turn of the loop, anywhere, within the same tolerance
            p, t = 2 * bars, 0
            if len(_cycle(played)) == 2:  # two harmonies: only where they alternate (step 3)
                fresh = [u for u in run if not covered[u]]
                covered[[i for u in fresh for i in range(u, u + p)]] = True
                turns += len(fresh)
                continue
            while t + p <= len(slots):
                if not covered[t:t + p].any() and sum(a is None or a != b for a, b in zip(slots[t:t + p], played)) <= bars // 4:
                    covered[t:t + p] = True
                    turns += 1
                    t += p
                else:
                    t += 1
        loop = _cycle(min(runs, key=lambda r: r[1][0])[2])
        cover = float(seconds[covered].sum())
        if (cover, -len(loop)) > (best[2], -len(best[0])):
            best = (loop, turns, cover, total)
    return best


def progression_summary(segments: list[dict], downbeats_s=None, beats_s=None,
                        variations: bool = True) -> tuple[list[str], int]:
    """(loop as chord labels, occurrences) of chord ``segments`` (module doc); ``([], 0)`` for a
    piece whose harmony repeats no loop, or no chords. ``variations=False``: exact loops only (step 4 left out,
    the previous release's finder)."""
    shown = _shown(segments)
    if not shown:
        return [], 0
    bounds, slots = _half_bars(segments, downbeats_s, beats_s)   # sampled once, for steps 2 and 4
    seq, dur = _merged(bounds, slots)
    if not seq:
        return [], 0
    cum = np.concatenate([[0.0], np.cumsum(dur)])
    found = []  # (seconds covered, -harmonies, -first turn's start, turn starts) per loop
    for loop in repeated_loops(seq):
        starts = _turns(seq, loop)
        found.append((sum(cum[i + len(loop)] - cum[i] for i in starts), -len(loop), -starts[0], starts))
    if found:
        cover, minus_n, _, starts = max(found)
        if cover >= MIN_COVER * cum[-1]:
            first = seq[starts[0]:starts[0] - minus_n]
            return [shown[h] for h in first], len(starts)
    if variations:
        loop, turns, cover, total = varied_loop(bounds, slots)
        if loop and cover >= MIN_COVER * total:
            return [shown[h] for h in loop], turns
    if len(seq) == 1 or (len(seq) <= 4 and len({root for root, _ in seq}) >= 2):
        return [shown[h] for h in seq], 1
    return [], 0
