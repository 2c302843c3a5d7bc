"""The composite transforms of a build: match, read, deduplicate, analyse, write.

Every DoFn catches per element and sends a failure record
``{source_uri, source_id, stage, reason, detail}`` to the ``failures`` output.
"""

import glob
import hashlib
import io
import json
import logging
import os
import re
from collections import Counter

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from captune import items
from captune.extractors import BadInput, modality_of
from captune.pipelines import console, worker_files
from captune.pipelines.commit import is_local
from captune.pipelines.options import caption_examples
from captune.pipelines.isolation import Isolated, ItemTimeout, ItemTooLarge, WorkerCrashed
from captune.pipelines.grouping import forced_group, keep_one
from captune.pipelines.rows import item_rows, source_id, split_of
from captune.schemas import to_table
from captune.schemas.expectations import SUITE_NAME, validate_table

FAILURES = "failures"
MEDIA_FROM = "_media_from"  # {uri, sha256} of a row's media bytes left out of the shuffles (see WriteShard)
STAGE_BYTES = 64 * 1024  # generated media over this size (audio clips, renderings) is staged as a file
NAMESPACE = "captune"


def failure(uri: str, stage: str, reason: str, detail: str, source: str | None = None) -> dict:
    """A failure record."""
    return {"source_uri": uri, "source_id": source, "stage": stage, "reason": reason, "detail": detail}


