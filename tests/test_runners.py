"""Which runners count as local, the guards that refuse local paths before a remote submission, and the
worker-side files read through Beam's FileSystems (``gs://`` in use; local FileSystems paths here)."""

import json
import os
import tempfile

import pytest

from captune import items
from captune.pipelines import build, cli, worker_files
from captune.pipelines.errors import UsageError
from captune.pipelines.options import caption_examples, is_local_runner, parse
from captune.pipelines.transforms import llm_settings

BUCKET = ["--input", "gs://b/midi/*.mid", "--output", "gs://b/out"]
DATAFLOW = ["--runner", "DataflowRunner", "--project", "p", "--region", "europe-west1", "--temp_location", "gs://b/tmp"]


@pytest.mark.parametrize("flags, local", [
    ([], True),
    (["--runner", "DirectRunner", "--direct_running_mode", "multi_processing"], True),
    (["--runner", "apache_beam.runners.portability.fn_api_runner.FnApiRunner"], True),
    (["--runner", "PortableRunner", "--job_endpoint", "embed", "--environment_type", "EXTERNAL",
      "--environment_config", "localhost:50000"], True),
    (["--runner", "PortableRunner", "--job_endpoint", "embed", "--environment_type", "EXTERNAL",
      "--environment_config", "127.0.0.1:50000"], True),
    (["--runner", "PortableRunner", "--job_endpoint", "embed", "--environment_type", "LOOPBACK"], True),
    (["--runner", "FlinkRunner", "--flink_master", "[local]", "--environment_type", "LOOPBACK"], True),
    (["--runner", "PortableRunner", "--job_endpoint", "embed"], False),  # DOCKER workers by default
    (["--runner", "PortableRunner", "--job_endpoint", "embed", "--environment_type", "EXTERNAL",
      "--environment_config", "pool.example:50000"], False),
    (["--runner", "PortableRunner", "--job_endpoint", "jobserver:8099", "--environment_type", "EXTERNAL",
      "--environment_config", "localhost:50000"], False),  # a sidecar beside a remote task manager
    (["--runner", "FlinkRunner", "--flink_master", "flink:8081"], False),
    (["--runner", "SparkRunner", "--spark_master_url", "spark://spark:7077"], False),
    (DATAFLOW, False),
])
def test_local_runners_are_those_whose_workers_share_this_machines_files(flags, local):
    assert is_local_runner(parse(BUCKET + flags)[1]) is local


@pytest.mark.parametrize("args, named", [
    (["--input", "midi/", "--output", "gs://b/out"], "input pattern midi/"),
    (["--input", "gs://b/midi/*.mid", "--output", "out/"], "--output out/"),
    (BUCKET + ["--render-midi", "--soundfont", "/usr/share/sounds/sf2/FluidR3_GM.sf2"], "--soundfont /usr/share"),
    (BUCKET + ["--essentia-models", "models/"], "--essentia-models models/"),
    (BUCKET + ["--captioner", "llm", "--llm-model", "/models/qwen"], "--llm-model /models/qwen"),
    (BUCKET + ["--captioner", "llm", "--llm-model", "m", "--llm-endpoint", "http://llm:8000/v1", "--llm-cache",
               "cache/"], "--llm-cache cache/"),
])
def test_a_remote_runner_refuses_local_paths_before_submission(args, named, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["build", *args, *DATAFLOW]) == 2
    err = capsys.readouterr().err
    assert "DataflowRunner's workers do not share this machine's files" in err and named in err
    assert "Traceback" not in err and os.listdir(tmp_path) == []  # nothing written, not even a lock


