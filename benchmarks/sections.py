"""Sections (:mod:`captune.extractors.midi.sections`) against human phrase labels, with baselines.

- POP909 001–454 (``pop909_structure/items.jsonl``, annotator 1 as reference):
  mir_eval.segment boundary F-measure at 3 s and 0.5 s (``trim=True``) and
  pairwise frame-clustering F (0.1 s frames), inside each song's
  ``annotated_span_s`` (estimates clipped to it). Rows: captune on the bars a build writes
  (the meter of :func:`captune.extractors.midi.bar_inference.settle`); captune as built
  (:func:`captune.extractors.midi.extract`: the same, but performance MIDI gets no sections); a
  boundary every 8 bars from the first bar line (the same bar grid); one section; the second
  annotator (``sections_alt``), the ceiling. Each for the even songs (the constants were tuned on
  them), the odd ones (the check) and all, in one run.
- Nottingham AABB tunes: ABC tunes made of exactly two repeated parts
  (``|: A :|: B :|``, optional first/second endings, no ``P:`` play order),
  whose MIDI lasts A A B B (within 1.5 bars; many MIDI files play A A B twice) and plays each strain
  twice alike (Jaccard >= 0.5 of the notes' (sixteenth, pitch) sets of the two plays, on the file's
  own bars: endings may differ, other strains may not).
  Found = a section boundary within one
  bar of each inner strain boundary (the tune's quarters from its first full
  bar line: strains of equal length), the same label sequence in both A
  strains and in both B strains, and different sequences for A and B.
- Cost: CPU time of :func:`sections` per POP909 piece (the settled ``Piece`` and its
  ``downbeats_s`` given, as a build calls it: the meter inference is the meter's cost; best of 3,
  median and mean over songs), beside captune's :func:`chords` on the same piece.

    python benchmarks/sections.py [--corpora /work/shared/corpora]
"""

import argparse
import json
import os
import re
import time

import mir_eval
import numpy as np

from captune.extractors.midi import extract, from_midi_bytes
from captune.extractors.midi.chords import chords
from captune.extractors.midi.meter import beat_ticks, beats
from captune.extractors.midi.sections import bar_lines, sections


def _intervals(rows):
    return np.asarray([r[:2] for r in rows], dtype=float), [r[2] for r in rows]


def _clip(intervals, labels, span):
    """The intervals inside ``span``, shifted to start at 0 and padded to cover it."""
    keep = (intervals[:, 1] > span[0] + 1e-6) & (intervals[:, 0] < span[1] - 1e-6)
    out = np.clip(intervals[keep], span[0], span[1]) - span[0]
    return mir_eval.util.adjust_intervals(out, [l for l, k in zip(labels, keep) if k], t_min=0.0,
                                          t_max=span[1] - span[0])


def _scores(ref, est, span):
    (ri, rl), (ei, el) = _clip(*ref, span), _clip(*est, span)
    f3 = mir_eval.segment.detection(ri, ei, window=3, trim=True)[2]
    f05 = mir_eval.segment.detection(ri, ei, window=0.5, trim=True)[2]
    pw = mir_eval.segment.pairwise(ri, rl, ei, el, frame_size=0.1)[2]
    return f3, f05, pw


def _every(bounds_s, step, span):
    lines = [t for t in bounds_s if span[0] - 1e-6 <= t <= span[1] + 1e-6]
    cuts = lines[::step] + [span[1]]
    cuts = sorted(set(round(c, 3) for c in cuts))
    return [[a, b, str(i)] for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:]))]


