"""``--incremental``: add new sources to an existing output folder.

What a folder holds is what its ``manifest.json`` lists: the manifest is written last, so it is the
commit of a run. An incremental run

1. reads the committed state: the manifest, the ``source_id`` of every row in the listed shards, and of
   every failure record, which are the sources it skips (a new path holding the bytes of one of them
   is listed as a duplicate, so every input still comes out exactly once);
2. deletes shard files the manifest does not list (left by a run killed before its manifest);
3. writes its shards as ``data/{split}-{run_id}-NNNNN-of-MMMMM.parquet`` under a run id drawn from the
   patterns, the seed and the committed source ids, so a repeated run of the same state rewrites the
   same names;
4. writes one manifest listing every shard, with one entry per run in ``runs``.
"""

import io
import json

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


def committed(out: str) -> dict:
    """``{manifest, sources, failures, duplicates, near_duplicates}`` of what ``out`` holds (:data:`EMPTY`
    for a new folder); ``sources`` maps each source id in a row, a failure record or a near-duplicate
    record to its ``source_uri``."""
    path = FileSystems.join(out, "manifest.json")
    if not FileSystems.exists(path):
        return EMPTY
    manifest = _read_json(path)
    sources = {}
    for shard in manifest["shards"]:
        with FileSystems.open(FileSystems.join(out, shard["file"]), compression_type="uncompressed") as fh:
            table = pq.read_table(io.BytesIO(fh.read()), columns=["source_id", "source_uri"])
        sources.update(zip(table.column("source_id").to_pylist(), table.column("source_uri").to_pylist()))
    failures = _read_jsonl(FileSystems.join(out, "failures", "failures.jsonl"))
    sources.update((f["source_id"], f["source_uri"]) for f in failures if f.get("source_id"))
    near = _read_jsonl(FileSystems.join(out, "failures", "near_duplicates.jsonl"))
    sources.update((n["source_id"], n["source_uri"]) for n in near)
    return {"manifest": manifest, "sources": sources, "failures": failures, "near_duplicates": near,
            "duplicates": _read_jsonl(FileSystems.join(out, "failures", "duplicates.jsonl"))}


def remove_uncommitted(out: str, manifest: dict | None) -> list[str]:
    """Delete the shard files in ``out/data`` that ``manifest`` does not list; returns their paths."""
    listed = {FileSystems.join(out, s["file"]) for s in (manifest or {}).get("shards", [])}
    found = FileSystems.match([FileSystems.join(out, "data", "*.parquet")])[0].metadata_list
    orphans = sorted(m.path for m in found if m.path not in listed)
    if orphans:
        FileSystems.delete(orphans)
    return orphans


def merge_failures(previous: list[dict], current: list[dict]) -> list[dict]:
    """Failure records of both runs; an input reported again keeps only its newest record."""
    again = {f["source_uri"] for f in current}
    return [f for f in previous if f["source_uri"] not in again] + current
