"""``captune publish``: the dry run lists every file with its size, makes no network call and never
prints the token; the upload path is exercised against a recording stand-in for ``HfApi`` (no Hub
server runs in the tests)."""

import json

import huggingface_hub
import pytest
from fixtures import IN_MEMORY, make_midi, melody

from captune.pipelines import build, cli
from captune.pipelines.publish import files_to_upload, publish

TOKEN = "hf_testtoken_do_not_print_0123456789"


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for i in range(3):
        (src / f"m{i}.mid").write_bytes(make_midi([(0, False, melody([60 + i, 64, 67, 72]))], tempo_bpm=90 + i))
    out = tmp_path_factory.mktemp("out")
    build.run(["--input", str(src), "--output", str(out), *IN_MEMORY])
    (out / "llm_cache").mkdir()
    (out / "llm_cache" / "x.json").write_text("{}")  # never uploaded
    return out


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a network call in a dry run")

    for name in ("create_repo", "upload_folder", "whoami"):
        monkeypatch.setattr(huggingface_hub.HfApi, name, refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", TOKEN)


def test_dry_run_lists_every_file_and_never_prints_the_token(out, no_network, capsys):
    code = cli.main(["publish", str(out), "--repo-id", "someone/captune-test", "--private", "--dry-run"])
    printed = capsys.readouterr()
    assert code == 0
    assert TOKEN not in printed.out + printed.err
    assert "from the HF_TOKEN environment variable" in printed.out and "(private)" in printed.out
    files = files_to_upload(str(out))
    names = [p for p, _ in files]
    run = json.loads((out / "manifest.json").read_text())["run_dir"]
    assert {"README.md", "manifest.json", f"{run}/failures/failures.jsonl"} <= set(names)
    assert any(n.startswith(f"{run}/data/train-") for n in names) and any(n.startswith(f"{run}/plots/") for n in names)
    assert not any(n.startswith("llm_cache") for n in names)
    for path, size in files:
        assert f"{size:>12}  {path}" in printed.out
        assert size == (out / path).stat().st_size


def test_a_dataset_that_fails_validation_is_not_published(out, tmp_path, no_network, capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    shard = next(bad.glob("runs/*/data/*.parquet"))
    shard.write_bytes(shard.read_bytes()[:100])
    assert cli.main(["publish", str(bad), "--repo-id", "someone/x", "--dry-run"]) == 1
    assert "not published" in capsys.readouterr().out


class RecordingApi:
    """Stands in for ``HfApi``: records the calls instead of making them."""

    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))
        return "https://huggingface.co/datasets/someone/x/commit/0"


def test_publish_creates_a_dataset_repo_and_uploads_exactly_the_listed_files(out, no_network):
    api = RecordingApi()
    lines = []
    assert publish(str(out), "someone/x", private=True, api=api, echo=lines.append) == 0
    (create, upload) = api.calls
    assert create == ("create_repo", "someone/x", {"repo_type": "dataset", "private": True, "exist_ok": True})
    assert upload[1]["repo_type"] == "dataset" and upload[1]["folder_path"] == str(out)
    assert upload[1]["allow_patterns"] == [p for p, _ in files_to_upload(str(out))]
    assert not any(TOKEN in line for line in lines)