def _cpu(call, repeats: int = 3) -> float:
    """Best-of-``repeats`` CPU seconds of ``call()`` (process time: other processes on the machine do not count)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        call()
        best = min(best, time.process_time() - start)
    return best


def pop909(corpora: str):
    """Per song (even, odd and all in one run): captune, captune as built, the baselines, the ceiling."""
    items = [json.loads(line) for line in open(os.path.join(corpora, "pop909_structure", "items.jsonl"))]
    names = ["captune", "captune as built (extract)", "every 8 bars (baseline)", "one section",
             "annotator 2 (ceiling)"]
    rows = {name: {"even": [], "odd": []} for name in names}
    costs, unsectioned, on_lines = [], 0, {"even": [], "odd": []}
    for it in items:
        piece = from_midi_bytes(open(os.path.join(corpora, it["midi"]), "rb").read())
        half = "odd" if int(it["song"]) % 2 else "even"
        span = it["annotated_span_s"]
        ref = _intervals(it["sections"])
        settled, bounds = bar_lines(piece)                # the meter a build infers, its bar lines
        downbeats_s = beats(settled)["downbeats_s"]
        found = sections(settled, downbeats_s)
        costs.append((_cpu(lambda: sections(settled, downbeats_s)), _cpu(lambda: chords(settled, "C major"))))
        built = [[s["start_s"], s["end_s"], s["label"]] for s in extract(piece)["sections"] or []]
        unsectioned += not built   # performance MIDI (no bar grid) has no sections: scored as one section
        estimates = {"captune": [[s["start_s"], s["end_s"], s["label"]] for s in found],
                     "captune as built (extract)": built or [[span[0], span[1], "A"]],
                     "every 8 bars (baseline)": _every(settled.seconds(bounds).tolist(), 8, span),
                     "one section": [[span[0], span[1], "A"]],
                     "annotator 2 (ceiling)": it["sections_alt"]}
        for name, est in estimates.items():
            rows[name][half].append(_scores(ref, _intervals(est), span))
        edges = np.asarray([s[0] for s in it["sections"][1:]])[:, None]
        on_lines[half].append((np.abs(edges - piece.seconds(beat_ticks(piece)[1])[None]).min(axis=1) <= 0.2,
                               np.abs(edges - settled.seconds(bounds)[None]).min(axis=1) <= 0.2))
    print(f"\nPOP909 001–454, reference annotator 1, inside the annotated span ({unsectioned} songs without "
          f"sections as built, scored as one section); constants tuned on the even songs\n")
    print("| method | songs | boundary F @3 s | boundary F @0.5 s | pairwise F |")
    print("|---|---|---|---|---|")
    for half in ("even", "odd", "all"):
        for name in names:
            values = rows[name]["even"] + rows[name]["odd"] if half == "all" else rows[name][half]
            f3, f05, pw = np.mean(values, axis=0)
            print(f"| {name}, {half} | {len(values)} | {f3:.3f} | {f05:.3f} | {pw:.3f} |")
    for half in ("even", "odd"):
        declared, built = (np.concatenate([pair[k] for pair in on_lines[half]]).mean() for k in (0, 1))
        print(f"\n{half} songs: annotated section boundaries within 0.2 s of a bar line: {declared:.1%} on the "
              f"declared grid, {built:.1%} on the build's bars")
    ms, mean = 1000 * np.median(costs, axis=0), 1000 * np.mean(costs, axis=0)
    print(f"\nCPU time per piece (best of 3), median: sections() on the build's bars {ms[0]:.2f} ms; chords() on "
          f"the same piece {ms[1]:.2f} ms (ratio {ms[0] / ms[1]:.2f}); mean: {mean[0]:.2f} ms and {mean[1]:.2f} ms")


def abc_tunes(path: str):
    """(X number, header lines, body text) of every tune of an ABC file."""
    text = open(path, encoding="latin-1").read()
    for chunk in re.split(r"(?m)^X:", text)[1:]:
        lines = chunk.splitlines()
        number = int(lines[0].strip())
        header = [l for l in lines[1:] if re.match(r"^[A-Za-z]:", l)]
        body = "\n".join(l for l in lines[1:] if not re.match(r"^[A-Za-z]:", l) and not l.startswith("%"))
        yield number, header, body


def aabb_strain_bars(header, body) -> tuple[int, int] | None:
    """Bars (as written, first ending kept) of strains A and B of a tune made of two repeated strains
    and nothing else: no play order (``P:``/``Y:``), exactly two repeat ends, nothing after the second
    strain but its second ending; else None."""
    if any(l.startswith(("P:", "Y:")) for l in header):
        return None
    music = re.sub(r'"[^"]*"|![^!]*!|\{[^}]*\}', "", body)       # chord symbols, decorations, grace notes
    ends = [m.start() for m in re.finditer(r":\|", music)]
    if len(ends) != 2 or music.count("|:") > 2:
        return None
    tail = music[ends[1] + 2:].strip(" \n|]:")
    if tail and not (tail.startswith(("[2", "2")) and tail.count("|") <= 2):
        return None
    first = music[:ends[0]]
    second = music[ends[0] + 2:ends[1]]
    if second.lstrip(" \n|").startswith("[2") and "||" in second:     # A's second ending comes first
        second = second[second.find("||") + 2:]
    return _bars(first), _bars(second)


def _bars(strain: str) -> int:
    """Bars of one strain's text (cells with notes between bar lines, the second ending dropped)."""
    strain = strain.split("[2")[0].replace("[1", "")
    cells = len([c for c in re.split(r"[|:\]]+", strain) if re.search(r"[A-Ga-g]", c)])
    return cells - 1 if cells % 4 == 1 else cells     # 4k + 1 cells: a pickup split from the last bar


