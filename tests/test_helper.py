"""The launcher's helper process (captune.pipelines.helper) and the child start-up it rests on."""

import os
import shutil
import signal
import time

import fixtures as fx
import pytest
from fixtures import IN_MEMORY, make_midi, melody, progression_piece, read_rows

from captune.pipelines import build, helper
from captune.pipelines.card import write_card
from captune.pipelines.isolation import Isolated
from captune.schemas import to_table
from captune.schemas.expectations import validate_table


def test_start_returns_at_once_and_prepare_runs_in_the_child_before_the_first_call():
    iso = Isolated(fx.prepared_pids, timeout_s=30.0, prepare=fx.prepare_slowly)
    try:
        started = time.perf_counter()
        iso.start()
        assert time.perf_counter() - started < 0.5          # prepare sleeps 1 s: start did not wait
        pids = iso()
        assert time.perf_counter() - started >= 1.0         # the first call waited for it
        assert len(pids) == 1 and pids[0] != os.getpid()    # it ran once, in the child
        assert iso() == pids                                # and not again for the next call
        assert fx.prepared_pids() == []
    finally:
        iso.close()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    (src / "e_minor.mid").write_bytes(progression_piece(("Em", "Am", "B7", "Em"), bpm=96, meter=(3, 4)))
    (src / "c_major.mid").write_bytes(make_midi([(0, False, melody([60, 62, 64, 65, 67, 69, 71, 72]))]))
    out = tmp_path_factory.mktemp("out")
    return out, build.run(["--input", str(src), "--output", str(out), *IN_MEMORY])


def _checked_table(out):
    rows = read_rows(out)
    return to_table(rows + [dict(rows[0], id="bad", key="H major")])


def _card_bytes(out, manifest, tmp_path, name, write) -> dict:
    copy = tmp_path / name
    shutil.copytree(out, copy)
    write(str(copy), manifest, "cc-by-4.0")
    return {p.relative_to(copy).as_posix(): p.read_bytes() for p in sorted(copy.rglob("*")) if p.is_file()}


def test_the_helper_checks_and_writes_the_card_as_this_process_does(dataset, tmp_path):
    out, manifest = dataset
    table = _checked_table(out)
    here = validate_table(table)
    assert here["bad_rows"] == {"bad": ["expect_column_values_to_be_in_set(key)"]}
    assert helper.start() and not helper.start()            # one helper; a second start is a no-op
    try:
        child = helper._state["helper"]._proc.pid
        assert helper.call("validate_table", table) == here
        helped = _card_bytes(out, manifest, tmp_path, "helped", lambda *a: helper.call("write_card", *a))
        assert helper._state["helper"]._proc.pid == child    # the same child served both calls
    finally:
        helper.stop()
    assert helper._state["helper"] is None
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)                                   # stopped: the child is gone
    assert helped == _card_bytes(out, manifest, tmp_path, "here", write_card)
    assert "README.md" in helped and any(name.endswith(".png") for name in helped)


def test_a_dead_helper_leaves_the_work_to_this_process(dataset):
    out, _ = dataset
    table = _checked_table(out)
    helper.start()
    try:
        child = helper._state["helper"]
        child._start()                                      # wait for its imports, then kill it
        os.kill(child._proc.pid, signal.SIGKILL)
        assert helper.call("validate_table", table) == validate_table(table)
        assert helper._state["helper"] is None               # later calls run here
    finally:
        helper.stop()