def safe_uri(path: str) -> str:
    """``path`` as text that encodes as UTF-8: the bytes of a file name that are not UTF-8 (which
    Python decodes to lone surrogates, PEP 383) written ``\\xNN``, e.g. ``caf\\xe9.mid`` for Latin-1
    ``café.mid``. :func:`fs_path` turns it back."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


_ESCAPED_BYTE = re.compile(r"\\x([89a-f][0-9a-f])")


def fs_path(uri: str) -> str:
    """The path to open for a uri made by :func:`safe_uri` (a path that exists as written wins)."""
    if "\\x" not in uri or FileSystems.get_scheme(uri) not in (None, "file") or os.path.exists(uri):
        return uri
    return _ESCAPED_BYTE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), uri)


def expand_pattern(pattern: str) -> list[str]:
    """Paths a pattern names, sorted, as :func:`safe_uri` text. Local globs (``**`` recursive) also list
    folders whose name has a media suffix (``x.mid/``), so they are reported
    rather than silently skipped; a pattern naming an existing local folder
    means every file below it. Symbolic links are resolved once: paths reaching the same file (a link,
    a loop of linked folders) give one input, the first path in sorted order."""
    if FileSystems.get_scheme(pattern) not in (None, "file"):
        return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
    if os.path.isdir(pattern):
        found = [p for p in glob.glob(os.path.join(glob.escape(pattern), "**", "*"), recursive=True) if os.path.isfile(p)]
    else:
        found = [p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p) or modality_of(p)]
    first = {}
    for path in sorted(found):
        first.setdefault(os.path.realpath(path), path)
    return sorted(safe_uri(p) for p in first.values())


def pattern_root(pattern: str) -> str:
    """The folder a pattern starts from: the folder it names, else its path up to the first component
    with a wildcard (``*?[``), else the folder of the file it names; no trailing slash."""
    scheme = FileSystems.get_scheme(pattern)
    if scheme in (None, "file") and os.path.isdir(pattern):
        return os.path.normpath(pattern)
    head = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    cut = head.rfind("/")
    root = head[:cut] if cut >= 0 else ""
    if scheme not in (None, "file"):
        return root
    return os.path.normpath(root) if root else "."


def common_root(patterns: list[str]) -> str | None:
    """The deepest folder holding every pattern's root (None when they share none, e.g. two buckets)."""
    roots = [pattern_root(p) for p in patterns]
    if all(FileSystems.get_scheme(r) in (None, "file") for r in roots):
        absolute = {os.path.isabs(r) for r in roots}
        return os.path.commonpath(roots) if len(absolute) == 1 else None
    prefix = os.path.commonprefix(roots)
    if prefix not in roots:
        prefix = prefix[:prefix.rfind("/")] if "/" in prefix else ""
    return prefix if "://" in prefix and prefix.split("://", 1)[1] else None


def relative_uri(uri: str, root: str | None) -> str:
    """``uri`` relative to ``root`` (unchanged when ``root`` is None or does not hold it)."""
    if root is None:
        return uri
    if root in (".", ""):
        return uri[2:] if uri.startswith("./") else uri
    return uri[len(root) + 1:] if uri.startswith(root.rstrip("/") + "/") else uri


class MatchInputs(beam.DoFn):
    """pattern → path per match (:func:`expand_pattern`); a pattern matching nothing, or that cannot be
    matched at all, is a failure."""

    def process(self, pattern):
        try:
            paths = expand_pattern(pattern)
        except Exception as exc:  # e.g. gs:// without the gcp extra, or no permission
            yield beam.pvalue.TaggedOutput(FAILURES, failure(pattern, "match", "match_error",
                                                             f"{type(exc).__name__}: {exc}"))
            return
        if not paths:
            yield beam.pvalue.TaggedOutput(FAILURES, failure(pattern, "match", "no_match", "the pattern matched no file"))
        yield from paths


class ReadAndHash(beam.DoFn):
    """path → (source_id, (path, size in bytes)), refusing files over ``max_bytes``; the bytes are read
    again by :class:`KeepFirstCopy`, so the copy grouping shuffles no file contents."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.read = Metrics.counter(NAMESPACE, "files_read")

    def process(self, path):
        try:
            with FileSystems.open(fs_path(path), compression_type="uncompressed") as fh:
                data = fh.read(self.max_bytes + 1)
        except Exception as exc:  # directories, permissions, vanished files, network errors
            reason = "is_directory" if isinstance(exc, IsADirectoryError) or os.path.isdir(fs_path(path)) else "read_error"
            yield beam.pvalue.TaggedOutput(FAILURES, failure(path, "read", reason, f"{type(exc).__name__}: {exc}"))
            return
        if len(data) > self.max_bytes:
            yield beam.pvalue.TaggedOutput(
                FAILURES, failure(path, "read", "too_large", f"over the {self.max_bytes} byte limit"))
            return
        self.read.inc()
        yield source_id(data), (path, len(data))   # KeepFirstCopy reads the chosen copy again: no bytes in the shuffle


class SkipKnown(beam.DoFn):
    """(source_id, (path, size)) → itself when the source is new to the output folder (``--incremental``).
    A known source goes to the ``skipped`` output as its path and, when that path is not recorded in the
    folder yet, to the ``duplicates`` output as ``{source_uri, source_id, duplicate_of}``."""

    def __init__(self, known: dict, recorded: frozenset, root: str | None = None):
        """``known``: source id → its uri in the folder; ``recorded``: every uri the folder lists (relative
        to ``root``, :func:`relative_uri`)."""
        self.known, self.recorded, self.root = known, recorded, root

    def process(self, item):
        source, (path, _) = item
        if source not in self.known:
            yield item
            return
        yield beam.pvalue.TaggedOutput("skipped", path)
        if relative_uri(path, self.root) not in self.recorded:
            yield beam.pvalue.TaggedOutput("duplicates", {"source_uri": path, "source_id": source,
                                                          "duplicate_of": self.known[source]})


class KeepFirstCopy(beam.DoFn):
    """(source_id, [(path, size), …]) → (path, source_id, bytes) of the copy with the smallest path, read
    again and checked against the source id (else a ``read`` failure); the rest
    go to the ``duplicates`` output as ``{source_uri, source_id, duplicate_of}``."""

    def process(self, element):
        source, copies = element
        copies = sorted(copies, key=lambda c: c[0])
        (path, size), rest = copies[0], copies[1:]
        for dup_path, _ in rest:
            yield beam.pvalue.TaggedOutput("duplicates", {"source_uri": dup_path, "source_id": source,
                                                          "duplicate_of": path})
        try:
            with FileSystems.open(fs_path(path), compression_type="uncompressed") as fh:
                data = fh.read(size + 1)
        except Exception as exc:  # vanished since it was hashed, permissions, network errors
            yield beam.pvalue.TaggedOutput(FAILURES, failure(path, "read", "read_error", f"{type(exc).__name__}: {exc}"))
            return
        if source_id(data) != source:
            yield beam.pvalue.TaggedOutput(FAILURES, failure(path, "read", "changed", "the file changed during the build"))
            return
        yield path, source, data


class _Isolated(beam.DoFn):
    """Base of the DoFns that call a function of :mod:`captune.items` in an isolated child process
    with a CPU-time limit (``timeout_s`` CPU seconds per ordinary item, scaled by the call's amount of
    work; 0: in this process, no limits) and a memory limit (``memory_mb``, MiB), and turn a file's
    units into rows; ``progress``: a local folder where each file is noted (:func:`console.note`)."""

    FN = None  # the function of captune.items to call

    def __init__(self, settings: items.Settings, *, test_fraction: float, timeout_s: float, staging: str,
                 musicbench_captions: bool = False, memory_mb: float = 0, progress: str | None = None):
        self.settings, self.test_fraction, self.timeout_s = settings, test_fraction, timeout_s
        self.staging, self.musicbench_captions = staging, musicbench_captions
        self.memory_mb, self.progress = memory_mb, progress
        self.rows = Metrics.counter(NAMESPACE, "rows")
        self.failed = Metrics.counter(NAMESPACE, "failures")

    def setup(self):
        self.settings = worker_files.localized(self.settings)  # a gs:// soundfont or model folder, copied here
        fn = type(self).FN
        self._fn = Isolated(fn, self.timeout_s, self.memory_mb) if self.timeout_s > 0 else fn

    def teardown(self):
        if isinstance(self._fn, Isolated):
            self._fn.close()

    def call(self, *args, work: float = 1.0):
        """``FN(*args, settings)``; raises BadInput, ItemTimeout, ItemTooLarge or WorkerCrashed."""
        if isinstance(self._fn, Isolated):
            return self._fn(*args, self.settings, timeout_s=self.timeout_s * work)
        return self._fn(*args, self.settings)

    def attempt(self, path: str, source: str, stage: str | None, fn):
        """``(fn(), None)``, or ``(None, failure record)`` when it fails; ``stage`` overrides the stage
        of the records (None: the one the error names, ``analyze`` for a timeout or a crash)."""
        try:
            return fn(), None
        except BadInput as exc:
            record = failure(path, stage or exc.stage, exc.reason, exc.detail, source)
        except ItemTimeout as exc:
            record = failure(path, stage or "analyze", "timeout", str(exc), source)
        except (ItemTooLarge, MemoryError) as exc:
            record = failure(path, stage or "analyze", "memory_limit", str(exc) or "out of memory", source)
        except WorkerCrashed as exc:
            record = failure(path, stage or "analyze", "crashed", str(exc), source)
        self.failed.inc()
        return None, record

    def make_rows(self, path: str, source: str, item: dict, data: bytes | None = None) -> list[dict]:
        """The rows of a processed file or clip, their media bytes left out of the shuffles: a row whose
        media is the source file (``data``) points at ``source_uri``, generated media over
        :data:`STAGE_BYTES` is written to the staging folder; :func:`with_media` puts the bytes back."""
        rows = item_rows(path, source, item, seed=self.settings.seed, test_fraction=self.test_fraction,
                         musicbench_captions=self.musicbench_captions)
        for row in rows:
            media = row["media"]["bytes"]
            if data is not None and media == data:
                row[MEDIA_FROM] = {"uri": path, "sha256": source}
            elif len(media) > STAGE_BYTES:
                uri = FileSystems.join(self.staging, f"{row['id']}{os.path.splitext(row['media']['path'])[1]}")
                with FileSystems.create(uri, compression_type="uncompressed") as fh:
                    fh.write(media)
                row[MEDIA_FROM] = {"uri": uri, "sha256": hashlib.sha256(media).hexdigest()}
            else:
                continue
            row["media"] = {**row["media"], "bytes": None}
        self.rows.inc(len(rows))
        return rows


class AnalyzeAndCaption(_Isolated):
    """(path, source_id, bytes) → its rows (:func:`captune.items.process`: units and their variants), and
    to the ``sources`` output one ``(source_id, {source_uri, duration_s, fingerprint})`` per file, which
    the near-duplicate grouping reads. A recording cut into clips or an ABC tune book gives no rows
    here but one ``(path, source_id, modality, part, fingerprint)`` per clip or tune to the ``parts``
    output, for :class:`AnalyzePart`."""

    FN = items.process

    def process(self, item):
        path, source, data = item
        work = items.work_factor(path, len(data), self.settings)
        processed, record = self.attempt(path, source, None, lambda: self.call(data, path, source, work=work))
        if record is not None:
            console.note(self.progress, 0, 1)
            yield beam.pvalue.TaggedOutput(FAILURES, record)
            return
        yield beam.pvalue.TaggedOutput("sources", (source, {
            "source_uri": path, "duration_s": processed["duration_s"], "fingerprint": processed["fingerprint"]}))
        for part in processed["parts"]:
            yield beam.pvalue.TaggedOutput("parts", (path, source, processed["modality"], part,
                                                     processed["fingerprint"]))
        rows = self.make_rows(path, source, processed, data)
        console.note(self.progress, len(rows), 0)
        yield from rows


class AnalyzePart(_Isolated):
    """(path, source_id, modality, part, fingerprint) → the rows of a clip or a tune
    (:func:`captune.items.part_units`). A part that cannot be analysed gives one failure record of
    stage ``clip`` or ``piece`` (its rows only: the file stays a source with its other parts)."""

    FN = items.part_units

    def process(self, element):
        path, source, modality, part, fingerprint = element
        units, record = self.attempt(path, source, part["kind"], lambda: self.call(
            part, path, source, work=items.part_work(part, path, self.settings)))
        if record is not None:
            record["detail"] = f"{items.part_label(part)}: {record['detail']}"
            yield beam.pvalue.TaggedOutput(FAILURES, record)
            return
        yield from self.make_rows(path, source, {"modality": modality, "fingerprint": fingerprint, "units": units})


def group_key(source: str, uri: str, split_by: str) -> str:
    """The group of a source under ``--split-by content|folder|REGEX``: its own id for ``content`` (and
    for a path the regular expression does not match), else sha256 hex of the folder or the match."""
    forced = None if split_by == "content" else forced_group(uri, split_by)
    return source if forced is None else hashlib.sha256(forced.encode()).hexdigest()


class KeepOnePerGroup(beam.DoFn):
    """(group_id, [(source_id, {source_uri, duration_s, …}), …]) → the source id kept for ``--dedup near``
    (:func:`captune.pipelines.grouping.keep_one`: the longest, ties first by path); every other member
    goes to the ``near_duplicates`` output as ``{source_uri, source_id, group_id, duplicate_of}``."""

    def process(self, element):
        group, members = element
        kept, dropped = keep_one([{"source_id": s, **meta} for s, meta in members])
        for m in dropped:
            yield beam.pvalue.TaggedOutput("near_duplicates", {
                "source_uri": m["source_uri"], "source_id": m["source_id"], "group_id": group,
                "duplicate_of": kept["source_uri"]})
        yield kept["source_id"]


class SetGroup(beam.DoFn):
    """row → the row with its source's ``group_id`` and the ``split`` drawn from it; a source in a group
    of its own keeps the group its rows were made with (its own id; a tune of a book, the tune's own:
    :func:`captune.pipelines.rows.tune_group`). Rows of sources dropped as near-duplicates are not
    emitted (their files are listed once, by :class:`KeepOnePerGroup`)."""

    def __init__(self, test_fraction: float):
        self.test_fraction = test_fraction
        self.seen = Metrics.counter(NAMESPACE, "rows_grouped")
        self.dropped = Metrics.counter(NAMESPACE, "rows_near_duplicate")

    def process(self, row, group_of, dropped):
        self.seen.inc()
        if row["source_id"] in dropped:
            self.dropped.inc()
            return
        group = group_of.get(row["source_id"], row["source_id"])
        if group == row["source_id"]:
            group = row["group_id"]
        yield {**row, "group_id": group, "split": split_of(group, self.test_fraction)}


class BeamFiles:
    """Response-cache storage on Beam's FileSystems (``gs://`` and other remote outputs)."""

    @staticmethod
    def join(root, *parts):
        return FileSystems.join(root, *parts)

    @staticmethod
    def read(path):
        try:
            if not FileSystems.exists(path):
                return None
            with FileSystems.open(path, compression_type="uncompressed") as fh:
                return fh.read()
        except Exception:  # an unreadable entry is a cache miss
            return None

    @staticmethod
    def write(path, data):
        with FileSystems.create(path, compression_type="uncompressed") as fh:  # GCS objects appear whole
            fh.write(data)


def llm_settings(opts) -> dict:
    """The picklable subset of the options that :class:`LLMCaption` needs (never the API key); the
    few-shot examples are read here, on the launcher, and travel with the pipeline."""
    cache = opts.llm_cache or FileSystems.join(opts.output, "llm_cache")
    return {"model": opts.llm_model, "endpoint": opts.llm_endpoint, "api_key_env": opts.llm_api_key_env,
            "style": opts.caption_style, "examples": caption_examples(opts), "cache": cache,
            "concurrency": opts.llm_concurrency, "batch_size": opts.llm_batch_size, "retries": opts.llm_retries,
            "timeout_s": opts.llm_timeout, "max_tokens": opts.llm_max_tokens, "seed": opts.seed}


def make_captioner(settings: dict):
    """An :class:`~captune.captioners.llm.LLMCaptioner` for ``settings``; a model that will not load gives
    a captioner that only uses cached answers and otherwise falls back. A model folder on remote storage
    (``gs://``) is copied to this machine first (:mod:`captune.pipelines.worker_files`)."""
    from captune.captioners import llm
    from captune.captioners.cache import LocalFiles, ResponseCache

    root = settings["cache"]
    local = FileSystems.get_scheme(root) in (None, "file")
    cache = ResponseCache(root, LocalFiles() if local else BeamFiles())
    examples = settings.get("examples")
    if settings.get("endpoint"):
        generator = llm.EndpointClient(settings["endpoint"], settings["model"], api_key_env=settings["api_key_env"],
                                       concurrency=settings["concurrency"], retries=settings["retries"],
                                       timeout_s=settings["timeout_s"], max_tokens=settings["max_tokens"],
                                       seed=settings["seed"])
        return llm.LLMCaptioner(generator, model=generator.name, style=settings["style"], examples=examples,
                                cache=cache)
    model = settings["model"]
    name = os.path.basename(os.path.normpath(model))
    params = {"decoding": "greedy", "max_new_tokens": settings["max_tokens"]}
    cache_model = f"local:{os.path.abspath(model) if is_local(model) else model}"  # the same on every worker
    try:
        generator = llm.LocalModel(worker_files.local_path(model, folder=True), batch_size=settings["batch_size"],
                                   max_new_tokens=settings["max_tokens"], name=name)
    except (llm.ModelUnavailable, OSError) as exc:  # OSError: the remote folder could not be copied
        logging.getLogger(__name__).error("captune: %s; rows keep their template captions", exc)
        return llm.LLMCaptioner(None, model=name, style=settings["style"], examples=examples, cache=cache,
                                params=params, unavailable=str(exc), cache_model=cache_model)
    return llm.LLMCaptioner(generator, model=name, style=settings["style"], examples=examples, cache=cache,
                            params=params, cache_model=cache_model)


class LLMCaption(beam.DoFn):
    """[row, …] (a batch) → the same rows, each with an LLM caption that passed the fact check or its
    template caption, and ``caption_source`` / ``caption_check`` set. The model or client is made once
    per worker (``setup``); whatever goes wrong, every row comes out."""

    def __init__(self, settings: dict):
        self.settings = settings
        self.counters = {s: Metrics.counter(NAMESPACE, f"captions_{s}") for s in ("accepted", "retried", "fallback")}

    def setup(self):
        self._captioner = make_captioner(self.settings)

    def process(self, batch):
        rows = [dict(r) for r in batch]
        try:
            outcomes = self._captioner.caption_many(rows, [r["caption"] for r in rows])
        except Exception as exc:  # never lose a row to the LLM step
            logging.getLogger(__name__).warning("captune: LLM captioning failed for a batch: %s", exc)
            outcomes = [{"caption": r["caption"], "caption_source": "template",
                         "caption_check": {"status": "fallback", "attempts": 0,
                                           "problems": [f"llm step failed: {type(exc).__name__}: {exc}"]}}
                        for r in rows]
        for row, outcome in zip(rows, outcomes):
            row.update(outcome)
            self.counters[outcome["caption_check"]["status"]].inc()
            yield row


def caption_counts(table) -> dict:
    """``{accepted, retried, fallback, template}`` counts of a shard's ``caption_check`` statuses."""
    counts = Counter(s for s in table.column("caption_check").combine_chunks().field("status").to_pylist())
    return {k: counts.get(k, 0) for k in ("accepted", "retried", "fallback", "template")}


def llm_errors(table, limit: int = 5) -> list[str]:
    """Distinct reasons why the LLM gave no answer (dead endpoint, model not loaded), at most ``limit``."""
    seen = []
    for problems in table.column("caption_check").combine_chunks().field("problems").to_pylist():
        for p in problems or []:
            if p.startswith(("no response:", "llm step failed:")) and p not in seen:
                seen.append(p)
    return sorted(seen)[:limit]


def shard_name(split: str, index: int, count: int) -> str:
    """Hugging Face shard file name, e.g. ``train-00000-of-00008.parquet``."""
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


class AssignShard(beam.DoFn):
    """row → ((split, shard index, shard count), row); shards are drawn from the
    row id so the same rows land in the same files every run."""

    def __init__(self, rows_per_shard: int):
        self.rows_per_shard = rows_per_shard

    def process(self, row, split_sizes):
        count = max(1, -(-split_sizes[row["split"]] // self.rows_per_shard))
        yield (row["split"], int(row["id"][:15], 16) % count, count), row


def validate_rows(rows: list[dict]):
    """(Arrow table of the rows that fit the schema, failure records of the rest)."""
    try:
        return to_table(rows), []
    except ValueError:
        good, bad = [], []
        for row in rows:
            try:
                to_table([row])
                good.append(row)
            except ValueError as exc:
                bad.append(failure(row["source_uri"], "validate", "invalid_row", str(exc), row["source_id"]))
        return to_table(good), bad


def check_expectations(table):
    """(the rows of ``table`` that pass the expectations, a failure record per other row naming the
    expectations it failed, the validation summary ``{suite, rows, rejected, failed}``)."""
    report = validate_table(table) if table.num_rows else {"failed": {}, "bad_rows": {}}
    rejected, bad = report["bad_rows"], []
    if rejected:
        ids = table.column("id").to_pylist()
        bad = [failure(uri, "validate", "expectation", "; ".join(rejected[rid]), source)
               for rid, uri, source in zip(ids, table.column("source_uri").to_pylist(),
                                           table.column("source_id").to_pylist()) if rid in rejected]
        table = table.filter(pa.array([rid not in rejected for rid in ids]))
    summary = {"suite": SUITE_NAME, "rows": table.num_rows + len(rejected), "rejected": len(rejected),
               "failed": report["failed"]}
    return table, bad, summary


def with_media(rows):
    """(the rows, those marked :data:`MEDIA_FROM` given their media bytes again, read from the source
    file or the staged one; a ``validate`` failure record per marked row whose file cannot be read or
    has changed since it was analysed or written, i.e. whose sha256 is no longer the recorded one)."""
    out, bad = [], []
    for row in rows:
        if MEDIA_FROM not in row:
            out.append(row)
            continue
        origin = row[MEDIA_FROM]
        row = {k: v for k, v in row.items() if k != MEDIA_FROM}
        try:
            with FileSystems.open(fs_path(origin["uri"]), compression_type="uncompressed") as fh:
                data = fh.read()
        except Exception as exc:  # vanished, no permission, network error
            bad.append(failure(row["source_uri"], "validate", "media_unreadable",
                               f"{origin['uri']}: {type(exc).__name__}: {exc}", row["source_id"]))
            continue
        if hashlib.sha256(data).hexdigest() != origin["sha256"]:
            bad.append(failure(row["source_uri"], "validate", "media_changed",
                               f"{origin['uri']} changed during the build", row["source_id"]))
            continue
        row["media"] = {**row["media"], "bytes": data}
        out.append(row)
    return out, bad


class WriteShard(beam.DoFn):
    """((split, index, count), rows) → a Parquet file of the rows sorted by id that fit the schema and
    pass the expectations (:mod:`captune.schemas.expectations`), rows whose media was left out of the
    shuffles given its bytes again (:func:`with_media`); yields its name,
    row count, sha256, size in bytes and validation summary, and a failure record per rejected row."""

    def __init__(self, out: str, folder: str, root: str | None = None):
        """``folder``: where the shards go, relative to the output folder ``out`` (``runs/…/data``);
        ``root``: the folder the rows' ``source_uri`` is written relative to (None: as matched)."""
        self.out, self.folder, self.root = out, folder, root
        self.seen = Metrics.counter(NAMESPACE, "rows_to_shards")

    def process(self, element):
        (split, index, count), rows = element
        rows = list(rows)
        self.seen.inc(len(rows))
        rows, missing = with_media(rows)
        rows = [dict(r, source_uri=relative_uri(r["source_uri"], self.root)) for r in rows]
        missing = [dict(m, source_uri=relative_uri(m["source_uri"], self.root)) for m in missing]
        for record in missing:
            yield beam.pvalue.TaggedOutput(FAILURES, record)
        table, invalid = validate_rows(sorted(rows, key=lambda r: r["id"]))
        table, rejected, validation = check_expectations(table)
        invalid += rejected
        for record in invalid:
            yield beam.pvalue.TaggedOutput(FAILURES, record)
        name = shard_name(split, index, count)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd", row_group_size=100)
        data = buffer.getvalue()
        with FileSystems.create(FileSystems.join(self.out, self.folder, name)) as fh:
            fh.write(data)
        yield {"file": f"{self.folder}/{name}", "split": split, "rows": table.num_rows, "captions": caption_counts(table),
               "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "validation": validation,
               "llm_errors": llm_errors(table), "source_ids": sorted(set(table.column("source_id").to_pylist()))}


def write_jsonl(path: str, records: list[dict], sort_key) -> None:
    """Write records as JSON lines, sorted, to a local or remote path."""
    with FileSystems.create(path) as fh:
        for record in sorted(records, key=sort_key):
            fh.write((json.dumps(record, sort_keys=True) + "\n").encode())


def run_id(patterns, seed, known=()) -> str:
    """A short id of what was asked for (patterns and seed) and, for an incremental run, of the
    source ids already in the output."""
    asked = [sorted(patterns), seed] + ([sorted(known)] if known else [])
    return hashlib.sha256(json.dumps(asked).encode()).hexdigest()[:12]