def test_a_remote_runner_takes_a_local_emotion_model_and_caption_examples(tmp_path):
    """Both are read on the launcher and travel with the pipeline; an LLM at an endpoint needs no path."""
    from captune.extractors.emotion import DEFAULT_MODEL
    from captune.pipelines.build import item_settings

    examples, model = tmp_path / "examples.jsonl", tmp_path / "emotion.json"
    examples.write_text(json.dumps({"facts": "key: G major", "caption": "Bright, in G major."}) + "\n")
    model.write_text(DEFAULT_MODEL.to_json())
    opts, options = build.parse_checked(BUCKET + DATAFLOW + [
        "--captioner", "llm", "--llm-model", "m", "--llm-endpoint", "http://llm:8000/v1", "--llm-cache", "gs://b/c",
        "--caption-examples", str(examples), "--emotion-model", str(model)])
    assert not is_local_runner(options)
    assert llm_settings(opts)["examples"] == [{"facts": "key: G major", "caption": "Bright, in G major."}]
    assert item_settings(opts).emotion_model == DEFAULT_MODEL.to_json()  # the text, not the path


def test_caption_examples_are_read_through_filesystems_and_checked(tmp_path):
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text('{"facts": {"key": "D minor"}, "caption": "A lone cello in D minor."}\n\n')
    bad.write_text('{"facts": {"key": "D minor"}}\n')
    opts, _ = parse(["--caption-examples", str(good)])
    assert caption_examples(opts) == [{"facts": {"key": "D minor"}, "caption": "A lone cello in D minor."}]
    for path, message in ((bad, "bad.jsonl:1: expected"), (tmp_path / "missing.jsonl", "cannot be read")):
        with pytest.raises(UsageError, match=message):
            caption_examples(parse(["--caption-examples", str(path)])[0])
    assert caption_examples(parse([])[0]) is None


def test_a_worker_copies_a_file_or_a_folder_once_and_keeps_local_paths(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    models = tmp_path / "models"
    (models / "heads").mkdir(parents=True)
    (models / "embedding.pb").write_bytes(b"\x00graph")
    (models / "heads" / "genre.json").write_text('{"classes": ["rock"]}')
    copy = worker_files.fetch(str(models), folder=True)
    assert copy.startswith(str(tmp_path / "tmp" / "captune-files")) and os.path.basename(copy) == "models"
    assert open(os.path.join(copy, "embedding.pb"), "rb").read() == b"\x00graph"
    assert open(os.path.join(copy, "heads", "genre.json")).read() == '{"classes": ["rock"]}'
    font = models / "embedding.pb"
    single = worker_files.fetch(str(font), folder=False)
    assert open(single, "rb").read() == b"\x00graph" and os.path.basename(single) == "embedding.pb"
    (models / "embedding.pb").unlink()
    assert worker_files.fetch(str(models), folder=True) == copy  # copied once: the copy is used again
    assert sorted(os.listdir(os.path.dirname(copy))) == ["models"]  # no partial copy left beside it
    with pytest.raises(FileNotFoundError):
        worker_files.fetch(str(tmp_path / "nothing"), folder=True)
    settings = items.Settings(soundfont=str(font), essentia_models=str(models))
    assert worker_files.localized(settings) == settings  # local paths are used where they are


def test_every_flex_template_parameter_is_a_captune_flag():
    from captune.pipelines.flex import build_argv
    from captune.pipelines.options import captune_flags

    with open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "deploy", "flex-template-metadata.json")) as fh:
        parameters = json.load(fh)["parameters"]
    assert {"input", "output", "incremental", "essentia_models"} <= {p["name"] for p in parameters}
    for p in parameters:
        [arg] = build_argv([f"--{p['name']}=true"])
        assert arg.split("=")[0] in captune_flags(), p["name"]


def test_a_default_build_never_tries_beams_prism_runner(tmp_path, monkeypatch):
    # Beam's DirectRunner tries Prism first (a binary downloaded from GitHub), and falls back quietly
    # when that fails: a Prism run that raises would still end in a good build, so the attempt is counted.
    from apache_beam.runners.portability import prism_runner
    from fixtures import two_piece_corpus

    tried = []

    def refuse(self, *args, **kwargs):
        tried.append(args)
        raise RuntimeError("no Prism here")

    monkeypatch.setattr(prism_runner.PrismRunner, "run_pipeline", refuse)
    src = two_piece_corpus(tmp_path / "src")
    manifest = build.run(["--input", str(src), "--output", str(tmp_path / "out")])
    assert manifest["counts"]["rows"] == 2 and manifest["row_check"] == "passed"
    assert tried == []


