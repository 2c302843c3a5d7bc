"""Files a worker needs on its own disk (a soundfont for FluidSynth, Essentia's models, a local LLM
folder), fetched through Beam's FileSystems from wherever they are (``gs://``, ``s3://``, …).

FluidSynth, TensorFlow and transformers open local paths only, so a remote file or folder is copied
once per worker machine into ``$TMPDIR/captune-files/<sha256 of the uri>/`` (written under a
temporary name and renamed, so the worker processes of one machine share one complete copy); a
local path is used as it is. The launcher refuses local paths when the runner's workers do not share
its disk (:func:`captune.pipelines.options.check_remote_paths`).
"""

import dataclasses
import hashlib
import os
import shutil
import tempfile

from apache_beam.io.filesystems import FileSystems

from captune import items
from captune.pipelines.commit import is_local


def cache_dir(uri: str) -> str:
    """The local folder a remote ``uri`` is copied into."""
    return os.path.join(tempfile.gettempdir(), "captune-files", hashlib.sha256(uri.encode()).hexdigest()[:16])


def fetch(uri: str, folder: bool) -> str:
    """A local copy of the file (``folder`` False) or of every file below the folder ``uri``, kept in
    :func:`cache_dir`; returns the copy's path (the file, or the folder). Works for any FileSystems
    uri, local ones included. Raises ``FileNotFoundError`` when nothing is there."""
    base = uri.rstrip("/")
    name = base.rsplit("/", 1)[-1] or "root"
    target = os.path.join(cache_dir(uri), name)
    if os.path.exists(target):
        return target
    pattern = FileSystems.join(base, "**") if folder else base
    found = [m.path for m in FileSystems.match([pattern])[0].metadata_list]
    if not found:
        raise FileNotFoundError(f"{uri}: nothing there to copy")
    os.makedirs(cache_dir(uri), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".part-", dir=cache_dir(uri))
    try:
        for path in found:
            local = os.path.join(staging, os.path.relpath(path, base) if folder else name)
            os.makedirs(os.path.dirname(local), exist_ok=True)
            with FileSystems.open(path, compression_type="uncompressed") as src, open(local, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        os.rename(staging if folder else os.path.join(staging, name), target)
    except OSError:  # a rename onto the copy another process of this machine finished first is fine
        if not os.path.exists(target):
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def local_path(uri: str | None, folder: bool) -> str | None:
    """``uri`` itself when it is local (or None), else its local copy (:func:`fetch`)."""
    if uri is None or is_local(uri):
        return uri
    return fetch(uri, folder)


def localized(settings: items.Settings) -> items.Settings:
    """``settings`` with a remote soundfont and Essentia model folder replaced by local copies."""
    return dataclasses.replace(settings, soundfont=local_path(settings.soundfont, folder=False),
                               essentia_models=local_path(settings.essentia_models, folder=True))
