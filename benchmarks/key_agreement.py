"""Agreement of captune's MIDI key extractor with the keys annotated in DCML, POP909 and Nottingham.

For every profile in ``captune.extractors.midi.key.PROFILES`` with the default
start-and-end method, and for the default profile with the start weight alone
(the previous default: ``closing=0, final_bass_weight=0``) and with no weight
at all (the plain Krumhansl-Schmuckler sum), the key of each MIDI file is compared with the
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

DCML adds a table per sub-corpus (music21 on every movement) and the
sonata-form movements (J. C. Bach, C. P. E. Bach, Pleyel, Mendelssohn).
``key_changes`` are scored against the local key regions of DCML and POP909:
the key in force every 0.5 s, mir_eval weighted score, averaged over time
(duration-weighted), and the share of songs whose number of changes is within
one of the labels' (a region of the same key as the one before does not count
as a change); the baseline is the global key held throughout. Each piece is settled
as the pipeline settles it (``bar_inference.settle``) before ``key_changes``, whose
cadences must fall on its bar lines. The key step's
cost is timed on POP909 (global key, and key + key_changes), on the settled pieces too.

``--music21-corpus CACHE`` adds the unseen check on music21's bundled corpus
(``benchmarks/key_music21_corpus.py``: 45 movements with catalogue keys).

``--music21-cache FILE`` keeps music21's answers (JSON, path → key) across
runs: music21 takes about an hour on DCML.

References:

- DCML: ``dcml/items.jsonl`` (``key``, ``key_regions``), theorists' labels.
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
        [--music21-cache FILE] [--music21-corpus CACHE]
"""

import argparse
import json
import os
import random
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import mir_eval
import numpy as np
from music21 import converter

from captune.extractors.errors import BadInput
from captune.extractors.midi import from_midi_bytes
from captune.extractors.midi.bar_inference import settle
from captune.extractors.midi.key import CLOSING, DEFAULT_PROFILE, FINAL_BASS, OPENING, PROFILES, key
from captune.extractors.midi.key_changes import key_changes
from captune.extractors.pitch import key_name

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpora import (DEFAULT_CORPORA, Corpus, Item, dcml_corpus, dcml_rows, nottingham_corpus,  # noqa: E402
                     pop909_corpus, pop909_key_regions)
from key_music21_corpus import table as music21_corpus_table  # noqa: E402

UNKNOWN = "X"  # mir_eval's key for "no key": weighted score 0 against any reference
ERROR_KINDS = {1.0: "correct", 0.5: "fifth", 0.3: "relative", 0.2: "parallel", 0.0: "other"}
# A captune method: (profile, opening, closing, final-bass weight); opening None = every instant weighs alike.
DEFAULT_METHOD = (DEFAULT_PROFILE, OPENING, CLOSING, FINAL_BASS)
PREVIOUS_METHOD = (DEFAULT_PROFILE, OPENING, 0.0, 0.0)
METHODS = [(profile, OPENING, CLOSING, FINAL_BASS) for profile in PROFILES] + [PREVIOUS_METHOD,
                                                                               (DEFAULT_PROFILE, None, 0.0, 0.0)]
SONATA_CORPORA = ("jc_bach_sonatas", "cpe_bach_keyboard", "pleyel_quartets", "mendelssohn_quartets")
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
    parser.add_argument("--music21-corpus", default=None, metavar="CACHE",
                        help="add the unseen check on music21's bundled corpus (benchmarks/key_music21_corpus.py); "
                             "CACHE: pickle of its parsed scores")
    parser.add_argument("--music21-cache", default=None,
                        help="JSON file of music21 answers (path -> key), read and extended (default: none)")
    return parser.parse_args(argv)


# --- estimates --------------------------------------------------------------

def captune_keys(path: str, methods=METHODS) -> dict[tuple, str]:
    """method → captune's key of the MIDI file at ``path`` (``'X'`` when it gives none)."""
    with open(path, "rb") as fh:
        try:
            piece = from_midi_bytes(fh.read())
        except BadInput:
            return {method: UNKNOWN for method in methods}
    estimates = {method: key(piece, *method) for method in methods}
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
    """Table label of a captune method, marking the current default."""
    profile, opening, closing, final_bass = method
    weight = f"opening {opening:g}" if opening is not None else "uniform"
    ends = f", closing {closing:g}, final bass {final_bass:g}" if closing or final_bass else ""
    mark = " (default)" if method == DEFAULT_METHOD else " (previous default)" if method == PREVIOUS_METHOD else ""
    return f"captune {profile}, {weight}{ends}{mark}"


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
    methods = [(DEFAULT_PROFILE, opening, CLOSING, FINAL_BASS) for opening in TUNE_OPENINGS]
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


