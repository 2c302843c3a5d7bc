"""Atomic, locked builds: a run folder of its own, one commit record, an exclusive lock.

Layout of an output folder ``OUT`` (local or an object store such as ``gs://``)::

    OUT/.lock                              while a build runs: {run_id, host, pid, started}
    OUT/runs/NNNNN-<run_id>/data/*.parquet  a build's shards (NNNNN: the generation, 1 for a new folder)
    OUT/runs/NNNNN-<run_id>/failures/*.jsonl, plots/*.png, manifest.json (the run's own record)
    OUT/runs/NNNNN-<run_id>/.staging/       during the run only: media waiting for the shard writer
    OUT/manifest.json                       THE COMMIT: names exactly the shards and lists of the dataset
    OUT/README.md                           the dataset card, written after the commit from it

A build writes nothing outside its run folder until :func:`commit`, which writes ``OUT/manifest.json``
in one step (locally a temporary file renamed over it; on an object store one object PUT, which
readers see whole or not at all), then the card, then deletes every file of ``runs/`` (and of the
pre-run-folder layout ``data/``, ``failures/``, ``plots/``) that the new manifest does not name. A
reader that goes through the manifest (:func:`captune.schemas.load`, the card's ``data_files``)
therefore sees the previous dataset, whole, until the commit, and the new one after it; a build
killed before the commit leaves the previous dataset untouched, and its leftovers are removed by the
next build (:func:`remove_unlisted`).

The lock is created exclusively (``O_EXCL``) on local folders; a lock whose process is gone on this
host is stale (the build was killed): it is explained and taken over. On object stores Beam's
FileSystems offers no create-if-absent, so there the lock is checked then written (a race of two
launchers started within the same second is not caught) and a lock from another host is never
assumed stale.
"""

import glob
import json
import os
import socket
import sys
import time

from apache_beam.io.filesystems import FileSystems

from captune.pipelines.errors import OutputLocked, OutputNotWritable

LOCK = ".lock"
RUNS = "runs"
MANIFEST = "manifest.json"
LISTS = ("failures", "duplicates", "near_duplicates")  # failures/<name>.jsonl of a run
LEGACY = ("data/*.parquet", "failures/*.jsonl", "plots/*.png")  # the layout before run folders


def is_local(path: str) -> bool:
    return FileSystems.get_scheme(path) in (None, "file")


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old or the new content, never a part: a
    temporary file renamed over it locally, one object PUT on an object store."""
    if not is_local(path):
        with FileSystems.create(path, compression_type="uncompressed") as fh:
            fh.write(data)
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def run_folder(generation: int, run_id: str) -> str:
    """A build's folder relative to OUT, e.g. ``runs/00001-3f2a9c1d0b7e``."""
    return f"{RUNS}/{generation:05d}-{run_id}"


def next_generation(manifest: dict | None) -> int:
    """The generation of the next build: the committed one's plus 1 (1 for a new folder)."""
    return (manifest or {}).get("generation", 0) + 1


def list_path(run: str, name: str) -> str:
    """A run's list ``failures``, ``duplicates`` or ``near_duplicates``, relative to OUT."""
    return f"{run}/failures/{name}.jsonl"


