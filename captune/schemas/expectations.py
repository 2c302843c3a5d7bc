"""Expectations on the record: a great_expectations 1.x suite plus the row checks GX cannot express.

:func:`validate_table` checks an Arrow table of :data:`~captune.schemas.record.SCHEMA` rows and
returns a report ``{success, rows, problems, failed, bad_rows}``:

- ``problems``: table-level findings (a missing or retyped column), as sentences;
- ``failed``: ``{expectation name: rows failing it}``;
- ``bad_rows``: ``{row id: [expectation names]}``, so a pipeline can route exactly those rows.

Expectation names read like ``expect_column_values_to_be_between(tempo_bpm)`` or, for the plain
Python checks, ``chords_sorted_inside_duration``. Units: seconds, beats per minute, LUFS.

great_expectations is imported on first use and its
ephemeral context (no project folder on disk, analytics off) is made once per process; one validation
checks a whole shard, never a single row. Chord labels are checked once per (row, label) and the row
checks run vectorised over the table: same answers, a third of the time of a row-by-row pass.
"""

import functools
import logging
import os

import numpy as np
import pyarrow as pa

from captune.extractors.midi.chords import QUALITIES
from captune.extractors.pitch import FLAT_NAMES, MODES, SHARP_NAMES, key_name
from captune.schemas.record import SCHEMA, SCHEMA_VERSION

SUITE_NAME = "captune_record_v1"
KEYS = sorted(key_name(pc, mode) for mode in MODES for pc in range(12))
CHORD_LABELS = sorted({f"{root}{q}" for root in set(SHARP_NAMES) | set(FLAT_NAMES) for q in QUALITIES} | {"N"})
MODALITIES = ("midi", "score", "audio")
VARIANT_KINDS = ("original", "pitch_shift", "tempo_change", "volume_change")
TEMPO_SOURCES = ("tempo_map", "onsets", "audio", "default")  # see extractors/midi/tempo.py
TOLERANCE_S = 0.01  # times may exceed duration_s by this much (rounding)

# (expectation class name, kwargs) of the row frame; `mostly` is never set: every row must pass.
ROW_EXPECTATIONS = [
    ("ExpectColumnValuesToNotBeNull", {"column": c}) for c in (
        "id", "source_id", "source_uri", "modality", "group_id", "split", "variant_kind", "media_path",
        "duration_s", "duration_word", "caption", "caption_source", "pipeline_version", "schema_version")
] + [
    ("ExpectColumnValuesToBeUnique", {"column": "id"}),
    ("ExpectColumnValuesToBeInSet", {"column": "modality", "value_set": list(MODALITIES)}),
    ("ExpectColumnValuesToBeInSet", {"column": "split", "value_set": ["train", "test"]}),
    ("ExpectColumnValuesToBeInSet", {"column": "variant_kind", "value_set": list(VARIANT_KINDS)}),
    ("ExpectColumnValuesToBeInSet", {"column": "key", "value_set": KEYS}),
    ("ExpectColumnValuesToBeInSet", {"column": "key_alternative", "value_set": KEYS}),
    ("ExpectColumnValuesToBeInSet", {"column": "emotion_quadrant", "value_set": [1, 2, 3, 4]}),
    ("ExpectColumnValuesToBeInSet", {"column": "tempo_source", "value_set": list(TEMPO_SOURCES)}),
    ("ExpectColumnValuesToBeInSet", {"column": "schema_version", "value_set": [SCHEMA_VERSION]}),
    ("ExpectColumnValuesToMatchRegex", {"column": "time_signature", "regex": r"^[1-9]\d*/(?:1|2|4|8|16|32|64|128)$"}),
    ("ExpectColumnValuesToMatchRegex", {"column": "caption_source", "regex": r"^(?:template|llm:.+)$"}),
    ("ExpectColumnValuesToBeBetween", {"column": "duration_s", "min_value": 0, "max_value": 86400,
                                       "strict_min": True}),
    ("ExpectColumnValuesToBeBetween", {"column": "tempo_bpm", "min_value": 1, "max_value": 1000}),
    ("ExpectColumnValuesToBeBetween", {"column": "key_confidence", "min_value": 0, "max_value": 1}),
    ("ExpectColumnValuesToBeBetween", {"column": "valence", "min_value": -1, "max_value": 1}),
    ("ExpectColumnValuesToBeBetween", {"column": "arousal", "min_value": -1, "max_value": 1}),
    ("ExpectColumnValuesToBeBetween", {"column": "loudness_lufs", "min_value": -100, "max_value": 10}),
    ("ExpectColumnValuesToBeBetween", {"column": "chord_summary_count", "min_value": 0}),
    ("ExpectColumnValueLengthsToBeBetween", {"column": "caption", "min_value": 10, "max_value": 2000}),
    # a key comes with its confidence; a piece with pitched notes has a note count and instruments
    ("ExpectColumnValuesToNotBeNull", {"column": "key_confidence", "when": ("key", "is_not_null", None)}),
    # per modality: symbolic items have notes, a meter and instruments; audio has a loudness
    *[("ExpectColumnValuesToNotBeNull", {"column": c, "when": ("modality", "is_in", ["midi", "score"])})
      for c in ("time_signature", "note_count", "instrument_programs")],
    ("ExpectColumnValuesToNotBeNull", {"column": "tempo_bpm", "when": ("modality", "is_in", ["midi"])}),
    ("ExpectColumnValuesToNotBeNull", {"column": "loudness_lufs", "when": ("modality", "is_in", ["audio"])}),
]
LABEL_EXPECTATIONS = [("ExpectColumnValuesToBeInSet", {"column": "label", "value_set": CHORD_LABELS})]


