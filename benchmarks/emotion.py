"""Emotion accuracy on VGMIDI's 204 labelled phrases (valence/arousal signs from 30 raters each).

Rows of the table, each beside the majority-class baseline measured on the same items:

- default: captune's literature-based model (:data:`captune.extractors.emotion.DEFAULT_MODEL`);
  the baseline is the most common sign / quadrant of the items scored. Two of its numbers (the
  valence intercept, a positivity offset, and the ``key_clarity`` weight) were fitted on the
  even-indexed phrases (sorted by path); the odd-indexed ones are held out, and the table
  gives the default on all 204, on the even (tuning) half and on the odd (held-out) half.
- train-emotion (K-fold CV): ``captune train-emotion``'s logistic regressions, fitted on K−1
  folds and scored on the held-out fold (folds stratified by quadrant, seeded); the baseline
  is the most common sign / quadrant of each training fold, scored on its held-out fold.

Metrics: valence-sign accuracy, arousal-sign accuracy and 4-quadrant accuracy (EMOPIA
quadrants from the signs).

``--tune-half even`` (or ``odd``) also redoes the fit: with every other default term held
fixed, the valence intercept and the ``key_clarity`` weight are fitted by maximum likelihood
(the default's value is tanh(z), i.e. P(positive) = sigmoid(2z)) on that half's valence signs
only, and the fitted pair is printed with its accuracy on both halves.

    python benchmarks/emotion.py [--corpora /work/shared/corpora] [--folds 5] [--seed 0] [--tune-half even]
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
TUNED = "key_clarity"  # the valence weight fitted besides the intercept


def load(corpora: str):
    root = os.path.join(corpora, "vgmidi")
    with open(os.path.join(root, "vgmidi_labelled.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    items = [{"path": os.path.join(root, r["midi"]), "valence": float(r["valence"]), "arousal": float(r["arousal"])}
             for r in rows]
    items.sort(key=lambda i: i["path"])  # the even/odd halves are by position in path order
    return te.feature_rows(items, log=lambda msg: print(msg, file=sys.stderr))


def fit_valence(feats, v, model=emotion.DEFAULT_MODEL) -> tuple[float, float]:
    """(intercept, key_clarity weight) maximising the likelihood of the valence signs ``v``,
    every other term of ``model`` held fixed (its P(positive) is sigmoid(2z))."""
    from scipy.optimize import minimize

    spec = model.to_dict()
    spec["valence"] = dict(spec["valence"], intercept=0.0,
                           weights={k: w for k, w in spec["valence"]["weights"].items() if k != TUNED})
    fixed = emotion.LinearEmotionModel.from_dict(spec)
    offset = np.array([fixed.linear(f)[0] for f in feats])
    x = np.array([0.0 if f[TUNED] is None else (f[TUNED] - model.centre[TUNED]) / model.scale[TUNED] for f in feats])
    y = (np.asarray(v) > 0).astype(float)

    def nll(w):
        z = 2 * (offset + w[0] + w[1] * x)
        return float(np.sum(np.logaddexp(0, z) - y * z))

    b, w = minimize(nll, np.zeros(2)).x
    return float(b), float(w)


def with_valence(b: float, w: float, model=emotion.DEFAULT_MODEL) -> emotion.LinearEmotionModel:
    spec = model.to_dict()
    spec["valence"] = dict(spec["valence"], intercept=b, weights=dict(spec["valence"]["weights"], **{TUNED: w}))
    return emotion.LinearEmotionModel.from_dict(spec)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default=DEFAULT_CORPORA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tune-half", choices=("even", "odd"), default=None,
                        help="refit the valence intercept and key_clarity weight on this half and report both halves")
    args = parser.parse_args(argv)
    started = time.time()
    items, feats = load(args.corpora)
    v = np.array([i["valence"] for i in items])
    a = np.array([i["arousal"] for i in items])
    halves = {"even": np.arange(len(items)) % 2 == 0}
    halves["odd"] = ~halves["even"]
    balance = Counter(zip(v.astype(int), a.astype(int)))
    cv = te.cross_validate(feats, v, a, args.folds, args.seed)
    print(f"VGMIDI labelled phrases: {len(items)} items; (V, A) balance "
          + ", ".join(f"({x:+d},{y:+d}) {n}" for (x, y), n in sorted(balance.items(), reverse=True)) + "\n")
    print("| model | items | valence sign | arousal sign | quadrant (4 classes) |")
    print("|---|---|---|---|---|")
    fmt = lambda r: [f"{r[m]:.1%}" for m in ("valence", "arousal", "quadrant")]  # noqa: E731

    def rows(label, predict, mask, n_label):
        f = [x for x, m in zip(feats, mask) if m]
        print(f"| {label} | {n_label} | " + " | ".join(fmt(te.scores(predict, f, v[mask], a[mask]))) + " |")
        print(f"| majority baseline of the same items | {n_label} | "
              + " | ".join(fmt(te.majority_scores(v[mask], a[mask], v[mask], a[mask]))) + " |")

    everything = np.ones(len(items), bool)
    rows("default (literature cues; intercept and key-clarity weight fitted on the even half)",
         emotion.default_model, everything, f"all {len(items)}")
    rows("default, even half (the tuning half)", emotion.default_model, halves["even"],
         f"even {int(halves['even'].sum())}")
    rows("default, odd half (held out)", emotion.default_model, halves["odd"], f"odd {int(halves['odd'].sum())}")
    print(f"| train-emotion, {cv['folds']}-fold CV (stratified, seed {args.seed}) | all {len(items)} | "
          + " | ".join(fmt(cv["trained"])) + " |")
    print(f"| majority of each training fold, same folds | all {len(items)} | "
          + " | ".join(fmt(cv["majority"])) + " |")
    if args.tune_half:
        tune = halves[args.tune_half]
        held = halves["odd" if args.tune_half == "even" else "even"]
        b, w = fit_valence([f for f, m in zip(feats, tune) if m], v[tune])
        refit = with_valence(b, w)
        def sv(mask):
            return te.scores(refit.predict, [f for f, m in zip(feats, mask) if m], v[mask], a[mask])["valence"]
        print(f"\nRefit on the {args.tune_half} half (valence signs only; other terms fixed): intercept {b:.3f}, "
              f"{TUNED} weight {w:.3f} (default: {emotion.DEFAULT_MODEL.valence['intercept']}, "
              f"{emotion.DEFAULT_MODEL.valence['weights'][TUNED]}); valence sign {sv(tune):.1%} on the tuning half, "
              f"{sv(held):.1%} on the held-out half")
    print(f"\n({time.time() - started:.1f} s)")
    print(f"Reproduce: python benchmarks/emotion.py --corpora {shlex.quote(args.corpora)} "
          f"--folds {args.folds} --seed {args.seed}" + (f" --tune-half {args.tune_half}" if args.tune_half else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
