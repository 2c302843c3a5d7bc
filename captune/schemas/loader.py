"""Load a captune dataset folder as a pyarrow Table or a Hugging Face ``datasets.Dataset``.

``load(OUT)`` reads ``OUT/data/*.parquet``, finds each shard's schema version (the Parquet schema
metadata ``captune_schema_version``, else the ``schema_version`` column), passes the shard through the
reader registered for that version, which returns a table of the current :data:`SCHEMA`, and refuses
a version no reader knows with a message saying which versions this captune reads.

A new schema version adds a reader for the old one (``@reader("1")``) that upgrades its tables:
renamed columns back to their names, added columns filled with nulls.
"""

import glob
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


def shard_paths(out: str, split: str | None = None) -> list[str]:
    """Sorted shard files of ``out`` (one split, or all)."""
    paths = sorted(glob.glob(os.path.join(out, "data", f"{split or '*'}-*.parquet")))
    if not paths:
        raise FileNotFoundError(f"no Parquet shard{f' of split {split!r}' if split else ''} in {out}/data")
    return paths


def features():
    """The ``datasets.Features`` of :data:`SCHEMA`."""
    import datasets

    return datasets.Features.from_arrow_schema(SCHEMA)


def load(out: str, format: str = "arrow", split: str | None = None):
    """Every shard of ``out`` (or of one ``split``) as a pyarrow Table (``format="arrow"``) or a
    ``datasets.Dataset`` whose Features come from :data:`SCHEMA` (``format="datasets"``)."""
    if format not in ("arrow", "datasets"):
        raise ValueError(f"format {format!r}: expected 'arrow' or 'datasets'")
    table = pa.concat_tables([upgrade(pq.read_table(p), os.path.relpath(p, out)) for p in shard_paths(out, split)])
    if format == "arrow":
        return table
    import datasets
    from datasets.table import InMemoryTable

    return datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=features()),
                            split=split)
