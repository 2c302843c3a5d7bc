"""Beam's EXTERNAL SDK worker pool on loopback (``apache_beam.runners.worker.worker_pool_main``), for a
portable-runner build on this machine (the worker model of Flink, Spark and Dataflow): the tests and
``benchmarks/scale.py`` start one; a user can start the same with the README's command."""

import os
import signal
import socket
import subprocess
import sys
import time


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(pythonpath: list[str], timeout_s: float = 60.0) -> tuple[subprocess.Popen, int]:
    """(the pool's process, its port) once the pool accepts connections. Its SDK workers run ``python``
    from PATH, so this interpreter's folder goes first on PATH and ``pythonpath`` on PYTHONPATH. The
    pool is the leader of its own session: :func:`stop` ends it with every worker it started."""
    port = free_port()
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
           "PYTHONPATH": os.pathsep.join([*pythonpath, os.environ.get("PYTHONPATH", "")])}
    pool = subprocess.Popen([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                             f"--service_port={port}"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return pool, port
        except OSError:
            if pool.poll() is not None or time.time() > deadline:
                stop(pool)
                raise RuntimeError("the SDK worker pool did not start")
            time.sleep(0.2)


def stop(pool: subprocess.Popen) -> None:
    """Kill the pool and every SDK worker it started (one session)."""
    try:
        os.killpg(pool.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pool.wait()


def flags(port: int) -> list[str]:
    """The Beam flags of a build on the embedded job server with the pool at ``port``."""
    return ["--runner", "PortableRunner", "--job_endpoint", "embed", "--environment_type", "EXTERNAL",
            "--environment_config", f"localhost:{port}"]
