"""End-to-end build of an ABC tune book: one row per tune, a tune that cannot be read costs its rows only.

The book (``fixtures.ABC_BOOK``) holds tunes in G major 4/4, D major 3/4 and A minor 2/4 and a tune
without notes; beside it a single-tune jig in D major 6/8 and a byte-identical copy of the book. Built
in multi-processing mode, where the tunes travel as elements of their own, with one +2 semitone
variant per tune, so the tunes' keys move to A major, E major and B minor. Each tune is a group of
its own (its original and its variant share its split) unless ``--split-by folder`` puts the whole
book in its folder's group.
"""

import json
import os

import pytest
from fixtures import ABC_BOOK, ABC_BOOK_TUNES, ABC_JIG, read_rows

from captune.pipelines import build
from captune.pipelines.rows import split_of, tune_group

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root, out = tmp_path_factory.mktemp("in"), tmp_path_factory.mktemp("out")
    (root / "book.abc").write_bytes(ABC_BOOK)
    (root / "copy_of_book.abc").write_bytes(ABC_BOOK)
    (root / "jig.abc").write_bytes(ABC_JIG)
    build.run(["--input", str(root), "--output", str(out), "--augment", "musicbench",
               "--pitch-shifts", "2", "--tempo-changes", "0", "--volume-changes", "0"])
    return out, read_rows(out), json.loads((out / "manifest.json").read_text())


def test_every_tune_is_a_row_and_the_book_one_source(built):
    out, rows, manifest = built
    counts = manifest["counts"]
    assert counts["inputs"] == 3 and counts["sources"] == 2 and counts["duplicates"] == 1
    assert counts["file_failures"] == 0 and counts["failures_by_reason"] == {"piece/no_notes": 1}
    assert counts["rows"] == len(rows) == 2 * 3 + 2  # three tunes and the jig, each with one shift
    assert manifest["rows_made"] == len(rows) and "warnings" not in manifest
    [record] = [json.loads(line) for line in (out / manifest["lists"]["failures"]).read_text().splitlines()]
    assert record["source_uri"].endswith("book.abc") and record["stage"] == "piece"
    assert record["detail"].startswith("tune 4")
    [duplicate] = [json.loads(line) for line in (out / manifest["lists"]["duplicates"]).read_text().splitlines()]
    assert duplicate["source_uri"].endswith("copy_of_book.abc") and os.path.basename(duplicate["duplicate_of"]) == "book.abc"


def test_tune_rows_carry_their_own_facts_and_media(built):
    _, rows, _ = built
    book = [r for r in rows if r["source_uri"].endswith("book.abc")]
    originals = sorted((r for r in book if r["variant"]["kind"] == "original"), key=lambda r: r["media"]["path"])
    assert [r["media"]["path"] for r in originals] == ["book.001.abc", "book.002.abc", "book.003.abc"]
    assert [(r["key"], r["time_signature"]) for r in originals] == [
        ("G major", "4/4"), ("D major", "3/4"), ("A minor", "2/4")]
    assert [r["duration_s"] for r in originals] == pytest.approx([4.0, 4.5, 3.0])  # 8, 9, 6 quarters at 120 bpm
    for r, text in zip(originals, ABC_BOOK_TUNES):
        assert r["modality"] == "score" and r["media"]["bytes"].endswith(text)  # the tune's own ABC
    shifted = sorted((r for r in book if r["variant"]["kind"] == "pitch_shift"), key=lambda r: r["media"]["path"])
    assert [r["key"] for r in shifted] == ["A major", "E major", "B minor"]
    assert all(r["variant"]["semitones"] == 2 and r["media"]["bytes"][:4] == b"MThd" for r in shifted)
    assert len({r["id"] for r in book}) == 6 and len({r["source_id"] for r in book}) == 1  # one source
    [jig] = [r for r in rows if r["source_uri"].endswith("jig.abc") and r["variant"]["kind"] == "original"]
    assert (jig["key"], jig["time_signature"], jig["media"]["bytes"]) == ("D major", "6/8", ABC_JIG)


def test_each_tune_is_a_group_of_its_own(built):
    _, rows, manifest = built
    book = [r for r in rows if r["source_uri"].endswith("book.abc")]
    source = book[0]["source_id"]
    by_tune = {}
    for r in book:
        by_tune.setdefault(r["media"]["path"].split(".")[1], set()).add((r["group_id"], r["split"]))
    assert sorted(by_tune) == ["001", "002", "003"]
    for number, groups in by_tune.items():
        group = tune_group(source, int(number) - 1)
        assert groups == {(group, split_of(group, 0.1))}       # a tune's original and variant together
    assert manifest["groups"]["groups"] == 3 + 1 and manifest["groups"]["sources"] == 2  # tunes + the jig


def test_a_tune_in_a_book_and_in_a_file_of_its_own_share_a_group(tmp_path):
    """The jig on its own and the same jig as the first tune of a book (another title) are one piece:
    one near-duplicate group, one split (each tune was a group of its own, so the two could land in
    train and test). The book's other tune keeps its own group. ``--dedup near`` drops files only: a
    book is never dropped for one of its tunes, nor a file for a tune."""
    root = tmp_path / "in"
    root.mkdir()
    jig_in_book = ABC_JIG.replace(b"X:1\nT:Test jig", b"X:1\nT:The same jig, another title")
    other = b"X:2\nT:Another tune\nM:4/4\nL:1/8\nK:G\nGABc dedc|BAGF G2D2|EFGA BcdB|cBAG A4|]\n"
    (root / "book.abc").write_bytes(jig_in_book + b"\n" + other)
    (root / "jig.abc").write_bytes(ABC_JIG)
    for dedup in ("none", "near"):
        out = tmp_path / f"out_{dedup}"
        build.run(["--input", str(root), "--output", str(out), "--dedup", dedup])
        rows = {os.path.basename(r["media"]["path"]): r for r in read_rows(out)}
        assert sorted(rows) == ["book.001.abc", "book.002.abc", "jig.abc"]
        tune, file_ = rows["book.001.abc"], rows["jig.abc"]
        assert tune["fingerprint"] == file_["fingerprint"] != []            # the tune's own fingerprint
        assert tune["group_id"] == file_["group_id"] == min(file_["source_id"], tune_group(tune["source_id"], 0))
        assert tune["split"] == file_["split"] == split_of(tune["group_id"], 0.1)
        assert rows["book.002.abc"]["group_id"] == tune_group(tune["source_id"], 1)


def test_split_by_folder_keeps_a_book_together(tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    (root / "book.abc").write_bytes(ABC_BOOK)
    build.run(["--input", str(root), "--output", str(out), "--split-by", "folder"])
    rows = read_rows(out)
    assert len(rows) == 3 and len({(r["group_id"], r["split"]) for r in rows}) == 1
    assert rows[0]["group_id"] not in {tune_group(rows[0]["source_id"], i) for i in range(4)}
