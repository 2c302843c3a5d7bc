"""The dataset card: Hub YAML header, build facts, counts, plots, examples; it loads with
huggingface_hub and the shards load with ``datasets`` (offline)."""

import json
import os

import pytest
from fixtures import DRUMS_KIT, IN_MEMORY, drum_pattern, make_midi, melody, progression_piece

from captune.pipelines import build
from captune.pipelines.card import PLOTS, size_category
from captune.schemas import SCHEMA

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def _build(src, out):
    return build.run(["--input", str(src), "--output", str(out), "--license", "mit", "--seed", "5", *IN_MEMORY])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for i, bpm in enumerate((80, 100, 120, 140)):
        (src / f"prog{i}.mid").write_bytes(progression_piece(("C", "Am", "F", "G"), bpm=bpm, meter=(4, 4)))
    (src / "melody.mid").write_bytes(make_midi([(0, False, melody([60, 62, 64, 65, 67, 69, 71, 72]))]))
    (src / "drums.mid").write_bytes(make_midi([(DRUMS_KIT, True, drum_pattern(8))], tempo_bpm=100))
    (src / "bad.mid").write_bytes(b"garbage")
    out = tmp_path_factory.mktemp("out")
    return src, out, _build(src, out)


def test_the_card_loads_with_huggingface_hub_and_has_the_hub_metadata(built):
    import datasets
    from huggingface_hub import DatasetCard

    _, out, manifest = built
    card = DatasetCard.load(out / "README.md")
    data = card.data
    assert data.license == "mit" and data.size_categories == ["n<1K"]
    assert data.task_categories == ["text-to-audio", "text-generation"]
    (config,) = data.configs
    splits = sorted(manifest["counts"]["rows_by_split"])
    run = manifest["run_dir"]
    assert config["data_files"] == [{"split": s, "path": sorted(f["file"] for f in manifest["shards"] if f["split"] == s)}
                                    for s in splits]
    assert all(f.startswith(f"{run}/data/{s['split']}-") for s in config["data_files"] for f in s["path"])
    info = data.dataset_info
    assert info["features"] == datasets.Features.from_arrow_schema(SCHEMA)._to_yaml_list()
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == manifest["counts"]["rows_by_split"]


def test_the_card_tells_how_the_data_was_built_with_counts_plots_and_examples(built):
    src, out, manifest = built
    text = (out / "README.md").read_text()
    assert str(src) not in text  # the builder's paths stay out of the card; inputs are relative to the root
    for fact in (f"| run id | {manifest['run_id']} |", "| seed | 5 |", "| sources | `.` |", "| rows | 6 |",
                 "| failures: decode/not_midi | 1 |", "| C major |", "| Drums |", "## Example rows",
                 "| key_profile | \"albrecht\" |"):
        assert fact in text, fact
    for name in PLOTS:
        assert f"]({manifest['run_dir']}/plots/{name})" in text
        assert (out / manifest["run_dir"] / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wall" not in text and "timings" not in text


def test_the_shards_load_with_load_dataset_offline(built, tmp_path):
    from datasets import load_dataset

    _, out, manifest = built
    ds = load_dataset(str(out), cache_dir=str(tmp_path / "cache"))  # the card's data_files: the committed shards
    assert {s: ds[s].num_rows for s in ds} == manifest["counts"]["rows_by_split"]
    assert set(ds["train"].column_names) == set(SCHEMA.names)


def test_the_same_build_writes_the_same_card_and_plots(built, tmp_path):
    src, out, manifest = built
    again = tmp_path / "again"
    _build(src, again)
    for name in ["README.md", *(f"{manifest['run_dir']}/plots/{p}" for p in PLOTS)]:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    assert json.loads((again / "manifest.json").read_text())["timings"]  # timings live only in the manifest


def test_size_categories():
    assert [size_category(n) for n in (0, 999, 1000, 12_345, 2_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]


def test_the_card_counts_forms_and_sections():
    import pyarrow as pa

    from captune.pipelines.card import STAT_COLUMNS, distributions, table_md

    def sec(label, kind):
        return {"start_s": 0.0, "end_s": 1.0, "label": label, "kind": kind}
    pop = [sec("i", "intro"), sec("A", "verse"), sec("B", "chorus"), sec("A", "verse"), sec("B", "chorus")]
    folk = [sec(l, "melodic") for l in "AABB"]
    rows = [{"sections": s, "caption": "x", "variant": {"kind": "original"}} for s in (pop, folk, folk, None)]
    schema = pa.schema([SCHEMA.field(c) for c in STAT_COLUMNS])
    d = distributions(pa.Table.from_pylist(rows, schema=schema))
    assert d["forms"] == {"A A B B": 2, "verse-chorus": 1, "none": 1}
    assert d["section_counts"] == {4: 2, 5: 1, 0: 1}
    assert "| A A B B | 2 |" in table_md(("form", "rows"), d["forms"].items())
