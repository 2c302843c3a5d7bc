"""``captune demo``: a dataset from music21's bundled corpus, no download.

The corpus is mostly Palestrina (1,318 masses in Humdrum) and Ryan's Mammoth
Collection (1,059 fiddle tunes, one ABC file each), so taking files evenly spaced
through it would be mostly those. The demo samples by kind instead (``KINDS``:
chorales, string quartets, sonatas and piano pieces, folk tunes, lead sheets,
Renaissance and medieval polyphony), taking the kinds in turn and, within a kind,
its composers in turn (each composer's files evenly spaced in path order), with no
composer above ``MAX_COMPOSER_SHARE`` of the sample, and files over
``MAX_FILE_BYTES`` left out so that the run stays short (music21's parsing of
long quartet movements, not captune, is the slow part). It prints the sample, then
builds into ``./demo-out`` (the build prints its progress line while it runs).
"""

import argparse
import os
from collections import Counter

from captune.pipelines import build

MAX_COMPOSER_SHARE = 0.2
MAX_FILE_BYTES = 30_000
FOLK = "traditional"

# kind → corpus folders (the folder is the composer, except folk tune collections)
KINDS = {
    "chorale": ("bach",),
    "string quartet": ("haydn", "mozart", "beethoven", "schumann_robert"),
    "sonata or piano piece": ("mozart/k545", "cpebach", "corelli", "handel", "chopin", "joplin", "schumann_clara",
                              "beach", "schubert", "weber", "schoenberg", "webern", "liliuokalani",
                              "johnson_j_r"),
    "folk tune": ("ryansMammoth",),
    "lead sheet": ("leadSheet",),
    "Renaissance or medieval polyphony": ("palestrina", "monteverdi", "trecento", "josquin", "ciconia", "luca",
                                          "lusitano"),
}
SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn", ".abc")
_FOLK_FOLDERS = ("ryansMammoth",)


def _composer(folder: str) -> str:
    top = folder.split("/")[0]
    return FOLK if top in _FOLK_FOLDERS else top


def _files(root: str, folder: str, exclude: tuple[str, ...] = ()) -> list[str]:
    found = []
    for dirpath, _, names in os.walk(os.path.join(root, folder)):
        for name in names:
            path = os.path.join(dirpath, name)
            if (name.endswith(SUFFIXES) and os.path.getsize(path) <= MAX_FILE_BYTES
                    and not any(os.path.relpath(path, root).startswith(e) for e in exclude)):
                found.append(path)
    return sorted(found)


def _spread(paths: list[str]) -> list[str]:
    """``paths`` reordered so that any prefix is spread evenly over them (0, 1/2, 1/4, 3/4, ...)."""
    order, seen, step = [], set(), len(paths)
    while len(order) < len(paths):
        for i in range(0, len(paths), max(step, 1)):
            if i not in seen:
                seen.add(i)
                order.append(paths[i])
        step //= 2
    return order


def sample(limit: int, root: str | None = None) -> list[tuple[str, str, str]]:
    """``limit`` (kind, composer, path) from music21's corpus (module doc), deterministic."""
    if root is None:
        from music21 import corpus
        root = os.path.dirname(corpus.__file__)
    sub = {f for folders in KINDS.values() for f in folders if "/" in f}
    pools = {}
    for kind, folders in KINDS.items():
        pools[kind] = [(_composer(f), _spread(_files(root, f, tuple(s for s in sub if s != f and s.startswith(f)))))
                       for f in folders]
    cap = max(1, int(MAX_COMPOSER_SHARE * limit))
    per_composer, picked = Counter(), []
    cursors = {kind: 0 for kind in KINDS}
    while len(picked) < limit:
        progressed = False
        for kind in KINDS:
            pool = [(c, files) for c, files in pools[kind] if files and per_composer[c] < cap]
            if not pool or len(picked) >= limit:
                continue
            composer, files = pool[cursors[kind] % len(pool)]
            cursors[kind] += 1
            picked.append((kind, composer, files.pop(0)))
            per_composer[composer] += 1
            progressed = True
        if not progressed:
            break
    return picked


def run(argv: list[str]) -> dict:
    """Parse demo flags, print the sample, build, and return the manifest."""
    parser = argparse.ArgumentParser(prog="captune demo")
    parser.add_argument("--limit", type=int, default=150, help="number of corpus pieces (default %(default)s)")
    parser.add_argument("--output", default="demo-out", help="output folder (default %(default)s)")
    args, beam_flags = parser.parse_known_args(argv)
    picked = sample(args.limit)
    kinds, composers = Counter(k for k, _, _ in picked), Counter(c for _, c, _ in picked)
    print(f"captune demo: {len(picked)} pieces from music21's corpus", flush=True)
    for kind, n in kinds.items():
        names = Counter(c for k, c, _ in picked if k == kind)
        print(f"  {kind:<34} {n:>4}  ({', '.join(f'{c} {m}' for c, m in names.most_common())})", flush=True)
    print(f"  largest composer share: {composers.most_common(1)[0][1] / len(picked):.0%}", flush=True)
    inputs = [arg for _, _, p in picked for arg in ("--input", p)]
    return build.run(inputs + ["--output", args.output] + beam_flags)
