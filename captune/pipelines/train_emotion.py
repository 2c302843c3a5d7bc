"""``captune train-emotion LABELS.csv --output model.json [--cv 5]``: fit an emotion model on captune's facts.

LABELS.csv has a header and one row per item, either ``path,valence,arousal`` (numbers in
[-1, 1]; signs ±1 as in VGMIDI, or continuous ratings) or ``path,quadrant`` (EMOPIA 1–4:
1 = +V+A, 2 = −V+A, 3 = −V−A, 4 = +V−A). Other columns are ignored; a ``midi`` column is
accepted for ``path`` (the VGMIDI CSV). Paths are relative to the CSV's folder.

Each file goes through :func:`captune.extractors.analyze.analyze` and
:func:`captune.extractors.emotion.features`; the features are standardised (mean and
standard deviation of the training set, stored in the model) and each axis gets

- a logistic regression (scikit-learn, L2, ``C=1``) when its labels are signs or
  quadrants — the model's value is P(+) − P(−) (link ``logistic``);
- a ridge regression (``alpha=1``) when the labels are continuous (link ``clip``).

A missing feature is replaced by the training mean (i.e. contributes nothing), as at
prediction time. With ``--cv K`` it first prints K-fold cross-validated sign and
quadrant accuracies (folds stratified by quadrant, seeded) beside the majority-class
baseline of each training fold. The model is written as JSON
(:class:`captune.extractors.emotion.LinearEmotionModel`), never pickled; use it with
``captune build ... --emotion-model model.json``.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter

import numpy as np

from captune.extractors import emotion
from captune.extractors.analyze import analyze
from captune.extractors.errors import BadInput


def read_labels(csv_path: str) -> list[dict]:
    """``[{path, valence, arousal}]`` from a labels CSV (see module doc); quadrant rows become signs."""
    folder = os.path.dirname(os.path.abspath(csv_path))
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        rows = [{k.strip().lower(): (v or "").strip() for k, v in r.items() if k} for r in reader]
    path_col = "path" if "path" in fields else "midi" if "midi" in fields else None
    if path_col is None:
        raise SystemExit(f"{csv_path}: needs a 'path' column (and valence,arousal or quadrant)")
    has_va = "valence" in fields and "arousal" in fields
    if not has_va and "quadrant" not in fields:
        raise SystemExit(f"{csv_path}: needs columns valence,arousal or quadrant")
    items = []
    for n, r in enumerate(rows, start=2):
        path = os.path.join(folder, r[path_col])
        try:
            if has_va:
                v, a = float(r["valence"]), float(r["arousal"])
            else:
                q = int(r["quadrant"])
                if q not in (1, 2, 3, 4):
                    raise ValueError(f"quadrant {q} is not 1-4")
                v, a = (1.0 if q in (1, 4) else -1.0), (1.0 if q in (1, 2) else -1.0)
        except (ValueError, KeyError) as exc:
            raise SystemExit(f"{csv_path}, line {n}: {exc}") from None
        if not (-1 <= v <= 1 and -1 <= a <= 1):
            raise SystemExit(f"{csv_path}, line {n}: valence and arousal must be in [-1, 1]")
        items.append({"path": path, "valence": v, "arousal": a})
    if not items:
        raise SystemExit(f"{csv_path}: no labelled rows")
    return items


def feature_rows(items: list[dict], log=print) -> tuple[list[dict], list[dict]]:
    """(kept items, their feature dicts); files that cannot be analysed are reported and skipped."""
    kept, feats = [], []
    for item in items:
        try:
            with open(item["path"], "rb") as fh:
                facts = analyze(fh.read(), item["path"])
        except (OSError, BadInput) as exc:
            log(f"  skipped {item['path']}: {exc}")
            continue
        kept.append(item)
        feats.append(emotion.features(facts))
    return kept, feats


def _matrix(feats: list[dict]) -> np.ndarray:
    return np.array([[np.nan if f[k] is None else f[k] for k in emotion.FEATURES] for f in feats], dtype=float)


def _is_signs(y: np.ndarray) -> bool:
    return bool(np.isin(y, (-1.0, 1.0)).all())


def fit(feats: list[dict], valence, arousal, name: str = "trained", info: dict | None = None
        ) -> emotion.LinearEmotionModel:
    """A :class:`~captune.extractors.emotion.LinearEmotionModel` fitted to feature dicts and labels."""
    from sklearn.linear_model import LogisticRegression, Ridge

    x = _matrix(feats)
    centre = np.nanmean(x, axis=0)
    centre = np.where(np.isnan(centre), 0.0, centre)
    scale = np.nanstd(x, axis=0)
    scale = np.where(np.isnan(scale) | (scale < 1e-9), 1.0, scale)
    z = np.where(np.isnan(x), 0.0, (x - centre) / scale)

    def head(y):
        y = np.asarray(y, dtype=float)
        if _is_signs(y):
            if len(set(y)) == 1:  # one class only: a constant prediction
                return {"weights": {}, "intercept": 5.0 * y[0], "link": "logistic"}
            clf = LogisticRegression(C=1.0, max_iter=1000).fit(z, y > 0)
            return {"weights": dict(zip(emotion.FEATURES, map(float, clf.coef_[0]))),
                    "intercept": float(clf.intercept_[0]), "link": "logistic"}
        reg = Ridge(alpha=1.0).fit(z, y)
        return {"weights": dict(zip(emotion.FEATURES, map(float, reg.coef_))), "intercept": float(reg.intercept_),
                "link": "clip"}

    return emotion.LinearEmotionModel(dict(zip(emotion.FEATURES, map(float, centre))),
                                      dict(zip(emotion.FEATURES, map(float, scale))),
                                      head(valence), head(arousal), name=name, info=info)


def _quadrants(v, a) -> np.ndarray:
    return np.array([emotion.quadrant(x, y) for x, y in zip(v, a)])


def scores(predict, feats, valence, arousal) -> dict:
    """Valence-sign, arousal-sign and quadrant accuracy of ``predict(features) -> (v, a)``."""
    pred = np.array([predict(f) for f in feats])
    v, a = np.asarray(valence, float), np.asarray(arousal, float)
    return {"valence": float(np.mean((pred[:, 0] >= 0) == (v >= 0))),
            "arousal": float(np.mean((pred[:, 1] >= 0) == (a >= 0))),
            "quadrant": float(np.mean(_quadrants(pred[:, 0], pred[:, 1]) == _quadrants(v, a)))}


def majority_scores(train_v, train_a, test_v, test_a) -> dict:
    """Accuracy on the test labels of always answering the training set's most common sign / quadrant."""
    sign = lambda y: np.asarray(y, float) >= 0  # noqa: E731
    mv, ma = Counter(sign(train_v)).most_common(1)[0][0], Counter(sign(train_a)).most_common(1)[0][0]
    mq = Counter(_quadrants(train_v, train_a)).most_common(1)[0][0]
    return {"valence": float(np.mean(sign(test_v) == mv)), "arousal": float(np.mean(sign(test_a) == ma)),
            "quadrant": float(np.mean(_quadrants(test_v, test_a) == mq))}


