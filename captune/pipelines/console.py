"""What a local build shows on the terminal: a progress line, and Beam's start-up noise filtered out.

Progress: the analysis DoFns append one short line per file to a file of their own process in a local
folder (:func:`note`), which works the same in the DirectRunner's in-memory, multi-threading (threads
of one process append to one file, a line at a time) and multi-processing modes; a thread of the launcher adds them up every few seconds (:class:`Progress`).

Noise: Beam's worker processes inherit the launcher's stderr and log at INFO and WARNING on start-up
(``apitools not found``, ``Discarding unparseable args``). :func:`filtered_stderr` puts a pipe in
place of file descriptor 2 during the run and drops those log lines unless ``--verbose``; errors and
tracebacks pass, except the KeyboardInterrupt tracebacks of worker processes that got the same Ctrl-C.
"""

import contextlib
import os
import re
import signal
import sys
import threading
import time

NOISE = re.compile(r"^(INFO|WARNING|DEBUG):(root|__main__|apache_beam[\w.]*|absl):")
TRACEBACK_BODY = (" ", "\t", "Traceback", "During handling", "The above exception", "\n")


def note(folder: str | None, rows: int, failed: int, parts: int = 0, part: bool = False) -> None:
    """Record in ``folder`` one analysed file (``rows`` made, ``failed`` failure records, ``parts``: the
    tunes of a book or clips of a recording it was split into, analysed later), or with ``part`` one
    analysed tune or clip."""
    if folder:
        with open(os.path.join(folder, f"{os.getpid()}.log"), "a") as fh:
            fh.write(f"{'p' if part else 'f'} {rows} {failed} {parts}\n")


def tally(folder: str) -> tuple[int, int, int, int, int]:
    """(files analysed, rows, failures, parts analysed, parts to analyse) noted in ``folder`` so far."""
    files = rows = failed = parts_done = parts = 0
    for name in os.listdir(folder):
        with open(os.path.join(folder, name)) as fh:
            for line in fh:
                fields = line.split()
                if len(fields) != 4:   # a line being written
                    continue
                rows, failed = rows + int(fields[1]), failed + int(fields[2])
                if fields[0] == "p":
                    parts_done += 1
                else:
                    files, parts = files + 1, parts + int(fields[3])
    return files, rows, failed, parts_done, parts


def progress_line(files: int, total: int, rows: int, failed: int, elapsed_s: float,
                  parts_done: int = 0, parts: int = 0) -> str:
    """``analysed 120/300 files, 118 rows, 2 failures, 4.1 files/s, ETA 44 s``; with tunes or clips to
    analyse, ``analysed 40/40 files and 1200/4400 tunes or clips, …`` and, once every file is read, the
    rate and ETA of the tunes and clips."""
    if files >= total and parts_done < parts:
        done, left, unit = parts_done, parts - parts_done, "tunes or clips"
    else:
        done, left, unit = files, total - files, "files"
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    eta = f"ETA {left / rate:.0f} s" if rate > 0 and left > 0 else "ETA -"
    split = f" and {parts_done}/{parts} tunes or clips" if parts else ""
    return (f"captune: analysed {files}/{total} files{split}, {rows} rows, {failed} failures, "
            f"{rate:.1f} {unit}/s, {eta}")


class Progress:
    """A thread printing :func:`progress_line` to ``stream`` every ``every_s`` seconds (on a terminal the
    line is redrawn in place) until :meth:`stop`."""

    def __init__(self, folder: str, total: int, stream, every_s: float = 2.0):
        self.folder, self.total, self.stream, self.every_s = folder, total, stream, every_s
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="captune-progress", daemon=True)
        self.started = time.time()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _loop(self):
        last = 0.0
        while not self._stop.wait(self.every_s):
            files, rows, failed, parts_done, parts = tally(self.folder)
            line = progress_line(files, self.total, rows, failed, time.time() - self.started, parts_done, parts)
            if self.tty:
                self.stream.write("\r" + line.ljust(100)[:120])
                self.stream.flush()
            elif time.time() - last >= 60:  # a log file gets a line a minute
                self.stream.write(line + "\n")
                self.stream.flush()
                last = time.time()


def descendants(pid: int) -> list[int]:
    """Process ids of every descendant of ``pid`` (from ``/proc``; empty where there is none)."""
    children = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop_descendants() -> None:
    """SIGTERM every descendant of this process (Beam's workers, the analysis children), so that Ctrl-C
    stops them rather than leaving them running."""
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


INTERRUPTED = "captune: interrupted; nothing was committed, the output folder keeps its previous dataset"


@contextlib.contextmanager
def exit_on_interrupt(cleanup):
    """During the block, Ctrl-C (SIGINT) or SIGTERM ends the run at once: the workers and analysis
    children are stopped, ``cleanup()`` runs (the lock is released), one line is printed and the
    process exits with status 130. Beam's runner may swallow a KeyboardInterrupt and wait for workers
    that the same Ctrl-C stopped, so the handler does not raise one. Main thread only."""
    def handle(signum, frame):
        stop_descendants()
        try:
            cleanup()
        finally:
            os.write(STDERR_FD[0], (INTERRUPTED + "\n").encode())
            os._exit(130)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


STDERR_FD = [2]  # the real stderr while filtered_stderr has a pipe in its place


@contextlib.contextmanager
def filtered_stderr(verbose: bool):
    """During the block, file descriptor 2 (inherited by Beam's worker processes) goes through a filter
    dropping :data:`NOISE` log lines unless ``verbose``; yields a stream writing to the real stderr."""
    if verbose:
        try:
            yield sys.stderr
        except KeyboardInterrupt:
            stop_descendants()
            raise
        return
    sys.stderr.flush()
    saved = os.dup(2)
    STDERR_FD[0] = saved
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    real = os.fdopen(os.dup(saved), "w", buffering=1)
    dropping = threading.Event()

    def pump():
        held = None  # the lines of a traceback, until its last line says whether it is a Ctrl-C's
        with os.fdopen(read_fd, "rb") as pipe:
            for raw in pipe:
                line = raw.decode("utf-8", "replace")
                if held is not None:
                    held.append(line)
                    if line.startswith(TRACEBACK_BODY):
                        continue
                    line, lines, held = "", ([] if line.startswith("KeyboardInterrupt") else held), None
                    real.writelines(lines)
                elif line.startswith("Traceback (most recent call last):"):
                    held = [line]
                    continue
                if line and not dropping.is_set() and not NOISE.match(line):
                    real.write(line)
                real.flush()

    thread = threading.Thread(target=pump, name="captune-stderr", daemon=True)
    thread.start()
    try:
        yield real
    except KeyboardInterrupt:
        dropping.set()  # the workers' own reports of the interrupt are not shown
        stop_descendants()
        raise
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last writer in this process is gone: the pump ends at EOF
        STDERR_FD[0] = 2
        os.close(saved)
        thread.join(2)
        real.close()
