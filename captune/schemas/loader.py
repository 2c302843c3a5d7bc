"""Load a captune dataset folder as a pyarrow Table or a Hugging Face ``datasets.Dataset``.

``load(OUT)`` reads exactly the shards the committed ``OUT/manifest.json`` lists (never a file a
build left unlisted), checks each one's size in bytes against the manifest (``verify="sha256"`` also
its sha256), finds each shard's schema version (the Parquet schema
metadata ``captune_schema_version``, else the ``schema_version`` column), passes the shard through the
reader registered for that version, which returns a table of the current :data:`SCHEMA`, and refuses
a version no reader knows with a message saying which versions this captune reads.

A new schema version adds a reader for the old one (``@reader("1")``) that upgrades its tables:
renamed columns back to their names, added columns filled with nulls.
"""

import hashlib
import json
import os
from collections.abc import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from captune.schemas.record import SCHEMA, SCHEMA_VERSION

READERS: dict[str, Callable[[pa.Table], pa.Table]] = {}


class UnknownSchemaVersion(ValueError):
    """A shard written with a schema version no registered reader understands."""


def reader(version: str):
    """Register ``fn(table) -> table of SCHEMA`` as the reader of schema ``version``."""
    def register(fn):
        READERS[version] = fn
        return fn
    return register


@reader(SCHEMA_VERSION)
def _read_current(table: pa.Table) -> pa.Table:
    """The current version: columns in schema order, cast to the schema's exact types and metadata."""
    missing = [n for n in SCHEMA.names if n not in table.column_names]
    if missing:
        raise ValueError(f"schema version {SCHEMA_VERSION} table lacks column(s) {missing}")
    return table.select(SCHEMA.names).cast(SCHEMA)


VERSION_2_COLUMNS = ("fingerprint", "augmentation_check", "clip_start_s", "audio_stats", "loudness_range_lu")
VERSION_3_COLUMNS = ("key_changes", "time_signature_source", "sections", "segment_captions")


def _with_nulls(table: pa.Table, names: tuple[str, ...]) -> pa.Table:
    """``table`` with each of the columns ``names`` it lacks appended as nulls of the schema's type."""
    for name in names:
        if name not in table.column_names:
            field = SCHEMA.field(name)
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table


@reader("2")
def _read_v2(table: pa.Table) -> pa.Table:
    """Version 2 lacks the version-3 columns (key changes, meter source, sections, segment
    captions): they come back null."""
    return _read_current(_with_nulls(table, VERSION_3_COLUMNS))


@reader("1")
def _read_v1(table: pa.Table) -> pa.Table:
    """Version 1 also lacks the version-2 columns (near-duplicate fingerprint, clips, audio and
    augmentation facts): they come back null."""
    return _read_v2(_with_nulls(table, VERSION_2_COLUMNS))


def schema_version(table: pa.Table) -> str:
    """The schema version a table was written with: metadata first, then the column's one value."""
    meta = (table.schema.metadata or {}).get(b"captune_schema_version")
    if meta:
        return meta.decode()
    if "schema_version" in table.column_names:
        values = set(table.column("schema_version").to_pylist())
        if len(values) == 1:
            return str(values.pop())
        raise ValueError(f"a shard mixes schema versions {sorted(map(str, values))}")
    raise ValueError("the table records no schema version")


def upgrade(table: pa.Table, where: str = "table") -> pa.Table:
    """``table`` in the current :data:`SCHEMA`, via the reader of its version; ``where`` names it in errors."""
    version = schema_version(table)
    if version not in READERS:
        raise UnknownSchemaVersion(
            f"{where}: schema_version {version!r} is not one this captune reads (known: "
            f"{', '.join(sorted(READERS))}); upgrade captune to load it")
    return READERS[version](table)


class NoCommittedDataset(FileNotFoundError):
    """The folder holds no committed dataset: no ``manifest.json`` (a new folder, or the first build
    was killed before its commit)."""


