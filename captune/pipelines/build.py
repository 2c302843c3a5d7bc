"""``captune build``: inputs → captioned, validated Parquet shards + manifest, committed atomically.

Layout of the output folder (see :mod:`captune.pipelines.commit`)::

    OUT/manifest.json                              the commit record: run id, versions, options, counts,
                                                   exactly the shards (sha256, size, validation) and lists
                                                   of the dataset, timings
    OUT/README.md                                  the Hugging Face dataset card (its data_files: the shards)
    OUT/runs/NNNNN-<run>/data/{train,test}-NNNNN-of-MMMMM.parquet   rows, sorted by id within a shard
    OUT/runs/NNNNN-<run>/failures/failures.jsonl   inputs that could not be used, with the reason
    OUT/runs/NNNNN-<run>/failures/duplicates.jsonl byte-identical copies of a kept input
    OUT/runs/NNNNN-<run>/plots/*.png               the card's plots
    OUT/llm_cache/ab/<sha256>.json                 LLM responses by (model, prompt) (--captioner llm)
    OUT/.lock                                      while a build runs

With ``--captioner llm`` a step after the analysis batches the rows
(``BatchElements``) and replaces each template caption by an LLM caption that
passes the fact check (``LLMCaption``); every row comes out either way.
"""

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

import captune
from captune import items
from captune.augment import plan
from captune.pipelines import commit, console, helper, incremental
from captune.pipelines.card import PLOTS
from captune.pipelines.errors import RowsLost
from captune.pipelines.incremental import merge_failures
from captune.pipelines.recipe import check_incremental, recipe
from captune.pipelines.options import (
    UsageError, check_build_options, check_llm_options, check_remote_paths, emotion_model_text, is_local_runner,
    local_runner, parse,
)
from captune.pipelines.grouping import GroupNearDuplicates
from captune.pipelines.transforms import (
    FAILURES, NAMESPACE, AnalyzeAndCaption, AnalyzePart, AssignShard, KeepFirstCopy, KeepOnePerGroup, LLMCaption, MatchInputs,
    ReadAndHash, SetGroup, SkipKnown, Summary, WriteShard, common_root, expand_pattern, pattern_root, relative_uri,
    group_key, llm_settings, run_id, write_jsonl,
)
from captune.schemas import SCHEMA_VERSION
from captune.schemas.expectations import SUITE_NAME


def item_settings(o: argparse.Namespace) -> items.Settings:
    """What the analysis child makes of each file, from the build options."""
    augment = None
    if o.augment == "musicbench":
        augment = plan.Settings(semitones=tuple(o.pitch_shifts), tempo_count=o.tempo_changes,
                                tempo_range=tuple(o.tempo_range), volume_count=o.volume_changes,
                                gain_range=tuple(o.gain_range))
    return items.Settings(max_duration_s=o.max_duration, max_recording_s=o.max_recording_duration,
                          key_profile=o.key_profile,
                          emotion_model=emotion_model_text(o), clip_seconds=o.clip_seconds,
                          render_midi=o.render_midi, soundfont=o.soundfont, augment=augment,
                          verify=o.verify_augmentation, essentia_models=o.essentia_models, seed=o.seed)


def group_sources(sources, o: argparse.Namespace, tunes):
    """(source_id, meta) per analysed file, and (tune key, meta) per tune of a book (``tunes``) →
    ((source_id or tune key, group_id), near-duplicate records).

    ``--split-by group`` groups files and tunes together by fingerprint (:class:`GroupNearDuplicates`,
    LSH banding), ``content`` gives every file and tune its own group, ``folder`` / REGEX group by path
    (:func:`group_key`). With ``--dedup near`` one source per group is kept (:class:`KeepOnePerGroup`;
    files only: a book is never dropped for one of its tunes); the records name the rest.
    """
    items = (sources, tunes) | "FilesAndTunes" >> beam.Flatten()
    if o.split_by == "group":
        group_of = (items | "Fingerprints" >> beam.Map(lambda kv: (kv[0], kv[1]["fingerprint"]))
                    | "NearDuplicateGroups" >> GroupNearDuplicates())
    else:
        group_of = items | "GroupByPath" >> beam.Map(
            lambda kv, split_by: (kv[0], group_key(kv[0], kv[1]["source_uri"], split_by)), o.split_by)
    if o.dedup != "near":
        return group_of, group_of.pipeline | "NoNearDuplicates" >> beam.Create([])
    members = ({"group": group_of, "meta": sources} | "JoinMembers" >> beam.CoGroupByKey()
               | "ByGroup" >> beam.FlatMap(lambda kv: [(kv[1]["group"][0], (kv[0], kv[1]["meta"][0]))]
                                           if kv[1]["meta"] else [])   # a tune: grouped, never dropped
               | "GroupMembers" >> beam.GroupByKey())
    kept = members | "KeepOnePerGroup" >> beam.ParDo(KeepOnePerGroup()).with_outputs("near_duplicates", main="kept")
    return group_of, kept.near_duplicates


