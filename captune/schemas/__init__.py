"""The record schema and its version."""

from captune.schemas.record import SCHEMA, SCHEMA_VERSION, to_table

FAILURE_FIELDS = ("source_uri", "source_id", "stage", "reason", "detail")

__all__ = ["FAILURE_FIELDS", "SCHEMA", "SCHEMA_VERSION", "to_table"]