def cross_validate(feats, valence, arousal, folds: int = 5, seed: int = 0) -> dict:
    """``{'trained': {...}, 'majority': {...}}``: accuracies pooled over ``folds`` stratified folds."""
    from sklearn.model_selection import StratifiedKFold

    v, a = np.asarray(valence, float), np.asarray(arousal, float)
    q = _quadrants(v, a)
    smallest = min(Counter(q).values())
    k = max(2, min(folds, smallest)) if smallest >= 2 else 2
    strata = q if smallest >= k else (v >= 0)
    hits = {"trained": Counter(), "majority": Counter()}
    for train, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(v)), strata):
        model = fit([feats[i] for i in train], v[train], a[train])
        s = scores(model.predict, [feats[i] for i in test], v[test], a[test])
        m = majority_scores(v[train], a[train], v[test], a[test])
        for name, res in (("trained", s), ("majority", m)):
            for metric, acc in res.items():
                hits[name][metric] += acc * len(test)
    return {name: {m: c / len(v) for m, c in h.items()} for name, h in hits.items()} | {"folds": k}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="captune train-emotion",
                                     description="Fit an emotion model on captune's facts of a labelled set.")
    parser.add_argument("labels", help="CSV with path,valence,arousal or path,quadrant (paths relative to it)")
    parser.add_argument("--output", required=True, help="where to write the model (JSON)")
    parser.add_argument("--cv", type=int, default=0, help="K-fold cross-validation first (0: none; default 0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the folds (default %(default)s)")
    opts = parser.parse_args(argv)
    items = read_labels(opts.labels)
    print(f"captune train-emotion: {len(items)} labelled items in {opts.labels}")
    items, feats = feature_rows(items)
    if len(items) < 4:
        raise SystemExit("too few usable items to fit a model (need at least 4)")
    v = [i["valence"] for i in items]
    a = [i["arousal"] for i in items]
    if opts.cv > 1:
        res = cross_validate(feats, v, a, opts.cv, opts.seed)
        print(f"  {res['folds']}-fold cross-validation (stratified, seed {opts.seed}):")
        print("    accuracy        trained  majority")
        for metric in ("valence", "arousal", "quadrant"):
            print(f"    {metric + ' sign' if metric != 'quadrant' else 'quadrant':<15} "
                  f"{res['trained'][metric]:7.1%}  {res['majority'][metric]:8.1%}")
    model = fit(feats, v, a, name=os.path.splitext(os.path.basename(opts.output))[0],
                info={"trained_on": os.path.abspath(opts.labels), "items": len(items),
                      "valence_labels": "signs" if _is_signs(np.asarray(v)) else "continuous",
                      "arousal_labels": "signs" if _is_signs(np.asarray(a)) else "continuous"})
    train = scores(model.predict, feats, v, a)
    print(f"  training accuracy: valence {train['valence']:.1%}, arousal {train['arousal']:.1%}, "
          f"quadrant {train['quadrant']:.1%}")
    model.save(opts.output)
    print(f"  model written to {opts.output} (use: captune build ... --emotion-model {opts.output})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
