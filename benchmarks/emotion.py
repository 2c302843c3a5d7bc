"""Emotion accuracy on VGMIDI's 204 labelled phrases (valence/arousal signs from 30 raters each).

Rows of the table, each beside the majority-class baseline measured on the same items:

- default: captune's literature-based model (:data:`captune.extractors.emotion.DEFAULT_MODEL`);
  the baseline is the most common sign / quadrant of the items scored. Its valence has no
  intercept (no positivity prior); its ``key_clarity`` and ``dissonance`` weights were fitted,
  within their literature signs, on the even-indexed phrases (sorted by path); the odd-indexed
  ones are held out, and the table gives the default on all 204, on the even (tuning) half and
  on the odd (held-out) half. "before" is the default captune had until then (a positivity
  offset of 0.7, fitted on the even half). "Arousal from notes per second" is the default with
  the arousal of the release before (:func:`notes_arousal`), on all, even and odd phrases and on
  the corpora.
- train-emotion (K-fold CV): ``captune train-emotion``'s logistic regressions, fitted on K−1
  folds and scored on the held-out fold (folds stratified by quadrant, seeded); the baseline
  is the most common sign / quadrant of each training fold, scored on its held-out fold.

Metrics: valence-sign accuracy, arousal-sign accuracy and 4-quadrant accuracy (EMOPIA
quadrants from the signs).

``--tune-half even`` (or ``odd``) also redoes the fit: with the intercept at 0 and every other
default term held fixed, the ``TUNED`` weights are fitted by maximum likelihood within their
signs (the default's value is tanh(z), i.e. P(positive) = sigmoid(2z)) on that half's valence
signs only, and printed with their accuracy on both halves. ``--corpus-shares`` adds the
positive-valence share and quadrant counts on POP909, Nottingham and DCML, before and now.

    python benchmarks/emotion.py [--corpora /work/shared/corpora] [--folds 5] [--seed 0] [--tune-half even]
                                 [--corpus-shares]
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
# the valence weights fitted, each within the sign the literature gives it (the intercept stays 0:
# no corpus prior): clarity pleasant, dissonance unpleasant
TUNED = ("key_clarity", "dissonance")
SIGNS = {"key_clarity": (0.0, None), "dissonance": (None, 0.0)}


def load(corpora: str):
    root = os.path.join(corpora, "vgmidi")
    with open(os.path.join(root, "vgmidi_labelled.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    items = [{"path": os.path.join(root, r["midi"]), "valence": float(r["valence"]), "arousal": float(r["arousal"])}
             for r in rows]
    items.sort(key=lambda i: i["path"])  # the even/odd halves are by position in path order
    return te.feature_rows(items, log=lambda msg: print(msg, file=sys.stderr))


def fit_valence(feats, v, model=emotion.DEFAULT_MODEL) -> dict:
    """The ``TUNED`` valence weights (within ``SIGNS``) maximising the likelihood of the valence signs
    ``v``, the intercept held at 0 and every other term of ``model`` fixed (P(positive) = sigmoid(2z))."""
    from scipy.optimize import minimize

    spec = model.to_dict()
    spec["valence"] = dict(spec["valence"], intercept=0.0,
                           weights={k: w for k, w in spec["valence"]["weights"].items() if k not in TUNED})
    fixed = emotion.LinearEmotionModel.from_dict(spec)
    offset = np.array([fixed.linear(f)[0] for f in feats])
    x = np.array([[0.0 if f[t] is None else (f[t] - model.centre[t]) / model.scale[t] for t in TUNED] for f in feats])
    y = (np.asarray(v) > 0).astype(float)

    def nll(w):
        z = 2 * (offset + x @ w)
        return float(np.sum(np.logaddexp(0, z) - y * z))

    found = minimize(nll, np.zeros(len(TUNED)), method="L-BFGS-B", bounds=[SIGNS[t] for t in TUNED]).x
    return dict(zip(TUNED, (float(w) for w in found)))


def with_valence(weights: dict, intercept: float = 0.0, model=emotion.DEFAULT_MODEL) -> emotion.LinearEmotionModel:
    spec = model.to_dict()
    spec["valence"] = dict(spec["valence"], intercept=intercept, weights=dict(spec["valence"]["weights"], **weights))
    return emotion.LinearEmotionModel.from_dict(spec)


# What captune's default was before (the baseline of the corpus table): a positivity offset of 0.7,
# key clarity 0.35 and no dissonance term, both fitted on VGMIDI's even half.
BEFORE = with_valence({"mode": 0.9, "key_clarity": 0.35, "dissonance": 0.0}, intercept=0.7)


def notes_arousal(model=emotion.DEFAULT_MODEL) -> emotion.LinearEmotionModel:
    """``model`` with the arousal of the release before: the event-density term read from notes per
    second (``log2_density``, centre 5) instead of onset events per second."""
    spec = model.to_dict()
    weights = spec["arousal"]["weights"]
    weights["log2_density"] = weights.pop("log2_events")
    return emotion.LinearEmotionModel.from_dict(spec)


NOTES_AROUSAL = notes_arousal()


def corpus_shares(corpora: str, limit: int | None) -> None:
    """Positive-valence share and quadrant counts of the default and of the model before, per corpus."""
    import glob
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from corpora import pop909_song_dirs

    sets = {"POP909": [os.path.join(d, os.path.basename(d) + ".mid") for d in pop909_song_dirs(corpora)],
            "Nottingham": sorted(glob.glob(os.path.join(corpora, "nottingham", "MIDI", "*.mid"))),
            "DCML": sorted(glob.glob(os.path.join(corpora, "dcml", "midi", "*.mid")))}
    print("\n| corpus | items | model | positive valence | high arousal | quadrants 1 / 2 / 3 / 4 |")
    print("|---|---|---|---|---|---|")
    for name, paths in sets.items():
        _, feats = te.feature_rows([{"path": p} for p in paths[:limit]], log=lambda msg: None)
        for label, model in (("before (baseline)", BEFORE), ("arousal from notes per second (baseline)", NOTES_AROUSAL),
                             ("default", emotion.DEFAULT_MODEL)):
            pairs = [model.predict(f) for f in feats]
            q = Counter(emotion.quadrant(v, a) for v, a in pairs)
            pos, excited = sum(v >= 0 for v, _ in pairs), sum(a >= 0 for _, a in pairs)
            print(f"| {name} | {len(feats)} | {label} | {pos / len(feats):.1%} | {excited / len(feats):.1%} | "
                  + " / ".join(str(q[k]) for k in (1, 2, 3, 4)) + " |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default=DEFAULT_CORPORA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tune-half", choices=("even", "odd"), default=None,
                        help="refit the valence weights of TUNED on this half and report both halves")
    parser.add_argument("--corpus-shares", action="store_true",
                        help="positive-valence share and quadrants on POP909, Nottingham and DCML")
    parser.add_argument("--limit", type=int, default=None, help="first N files of each corpus (--corpus-shares)")
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
    rows("default (literature cues, intercept 0; key-clarity and dissonance weights fitted on the even half)",
         emotion.default_model, everything, f"all {len(items)}")
    rows("default, even half (the tuning half)", emotion.default_model, halves["even"],
         f"even {int(halves['even'].sum())}")
    rows("default, odd half (held out)", emotion.default_model, halves["odd"], f"odd {int(halves['odd'].sum())}")
    print(f"| train-emotion, {cv['folds']}-fold CV (stratified, seed {args.seed}) | all {len(items)} | "
          + " | ".join(fmt(cv["trained"])) + " |")
    rows("before: positivity offset 0.7 (baseline)", BEFORE.predict, everything, f"all {len(items)}")
    rows("before, odd half", BEFORE.predict, halves["odd"], f"odd {int(halves['odd'].sum())}")
    for label, mask in (("all", everything), ("even", halves["even"]), ("odd", halves["odd"])):
        rows(f"arousal from notes per second (the release before; baseline), {label}", NOTES_AROUSAL.predict, mask,
             f"{label} {int(mask.sum())}")
    print(f"| majority of each training fold, same folds | all {len(items)} | "
          + " | ".join(fmt(cv["majority"])) + " |")
    if args.tune_half:
        tune = halves[args.tune_half]
        held = halves["odd" if args.tune_half == "even" else "even"]
        fitted = fit_valence([f for f, m in zip(feats, tune) if m], v[tune])
        refit = with_valence(fitted)
        def sv(mask):
            return te.scores(refit.predict, [f for f, m in zip(feats, mask) if m], v[mask], a[mask])["valence"]
        defaults = {t: emotion.DEFAULT_MODEL.valence["weights"].get(t) for t in TUNED}
        print(f"\nRefit on the {args.tune_half} half (valence signs only; intercept 0, other terms fixed): "
              + ", ".join(f"{t} {w:.3f}" for t, w in fitted.items()) + f" (default: {defaults}); valence sign "
              f"{sv(tune):.1%} on the tuning half, {sv(held):.1%} on the held-out half")
    if args.corpus_shares:
        corpus_shares(args.corpora, args.limit)
    print(f"\n({time.time() - started:.1f} s)")
    print(f"Reproduce: python benchmarks/emotion.py --corpora {shlex.quote(args.corpora)} "
          f"--folds {args.folds} --seed {args.seed}" + (f" --tune-half {args.tune_half}" if args.tune_half else "")
          + (" --corpus-shares" if args.corpus_shares else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
