"""Agreement of captune's MIDI key extractor with the keys annotated in POP909 and Nottingham.

For every profile in ``captune.extractors.midi.key.PROFILES``, with the opening
weight (``opening=OPENING``, the default) and without it (``opening=None``, the
plain Krumhansl-Schmuckler sum), the key of each MIDI file is compared with the
annotation by ``mir_eval.key.evaluate``; the tables give the mean MIREX weighted
score (1 same key, 0.5 a fifth away, 0.3 relative, 0.2 parallel, 0 otherwise)
and the exact accuracy (share of weighted score 1). music21's
``analyze('key')`` is the baseline, measured on a random sample (the same songs
for every row of that table; run on every core, since only its answers count
here; the last column counts the sampled items where captune scores higher /
lower than music21); captune is also measured on every item.

``--tune`` adds the sweep that chose ``OPENING``: the default profile with
every candidate time constant, scored on the even- and odd-numbered items of
each corpus (item order as listed), and two-fold cross-validation: the value
best on one half (mean over both corpora) scored on the other half.

References:

- POP909: ``POP909/NNN/NNN.mid`` (the 909 songs, not the versions) against the
  first region of ``key_audio.txt`` (``start end Tonic:maj|min``). These labels
  came from an algorithm checked by the authors: a sanity figure, not truth.
- Nottingham: ``MIDI/<book><X>.mid`` (full tune, melody + chords) against the
  first ``K:`` field of tune ``X:`` in ``ABC_cleaned/<book>.abc``. ``K:G`` is
  G major, ``K:Em`` E minor (``maj``/``ion`` and ``min``/``aeo`` are spelled out
  the same way). Modal keys (``dor``, ``mix``, ``lyd``, ``phr``, ``loc``) are
  skipped: a Dorian tune is neither its relative major nor its parallel minor,
  so no major/minor reference would be fair; the number skipped is printed.

    python benchmarks/key_agreement.py [--corpora /work/shared/corpora] [--sample 200] [--seed 0] [--tune]
"""

import argparse
import os
import random
import shlex
import sys
from concurrent.futures import ProcessPoolExecutor

import mir_eval
from music21 import converter

from captune.extractors.errors import BadInput
from captune.extractors.midi import from_midi_bytes
from captune.extractors.midi.key import DEFAULT_PROFILE, OPENING, PROFILES, key
from captune.extractors.pitch import key_name

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpora import DEFAULT_CORPORA, Corpus, Item, nottingham_corpus, pop909_corpus  # noqa: E402

UNKNOWN = "X"  # mir_eval's key for "no key": weighted score 0 against any reference
ERROR_KINDS = {1.0: "correct", 0.5: "fifth", 0.3: "relative", 0.2: "parallel", 0.0: "other"}
# A captune method: (profile, opening); opening None = every instant weighs alike.
METHODS = [(profile, opening) for profile in PROFILES for opening in (OPENING, None)]
DEFAULT_METHOD = (DEFAULT_PROFILE, OPENING)
TUNE_OPENINGS = (0.1, 0.15, 0.2, 0.25, 0.35, 0.5, 0.7, 1.0, None)  # candidates of --tune


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line flags (sample size in items)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default=DEFAULT_CORPORA,
                        help="folder holding pop909/ and nottingham/ (default %(default)s)")
    parser.add_argument("--sample", type=int, default=200,
                        help="items per corpus compared with music21 (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random sample (default %(default)s)")
    parser.add_argument("--tune", action="store_true",
                        help="also print the even/odd sweep of the opening time constant")
    return parser.parse_args(argv)


# --- estimates --------------------------------------------------------------

def captune_keys(path: str, methods=METHODS) -> dict[tuple, str]:
    """(profile, opening) → captune's key of the MIDI file at ``path`` (``'X'`` when it gives none)."""
    with open(path, "rb") as fh:
        try:
            piece = from_midi_bytes(fh.read())
        except BadInput:
            return {method: UNKNOWN for method in methods}
    estimates = {(profile, opening): key(piece, profile, opening) for profile, opening in methods}
    return {method: e["key"] if e else UNKNOWN for method, e in estimates.items()}