class DamagedManifest(ValueError):
    """``manifest.json`` exists but cannot be read as a captune manifest."""


class ShardChanged(ValueError):
    """A shard the manifest lists is missing or differs from what the build wrote."""


def read_manifest(out: str) -> dict:
    """The committed manifest of ``out``; raises :class:`NoCommittedDataset` or :class:`DamagedManifest`."""
    path = os.path.join(out, "manifest.json")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise NoCommittedDataset(f"no committed dataset in {out}: there is no manifest.json (no build has "
                                 "finished there yet; files a killed build left are not part of a dataset)") from None
    try:
        manifest = json.loads(data)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("shards"), list):
            raise ValueError("no list of shards")
        for s in manifest["shards"]:
            if not isinstance(s, dict) or not {"file", "split"} <= s.keys():
                raise ValueError(f"a shard entry without file and split: {s!r:.80}")
    except ValueError as exc:
        raise DamagedManifest(f"{path} is damaged ({exc}); it is not the file a captune build wrote. Rebuild "
                              "the folder, or restore the manifest from a copy") from None
    return manifest


def committed_shards(out: str, split: str | None = None, verify: str = "size") -> list[str]:
    """Paths of the shards the committed manifest lists (one split, or all), sorted, each checked
    (``verify``: ``"size"`` bytes on disk, ``"sha256"`` also the content, ``"none"``)."""
    if verify not in ("size", "sha256", "none"):
        raise ValueError(f"verify {verify!r}: expected 'size', 'sha256' or 'none'")
    manifest = read_manifest(out)
    entries = sorted((s for s in manifest["shards"] if split in (None, s["split"])), key=lambda s: s["file"])
    if not entries:
        raise FileNotFoundError(f"no Parquet shard{f' of split {split!r}' if split else ''} in the dataset in {out}")
    paths = []
    for entry in entries:
        path = os.path.join(out, entry["file"])
        try:
            size = os.path.getsize(path)
        except OSError:
            raise ShardChanged(f"{entry['file']} is listed in {out}/manifest.json but missing") from None
        if verify != "none" and "bytes" in entry and size != entry["bytes"]:
            raise ShardChanged(f"{entry['file']}: {size} bytes, the manifest says {entry['bytes']} (changed after "
                               f"the build; `captune validate {out}` tells more)")
        if verify == "sha256" and "sha256" in entry:
            with open(path, "rb") as fh:
                if hashlib.sha256(fh.read()).hexdigest() != entry["sha256"]:
                    raise ShardChanged(f"{entry['file']}: sha256 differs from the manifest (changed after the build)")
        paths.append(path)
    return paths


def features():
    """The ``datasets.Features`` of :data:`SCHEMA`."""
    import datasets

    return datasets.Features.from_arrow_schema(SCHEMA)


def load(out: str, format: str = "arrow", split: str | None = None, verify: str = "size"):
    """Every committed shard of ``out`` (or of one ``split``) as a pyarrow Table (``format="arrow"``) or
    a ``datasets.Dataset`` whose Features come from :data:`SCHEMA` (``format="datasets"``); ``verify``:
    see :func:`committed_shards`."""
    if format not in ("arrow", "datasets"):
        raise ValueError(f"format {format!r}: expected 'arrow' or 'datasets'")
    table = pa.concat_tables([upgrade(pq.read_table(p), os.path.relpath(p, out))
                              for p in committed_shards(out, split, verify)])
    if format == "arrow":
        return table
    import datasets
    from datasets.table import InMemoryTable

    return datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=features()),
                            split=split)


def read_list(out: str, name: str = "failures") -> list[dict]:
    """The committed list ``failures``, ``duplicates`` or ``near_duplicates`` of ``out`` (JSON records)."""
    manifest = read_manifest(out)
    rel = manifest.get("lists", {}).get(name, f"failures/{name}.jsonl")  # manifests before run folders
    path = os.path.join(out, rel)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