def group_sizes(group_of):
    """(``largest``, (group_id, sources)) per group, for the card's largest groups (:class:`Summary`
    keeps those with more than one source); counted before ``--dedup near`` drops members."""
    return (group_of | "GroupOfSource" >> beam.Map(lambda kv: (kv[1], 1))
            | "SourcesPerGroup" >> beam.CombinePerKey(sum)
            | "Largest" >> beam.Map(lambda kv: ("largest", kv)))


class BuildDataset(beam.PTransform):
    """patterns → one :class:`Summary` of the run (failure and duplicate records, the shards written,
    the counts) once every shard is written.

    Rows cross the steps between the analysis and the shard writer pickled, with their ids beside
    (:func:`captune.pipelines.transforms.pack`); their group is joined to them by source id, or by
    tune key for a tune of a book (``JoinGroups``, a CoGroupByKey: no step holds every source's group)."""

    def __init__(self, opts: argparse.Namespace, state: dict, run: str, progress: str | None = None):
        """``state``: what the output folder holds (:func:`captune.pipelines.incremental.committed`),
        whose sources are skipped (``--incremental``); ``run``: the run folder relative to OUT
        (:func:`captune.pipelines.commit.run_folder`), where shards and staged media go."""
        super().__init__()
        self.opts, self.state, self.run, self.progress = opts, state, run, progress
        self.root = uri_root(opts, state["manifest"])

    def expand(self, patterns):
        o = self.opts
        matched = patterns | "Match" >> beam.ParDo(MatchInputs()).with_outputs(FAILURES, main="paths")
        paths = matched.paths | "DistinctPaths" >> beam.Distinct()  # a shuffle: also spreads the paths
        read = paths | "ReadAndHash" >> beam.ParDo(ReadAndHash(int(o.max_file_mb * 2 ** 20), self.progress)).with_outputs(
            FAILURES, main="items")
        st = self.state
        recorded = frozenset(st["sources"].values()) | {r["source_uri"] for r in st["failures"] + st["duplicates"]}
        new = read.items | "SkipKnown" >> beam.ParDo(
            SkipKnown(st["sources"], recorded, self.root, self.progress)).with_outputs("duplicates", "skipped", main="items")
        kept = (new.items | "GroupCopies" >> beam.GroupByKey()
                | "KeepFirstCopy" >> beam.ParDo(KeepFirstCopy(self.progress)).with_outputs(
                    "duplicates", FAILURES, main="items"))
        analysis = dict(settings=item_settings(o), test_fraction=o.test_fraction, timeout_s=o.item_timeout,
                        staging=staging_dir(o.output, self.run), musicbench_captions=o.augment != "none", memory_mb=o.item_memory_mb,
                        progress=self.progress)
        analyzed = kept.items | "AnalyzeAndCaption" >> beam.ParDo(AnalyzeAndCaption(**analysis)).with_outputs(
            FAILURES, "sources", "parts", main="rows")
        parts = (analyzed.parts | "SpreadParts" >> beam.Reshuffle()
                 | "AnalyzePart" >> beam.ParDo(AnalyzePart(**analysis)).with_outputs(FAILURES, "tunes", main="rows"))
        group_of, near = group_sources(analyzed.sources, o, parts.tunes)
        made = (analyzed.rows, parts.rows) | "AllRows" >> beam.Flatten()
        joined = {"rows": made, "group": group_of,
                  "dropped": near | "DroppedIds" >> beam.Map(lambda r: (r["source_id"], True))}
        grouped = (joined | "JoinGroups" >> beam.CoGroupByKey()
                   | "SetGroup" >> beam.ParDo(SetGroup(o.test_fraction)).with_outputs("dropped", main="rows"))
        rows = grouped.rows
        if o.captioner == "llm":
            rows = (rows
                    | "BatchForLLM" >> beam.BatchElements(min_batch_size=1, max_batch_size=max(1, o.llm_batch_size))
                    | "LLMCaption" >> beam.ParDo(LLMCaption(llm_settings(o))))
        split_sizes = rows | "SplitOf" >> beam.Map(lambda r: r[2]) | "CountSplits" >> beam.combiners.Count.PerElement()
        shards = (rows
                  | "AssignShard" >> beam.ParDo(AssignShard(o.rows_per_shard), beam.pvalue.AsDict(split_sizes))
                  | "GroupShards" >> beam.GroupByKey()
                  | "WriteShard" >> beam.ParDo(WriteShard(o.output, f"{self.run}/data", self.root)).with_outputs(
                      FAILURES, main="written"))
        failures = ((matched[FAILURES], read[FAILURES], kept[FAILURES], analyzed[FAILURES], parts[FAILURES], shards[FAILURES])
                    | "AllFailures" >> beam.Flatten())
        duplicates = (kept.duplicates, new.duplicates) | "AllDuplicates" >> beam.Flatten()
        groups = rows | "GroupIds" >> beam.Map(lambda r: r[1]) | "DistinctGroups" >> beam.Distinct()  # the groups rows went to (a book's tunes: one each)
        named = {"failures": failures, "duplicates": duplicates, "near_duplicates": near, "shards": shards.written,
                 "paths": paths, "unmatched": matched[FAILURES], "skipped": new.skipped, "sources": analyzed.sources,
                 "groups": groups, "rows_made": made | "RowMade" >> beam.Map(lambda _: 1),
                 "rows_dropped": grouped.dropped}
        tagged = [pcoll | f"Tag_{name}" >> beam.Map(lambda v, name: (name, v), name) for name, pcoll in named.items()]
        return ((*tagged, group_sizes(group_of)) | "AllFigures" >> beam.Flatten()
                | "Summary" >> beam.CombineGlobally(Summary()))


