"""``captune build`` on a generated corpus of 10k-100k small MIDI files: time per 1,000 files and peak
memory of every process, to show the cost grows linearly and the memory of the workers stays bounded.

The corpus (written under ``--work``, never committed): 8-bar excerpts (32 quarter notes from bar
line 0, 32, 64, … of each POP909 song's own tick grid) of the 909 POP909 songs, each excerpt also
transposed (0, ±1 … ±5 semitones) and played at 1.0, 1.1 and 0.9 times the tempo
(:func:`captune.augment.midi.apply`); file ``i`` is excerpt ``i mod E`` of variant ``i div E``, so
every prefix of the corpus holds every excerpt before repeating one, and ``--sizes`` builds read
the first N files (folders of 1,000). A transposed or re-timed excerpt is a near-duplicate of its
excerpt (same fingerprint), as in a real corpus of versions.

Each build runs ``captune build`` (the default runner: the DirectRunner in-memory on 2 workers, one
process; with ``--portable``, the PortableRunner on the embedded job server with an EXTERNAL SDK
worker pool on loopback, the worker model of Flink, Spark and Dataflow) in a child process watched
by :class:`proctree.TreeWatch` (with the pool's tree): wall time, time per 1,000 files, files/s per
core, and the peak RSS of the driver (the runner, which on these local runners also holds the data
between stages), of the largest SDK worker and of the largest analysis child.

    python benchmarks/scale.py --corpora /work/shared/corpora --work /tmp/scale --sizes 10000,30000 [--portable]
"""

import argparse
import glob
import json
import os
import shutil
import sys

import symusic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proctree import run_watched  # noqa: E402

from captune.augment import midi as midi_augment  # noqa: E402
from captune.extractors.errors import BadInput  # noqa: E402
from captune.pipelines import worker_pool  # noqa: E402

EXCERPT_QUARTERS = 32
VARIANTS = [(s, r) for r in (1.0, 1.1, 0.9) for s in (0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5)]
PER_FOLDER = 1000


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line flags (sizes in files)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default="/work/shared/corpora", help="folder holding pop909/")
    parser.add_argument("--work", default="/tmp/scale", help="where the corpus and the outputs go")
    parser.add_argument("--sizes", default="10000,30000", help="corpus sizes to build, comma-separated")
    parser.add_argument("--keep", action="store_true", help="keep each build's output folder")
    parser.add_argument("--portable", action="store_true",
                        help="build on the PortableRunner with an EXTERNAL SDK worker pool on loopback")
    return parser.parse_args(argv)


def excerpts(corpora: str) -> list[tuple[str, int]]:
    """(song path, start tick) of every whole 8-bar excerpt of the POP909 songs, song by song."""
    found = []
    for path in sorted(glob.glob(os.path.join(corpora, "pop909/POP909/*/[0-9]*.mid"))):
        score = symusic.Score(path)
        span = EXCERPT_QUARTERS * score.tpq
        found += [(path, start) for start in range(0, score.end() - span + 1, span)]
    return found


def excerpt_bytes(path: str, start: int) -> bytes:
    """MIDI bytes of the excerpt of ``path`` from tick ``start``, moved to time 0."""
    score = symusic.Score(path)
    clip = score.clip(start, start + EXCERPT_QUARTERS * score.tpq, clip_end=True).shift_time(-start)
    return clip.dumps_midi()


def variant_bytes(data: bytes, semitones: int, ratio: float) -> bytes:
    """``data`` transposed by ``semitones`` and played ``ratio`` times as fast."""
    if semitones:
        data = midi_augment.apply(data, {"kind": "pitch_shift", "semitones": semitones})
    if ratio != 1.0:
        data = midi_augment.apply(data, {"kind": "tempo_change", "tempo_ratio": ratio})
    return data