def _strains_found(piece, found, bars_a: int, bars_b: int) -> bool | None:
    """The strains A A B B (lengths in proportion to their written bars, from the first full bar line
    to the end) are found when a section boundary lies within a bar of each inner strain boundary,
    both A strains have the same sequence of labels, both B strains too, and A's differs from B's;
    None when the MIDI's length is not that of A A B B. The strains are timed on the file's own bars
    (the ABC's ``M:``, its pickup padded to a full bar), not on captune's."""
    lines = piece.seconds(np.append(beat_ticks(piece)[1], piece.end_tick))
    bar = float(np.median(np.diff(lines)))
    start = lines[0] if _sounds_full_bar(piece, lines) else lines[1]
    if abs((piece.duration_s - start) / bar - 2 * (bars_a + bars_b)) > 1.5:
        return None                                   # the MIDI plays another order (e.g. A A B A A B)
    share = np.cumsum([0, bars_a, bars_a, bars_b, bars_b]) / (2 * (bars_a + bars_b))
    edges = start + (piece.duration_s - start) * share
    if min(_played_alike(piece, edges[k], edges[k + 1], edges[k + 2]) for k in (0, 2)) < REPEATED:
        return None                                   # the MIDI does not play a strain twice (e.g. A A B C)
    starts = np.asarray([s["start_s"] for s in found])
    if any(np.min(np.abs(starts - e)) > bar for e in edges[1:4]):
        return False
    lows = [-np.inf, *(edges[1:4] - bar / 2)]
    highs = [*(edges[1:4] - bar / 2), np.inf]
    strains = [[s["label"] for s in found if a <= s["start_s"] < b] for a, b in zip(lows, highs)]
    return strains[0] == strains[1] and strains[2] == strains[3] and strains[0] != strains[2]


REPEATED = 0.5   # Jaccard of a strain's two plays (onset in sixteenths from the strain's start, pitch)


def _played_alike(piece, a: float, b: float, c: float) -> float:
    """Jaccard similarity of the (sixteenth from the start, pitch) sets of all notes in [a, b) and in
    [b, c): how literally the MIDI plays a strain twice (different endings lower it a little)."""
    on = piece.seconds(piece.onset)
    sixteenth = (b - a) / max(1, round((b - a) / float(piece.seconds(piece.tpq / 4) - piece.seconds(0))))

    def notes(lo, hi):
        inside = (on >= lo - sixteenth / 2) & (on < hi - sixteenth / 2)
        return set(zip(np.rint((on[inside] - lo) / sixteenth).astype(int).tolist(), piece.pitch[inside].tolist()))

    first, second = notes(a, b), notes(b, c)
    return len(first & second) / max(1, len(first | second))


def _sounds_full_bar(piece, lines) -> bool:
    """Whether notes sound in the first half of the first bar (else it is a padded pickup)."""
    first = float(piece.seconds(piece.onset.min()))
    return first < lines[0] + (lines[1] - lines[0]) / 2


def nottingham(corpora: str):
    root = os.path.join(corpora, "nottingham")
    found = tunes = other = 0
    for name in sorted(os.listdir(os.path.join(root, "ABC_cleaned"))):
        stem = name[:-4]
        for number, header, body in abc_tunes(os.path.join(root, "ABC_cleaned", name)):
            midi = os.path.join(root, "MIDI", f"{stem}{number}.mid")
            strains = aabb_strain_bars(header, body)
            if strains is None or not os.path.exists(midi):
                continue
            piece = from_midi_bytes(open(midi, "rb").read())
            ok = _strains_found(piece, sections(piece), *strains)
            other += ok is None
            tunes += ok is not None
            found += bool(ok)
    print(f"\nNottingham AABB tunes played A A B B: {tunes} ({other} more whose MIDI plays another order "
          f"left out); both strains found in {found} ({100 * found / max(tunes, 1):.1f} %)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default="/work/shared/corpora")
    args = parser.parse_args(argv)
    pop909(args.corpora)
    nottingham(args.corpora)


if __name__ == "__main__":
    main()
