"""Issue 16: an output folder you can trust. One test (or more) per numbered problem, each on generated
inputs with a known answer: what a reader of the folder sees, what one bad input does to the run, what
the records say, and what the command line refuses before it starts.

The fast tests call the pieces directly; the build tests run the DirectRunner in one process.
"""

import io
import json
import os
import signal
import subprocess
import sys
import time
import wave

import numpy as np
import pytest
from fixtures import IN_MEMORY, committed_files, make_midi, melody, read_list, read_rows, sine, wav_bytes

from captune import items
from captune.extractors import BadInput, analyze
from captune.pipelines import build, cli, commit, console
from captune.pipelines.isolation import Isolated, ItemTimeout, ItemTooLarge
from captune.pipelines.transforms import expand_pattern
from captune.schemas import NoCommittedDataset, load

HERE = os.path.dirname(os.path.abspath(__file__))
WORKTREE = os.path.dirname(HERE)
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([WORKTREE, HERE, os.environ.get("PYTHONPATH", "")])}


def _midi(i: int) -> bytes:
    """A different four-note melody per ``i``."""
    return make_midi([(0, False, melody([60 + i, 64 + i % 3, 67, 72 - i % 5]))], tempo_bpm=90 + i)


def _smf(tpq: int, events: list[bytes]) -> bytes:
    """A one-track format-0 SMF of raw events (each: delta time byte(s) + event bytes)."""
    track = b"".join(events) + b"\x00\xff\x2f\x00"
    return b"MThd" + (6).to_bytes(4, "big") + b"\x00\x00\x00\x01" + tpq.to_bytes(2, "big") + \
        b"MTrk" + len(track).to_bytes(4, "big") + track


ABSURD = _smf(1, [b"\x00\xff\x51\x03\x00\x00\x01",            # tempo: 1 µs per quarter note
                  b"\x00\x90\x3c\x50", b"\xfa\xd6\x08\x80\x3c\x00"])  # a note 1,000,000 quarters long


def _build(src, out, *extra):
    return build.run(["--input", str(src), "--output", str(out), *IN_MEMORY, *extra])


# --- 6: one input takes down the machine -------------------------------------------------------------

def test_6_an_absurd_tempo_map_is_refused_before_any_grid_is_made():
    """1 tick per quarter, 1 µs per quarter: a million quarter notes in one second would be a
    million-frame beat grid; refused as decode/absurd_tempo at once."""
    assert len(ABSURD) < 60
    started = time.process_time()
    with pytest.raises(BadInput) as err:
        items.process(ABSURD, "absurd.mid", "x")
    assert (err.value.stage, err.value.reason) == ("decode", "absurd_tempo")
    assert time.process_time() - started < 5
    items.process(_midi(0), "fine.mid", "y")  # 90 bpm: far below the bound


def test_6_a_compressed_score_past_the_unpacked_size_limit_is_refused():
    import zipfile

    from captune.extractors.score import MAX_UNPACKED_BYTES

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("META-INF/container.xml", '<container><rootfiles><rootfile full-path="s.xml"/></rootfiles></container>')
        z.writestr("s.xml", b"<score-partwise>" + b" " * (MAX_UNPACKED_BYTES + 1) + b"</score-partwise>")
    data = buffer.getvalue()
    assert len(data) < MAX_UNPACKED_BYTES // 500  # a small file that unpacks to over the limit
    with pytest.raises(BadInput) as err:
        items.process(data, "bomb.mxl", "x")
    assert err.value.reason == "too_large" and "unpacks to" in err.value.detail


# --- 4 and D: limits on CPU time and memory, not wall-clock time --------------------------------------

def _isolated(name, limit, memory_mb=0):
    from trust_work import burn, eat, nap

    return Isolated({"burn": burn, "eat": eat, "nap": nap}[name], limit, memory_mb)