def expectation_name(kind: str, kwargs: dict) -> str:
    """``ExpectColumnValuesToBeBetween`` + ``{column: tempo_bpm}`` → ``expect_column_values_to_be_between(tempo_bpm)``;
    a row condition ``when = (column, 'is_in' | 'is_not_null', values)`` is appended after ``if``."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in kind).lstrip("_")
    condition = ""
    if "when" in kwargs:
        column, op, values = kwargs["when"]
        condition = f" if {column} in {values}" if op == "is_in" else f" if {column} is not null"
    return f"{snake}({kwargs['column']}{condition})"


@functools.lru_cache(maxsize=1)
def _gx():
    """(batch definition, row suite, label suite), made once per process."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.row_conditions import Column

    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)  # its INFO lines
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batches = context.data_sources.add_pandas("captune").add_dataframe_asset("frame")
    batch_definition = batches.add_batch_definition_whole_dataframe("whole")

    def suite(name, specs):
        s = gx.ExpectationSuite(name=name)
        for kind, kwargs in specs:
            args = {k: v for k, v in kwargs.items() if k != "when"}
            if "when" in kwargs:
                column, op, values = kwargs["when"]
                args["row_condition"] = getattr(Column(column), op)(*([values] if values else []))
            s.add_expectation(getattr(gx.expectations, kind)(**args, meta={"name": expectation_name(kind, kwargs)}))
        return s

    return batch_definition, suite(SUITE_NAME, ROW_EXPECTATIONS), suite(f"{SUITE_NAME}_labels", LABEL_EXPECTATIONS)


