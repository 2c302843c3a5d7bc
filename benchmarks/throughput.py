"""End-to-end throughput of ``captune build`` on POP909, against a plain pool doing the same work and
against the MidiCaps feature method.

Measured in one run (absolute times drift on shared machines, ratios do not):

- pool: a plain ``multiprocessing.Pool`` of ``--processes`` processes (default 2, the build's
  workers) running the same per-file work over every POP909 file: read, sha256,
  :func:`captune.items.process` and the rows with their template captions
  (:func:`captune.pipelines.rows.item_rows`), nothing written. The pool and the build run back to
  back ``--repeats`` times, alternating which goes first; the "Beam tax" is build / pool wall time
  of each pair (target: at most 1.25), printed beside the CPU time (user + system) of each one's
  process tree (:mod:`proctree`), which a loaded machine distorts less than wall time.
- captune: ``captune build`` (a fresh process each time, imports included) on every POP909 MIDI file (909 songs +
  1,989 versions) with the default runner (DirectRunner, multi-threading on
  every core), on the smallest file alone (it fails to decode) and on the smallest file that gives a row
  (its shard is written and checked): the fixed start-up, target under 5 s; and on a small
  random subset of the same files. The difference
  of the two runs removes the fixed pipeline start-up:
  steady files/s = (N_all - N_small) / (t_all - t_small).
- baseline: the MidiCaps feature method, reimplemented here, in a single
  process on a random sample: music21 parses the file and gives the key
  (``analyze('key')``) and the first time signature; mido gives the tempo (first
  ``set_tempo``), the duration (``MidiFile.length``) and the instruments
  (``program_change`` per channel, channel 10 = drums).

Speed per core is files/s divided by the cores used (``os.cpu_count()`` for
captune, ``--processes`` for the pool, 1 for the MidiCaps baseline); the last column is per core
against the MidiCaps method. Every file is read once before timing so no run pays cold disk reads.

    python benchmarks/throughput.py [--corpora /work/shared/corpora] [--small 50] [--baseline-files 100] [--repeats 3]
"""

import argparse
import glob
import hashlib
import json
import multiprocessing
import os
import random
import shlex
import statistics
import sys
import tempfile
import time

import mido
import psutil
from music21 import converter
from proctree import TreeWatch, run_watched

from captune import items
from captune.pipelines.rows import item_rows