def music21_keys(paths: list[str], cache: str | None) -> list[str]:
    """music21's key of every path, from ``cache`` (JSON path -> key) where it has them; the
    rest computed on every core and added to the cache."""
    known = {}
    if cache and os.path.exists(cache):
        with open(cache) as fh:
            known = json.load(fh)
    missing = [p for p in dict.fromkeys(paths) if p not in known]
    with ProcessPoolExecutor() as pool:  # accuracy only: music21 may use every core
        known.update(zip(missing, pool.map(music21_key, missing, chunksize=4)))
    if cache and missing:
        with open(cache, "w") as fh:
            json.dump(known, fh)
    return [known[p] for p in paths]


def evaluate_corpus(corpus: Corpus, sample_size: int, seed: int, cache: str | None
                    ) -> tuple[dict[tuple, float], dict[tuple, list[float]], list[int], list[float]]:
    """Print both tables for one corpus; return (method → mean weighted score on all items,
    method → per-item scores, the sampled indices, music21's scores on them)."""
    per_item = [captune_keys(item.path) for item in corpus.items]
    captune = {method: [keys[method] for keys in per_item] for method in METHODS}
    chosen = sorted(random.Random(seed).sample(range(len(corpus.items)), min(sample_size, len(corpus.items))))
    sample = [corpus.items[i] for i in chosen]
    sample_captune = {method: [estimates[i] for i in chosen] for method, estimates in captune.items()}
    music21 = music21_keys([item.path for item in sample], cache)
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
    scores = {method: weighted_scores(corpus.items, estimates) for method, estimates in captune.items()}
    return means, scores, chosen, weighted_scores(sample, music21)


def subcorpus_table(corpus: Corpus, scores: dict[tuple, list[float]], chosen: list[int],
                    music21: list[float]) -> list[str]:
    """Markdown: DCML per sub-corpus (name before ``/``) and the sonata-form movements, captune's
    default and previous default beside music21 (on the sampled items of each group)."""
    m21 = dict(zip(chosen, music21))
    groups = {}
    for i, item in enumerate(corpus.items):
        sub = item.name.split("/")[0]
        groups.setdefault(sub, []).append(i)
        if sub in SONATA_CORPORA:
            groups.setdefault("sonata-form movements (J. C. Bach, C. P. E. Bach, Pleyel, Mendelssohn)", []).append(i)
    lines = ["| sub-corpus | movements | music21 | captune previous default | captune default |",
             "|---|---:|---:|---:|---:|"]
    for name, idx in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        sampled = [m21[i] for i in idx if i in m21]
        base = f"{np.mean(sampled):.3f}" + ("" if len(sampled) == len(idx) else f" ({len(sampled)})")
        lines.append(f"| {name} | {len(idx)} | {base if sampled else ''} | "
                     f"{np.mean([scores[PREVIOUS_METHOD][i] for i in idx]):.3f} | "
                     f"**{np.mean([scores[DEFAULT_METHOD][i] for i in idx]):.3f}** |")
    return lines


def _key_at(changes: list[tuple[float, str]], t: float) -> str:
    starts = [c[0] for c in changes]
    return changes[max(int(np.searchsorted(starts, t, side="right")) - 1, 0)][1]


def _changes(regions: list[tuple[float, str]]) -> int:
    return sum(a[1] != b[1] for a, b in zip(regions, regions[1:]))


def key_changes_rows(title: str, items: list[tuple[str, list, float]], step_s: float = 0.5) -> list[str]:
    """Markdown rows: ``key_changes`` (and the global key held throughout) against the regions of
    ``items`` = [(path, [(start_s, key), ...], duration_s)]: the time-averaged weighted score
    (all, even and odd items) and the share with the number of changes within one."""
    totals = {"key_changes": [[], []], "global key held throughout": [[], []]}
    within = {name: [] for name in totals}
    for n, (path, regions, duration_s) in enumerate(items):
        with open(path, "rb") as fh:
            piece, _ = settle(from_midi_bytes(fh.read()))  # as the pipeline does: the cadences need its bar lines
        home = key(piece)
        home = home["key"] if home else UNKNOWN
        found = {"key_changes": [(c["time_s"], c["key"]) for c in key_changes(piece, home)] or [(0.0, UNKNOWN)],
                 "global key held throughout": [(0.0, home)]}
        times = np.arange(0.0, duration_s, step_s)
        for name, changes in found.items():
            totals[name][n % 2] += [mir_eval.key.weighted_score(_key_at(regions, t), _key_at(changes, t))
                                    if _key_at(changes, t) != UNKNOWN else 0.0 for t in times]
            within[name].append(abs(_changes(changes) - _changes(regions)) <= 1)
    lines = []
    for name in totals:
        even, odd = totals[name]
        lines.append(f"| {title} | {name} | {np.mean(even + odd):.3f} | {np.mean(even):.3f} | {np.mean(odd):.3f} "
                     f"| {np.mean(within[name]):.1%} |")
    return lines


