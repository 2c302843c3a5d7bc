"""Kill benchmark (issue 16): builds killed at seeded random moments never leave a half dataset.

Builds a small generated corpus (``--files`` MIDI melodies) with the CLI once into a reference folder
(its wall time sets the kill window), commits a first, smaller dataset into the test folder, then
``--kills`` times starts the full build there and SIGKILLs its whole process group after a random
share (0.05 to 1.1, from ``--seed``) of the reference time: during start-up, analysis, shard
writing or the commit. After each kill ``captune.schemas.load`` must return the previous dataset
exactly, or the new one if the kill came after the commit. A last, uninterrupted run must write
the same bytes (shards and lists) as the reference build.

    nice -n 10 python benchmarks/kills.py [--kills 20] [--seed 16] [--files 40] [--workers 2]
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from fixtures import committed_files, make_midi, melody  # noqa: E402

from captune.schemas import NoCommittedDataset, load  # noqa: E402


def cli(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "captune.pipelines.cli", "build", *args],
                            env={**os.environ, "PYTHONPATH": ROOT}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="captune-kills-")
    src = os.path.join(work, "src")
    os.makedirs(src)
    for i in range(args.files):
        with open(os.path.join(src, f"m{i:03d}.mid"), "wb") as fh:
            fh.write(make_midi([(0, False, melody([60 + i % 12, 64, 67, 72 - i % 7] * 2))], tempo_bpm=80 + i))
    beam = ["--direct_num_workers", str(args.workers)]
    ref = os.path.join(work, "ref")
    started = time.time()
    proc = cli([src, "--output", ref, *beam])
    _, err = proc.communicate()
    window = time.time() - started
    assert proc.returncode == 0, err
    expected = committed_files(ref)
    out = os.path.join(work, "out")
    small = cli([os.path.join(src, "m000.mid"), "--output", out, *beam])
    small.communicate()
    previous = load(out)
    rng = random.Random(args.seed)
    outcomes = {"previous": 0, "new": 0, "broken": 0}
    for k in range(args.kills):
        proc = cli([src, "--output", out, *beam])
        delay = rng.uniform(0.05, 1.1) * window
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        try:
            table = load(out)
        except NoCommittedDataset:
            table = None
        if table is not None and table.equals(previous):
            outcome = "previous"
        elif table is not None and committed_files(out) == expected:
            outcome = "new"  # committed before the kill: put the small dataset back, so the next kill
            small = cli([os.path.join(src, "m000.mid"), "--output", out, *beam])  # is told apart again
            small.communicate()
            previous = load(out)
        else:
            outcome = "broken"
        outcomes[outcome] += 1
        print(f"kill {k + 1:2d} after {delay:5.1f} s: {outcome}", flush=True)
    proc = cli([src, "--output", out, *beam])
    _, err = proc.communicate()
    same = proc.returncode == 0 and committed_files(out) == expected
    print(f"kills: {args.kills} (seed {args.seed}, window {window:.0f} s, {args.files} files): previous dataset "
          f"intact {outcomes['previous']}, new dataset committed {outcomes['new']}, broken {outcomes['broken']}; "
          f"rerun gives the reference bytes: {same}")
    return 0 if same and not outcomes["broken"] else 1


if __name__ == "__main__":
    sys.exit(main())
