"""The record schema and its version, the expectations and the loader."""

from captune.schemas.loader import (DamagedManifest, NoCommittedDataset, ShardChanged, UnknownSchemaVersion, load,
                                    read_list, read_manifest, upgrade)
from captune.schemas.record import SCHEMA, SCHEMA_VERSION, to_table

FAILURE_FIELDS = ("source_uri", "source_id", "stage", "reason", "detail")

__all__ = ["FAILURE_FIELDS", "SCHEMA", "SCHEMA_VERSION", "DamagedManifest", "NoCommittedDataset", "ShardChanged",
           "UnknownSchemaVersion", "load", "read_list", "read_manifest", "to_table", "upgrade"]