def _write_outputs(summary, opts: argparse.Namespace, patterns: list[str], state: dict, rid: str, run: str,
                   generation: int):
    """Failure and duplicate lists, then the run's manifest (``OUT/<run>/manifest.json``, not yet
    committed) once every shard is written. ``state``: what the folder held before
    (:func:`captune.pipelines.incremental.committed`; empty unless ``--incremental``), merged with this
    run's outputs."""
    out = opts.output

    def write_manifest(summary):
        failures, duplicates, near, written = (summary[n] for n in Summary.LISTS)
        paths, unmatched, skipped, sources, groups, made, dropped = (summary[n] for n in Summary.COUNTS)
        largest = summary["largest"]
        shards = sorted(({k: v for k, v in s.items() if k not in ("llm_errors", "source_ids")} for s in written),
                        key=lambda s: s["file"])
        with_rows = len({i for s in written for i in s["source_ids"]})
        root = uri_root(opts, state["manifest"])
        failures, duplicates, near = ([relative_record(r, root) for r in records]
                                      for records in (failures, duplicates, near))
        previous = state["manifest"] or {}
        rowless = sources - len(near) - with_rows  # every row failed validation: counted as a file failure
        this_run = {"run_id": rid, "inputs": patterns, "seed": opts.seed, "skipped": skipped,
                    "counts": summarize(paths + unmatched, with_rows, shards, failures, duplicates, near, rowless),
                    "shards": [s["file"] for s in shards], "validation": overall_validation(shards),
                    "rows_in_pipeline": {"made": made, "near_duplicate": dropped}}
        all_failures = merge_failures(state["failures"], failures)
        all_duplicates = state["duplicates"] + duplicates
        all_near = state["near_duplicates"] + near
        all_shards = sorted(previous.get("shards", []) + shards, key=lambda s: s["file"])
        all_sources = previous.get("counts", {}).get("sources", 0) + with_rows
        all_rowless = previous.get("counts", {}).get("sources_without_rows", 0) + rowless
        inputs = (all_sources + len(file_failures(all_failures)) + all_rowless + len(all_duplicates) + len(all_near)
                  if previous else paths + unmatched)
        lists = {name: commit.list_path(run, name) for name in commit.LISTS}
        write_jsonl(FileSystems.join(out, lists["failures"]), all_failures, lambda r: (r["source_uri"], r["stage"]))
        write_jsonl(FileSystems.join(out, lists["duplicates"]), all_duplicates, lambda r: r["source_uri"])
        write_jsonl(FileSystems.join(out, lists["near_duplicates"]), all_near, lambda r: r["source_uri"])
        manifest = {
            "run_id": rid,
            "generation": generation,
            "run_dir": run,
            "lists": lists,
            "plots": [f"{run}/plots/{name}" for name in PLOTS],
            "runs": previous.get("runs", []) + [this_run],
            "pipeline_version": captune.__version__,
            "schema_version": SCHEMA_VERSION,
            "inputs": previous.get("inputs", []) + [p for p in patterns if p not in previous.get("inputs", [])],
            "root": root,
            "output": out,
            "options": {k: v for k, v in sorted(vars(opts).items()) if k not in ("input", "output")},
            "recipe": recipe(opts),
            "seed": opts.seed,
            "counts": summarize(inputs, all_sources, all_shards, all_failures, all_duplicates, all_near, all_rowless),
            "groups": {"split_by": opts.split_by, "groups": groups, "sources": sources,
                       "largest": [{"group_id": g, "sources": n} for g, n in largest]},
            "shards": all_shards,
            "validation": overall_validation(all_shards),
        }
        errors = sorted({e for s in written for e in s["llm_errors"]})
        if opts.captioner == "llm":
            manifest["llm_errors"] = errors[:10]
        commit.atomic_write(FileSystems.join(out, run, commit.MANIFEST),
                            json.dumps(manifest, indent=2, sort_keys=True).encode())
        yield manifest["counts"]

    return summary | "WriteManifest" >> beam.ParDo(write_manifest)


