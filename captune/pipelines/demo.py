"""``captune demo``: a dataset from music21's bundled corpus, no download.

The corpus ships about 2,000 single-piece scores (MusicXML and Humdrum); the
demo takes ``--limit`` of them (default 300) evenly spaced through the sorted
list, so composers and formats mix, and builds into ``./demo-out``.
"""

import argparse

from captune.pipelines import build

DEMO_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn")


def corpus_paths(limit: int) -> list[str]:
    """``limit`` score paths spread evenly over music21's sorted corpus."""
    from music21 import corpus

    paths = sorted(str(p) for p in corpus.getPaths() if p.suffix in DEMO_SUFFIXES)
    if limit >= len(paths):
        return paths
    step = len(paths) / limit
    return [paths[int(i * step)] for i in range(limit)]


def run(argv: list[str]) -> dict:
    """Parse demo flags, build, and return the manifest."""
    parser = argparse.ArgumentParser(prog="captune demo")
    parser.add_argument("--limit", type=int, default=300, help="number of corpus pieces (default %(default)s)")
    parser.add_argument("--output", default="demo-out", help="output folder (default %(default)s)")
    args, beam_flags = parser.parse_known_args(argv)
    inputs = [arg for p in corpus_paths(args.limit) for arg in ("--input", p)]
    return build.run(inputs + ["--output", args.output] + beam_flags)
