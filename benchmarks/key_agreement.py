"""Agreement of captune's MIDI key extractor with the keys annotated in POP909 and Nottingham.

For every profile in ``captune.extractors.midi.key.PROFILES`` the key of each
MIDI file is compared with the annotation by ``mir_eval.key.evaluate``; the
tables give the mean MIREX weighted score (1 same key, 0.5 a fifth away, 0.3
relative, 0.2 parallel, 0 otherwise) and the exact accuracy (share of weighted
score 1). music21's ``analyze('key')`` is the baseline, measured on a random
sample (the same songs for every row of that table; run on every core, since
only its answers count here); captune is also measured on every item.

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

    python benchmarks/key_agreement.py [--corpora /work/shared/corpora] [--sample 200] [--seed 0]
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
from captune.extractors.midi.key import DEFAULT_PROFILE, PROFILES, key
from captune.extractors.pitch import key_name

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpora import DEFAULT_CORPORA, Corpus, Item, nottingham_corpus, pop909_corpus  # noqa: E402

UNKNOWN = "X"  # mir_eval's key for "no key": weighted score 0 against any reference
ERROR_KINDS = {1.0: "correct", 0.5: "fifth", 0.3: "relative", 0.2: "parallel", 0.0: "other"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line flags (sample size in items)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default=DEFAULT_CORPORA,
                        help="folder holding pop909/ and nottingham/ (default %(default)s)")
    parser.add_argument("--sample", type=int, default=200,
                        help="items per corpus compared with music21 (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random sample (default %(default)s)")
    return parser.parse_args(argv)


# --- estimates --------------------------------------------------------------

def captune_keys(path: str) -> dict[str, str]:
    """Profile → captune's key of the MIDI file at ``path`` (``'X'`` when it gives none)."""
    with open(path, "rb") as fh:
        try:
            piece = from_midi_bytes(fh.read())
        except BadInput:
            return {profile: UNKNOWN for profile in PROFILES}
    estimates = {profile: key(piece, profile) for profile in PROFILES}
    return {profile: e["key"] if e else UNKNOWN for profile, e in estimates.items()}


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


def profile_label(profile: str) -> str:
    """Table label of a captune profile, marking the current default."""
    return f"captune {profile}" + (" (default)" if profile == DEFAULT_PROFILE else "")


def sample_table(items: list[Item], captune: dict[str, list[str]], music21: list[str]) -> list[str]:
    """Markdown rows: music21 (baseline) and every captune profile on the same sampled items."""
    base = summary(weighted_scores(items, music21))
    lines = [f"Sample of {len(items)} (same items in every row):", "",
             "| method | weighted score | exact | weighted vs music21 |", "|---|---:|---:|---:|",
             f"| music21 analyze('key') (baseline) | {base['weighted']:.3f} | {base['correct']:.1%} | 1.00x |"]
    for profile, estimates in captune.items():
        s = summary(weighted_scores(items, estimates))
        lines.append(f"| {profile_label(profile)} | {s['weighted']:.3f} | {s['correct']:.1%} | "
                     f"{s['weighted'] / base['weighted']:.2f}x |")
    return lines


def full_table(items: list[Item], captune: dict[str, list[str]]) -> tuple[list[str], dict[str, float]]:
    """(markdown rows for every captune profile on all items, profile → mean weighted score)."""
    lines = [f"All {len(items)} items (captune only; error shares as in MIREX):", "",
             "| method | weighted score | exact | fifth | relative | parallel | other |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    means = {}
    for profile, estimates in captune.items():
        s = summary(weighted_scores(items, estimates))
        means[profile] = s["weighted"]
        lines.append(f"| {profile_label(profile)} | {s['weighted']:.3f} | {s['correct']:.1%} | {s['fifth']:.1%} | "
                     f"{s['relative']:.1%} | {s['parallel']:.1%} | {s['other']:.1%} |")
    return lines, means


def evaluate_corpus(corpus: Corpus, sample_size: int, seed: int) -> dict[str, float]:
    """Print both tables for one corpus; return profile → mean weighted score on all items."""
    per_item = [captune_keys(item.path) for item in corpus.items]
    captune = {profile: [keys[profile] for keys in per_item] for profile in PROFILES}
    chosen = sorted(random.Random(seed).sample(range(len(corpus.items)), min(sample_size, len(corpus.items))))
    sample = [corpus.items[i] for i in chosen]
    sample_captune = {profile: [estimates[i] for i in chosen] for profile, estimates in captune.items()}
    with ProcessPoolExecutor() as pool:  # accuracy only: music21 may use every core
        music21 = list(pool.map(music21_key, [item.path for item in sample], chunksize=4))
    no_key = sum(keys[DEFAULT_PROFILE] == UNKNOWN for keys in per_item)
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
    overall = {profile: sum(m[profile] for m in means) / len(means) for profile in PROFILES}
    print("## Overall (mean of the per-corpus weighted scores, all items)\n")
    print("| profile | " + " | ".join(c.title.split(" (")[0] for c in corpora) + " | mean |")
    print("|---|" + "---:|" * (len(corpora) + 1))
    for profile in sorted(overall, key=overall.get, reverse=True):
        print(f"| {profile_label(profile)} | " + " | ".join(f"{m[profile]:.3f}" for m in means)
              + f" | {overall[profile]:.3f} |")
    best = max(overall, key=overall.get)
    print(f"\nBest profile overall: {best} (mean weighted score {overall[best]:.3f}).")
    print(f"\nReproduce: python benchmarks/key_agreement.py --corpora {shlex.quote(args.corpora)} "
          f"--sample {args.sample} --seed {args.seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