def uri_root(opts: argparse.Namespace, committed: dict | None) -> str | None:
    """The folder ``source_uri`` values are relative to: the patterns' common root (an incremental
    run: the committed dataset's), None with ``--absolute-uris``; raises :class:`UsageError` when an
    incremental run's patterns lie outside the committed root."""
    if opts.absolute_uris:
        return None
    if committed is None or not opts.incremental:
        return common_root(list(opts.input))
    root = committed.get("root")  # None: absolute uris (also every manifest before relative uris)
    outside = [p for p in opts.input if root is not None and relative_uri(pattern_root(p) + "/x", root) ==
               pattern_root(p) + "/x"]
    if outside:
        raise UsageError(f"--incremental: {', '.join(outside)} is not below the dataset's root {root}, which its "
                         "source_uri values are relative to; use patterns below it")
    return root


def relative_record(record: dict, root: str | None) -> dict:
    """A failure, duplicate or near-duplicate record with its uris relative to ``root``."""
    out = dict(record, source_uri=relative_uri(record["source_uri"], root))
    if "duplicate_of" in record:
        out["duplicate_of"] = relative_uri(record["duplicate_of"], root)
    return out


def overall_validation(shards: list) -> dict:
    """The shards' validation summaries added up: ``{suite, shards, rows, rejected, failed, all_rows_passed}``
    (``rows`` checked, ``rejected`` sent to the failure output, ``failed`` rows per expectation)."""
    failed = Counter()
    for s in shards:
        failed.update(s["validation"]["failed"])
    rejected = sum(s["validation"]["rejected"] for s in shards)
    return {"suite": SUITE_NAME, "shards": len(shards), "rows": sum(s["validation"]["rows"] for s in shards),
            "rejected": rejected, "failed": dict(sorted(failed.items())), "all_rows_passed": rejected == 0}


ROW_STAGES = ("clip", "piece", "validate")  # stages whose failure records stand for rows, not whole files


def file_failures(failures: list) -> list:
    """The failure records of whole files (every stage but :data:`ROW_STAGES`: a clip or a tune of a
    book that cannot be analysed, a row that fails validation)."""
    return [f for f in failures if f["stage"] not in ROW_STAGES]