DEFAULT_CORPORA = "/work/shared/corpora"
POP909_PATTERNS = ("pop909/POP909/*/*.mid", "pop909/POP909/*/versions/*.mid")
DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line flags (sample sizes in files)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default=DEFAULT_CORPORA, help="folder holding pop909/ (default %(default)s)")
    parser.add_argument("--small", type=int, default=50,
                        help="files in the small captune run used to remove start-up time (default %(default)s)")
    parser.add_argument("--baseline-files", type=int, default=100,
                        help="files timed with the MidiCaps baseline (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random samples (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="pool and build pairs, alternating which runs first (default %(default)s)")
    parser.add_argument("--processes", type=int, default=2, help="pool processes (default %(default)s)")
    return parser.parse_args(argv)


def pop909_files(corpora: str) -> list[str]:
    """Sorted paths of every POP909 MIDI file (songs and versions)."""
    return sorted(p for pattern in POP909_PATTERNS for p in glob.glob(os.path.join(corpora, pattern)))


def warm_file_cache(paths: list[str]) -> int:
    """Read every file once so that timed runs do not pay cold disk reads; returns bytes read."""
    total = 0
    for path in paths:
        with open(path, "rb") as fh:
            total += len(fh.read())
    return total


def cpu_watched(fn, *args) -> tuple:
    """(``fn(*args)``, CPU seconds, user + system, of this process and every process below it while it
    ran: :class:`proctree.TreeWatch`, so the build's analysis children and the pool's workers count)."""
    me = psutil.Process()
    before = sum(me.cpu_times()[:2])
    with TreeWatch(me.pid) as watch:
        result = fn(*args)
    return result, sum(r["cpu_s"] for r in watch.summary().values()) - before


def time_build(inputs: list[str]) -> tuple[float, dict, float]:
    """(wall seconds, manifest, CPU seconds of its process tree) of one ``captune build`` of ``inputs``
    (patterns or paths) into a temp folder, run as a user runs it: a fresh ``python -m
    captune.pipelines.cli build`` (its imports count), watched by :func:`proctree.run_watched`."""
    with tempfile.TemporaryDirectory(prefix="captune-bench-") as out:
        argv = [arg for pattern in inputs for arg in ("--input", pattern)] + ["--output", out]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        run = run_watched([sys.executable, "-m", "captune.pipelines.cli", "build", *argv], env=env)
        if run["rc"] != 0:
            raise SystemExit(f"captune build failed:\n{run['stderr'][-3000:]}")
        with open(os.path.join(out, "manifest.json")) as fh:
            manifest = json.load(fh)
        return run["wall_s"], manifest, sum(r["cpu_s"] for r in run["roles"].values())


def pool_item(path: str) -> int:
    """The build's per-file work without the pipeline: read, sha256, analyse, make the rows with their
    template captions; returns the rows made (0 for a file that fails)."""
    with open(path, "rb") as fh:
        data = fh.read()
    source = hashlib.sha256(data).hexdigest()
    try:
        item = items.process(data, path, source, items.Settings())
    except Exception:  # a failure record in the build: its cost counts, it makes no row
        return 0
    return len(item_rows(path, source, item, seed=0, test_fraction=0.1))


def run_pool(paths: list[str], processes: int) -> int:
    """Rows made by :func:`pool_item` over ``paths`` on a fresh ``multiprocessing.Pool`` (spawned
    processes, as the build's analysis children are)."""
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return sum(pool.imap_unordered(pool_item, paths, chunksize=8))


def time_pool(paths: list[str], processes: int) -> tuple[float, int, float]:
    """(wall seconds including the pool's start-up, rows made, CPU seconds of the process tree) of
    :func:`run_pool`."""
    started = time.perf_counter()
    rows, cpu = cpu_watched(run_pool, paths, processes)
    return time.perf_counter() - started, rows, cpu


def midicaps_features(path: str) -> dict:
    """Key, time signature, tempo (bpm), duration (s) and instruments of one MIDI file, the MidiCaps way.

    music21 is told to parse the source and store no pickle: every file is then
    parsed as on first sight, whatever ran before on this machine.
    """
    score = converter.parse(path, forceSource=True, storePickle=False)
    estimate = score.analyze("key")
    signatures = score.getTimeSignatures()
    midi = mido.MidiFile(path)
    return {"key": f"{estimate.tonic.name} {estimate.mode}",
            "time_signature": signatures[0].ratioString if len(signatures) else None,
            "tempo_bpm": first_tempo_bpm(midi),
            "duration_s": midi.length,
            "instruments": programs_by_channel(midi)}


def first_tempo_bpm(midi: mido.MidiFile) -> float | None:
    """Beats per minute of the first ``set_tempo`` message, or None without one."""
    for track in midi.tracks:
        for msg in track:
            if msg.type == "set_tempo":
                return mido.tempo2bpm(msg.tempo)
    return None


def programs_by_channel(midi: mido.MidiFile) -> dict[int, str]:
    """Channel (0-15) → ``'drums'`` for channel 10, else the GM program (0-127) of its program changes."""
    instruments = {}
    for track in midi.tracks:
        for msg in track:
            if msg.type == "program_change":
                instruments[msg.channel] = "drums" if msg.channel == DRUM_CHANNEL else msg.program
    return instruments


def time_baseline(paths: list[str]) -> tuple[float, int]:
    """(wall seconds, files that raised) of the MidiCaps method over ``paths`` in this process."""
    failed = 0
    started = time.perf_counter()
    for path in paths:
        try:
            midicaps_features(path)
        except Exception:  # a file the baseline cannot read still costs its time
            failed += 1
    return time.perf_counter() - started, failed


def row(method: str, files: int, wall_s: float, cores: int, baseline_per_core: float | None) -> str:
    """One markdown table row; speeds in files/s."""
    rate = files / wall_s
    per_core = rate / cores
    ratio = f"{per_core / baseline_per_core:.1f}x" if baseline_per_core else "1.0x (baseline)"
    return f"| {method} | {files} | {cores} | {wall_s:.1f} | {rate:.2f} | {per_core:.2f} | {ratio} |"


def counts_line(name: str, manifest: dict) -> str:
    """Rows, failures and duplicates of one build, from its manifest."""
    c = manifest["counts"]
    return (f"{name}: inputs {c['inputs']}, rows {c['rows']}, failures {c['failures']} "
            f"{c['failures_by_reason'] or ''}, duplicates {c['duplicates']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    paths = pop909_files(args.corpora)
    if not paths:
        raise SystemExit(f"no POP909 MIDI files under {args.corpora}")
    sample = random.Random(args.seed).sample(paths, max(args.small, args.baseline_files))
    cores = os.cpu_count() or 1
    mib = warm_file_cache(paths) / 2 ** 20

    by_size = sorted(paths, key=os.path.getsize)
    t_one, _, cpu_one = time_build(by_size[:1])  # the fixed start-up: the smallest file (it fails to decode)
    t_valid, _, cpu_valid = time_build([next(p for p in by_size if pool_item(p))])  # the smallest with a row
    t_small, m_small, _ = time_build(sample[:args.small])
    pairs = []
    for repeat in range(args.repeats):
        runs = {}
        for name in (("pool", "build") if repeat % 2 == 0 else ("build", "pool")):
            if name == "pool":
                runs["pool"] = time_pool(paths, args.processes)
            else:
                runs["build"] = time_build([os.path.join(args.corpora, p) for p in POP909_PATTERNS])
        pairs.append(runs)
    t_base, base_failed = time_baseline(sample[:args.baseline_files])

    m_all = pairs[-1]["build"][1]
    n_all, n_small = m_all["counts"]["inputs"], m_small["counts"]["inputs"]
    base_per_core = args.baseline_files / t_base
    best = min(pairs, key=lambda r: r["build"][0] / r["pool"][0])
    t_pool, t_all = best["pool"][0], best["build"][0]
    print(f"## captune build throughput, POP909 ({n_all} MIDI files, {mib:.1f} MiB), {cores} cores\n")
    print("| method | files | cores | wall s | files/s | files/s per core | per core vs MidiCaps |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(row("MidiCaps method (music21 + mido), 1 process", args.baseline_files, t_base, 1, None))
    print(row(f"plain multiprocessing.Pool({args.processes}), same per-file work", len(paths), t_pool,
              args.processes, base_per_core))
    print(row("captune build, all files", n_all, t_all, cores, base_per_core))
    print(row("captune build, 1 file that fails (the fixed start-up)", 1, t_one, cores, base_per_core))
    print(row("captune build, 1 file with a row (start-up with a shard checked)", 1, t_valid, cores, base_per_core))
    print(row(f"captune build, {n_small}-file subset", n_small, t_small, cores, base_per_core))
    print(row("captune build, steady state (all - subset)", n_all - n_small, t_all - t_small, cores,
              base_per_core))
    print(f"\nThe fixed start-up (1 file, target 5 s): {t_one:.1f} s wall, {cpu_one:.1f} CPU s over the process tree "
          f"for a file that fails; {t_valid:.1f} s wall, {cpu_valid:.1f} CPU s for one with a row (its shard checked)")
    print("\n| pair | first | pool wall s | build wall s | build / pool wall | pool CPU s | build CPU s | "
          "build / pool CPU |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for i, runs in enumerate(pairs):
        print(f"| {i + 1} | {'pool' if i % 2 == 0 else 'build'} | {runs['pool'][0]:.1f} | {runs['build'][0]:.1f} | "
              f"{runs['build'][0] / runs['pool'][0]:.2f} | {runs['pool'][2]:.1f} | {runs['build'][2]:.1f} | "
              f"{runs['build'][2] / runs['pool'][2]:.2f} |")
    ratios = [runs["build"][0] / runs["pool"][0] for runs in pairs]
    cpu_ratios = [runs["build"][2] / runs["pool"][2] for runs in pairs]
    print(f"\nbuild / pool wall: median {statistics.median(ratios):.2f}, best {min(ratios):.2f}, worst {max(ratios):.2f} "
          f"(target 1.25); the table above shows the best pair. CPU (user + system over the process tree, "
          f"less sensitive to the machine's load): median {statistics.median(cpu_ratios):.2f}")
    print()
    print(counts_line("all files", m_all))
    print(counts_line("subset", m_small))
    print(f"pool: {pairs[-1]['pool'][1]} rows; baseline: {base_failed} of {args.baseline_files} files raised")
    print(f"\nReproduce: python benchmarks/throughput.py --corpora {shlex.quote(args.corpora)} "
          f"--small {args.small} --baseline-files {args.baseline_files} --seed {args.seed} --repeats {args.repeats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