def key_changes_table(corpora: str) -> list[str]:
    """Markdown: ``key_changes`` against DCML's and POP909's key regions (see module doc)."""
    dcml = [(row["path"], [(r[0], r[2]) for r in row["key_regions"]], row["duration_s"]) for row in dcml_rows(corpora)]
    pop = []
    for item in pop909_corpus(corpora).items:
        regions = pop909_key_regions(os.path.dirname(item.path))
        pop.append((item.path, [(r[0], r[2]) for r in regions], regions[-1][1]))
    return ["| corpus | estimate | weighted score over time | even items | odd items | changes within ±1 |",
            "|---|---|---:|---:|---:|---:|", *key_changes_rows("DCML (local key regions)", dcml),
            *key_changes_rows("POP909 (key_audio.txt)", pop)]


def timing_table(corpus: Corpus) -> list[str]:
    """Markdown: milliseconds per piece of the key step on parsed and settled pieces, as a build calls
    it (previous default, default, default + key_changes), best of three passes."""
    pieces = []
    for item in corpus.items:
        with open(item.path, "rb") as fh:
            pieces.append(settle(from_midi_bytes(fh.read()))[0])
    steps = {"previous default key": lambda p: key(p, *PREVIOUS_METHOD),
             "default key": lambda p: key(p),
             "default key + key_changes": lambda p: key_changes(p, (key(p) or {}).get("key"))}
    lines = ["| step | ms per piece |", "|---|---:|"]
    for name, step in steps.items():
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for piece in pieces:
                step(piece)
            best = min(best, (time.perf_counter() - t0) / len(pieces))
        lines.append(f"| {name} | {best * 1e3:.3f} |")
    return lines


def ends_tune_table(corpora: list[Corpus]) -> list[str]:
    """Markdown: CLOSING x FINAL_BASS on the even and odd items of every corpus."""
    methods = [(DEFAULT_PROFILE, OPENING, c, b) for c in (0.0, 0.25, 0.5) for b in (0.0, 0.05, 0.1, 0.15, 0.2)]
    half = {}
    for c, corpus in enumerate(corpora):
        per_item = [captune_keys(item.path, methods) for item in corpus.items]
        for method in methods:
            half[method, c] = halves(corpus.items, [keys[method] for keys in per_item])
    names = [corpus.title.split(" (")[0] for corpus in corpora]
    lines = ["| closing | final bass | " + " | ".join(f"{n} even | {n} odd" for n in names) + " | mean of evens |",
             "|---:|---:|" + "---:|---:|" * len(corpora) + "---:|"]
    for method in methods:
        lines.append(f"| {method[2]:g} | {method[3]:g} | " + " | ".join(
            f"{half[method, c][0]:.3f} | {half[method, c][1]:.3f}" for c in range(len(corpora)))
            + f" | {np.mean([half[method, c][0] for c in range(len(corpora))]):.3f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    corpora = [dcml_corpus(args.corpora), pop909_corpus(args.corpora), nottingham_corpus(args.corpora)]
    for corpus in corpora:
        if not corpus.items:
            raise SystemExit(f"no items for {corpus.title} under {args.corpora}")
    results = [evaluate_corpus(corpus, len(corpus.items) if c == 0 else args.sample, args.seed, args.music21_cache)
               for c, corpus in enumerate(corpora)]
    means = [r[0] for r in results]
    print("## DCML by sub-corpus (music21 on every movement)\n")
    print("\n".join(subcorpus_table(corpora[0], *results[0][1:])))
    overall = {method: sum(m[method] for m in means) / len(means) for method in METHODS}
    print("\n## Overall (mean of the per-corpus weighted scores, all items)\n")
    print("| method | " + " | ".join(c.title.split(" (")[0] for c in corpora) + " | mean |")
    print("|---|" + "---:|" * (len(corpora) + 1))
    for method in sorted(overall, key=overall.get, reverse=True):
        print(f"| {method_label(method)} | " + " | ".join(f"{m[method]:.3f}" for m in means)
              + f" | {overall[method]:.3f} |")
    best = max(overall, key=overall.get)
    print(f"\nBest method overall: {method_label(best)} (mean weighted score {overall[best]:.3f}).")
    print("\n## key_changes against labelled key regions\n")
    print("\n".join(key_changes_table(args.corpora)))
    print("\n## Cost of the key step (POP909 songs, parsed)\n")
    print("\n".join(timing_table(corpora[1])))
    if args.music21_corpus:
        print("\n## Unseen: music21's bundled corpus (catalogue keys of movements)\n")
        print("\n".join(music21_corpus_table(args.music21_corpus)))
    if args.tune:
        print("\n## Choosing the opening time constant\n")
        print("\n".join(tune_tables(corpora[1:])))
        print("\n## Choosing the closing and final-bass weights\n")
        print("\n".join(ends_tune_table(corpora)))
    print(f"\nReproduce: python benchmarks/key_agreement.py --corpora {shlex.quote(args.corpora)} "
          f"--sample {args.sample} --seed {args.seed}" + (" --tune" if args.tune else "")
          + (f" --music21-cache {shlex.quote(args.music21_cache)}" if args.music21_cache else "")
          + (f" --music21-corpus {shlex.quote(args.music21_corpus)}" if args.music21_corpus else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
