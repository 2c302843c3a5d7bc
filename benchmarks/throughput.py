"""End-to-end throughput of ``captune build`` on POP909, against a plain pool doing the same work and
against the MidiCaps feature method.

Measured in one run (absolute times drift on shared machines, ratios do not):

- pool: a plain ``multiprocessing.Pool`` of ``--processes`` processes (default 2, the build's
  workers) running the same per-file work over every POP909 file: read, sha256,
  :func:`captune.items.process` and the rows with their template captions
  (:func:`captune.pipelines.rows.item_rows`), nothing written. The pool and the build run back to
  back ``--repeats`` times, alternating which goes first; the "Beam tax" is build / pool wall time
  of each pair (target: at most 1.25).
- captune: ``captune.pipelines.build.run`` on every POP909 MIDI file (909 songs +
  1,989 versions) with the default runner (DirectRunner, multi-processing on
  every core), on the smallest file alone (the fixed start-up, target under 5 s), and on a small
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
import logging
import multiprocessing
import os
import random
import shlex
import statistics
import sys
import tempfile
import time

import mido
from music21 import converter

from captune import items
from captune.pipelines import build
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


def time_build(inputs: list[str]) -> tuple[float, dict]:
    """(wall seconds, manifest) of one ``captune build`` of ``inputs`` (patterns or paths) into a temp folder."""
    with tempfile.TemporaryDirectory(prefix="captune-bench-") as out:
        argv = [arg for pattern in inputs for arg in ("--input", pattern)] + ["--output", out]
        started = time.perf_counter()
        manifest = build.run(argv)
        return time.perf_counter() - started, manifest


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


def time_pool(paths: list[str], processes: int) -> tuple[float, int]:
    """(wall seconds including the pool's start-up, rows made) of :func:`pool_item` over ``paths`` on a
    fresh ``multiprocessing.Pool`` (spawned processes, as the build's workers are)."""
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        rows = sum(pool.imap_unordered(pool_item, paths, chunksize=8))
    return time.perf_counter() - started, rows


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
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    paths = pop909_files(args.corpora)
    if not paths:
        raise SystemExit(f"no POP909 MIDI files under {args.corpora}")
    sample = random.Random(args.seed).sample(paths, max(args.small, args.baseline_files))
    cores = os.cpu_count() or 1
    mib = warm_file_cache(paths) / 2 ** 20

    t_one, _ = time_build([min(paths, key=os.path.getsize)])  # the fixed start-up: the smallest file alone
    t_small, m_small = time_build(sample[:args.small])
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
    print(row("captune build, 1 file (the fixed start-up)", 1, t_one, cores, base_per_core))
    print(row(f"captune build, {n_small}-file subset", n_small, t_small, cores, base_per_core))
    print(row("captune build, steady state (all - subset)", n_all - n_small, t_all - t_small, cores,
              base_per_core))
    print("\n| pair | first | pool wall s | build wall s | build / pool |")
    print("|---:|---|---:|---:|---:|")
    for i, runs in enumerate(pairs):
        print(f"| {i + 1} | {'pool' if i % 2 == 0 else 'build'} | {runs['pool'][0]:.1f} | {runs['build'][0]:.1f} | "
              f"{runs['build'][0] / runs['pool'][0]:.2f} |")
    ratios = [runs["build"][0] / runs["pool"][0] for runs in pairs]
    print(f"\nbuild / pool: median {statistics.median(ratios):.2f}, best {min(ratios):.2f}, worst {max(ratios):.2f} "
          f"(target 1.25); the table above shows the best pair")
    print()
    print(counts_line("all files", m_all))
    print(counts_line("subset", m_small))
    print(f"pool: {pairs[-1]['pool'][1]} rows; baseline: {base_failed} of {args.baseline_files} files raised")
    print(f"\nReproduce: python benchmarks/throughput.py --corpora {shlex.quote(args.corpora)} "
          f"--small {args.small} --baseline-files {args.baseline_files} --seed {args.seed} --repeats {args.repeats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
