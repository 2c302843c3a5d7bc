"""``captune build``: inputs → captioned, validated Parquet shards + manifest.

Layout of the output folder (Hugging Face style)::

    OUT/data/{train,test}-NNNNN-of-MMMMM.parquet   rows, sorted by id within a shard
    OUT/failures/failures.jsonl                    inputs that could not be used, with the reason
    OUT/failures/duplicates.jsonl                  byte-identical copies of a kept input
    OUT/manifest.json                              run id, versions, options, counts, timings
    OUT/llm_cache/ab/<sha256>.json                 LLM responses by (model, prompt) (--captioner llm)

With ``--captioner llm`` a step after the analysis batches the rows
(``BatchElements``) and replaces each template caption by an LLM caption that
passes the fact check (``LLMCaption``); every row comes out either way.
"""

import argparse
import json
import time
from collections import Counter

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

import captune
from captune.pipelines.options import check_llm_options, parse
from captune.pipelines.transforms import (
    FAILURES, AnalyzeAndCaption, AssignShard, KeepFirstCopy, LLMCaption, MatchInputs, ReadAndHash, WriteShard,
    llm_settings, run_id, write_jsonl,
)
from captune.schemas import SCHEMA_VERSION


class BuildDataset(beam.PTransform):
    """patterns → (rows, failures, duplicates, shards written) PCollections."""

    def __init__(self, opts: argparse.Namespace):
        super().__init__()
        self.opts = opts

    def expand(self, patterns):
        o = self.opts
        matched = patterns | "Match" >> beam.ParDo(MatchInputs()).with_outputs(FAILURES, main="paths")
        paths = matched.paths | "DistinctPaths" >> beam.Distinct() | "Spread" >> beam.Reshuffle()
        read = paths | "ReadAndHash" >> beam.ParDo(ReadAndHash(int(o.max_file_mb * 2 ** 20))).with_outputs(
            FAILURES, main="items")
        kept = (read.items | "GroupCopies" >> beam.GroupByKey()
                | "KeepFirstCopy" >> beam.ParDo(KeepFirstCopy()).with_outputs("duplicates", main="items"))
        analyzed = kept.items | "AnalyzeAndCaption" >> beam.ParDo(AnalyzeAndCaption(
            seed=o.seed, test_fraction=o.test_fraction, max_duration_s=o.max_duration,
            key_profile=o.key_profile, timeout_s=o.item_timeout)).with_outputs(FAILURES, main="rows")
        rows = analyzed.rows
        if o.captioner == "llm":
            rows = (rows
                    | "BatchForLLM" >> beam.BatchElements(min_batch_size=1, max_batch_size=max(1, o.llm_batch_size))
                    | "LLMCaption" >> beam.ParDo(LLMCaption(llm_settings(o))))
        split_sizes = rows | "SplitOf" >> beam.Map(lambda r: r["split"]) | "CountSplits" >> beam.combiners.Count.PerElement()
        shards = (rows
                  | "AssignShard" >> beam.ParDo(AssignShard(o.rows_per_shard), beam.pvalue.AsDict(split_sizes))
                  | "GroupShards" >> beam.GroupByKey()
                  | "WriteShard" >> beam.ParDo(WriteShard(FileSystems.join(o.output, "data"))).with_outputs(
                      FAILURES, main="written"))
        failures = ((matched[FAILURES], read[FAILURES], analyzed[FAILURES], shards[FAILURES])
                    | "AllFailures" >> beam.Flatten())
        inputs = paths | "CountInputs" >> beam.combiners.Count.Globally()
        return {"failures": failures, "duplicates": kept.duplicates, "shards": shards.written, "paths": inputs,
                "unmatched": matched[FAILURES] | "CountUnmatched" >> beam.combiners.Count.Globally()}


