"""End-to-end builds with augmentation, near-duplicate groups and dedup (MIDI only).

The corpus: a C major progression (C F G C, 3/4, 96 bpm), a *version* of it in
another file (the same progression in D major at 110 bpm: transposed and
re-tempoed, which near-duplicate grouping must catch) and an unrelated melody.
"""

import os

import pytest
from fixtures import IN_MEMORY, make_midi, melody, progression_piece, read_list, read_rows

from captune.pipelines import build

TUNE = progression_piece(("C", "F", "G", "C"), bpm=96, meter=(3, 4), repeats=4)
VERSION = progression_piece(("D", "G", "A", "D"), bpm=110, meter=(3, 4), repeats=4)
OTHER = make_midi([(0, False, melody([64, 62, 60, 62, 64, 64, 64, 62, 62, 62, 64, 67, 67,
                                      64, 62, 60, 62, 64, 64, 64, 64, 62, 62, 64, 62, 60], dur=0.9))],
                  tempo_bpm=100)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("songs")
    for rel, data in {"a/tune.mid": TUNE, "b/tune_in_d.mid": VERSION, "c/other.mid": OTHER}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _build(root, out, *flags):
    return build.run(["--input", str(root), "--output", str(out), *flags, *IN_MEMORY])


@pytest.fixture(scope="module")
def augmented(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("augmented")
    manifest = _build(corpus, out, "--augment", "musicbench", "--verify-augmentation", "--test-fraction", "0.5")
    return manifest, read_rows(out)


def _by_file(rows):
    grouped = {}
    for r in rows:
        grouped.setdefault(os.path.basename(r["source_uri"]), []).append(r)
    return grouped


def test_every_source_gets_the_original_and_eleven_variants(augmented):
    manifest, rows = augmented
    by_file = _by_file(rows)
    assert set(by_file) == {"tune.mid", "tune_in_d.mid", "other.mid"}
    for name, group in by_file.items():
        kinds = sorted(r["variant"]["kind"] for r in group)
        assert kinds == ["original"] + ["pitch_shift"] * 6 + ["tempo_change"] * 4 + ["volume_change"], name
        assert sorted(r["variant"]["semitones"] for r in group if r["variant"]["kind"] == "pitch_shift") == \
            [-3, -2, -1, 1, 2, 3]
        ratios = [r["variant"]["tempo_ratio"] for r in group if r["variant"]["kind"] == "tempo_change"]
        assert sum(x > 1 for x in ratios) == 2 and all(1.10 <= max(x, 1 / x) <= 1.25 + 1e-6 for x in ratios)
        assert len({r["id"] for r in group}) == 12
    counts = manifest["counts"]
    assert counts["sources"] == 3 and counts["rows"] == 36 and counts["inputs"] == 3


def test_variant_labels_are_rewritten_and_verified(augmented):
    _, rows = augmented
    tune = {(r["variant"]["kind"], r["variant"]["semitones"] or r["variant"]["tempo_ratio"]): r
            for r in _by_file(rows)["tune.mid"]}
    original = tune[("original", None)]
    assert original["key"] == "C major" and original["tempo_bpm"] == pytest.approx(96, abs=0.01)
    assert tune[("pitch_shift", 3)]["key"] == "Eb major"    # the conventional spelling, not D#
    assert tune[("pitch_shift", -1)]["key"] == "B major"
    assert tune[("pitch_shift", 1)]["key"] == "Db major"
    # C F G C C F G C …: equal neighbours merge, so the repeating unit is C F G
    assert tune[("pitch_shift", 3)]["chord_summary"] == ["Eb", "Ab", "Bb"]
    for (kind, value), row in tune.items():
        if kind == "tempo_change":
            assert row["tempo_bpm"] == pytest.approx(96 * value, rel=1e-3)
            assert row["duration_s"] == pytest.approx(original["duration_s"] / value, rel=1e-3)
        if kind != "original":
            check = row["augmentation_check"]
            assert check["key_ok"] and check["tempo_ok"], (kind, value, check)
            assert row["media"]["bytes"] != original["media"]["bytes"]
            assert row["media"]["path"].endswith(".mid")
    assert original["augmentation_check"] is None
    # the caption of a variant states its own facts
    assert "Eb major" in tune[("pitch_shift", 3)]["caption"]


def test_volume_variants_carry_the_volume_sentence_in_caption_and_controls(augmented):
    _, rows = augmented
    for r in rows:
        volume = r["control_sentences"]["volume"]
        if r["variant"]["kind"] == "volume_change":
            assert volume and r["caption"].endswith(volume)
        else:
            assert volume is None


def test_versions_and_variants_share_a_group_and_a_split(augmented):
    _, rows = augmented
    by_file = _by_file(rows)
    groups = {name: {r["group_id"] for r in group} for name, group in by_file.items()}
    splits = {name: {r["split"] for r in group} for name, group in by_file.items()}
    assert all(len(g) == 1 for g in groups.values()) and all(len(s) == 1 for s in splits.values())
    assert groups["tune.mid"] == groups["tune_in_d.mid"] != groups["other.mid"]
    assert splits["tune.mid"] == splits["tune_in_d.mid"]
    fingerprints = {name: group[0]["fingerprint"] for name, group in by_file.items()}
    assert all(len(f) == 128 for f in fingerprints.values())


def test_augmented_builds_are_reproducible(corpus, augmented, tmp_path):
    _, rows = augmented
    _build(corpus, tmp_path / "again", "--augment", "musicbench", "--verify-augmentation", "--test-fraction", "0.5")
    assert read_rows(tmp_path / "again") == rows


def test_dedup_near_keeps_the_longest_version_and_lists_the_other(corpus, tmp_path):
    manifest = _build(corpus, tmp_path / "dedup", "--dedup", "near")
    rows = read_rows(tmp_path / "dedup")
    assert sorted(os.path.basename(r["source_uri"]) for r in rows) == ["other.mid", "tune.mid"]  # 96 bpm: longer
    near = read_list(tmp_path / "dedup", "near_duplicates")
    assert [os.path.basename(n["source_uri"]) for n in near] == ["tune_in_d.mid"]
    assert near[0]["duplicate_of"].endswith("tune.mid")
    c = manifest["counts"]
    assert (c["inputs"], c["sources"], c["near_duplicates"], c["rows"]) == (3, 2, 1, 2)
    assert c["inputs"] == c["sources"] + c["file_failures"] + c["duplicates"] + c["near_duplicates"]
    assert manifest["groups"]["groups"] == 2 and manifest["groups"]["largest"][0]["sources"] == 2
    card = (tmp_path / "dedup" / "README.md").read_text()
    assert "## Groups and splits" in card and "near-duplicates dropped" in card


def test_split_by_folder_and_regex(corpus, tmp_path):
    _build(corpus, tmp_path / "folder", "--split-by", "folder")
    rows = read_rows(tmp_path / "folder")
    assert len({r["group_id"] for r in rows}) == 3  # three folders: the version is its own group here
    _build(corpus, tmp_path / "regex", "--split-by", r"/(tune)[^/]*$")
    rows = {os.path.basename(r["source_uri"]): r for r in read_rows(tmp_path / "regex")}
    assert rows["tune.mid"]["group_id"] == rows["tune_in_d.mid"]["group_id"] != rows["tune.mid"]["source_id"]
    assert rows["other.mid"]["group_id"] == rows["other.mid"]["source_id"]  # no match: its own content


def test_a_bad_split_by_regex_stops_before_any_work(corpus, tmp_path):
    with pytest.raises(SystemExit, match="split-by"):
        _build(corpus, tmp_path / "bad", "--split-by", "(unclosed")
