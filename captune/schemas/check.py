"""Check a built dataset folder against its manifest, the schema and the expectations.

``check_dataset(OUT)`` reads ``OUT/manifest.json`` and every shard it lists and reports what is
wrong: shards missing, resized or altered since the build (sha256 and size in bytes
against the manifest), unreadable (truncated) shards, missing or retyped columns, an unknown
``schema_version``, row counts that differ from the manifest, and rows failing the expectations
(:func:`captune.schemas.expectations.validate_table`). Parquet and JSON-lines files in the folder that
the manifest does not name (left by a killed build, or copied in) are reported as not part of the
dataset. Local folders only.
"""

import hashlib
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

from captune.schemas.expectations import validate_table
from captune.schemas.record import SCHEMA_VERSION


def _check_shard(path: str, entry: dict) -> dict:
    """``{file, rows, problems, failed}`` of one shard file; ``entry`` is its manifest record."""
    data = open(path, "rb").read()
    problems = []
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
    if entry.get("rows") != table.num_rows:
        problems.append(f"{table.num_rows} rows, manifest says {entry.get('rows')}")
    report = validate_table(table)
    return {"rows": table.num_rows, "problems": problems + report["problems"], "failed": report["failed"]}


def stray_files(out: str, manifest: dict) -> list[str]:
    """Parquet and JSON-lines files below ``out`` (paths relative to it, sorted) that ``manifest`` does
    not name: not part of the dataset (``llm_cache/`` is left out)."""
    listed = {s["file"] for s in manifest.get("shards", [])} | set(manifest.get("lists", {}).values())
    if not manifest.get("lists"):  # manifests before run folders
        listed |= {f"failures/{n}.jsonl" for n in ("failures", "duplicates", "near_duplicates")}
    found = []
    for dirpath, dirnames, names in os.walk(out):
        dirnames[:] = sorted(d for d in dirnames if d != "llm_cache")
        for n in names:
            rel = os.path.relpath(os.path.join(dirpath, n), out).replace(os.sep, "/")
            if n.endswith((".parquet", ".jsonl")) and rel not in listed:
                found.append(rel)
    return sorted(found)


def check_dataset(out: str) -> dict:
    """``{success, problems, shards: {file: {rows, problems, failed}}, stray}`` for the dataset in ``out``
    (``stray``: files not part of it, see :func:`stray_files`)."""
    problems, shards = [], {}
    try:
        with open(os.path.join(out, "manifest.json"), "rb") as fh:
            manifest = json.loads(fh.read())
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        manifest = {}
        problems.append(f"no committed dataset in {out}: manifest.json is missing")
    except (OSError, ValueError) as exc:
        manifest = {}
        problems.append(f"manifest.json cannot be read: {exc}")
    listed = {s["file"]: s for s in manifest.get("shards", [])}
    if manifest and not listed:
        problems.append("the manifest lists no Parquet shard")
    for name in sorted(listed):
        if not os.path.isfile(os.path.join(out, name)):
            problems.append(f"{name} is listed in manifest.json but missing")
            continue
        shards[name] = _check_shard(os.path.join(out, name), listed[name])
    stray = stray_files(out, manifest)
    problems += [f"{f}: not part of the dataset (not listed in manifest.json)" for f in stray]
    rows = sum(s["rows"] or 0 for s in shards.values())
    if manifest and manifest.get("counts", {}).get("rows") != rows:
        problems.append(f"{rows} rows in the shards, manifest says {manifest.get('counts', {}).get('rows')}")
    success = not problems and not any(s["problems"] or s["failed"] for s in shards.values())
    return {"success": success, "problems": problems, "shards": shards, "stray": stray}


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
