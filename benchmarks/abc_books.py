"""ABC tune books end to end: ``captune build`` on Nottingham's 14 ABC books (1,034 tunes).

Measured in one run:

- captune: ``captune.pipelines.build.run`` on ``nottingham/ABC_cleaned/*.abc``
  (DirectRunner, every core); each book is cut into tunes, each tune one row.
  Reported: tunes in the books (``X:`` lines), rows, failures by reason, and
  for every row the agreement of its facts with the tune's own fields: key vs
  the first ``K:`` (mir_eval weighted score; modal tunes skipped), time
  signature vs the first ``M:`` (``C`` = 4/4, ``C|`` = 2/2; exact).
- baseline: what a script without captune does with a book: music21 parses the
  whole book (``converter.parse``, an Opus) and runs ``analyze('key')`` on each
  tune, in one process, on every book (or the ``--baseline-books`` smallest).

Speed per core is tunes/s divided by the cores used (``os.cpu_count()`` for
captune, 1 for the baseline).

    python benchmarks/abc_books.py [--corpora /work/shared/corpora] [--baseline-books N]
"""

import argparse
import glob
import os
import sys
import tempfile
import time
from collections import Counter

import mir_eval
from corpora import DEFAULT_CORPORA, abc_first_keys, abc_key_to_mir

from captune.extractors.score import abc_tunes
from captune.pipelines import build
from captune.schemas import load

ABC_METERS = {"C": "4/4", "C|": "2/2"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default=DEFAULT_CORPORA, help="folder holding nottingham/ (default %(default)s)")
    parser.add_argument("--baseline-books", type=int, default=None,
                        help="the baseline parses only this many of the smallest books (default: every book)")
    return parser.parse_args(argv)


def first_field(text: str, field: str) -> str | None:
    """The value of the first ``field:`` line (``'M'``, ``'K'``) of one tune's ABC text."""
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return line[len(field) + 1:].strip()
    return None


def agreement(rows: list[dict]) -> dict:
    """Key (mir_eval weighted, modal tunes skipped) and meter (exact) of rows against their own ABC."""
    keys, meters = [], []
    for row in rows:
        text = row["media"]["bytes"].decode("utf-8", errors="replace")
        reference = abc_key_to_mir(first_field(text, "K") or "")
        if reference is not None and row["key"] is not None:
            keys.append(mir_eval.key.weighted_score(reference, row["key"]))
        meter = first_field(text, "M")
        if meter is not None:
            meters.append(ABC_METERS.get(meter, meter) == row["time_signature"])
    return {"key_items": len(keys), "key_weighted": sum(keys) / len(keys),
            "key_exact": sum(k == 1.0 for k in keys) / len(keys),
            "meter_items": len(meters), "meter_exact": sum(meters) / len(meters)}


def captune_run(books: list[str]) -> tuple[float, dict, list[dict]]:
    """(wall seconds, manifest, original rows) of one build of the books."""
    with tempfile.TemporaryDirectory(prefix="captune-abc-") as out:
        started = time.perf_counter()
        manifest = build.run([a for b in books for a in ("--input", b)] + ["--output", out])
        wall = time.perf_counter() - started
        rows = [r for r in load(out).to_pylist() if r["variant"]["kind"] == "original"]
    return wall, manifest, rows


def baseline_run(books: list[str]) -> tuple[float, int, list[float]]:
    """(seconds, tunes, mir_eval weighted key scores against the first ``K:``, modal tunes skipped) for
    music21 parsing each whole book and analysing every tune's key, one process."""
    from music21 import converter

    started, tunes, estimates = time.perf_counter(), 0, []
    for book in books:
        for score in converter.parse(book, forceSource=True).scores:
            found = score.analyze("key")
            estimates.append((book, score.metadata.number, f"{found.tonic.name.replace('-', 'b')} {found.mode}"))
            tunes += 1
    seconds = time.perf_counter() - started
    references = {}
    for book in books:
        with open(book, encoding="utf-8", errors="replace") as fh:
            references.update({(book, str(n)): abc_key_to_mir(k) for n, k in abc_first_keys(fh.read()).items()})
    scores = [mir_eval.key.weighted_score(references[(b, str(n))], est) for b, n, est in estimates
              if references.get((b, str(n))) is not None]
    return seconds, tunes, scores


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    books = sorted(glob.glob(os.path.join(args.corpora, "nottingham", "ABC_cleaned", "*.abc")))
    in_books = {b: len(abc_tunes(open(b, "rb").read())) for b in books}
    small = sorted(books, key=lambda b: in_books[b])[:args.baseline_books]
    base_s, base_tunes, base_keys = baseline_run(small)
    wall, manifest, rows = captune_run(books)
    counts, cores = manifest["counts"], os.cpu_count() or 1
    base_rate = base_tunes / base_s
    rate = len(rows) / wall
    print(f"Nottingham ABC: {len(books)} books, {sum(in_books.values())} tunes; "
          f"{counts['rows']} rows, failures {dict(Counter(counts['failures_by_reason']))}\n")
    print("| method | tunes | cores | wall s | tunes/s per core | vs baseline |")
    print("|---|---:|---:|---:|---:|---:|")
    which = "every book" if len(small) == len(books) else f"{len(small)} smallest books"
    print(f"| music21 parse book + analyze('key') per tune, 1 process ({which}) | {base_tunes} | 1 "
          f"| {base_s:.1f} | {base_rate:.2f} | 1.0x (baseline) |")
    print(f"| captune build, every book | {len(rows)} | {cores} | {wall:.1f} | {rate / cores:.2f} "
          f"| {rate / cores / base_rate:.1f}x |\n")
    a = agreement(rows)
    print("| fact vs the tune's own field | tunes | captune | music21 `analyze('key')` (baseline) |")
    print("|---|---:|---:|---:|")
    print(f"| key vs first K: (mir_eval weighted / exact; modal skipped) | {a['key_items']} / {len(base_keys)} "
          f"| {a['key_weighted']:.3f} / {a['key_exact']:.3f} "
          f"| {sum(base_keys) / len(base_keys):.3f} / {sum(k == 1.0 for k in base_keys) / len(base_keys):.3f} |")
    print(f"| time signature vs first M: (exact) | {a['meter_items']} | {a['meter_exact']:.3f} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
