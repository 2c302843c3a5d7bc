"""End-to-end: the Beam pipeline on a small generated corpus with planted bad files.

The corpus has known answers: four usable items (an E minor piece in 3/4 at
96 bpm, Em Am B7 Em, a C major melody, a drums-only groove, a Bach chorale score from
music21's corpus), one byte-identical copy, and one planted file per failure
the issue names. Every input must come out exactly once: as a row, a failure
record or a duplicate.
"""

import io
import json
import os
import random
import shutil
import wave

import numpy as np
import pyarrow.parquet as pq
import pytest
from fixtures import (SR, DRUMS_KIT, drum_pattern, float_wav_bytes, make_midi, melody, progression_audio,
                      progression_piece, read_list, shard_files, sine, wav_bytes)

from captune.pipelines import build
from captune.pipelines.errors import UsageError
from captune.pipelines.rows import split_of
from captune.schemas import SCHEMA, SCHEMA_VERSION, load

GOOD = {"e_minor.mid", "c_major.mid", "drums_only.mid", "bwv66.6.mxl", "a_minor.wav"}
EXPECTED_FAILURES = {  # file name → (stage, reason)
    "empty.mid": ("decode", "no_notes"),          # a header that declares 0 tracks
    "zero_bytes.mid": ("decode", "empty_file"),
    "random.mid": ("decode", "not_midi"),
    "truncated.mid": ("decode", "truncated"),
    "wav_renamed.mid": ("decode", "not_midi"),
    "no_notes.mid": ("decode", "no_notes"),
    "x.mid": ("read", "is_directory"),
    "too_long.mid": ("decode", "too_long"),
    "notes.txt": ("decode", "unsupported_format"),
    "header_only.wav": ("decode", "no_audio"),
    "random.ogg": ("decode", "decode_error"),
    "truncated.wav": ("decode", "decode_error"),
    "silence.wav": ("decode", "silent"),
    "nan.wav": ("decode", "nan_samples"),
    "blip.wav": ("extract", "too_short"),
}


A_MINOR_WAV = wav_bytes(progression_audio(["Am", "Dm", "E", "Am"], bpm=100, repeats=2)[0])  # 20 s