def summarize(inputs: int, sources: int, shards: list, failures: list, duplicates: list, near: list,
              rowless: int = 0) -> dict:
    """Counts for the manifest. Every input file is one of: a source with rows, a failure of a whole
    file, a byte-identical duplicate or a near-duplicate dropped by ``--dedup near`` (``inputs = sources +
    file_failures + duplicates + near_duplicates``); a file analysed whose every row failed (``rowless``,
    e.g. each rejected by validation) is not a source with rows but one of the ``file_failures`` (also
    counted alone as ``sources_without_rows``); ``rows`` counts the rows written (a source gives
    one per clip and variant), ``failures`` every record (those of :data:`ROW_STAGES` stand for rows of a
    source: a clip's or a tune's original and variants, or one invalid row); ``captions``
    counts rows by ``caption_check.status`` (accepted, retried, fallback, template)."""
    rows_by_split, captions = Counter(), Counter({k: 0 for k in ("accepted", "retried", "fallback", "template")})
    for s in shards:
        rows_by_split[s["split"]] += s["rows"]
        captions.update(s.get("captions", {}))
    return {
        "inputs": inputs,
        "sources": sources,
        "rows": sum(rows_by_split.values()),
        "rows_by_split": dict(sorted(rows_by_split.items())),
        "failures": len(failures),
        "file_failures": len(file_failures(failures)) + rowless,
        "sources_without_rows": rowless,
        "failures_by_reason": dict(sorted(Counter(f"{f['stage']}/{f['reason']}" for f in failures).items())),
        "duplicates": len(duplicates),
        "near_duplicates": len(near),
        "captions": dict(captions),
    }


def parse_checked(argv: list[str] | None) -> tuple[argparse.Namespace, object]:
    """captune's options and Beam's, every check that needs no output folder done (bad flags, options,
    models: SystemExit before any work)."""
    opts, options = parse(argv)
    if not opts.input or not opts.output:
        raise UsageError("captune build needs at least one input pattern and --output")
    check_remote_paths(opts, options)
    check_build_options(opts)
    check_llm_options(opts)
    emotion_model_text(opts)  # a bad --emotion-model stops here, before any work
    return opts, options


def plan_run(opts: argparse.Namespace) -> dict:
    """What this build adds to the output folder: ``{state, run_id, generation, run}`` (``state``: the
    committed sources skipped with ``--incremental``; ``run``: the run folder relative to OUT)."""
    manifest = incremental.committed_manifest(opts.output, strict=opts.incremental)
    if opts.incremental:
        check_incremental(manifest, opts)
    state = incremental.committed(opts.output, manifest) if opts.incremental else incremental.EMPTY
    rid = run_id(opts.input, opts.seed, state["sources"])
    generation = commit.next_generation(manifest)
    return {"manifest": manifest, "state": state, "run_id": rid, "generation": generation,
            "run": commit.run_folder(generation, rid)}


def make_pipeline(opts: argparse.Namespace, options, plan: dict, progress: str | None = None,
                  finish: dict | None = None) -> beam.Pipeline:
    """The build's pipeline for :func:`plan_run`'s ``plan``, constructed but not run; ``progress``: a
    local folder where the analysis notes each file (:mod:`captune.pipelines.console`). With ``finish``
    (``{started, holder}``: the launch time, epoch s, and the lock record) the pipeline also finishes
    and commits the build and releases the lock (:func:`commit_run`, step ``Commit``), so nothing is
    left for the launcher; without it the pipeline ends with the run's manifest and the launcher commits."""
    pipeline = beam.Pipeline(runner=local_runner(options), options=options)
    summary = (pipeline | "Patterns" >> beam.Create(opts.input)
               | "Build" >> BuildDataset(opts, plan["state"], plan["run"], progress))
    written = _write_outputs(summary, opts, list(opts.input), plan["state"], plan["run_id"], plan["run"],
                             plan["generation"])
    if finish is not None:
        written | "Commit" >> beam.Map(_commit_in_pipeline, opts.output, plan["run"], finish["started"],
                                       opts.license, finish["holder"])
    return pipeline


IN_PIPELINE = "the pipeline committed itself, before its counters were final"


