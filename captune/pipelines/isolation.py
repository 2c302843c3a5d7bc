"""Run a function in a child process with a time limit per call.

A parser that hangs or crashes (C++ code cannot be interrupted from Python,
and Beam runs DoFns off the main thread, so signals are no option) then costs
one item, not the worker: after a timeout or a crash the child is killed and a
fresh one starts on the next call. Exceptions raised by the function come back
and are re-raised in the caller.
"""

import multiprocessing as mp


class ItemTimeout(Exception):
    """The call took longer than the limit."""


class WorkerCrashed(Exception):
    """The child process died during the call."""


def _serve(conn, fn):
    conn.send("ready")  # imports are done: the time limit starts counting from here
    while True:
        try:
            args = conn.recv()
        except EOFError:
            return
        try:
            conn.send((True, fn(*args)))
        except Exception as exc:  # every failure goes back to the caller
            conn.send((False, exc))


class Isolated:
    """``Isolated(fn, timeout_s)(*args)`` calls ``fn(*args)`` in a child process.

    ``fn`` must be importable by name (a module-level function): the child is
    started with the ``spawn`` method, which is safe in threaded processes.
    """

    STARTUP_S = 300  # importing numpy, symusic and music21 on a cold, busy machine

    def __init__(self, fn, timeout_s: float):
        self.fn, self.timeout_s = fn, timeout_s
        self._proc = self._conn = None

    def _start(self):
        parent, child = mp.get_context("spawn").Pipe()
        self._proc = mp.get_context("spawn").Process(target=_serve, args=(child, self.fn), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        try:
            ready = parent.poll(self.STARTUP_S) and parent.recv() == "ready"
        except EOFError:
            ready = False
        if not ready:
            self.close()
            raise WorkerCrashed(f"the worker process did not start (limit {self.STARTUP_S} s)")

    def close(self):
        """Stop the child, if any."""
        if self._proc is not None:
            self._conn.close()
            self._proc.kill()
            self._proc.join()
            self._proc = self._conn = None

    def __call__(self, *args):
        if self._proc is None:
            self._start()
        try:
            self._conn.send(args)
            if not self._conn.poll(self.timeout_s):
                self.close()
                raise ItemTimeout(f"no result within {self.timeout_s:g} s")
            ok, value = self._conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError) as exc:
            self._proc.join(1.0)
            code = self._proc.exitcode
            self.close()
            raise WorkerCrashed(f"the worker process died (exit code {code})") from exc
        if ok:
            return value
        raise value