def holder_info(run_id: str) -> dict:
    return {"run_id": run_id, "host": socket.gethostname(), "pid": os.getpid(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _read_lock(path: str) -> dict | None:
    try:
        with FileSystems.open(path, compression_type="uncompressed") as fh:
            return json.loads(fh.read())
    except Exception:  # vanished meanwhile, or written half by a killed process
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def stale(holder: dict | None) -> bool:
    """True when the lock's process is gone on this host (a killed build), or the lock is unreadable
    because its writer died half-way."""
    if holder is None:
        return True
    return holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", -1)))


def _describe(holder: dict) -> str:
    return (f"run {holder.get('run_id')} (pid {holder.get('pid')} on host {holder.get('host')}, "
            f"started {holder.get('started')})")


def acquire(out: str, run_id: str, echo=lambda m: print(m, file=sys.stderr)) -> dict:
    """Take ``OUT/.lock`` for this process, or raise :class:`OutputLocked` naming its holder;
    :class:`OutputNotWritable` when ``out`` cannot be written. A stale lock is explained via ``echo``
    and taken over. Returns the holder record written."""
    path = FileSystems.join(out, LOCK)
    me = holder_info(run_id)
    data = json.dumps(me, sort_keys=True).encode()
    if is_local(out):
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as exc:  # a file in the way, no permission, a read-only file system
            raise OutputNotWritable(f"cannot write to the output folder {out}: {exc.strerror or exc}") from None
    for _ in range(2):
        try:
            if is_local(out):
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                return me
            if not FileSystems.exists(path):
                with FileSystems.create(path, compression_type="uncompressed") as fh:
                    fh.write(data)
                return me
        except FileExistsError:
            pass
        except OSError as exc:
            raise OutputNotWritable(f"cannot write to the output folder {out}: {exc.strerror or exc}") from None
        holder = _read_lock(path)
        if holder is None:  # perhaps being written this instant: look again before calling it stale
            time.sleep(1.0)
            holder = _read_lock(path)
        if not stale(holder):
            raise OutputLocked(
                f"{out} is being built by {_describe(holder)}: wait for it to finish. If that build is "
                f"certainly gone (its host rebooted, say), delete {path} and run again.")
        echo(f"captune: a stale lock in {out}: "
             f"{_describe(holder) if holder else 'an unreadable lock'} is no longer running (killed?); "
             "its unfinished run is discarded and this build takes over")
        FileSystems.delete([path])
    raise OutputLocked(f"{out}: could not take the lock {path}")


def release(out: str, me: dict) -> None:
    """Remove ``OUT/.lock`` if this process still holds it."""
    path = FileSystems.join(out, LOCK)
    holder = _read_lock(path)
    if holder is not None and holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
        FileSystems.delete([path])


def listed_files(manifest: dict | None) -> set[str]:
    """Every file (relative to OUT) a committed manifest names: shards, lists and plots."""
    if not manifest:
        return set()
    files = {s["file"] for s in manifest.get("shards", [])}
    files |= set(manifest.get("lists", {}).values())
    files |= set(manifest.get("plots", []))
    return files


def _all_files(out: str, legacy: bool) -> list[str]:
    """Paths relative to OUT of every file below ``runs/`` and, if ``legacy``, of the pre-run-folder
    layout."""
    legacy_patterns = LEGACY if legacy else ()
    if is_local(out):
        found = {os.path.relpath(os.path.join(d, n), out)
                 for d, _, names in os.walk(os.path.join(out, RUNS)) for n in names}
        found |= {os.path.relpath(p, out) for pattern in legacy_patterns for p in glob.glob(os.path.join(out, pattern))}
        return sorted(p.replace(os.sep, "/") for p in found)
    patterns = [FileSystems.join(out, RUNS, "**")] + [FileSystems.join(out, p) for p in legacy_patterns]
    root = FileSystems.join(out, "")
    found = {m.path for result in FileSystems.match(patterns) for m in result.metadata_list}
    return sorted(p[len(root):].lstrip("/") for p in found if p.startswith(root))


def remove_unlisted(out: str, manifest: dict | None) -> list[str]:
    """Delete every file of ``runs/`` (and of the old ``data/``, ``failures/``, ``plots/``) that
    ``manifest`` does not name, then empty local folders; returns the deleted paths relative to OUT.
    Called with the committed manifest by the lock holder only: before its run (leftovers of killed
    builds) and after its commit (the previous builds' files). Without a manifest the folder may not be
    captune's: only ``runs/`` is cleared."""
    keep = listed_files(manifest)
    doomed = [p for p in _all_files(out, legacy=manifest is not None) if p not in keep]
    if doomed:
        FileSystems.delete([FileSystems.join(out, p) for p in doomed])
    if is_local(out):
        for folder in (os.path.join(out, RUNS), *(os.path.join(out, d) for d in ("data", "failures", "plots"))):
            for dirpath, _, _ in sorted(os.walk(folder), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(dirpath)
                except OSError:  # not empty
                    pass
    return doomed


def commit(out: str, manifest: dict, write_card) -> None:
    """Make the run ``manifest`` describes the dataset of ``out``: write ``OUT/manifest.json``
    atomically (the commit), then the card (``write_card(out, manifest)``), then delete what the
    previous builds left."""
    atomic_write(FileSystems.join(out, MANIFEST), json.dumps(manifest, indent=2, sort_keys=True).encode())
    write_card(out, manifest)
    remove_unlisted(out, manifest)
