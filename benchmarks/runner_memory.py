"""The portable runner's own memory, with no captune code: a bare pipeline (Create, Reshuffle, Map to
``--element-kb`` random bytes, Reshuffle, Map to the length, CombinePerKey) on the embedded job server
with an EXTERNAL SDK worker pool on loopback, as ``benchmarks/scale.py --portable`` builds; the peak
RSS of the driver and of the largest SDK worker per number of elements, to tell the runner's growth
from captune's.

    python benchmarks/runner_memory.py --sizes 10000,30000 --element-kb 15
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proctree import run_watched  # noqa: E402

from captune.pipelines import worker_pool  # noqa: E402

PIPELINE = r'''
import os, sys
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
n, size = int(sys.argv[1]), int(sys.argv[2])
with beam.Pipeline(options=PipelineOptions(sys.argv[3:])) as p:
    (p | beam.Create(range(n)) | beam.Reshuffle() | beam.Map(lambda i: (i % 8, os.urandom(size)))
       | "Again" >> beam.Reshuffle() | beam.Map(lambda kv: (kv[0], len(kv[1]))) | beam.CombinePerKey(sum))
'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,30000", help="numbers of elements, comma-separated")
    parser.add_argument("--element-kb", type=int, default=15, help="bytes per element / 1024 (a POP909 row: 11-18)")
    args = parser.parse_args(argv)
    paths = [p for p in sys.path if p]
    print("| elements | KB each | wall s | driver peak RSS MiB | SDK workers | largest SDK worker MiB |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in map(int, args.sizes.split(",")):
        pool, port = worker_pool.start(paths)
        try:
            run = run_watched([sys.executable, "-c", PIPELINE, str(n), str(args.element_kb * 1024),
                               *worker_pool.flags(port)], env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
                              also=(pool.pid,))
        finally:
            worker_pool.stop(pool)
        if run["rc"] != 0:
            raise SystemExit(run["stderr"][-3000:])
        roles = run["roles"]
        worker = roles.get("SDK worker", {"processes": 0, "peak_rss_max": 0})
        print(f"| {n} | {args.element_kb} | {run['wall_s']:.0f} | {roles['driver']['peak_rss_max'] / 2 ** 20:.0f} | "
              f"{worker['processes']} | {worker['peak_rss_max'] / 2 ** 20:.0f} |", flush=True)
    print(f"\nReproduce: python benchmarks/runner_memory.py --sizes {args.sizes} --element-kb {args.element_kb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
