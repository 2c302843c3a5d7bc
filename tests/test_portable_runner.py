"""captune on Beam's portable runner with an EXTERNAL SDK worker pool (the worker model of Flink, Spark
and Dataflow: the runner hands bundles to separate SDK worker processes over the Fn API), started here
on loopback, against the DirectRunner's output byte for byte.

The job server is the embedded one (``--job_endpoint embed``); the workers are processes of
``apache_beam.runners.worker.worker_pool_main``, which starts each SDK worker as ``python …`` from
PATH, so PATH and PYTHONPATH point at this interpreter and this checkout.
"""

import json
import os

import pytest
from fixtures import IN_MEMORY, committed_files, make_midi, melody

from captune.pipelines import build, commit
from captune.pipelines import worker_pool as sdk_pool

HERE = os.path.dirname(os.path.abspath(__file__))
WORKTREE = os.path.dirname(HERE)


@pytest.fixture(scope="module")
def worker_pool(request):
    """The port of an SDK worker pool on 127.0.0.1, killed with its workers when the module's tests end."""
    pool, port = sdk_pool.start([WORKTREE, HERE])
    request.addfinalizer(lambda: sdk_pool.stop(pool))
    return port


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Six different melodies, a byte-identical copy of one (a duplicate) and a file that is not MIDI."""
    root = tmp_path_factory.mktemp("src")
    for i in range(6):
        (root / f"m{i}.mid").write_bytes(make_midi([(0, False, melody([60 + i, 64, 67 - i % 2, 72 - i]))],
                                                   tempo_bpm=90 + 7 * i))
    (root / "copy_of_m0.mid").write_bytes((root / "m0.mid").read_bytes())
    (root / "bad.mid").write_bytes(b"not a midi file")
    return root


def _args(corpus, out):
    """The same build everywhere; analysis in the worker process itself (``--item-timeout 0``: no
    isolation child to start per worker, which the other tests cover), to keep the test fast."""
    return ["--input", str(corpus), "--output", str(out), "--test-fraction", "0.5", "--item-timeout", "0"]


@pytest.fixture(scope="module")
def direct(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("direct")
    manifest = build.run([*_args(corpus, out), *IN_MEMORY])
    return out, manifest


def test_a_build_on_the_portable_runner_writes_the_direct_runners_bytes(corpus, direct, worker_pool, tmp_path):
    out = tmp_path / "portable"
    manifest = build.run([*_args(corpus, out), *sdk_pool.flags(worker_pool)])
    expected = committed_files(direct[0])
    assert {name.split("/")[0] for name in expected} == {"data", "failures"}
    assert any(name.startswith("data/test-") for name in expected) and any(name.startswith("data/train-")
                                                                           for name in expected)
    assert committed_files(out) == expected
    counts = manifest["counts"]
    assert (counts["inputs"], counts["sources"], counts["duplicates"], counts["failures"]) == (8, 6, 1, 1)
    assert manifest["counts"] == direct[1]["counts"]
    assert manifest["row_check"] == direct[1]["row_check"] == "passed"  # the counters come back from the workers


@pytest.mark.parametrize("mode", [[], ["--direct_running_mode", "multi_processing"]])
def test_the_default_and_beams_worker_processes_write_the_one_worker_bytes(corpus, direct, tmp_path, mode):
    """The local default (in-memory on every core: bundles on worker threads, each thread's analysis in
    its own isolated child) and Beam's SDK worker processes, both with two workers, against the
    one-worker in-memory build."""
    out = tmp_path / "local"
    args = [a for a in _args(corpus, out) if a not in ("--item-timeout", "0")]
    manifest = build.run([*args, "--direct_num_workers", "2", *mode])
    assert committed_files(out) == committed_files(direct[0])
    assert manifest["counts"] == direct[1]["counts"] and manifest["row_check"] == "passed"


def test_a_flex_launch_returns_at_once_and_the_workers_commit_the_build(corpus, direct, worker_pool, tmp_path):
    """The Flex Template launcher's entry (template parameters ``--name=value``; :func:`build.submit`, which
    ``captune build`` also calls on a remote runner before it waits) returns while the job runs, holding
    the lock; the pipeline's last step, on a worker, finishes the manifest (row check skipped: the
    counters are not final yet), writes the card, removes the staging, commits and releases the lock.
    The counters, final once the job is done, then pass the check that a waiting launcher adds."""
    from captune.pipelines import flex

    out = tmp_path / "submitted"
    template = [f"--input={corpus}", f"--output={out}", "--test_fraction=0.5", "--item_timeout=0"]  # _args's build
    result = flex.main(template + [f"{flag}={value}" for flag, value in zip(*[iter(sdk_pool.flags(worker_pool))] * 2)])
    assert (out / commit.LOCK).exists() and not (out / "manifest.json").exists()  # the job has only started
    assert result.wait_until_finish() == "DONE"
    assert committed_files(out) == committed_files(direct[0])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["row_check"] == f"skipped: {build.IN_PIPELINE}"
    assert manifest["counts"] == direct[1]["counts"] and manifest["timings"]["wall_s"] > 0
    assert (out / "README.md").exists() and not (out / commit.LOCK).exists()
    assert not list(out.glob(f"runs/*/{build.STAGING}"))
    assert build.finish_manifest(str(out), 0.0, build.row_counts(result))["row_check"] == "passed"