def test_a_build_committed_by_its_own_last_step_is_checked_after_the_job(tmp_path, monkeypatch, capsys):
    """``commit_on_workers`` (the default on a remote runner), on the DirectRunner: the pipeline's Commit
    step commits and releases the lock, the waiting launcher adds the row check (rows lost by then are
    committed already: the launcher says so, once); a job that fails in that step leaves no dataset and
    no lock."""
    from fixtures import IN_MEMORY, two_piece_corpus

    from captune.pipelines import commit
    from captune.schemas import NoCommittedDataset, load

    src = two_piece_corpus(tmp_path / "src")
    manifest = build.run(["--input", str(src), "--output", str(tmp_path / "out"), *IN_MEMORY], commit_on_workers=True)
    assert manifest["row_check"] == "passed" and manifest["counts"]["rows"] == 2
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == manifest
    assert load(str(tmp_path / "out")).num_rows == 2 and (tmp_path / "out" / "README.md").exists()
    assert not (tmp_path / "out" / commit.LOCK).exists()
    counts = build.row_counts
    monkeypatch.setattr(build, "row_counts", lambda result: {**counts(result), "made": counts(result)["made"] + 1})
    capsys.readouterr()
    lost = build.run(["--input", str(src), "--output", str(tmp_path / "lost"), *IN_MEMORY], commit_on_workers=True)
    assert lost["row_check"] == "rows lost: see warnings"
    assert capsys.readouterr().err.count("captune: WARNING: the analysis made 3 rows but only 2 entered") == 1
    monkeypatch.setattr(build, "row_counts", counts)

    from captune.pipelines import transforms

    grouped = transforms.SetGroup.process

    vanished = []

    def one_vanishes(self, joined):  # the first row grouped never reaches the shards, as the runner lost rows
        for row in grouped(self, joined):
            if vanished:
                yield row
            else:
                vanished.append(row)

    monkeypatch.setattr(transforms.SetGroup, "process", one_vanishes)
    with pytest.raises(Exception, match="the pipeline counted 2 rows made and kept but 1 were written"):
        build.run(["--input", str(src), "--output", str(tmp_path / "vanished"), *IN_MEMORY], commit_on_workers=True)
    with pytest.raises(NoCommittedDataset):
        load(str(tmp_path / "vanished"))
    assert not (tmp_path / "vanished" / commit.LOCK).exists()
    monkeypatch.setattr(transforms.SetGroup, "process", grouped)

    def killed(*_, **__):
        raise RuntimeError("the Commit step died")

    monkeypatch.setattr(build, "finish_manifest", killed)
    with pytest.raises(Exception, match="the Commit step died"):
        build.run(["--input", str(src), "--output", str(tmp_path / "new"), *IN_MEMORY], commit_on_workers=True)
    with pytest.raises(NoCommittedDataset):
        load(str(tmp_path / "new"))
    assert not (tmp_path / "new" / commit.LOCK).exists()


def test_a_remote_soundfont_or_model_folder_is_checked_through_filesystems():
    """Without Beam's gcp filesystem (as here) a gs:// soundfont or model folder cannot be checked: a
    clear refusal, not a traceback from the workers later."""
    from apache_beam.io.filesystems import FileSystems

    try:
        FileSystems.get_filesystem("gs://b/x")
        pytest.skip("Beam's gcp filesystem is installed: checking would reach Cloud Storage")
    except ValueError:
        pass
    for flags, message in ((["--render-midi", "--soundfont", "gs://b/FluidR3_GM.sf2"], "--soundfont gs://b/FluidR3"),
                           (["--essentia-models", "gs://b/models"], "--essentia-models gs://b/models/discogs")):
        with pytest.raises(UsageError, match=f"{message}.*cannot be checked .*apache-beam\\[gcp\\]"):
            build.parse_checked(BUCKET + DATAFLOW + flags)