def file_path(corpus: str, i: int) -> str:
    """Where file ``i`` of the corpus goes (folders of :data:`PER_FOLDER`)."""
    return os.path.join(corpus, f"{i // PER_FOLDER:03d}", f"{i:06d}.mid")


def generate(corpora: str, corpus: str, n: int) -> int:
    """Write files 0 … n-1 (those missing); returns how many were written now. A variant that cannot be
    made (a note pushed outside 0..127) is skipped, its file made from the next variant."""
    todo = [i for i in range(n) if not os.path.exists(file_path(corpus, i))]
    if not todo:
        return 0
    pieces = excerpts(corpora)
    cache = {}
    for i in todo:
        path, start = pieces[i % len(pieces)]
        key = (path, start)
        if key not in cache:
            if len(cache) > 2000:
                cache.clear()
            cache[key] = excerpt_bytes(path, start)
        for semitones, ratio in VARIANTS[(i // len(pieces)) % len(VARIANTS):] + VARIANTS:
            try:
                data = variant_bytes(cache[key], semitones, ratio)
                break
            except BadInput:
                continue
        os.makedirs(os.path.dirname(file_path(corpus, i)), exist_ok=True)
        with open(file_path(corpus, i), "wb") as fh:
            fh.write(data)
    return len(todo)


def build(corpus: str, n: int, out: str, portable: bool = False) -> dict:
    """One watched ``captune build`` of the first ``n`` files (``portable``: module doc): the watch's
    figures and the manifest."""
    if n % PER_FOLDER:
        raise SystemExit("--sizes must be multiples of 1000")
    inputs = [a for f in range(n // PER_FOLDER) for a in ("--input", os.path.join(corpus, f"{f:03d}"))]
    shutil.rmtree(out, ignore_errors=True)
    paths = [p for p in sys.path if p]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    argv = [sys.executable, "-m", "captune.pipelines.cli", "build", *inputs, "--output", out, "--direct_num_workers", "2"]
    if not portable:
        run = run_watched(argv, env=env)
    else:
        pool, port = worker_pool.start(paths)
        try:
            run = run_watched([*argv, *worker_pool.flags(port)], env=env, also=(pool.pid,))
        finally:
            worker_pool.stop(pool)
    if run["rc"] != 0:
        raise SystemExit(f"build of {n} files failed:\n{run['stderr'][-3000:]}")
    with open(os.path.join(out, "manifest.json")) as fh:
        run["manifest"] = json.load(fh)
    return run


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    corpus = os.path.join(args.work, "corpus")
    made = generate(args.corpora, corpus, max(sizes))
    print(f"corpus: {corpus} ({made} files written now)\n")
    print("| files | rows | test rows | row check | shards | near-dup groups | wall s | s per 1,000 files "
          "| files/s per core | driver peak RSS MiB | largest SDK worker MiB | largest analysis child MiB |")
    print("|---:|---:|---:|:---|---:|---:|---:|---:|---:|---:|---:|---:|")
    cores = 2
    for n in sizes:
        out = os.path.join(args.work, f"out-{n}")
        run = build(corpus, n, out, args.portable)
        m, roles = run["manifest"], run["roles"]
        mib = {r: roles.get(r, {}).get("peak_rss_max", 0) / 2 ** 20 for r in ("driver", "SDK worker", "analysis child")}
        wall = run["wall_s"]
        test = m["counts"]["rows_by_split"].get("test", 0)
        print(f"| {n} | {m['counts']['rows']} | {test} | {m['row_check']} | {len(m['shards'])} | {m['groups']['groups']} | {wall:.0f} | "
              f"{wall / n * 1000:.1f} | {n / wall / cores:.1f} | {mib['driver']:.0f} | {mib['SDK worker']:.0f} | "
              f"{mib['analysis child']:.0f} |", flush=True)
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    print(f"\nReproduce: python benchmarks/scale.py --corpora {args.corpora} --work {args.work} --sizes {args.sizes}"
          + (" --portable" if args.portable else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