def _frames(table: pa.Table):
    """(one row per record, one row per chord label) pandas frames of the columns the suites read."""
    import pandas as pd

    names = set(table.column_names)

    def col(name):
        return table.column(name).to_pylist() if name in names else None

    def field(name, sub):
        return [None if v is None else v.get(sub) for v in col(name)] if name in names else None

    rows = {c: col(c) for c in (
        "id", "source_id", "source_uri", "modality", "group_id", "split", "duration_s", "duration_word",
        "tempo_bpm", "tempo_source", "time_signature", "key", "key_confidence", "key_alternative", "chord_summary_count",
        "instrument_programs", "loudness_lufs", "valence", "arousal", "emotion_quadrant", "caption",
        "caption_source", "pipeline_version", "schema_version")}
    rows.update(variant_kind=field("variant", "kind"), media_path=field("media", "path"),
                note_count=field("note_stats", "note_count"))
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in rows.items() if v is not None})
    labels = _label_pairs(table, rows["id"]) if "id" in names else []
    return frame, pd.DataFrame(labels, columns=["id", "label"], dtype=object)


def _label_pairs(table: pa.Table, ids: list) -> list[tuple]:
    """The distinct (row id, label) pairs of the chords' labels and the chord summaries. The label suite names failing rows by id only, so a label repeated within a row (a song's
    chords repeat all through it) is checked once: the same failures, a tenth of the frame."""
    parts = [_list_values(table, "chords", "label"), _list_values(table, "chord_summary")]
    if any(part is None for part in parts):  # an unusual table (other types, null chords): row by row
        return list(dict.fromkeys(_label_pairs_rows(table, ids)))
    rows_of = np.concatenate([part[0] for part in parts])
    values = pa.concat_arrays([part[1] for part in parts])
    if not len(values):
        return []
    distinct = (pa.table({"row": rows_of, "label": values}).group_by(["row", "label"], use_threads=False)
                .aggregate([]).sort_by([("row", "ascending"), ("label", "ascending")]))
    return [(ids[row], label) for row, label in zip(distinct.column("row").to_pylist(),
                                                    distinct.column("label").to_pylist())]


def _label_pairs_rows(table: pa.Table, ids: list) -> list[tuple]:
    names = set(table.column_names)
    chords = table.column("chords").to_pylist() if "chords" in names else [None] * len(table)
    summaries = table.column("chord_summary").to_pylist() if "chord_summary" in names else [None] * len(table)
    labels = []
    for rid, row_chords, summary in zip(ids, chords, summaries):
        labels += [(rid, c["label"]) for c in row_chords or []] + [(rid, s) for s in summary or []]
    return labels


def _list_values(table: pa.Table, name: str, field: str | None = None):
    """(row index of each value, string values) of a list column (of strings, or of structs whose string
    ``field`` is read); no values when the column is absent; None when the column has another
    type or null structs, which the row-by-row path handles exactly as before."""
    if name not in table.column_names:
        return np.zeros(0, dtype=np.int64), pa.array([], type=pa.string())
    parts = _list_field(table.column(name), field)
    if parts is None or not pa.types.is_string(parts[1].type):
        return None
    return parts


def _list_field(column, field: str | None):
    """(row index per value, the values, or their struct field ``field``) of a list column (see
    :func:`_flat_list`); None for another type, a struct without ``field`` or null structs."""
    parts = _flat_list(column)
    if parts is None:
        return None
    rows_of, values = parts
    if field is not None:
        if not pa.types.is_struct(values.type) or values.type.get_field_index(field) < 0 or values.null_count:
            return None
        values = values.field(field)
    return rows_of, values


def _flat_list(column):
    """(row index per value, the values) of a list column, or None for another type. Null lists hold
    no values (``or []`` in the row-by-row checks)."""
    if not pa.types.is_list(column.type):
        return None
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if isinstance(array, pa.ChunkedArray):  # no chunks at all
        array = pa.array([], type=column.type)
    offsets = array.offsets.to_numpy()
    lengths = np.diff(offsets)
    if array.null_count and lengths[~array.is_valid().to_numpy(zero_copy_only=False)].any():
        return None
    values = array.values.slice(offsets[0], offsets[-1] - offsets[0]) if len(array) else array.values.slice(0, 0)
    return np.repeat(np.arange(len(array)), lengths), values