def _wav_bytes() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * 8000)
    return buf.getvalue()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    (root / "sub").mkdir()
    e_minor = progression_piece(("Em", "Am", "B7", "Em"), bpm=96, meter=(3, 4), repeats=4)
    files = {
        "e_minor.mid": e_minor,
        "sub/e_minor_copy.mid": e_minor,
        "c_major.mid": make_midi([(0, False, melody([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60], dur=0.9))],
                                 tempo_bpm=120),
        "drums_only.mid": make_midi([(DRUMS_KIT, True, drum_pattern(8))], tempo_bpm=100),
        "empty.mid": b"MThd\x00\x00\x00\x06\x00\x01\x00\x00\x01\xe0",
        "zero_bytes.mid": b"",
        "random.mid": random.Random(7).randbytes(3000),
        "truncated.mid": e_minor[: len(e_minor) // 2],
        "wav_renamed.mid": _wav_bytes(),
        "no_notes.mid": make_midi([(0, False, [])], tempo_bpm=120),
        "too_long.mid": make_midi([(0, False, [(0, 1, 60, 80), (2400, 1, 64, 80)])], tempo_bpm=120),  # 20 min
        "notes.txt": b"not music",
        "a_minor.wav": A_MINOR_WAV,
        "header_only.wav": wav_bytes(np.zeros(0)),
        "random.ogg": np.random.default_rng(3).bytes(4000),
        "truncated.wav": A_MINOR_WAV[: len(A_MINOR_WAV) // 2],
        "silence.wav": wav_bytes(np.zeros(SR)),
        "nan.wav": float_wav_bytes(np.where(np.arange(SR) % 100 == 0, np.nan, sine(440, 1.0, 0.5))),
        "blip.wav": wav_bytes(sine(440, 0.5, 0.5)),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    (root / "x.mid").mkdir()
    from music21 import corpus as m21corpus
    shutil.copy(m21corpus.getWork("bwv66.6"), root / "bwv66.6.mxl")
    patterns = [f"{root}/**/*.mid", f"{root}/*.mxl", f"{root}/*.txt", f"{root}/*.wav", f"{root}/*.ogg",
                f"{root}/missing/*.mid"]
    return root, patterns, len(files) + 2  # + the folder x.mid + the score


def _build(patterns, out, *extra):
    return build.run([a for p in patterns for a in ("--input", p)] + ["--output", str(out), *extra])


def _rows(out) -> list[dict]:
    rows = []
    for path in shard_files(out):
        table = pq.read_table(path)
        assert table.schema.equals(SCHEMA, check_metadata=False), path
        assert path.name.startswith(("train-", "test-")) and path.name.endswith(".parquet")
        rows += table.to_pylist()
    return rows


def _jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory):
    _, patterns, _ = corpus
    out = tmp_path_factory.mktemp("out")
    manifest = _build(patterns, out)
    return out, manifest


def test_every_input_is_a_row_a_failure_or_a_duplicate(corpus, built):
    root, _, n_files = corpus
    out, manifest = built
    rows, failures = _rows(out), read_list(out, "failures")
    duplicates = read_list(out, "duplicates")
    counts = manifest["counts"]
    # inputs: every matched path plus the pattern that matched nothing
    assert counts["inputs"] == n_files + 1
    assert counts["inputs"] == (counts["sources"] + counts["file_failures"] + counts["duplicates"]
                                + counts["near_duplicates"])
    assert (counts["rows"], counts["failures"], counts["duplicates"]) == (len(rows), len(failures), len(duplicates))
    assert counts["sources"] == len({r["source_id"] for r in rows}) and counts["near_duplicates"] == 0

    assert {os.path.basename(r["source_uri"]) for r in rows} == GOOD
    by_name = {os.path.basename(f["source_uri"]): (f["stage"], f["reason"]) for f in failures}
    assert by_name == {**EXPECTED_FAILURES, "*.mid": ("match", "no_match")}
    assert [os.path.basename(d["source_uri"]) for d in duplicates] == ["e_minor_copy.mid"]
    assert duplicates[0]["duplicate_of"] == "e_minor.mid"  # relative to the patterns' root, kept in the manifest
    assert manifest["root"] == str(root) and not any(str(root) in u for u in (r["source_uri"] for r in rows))
    uris = [r["source_uri"] for r in rows] + [f["source_uri"] for f in failures] + [d["source_uri"] for d in duplicates]
    assert len(uris) == len(set(uris)), "an input came out twice"
    for f in failures:
        assert f["detail"], f
    assert counts["failures_by_reason"]["decode/not_midi"] == 2


def test_rows_carry_the_known_facts(corpus, built):
    out, manifest = built
    rows = {os.path.basename(r["source_uri"]): r for r in _rows(out)}
    em = rows["e_minor.mid"]
    assert (em["modality"], em["key"], em["time_signature"], em["tempo_bpm"]) == ("midi", "E minor", "3/4", 96.0)
    # Em Am B7 Em | Em Am B7 Em …: the merged sequence repeats Em Am B7 four times
    assert em["chord_summary"] == ["Em", "Am", "B7"] and em["chord_summary_count"] == 4
    # sounding seconds: piano 3 notes x 30 s, drums 9 half-beat hits per 3-beat bar = 45 s, bass 30 s
    assert em["instrument_programs"] == [0, 128, 33]
    assert em["duration_s"] == pytest.approx(16 * 3 * 60 / 96, abs=0.01)  # 16 bars of 3 beats at 96 bpm
    assert "E minor" in em["caption"] and em["caption_source"] == "template"
    assert em["control_sentences"]["key"] and "E minor" in em["control_sentences"]["key"]
    assert em["media"]["path"] == "e_minor.mid" and em["media"]["bytes"][:4] == b"MThd"
    with open(os.path.join(manifest["root"], em["source_uri"]), "rb") as fh:  # read again by the shard writer: the whole file, unchanged
        assert em["media"]["bytes"] == fh.read()

    drums = rows["drums_only.mid"]
    assert drums["key"] is None and drums["chords"] == [] and drums["instruments"] == ["Drums"]
    assert drums["tempo_bpm"] == 100.0 and "None" not in drums["caption"]

    score = rows["bwv66.6.mxl"]
    assert score["modality"] == "score" and score["key"] == "F# minor"

    audio = rows["a_minor.wav"]  # Am Dm E Am, four beats each at 100 bpm, a click on every beat
    assert (audio["modality"], audio["key"], audio["tempo_source"]) == ("audio", "A minor", "audio")
    assert audio["tempo_bpm"] == pytest.approx(100, rel=0.04)
    assert audio["duration_s"] == pytest.approx(2 * 16 * 0.6 + 1.0, abs=0.05)
    assert audio["loudness_lufs"] is not None and audio["audio_stats"]["onset_rate"] > 0
    assert audio["media"] == {"bytes": A_MINOR_WAV, "path": "a_minor.wav"} and audio["clip_start_s"] is None
    assert audio["valence"] is not None and "A minor" in audio["caption"]
    assert audio["note_stats"] is None and audio["instruments"] is None

    for row in rows.values():
        assert row["id"] != row["source_id"] and row["group_id"] == row["source_id"]
        assert row["split"] == split_of(row["group_id"], 0.1)
        assert row["variant"]["kind"] == "original"
        assert row["schema_version"] == SCHEMA_VERSION


def test_same_inputs_and_seed_give_the_same_files(corpus, built, tmp_path):
    _, patterns, _ = corpus
    out1, _ = built
    out2 = tmp_path / "again"
    _build(patterns, out2)
    run = json.loads((out1 / "manifest.json").read_text())["run_dir"]
    assert run == json.loads((out2 / "manifest.json").read_text())["run_dir"]
    for folder in ("data", "failures"):
        names = sorted(os.listdir(out1 / run / folder))
        assert names == sorted(os.listdir(out2 / run / folder))
        for name in names:
            assert (out1 / run / folder / name).read_bytes() == (out2 / run / folder / name).read_bytes(), name

    out3 = tmp_path / "seed"
    _build(patterns, out3, "--seed", "1")
    a = {r["id"]: r for r in _rows(out1)}
    b = {r["id"]: r for r in _rows(out3)}
    assert a.keys() == b.keys()  # ids and splits do not depend on the seed
    assert all(a[i]["key"] == b[i]["key"] and a[i]["split"] == b[i]["split"] for i in a)
    assert any(a[i]["caption"] != b[i]["caption"] for i in a)


def test_manifest_records_the_run(built):
    out, manifest = built
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["seed"] == 0
    assert manifest["rows_made"] == manifest["counts"]["rows"] and "warnings" not in manifest
    assert manifest["timings"]["wall_s"] > 0 and manifest["timings"]["files_per_s"] > 0
    assert sum(s["rows"] for s in manifest["shards"]) == manifest["counts"]["rows"]
    run = manifest["run_dir"]
    assert {s["file"] for s in manifest["shards"]} == {f"{run}/data/{n}" for n in os.listdir(out / run / "data")}
    assert sorted(os.listdir(out)) == ["README.md", "manifest.json", "runs"]  # no lock, no staging left


def test_an_item_over_the_time_limit_is_a_timeout_failure(corpus, tmp_path):
    root, _, _ = corpus
    manifest = _build([f"{root}/bwv66.6.mxl"], tmp_path, "--item-timeout", "0.001")
    assert manifest["counts"]["failures_by_reason"] == {"analyze/timeout": 1}
    assert manifest["counts"]["rows"] == 0


def test_demo_builds_from_the_bundled_corpus(tmp_path, capsys):
    from captune.pipelines import cli

    out = tmp_path / "demo-out"
    assert cli.main(["demo", "--limit", "3", "--output", str(out), "--direct_running_mode", "in_memory",
                     "--direct_num_workers", "1"]) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["inputs"] == 3
    assert manifest["counts"]["rows"] + manifest["counts"]["failures"] == 3
    assert manifest["counts"]["rows"] >= 2
    assert f"committed: {out}/manifest.json" in printed


def test_a_pattern_that_cannot_be_matched_is_a_failure_record():
    from captune.pipelines.transforms import MatchInputs

    # no filesystem is registered for this scheme, so Beam cannot list it
    (out,) = list(MatchInputs().process("nosuchscheme://bucket/*.mid"))
    record = out.value
    assert (record["stage"], record["reason"]) == ("match", "match_error")
    assert record["source_uri"] == "nosuchscheme://bucket/*.mid" and record["detail"]


INCREMENTAL = ("a0.mid", "a1.mid", "a2.mid", "b0.mid", "b1.mid")


def _incremental_sources(root, names):
    """A different melody per file name."""
    for name in names:
        i = INCREMENTAL.index(name)
        (root / name).write_bytes(make_midi([(0, False, melody([60 + i, 64, 67, 72 - i]))], tempo_bpm=90 + i))


def test_an_incremental_run_killed_half_way_and_run_again_has_every_input_exactly_once(tmp_path, monkeypatch):
    from captune.pipelines import build as build_module
    from captune.schemas.check import check_dataset

    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    _incremental_sources(src, ["a0.mid", "a1.mid", "a2.mid"])
    (src / "bad.mid").write_bytes(b"garbage")
    args = ["--incremental", "--direct_running_mode", "in_memory", "--direct_num_workers", "1"]
    first = _build([str(src)], out, *args)
    assert first["counts"]["rows"] == 3 and len(first["runs"]) == 1

    _incremental_sources(src, ["b0.mid", "b1.mid"])
    (src / "a0_copy.mid").write_bytes((src / "a0.mid").read_bytes())

    def killed(*_, **__):  # dies after its shards are written, before the manifest commits them
        raise RuntimeError("killed")

    monkeypatch.setattr(build_module, "write_jsonl", killed)
    with pytest.raises(Exception, match="killed"):
        _build([str(src)], out, *args)
    monkeypatch.undo()
    assert len(list(out.glob("runs/*/data/*.parquet"))) > len(first["shards"])  # uncommitted shards on disk
    assert json.loads((out / "manifest.json").read_text())["runs"] == first["runs"]
    assert load(str(out)).num_rows == 3  # the loader reads only the committed shards

    second = _build([str(src)], out, *args)
    third = _build([str(src)], out, *args)
    rows, failures = _rows(out), read_list(out, "failures")
    duplicates = read_list(out, "duplicates")
    uris = [r["source_uri"] for r in rows] + [f["source_uri"] for f in failures] + [d["source_uri"] for d in duplicates]
    assert sorted(os.path.basename(u) for u in uris) == sorted(p.name for p in src.iterdir())
    assert len({r["source_id"] for r in rows}) == len(rows) == 5
    a0 = next(r["source_id"] for r in rows if r["source_uri"].endswith("a0.mid"))
    assert duplicates == [{"source_uri": "a0_copy.mid", "source_id": a0, "duplicate_of": "a0.mid"}]
    # run 2 skips a0-a2, bad.mid (a failure with a source id) and a0_copy (listed as a duplicate)
    assert [r["skipped"] for r in third["runs"]] == [0, 5, 7]
    assert [r["counts"]["rows"] for r in third["runs"]] == [3, 2, 0] and third["runs"][:2] == second["runs"]
    assert third["counts"] == second["counts"] and third["counts"]["inputs"] == 7
    listed = {s["file"] for s in third["shards"]}
    assert listed == {str(p.relative_to(out)) for p in out.glob("runs/*/data/*.parquet")}  # the killed run's are gone
    assert {f.split("/")[1] for f in listed} == {r["run_dir"].split("/")[1] for r in (first, second)}
    assert check_dataset(str(out))["success"]


def test_an_incremental_run_refuses_to_mix_two_recipes(tmp_path):
    """Rows added to a folder must be made as its rows were: another --seed, another captune code (a
    manifest that names another fingerprint), another music21 or a folder with no recipe stop the run before any work,
    naming what differs, and the folder is as it was; the same recipe adds its rows."""
    from captune.pipelines import commit
    from captune.pipelines.recipe import code_fingerprint

    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    _incremental_sources(src, ["a0.mid", "a1.mid"])
    args = ["--incremental", "--direct_running_mode", "in_memory", "--direct_num_workers", "1"]
    first = _build([str(src)], out, *args)
    assert first["recipe"]["code"] == code_fingerprint() and first["recipe"]["options"]["seed"] == 0
    _incremental_sources(src, ["b0.mid"])
    before = (out / "manifest.json").read_bytes()
    with pytest.raises(UsageError, match=r"--seed 0 there, 1 here"):
        _build([str(src)], out, *args, "--seed", "1")
    manifest = json.loads(before)
    old_music21 = {**manifest["recipe"], "libraries": {**manifest["recipe"]["libraries"], "music21": "0.1"}}
    for recipe, message in (({**manifest["recipe"], "code": "0" * 16}, f"code {'0' * 16} there, {code_fingerprint()} here"),
                            (old_music21, r"music21 0\.1 there, \d"), (None, "records no recipe")):
        edited = {**manifest, "recipe": recipe} if recipe else {k: v for k, v in manifest.items() if k != "recipe"}
        (out / "manifest.json").write_text(json.dumps(edited))
        with pytest.raises(UsageError, match=message):
            _build([str(src)], out, *args)
    (out / "manifest.json").write_bytes(before)
    assert load(str(out)).num_rows == 2 and not (out / commit.LOCK).exists()
    assert _build([str(src)], out, *args)["counts"]["rows"] == 3


def test_the_pipeline_builds_for_dataflow_without_running(tmp_path):
    """DataflowRunner options: a local --output is refused before anything starts; the graph is
    constructed and inspected, never submitted, and ends with the step that commits the build on the
    workers. (Beam without the gcp extra cannot join gs:// paths, so the graph is built here with a local
    output, past the guard; the graph does not depend on it.)"""
    from apache_beam.options.pipeline_options import GoogleCloudOptions, SetupOptions
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner

    from captune.pipelines import commit, incremental
    from captune.pipelines.flex import build_argv

    argv = build_argv(["--input=gs://my-bucket/midi/**/*.mid", f"--output={tmp_path / 'out'}", "--incremental=true",
                       "--rows_per_shard=500", "--runner=DataflowRunner", "--project=my-project",
                       "--region=europe-west1", "--temp_location=gs://my-bucket/tmp",
                       "--staging_location=gs://my-bucket/staging", "--setup_file=./setup.py"])
    with pytest.raises(UsageError, match="DataflowRunner's workers do not share this machine's files, so --output"):
        build.parse_checked(argv)
    opts, options = build.parse_checked([a.replace(str(tmp_path / "out"), "gs://my-bucket/out") for a in argv])
    assert opts.output == "gs://my-bucket/out"
    opts.output = str(tmp_path / "out")
    plan = {"state": incremental.EMPTY, "run_id": "0" * 12, "generation": 1, "run": commit.run_folder(1, "0" * 12)}
    pipeline = build.make_pipeline(opts, options, plan, finish={"started": 0.0, "holder": commit.holder_info("x")})
    assert isinstance(pipeline.runner, DataflowRunner)
    assert (opts.incremental, opts.rows_per_shard) == (True, 500)
    assert pipeline.options.view_as(SetupOptions).setup_file == "./setup.py"
    assert pipeline.options.view_as(GoogleCloudOptions).region == "europe-west1"
    proto = pipeline.to_runner_api()
    steps = {t.unique_name for t in proto.components.transforms.values()}
    for step in ("Build/Match", "Build/ReadAndHash", "Build/SkipKnown", "Build/GroupCopies", "Build/AnalyzeAndCaption",
                 "Build/AssignShard", "Build/GroupShards", "Build/WriteShard", "WriteManifest", "Commit"):
        assert step in steps, step
    assert not (tmp_path / "out").exists()  # nothing ran


def test_rows_carry_emotion_and_emotion_model_changes_it(tmp_path):
    """Every MIDI row gets valence, arousal, quadrant and mood from the default model; a model
    file given with --emotion-model (sent to the isolated analysis child as JSON) replaces it."""
    src = tmp_path / "src"
    src.mkdir()
    happy = [(i * 0.5, 0.25, 72 + (0, 2, 4, 7)[i % 4], 110) for i in range(32)]  # fast loud staccato C major
    chords = [(b * 4.0, 4.0, p, 110) for b in range(4) for p in (48, 52, 55)]
    (src / "happy.mid").write_bytes(make_midi([(0, False, chords), (0, False, happy)], tempo_bpm=160))
    sad = [(i * 2.0, 2.0, (57, 60, 64, 60)[i % 4], 40) for i in range(8)]  # slow quiet legato A minor
    (src / "sad.mid").write_bytes(make_midi([(0, False, sad), (0, False, [(0, 16, 45, 40)])], tempo_bpm=60))
    fast = ("--direct_running_mode", "in_memory")  # one process; analysis still runs in the isolated child
    _build([str(src)], tmp_path / "a", *fast)
    rows = {os.path.basename(r["source_uri"]): r for r in _rows(tmp_path / "a")}
    assert rows["happy.mid"]["emotion_quadrant"] == 1 and rows["sad.mid"]["emotion_quadrant"] == 3
    for r in rows.values():
        assert -1 <= r["valence"] <= 1 and -1 <= r["arousal"] <= 1 and r["mood"]
        assert r["mood"][0] in r["caption"]  # the template captioner mentions the mood
    from captune.extractors.emotion import DEFAULT_MODEL
    spec = DEFAULT_MODEL.to_dict()
    spec["valence"] = {"weights": {"mode": -3.0}, "intercept": 0.0, "link": "tanh"}  # mode flipped
    (tmp_path / "flipped.json").write_text(json.dumps(spec))
    _build([str(src)], tmp_path / "b", "--emotion-model", str(tmp_path / "flipped.json"), *fast)
    flipped = {os.path.basename(r["source_uri"]): r for r in _rows(tmp_path / "b")}
    assert flipped["happy.mid"]["emotion_quadrant"] == 2 and flipped["sad.mid"]["emotion_quadrant"] == 4
    assert flipped["happy.mid"]["arousal"] == rows["happy.mid"]["arousal"]
    with pytest.raises(SystemExit, match="emotion-model"):
        _build([str(src)], tmp_path / "c", "--emotion-model", str(tmp_path / "missing.json"))


def test_rows_lost_between_analysis_and_shards_are_reported(built, tmp_path):
    """finish_manifest follows the row counters step by step and names the step that lost rows."""
    out, manifest = built
    n = manifest["counts"]["rows"]
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    whole = {"made": n, "grouped": n, "near_duplicate": 0, "to_shards": n}
    assert "warnings" not in build.finish_manifest(str(copy), 0.0, whole)
    checked = build.finish_manifest(str(copy), 0.0, {**whole, "made": n + 3, "grouped": n + 3})
    assert checked["warnings"] == [f"the grouping step kept {n + 3} rows but only {n} reached the shard writer"]
    assert checked["rows_made"] == n + 3
    assert json.loads((copy / "manifest.json").read_text())["warnings"] == checked["warnings"]
    dropped = build.finish_manifest(str(copy), 0.0, {"made": n + 3, "grouped": n + 3, "near_duplicate": 3,
                                                     "to_shards": n})
    assert "warnings" not in dropped  # rows of near-duplicates dropped by --dedup near are not lost
    lost_early = build.finish_manifest(str(copy), 0.0, {**whole, "made": n + 1})
    assert lost_early["warnings"] == [f"the analysis made {n + 1} rows but only {n} entered the grouping step"]
    assert lost_early["row_check"] == "rows lost: see warnings" and built[1]["row_check"] == "passed"


class _Result:
    """A finished run's result as a runner without usable metrics gives it."""

    def __init__(self, counters=None):
        self.counters = counters

    def metrics(self):
        if self.counters is None:
            raise NotImplementedError("no metrics on this runner")
        return self

    def query(self, _filter):
        return {"counters": self.counters, "distributions": [], "gauges": []}


def test_a_run_without_counters_says_the_row_check_was_skipped(built, tmp_path):
    out, _ = built
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    build.finish_manifest(str(copy), 0.0, {"made": 1, "grouped": 1, "near_duplicate": 0, "to_shards": 0})
    for result in (_Result(), _Result([])):  # metrics unsupported; supported but none reported
        assert build.row_counts(result) is None
        skipped = build.finish_manifest(str(copy), 0.0, build.row_counts(result))
        assert skipped["row_check"] == "skipped: the runner reported no captune counters"
        assert "warnings" not in skipped and "rows_made" not in skipped  # the earlier check's are gone


def test_media_left_out_of_the_shuffles_comes_back_checked(tmp_path):
    """Shuffles carry no source bytes and no large generated media: KeepFirstCopy and the shard writer
    read the file again and check it against its sha256, so a file edited or removed during the build is
    a failure, never wrong media."""
    import hashlib

    from captune.pipelines.rows import source_id
    from captune.pipelines.transforms import MEDIA_FROM, KeepFirstCopy, with_media

    path = tmp_path / "a.mid"
    path.write_bytes(b"MThd first")
    source = source_id(b"MThd first")
    row = {"id": "r", "source_id": source, "source_uri": str(path), "media": {"bytes": None, "path": "a.mid"},
           MEDIA_FROM: {"uri": str(path), "sha256": source}}
    staged = tmp_path / "r2.flac"
    staged.write_bytes(b"fLaC clip")
    clip = {**row, "id": "r2", "media": {"bytes": None, "path": "a.0.0s.flac"},
            MEDIA_FROM: {"uri": str(staged), "sha256": hashlib.sha256(b"fLaC clip").hexdigest()}}
    rows, bad = with_media([row, clip, {"id": "s", "media": {"bytes": b"small", "path": "s.mid"}}])
    assert bad == [] and [r["media"]["bytes"] for r in rows] == [b"MThd first", b"fLaC clip", b"small"]
    assert all(MEDIA_FROM not in r for r in rows)
    assert list(KeepFirstCopy().process((source, [(str(path), 10)]))) == [(str(path), source, b"MThd first")]

    path.write_bytes(b"MThd edited")
    rows, bad = with_media([row])
    assert rows == [] and [(b["stage"], b["reason"]) for b in bad] == [("validate", "media_changed")]
    [changed] = list(KeepFirstCopy().process((source, [(str(path), 10)])))
    assert (changed.tag, changed.value["stage"], changed.value["reason"]) == ("failures", "read", "changed")

    path.unlink()
    rows, bad = with_media([row])
    assert rows == [] and [(b["stage"], b["reason"]) for b in bad] == [("validate", "media_unreadable")]


def test_the_summary_gathers_lists_counts_and_the_largest_groups_over_bundles():
    """The manifest's one combining step: every name present when nothing came, the counts and lists
    added up over partial results, the ten largest groups of more than one source, largest first."""
    from captune.pipelines.transforms import Summary

    summary = Summary()
    empty = summary.extract_output(summary.create_accumulator())
    assert empty == {"failures": [], "duplicates": [], "near_duplicates": [], "shards": [], "paths": 0, "unmatched": 0,
                     "skipped": 0, "sources": 0, "groups": 0, "rows_made": 0, "rows_dropped": 0, "largest": []}

    def partial(elements):
        acc = summary.create_accumulator()
        for element in elements:
            acc = summary.add_input(acc, element)
        return acc

    groups = [(f"g{i:02d}", i % 7) for i in range(24)]  # sizes 0-6; ties broken by the greater id
    first = partial([("paths", "a.mid"), ("paths", "b.mid"), ("failures", {"source_uri": "b.mid"}),
                     *(("largest", g) for g in groups[:12])])
    second = partial([("paths", "c.mid"), ("sources", ("s", {})), ("shards", {"file": "x"}),
                      *(("largest", g) for g in groups[12:])])
    out = summary.extract_output(summary.merge_accumulators([first, summary.create_accumulator(), second]))
    assert (out["paths"], out["sources"], out["unmatched"]) == (3, 1, 0)
    assert out["failures"] == [{"source_uri": "b.mid"}] and out["shards"] == [{"file": "x"}]
    expected = sorted((g for g in groups if g[1] > 1), key=lambda kv: (kv[1], kv[0]), reverse=True)[:10]
    assert out["largest"] == expected and expected[0] == ("g20", 6) and len(expected) == 10
