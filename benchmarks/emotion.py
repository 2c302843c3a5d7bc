"""Emotion accuracy on VGMIDI's 204 labelled phrases (valence/arousal signs from 30 raters each).

Rows of the table, each beside the majority-class baseline measured on the same items:

- default: captune's literature-based model (:data:`captune.extractors.emotion.DEFAULT_MODEL`),
  no fitting; the baseline is the corpus's most common sign / quadrant.
- train-emotion (K-fold CV): ``captune train-emotion``'s logistic regressions, fitted on K−1
  folds and scored on the held-out fold (folds stratified by quadrant, seeded); the baseline
  is the most common sign / quadrant of each training fold, scored on its held-out fold.

Metrics: valence-sign accuracy, arousal-sign accuracy and 4-quadrant accuracy (EMOPIA
quadrants from the signs).

    python benchmarks/emotion.py [--corpora /work/shared/corpora] [--folds 5] [--seed 0]
"""

import argparse
import csv
import os
import shlex
import sys
import time
from collections import Counter

import numpy as np

from captune.extractors import emotion
from captune.pipelines import train_emotion as te

DEFAULT_CORPORA = "/work/shared/corpora"


def load(corpora: str):
    root = os.path.join(corpora, "vgmidi")
    with open(os.path.join(root, "vgmidi_labelled.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    items = [{"path": os.path.join(root, r["midi"]), "valence": float(r["valence"]), "arousal": float(r["arousal"])}
             for r in rows]
    return te.feature_rows(items, log=lambda msg: print(msg, file=sys.stderr))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default=DEFAULT_CORPORA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.time()
    items, feats = load(args.corpora)
    v = np.array([i["valence"] for i in items])
    a = np.array([i["arousal"] for i in items])
    balance = Counter(zip(v.astype(int), a.astype(int)))
    default = te.scores(emotion.default_model, feats, v, a)
    majority = te.majority_scores(v, a, v, a)
    cv = te.cross_validate(feats, v, a, args.folds, args.seed)
    print(f"VGMIDI labelled phrases: {len(items)} items; (V, A) balance "
          + ", ".join(f"({x:+d},{y:+d}) {n}" for (x, y), n in sorted(balance.items(), reverse=True)) + "\n")
    print("| model | valence sign | arousal sign | quadrant (4 classes) |")
    print("|---|---|---|---|")
    fmt = lambda r: [f"{r[m]:.1%}" for m in ("valence", "arousal", "quadrant")]  # noqa: E731
    print("| default (literature cues, not fitted) | " + " | ".join(fmt(default)) + " |")
    print("| majority baseline (whole corpus) | " + " | ".join(fmt(majority)) + " |")
    print(f"| train-emotion, {cv['folds']}-fold CV (stratified, seed {args.seed}) | "
          + " | ".join(fmt(cv["trained"])) + " |")
    print("| majority of each training fold, same folds | " + " | ".join(fmt(cv["majority"])) + " |")
    print(f"\n({time.time() - started:.1f} s)")
    print(f"Reproduce: python benchmarks/emotion.py --corpora {shlex.quote(args.corpora)} "
          f"--folds {args.folds} --seed {args.seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