def _commit_in_pipeline(_, out: str, run: str, started: float, license: str, holder: dict) -> str:
    """The ``Commit`` step: :func:`commit_run` on a worker once the run's manifest is written, then
    the lock released; idempotent, so a retried bundle commits the same manifest again. Rows the
    pipeline's own count finds missing (:func:`lost_in_pipeline`) fail the step, so the job fails and
    commits nothing (a RuntimeError: the worker reports it as the job's error)."""
    try:
        manifest = commit_run(out, run, started, None, license, IN_PIPELINE)
    except RowsLost as exc:
        raise RuntimeError(str(exc)) from None
    commit.release(out, holder)
    return manifest["run_id"]


def commit_run(out: str, run: str, started: float, counted: dict | None, license: str,
               unchecked: str = "the runner reported no captune counters") -> dict:
    """Finish the run in ``OUT/<run>`` and commit it: staging removed, timings and the row check added
    to its manifest (:func:`finish_manifest`; ``unchecked`` says why when ``counted`` is None), then
    the commit (:func:`captune.pipelines.commit.commit`: ``OUT/manifest.json``, the card, the previous
    runs' files removed). Returns the committed manifest; raises :class:`RowsLost` instead of committing
    when the row check finds rows missing."""
    remove_staging(out, run)
    manifest = finish_manifest(FileSystems.join(out, run), started, counted, unchecked)
    lost = manifest.get("warnings", []) + lost_in_pipeline(manifest["runs"][-1])
    if lost:
        raise RowsLost(f"captune build: rows went missing inside the runner ({'; '.join(lost)}); "
                       f"nothing was committed, {out} keeps the dataset it held. Build again; if rows go "
                       "missing again, build with the default runner (the DirectRunner in-memory: its steps "
                       "pass elements inside one process) and report it")
    commit.commit(out, manifest, lambda o, m: helper.call("write_card", o, m, license))
    return manifest


def build_pipeline(argv: list[str] | None = None) -> tuple[beam.Pipeline, argparse.Namespace]:
    """The build's pipeline, constructed but not run (nothing is written), and captune's options.
    ``argv`` as on the command line: captune's flags (see :func:`captune.pipelines.options.add_arguments`)
    plus any Beam flags."""
    opts, options = parse_checked(argv)
    return make_pipeline(opts, options, plan_run(opts)), opts


GENRE_NOTE = ("captune: the genre column stays null: no genre model is configured (--essentia-models DIR "
              "with essentia-tensorflow fills it)")


def run(argv: list[str] | None = None, commit_on_workers: bool | None = None) -> dict:
    """Build a dataset and commit it; returns the committed manifest (with timings). ``argv``: see
    :func:`build_pipeline`. Holds ``OUT/.lock`` from before the folder is read until after the commit.
    Who commits: this process, after the run (progress line, row check, then the commit), or, with
    ``commit_on_workers`` (default: on a remote runner, see
    :func:`captune.pipelines.options.is_local_runner`), the pipeline's last step (:func:`submit`),
    which this waits for before adding the row check to the committed manifest."""
    started = time.time()
    opts, options = parse_checked(argv)
    if commit_on_workers if commit_on_workers is not None else not is_local_runner(options):
        helper.stop()  # the workers check the shards and write the card
        with console.filtered_stderr(opts.verbose):
            return _run_committed_on_workers(opts, options, started)
    total = count_inputs(opts.input)
    holder = commit.acquire(opts.output, run_id(opts.input, opts.seed))
    progress = tempfile.mkdtemp(prefix="captune-progress-")
    own_helper = helper.start()
    try:
        plan = plan_run(opts)
        commit.remove_unlisted(opts.output, plan["manifest"])  # what killed builds left
        pipeline = make_pipeline(opts, options, plan, progress)
        if not opts.essentia_models:
            print(GENRE_NOTE, file=sys.stderr)
        with console.filtered_stderr(opts.verbose) as stderr, \
                console.exit_on_interrupt(lambda: _interrupted(opts.output, holder, progress)):
            with console.Progress(progress, total, stderr) if total else contextlib.nullcontext():
                result = pipeline.run()
                result.wait_until_finish()
        manifest = commit_run(opts.output, plan["run"], started, row_counts(result), opts.license)
    finally:
        commit.release(opts.output, holder)
        shutil.rmtree(progress, ignore_errors=True)
        if own_helper:
            helper.stop()
    return manifest


