"""Check a built dataset folder against its manifest, the schema and the expectations.

``check_dataset(OUT)`` reads ``OUT/manifest.json`` and every ``OUT/data/*.parquet`` and reports
what is wrong: shards missing, added, resized or altered since the build (sha256 and size in bytes
against the manifest), unreadable (truncated) shards, missing or retyped columns, an unknown
``schema_version``, row counts that differ from the manifest, and rows failing the expectations
(:func:`captune.schemas.expectations.validate_table`). Local folders only.
"""

import hashlib
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

from captune.schemas.expectations import validate_table
from captune.schemas.record import SCHEMA_VERSION


def _check_shard(path: str, entry: dict | None) -> dict:
    """``{file, rows, problems, failed}`` of one shard file; ``entry`` is its manifest record."""
    data = open(path, "rb").read()
    problems = []
    if entry is None:
        problems.append("not listed in manifest.json")
    else:
        if "bytes" in entry and entry["bytes"] != len(data):
            problems.append(f"size {len(data)} bytes, manifest says {entry['bytes']}")
        if "sha256" in entry and entry["sha256"] != hashlib.sha256(data).hexdigest():
            problems.append("sha256 differs from manifest.json (the file changed after the build)")
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as exc:
        return {"rows": None, "problems": problems + [f"cannot be read: {exc}"], "failed": {}}
    version = (table.schema.metadata or {}).get(b"captune_schema_version", b"").decode()
    if version != SCHEMA_VERSION:
        problems.append(f"schema_version {version or 'missing'!r}, expected {SCHEMA_VERSION!r}")
    if entry is not None and entry.get("rows") != table.num_rows:
        problems.append(f"{table.num_rows} rows, manifest says {entry.get('rows')}")
    report = validate_table(table)
    return {"rows": table.num_rows, "problems": problems + report["problems"], "failed": report["failed"]}


def check_dataset(out: str) -> dict:
    """``{success, problems, shards: {file: {rows, problems, failed}}}`` for the dataset in ``out``."""
    problems, shards = [], {}
    try:
        with open(os.path.join(out, "manifest.json")) as fh:
            manifest = json.load(fh)
    except (OSError, ValueError) as exc:
        manifest = {}
        problems.append(f"manifest.json cannot be read: {exc}")
    listed = {s["file"]: s for s in manifest.get("shards", [])}
    data_dir = os.path.join(out, "data")
    present = sorted(f"data/{n}" for n in os.listdir(data_dir) if n.endswith(".parquet")) \
        if os.path.isdir(data_dir) else []
    if not present:
        problems.append("no Parquet shard in data/")
    problems += [f"{f} is listed in manifest.json but missing" for f in sorted(set(listed) - set(present))]
    for name in present:
        shards[name] = _check_shard(os.path.join(out, name), listed.get(name) if manifest else {})
    rows = sum(s["rows"] or 0 for s in shards.values())
    if manifest and manifest.get("counts", {}).get("rows") != rows:
        problems.append(f"{rows} rows in the shards, manifest says {manifest.get('counts', {}).get('rows')}")
    success = not problems and not any(s["problems"] or s["failed"] for s in shards.values())
    return {"success": success, "problems": problems, "shards": shards}


def format_report(out: str, report: dict) -> str:
    """A readable report: one line per shard, then what failed."""
    lines = [f"captune validate {out}: {'OK' if report['success'] else 'FAILED'}"]
    lines += [f"  {p}" for p in report["problems"]]
    for name, s in report["shards"].items():
        ok = not s["problems"] and not s["failed"]
        lines.append(f"  {name}  rows={s['rows']}  {'ok' if ok else 'FAILED'}")
        lines += [f"    {p}" for p in s["problems"]]
        lines += [f"    {e}: {n} row(s)" for e, n in s["failed"].items()]
    return "\n".join(lines)