def _run_suite(frame, suite) -> dict:
    """{expectation name: [row ids failing it]}; a column the frame lacks fails with every row.

    A first pass asks GX only whether each expectation holds (``BOOLEAN_ONLY``: about half the time
    of a full result on a 2,000-row shard); only a table that fails is validated again for the ids
    of its failing rows."""
    batch = _gx()[0].get_batch(batch_parameters={"dataframe": frame})
    if batch.validate(suite, result_format="BOOLEAN_ONLY").success:
        return {}
    result = batch.validate(suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["id"]})
    return {r.expectation_config.meta["name"]: sorted({u["id"] for u in r.result.get("unexpected_index_list") or []})
            for r in result.results if not r.success}


def _sorted_inside(times: list[float], duration: float) -> bool:
    """Non-decreasing, from 0 to ``duration`` + :data:`TOLERANCE_S`."""
    return all(a <= b for a, b in zip(times, times[1:])) and (
        not times or (times[0] >= 0 and times[-1] <= duration + TOLERANCE_S))


def row_checks(table: pa.Table) -> dict:
    """The checks GX cannot express, as ``{name: [row ids failing it]}``: chords, beats, downbeats and
    tempo changes sorted in time and inside ``[0, duration_s]``; every chord ends after it starts.

    Vectorised over the whole table with numpy; a table of other column types or with nulls inside
    the lists takes the row-by-row path (:func:`_row_checks_rows`), which gives the same answer."""
    names = set(table.column_names)
    needed = {"id", "duration_s", "chords", "beats_s", "downbeats_s", "tempo_changes"}
    if not needed <= names:
        return {}
    fast = _row_checks_arrays(table)
    return _row_checks_rows(table) if fast is None else fast


_CHECK_NAMES = ("chords_sorted_inside_duration", "beats_sorted_inside_duration",
                "downbeats_sorted_inside_duration", "tempo_changes_sorted_inside_duration")


def _float_values(table: pa.Table, name: str, field: str | None = None):
    """(row index per value, float64 values) of a list<double> column or of one double field of a
    list<struct> column; None for other types or null values."""
    parts = _list_field(table.column(name), field)
    if parts is None or not pa.types.is_float64(parts[1].type) or parts[1].null_count:
        return None
    return parts[0], parts[1].to_numpy(zero_copy_only=False)


def _unsorted_or_outside(rows_of: np.ndarray, times: np.ndarray, limit: np.ndarray, n: int) -> np.ndarray:
    """Per row: its ``times`` (row ``rows_of``, in row order) are not non-decreasing, or the first is
    below 0, or the last above ``limit`` of the row (comparisons as :func:`_sorted_inside`: NaN fails)."""
    bad = np.zeros(n, dtype=bool)
    if not len(times):
        return bad
    same_row = rows_of[1:] == rows_of[:-1]
    bad[rows_of[1:][same_row & ~(times[:-1] <= times[1:])]] = True
    first = np.flatnonzero(np.append(True, ~same_row))
    last = np.append(first[1:] - 1, len(times) - 1)
    bad[rows_of[first][~(times[first] >= 0)]] = True
    bad[rows_of[last][~(times[last] <= limit[rows_of[last]])]] = True
    return bad


