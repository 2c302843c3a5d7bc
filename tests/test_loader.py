"""The loader: pyarrow and datasets formats, schema-version checks, the reader registry, and only
the shards a committed manifest lists."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fixtures import make_midi, melody, progression_piece

from captune.extractors import analyze
from captune.pipelines.rows import make_row, source_id
from captune.schemas import (SCHEMA, SCHEMA_VERSION, DamagedManifest, NoCommittedDataset, ShardChanged,
                             UnknownSchemaVersion, load, to_table)
from captune.schemas.loader import READERS


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """A dataset folder with one train and one test shard, written without Beam."""
    root = tmp_path_factory.mktemp("ds")
    (root / "data").mkdir()
    rows = []
    for name, data in {"a.mid": progression_piece(("C", "F", "G", "C"), bpm=120, meter=(4, 4)),
                       "b.mid": make_midi([(0, False, melody([60, 64, 67, 72]))])}.items():
        rows.append(make_row(name, source_id(data), analyze(data, name), media={"bytes": data, "path": name},
                             seed=0, test_fraction=0.1))
    rows[1]["split"] = "test"
    pq.write_table(to_table(rows[:1]), root / "data" / "train-00000-of-00001.parquet")
    pq.write_table(to_table(rows[1:]), root / "data" / "test-00000-of-00001.parquet")
    _commit(root)
    return root


def _commit(root):
    """A manifest listing every shard in ``root/data`` with its size, as a build's commit does."""
    shards = [{"file": f"data/{p.name}", "split": p.name.split("-")[0], "bytes": p.stat().st_size}
              for p in sorted((root / "data").iterdir())]
    (root / "manifest.json").write_text(json.dumps({"shards": shards}))


def test_arrow_load_returns_the_schema(out):
    table = load(str(out))
    assert table.schema.equals(SCHEMA, check_metadata=True) and table.num_rows == 2
    assert load(str(out), split="test").column("source_uri").to_pylist() == ["b.mid"]
    with pytest.raises(FileNotFoundError, match="validation"):
        load(str(out), split="validation")
    with pytest.raises(ValueError, match="format"):
        load(str(out), format="pandas")


def test_datasets_load_has_features_from_the_same_schema(out):
    import datasets

    ds = load(str(out), format="datasets", split="train")
    assert isinstance(ds, datasets.Dataset) and ds.num_rows == 1
    assert ds.features == datasets.Features.from_arrow_schema(SCHEMA)
    assert ds.features.arrow_schema.remove_metadata().equals(SCHEMA.remove_metadata())
    assert ds[0]["source_uri"] == "a.mid" and ds[0]["key"] == "C major"


def _rewrite(out, tmp_path, transform):
    """A copy of ``out`` whose train shard went through ``transform(table) -> table``."""
    copy = tmp_path / "copy"
    (copy / "data").mkdir(parents=True)
    for shard in (out / "data").iterdir():
        table = pq.read_table(shard)
        pq.write_table(transform(table) if shard.name.startswith("train") else table, copy / "data" / shard.name)
    _commit(copy)
    return copy


def _with_version(table: pa.Table, version: str) -> pa.Table:
    return table.replace_schema_metadata({"captune_schema_version": version})


def test_an_unknown_schema_version_is_refused_with_a_clear_message(out, tmp_path):
    copy = _rewrite(out, tmp_path, lambda t: _with_version(t, "99"))
    with pytest.raises(UnknownSchemaVersion) as err:
        load(str(copy))
    message = str(err.value)
    assert "train-00000-of-00001.parquet" in message and "'99'" in message and "known: 1, 2" in message


def test_a_registered_reader_upgrades_an_older_version(out, tmp_path, monkeypatch):
    """A simulated older version without ``caption_check`` and ``tempo_source``: the reader
    registered for it fills them with nulls, and the loader returns the current schema."""
    def older(table):
        for name in ("caption_check", "tempo_source"):
            table = table.append_column(SCHEMA.field(name), pa.nulls(table.num_rows, SCHEMA.field(name).type))
        return READERS[SCHEMA_VERSION](table)

    monkeypatch.setitem(READERS, "0.9", older)

    copy = _rewrite(out, tmp_path, lambda t: _with_version(t.drop_columns(["caption_check", "tempo_source"]), "0.9"))
    table = load(str(copy), split="train")
    assert table.schema.equals(SCHEMA) and table.column("tempo_source").to_pylist() == [None]
    assert table.column("key").to_pylist() == ["C major"]


def test_a_version_1_shard_loads_with_the_version_2_and_3_columns_null(out, tmp_path):
    """Version 1 had no fingerprint, clip, audio or augmentation-check columns, nor version 3's."""
    from captune.schemas.loader import VERSION_2_COLUMNS, VERSION_3_COLUMNS

    dropped = list(VERSION_2_COLUMNS + VERSION_3_COLUMNS)
    copy = _rewrite(out, tmp_path, lambda t: _with_version(t.drop_columns(dropped), "1"))
    table = load(str(copy), split="train")
    assert table.schema.equals(SCHEMA)
    assert all(table.column(c).to_pylist() == [None] for c in dropped)
    assert table.column("key").to_pylist() == ["C major"]


def test_a_version_2_shard_loads_with_the_version_3_columns_null(out, tmp_path):
    """Version 2 had no key changes, meter source, sections or segment captions."""
    from captune.schemas.loader import VERSION_3_COLUMNS

    copy = _rewrite(out, tmp_path, lambda t: _with_version(t.drop_columns(list(VERSION_3_COLUMNS)), "2"))
    table = load(str(copy), split="train")
    assert table.schema.equals(SCHEMA)
    assert all(table.column(c).to_pylist() == [None] for c in VERSION_3_COLUMNS)
    assert table.column("key").to_pylist() == ["C major"]


def test_a_current_version_shard_missing_a_column_is_an_error_not_a_silent_null(out, tmp_path):
    copy = _rewrite(out, tmp_path, lambda t: t.drop_columns(["tempo_source"]))
    with pytest.raises(ValueError, match="tempo_source"):
        load(str(copy))


def test_only_committed_shards_are_read_and_a_changed_one_is_refused(out, tmp_path):
    """Problem 1 and 2 of issue 16: an unlisted shard (a killed build's, an older build's) is never read;
    a folder with shards but no manifest is no dataset; a listed shard whose size changed is refused."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    shutil.copy(copy / "data" / "train-00000-of-00001.parquet", copy / "data" / "train-00000-of-00002.parquet")
    assert load(str(copy)).num_rows == 2  # the stray copy is not part of the dataset
    (copy / "manifest.json").unlink()
    with pytest.raises(NoCommittedDataset, match="no committed dataset in"):
        load(str(copy))
    (copy / "manifest.json").write_text('{"shards": [')  # cut short
    with pytest.raises(DamagedManifest, match="damaged"):
        load(str(copy))
    _commit(copy)
    with open(copy / "data" / "test-00000-of-00001.parquet", "ab") as fh:
        fh.write(b"extra")
    with pytest.raises(ShardChanged, match="bytes, the manifest says"):
        load(str(copy))
