"""The streaming shard writer: rows spooled and read back in id order, validated in chunks, media read back
one row at a time, Parquet written row group by row group; the bytes are those of one ``write_table``."""

import hashlib
import io

import pyarrow.parquet as pq
import pytest
from fixtures import make_midi, melody

from captune.extractors import analyze
from captune.pipelines import transforms
from captune.pipelines.rows import make_row, source_id
from captune.pipelines.transforms import MEDIA_FROM, ROW_GROUP_ROWS, WriteShard, pack
from captune.schemas import to_table


def _rows(folder, n: int) -> tuple[list[dict], list[dict]]:
    """(n rows as the analysis makes them, the rows expected in the shard, sorted by id). Every third row's
    media is its source file (left out of the shuffles), the others carry it inline; row 5 fails the
    expectations (negative tempo); the files of rows 6 (media left out: ``media_changed``) and 7 (media
    inline: still written) are edited after the analysis."""
    folder.mkdir()
    made, expected = [], []
    for i in range(n):
        data = make_midi([(0, False, melody([60 + i % 12, 64, 67, 72 - i % 5]))], tempo_bpm=80 + i % 90)
        path = folder / f"m{i:04d}.mid"
        path.write_bytes(data)
        source = source_id(data)
        row = make_row(str(path), source, analyze(data, path.name), media={"bytes": data, "path": path.name},
                       seed=0, test_fraction=0.0)
        row["id"] = hashlib.sha256(f"row{i}".encode()).hexdigest()
        if i == 5:
            row["tempo_bpm"] = -5.0
        if i not in (5, 6):
            expected.append(dict(row))
        if i % 3 == 0:
            row = {**row, "media": {"bytes": None, "path": path.name}, MEDIA_FROM: {"uri": str(path), "sha256": source}}
        made.append(row)
    for i in (6, 7):
        (folder / f"m{i:04d}.mid").write_bytes(b"MThd edited")
    return made, sorted(expected, key=lambda r: r["id"])


def _write(tmp_path, made: list[dict], name: str):
    grouped = [(rid, row["group_id"], row["split"], blob) for row in made for _, (rid, _, blob) in [pack(row)]]
    outputs = list(WriteShard(str(tmp_path / name), "data").process((("train", 0, 1), reversed(grouped))))
    [record] = [o for o in outputs if isinstance(o, dict)]
    failures = sorted((o.value["source_uri"].rsplit("/", 1)[-1], o.value["reason"]) for o in outputs
                      if not isinstance(o, dict))
    return record, failures, (tmp_path / name / "data" / "train-00000-of-00001.parquet").read_bytes()


@pytest.mark.parametrize("check_rows", [7, 2000])
def test_streamed_shard_is_one_write_table_of_the_accepted_rows(tmp_path, monkeypatch, check_rows):
    """Chunks of 7 rows (not a divisor of the 100-row groups, a reject and a lost media in between) or one
    chunk: the same file, byte for byte, as ``write_table`` of the accepted rows with their media."""
    monkeypatch.setattr(transforms, "CHECK_ROWS", check_rows)
    made, expected = _rows(tmp_path / "src", 230)
    record, failures, data = _write(tmp_path, made, "out")
    buffer = io.BytesIO()
    pq.write_table(to_table(expected), buffer, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    assert data == buffer.getvalue()
    assert failures == [("m0005.mid", "expectation"), ("m0006.mid", "media_changed")]
    assert record["rows"] == 228 and record["bytes"] == len(data) and record["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["validation"] == {"suite": "captune_record_v1", "rows": 230, "rejected": 1,
                                    "failed": {"expect_column_values_to_be_between(tempo_bpm)": 1}}
    assert record["captions"]["template"] == 228 and record["source_ids"] == sorted({r["source_id"] for r in expected})
    assert [pq.ParquetFile(io.BytesIO(data)).metadata.row_group(g).num_rows for g in range(3)] == [100, 100, 28]


def test_an_empty_shard_matches_write_table_of_no_rows(tmp_path):
    """Every row rejected: an empty file as ``write_table`` of an empty table makes it."""
    made, _ = _rows(tmp_path / "src", 6)
    bad = [dict(r, tempo_bpm=-1.0) for r in made]
    record, failures, data = _write(tmp_path, bad, "out")
    buffer = io.BytesIO()
    pq.write_table(to_table([]), buffer, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    assert data == buffer.getvalue() and record["rows"] == 0
    assert failures == [(f"m{i:04d}.mid", "expectation") for i in range(6)]
