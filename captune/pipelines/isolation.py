"""Run a function in a child process with a CPU-time and a memory limit per call.

A parser that hangs, crashes or eats memory (C++ code cannot be interrupted from Python,
and Beam runs DoFns off the main thread, so signals are no option) then costs
one item, not the worker or the machine: after a limit or a crash the child is killed and a
fresh one starts on the next call. Exceptions raised by the function come back
and are re-raised in the caller.

Limits, independent of how busy the machine is:

- CPU time (all threads of the child): a watchdog thread of the child checks its CPU time every
  ``WATCH_S`` seconds and ends it with ``SIGXCPU`` past the call's limit; ``RLIMIT_CPU`` (whole
  seconds, set before each call to the CPU time used so far plus the limit, rounded up) ends it even
  when C code holds the GIL. Either way the call raises :class:`ItemTimeout`.
- memory, ``RLIMIT_AS``: the child's address space may grow by ``memory_mb`` MiB beyond what it has
  after its imports; an allocation past it fails (``MemoryError`` in Python, an abort in C++ code) and
  the call raises :class:`ItemTooLarge` (or :class:`WorkerCrashed`).
- wall clock, only as a backstop for a child blocked without using CPU: ``WALL_FACTOR`` times the
  CPU limit plus ``WALL_EXTRA_S``.

The child is a fresh interpreter (``python -m captune.pipelines.isolation
module:function``) talking pickled frames over its stdin and stdout. Unlike
``multiprocessing``'s spawn, it never re-imports the caller's ``__main__``, so
it is safe from scripts, notebooks and Beam workers alike.
"""

import importlib
import math
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

WALL_FACTOR, WALL_EXTRA_S = 10.0, 60.0
WATCH_S = 0.05


class ItemTimeout(Exception):
    """The call used more CPU time than its limit (or, as a backstop, far more wall-clock time)."""


class ItemTooLarge(Exception):
    """The call needed more memory than the limit."""


class WorkerCrashed(Exception):
    """The child process died during the call, or did not start."""


def _address_space_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _watch(deadline: list) -> None:
    """Watchdog thread: end the process with SIGXCPU once its CPU time passes ``deadline[0]``."""
    while True:
        time.sleep(WATCH_S)
        if deadline[0] is not None and time.process_time() > deadline[0]:
            os.kill(os.getpid(), signal.SIGXCPU)


def _serve(inbox: Connection, outbox: Connection, fn) -> None:
    outbox.send("ready")  # imports are done: the limits start counting from here
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    deadline = [None]
    threading.Thread(target=_watch, args=(deadline,), daemon=True).start()
    while True:
        deadline[0] = None
        try:
            args, cpu_s = inbox.recv()
        except EOFError:
            return
        if cpu_s:
            used = time.process_time()
            soft = math.ceil(used + cpu_s)
            resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
            deadline[0] = used + cpu_s
        try:
            outbox.send((True, fn(*args)))
        except MemoryError:
            outbox.send((False, MemoryError()))  # a builtin: this module is __main__ here
        except Exception as exc:  # every failure goes back to the caller
            outbox.send((False, exc))


def _function(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _child_main(target: str, memory_mb: str = "0", prepare: str = "") -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it kills this child
    protocol_fd = os.dup(1)
    os.dup2(2, 1)  # anything the function prints goes to stderr, not into the protocol
    fn = _function(target)
    if prepare:
        _function(prepare)()
    if float(memory_mb) > 0:
        limit = _address_space_bytes() + int(float(memory_mb) * 2 ** 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _serve(Connection(0, writable=False), Connection(protocol_fd, readable=False), fn)


def _target(fn) -> str:
    return f"{fn.__module__}:{fn.__qualname__}"


class Isolated:
    """``Isolated(fn, timeout_s, memory_mb)(*args)`` calls ``fn(*args)`` in a child process within
    ``timeout_s`` CPU seconds and ``memory_mb`` MiB of memory beyond the child's imports (0: no
    memory limit).

    ``fn`` must be a module-level function, importable by the child (which gets
    the caller's ``sys.path``); so must ``prepare``, which the child calls once with no arguments
    before its first call (imports, caches). The child starts on the first call, or earlier with
    :meth:`start`, which does not wait for it.
    """

    STARTUP_S = 300  # importing numpy, symusic and music21 on a cold, busy machine

    def __init__(self, fn, timeout_s: float, memory_mb: float = 0, prepare=None):
        self.fn, self.timeout_s, self.memory_mb, self.prepare = fn, timeout_s, memory_mb, prepare
        self._proc = self._inbox = self._outbox = None
        self._ready = False

    def start(self):
        """Launch the child (if none is running) and return without waiting for its imports."""
        if self._proc is not None:
            return
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        command = [sys.executable, "-m", __name__, _target(self.fn), str(self.memory_mb)]
        if self.prepare is not None:
            command.append(_target(self.prepare))
        self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._outbox = Connection(os.dup(self._proc.stdin.fileno()), readable=False)
        self._inbox = Connection(os.dup(self._proc.stdout.fileno()), writable=False)
        self._proc.stdin.close()
        self._proc.stdout.close()
        self._ready = False

    def _start(self):
        self.start()
        if self._ready:
            return
        try:
            self._ready = self._inbox.poll(self.STARTUP_S) and self._inbox.recv() == "ready"
        except EOFError:
            self._ready = False
        if not self._ready:
            self.close()
            raise WorkerCrashed(f"the worker process for {_target(self.fn)} did not start")

    def close(self):
        """Stop the child, if any."""
        if self._proc is not None:
            self._outbox.close()
            self._inbox.close()
            self._proc.kill()
            self._proc.wait()
            self._proc = self._inbox = self._outbox = None
            self._ready = False

    def __call__(self, *args, timeout_s: float | None = None):
        """``fn(*args)`` in the child, within ``timeout_s`` CPU seconds (default: the instance's limit)."""
        limit = self.timeout_s if timeout_s is None else timeout_s
        self._start()
        try:
            self._outbox.send((args, limit))
            wall = WALL_FACTOR * limit + WALL_EXTRA_S
            if not self._inbox.poll(wall):
                self.close()
                raise ItemTimeout(f"no result within {wall:g} s of wall-clock time (the backstop)")
            ok, value = self._inbox.recv()
        except (EOFError, OSError) as exc:
            try:
                code = self._proc.wait(5.0)
            except subprocess.TimeoutExpired:
                code = None
            self.close()
            if code == -signal.SIGXCPU:
                raise ItemTimeout(f"over the {limit:g} s CPU-time limit") from None
            raise WorkerCrashed(f"the worker process died (exit code {code})") from exc
        if ok:
            return value
        if isinstance(value, MemoryError):
            self.close()  # a fresh child for the next item
            raise ItemTooLarge(f"over the {self.memory_mb:g} MiB memory limit")
        raise value


if __name__ == "__main__":
    _child_main(*sys.argv[1:4])
