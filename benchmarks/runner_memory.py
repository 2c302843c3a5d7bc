"""The portable runner's own memory and its lost elements, with no captune code: a bare pipeline on the
embedded job server with an EXTERNAL SDK worker pool on loopback, as ``benchmarks/scale.py --portable``
builds; per number of elements, the peak RSS of the driver and of the largest SDK worker (to tell the
runner's growth from captune's) and how many elements reached the end (a runner that drops elements
shows it here). Two graphs:

- ``--graph plain``: Create, Reshuffle, Map to ``--element-kb`` random bytes after ``--work-ms`` of
  sleep, Reshuffle, CombinePerKey of the element counts, their total written to a file;
- ``--graph captune``: captune's shape (``BuildDataset``): Create, Distinct, a ParDo that emits the
  bytes as its main output and a small record to a tagged output (the analysis's ``rows`` and
  ``sources``), the main output flattened with an empty PCollection, joined with the tagged one by
  element in a CoGroupByKey (``JoinGroups``); the joined keys with one of each are counted.

A run that does not end within ``--timeout-s`` is killed and reported as hung.

    python benchmarks/runner_memory.py --sizes 10000,30000 --element-kb 15 [--graph captune] [--work-ms 0]
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proctree import run_watched  # noqa: E402

from captune.pipelines import worker_pool  # noqa: E402

PIPELINE = r'''
import os, sys, time
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
n, size, out, work_s, graph = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]

def make(i):
    time.sleep(work_s)
    return i % 8, os.urandom(size)

class Analyze(beam.DoFn):
    def process(self, i):
        time.sleep(work_s)
        yield beam.pvalue.TaggedOutput("sources", (i, {"source_uri": f"f{i}", "fingerprint": os.urandom(64)}))
        yield i, os.urandom(size)

def write(total):
    with open(out, "w") as fh:
        fh.write(str(total))

with beam.Pipeline(options=PipelineOptions(sys.argv[6:])) as p:
    if graph == "plain":
        counted = (p | beam.Create(range(n)) | beam.Reshuffle() | beam.Map(make) | "Again" >> beam.Reshuffle()
                   | beam.Map(lambda kv: (kv[0], len(kv[1]) // size)) | beam.CombinePerKey(sum) | beam.Values())
    else:
        analyzed = (p | beam.Create(range(n)) | beam.Distinct()
                    | beam.ParDo(Analyze()).with_outputs("sources", main="rows"))
        rows = (analyzed.rows, p | "Nothing" >> beam.Create([])) | beam.Flatten()
        joined = {"rows": rows, "group": analyzed.sources} | beam.CoGroupByKey()
        counted = joined | beam.Map(lambda kv: int(len(kv[1]["rows"]) == len(kv[1]["group"]) == 1))
    counted | "Total" >> beam.CombineGlobally(sum) | beam.Map(write)
'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,30000", help="numbers of elements, comma-separated")
    parser.add_argument("--element-kb", type=int, default=15, help="bytes per element / 1024 (a POP909 row: 11-18)")
    parser.add_argument("--work-ms", type=float, default=0.0,
                        help="milliseconds each element is held before its bytes are made (sleep: an analysis's pace)")
    parser.add_argument("--graph", choices=("plain", "captune"), default="plain", help="see the module doc")
    parser.add_argument("--timeout-s", type=float, default=1800.0, help="a run still going after this is hung")
    args = parser.parse_args(argv)
    paths = [p for p in sys.path if p]
    print("| graph | elements | KB each | wall s | driver peak RSS MiB | SDK workers | largest SDK worker MiB "
          "| reached the end |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for n in map(int, args.sizes.split(",")):
        pool, port = worker_pool.start(paths)
        fd, counted = tempfile.mkstemp(prefix="captune-runner-memory-")
        os.close(fd)
        try:
            run = run_watched([sys.executable, "-c", PIPELINE, str(n), str(args.element_kb * 1024), counted,
                               str(args.work_ms / 1e3), args.graph, *worker_pool.flags(port)],
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)}, also=(pool.pid,),
                              timeout_s=args.timeout_s)
        finally:
            worker_pool.stop(pool)
        if run["rc"] not in (0, None):
            raise SystemExit(run["stderr"][-3000:])
        with open(counted) as fh:
            reached = fh.read() if run["rc"] == 0 else f"hung (killed after {args.timeout_s:g} s)"
        os.remove(counted)
        roles = run["roles"]
        worker = roles.get("SDK worker", {"processes": 0, "peak_rss_max": 0})
        print(f"| {args.graph} | {n} | {args.element_kb} | {run['wall_s']:.0f} | "
              f"{roles['driver']['peak_rss_max'] / 2 ** 20:.0f} | {worker['processes']} | "
              f"{worker['peak_rss_max'] / 2 ** 20:.0f} | {reached} |", flush=True)
    print(f"\nReproduce: python benchmarks/runner_memory.py --sizes {args.sizes} --element-kb {args.element_kb}"
          + (f" --work-ms {args.work_ms:g}" if args.work_ms else "") + f" --graph {args.graph}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