def music21_key(path: str) -> str:
    """music21's ``analyze('key')`` of the file in mir_eval form (``'E-'`` → ``'Eb'``); ``'X'`` if it fails.

    Tonics mir_eval cannot name (``Cb``, ``E#``, double accidentals) are respelled from their pitch class.
    """
    try:
        estimate = converter.parse(path, forceSource=True, storePickle=False).analyze("key")
    except Exception:  # a file music21 cannot read gets no key, as in a real run
        return UNKNOWN
    tonic = estimate.tonic.name.replace("-", "b")
    if tonic.lower() not in mir_eval.key.KEY_TO_SEMITONE:
        return key_name(estimate.tonic.pitchClass, estimate.mode)
    return f"{tonic} {estimate.mode}"


# --- scoring ----------------------------------------------------------------

def weighted_scores(items: list[Item], estimates: list[str]) -> list[float]:
    """mir_eval weighted score (0-1) of each estimate against its item's reference."""
    return [mir_eval.key.evaluate(item.reference, est)["Weighted Score"] for item, est in zip(items, estimates)]


def summary(scores: list[float]) -> dict[str, float]:
    """Mean weighted score and the share (0-1) of each outcome (correct, fifth, relative, parallel, other)."""
    shares = {kind: 0.0 for kind in ERROR_KINDS.values()}
    for s in scores:
        shares[ERROR_KINDS[round(s, 1)]] += 1 / len(scores)
    return {"weighted": sum(scores) / len(scores), **shares}


def method_label(method: tuple) -> str:
    """Table label of a captune (profile, opening) method, marking the current default."""
    profile, opening = method
    weight = f"opening {opening:g}" if opening is not None else "uniform"
    return f"captune {profile}, {weight}" + (" (default)" if method == DEFAULT_METHOD else "")


def sample_table(items: list[Item], captune: dict[tuple, list[str]], music21: list[str]) -> list[str]:
    """Markdown rows: music21 (baseline) and every captune method on the same sampled items."""
    base_scores = weighted_scores(items, music21)
    base = summary(base_scores)
    lines = [f"Sample of {len(items)} (same items in every row):", "",
             "| method | weighted score | exact | weighted vs music21 | items better / worse than music21 |",
             "|---|---:|---:|---:|---:|",
             f"| music21 analyze('key') (baseline) | {base['weighted']:.3f} | {base['correct']:.1%} | 1.00x | |"]
    for method, estimates in captune.items():
        scores = weighted_scores(items, estimates)
        s = summary(scores)
        better = sum(a > b for a, b in zip(scores, base_scores))
        worse = sum(a < b for a, b in zip(scores, base_scores))
        lines.append(f"| {method_label(method)} | {s['weighted']:.3f} | {s['correct']:.1%} | "
                     f"{s['weighted'] / base['weighted']:.2f}x | {better} / {worse} |")
    return lines