def submit(argv: list[str] | None = None):
    """Start a build whose pipeline finishes and commits it and releases the lock (step ``Commit``), and
    return its ``PipelineResult`` as soon as the runner has the job: the Flex Template launcher's entry
    (:mod:`captune.pipelines.flex`). ``argv``: see :func:`build_pipeline`. The lock is taken here; if the
    job fails, it stays (see the README: Runners)."""
    started = time.time()
    opts, options = parse_checked(argv)
    return _submit(opts, options, started)[0]


def _submit(opts: argparse.Namespace, options, started: float):
    """(PipelineResult, plan, lock record) of a self-committing build; the lock is released here only when
    the submission itself fails."""
    holder = commit.acquire(opts.output, run_id(opts.input, opts.seed))
    try:
        plan = plan_run(opts)
        commit.remove_unlisted(opts.output, plan["manifest"])
        pipeline = make_pipeline(opts, options, plan, finish={"started": started, "holder": holder})
        return pipeline.run(), plan, holder
    except BaseException:
        commit.release(opts.output, holder)
        raise


def _run_committed_on_workers(opts: argparse.Namespace, options, started: float) -> dict:
    """Submit a self-committing build, wait for it, add the row check (now that the counters are final) and
    the launcher's wall time to the committed manifest if it is still this run's. A job that fails or is
    cancelled releases the lock here (Ctrl-C does not: the job goes on and its last step releases it)."""
    from apache_beam.runners.runner import PipelineState

    result, plan, holder = _submit(opts, options, started)
    if not opts.essentia_models:
        print(GENRE_NOTE, file=sys.stderr)
    try:
        state = result.wait_until_finish()
        if state != PipelineState.DONE:
            raise RuntimeError(f"captune build: the job ended {state}; nothing was committed")
    except Exception:
        commit.release(opts.output, holder)
        raise
    committed = incremental.committed_manifest(opts.output, strict=True)
    if committed is None:
        raise RuntimeError(f"captune build: the job finished but {opts.output} holds no committed manifest")
    if committed.get("run_dir") != plan["run"]:  # another build committed meanwhile: leave it
        return committed
    manifest = finish_manifest(opts.output, started, row_counts(result))
    for warning in manifest.get("warnings", []):  # committed already (by the job): say so loudly
        print(f"captune: WARNING: {warning}", file=sys.stderr)
    return manifest


def _interrupted(out: str, holder: dict, progress: str | None) -> None:
    """What Ctrl-C leaves to do: release the lock, delete the progress folder (nothing is committed)."""
    commit.release(out, holder)
    if progress:
        shutil.rmtree(progress, ignore_errors=True)


def count_inputs(patterns: list[str]) -> int | None:
    """Files the local patterns match (None if a pattern is remote: not counted before the run); raises
    :class:`UsageError` when no pattern matches anything (a pattern matching nothing beside others that
    match is a ``match/no_match`` failure record instead)."""
    if any(not commit.is_local(p) for p in patterns):
        return None
    matched = {p: expand_pattern(p) for p in patterns}
    if not any(matched.values()):
        raise UsageError("captune build: no file matches " + ", ".join(repr(p) for p in patterns)
                         + " (a folder means every file below it; quote globs with ** so the shell keeps them)")
    return len({path for paths in matched.values() for path in paths})


STAGING = ".staging"


def staging_dir(out: str, run: str) -> str:
    """Where large generated media (clips, renderings) waits between the analysis and the shard writer,
    so that no shuffle carries it (:class:`captune.pipelines.transforms.AnalyzeAndCaption`): inside the
    run's folder, so no other build touches it."""
    return FileSystems.join(out, run, STAGING)


def remove_staging(out: str, run: str) -> None:
    """Delete the staged files once the shards hold their media (file by file: object stores have no
    folders), then the local folder."""
    path = staging_dir(out, run)
    staged = [m.path for m in FileSystems.match([FileSystems.join(path, "*")])[0].metadata_list]
    if staged:
        FileSystems.delete(staged)
    if FileSystems.get_scheme(path) in (None, "file") and os.path.isdir(path):
        os.rmdir(path)


ROW_COUNTERS = {"made": "rows", "grouped": "rows_grouped", "near_duplicate": "rows_near_duplicate",
                "to_shards": "rows_to_shards"}


