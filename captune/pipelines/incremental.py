"""``--incremental``: add new sources to an existing output folder.

What a folder holds is what its committed ``manifest.json`` lists (:mod:`captune.pipelines.commit`):
the manifest is written last and atomically, so it is the commit of a run. An incremental run

1. reads the committed state: the manifest, the ``source_id`` of every row in the listed shards, and of
   every failure record in the listed lists, which are the sources it skips (a new path holding the
   bytes of one of them is listed as a duplicate, so every input still comes out exactly once); a
   damaged manifest stops it with a clear message (:class:`captune.schemas.DamagedManifest`);
2. writes its new shards in a run folder of its own, under a run id drawn from the patterns, the seed
   and the committed source ids, and the merged failure lists there;
3. commits one manifest listing every shard (the earlier runs' stay in their folders), with one entry
   per run in ``runs``.
"""

import io
import json
import sys

import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems


def _read_json(path: str):
    with FileSystems.open(path, compression_type="uncompressed") as fh:
        return json.loads(fh.read())


def _read_jsonl(path: str) -> list[dict]:
    if not FileSystems.exists(path):
        return []
    with FileSystems.open(path, compression_type="uncompressed") as fh:
        return [json.loads(line) for line in fh.read().decode().splitlines() if line.strip()]


EMPTY = {"manifest": None, "sources": {}, "failures": [], "duplicates": [], "near_duplicates": []}


def committed_manifest(out: str, strict: bool = True) -> dict | None:
    """The committed manifest of ``out`` (local or remote), None when there is none. A damaged one raises
    :class:`captune.schemas.DamagedManifest` when ``strict``, else (a full rebuild replaces it) is
    reported on stderr and treated as none."""
    from captune.schemas.loader import DamagedManifest

    path = FileSystems.join(out, "manifest.json")
    if not FileSystems.exists(path):
        return None
    try:
        manifest = _read_json(path)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("shards"), list):
            raise ValueError("no list of shards")
    except ValueError as exc:
        if not strict:
            print(f"captune: {path} is damaged ({exc}); this build replaces it", file=sys.stderr)
            return None
        raise DamagedManifest(f"{path} is damaged ({exc}): --incremental cannot tell what the folder holds. "
                              "Rebuild without --incremental, or restore the manifest from a copy") from None
    return manifest


def committed(out: str, manifest: dict | None) -> dict:
    """``{manifest, sources, failures, duplicates, near_duplicates}`` of what ``out`` holds according to
    its committed ``manifest`` (:data:`EMPTY` for none); ``sources`` maps each source id in a row, a
    failure record or a near-duplicate record to its ``source_uri``."""
    if manifest is None:
        return EMPTY
    lists = {name: FileSystems.join(out, manifest.get("lists", {}).get(name, f"failures/{name}.jsonl"))
             for name in ("failures", "duplicates", "near_duplicates")}
    sources = {}
    for shard in manifest["shards"]:
        with FileSystems.open(FileSystems.join(out, shard["file"]), compression_type="uncompressed") as fh:
            table = pq.read_table(io.BytesIO(fh.read()), columns=["source_id", "source_uri"])
        sources.update(zip(table.column("source_id").to_pylist(), table.column("source_uri").to_pylist()))
    failures = _read_jsonl(lists["failures"])
    sources.update((f["source_id"], f["source_uri"]) for f in failures if f.get("source_id"))
    near = _read_jsonl(lists["near_duplicates"])
    sources.update((n["source_id"], n["source_uri"]) for n in near)
    return {"manifest": manifest, "sources": sources, "failures": failures, "near_duplicates": near,
            "duplicates": _read_jsonl(lists["duplicates"])}


def merge_failures(previous: list[dict], current: list[dict]) -> list[dict]:
    """Failure records of both runs; an input reported again keeps only its newest record."""
    again = {f["source_uri"] for f in current}
    return [f for f in previous if f["source_uri"] not in again] + current