def full_table(items: list[Item], captune: dict[tuple, list[str]]) -> tuple[list[str], dict[tuple, float]]:
    """(markdown rows for every captune method on all items, method → mean weighted score)."""
    lines = [f"All {len(items)} items (captune only; error shares as in MIREX):", "",
             "| method | weighted score | exact | fifth | relative | parallel | other |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    means = {}
    for method, estimates in captune.items():
        s = summary(weighted_scores(items, estimates))
        means[method] = s["weighted"]
        lines.append(f"| {method_label(method)} | {s['weighted']:.3f} | {s['correct']:.1%} | {s['fifth']:.1%} | "
                     f"{s['relative']:.1%} | {s['parallel']:.1%} | {s['other']:.1%} |")
    return lines, means


def halves(items: list[Item], estimates: list[str]) -> tuple[float, float]:
    """Mean weighted score on the even- and on the odd-numbered items."""
    scores = weighted_scores(items, estimates)
    return tuple(sum(scores[parity::2]) / len(scores[parity::2]) for parity in (0, 1))


def tune_tables(corpora: list[Corpus]) -> list[str]:
    """Markdown: the default profile with every opening of ``TUNE_OPENINGS`` on the even / odd
    halves of each corpus, then two-fold cross-validation of the choice."""
    methods = [(DEFAULT_PROFILE, opening) for opening in TUNE_OPENINGS]
    half_means = {}  # (method, corpus index) -> (even, odd)
    for c, corpus in enumerate(corpora):
        per_item = [captune_keys(item.path, methods) for item in corpus.items]
        for method in methods:
            half_means[method, c] = halves(corpus.items, [keys[method] for keys in per_item])
    names = [corpus.title.split(" (")[0] for corpus in corpora]
    lines = [f"Opening sweep ({DEFAULT_PROFILE}; weighted score on even / odd items):", "",
             "| opening | " + " | ".join(f"{n} even | {n} odd" for n in names) + " |",
             "|---|" + "---:|---:|" * len(corpora)]
    for method in methods:
        lines.append(f"| {method_label(method).split(', ', 1)[1]} | " + " | ".join(
            f"{half_means[method, c][0]:.3f} | {half_means[method, c][1]:.3f}" for c in range(len(corpora))) + " |")
    lines += ["", "Two-fold cross-validation (opening chosen on one half by the mean over corpora, "
              "scored on the other):", "",
              "| tuned on | chosen opening | " + " | ".join(f"{n} held out" for n in names) + " |",
              "|---|---|" + "---:|" * len(corpora)]
    held_out = []
    for train, test, label in ((0, 1, "even"), (1, 0, "odd")):
        best = max(methods, key=lambda m: sum(half_means[m, c][train] for c in range(len(corpora))))
        held_out.append([half_means[best, c][test] for c in range(len(corpora))])
        lines.append(f"| {label} | {method_label(best).split(', ', 1)[1]} | "
                     + " | ".join(f"{v:.3f}" for v in held_out[-1]) + " |")
    lines.append("| mean of the held-out halves | | "
                 + " | ".join(f"{(a + b) / 2:.3f}" for a, b in zip(*held_out)) + " |")
    return lines


def evaluate_corpus(corpus: Corpus, sample_size: int, seed: int) -> dict[tuple, float]:
    """Print both tables for one corpus; return method → mean weighted score on all items."""
    per_item = [captune_keys(item.path) for item in corpus.items]
    captune = {method: [keys[method] for keys in per_item] for method in METHODS}
    chosen = sorted(random.Random(seed).sample(range(len(corpus.items)), min(sample_size, len(corpus.items))))
    sample = [corpus.items[i] for i in chosen]
    sample_captune = {method: [estimates[i] for i in chosen] for method, estimates in captune.items()}
    with ProcessPoolExecutor() as pool:  # accuracy only: music21 may use every core
        music21 = list(pool.map(music21_key, [item.path for item in sample], chunksize=4))
    no_key = sum(keys[DEFAULT_METHOD] == UNKNOWN for keys in per_item)
    skipped = ", ".join(f"{n} {why}" for why, n in corpus.skipped.items()) or "none"
    full_lines, means = full_table(corpus.items, captune)
    print(f"## Key agreement: {corpus.title}\n")
    print(f"{len(corpus.items)} items; skipped: {skipped}; captune gave no key for {no_key}; "
          f"music21 gave no key for {music21.count(UNKNOWN)} of the sample.\n")
    print("\n".join(sample_table(sample, sample_captune, music21)))
    print()
    print("\n".join(full_lines))
    print()
    return means


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    corpora = [pop909_corpus(args.corpora), nottingham_corpus(args.corpora)]
    for corpus in corpora:
        if not corpus.items:
            raise SystemExit(f"no items for {corpus.title} under {args.corpora}")
    means = [evaluate_corpus(corpus, args.sample, args.seed) for corpus in corpora]
    overall = {method: sum(m[method] for m in means) / len(means) for method in METHODS}
    print("## Overall (mean of the per-corpus weighted scores, all items)\n")
    print("| method | " + " | ".join(c.title.split(" (")[0] for c in corpora) + " | mean |")
    print("|---|" + "---:|" * (len(corpora) + 1))
    for method in sorted(overall, key=overall.get, reverse=True):
        print(f"| {method_label(method)} | " + " | ".join(f"{m[method]:.3f}" for m in means)
              + f" | {overall[method]:.3f} |")
    best = max(overall, key=overall.get)
    print(f"\nBest method overall: {method_label(best)} (mean weighted score {overall[best]:.3f}).")
    if args.tune:
        print("\n## Choosing the opening time constant\n")
        print("\n".join(tune_tables(corpora)))
    print(f"\nReproduce: python benchmarks/key_agreement.py --corpora {shlex.quote(args.corpora)} "
          f"--sample {args.sample} --seed {args.seed}" + (" --tune" if args.tune else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
