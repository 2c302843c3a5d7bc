"""Peak memory and CPU time of a build's process tree, by role, sampled with psutil (``python
benchmarks/proctree.py COMMAND…`` prints them for one command).

A ``captune build`` on the DirectRunner is a tree: the driver (the runner: it schedules the stages and
holds the data between them), the SDK worker processes (``--direct_num_workers``), and under each worker
the isolated analysis child (:mod:`captune.pipelines.isolation`), and the launcher's checks helper
(:mod:`captune.pipelines.helper`). :class:`TreeWatch` samples the tree
every ``every_s`` seconds and keeps, per process, its role, its peak resident set (bytes) and its last
CPU time (user + system, seconds; a process that ends between samples loses its last interval).
"""

import threading
import time

import psutil

ROLES = (("captune.pipelines.helper", "checks helper"), ("captune.pipelines.isolation", "analysis child"),
         ("worker_pool_main", "worker pool"), ("sdk_worker", "SDK worker"), ("multiprocessing", "pool worker"))


def role_of(process: psutil.Process, root: int) -> str:
    """``driver`` for the root, else the first :data:`ROLES` name found in the command line, else ``other``."""
    if process.pid == root:
        return "driver"
    try:
        line = " ".join(process.cmdline())
    except psutil.Error:
        return "other"
    return next((name for needle, name in ROLES if needle in line), "other")


class TreeWatch:
    """``with TreeWatch(pid) as w: ...`` then ``w.summary()``: ``{role: {processes, peak_rss_max, cpu_s}}``;
    ``also``: more root pids whose trees are watched with it (an SDK worker pool the command uses)."""

    def __init__(self, pid: int, every_s: float = 0.2, also: tuple[int, ...] = ()):
        self.root, self.every_s, self.also = pid, every_s, also
        self.seen: dict[int, dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        tree = []
        for pid in (self.root, *self.also):
            try:
                root = psutil.Process(pid)
                tree += [root] + root.children(recursive=True)
            except psutil.Error:
                continue
        for p in tree:
            try:
                with p.oneshot():
                    rss, cpu = p.memory_info().rss, p.cpu_times()
            except psutil.Error:
                continue
            entry = self.seen.setdefault(p.pid, {"role": role_of(p, self.root), "peak_rss": 0, "cpu_s": 0.0})
            entry["peak_rss"] = max(entry["peak_rss"], rss)
            entry["cpu_s"] = cpu.user + cpu.system

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.every_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._sample()
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict:
        """Per role: how many processes, the largest peak RSS of one of them (bytes), their CPU seconds."""
        out = {}
        for entry in self.seen.values():
            r = out.setdefault(entry["role"], {"processes": 0, "peak_rss_max": 0, "cpu_s": 0.0})
            r["processes"] += 1
            r["peak_rss_max"] = max(r["peak_rss_max"], entry["peak_rss"])
            r["cpu_s"] += entry["cpu_s"]
        return out


def run_watched(argv: list[str], every_s: float = 0.2, env: dict | None = None, also: tuple[int, ...] = (),
                timeout_s: float | None = None) -> dict:
    """Run ``argv`` as a child process under a :class:`TreeWatch` (with ``also``): ``{rc, wall_s, roles,
    stderr}``; past ``timeout_s`` seconds the child is killed and ``rc`` is None (it hung)."""
    import subprocess

    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with TreeWatch(proc.pid, every_s, also) as watch:
        try:
            _, err = proc.communicate(timeout=timeout_s)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            rc = None
    return {"rc": rc, "wall_s": time.perf_counter() - started, "roles": watch.summary(),
            "stderr": err.decode(errors="replace")}


def main(argv: list[str]) -> int:
    """``python benchmarks/proctree.py COMMAND…``: run the command watched, print its wall time and the CPU
    seconds and largest peak RSS of each role."""
    run = run_watched(argv)
    roles = run["roles"]
    print(f"rc {run['rc']}, wall {run['wall_s']:.1f} s, CPU {sum(r['cpu_s'] for r in roles.values()):.1f} s: "
          + "; ".join(f"{role} {r['cpu_s']:.1f} s ({r['processes']} processes, largest {r['peak_rss_max'] / 2 ** 20:.0f} MiB)"
                      for role, r in sorted(roles.items())))
    return run["rc"]


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
