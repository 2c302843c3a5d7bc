"""An on-disk cache of LLM responses, keyed by (model, prompt).

One JSON file per entry, ``ROOT/ab/abcdef….json`` where the name is
``sha256(model + "\\0" + prompt)``; the file holds ``{"model", "response"}``.
Writes go to a temporary file that is renamed into place, so concurrent
workers (processes or threads) never see half a file, and two workers writing
the same key write the same bytes. A re-run with the same model and prompts
therefore makes no request at all.

Storage is pluggable: ``fs`` is any object with ``read(path) -> bytes | None``
and ``write(path, data)`` (the pipeline passes one on Beam's FileSystems for
``gs://`` outputs); the default works on a local folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

__all__ = ["ResponseCache", "LocalFiles", "cache_key"]


def cache_key(model: str, prompt: str) -> str:
    """sha256 hex of the model name and the prompt text."""
    return hashlib.sha256(f"{model}\0{prompt}".encode()).hexdigest()


class LocalFiles:
    """Local storage with atomic writes (temporary file + rename)."""

    @staticmethod
    def join(root: str, *parts: str) -> str:
        return os.path.join(root, *parts)

    @staticmethod
    def read(path: str) -> bytes | None:
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None

    @staticmethod
    def write(path: str, data: bytes) -> None:
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


class ResponseCache:
    """``get(model, prompt) -> str | None`` and ``put(model, prompt, response)``."""

    def __init__(self, root: str, fs=None):
        self.root, self.fs = root, fs or LocalFiles()
        self.hits = self.misses = 0

    def path(self, model: str, prompt: str) -> str:
        key = cache_key(model, prompt)
        return self.fs.join(self.root, key[:2], f"{key}.json")

    def get(self, model: str, prompt: str) -> str | None:
        data = self.fs.read(self.path(model, prompt))
        if data is None:
            self.misses += 1
            return None
        try:
            record = json.loads(data)
        except ValueError:  # a damaged entry is a miss, rewritten on put
            self.misses += 1
            return None
        self.hits += 1
        return record.get("response")

    def put(self, model: str, prompt: str, response: str) -> None:
        record = {"model": model, "response": response}
        self.fs.write(self.path(model, prompt), json.dumps(record, sort_keys=True).encode())