def _write_outputs(built, opts: argparse.Namespace, patterns: list[str]):
    """Failure and duplicate lists, then the manifest once every shard is written."""
    out = opts.output
    failures = built["failures"] | "FailureList" >> beam.combiners.ToList()
    duplicates = built["duplicates"] | "DuplicateList" >> beam.combiners.ToList()
    shards = built["shards"] | "ShardList" >> beam.combiners.ToList()

    def write_manifest(_, failures, duplicates, shards, paths, unmatched):
        write_jsonl(FileSystems.join(out, "failures", "failures.jsonl"), failures,
                    lambda r: (r["source_uri"], r["stage"]))
        write_jsonl(FileSystems.join(out, "failures", "duplicates.jsonl"), duplicates,
                    lambda r: r["source_uri"])
        manifest = {
            "run_id": run_id(patterns, opts.seed),
            "pipeline_version": captune.__version__,
            "schema_version": SCHEMA_VERSION,
            "inputs": patterns,
            "output": out,
            "options": {k: v for k, v in sorted(vars(opts).items()) if k not in ("input", "output")},
            "seed": opts.seed,
            "counts": summarize(paths + unmatched, shards, failures, duplicates),
            "shards": sorted(({k: v for k, v in s.items() if k != "llm_errors"} for s in shards),
                             key=lambda s: s["file"]),
        }
        errors = sorted({e for s in shards for e in s.get("llm_errors", [])})
        if opts.captioner == "llm":
            manifest["llm_errors"] = errors[:10]
        with FileSystems.create(FileSystems.join(out, "manifest.json")) as fh:
            fh.write(json.dumps(manifest, indent=2, sort_keys=True).encode())
        yield manifest["counts"]

    side = beam.pvalue.AsSingleton
    return (built["paths"].pipeline | "Once" >> beam.Create([None])
            | "WriteManifest" >> beam.ParDo(write_manifest, side(failures), side(duplicates), side(shards),
                                            side(built["paths"]), side(built["unmatched"])))


def summarize(inputs: int, shards: list, failures: list, duplicates: list) -> dict:
    """Counts for the manifest: inputs = rows + failures + duplicates; ``captions`` counts rows by
    ``caption_check.status`` (accepted, retried, fallback, template)."""
    rows_by_split, captions = Counter(), Counter({k: 0 for k in ("accepted", "retried", "fallback", "template")})
    for s in shards:
        rows_by_split[s["split"]] += s["rows"]
        captions.update(s.get("captions", {}))
    return {
        "inputs": inputs,
        "rows": sum(rows_by_split.values()),
        "rows_by_split": dict(sorted(rows_by_split.items())),
        "failures": len(failures),
        "failures_by_reason": dict(sorted(Counter(f"{f['stage']}/{f['reason']}" for f in failures).items())),
        "duplicates": len(duplicates),
        "captions": dict(captions),
    }


def run(argv: list[str] | None = None) -> dict:
    """Build a dataset; returns the manifest (with timings). ``argv`` as on the command line:
    captune's flags (see :func:`captune.pipelines.options.add_arguments`) plus any Beam flags."""
    opts, options = parse(argv)
    if not opts.input or not opts.output:
        raise SystemExit("captune build needs at least one input pattern and --output")
    check_llm_options(opts)
    started = time.time()
    pipeline = beam.Pipeline(options=options)
    built = pipeline | "Patterns" >> beam.Create(opts.input) | "Build" >> BuildDataset(opts)
    _write_outputs(built, opts, list(opts.input))
    result = pipeline.run()
    result.wait_until_finish()
    return finish_manifest(opts.output, started)


def finish_manifest(out: str, started: float) -> dict:
    """Add wall-clock timings to the manifest the pipeline wrote, and return it."""
    path = FileSystems.join(out, "manifest.json")
    with FileSystems.open(path) as fh:
        manifest = json.loads(fh.read())
    wall = time.time() - started
    manifest["timings"] = {"wall_s": round(wall, 2),
                           "files_per_s": round(manifest["counts"]["inputs"] / wall, 1) if wall > 0 else None}
    with FileSystems.create(path) as fh:
        fh.write(json.dumps(manifest, indent=2, sort_keys=True).encode())
    return manifest