@pytest.fixture
def work_module(tmp_path, monkeypatch):
    (tmp_path / "trust_work.py").write_text(
        "import time\n"
        "def burn(seconds):\n    t = time.process_time()\n    while time.process_time() - t < seconds:\n        pass\n"
        "    return 'burnt'\n"
        "def nap(seconds):\n    time.sleep(seconds)\n    return 'rested'\n"
        "def eat(mb):\n    return len(bytearray(mb * 2 ** 20))\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_4_the_item_limit_counts_cpu_time_so_a_waiting_item_is_not_a_timeout(work_module):
    nap = _isolated("nap", 0.5)
    assert nap(2) == "rested"  # 2 s of wall-clock time, ~0 s of CPU: within a 0.5 s CPU limit
    burn = _isolated("burn", 0.5)
    with pytest.raises(ItemTimeout, match="CPU-time limit"):
        burn(3)
    assert burn(0.1) == "burnt"  # a fresh child after the limit


def test_4_the_same_item_passes_on_an_idle_and_on_a_loaded_machine(work_module):
    burn = _isolated("burn", 2.0)
    assert burn(0.5) == "burnt"
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    try:
        assert burn(0.5) == "burnt"  # 0.5 CPU seconds, however long the wait for a core
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    burn.close()


def test_d_an_item_over_the_memory_limit_fails_alone(work_module):
    eat = _isolated("eat", 10, memory_mb=256)
    with pytest.raises(ItemTooLarge, match="256 MiB"):
        eat(1024)
    assert eat(16) == 16 * 2 ** 20


# --- 7: wrong or unclear records ---------------------------------------------------------------------

def test_7_an_eight_channel_wav_is_mixed_down_and_other_formats_get_their_own_reason(tmp_path):
    from captune.extractors.audio.decode import from_audio_bytes

    frames = sine(440, 2.0, 0.4)
    eight = np.stack([frames] * 4 + [np.zeros_like(frames)] * 4, axis=1)  # half the channels silent
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(8)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes((eight * 32767).astype("<i2").tobytes())
    audio = from_audio_bytes(buffer.getvalue(), ".wav")
    assert audio.source_channels == 8 and audio.duration_s == pytest.approx(2.0)
    assert float(np.abs(audio.samples).max()) == pytest.approx(0.2, abs=1e-3)  # the mean of the 8 channels

    from pedalboard.io import AudioFile

    path = str(tmp_path / "eight.flac")
    with AudioFile(path, "w", 44100, 8) as fh:
        fh.write(eight.T.astype(np.float32))
    with pytest.raises(BadInput) as err:
        from_audio_bytes(open(path, "rb").read(), ".flac")
    assert err.value.reason == "too_many_channels"


def test_7_a_one_sample_recording_is_too_short_not_an_extract_error():
    with pytest.raises(BadInput) as err:
        items.process(wav_bytes(np.full(1, 0.5)), "one.wav", "x")
    assert (err.value.stage, err.value.reason) == ("extract", "too_short")


def test_7_a_meter_in_128ths_gives_valid_rows():
    from captune.pipelines.rows import make_row, source_id
    from captune.schemas import to_table
    from captune.schemas.expectations import validate_table

    data = make_midi([(0, False, melody([60, 62, 64, 65, 67, 69, 71, 72] * 4, step=0.5))], time_signature=(3, 128))
    facts = analyze(data, "odd.mid")
    assert facts["time_signature"] == "3/128"
    row = make_row("odd.mid", source_id(data), facts, media={"bytes": data, "path": "odd.mid"}, seed=0,
                   test_fraction=0.1)
    assert validate_table(to_table([row]))["success"]


def test_7_note_ons_without_note_offs_are_named_as_such():
    hanging = _smf(480, [b"\x00\x90\x3c\x50", b"\x83\x60\x90\x40\x50", b"\x83\x60\x90\x43\x50"])
    with pytest.raises(BadInput) as err:
        items.process(hanging, "hanging.mid", "x")
    assert err.value.reason == "no_note_offs" and err.value.detail.startswith("3 note-on")
    with pytest.raises(BadInput, match="no_notes"):  # a file with no note at all keeps its reason
        items.process(_smf(480, [b"\x00\xff\x51\x03\x07\xa1\x20"]), "empty.mid", "y")


def test_7_a_symlink_loop_is_one_input(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.mid").write_bytes(_midi(0))
    os.symlink("..", tmp_path / "sub" / "loop")
    os.symlink("a.mid", tmp_path / "sub" / "alias.mid")
    assert expand_pattern(str(tmp_path)) == [str(tmp_path / "sub" / "a.mid")]
    assert expand_pattern(f"{tmp_path}/**/*.mid") == [str(tmp_path / "sub" / "a.mid")]


def test_7_a_source_whose_every_row_fails_validation_is_a_file_failure_not_a_source():
    from captune.pipelines.build import summarize
    from captune.pipelines.rows import make_row, source_id
    from captune.pipelines.transforms import check_expectations, validate_rows

    rows = []
    for i in range(2):
        data = _midi(i)
        facts = analyze(data, f"m{i}.mid")
        rows.append(make_row(f"m{i}.mid", source_id(data), facts, media={"bytes": data, "path": f"m{i}.mid"},
                             seed=0, test_fraction=0.0))
    rows[1]["tempo_bpm"] = -5.0  # fails the expectations

    table, _ = validate_rows(rows)
    table, rejected, _ = check_expectations(table)
    assert table.column("source_id").to_pylist() == [rows[0]["source_id"]] and len(rejected) == 1
    shard = {"split": "train", "rows": 1, "captions": {}, "validation": {"rows": 2, "rejected": 1, "failed": {}}}
    counts = summarize(2, 1, [shard], rejected, [], [], rowless=1)
    assert (counts["sources"], counts["file_failures"], counts["sources_without_rows"]) == (1, 1, 1)
    assert counts["inputs"] == counts["sources"] + counts["file_failures"] + counts["duplicates"]


# --- 9, 10, 11: the command line ------------------------------------------------------------------------

def _cli(argv, capsys):
    started = time.perf_counter()
    code = cli.main(argv)
    printed = capsys.readouterr()
    return code, printed.out + printed.err, time.perf_counter() - started


def test_9_a_misspelt_flag_is_refused_at_once_with_a_suggestion(tmp_path, capsys):
    (tmp_path / "a.mid").write_bytes(_midi(0))
    out = tmp_path / "out"
    code, printed, elapsed = _cli(["build", str(tmp_path / "a.mid"), "--output", str(out), "--clip-secs", "10"], capsys)
    assert code == 2 and "unknown flag --clip-secs (did you mean --clip-seconds?)" in printed
    code, printed, elapsed = _cli(["build", str(tmp_path / "a.mid"), "--ouput", str(out)], capsys)
    assert code == 2 and "did you mean --output?" in printed and elapsed < 10
    assert not out.exists()
    code, printed, _ = _cli(["build", str(tmp_path / "a.mid"), "--output", str(out), "--seed", "x"], capsys)
    assert code == 2 and "--seed" in printed


def test_10_a_pattern_matching_nothing_and_an_unwritable_output_stop_before_any_work(tmp_path, capsys):
    (tmp_path / "a.mid").write_bytes(_midi(0))
    code, printed, _ = _cli(["build", str(tmp_path / "nothing" / "*.mid"), "--output", str(tmp_path / "o")], capsys)
    assert code == 2 and "no file matches" in printed and not (tmp_path / "o").exists()
    (tmp_path / "file").write_text("a file, not a folder")
    code, printed, elapsed = _cli(["build", str(tmp_path / "a.mid"), "--output", str(tmp_path / "file" / "out")], capsys)
    assert code == 2 and "cannot write to the output folder" in printed and elapsed < 10


def test_11_max_duration_bounds_each_clip_and_max_recording_duration_the_file():
    data = wav_bytes(sine(440, 30.0, 0.5))
    clipped = items.Settings(max_duration_s=20, clip_seconds=10)
    assert len(items.process(data, "long.wav", "x", clipped)["parts"]) == 3
    with pytest.raises(BadInput, match="too_long"):
        items.process(data, "long.wav", "x", items.Settings(max_duration_s=20))
    with pytest.raises(BadInput, match="too_long"):
        items.process(data, "long.wav", "x", items.Settings(max_duration_s=20, clip_seconds=10, max_recording_s=25))


def test_11_the_progress_line_counts_files_rows_and_failures(tmp_path):
    console.note(str(tmp_path), 3, 0)
    console.note(str(tmp_path), 0, 1)
    assert console.tally(str(tmp_path)) == (2, 3, 1, 0, 0)
    assert console.progress_line(2, 10, 3, 1, 4.0) == \
        "captune: analysed 2/10 files, 3 rows, 1 failures, 0.5 files/s, ETA 16 s"

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    with console.Progress(str(tmp_path), 10, stream, every_s=0.05):
        time.sleep(0.3)
    assert "\rcaptune: analysed 2/10 files, 3 rows, 1 failures" in stream.getvalue()
    # a tune book read (its 300 tunes analysed later, each a part): the tunes carry the line on
    book = tmp_path / "book"
    book.mkdir()
    console.note(str(book), 0, 0, parts=300)
    for rows, failed in [(1, 0)] * 59 + [(0, 1)]:
        console.note(str(book), rows, failed, part=True)
    assert console.tally(str(book)) == (1, 59, 1, 60, 300)
    assert console.progress_line(1, 1, 59, 1, 20.0, 60, 300) == \
        "captune: analysed 1/1 files and 60/300 tunes or clips, 59 rows, 1 failures, 3.0 tunes or clips/s, ETA 80 s"


def test_11_every_input_reaches_the_progress_line(tmp_path):
    """A duplicate and a file that cannot be read leave the pipeline before the analysis; they are
    noted as done there, so the line reaches 4/4 files (it stopped at 2/4, and a tune book's ETA then
    followed the files never noted instead of its tunes)."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.mid").write_bytes(_midi(1))
    (src / "b.mid").write_bytes(_midi(2))
    (src / "copy_of_a.mid").write_bytes(_midi(1))
    (src / "folder.mid").mkdir()                      # matched by the glob, read fails: is_directory
    opts, options = build.parse_checked(["--input", str(src / "*.mid"), "--output", str(tmp_path / "out"), *IN_MEMORY])
    progress = tmp_path / "progress"
    progress.mkdir()
    build.make_pipeline(opts, options, build.plan_run(opts), str(progress)).run().wait_until_finish()
    assert console.tally(str(progress)) == (4, 2, 1, 0, 0)   # files, rows, failures, tunes done, tunes


# --- 1, 2, 3, 5, 8: builds -------------------------------------------------------------------------------

NAUGHTY = "<img src=x onerror=alert(1)>[link](javascript:alert(2)) *b* \x1b[31mred.mid"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Good files, one with a Latin-1 (not UTF-8) name, one with a name full of markup and a terminal
    escape, the absurd tempo map, a link loop."""
    root = tmp_path_factory.mktemp("src")
    for i in range(3):
        (root / f"m{i}.mid").write_bytes(_midi(i))
    with open(os.path.join(os.fsencode(root), b"caf\xe9.mid"), "wb") as fh:
        fh.write(_midi(5))
    (root / NAUGHTY).write_bytes(_midi(6))
    (root / "absurd.mid").write_bytes(ABSURD)
    os.symlink(".", root / "loop")
    return root


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return out, _build(corpus, out)


def test_5_a_file_name_that_is_not_utf8_becomes_a_row_with_an_escaped_uri(built):
    out, manifest = built
    rows = {r["source_uri"]: r for r in read_rows(out)}
    assert "caf\\xe9.mid" in rows and rows["caf\\xe9.mid"]["media"]["bytes"] == _midi(5)
    counts = manifest["counts"]
    assert counts["inputs"] == 6 and counts["sources"] == 5  # the link loop adds no input
    assert counts["failures_by_reason"] == {"decode/absurd_tempo": 1}
    assert counts["inputs"] == counts["sources"] + counts["file_failures"] + counts["duplicates"]


def test_8_no_builder_path_and_no_raw_markup_reach_the_rows_the_lists_or_the_card(corpus, built):
    out, manifest = built
    card = (out / "README.md").read_text()
    rows = read_rows(out)
    assert manifest["root"] == str(corpus)
    assert not any(str(corpus) in r["source_uri"] for r in rows)
    assert all(str(corpus) not in f["source_uri"] for f in read_list(out, "failures"))
    assert str(corpus) not in card
    assert NAUGHTY in {r["source_uri"] for r in rows}  # the data keeps the name as it is
    from captune.pipelines.card import card_body, read_stats

    stats = read_stats(str(out), manifest["shards"])
    named = card_body(manifest, stats, [dict(r, file=r["source_uri"]) for r in stats.to_pylist()])
    assert "&lt;img src=x onerror=alert(1)&gt;\\[link\\](javascript:alert(2)) \\*b\\* \\\\x1b\\[31mred.mid" in named
    for text in (card, named):
        for raw in ("<img", "[link](", "\x1b", "*b*"):
            assert raw not in text, raw


def test_1_3_a_rebuild_replaces_the_dataset_whole_and_a_held_lock_refuses_a_second_build(corpus, built, tmp_path):
    import shutil

    out, first = built
    copy = tmp_path / "out"
    shutil.copytree(out, copy, symlinks=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        holder = dict(commit.holder_info("other-run"), pid=sleeper.pid)
        (copy / commit.LOCK).write_text(json.dumps(holder))
        with pytest.raises(commit.OutputLocked, match=f"being built by run other-run \\(pid {sleeper.pid}"):
            _build(corpus / "m0.mid", copy)
        assert load(str(copy)).num_rows == first["counts"]["rows"]  # untouched
    finally:
        sleeper.kill()
        sleeper.wait()
    second = _build(corpus / "m0.mid", copy)  # the lock's process is gone: stale, taken over
    assert not (copy / commit.LOCK).exists()
    table = load(str(copy))
    assert table.num_rows == second["counts"]["rows"] == 1
    on_disk = sorted(str(p.relative_to(copy)) for p in copy.rglob("*.parquet"))
    assert on_disk == sorted(s["file"] for s in second["shards"])  # the first build's shards are gone

    from datasets import load_dataset

    ds = load_dataset(str(copy), cache_dir=str(tmp_path / "cache"))
    assert sum(ds[s].num_rows for s in ds) == 1


def test_2_rows_lost_in_the_runner_commit_nothing_and_exit_4(corpus, built, tmp_path, monkeypatch, capsys):
    """A rebuild of one file into a copy of the built folder whose row counters say the analysis made one
    row more than the grouping step got (as the runner's lost elements once did): the copy keeps the
    first build's dataset byte for byte, the lock is released and the command says why, with status 4."""
    import shutil

    out, first = built
    copy = tmp_path / "out"
    shutil.copytree(out, copy, symlinks=True)
    before, manifest = committed_files(copy), (copy / "manifest.json").read_bytes()
    counts = build.row_counts

    def one_lost(result):
        counted = counts(result)
        return {**counted, "grouped": counted["grouped"] - 1, "to_shards": counted["to_shards"] - 1}

    monkeypatch.setattr(build, "row_counts", one_lost)
    code = cli.main(["build", "--input", str(corpus / "m0.mid"), "--output", str(copy), *IN_MEMORY])
    err = capsys.readouterr().err
    assert code == 4, err
    assert err.count("the analysis made 1 rows but only 0 entered the grouping step") == 1, err  # said once
    assert "nothing was committed" in err
    assert committed_files(copy) == before and (copy / "manifest.json").read_bytes() == manifest
    assert not (copy / commit.LOCK).exists()
    assert load(str(copy)).num_rows == first["counts"]["rows"]


def _run_cli(args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "captune.pipelines.cli", "build", *args], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            **kwargs)



def test_2_g_a_killed_build_leaves_the_previous_dataset_and_a_rerun_gives_the_same_bytes(corpus, tmp_path):
    """Kill a build at seeded random moments (analysis, shard writing, commit): after each kill the
    folder loads as the previous dataset exactly (or, once the kill came after the commit, as the new
    one); the last run, uninterrupted, writes the same bytes as a build into a fresh folder. Ctrl-C
    prints one line; a finished run prints no Beam start-up noise (11)."""
    import random

    args = [str(corpus), "--direct_running_mode", "in_memory", "--direct_num_workers", "1"]
    ref = tmp_path / "ref"
    started = time.time()
    proc = _run_cli([*args, "--output", str(ref)])
    _, err = proc.communicate(timeout=600)
    duration = time.time() - started
    assert proc.returncode == 0, err
    for noise in ("apitools", "Discarding unparseable", "Logging handler created"):
        assert noise not in err
    expected = committed_files(ref)

    out = tmp_path / "out"
    _build(corpus / "m1.mid", out)
    previous = load(str(out))
    rng = random.Random(16)
    for _ in range(3):
        proc = _run_cli([*args, "--output", str(out)])
        time.sleep(rng.uniform(0.3, 1.0) * duration)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        try:
            table = load(str(out))
        except NoCommittedDataset:  # never: the folder had a dataset before
            raise
        assert table.equals(previous) or committed_files(out) == expected
    proc = _run_cli([*args, "--output", str(out)])
    time.sleep(0.4 * duration)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 130:
        lines = err.strip().splitlines()
        assert lines[-1].startswith("captune: interrupted; nothing was committed"), err
        assert "Traceback" not in err and all(line.startswith("captune: ") for line in lines), err
    proc = _run_cli([*args, "--output", str(out)])
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert committed_files(out) == expected
    assert sorted(str(p.relative_to(out)).split("/", 2)[2] for p in out.rglob("*.parquet")) == \
        sorted(f for f in expected if f.endswith(".parquet"))  # nothing a killed build left


def test_2_a_folder_whose_first_build_was_killed_holds_no_dataset(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.mid").write_bytes(_midi(0))

    def killed(*_, **__):
        raise RuntimeError("killed before the commit")

    monkeypatch.setattr(build, "finish_manifest", killed)
    with pytest.raises(RuntimeError, match="killed"):
        _build(src, tmp_path / "out")
    assert list((tmp_path / "out").glob("runs/*/data/*.parquet"))  # complete-looking shards on disk
    with pytest.raises(NoCommittedDataset, match="no committed dataset in"):
        load(str(tmp_path / "out"))
    code = cli.main(["validate", str(tmp_path / "out")])
    assert code == 1


def test_b_validate_names_the_files_that_are_not_part_of_the_dataset(built, tmp_path, capsys):
    import shutil

    out, manifest = built
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, symlinks=True)
    shard = copy / manifest["shards"][0]["file"]
    stray = copy / "runs" / "00009-killed" / "data" / shard.name
    stray.parent.mkdir(parents=True)
    shutil.copy(shard, stray)
    code, printed, _ = _cli(["validate", str(copy)], capsys)
    assert code == 1 and f"runs/00009-killed/data/{shard.name}: not part of the dataset" in printed
    assert load(str(copy)).num_rows == manifest["counts"]["rows"]  # the loader ignores it


def test_b_incremental_refuses_a_damaged_manifest_clearly(built, tmp_path):
    import shutil

    from captune.pipelines import incremental
    from captune.schemas import DamagedManifest

    out, _ = built
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, symlinks=True)
    text = (copy / "manifest.json").read_text()
    (copy / "manifest.json").write_text(text[: len(text) // 2])  # cut short, as a non-atomic write could leave it
    with pytest.raises(DamagedManifest, match="--incremental cannot tell what the folder holds"):
        incremental.committed_manifest(str(copy), strict=True)
    with pytest.raises(DamagedManifest):
        build.run(["--input", str(out), "--output", str(copy), "--incremental", *IN_MEMORY])
    assert not (copy / commit.LOCK).exists()  # the lock is released on the way out
