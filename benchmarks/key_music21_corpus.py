"""Unseen check of the global key on music21's bundled corpus: movements whose key the catalogue states.

music21's corpus has no key field and its titles name the work's key, not the
movement's (op. 18/1's slow movement is in D minor under a title "in F Major"),
so the references below are the catalogue keys of each movement (the work's
title key for outer movements and minuets; the published key of slow
movements), listed by hand; movements whose key is in doubt (op. 41/1's
movements split across five files, Clara Schumann's polonaises, C. P. E.
Bach's H. 186/2) are left out. Handel's "Lascia ch'io pianga" (F major in
Rinaldo) is in D major here: the file is a transposed edition (two sharps, and
three for its A major passages). Each score is read by captune as a user's file
would be (``load_symbolic``, no duration limit: a refusal for length is not a
key error); a score the reader refuses counts as no key (weighted score 0) and
is listed. music21's ``analyze('key')`` on the same parsed scores is the
baseline, and every key profile and the earlier methods are scored in the same run.

    python benchmarks/key_music21_corpus.py [--cache /tmp/you/m21corpus.pkl]
"""

import argparse
import os
import pickle
import sys

import mir_eval
from music21 import corpus

from captune.extractors.analyze import load_symbolic
from captune.extractors.midi.key import PROFILES, key

REFERENCES = {
    "beethoven/opus18no1/movement1.mxl": "F major", "beethoven/opus18no1/movement2.mxl": "D minor",
    "beethoven/opus18no1/movement3.mxl": "F major", "beethoven/opus18no1/movement4.mxl": "F major",
    "beethoven/opus59no1/movement1.mxl": "F major", "beethoven/opus59no1/movement2.mxl": "Bb major",
    "beethoven/opus59no1/movement3.mxl": "F minor", "beethoven/opus59no1/movement4.mxl": "F major",
    "beethoven/opus59no2/movement1.mxl": "E minor", "beethoven/opus59no2/movement2.mxl": "E major",
    "beethoven/opus59no2/movement3.mxl": "E minor", "beethoven/opus59no2/movement4.mxl": "E minor",
    "beethoven/opus59no3/movement1.mxl": "C major", "beethoven/opus59no3/movement2.mxl": "A minor",
    "beethoven/opus59no3/movement3.mxl": "C major", "beethoven/opus59no3/movement4.mxl": "C major",
    "beethoven/opus133.mxl": "Bb major",
    "haydn/opus1no1/movement1.mxl": "Bb major", "haydn/opus1no1/movement2.mxl": "Bb major",
    "haydn/opus1no1/movement3.mxl": "Eb major", "haydn/opus1no1/movement4.mxl": "Bb major",
    "haydn/opus1no1/movement5.mxl": "Bb major",
    "haydn/opus74no1/movement1.mxl": "C major", "haydn/opus74no1/movement2.mxl": "G major",
    "haydn/opus74no1/movement3.mxl": "C major", "haydn/opus74no1/movement4.mxl": "C major",
    "mozart/k80/movement1.mxl": "G major", "mozart/k80/movement2.mxl": "G major",
    "mozart/k80/movement3.mxl": "G major", "mozart/k80/movement4.mxl": "G major",
    "mozart/k155/movement1.mxl": "D major", "mozart/k155/movement2.mxl": "A major",
    "mozart/k155/movement3.mxl": "D major", "mozart/k156/movement1.mxl": "G major",
    "mozart/k458/movement1.mxl": "Bb major", "mozart/k458/movement2.mxl": "Bb major",
    "mozart/k458/movement3.mxl": "Eb major", "mozart/k458/movement4.mxl": "Bb major",
    "mozart/k545/movement1_exposition.mxl": "C major",
    "chopin/mazurka06-2.krn": "C# minor", "corelli/opus3no1/1grave.xml": "F major",
    "handel/rinaldo/Lascia_chio_pianga.mxl": "D major", "joplin/maple_leaf_rag.mxl": "Ab major",
    "schubert/Lindenbaum.xml": "E major", "schumann_robert/dichterliebe_no2.xml": "A major",
}
UNKNOWN = "X"
METHODS = {"captune (default)": {}, "opening only (previous)": {"closing": 0, "final_bass_weight": 0},
           "plain duration sum": {"opening": None, "closing": 0, "final_bass_weight": 0},
           **{f"profile {p}": {"profile": p} for p in PROFILES if p != "albrecht"}}


def load(name: str):
    """(piece or None, refusal reason or '', music21's key) of a corpus work."""
    path = str(corpus.getWork(name))
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        piece, reason = load_symbolic(data, os.path.basename(path), float("inf"))[1], ""
    except Exception as exc:  # a refused score gets no key, as in a real run
        piece, reason = None, str(exc)[:70]
    estimate = corpus.parse(name).analyze("key")
    return piece, reason, f"{estimate.tonic.name.replace('-', 'b')} {estimate.mode}"


def table(cache: str | None = None) -> list[str]:
    """Markdown lines: every movement's keys, then the mean weighted score of each method;
    ``cache``: a pickle of the parsed scores, written on the first run and read after."""
    if cache and os.path.exists(cache):
        with open(cache, "rb") as fh:
            loaded = pickle.load(fh)
    else:
        loaded = {name: load(name) for name in REFERENCES}
        if cache:
            with open(cache, "wb") as fh:
                pickle.dump(loaded, fh)
    score = mir_eval.key.weighted_score
    columns = {"music21 analyze('key')": [m21 for _, _, m21 in loaded.values()]}
    for label, kwargs in METHODS.items():
        columns[label] = [(key(p, **kwargs) or {"key": UNKNOWN})["key"] if p is not None else UNKNOWN
                          for p, _, _ in loaded.values()]
    lines = ["| movement | reference | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for i, (name, ref) in enumerate(REFERENCES.items()):
        lines.append(f"| {name} | {ref} | " + " | ".join(f"{c[i]} ({score(ref, c[i]):g})" for c in columns.values())
                     + " |")
    keyed = [i for i, (p, _, _) in enumerate(loaded.values()) if p is not None]
    lines += ["", f"| method | all {len(REFERENCES)} (refused = 0) | the {len(keyed)} captune reads |",
              "|---|---:|---:|"]
    for label, ests in columns.items():
        s = [score(ref, e) for ref, e in zip(REFERENCES.values(), ests)]
        lines.append(f"| {label} | {sum(s) / len(s):.3f} | {sum(s[i] for i in keyed) / len(keyed):.3f} |")
    lines += [f"refused: {name}: {reason}" for name, (p, reason, _) in loaded.items() if p is None]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default=None, help="pickle of the parsed scores (kept across runs)")
    print("\n".join(table(parser.parse_args(argv).cache)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
