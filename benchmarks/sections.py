"""Sections (:mod:`captune.extractors.midi.sections`) against human phrase labels, with baselines.

- POP909 001–454 (``pop909_structure/items.jsonl``, annotator 1 as reference):
  mir_eval.segment boundary F-measure at 3 s and 0.5 s (``trim=True``) and
  pairwise frame-clustering F (0.1 s frames), inside each song's
  ``annotated_span_s`` (estimates clipped to it). Rows: captune; a boundary
  every 8 bars from the first bar line (captune's bar grid); one section; the
  second annotator (``sections_alt``), the ceiling. ``--half even|odd|all``:
  the constants were tuned on the even songs, the odd ones check them.
- Nottingham AABB tunes: ABC tunes made of exactly two repeated parts
  (``|: A :|: B :|``, optional first/second endings, no ``P:`` play order),
  placed by the MIDI (which plays the repeats). Found = captune gives four
  melodic sections labelled x x y y (x != y) whose three inner boundaries are
  within one bar of the parts' ends.
- Cost: :func:`sections` per POP909 piece (decoded ``Piece`` given), median ms.

    python benchmarks/sections.py [--corpora /work/shared/corpora] [--half all]
"""

import argparse
import json
import os
import re
import time

import mir_eval
import numpy as np

from captune.extractors.midi import from_midi_bytes
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


def pop909(corpora: str, half: str):
    items = [json.loads(line) for line in open(os.path.join(corpora, "pop909_structure", "items.jsonl"))]
    if half != "all":
        items = [it for it in items if int(it["song"]) % 2 == (0 if half == "even" else 1)]
    rows = {"captune": [], "every 8 bars": [], "one section": [], "annotator 2 (ceiling)": []}
    costs = []
    for it in items:
        piece = from_midi_bytes(open(os.path.join(corpora, it["midi"]), "rb").read())
        span = it["annotated_span_s"]
        ref = _intervals(it["sections"])
        start = time.perf_counter()
        found = sections(piece)
        costs.append(time.perf_counter() - start)
        est = _intervals([[s["start_s"], s["end_s"], s["label"]] for s in found])
        bounds_s = piece.seconds(bar_lines(piece)).tolist()
        rows["captune"].append(_scores(ref, est, span))
        rows["every 8 bars"].append(_scores(ref, _intervals(_every(bounds_s, 8, span)), span))
        rows["one section"].append(_scores(ref, _intervals([[span[0], span[1], "A"]]), span))
        rows["annotator 2 (ceiling)"].append(_scores(ref, _intervals(it["sections_alt"]), span))
    print(f"\nPOP909 {half} songs ({len(items)}), reference annotator 1, inside the annotated span\n")
    print("| method | boundary F @3 s | boundary F @0.5 s | pairwise F |")
    print("|---|---|---|---|")
    for name, values in rows.items():
        f3, f05, pw = np.mean(values, axis=0)
        print(f"| {name} | {f3:.3f} | {f05:.3f} | {pw:.3f} |")
    print(f"\ncost of sections() per piece: median {1000 * np.median(costs):.2f} ms, "
          f"mean {1000 * np.mean(costs):.2f} ms")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default="/work/shared/corpora")
    parser.add_argument("--half", default="all", choices=["all", "even", "odd"])
    args = parser.parse_args(argv)
    pop909(args.corpora, args.half)


if __name__ == "__main__":
    main()