def row_counts(result) -> dict | None:
    """Rows counted on their way: emitted by the analysis (``made``), entering the grouping step
    (``grouped``), dropped there as rows of near-duplicates (``near_duplicate``, ``--dedup near``) and
    reaching the shard writer (``to_shards``), from the ``captune`` Beam counters; None if the runner
    keeps no metrics or reports no captune counter."""
    from apache_beam.metrics.metric import MetricsFilter

    try:
        counters = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]
    except Exception:  # a runner without metrics support
        return None
    if not counters:  # no captune counter at all, not even files_read: the runner dropped them
        return None
    totals = dict.fromkeys(ROW_COUNTERS, 0)
    names = {name: key for key, name in ROW_COUNTERS.items()}
    for c in counters:
        if c.key.metric.name in names:
            totals[names[c.key.metric.name]] += c.committed if c.committed is not None else c.attempted
    return totals


def rejected_by_validation(counts: dict) -> int:
    """Rows the shard writer rejected (failure records of stage ``validate``), from a run's ``counts``."""
    return sum(n for reason, n in counts["failures_by_reason"].items() if reason.startswith("validate/"))


def lost_rows(counted: dict, counts: dict) -> list[str]:
    """What went missing between the steps of :func:`row_counts`, given the run's manifest ``counts``
    (rows written, validation rejects): one sentence per step that lost rows, or none."""
    rejected = rejected_by_validation(counts)
    steps = [("the analysis made", counted["made"], "entered the grouping step", counted["grouped"]),
             ("the grouping step kept", counted["grouped"] - counted["near_duplicate"],
              "reached the shard writer", counted["to_shards"]),
             ("the shard writer got", counted["to_shards"], "were written or rejected by validation",
              counts["rows"] + rejected)]
    return [f"{before} {a} rows but only {b} {after}" for before, a, after, b in steps if a != b]


def lost_in_pipeline(run: dict) -> list[str]:
    """The pipeline's own count of this ``run``'s rows (``rows_in_pipeline``: made by the analysis and
    dropped as near-duplicates, counted by the ``Summary`` step, so it needs no runner metrics and is
    there before a self-committing job's ``Commit`` step) against the rows written or rejected by
    validation: one sentence when rows went missing, else none (none too for a run recorded by a
    release that did not count)."""
    counted = run.get("rows_in_pipeline")
    if counted is None:
        return []
    kept = counted["made"] - counted["near_duplicate"]
    reached = run["counts"]["rows"] + rejected_by_validation(run["counts"])
    if kept == reached:
        return []
    return [f"the pipeline counted {kept} rows made and kept but {reached} were written or rejected by validation"]


def finish_manifest(folder: str, started: float, counted: dict | None = None,
                    unchecked: str = "the runner reported no captune counters") -> dict:
    """Add wall-clock timings to the manifest in ``folder`` (the run's folder, or OUT for a committed one)
    and, given the :func:`row_counts`, check that every row the analysis made reached a shard, the
    failure list or the near-duplicate list: a shortfall is recorded under ``warnings`` (naming the step
    where rows went missing), which the caller reports (:func:`commit_run` refuses the commit;
    :func:`_run_committed_on_workers` prints them), so rows are never lost silently. ``row_check`` says
    the outcome: ``passed``, ``rows lost: see warnings`` or ``skipped: <unchecked>`` when ``counted`` is None."""
    path = FileSystems.join(folder, commit.MANIFEST)
    with FileSystems.open(path) as fh:
        manifest = json.loads(fh.read())
    wall = time.time() - started
    manifest["timings"] = {"wall_s": round(wall, 2),
                           "files_per_s": round(manifest["counts"]["inputs"] / wall, 1) if wall > 0 else None}
    manifest.pop("warnings", None)  # a check made again replaces the last one's
    manifest.pop("rows_made", None)
    if counted is None:
        manifest["row_check"] = f"skipped: {unchecked}"
    else:
        manifest["rows_made"] = counted["made"]
        warnings = lost_rows(counted, manifest["runs"][-1]["counts"])
        manifest["row_check"] = "rows lost: see warnings" if warnings else "passed"
        if warnings:
            manifest["warnings"] = warnings
    commit.atomic_write(path, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return manifest