def _row_checks_arrays(table: pa.Table) -> dict | None:
    n = table.num_rows
    duration = table.column("duration_s")
    if not n or not pa.types.is_float64(duration.type):
        return None
    duration = duration.combine_chunks() if isinstance(duration, pa.ChunkedArray) else duration
    known = duration.is_valid().to_numpy(zero_copy_only=False)
    limit = duration.to_numpy(zero_copy_only=False) + TOLERANCE_S
    starts, ends = _float_values(table, "chords", "start_s"), _float_values(table, "chords", "end_s")
    series = [_float_values(table, "beats_s"), _float_values(table, "downbeats_s"),
              _float_values(table, "tempo_changes", "time_s")]
    if starts is None or ends is None or any(part is None for part in series):
        return None
    rows_of, start = starts
    end = ends[1]
    # a row's chord times: its starts, then the end of its last chord
    last_of_row = np.append(rows_of[1:] != rows_of[:-1], True) if len(rows_of) else np.zeros(0, dtype=bool)
    position = np.arange(len(start)) + np.cumsum(last_of_row) - last_of_row
    times = np.empty(len(start) + int(last_of_row.sum()))
    times_rows = np.empty(len(times), dtype=np.int64)
    times[position], times_rows[position] = start, rows_of
    times[position[last_of_row] + 1], times_rows[position[last_of_row] + 1] = end[last_of_row], rows_of[last_of_row]
    chords_bad = _unsorted_or_outside(times_rows, times, limit, n)
    chords_bad[rows_of[~(end > start)]] = True
    bad = [chords_bad] + [_unsorted_or_outside(r, t, limit, n) for r, t in series]
    ids = table.column("id").to_pylist()
    failed = {name: [ids[i] for i in np.flatnonzero(b & known)] for name, b in zip(_CHECK_NAMES, bad)}
    return {k: v for k, v in failed.items() if v}


def _row_checks_rows(table: pa.Table) -> dict:
    """:func:`row_checks` one row at a time (any column types)."""
    needed = {"id", "duration_s", "chords", "beats_s", "downbeats_s", "tempo_changes"}
    failed = {name: [] for name in _CHECK_NAMES}
    cols = {c: table.column(c).to_pylist() for c in needed}
    for i, rid in enumerate(cols["id"]):
        duration = cols["duration_s"][i]
        if duration is None:
            continue
        chords = cols["chords"][i] or []
        starts = [c["start_s"] for c in chords]
        if not (_sorted_inside(starts + [c["end_s"] for c in chords[-1:]], duration)
                and all(c["end_s"] > c["start_s"] for c in chords)):
            failed["chords_sorted_inside_duration"].append(rid)
        for column in ("beats_s", "downbeats_s"):
            if not _sorted_inside(cols[column][i] or [], duration):
                failed[f"{column[:-2]}_sorted_inside_duration"].append(rid)
        if not _sorted_inside([t["time_s"] for t in cols["tempo_changes"][i] or []], duration):
            failed["tempo_changes_sorted_inside_duration"].append(rid)
    return {k: v for k, v in failed.items() if v}


def schema_problems(schema: pa.Schema) -> list[str]:
    """Columns of :data:`SCHEMA` that ``schema`` lacks or types differently, and columns it adds."""
    problems = [f"column {f.name!r} is missing" for f in SCHEMA if f.name not in schema.names]
    problems += [f"column {f.name!r} is {schema.field(f.name).type}, expected {f.type}"
                 for f in SCHEMA if f.name in schema.names and not schema.field(f.name).type.equals(f.type)]
    problems += [f"column {n!r} is not in schema v1" for n in schema.names if n not in SCHEMA.names]
    return problems


def validate_table(table: pa.Table) -> dict:
    """Check a table of records against the schema, the GX suites and :func:`row_checks`; see the module
    docstring for the report's layout."""
    problems = schema_problems(table.schema)
    if "id" not in table.column_names:  # rows cannot be named: report the table only
        return {"success": False, "rows": table.num_rows, "problems": problems, "failed": {}, "bad_rows": {}}
    frame, labels = _frames(table)
    _, row_suite, label_suite = _gx()
    failed = {**_run_suite(frame, row_suite), **row_checks(table)}
    if len(labels):
        failed.update(_run_suite(labels, label_suite))
    bad_rows: dict[str, list[str]] = {}
    for name, ids in sorted(failed.items()):
        for rid in ids:
            bad_rows.setdefault(rid, []).append(name)
    return {"success": not problems and not failed, "rows": table.num_rows, "problems": problems,
            "failed": {k: len(v) for k, v in sorted(failed.items())}, "bad_rows": bad_rows}
