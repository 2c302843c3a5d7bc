"""Run a function in a child process with a time limit per call.

A parser that hangs or crashes (C++ code cannot be interrupted from Python,
and Beam runs DoFns off the main thread, so signals are no option) then costs
one item, not the worker: after a timeout or a crash the child is killed and a
fresh one starts on the next call. Exceptions raised by the function come back
and are re-raised in the caller.

The child is a fresh interpreter (``python -m captune.pipelines.isolation
module:function``) talking pickled frames over its stdin and stdout. Unlike
``multiprocessing``'s spawn, it never re-imports the caller's ``__main__``, so
it is safe from scripts, notebooks and Beam workers alike.
"""

import importlib
import os
import subprocess
import sys
from multiprocessing.connection import Connection


class ItemTimeout(Exception):
    """The call took longer than the limit."""


class WorkerCrashed(Exception):
    """The child process died during the call, or did not start."""


def _serve(inbox: Connection, outbox: Connection, fn) -> None:
    outbox.send("ready")  # imports are done: the time limit starts counting from here
    while True:
        try:
            args = inbox.recv()
        except EOFError:
            return
        try:
            outbox.send((True, fn(*args)))
        except Exception as exc:  # every failure goes back to the caller
            outbox.send((False, exc))


def _child_main(target: str) -> None:
    protocol_fd = os.dup(1)
    os.dup2(2, 1)  # anything the function prints goes to stderr, not into the protocol
    module, _, name = target.partition(":")
    fn = getattr(importlib.import_module(module), name)
    _serve(Connection(0, writable=False), Connection(protocol_fd, readable=False), fn)


class Isolated:
    """``Isolated(fn, timeout_s)(*args)`` calls ``fn(*args)`` in a child process.

    ``fn`` must be a module-level function, importable by the child (which gets
    the caller's ``sys.path``).
    """

    STARTUP_S = 300  # importing numpy, symusic and music21 on a cold, busy machine

    def __init__(self, fn, timeout_s: float):
        self.fn, self.timeout_s = fn, timeout_s
        self._proc = self._inbox = self._outbox = None

    def _start(self):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        target = f"{self.fn.__module__}:{self.fn.__qualname__}"
        self._proc = subprocess.Popen([sys.executable, "-m", __name__, target],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._outbox = Connection(os.dup(self._proc.stdin.fileno()), readable=False)
        self._inbox = Connection(os.dup(self._proc.stdout.fileno()), writable=False)
        self._proc.stdin.close()
        self._proc.stdout.close()
        try:
            ready = self._inbox.poll(self.STARTUP_S) and self._inbox.recv() == "ready"
        except EOFError:
            ready = False
        if not ready:
            self.close()
            raise WorkerCrashed(f"the worker process for {target} did not start")

    def close(self):
        """Stop the child, if any."""
        if self._proc is not None:
            self._outbox.close()
            self._inbox.close()
            self._proc.kill()
            self._proc.wait()
            self._proc = self._inbox = self._outbox = None

    def __call__(self, *args, timeout_s: float | None = None):
        """``fn(*args)`` in the child, within ``timeout_s`` seconds (default: the instance's limit)."""
        limit = self.timeout_s if timeout_s is None else timeout_s
        if self._proc is None:
            self._start()
        try:
            self._outbox.send(args)
            if not self._inbox.poll(limit):
                self.close()
                raise ItemTimeout(f"no result within {limit:g} s")
            ok, value = self._inbox.recv()
        except (EOFError, OSError) as exc:
            try:
                code = self._proc.wait(1.0)
            except subprocess.TimeoutExpired:
                code = None
            self.close()
            raise WorkerCrashed(f"the worker process died (exit code {code})") from exc
        if ok:
            return value
        raise value


if __name__ == "__main__":
    _child_main(sys.argv[1])
