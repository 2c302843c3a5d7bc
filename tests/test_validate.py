"""Validation: the expectation suite, shards checked in the pipeline, and ``captune validate`` on good,
corrupted, column-dropped and truncated datasets."""

import json
import shutil
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fixtures import DRUMS_KIT, IN_MEMORY, drum_pattern, make_midi, melody, progression_piece, read_rows

from captune.pipelines import build, cli
from captune.pipelines.transforms import check_expectations
from captune.schemas import to_table
from captune.schemas.expectations import CHORD_LABELS, KEYS, validate_table

@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    (src / "e_minor.mid").write_bytes(progression_piece(("Em", "Am", "B7", "Em"), bpm=96, meter=(3, 4)))
    (src / "c_major.mid").write_bytes(make_midi([(0, False, melody([60, 62, 64, 65, 67, 69, 71, 72]))]))
    (src / "drums.mid").write_bytes(make_midi([(DRUMS_KIT, True, drum_pattern(8))], tempo_bpm=100))
    out = tmp_path_factory.mktemp("out")
    manifest = build.run(["--input", str(src), "--output", str(out), *IN_MEMORY])
    return out, manifest





def test_vocabularies():
    assert len(KEYS) == 24 and "Eb major" in KEYS and "C# minor" in KEYS and "D# major" not in KEYS
    assert {"C", "Am7", "Bm7b5", "F#dim", "Ebaug", "Cmaj7", "N"} <= set(CHORD_LABELS)
    assert "Cmaj13" not in CHORD_LABELS and "H" not in CHORD_LABELS


def test_the_manifest_records_each_shard_and_the_overall_validation(dataset):
    out, manifest = dataset
    assert manifest["counts"]["rows"] == 3
    for shard in manifest["shards"]:
        v = shard["validation"]
        assert v["suite"] == "captune_record_v1" and v["rows"] == shard["rows"] and v["rejected"] == 0
        assert len(shard["sha256"]) == 64 and shard["bytes"] == (out / shard["file"]).stat().st_size
    overall = manifest["validation"]
    assert overall["all_rows_passed"] and overall["rows"] == 3 and overall["shards"] == len(manifest["shards"])


def _planted(rows: list[dict]) -> list[dict]:
    """Copies of real rows, each with one planted error."""
    bad = [dict(rows[i % len(rows)], id=f"bad{i}") for i in range(7)]
    bad[0]["tempo_bpm"] = -5.0
    bad[1]["key"] = "H major"
    bad[2]["chords"] = [{"start_s": 2.0, "end_s": 3.0, "label": "C"}, {"start_s": 0.0, "end_s": 1.0, "label": "G"}]
    bad[3]["chords"] = [{"start_s": 0.0, "end_s": 1.0, "label": "Cmaj13"}]
    bad[4]["beats_s"] = [0.0, 0.5, bad[4]["duration_s"] + 5]
    bad[5]["modality"] = "video"
    bad[6]["tempo_source"] = "guessed"
    return bad


def test_each_planted_error_is_named_by_its_expectation(dataset):
    out, _ = dataset
    good = read_rows(out)
    report = validate_table(to_table(good + _planted(good)))
    assert not report["success"]
    assert report["bad_rows"] == {
        "bad0": ["expect_column_values_to_be_between(tempo_bpm)"],
        "bad1": ["expect_column_values_to_be_in_set(key)"],
        "bad2": ["chords_sorted_inside_duration"],
        "bad3": ["expect_column_values_to_be_in_set(label)"],
        "bad4": ["beats_sorted_inside_duration"],
        "bad5": ["expect_column_values_to_be_in_set(modality)"],
        "bad6": ["expect_column_values_to_be_in_set(tempo_source)"],
    }
    assert validate_table(to_table(good))["success"]


def test_a_midi_row_without_notes_or_tempo_fails_the_modality_rules(dataset):
    out, _ = dataset
    row = dict(next(r for r in read_rows(out) if r["modality"] == "midi"), note_stats=None, tempo_bpm=None)
    failed = validate_table(to_table([row]))["bad_rows"][row["id"]]
    assert "expect_column_values_to_not_be_null(note_count if modality in ['midi', 'score'])" in failed
    assert "expect_column_values_to_not_be_null(tempo_bpm if modality in ['midi'])" in failed


def test_rows_failing_an_expectation_become_failure_records(dataset):
    out, _ = dataset
    good = read_rows(out)
    table, failures, summary = check_expectations(to_table(good + _planted(good)[:2]))
    assert table.num_rows == len(good)
    assert [(f["stage"], f["reason"]) for f in failures] == [("validate", "expectation")] * 2
    assert "expect_column_values_to_be_between(tempo_bpm)" in failures[0]["detail"]
    assert summary["rejected"] == 2 and summary["rows"] == len(good) + 2


def test_validating_a_2000_row_shard_takes_seconds(dataset):
    out, _ = dataset
    rows = read_rows(out)
    table = to_table([dict(rows[i % len(rows)], id=f"{i:064x}") for i in range(2000)])
    validate_table(table.slice(0, 10))  # GX imported and its context made once per process
    started = time.perf_counter()
    report = validate_table(table)
    elapsed = time.perf_counter() - started
    print(f"validate_table: 2000 rows in {elapsed:.2f} s")
    assert report["success"] and elapsed < 10


def _copy(dataset, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(dataset[0], out)
    return out, sorted(out.glob("runs/*/data/train-*.parquet"))[0]


def _validate(out, capsys) -> tuple[int, str]:
    code = cli.main(["validate", str(out)])
    return code, capsys.readouterr().out


def test_validate_accepts_the_built_dataset(dataset, capsys):
    code, printed = _validate(dataset[0], capsys)
    assert code == 0 and "OK" in printed, printed


def test_validate_reports_a_corrupted_value(dataset, tmp_path, capsys):
    out, shard = _copy(dataset, tmp_path)
    table = pq.read_table(shard)
    bpm = pa.array([-1.0] * table.num_rows, pa.float64())
    pq.write_table(table.set_column(table.schema.get_field_index("tempo_bpm"), "tempo_bpm", bpm), shard)
    code, printed = _validate(out, capsys)
    assert code == 1 and "FAILED" in printed
    assert "expect_column_values_to_be_between(tempo_bpm)" in printed and "sha256 differs" in printed


def test_validate_reports_a_dropped_column(dataset, tmp_path, capsys):
    out, shard = _copy(dataset, tmp_path)
    pq.write_table(pq.read_table(shard).drop_columns(["key"]), shard)
    code, printed = _validate(out, capsys)
    assert code == 1 and "column 'key' is missing" in printed


def test_validate_reports_a_truncated_shard_and_a_missing_one(dataset, tmp_path, capsys):
    out, shard = _copy(dataset, tmp_path)
    shard.write_bytes(shard.read_bytes()[:200])
    code, printed = _validate(out, capsys)
    assert code == 1 and "cannot be read" in printed
    shard.unlink()
    code, printed = _validate(out, capsys)
    assert code == 1 and "listed in manifest.json but missing" in printed


def test_validate_reports_a_tampered_manifest(dataset, tmp_path, capsys):
    out, _ = _copy(dataset, tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["counts"]["rows"] += 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    code, printed = _validate(out, capsys)
    assert code == 1 and "manifest says 4" in printed
