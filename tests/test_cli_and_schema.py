"""The command line, option pass-through to Beam, and the record schema."""

import os
from collections import Counter

import pyarrow as pa
import pytest
from apache_beam.options.pipeline_options import (
    DirectOptions, GoogleCloudOptions, StandardOptions, WorkerOptions,
)
from fixtures import make_midi, melody

from captune.pipelines import cli, demo, options, rows
from captune.schemas import SCHEMA, to_table


def test_beam_flags_reach_beam_and_captune_flags_do_not():
    opts, beam = options.parse(["--input", "a/*.mid", "--output", "out", "--seed", "3",
                                "--runner", "DataflowRunner", "--project", "p", "--region", "europe-west1",
                                "--temp_location", "gs://b/tmp"])
    assert (opts.input, opts.output, opts.seed) == (["a/*.mid"], "out", 3)
    assert beam.view_as(StandardOptions).runner == "DataflowRunner"
    gcp = beam.view_as(GoogleCloudOptions)
    assert (gcp.project, gcp.region, gcp.temp_location) == ("p", "europe-west1", "gs://b/tmp")
    assert "seed" not in beam.get_all_options(drop_default=True)
    assert beam.view_as(DirectOptions).direct_running_mode == "in_memory"  # not touched for Dataflow


def test_local_runs_default_to_every_core_but_respect_explicit_flags():
    _, beam = options.parse([])
    direct = beam.view_as(DirectOptions)
    assert (direct.direct_running_mode, direct.direct_num_workers) == ("in_memory", os.cpu_count())
    assert beam.view_as(WorkerOptions).default_sdk_harness_log_level == "WARNING"
    _, beam = options.parse(["--direct_running_mode", "multi_processing", "--direct_num_workers", "1"])
    direct = beam.view_as(DirectOptions)
    assert (direct.direct_running_mode, direct.direct_num_workers) == ("multi_processing", 1)


def test_patterns_come_before_flags():
    assert cli.split_patterns(["a/*.mid", "b/**/*.xml", "--output", "o", "--runner", "X"]) == (
        ["a/*.mid", "b/**/*.xml"], ["--output", "o", "--runner", "X"])


def test_build_command_prints_the_summary(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.mid").write_bytes(make_midi([(0, False, melody([60, 64, 67, 72]))]))
    (tmp_path / "in" / "b.mid").write_bytes(b"garbage")
    code = cli.main(["build", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                     "--direct_num_workers", "1", "--direct_running_mode", "in_memory"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "inputs      2" in printed and "rows        1" in printed
    assert "decode/not_midi" in printed and str(tmp_path / "out") in printed


def test_help_and_unknown_commands(capsys):
    assert cli.main([]) == 0 and "captune build" in capsys.readouterr().out
    assert cli.main(["build", "--help"]) == 0 and "--max-duration" in capsys.readouterr().out
    assert cli.main(["frobnicate"]) == 2


def test_demo_samples_every_kind_with_no_composer_above_a_fifth():
    picked = demo.sample(60)
    assert len(picked) == 60 == len({p for _, _, p in picked})
    assert {k for k, _, _ in picked} == set(demo.KINDS)            # chorales, quartets, folk tunes, ...
    composers = Counter(c for _, c, _ in picked)
    assert max(composers.values()) <= 0.2 * 60 and len(composers) >= 10
    assert ("folk tune", demo.FOLK) in {(k, c) for k, c, _ in picked}
    assert all(p.endswith(demo.SUFFIXES) for _, _, p in picked)
    assert demo.sample(60) == picked                                # deterministic


def test_ids_and_splits_are_stable_and_balanced():
    variant = dict(rows.ORIGINAL)
    assert rows.row_id("abc", variant) == rows.row_id("abc", dict(reversed(list(variant.items()))))
    assert rows.row_id("abc", variant) != rows.row_id("abd", variant)
    splits = [rows.split_of(f"group{i}", 0.1) for i in range(5000)]
    assert 0.08 < splits.count("test") / len(splits) < 0.12
    assert rows.split_of("group1", 0.1) == rows.split_of("group1", 0.1)
    assert rows.split_of("group1", 0.0) == "train" and rows.split_of("group1", 1.0) == "test"


def _minimal_row(**changes):
    row = {"id": "i", "source_id": "s", "source_uri": "u", "modality": "midi", "group_id": "s", "split": "train",
           "variant": dict(rows.ORIGINAL), "media": {"bytes": b"MThd", "path": "a.mid"}, "duration_s": 1.0,
           "duration_word": "Short fragment", "caption": "c", "caption_source": "template",
           "pipeline_version": "0", "schema_version": "1"}
    row.update(changes)
    return row


def test_schema_accepts_a_row_and_names_the_bad_column():
    table = to_table([_minimal_row(chords=[{"start_s": 0.0, "end_s": 1.0, "label": "C"}])])
    assert table.schema.equals(SCHEMA) and table.num_rows == 1
    assert table.column("key").null_count == 1
    with pytest.raises(ValueError, match="tempo_bpm"):
        to_table([_minimal_row(tempo_bpm="fast")])
    with pytest.raises(ValueError, match="caption"):
        to_table([_minimal_row(caption=None)])
    assert SCHEMA.field("chords").type == pa.list_(
        pa.struct([("start_s", pa.float64()), ("end_s", pa.float64()), ("label", pa.string())]))


def test_rows_that_do_not_fit_the_schema_become_failure_records():
    from captune.pipelines.transforms import validate_rows

    good, bad = _minimal_row(id="a"), _minimal_row(id="b", source_uri="bad.mid", tempo_bpm="fast")
    table, failures = validate_rows([good, bad])
    assert table.column("id").to_pylist() == ["a"]
    assert len(failures) == 1 and failures[0]["source_uri"] == "bad.mid"
    assert (failures[0]["stage"], failures[0]["reason"]) == ("validate", "invalid_row")
    assert "tempo_bpm" in failures[0]["detail"]


def test_caption_check_column_and_the_caption_counts_in_the_summary():
    assert SCHEMA.field("caption_check").type == pa.struct(
        [("status", pa.string()), ("problems", pa.list_(pa.string())), ("attempts", pa.int32())])
    check = {"status": "retried", "problems": ["key: says G major, the key is E minor"], "attempts": 2}
    table = to_table([_minimal_row(caption_check=check)])
    assert table.column("caption_check").to_pylist() == [check]
    manifest = {"pipeline_version": "0", "output": "out", "llm_errors": ["no response: http://x unreachable"],
                "counts": {"inputs": 3, "rows": 3, "rows_by_split": {"train": 3}, "duplicates": 0, "failures": 0,
                           "failures_by_reason": {},
                           "captions": {"accepted": 1, "retried": 1, "fallback": 1, "template": 0}}}
    text = cli.format_summary(manifest)
    assert "captions    accepted=1  retried=1  fallback=1  template=0" in text
    assert "LLM: no response: http://x unreachable" in text


def test_llm_flags_parse_with_defaults():
    opts, beam = options.parse(["--captioner", "llm", "--llm-model", "m", "--llm-endpoint", "http://h:1/v1"])
    assert (opts.captioner, opts.llm_model, opts.llm_endpoint) == ("llm", "m", "http://h:1/v1")
    assert (opts.caption_style, opts.llm_api_key_env, opts.llm_cache) == ("writing", "OPENAI_API_KEY", None)
    assert (opts.llm_concurrency, opts.llm_batch_size) == (4, 8)
    assert "llm_model" not in beam.get_all_options(drop_default=True)
    assert options.parse([])[0].captioner == "template"
