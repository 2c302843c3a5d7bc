"""The composite transforms of a build: match, read, deduplicate, analyse, write.

Every DoFn catches per element and sends a failure record
``{source_uri, source_id, stage, reason, detail}`` to the ``failures`` output.
"""

import glob
import hashlib
import json
import logging
import os
import pickle
import re
import tempfile
import threading
from collections import Counter

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from captune import items
from captune.extractors import BadInput, modality_of
from captune.pipelines import console, helper, worker_files
from captune.pipelines.commit import is_local
from captune.pipelines.options import caption_examples
from captune.pipelines.isolation import Isolated, ItemTimeout, ItemTooLarge, WorkerCrashed
from captune.pipelines.grouping import forced_group, keep_one
from captune.pipelines.rows import part_rows, processed_rows, source_id, split_of
from captune.schemas import SCHEMA, to_table
from captune.schemas.expectations import SUITE_NAME

FAILURES = "failures"
MEDIA_FROM = "_media_from"  # {uri, sha256} of a row's media bytes left out of the shuffles (see WriteShard)
STAGE_BYTES = 64 * 1024  # generated media over this size (audio clips, renderings) is staged as a file
NAMESPACE = "captune"
ROW_GROUP_ROWS = 100  # rows per Parquet row group: the shard writer holds at most this many rows' media
CHECK_ROWS = 2000  # rows validated at once by the shard writer (their facts only, media read after): a default shard
VALIDATING = threading.Lock()  # great_expectations' context is one per process, not made for threads (threaded runners)


def failure(uri: str, stage: str, reason: str, detail: str, source: str | None = None) -> dict:
    """A failure record."""
    return {"source_uri": uri, "source_id": source, "stage": stage, "reason": reason, "detail": detail}


def pack(row: dict) -> tuple:
    """A row as the analysis emits it: ``(item, (id, group_id, pickled row))``, ``item`` the key its group
    is joined on: the group it was made with, its source id (a tune of a book: the tune's,
    :func:`captune.pipelines.rows.tune_group`). The steps between the analysis and the shard writer read
    the ids only, so the row's facts are pickled once and unpickled once (by :class:`WriteShard`), not
    encoded and decoded by the runner at every step."""
    return row["group_id"], (row["id"], row["group_id"], pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL))


def unpack(grouped: tuple) -> dict:
    """The row of a :class:`SetGroup` output ``(id, group_id, split, pickled row)``, with that group and split."""
    _, group, split, blob = grouped
    return {**pickle.loads(blob), "group_id": group, "split": split}


def repack(row: dict) -> tuple:
    """A row as :class:`SetGroup` emits it (the inverse of :func:`unpack`)."""
    return row["id"], row["group_id"], row["split"], pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL)


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
    again by :class:`KeepFirstCopy`, so the copy grouping shuffles no file contents. ``progress``: the
    local folder where a refused file is noted as done (:func:`console.note`), as the analysis notes
    the others."""

    def __init__(self, max_bytes: int, progress: str | None = None):
        self.max_bytes, self.progress = max_bytes, progress
        self.read = Metrics.counter(NAMESPACE, "files_read")

    def process(self, path):
        try:
            with FileSystems.open(fs_path(path), compression_type="uncompressed") as fh:
                data = fh.read(self.max_bytes + 1)
        except Exception as exc:  # directories, permissions, vanished files, network errors
            reason = "is_directory" if isinstance(exc, IsADirectoryError) or os.path.isdir(fs_path(path)) else "read_error"
            console.note(self.progress, 0, 1)
            yield beam.pvalue.TaggedOutput(FAILURES, failure(path, "read", reason, f"{type(exc).__name__}: {exc}"))
            return
        if len(data) > self.max_bytes:
            console.note(self.progress, 0, 1)
            yield beam.pvalue.TaggedOutput(
                FAILURES, failure(path, "read", "too_large", f"over the {self.max_bytes} byte limit"))
            return
        self.read.inc()
        yield source_id(data), (path, len(data))   # KeepFirstCopy reads the chosen copy again: no bytes in the shuffle


class SkipKnown(beam.DoFn):
    """(source_id, (path, size)) → itself when the source is new to the output folder (``--incremental``).
    A known source goes to the ``skipped`` output as its path and, when that path is not recorded in the
    folder yet, to the ``duplicates`` output as ``{source_uri, source_id, duplicate_of}``."""

    def __init__(self, known: dict, recorded: frozenset, root: str | None = None, progress: str | None = None):
        """``known``: source id → its uri in the folder; ``recorded``: every uri the folder lists (relative
        to ``root``, :func:`relative_uri`); ``progress``: where a skipped file is noted as done."""
        self.known, self.recorded, self.root, self.progress = known, recorded, root, progress

    def process(self, item):
        source, (path, _) = item
        if source not in self.known:
            yield item
            return
        console.note(self.progress, 0, 0)
        yield beam.pvalue.TaggedOutput("skipped", path)
        if relative_uri(path, self.root) not in self.recorded:
            yield beam.pvalue.TaggedOutput("duplicates", {"source_uri": path, "source_id": source,
                                                          "duplicate_of": self.known[source]})


class KeepFirstCopy(beam.DoFn):
    """(source_id, [(path, size), …]) → (path, source_id, bytes) of the copy with the smallest path, read
    again and checked against the source id (else a ``read`` failure); the rest
    go to the ``duplicates`` output as ``{source_uri, source_id, duplicate_of}``. ``progress``: where the
    duplicates and a copy that cannot be read again are noted as done."""

    def __init__(self, progress: str | None = None):
        self.progress = progress

    def process(self, element):
        source, copies = element
        copies = sorted(copies, key=lambda c: c[0])
        (path, size), rest = copies[0], copies[1:]
        for dup_path, _ in rest:
            console.note(self.progress, 0, 0)
            yield beam.pvalue.TaggedOutput("duplicates", {"source_uri": dup_path, "source_id": source,
                                                          "duplicate_of": path})
        try:
            with FileSystems.open(fs_path(path), compression_type="uncompressed") as fh:
                data = fh.read(size + 1)
        except Exception as exc:  # vanished since it was hashed, permissions, network errors
            console.note(self.progress, 0, 1)
            yield beam.pvalue.TaggedOutput(FAILURES, failure(path, "read", "read_error", f"{type(exc).__name__}: {exc}"))
            return
        if source_id(data) != source:
            console.note(self.progress, 0, 1)
            yield beam.pvalue.TaggedOutput(FAILURES, failure(path, "read", "changed", "the file changed during the build"))
            return
        yield path, source, data


class _Isolated(beam.DoFn):
    """Base of the DoFns that analyse and caption in an isolated child process (:func:`processed_rows`,
    :func:`part_rows`: :mod:`captune.items` and the rows with their template captions)
    with a CPU-time limit (``timeout_s`` CPU seconds per ordinary item, scaled by the call's amount of
    work; 0: in this process, no limits) and a memory limit (``memory_mb``, MiB), and pass the rows on;
    ``progress``: a local folder where each file is noted (:func:`console.note`)."""

    FN = None  # the function the child calls

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

    def make_rows(self, rows: list[dict], data: bytes | None = None) -> list[tuple]:
        """The rows the child made for a file or a clip (:func:`pack`), their media bytes left out of the
        shuffles: a row whose media is the source file (``data``) points at ``source_uri``, generated
        media over :data:`STAGE_BYTES` is written to the staging folder; :func:`with_media` puts the
        bytes back."""
        for row in rows:
            media = row["media"]["bytes"]
            if data is not None and media == data:
                row[MEDIA_FROM] = {"uri": row["source_uri"], "sha256": row["source_id"]}
            elif len(media) > STAGE_BYTES:
                uri = FileSystems.join(self.staging, f"{row['id']}{os.path.splitext(row['media']['path'])[1]}")
                with FileSystems.create(uri, compression_type="uncompressed") as fh:
                    fh.write(media)
                row[MEDIA_FROM] = {"uri": uri, "sha256": hashlib.sha256(media).hexdigest()}
            else:
                continue
            row["media"] = {**row["media"], "bytes": None}
        self.rows.inc(len(rows))
        return [pack(row) for row in rows]


class AnalyzeAndCaption(_Isolated):
    """(path, source_id, bytes) → its rows (:func:`processed_rows`: units, their variants and captions), and
    to the ``sources`` output one ``(source_id, {source_uri, duration_s, fingerprint})`` per file, which
    the near-duplicate grouping reads. A recording cut into clips or an ABC tune book gives no rows
    here but one ``(path, source_id, modality, part, fingerprint)`` per clip or tune to the ``parts``
    output, for :class:`AnalyzePart`."""

    FN = processed_rows

    def process(self, item):
        path, source, data = item
        work = items.work_factor(path, len(data), self.settings)
        processed, record = self.attempt(path, source, None, lambda: self.call(
            data, path, source, self.test_fraction, self.musicbench_captions, work=work))
        if record is not None:
            console.note(self.progress, 0, 1)
            yield beam.pvalue.TaggedOutput(FAILURES, record)
            return
        yield beam.pvalue.TaggedOutput("sources", (source, {
            "source_uri": path, "duration_s": processed["duration_s"], "fingerprint": processed["fingerprint"]}))
        for part in processed["parts"]:
            yield beam.pvalue.TaggedOutput("parts", (path, source, processed["modality"], part,
                                                     processed["fingerprint"]))
        rows = self.make_rows(processed["rows"], data)
        console.note(self.progress, len(rows), 0, parts=len(processed["parts"]))
        yield from rows


class AnalyzePart(_Isolated):
    """(path, source_id, modality, part, fingerprint) → the rows of a clip or a tune
    (:func:`part_rows`), and for a tune one ``(tune key, {source_uri, duration_s, fingerprint})`` to the
    ``tunes`` output (its key: the group its rows were made with), so the near-duplicate grouping
    reads each tune as an item of its own. A part that cannot be analysed gives one failure record of
    stage ``clip`` or ``piece`` (its rows only: the file stays a source with its other parts)."""

    FN = part_rows

    def process(self, element):
        path, source, modality, part, fingerprint = element
        rows, record = self.attempt(path, source, part["kind"], lambda: self.call(
            part, path, source, modality, fingerprint, self.test_fraction, self.musicbench_captions,
            work=items.part_work(part, path, self.settings)))
        if record is not None:
            record["detail"] = f"{items.part_label(part)}: {record['detail']}"
            console.note(self.progress, 0, 1, part=True)
            yield beam.pvalue.TaggedOutput(FAILURES, record)
            return
        if part["kind"] == "piece" and rows:
            first = rows[0]
            yield beam.pvalue.TaggedOutput("tunes", (first["group_id"], {
                "source_uri": path, "duration_s": first["duration_s"], "fingerprint": first["fingerprint"]}))
        rows = self.make_rows(rows)
        console.note(self.progress, len(rows), 0, part=True)
        yield from rows


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
    """(item, {rows: [(id, group_id, pickled row), …], group: [group_id] or [], dropped: [True] or []})
    (a CoGroupByKey of the packed rows, the item's group and ``--dedup near``'s drops; ``item``: a source
    id, or a tune's key, :func:`captune.pipelines.rows.tune_group`) → ``(id, group_id, split, pickled
    row)`` per row, the split drawn from the group; an item in a group of its own keeps the group its
    rows were made with (its own id or key). Rows of sources dropped as near-duplicates are not
    emitted (their files are listed once, by :class:`KeepOnePerGroup`); their ids go to the ``dropped``
    output, which the run's row count reads. Holds one source's packed rows."""

    def __init__(self, test_fraction: float):
        self.test_fraction = test_fraction
        self.seen = Metrics.counter(NAMESPACE, "rows_grouped")
        self.dropped = Metrics.counter(NAMESPACE, "rows_near_duplicate")

    def process(self, joined):
        source, sides = joined
        rows = list(sides["rows"])
        self.seen.inc(len(rows))
        if any(sides["dropped"]):
            self.dropped.inc(len(rows))
            yield from (beam.pvalue.TaggedOutput("dropped", rid) for rid, _, _ in rows)
            return
        found = list(sides["group"])
        group = found[0] if found else source
        for rid, made_with, blob in rows:
            row_group = made_with if group == source else group
            yield rid, row_group, split_of(row_group, self.test_fraction), blob


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
    """[row, …] (a batch of :class:`SetGroup` outputs) → the same rows (packed again), each with an LLM caption that passed the fact check or its
    template caption, and ``caption_source`` / ``caption_check`` set. The model or client is made once
    per worker (``setup``); whatever goes wrong, every row comes out."""

    def __init__(self, settings: dict):
        self.settings = settings
        self.counters = {s: Metrics.counter(NAMESPACE, f"captions_{s}") for s in ("accepted", "retried", "fallback")}

    def setup(self):
        self._captioner = make_captioner(self.settings)

    def process(self, batch):
        rows = [unpack(r) for r in batch]
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
            yield repack(row)


CAPTION_STATUSES = ("accepted", "retried", "fallback", "template")


def caption_counts(table) -> dict:
    """``{accepted, retried, fallback, template}`` counts of a shard's ``caption_check`` statuses."""
    counts = Counter(s for s in table.column("caption_check").combine_chunks().field("status").to_pylist())
    return {k: counts.get(k, 0) for k in CAPTION_STATUSES}


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
    """(id, group_id, split, pickled row) → ((split, shard index, shard count), the same); shards are
    drawn from the row id so the same rows land in the same files every run."""

    def __init__(self, rows_per_shard: int):
        self.rows_per_shard = rows_per_shard

    def process(self, grouped, split_sizes):
        rid, _, split, _ = grouped
        count = max(1, -(-split_sizes[split] // self.rows_per_shard))
        yield (split, int(rid[:15], 16) % count, count), grouped


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
    with VALIDATING:
        report = helper.call("validate_table", table) if table.num_rows else {"failed": {}, "bad_rows": {}}
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


class HashingSink:
    """A write-only file object for :class:`pyarrow.parquet.ParquetWriter` that passes the bytes on to
    ``fh`` and keeps their sha256 and count, so a shard is never held whole nor read back."""

    closed = False

    def __init__(self, fh):
        self.fh, self.sha256, self.size = fh, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.sha256.update(data)
        self.size += len(data)
        self.fh.write(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.fh.flush()

    def close(self) -> None:
        self.closed = True  # the stream is FileSystems', closed by its own context


class WriteShard(beam.DoFn):
    """((split, index, count), [(id, group_id, split, pickled row), …]) → a Parquet file of the rows sorted
    by id that fit the schema and pass the expectations (:mod:`captune.schemas.expectations`); yields
    its name, row count, sha256, size in bytes and validation summary, and a failure record per
    rejected row.

    Memory is bounded by :data:`CHECK_ROWS` rows without their media and :data:`ROW_GROUP_ROWS` rows
    with it, not by the shard: the rows are spooled to a local temporary file as they arrive (only
    their ids and offsets stay in memory), read back in id order :data:`CHECK_ROWS` at a time and
    validated, then the accepted rows whose media was left out of the shuffles get it back one row at a
    time (:func:`with_media`) and are streamed into Parquet row groups of :data:`ROW_GROUP_ROWS` rows.
    The bytes are those of one ``pyarrow.parquet.write_table(rows, row_group_size=ROW_GROUP_ROWS)``."""

    def __init__(self, out: str, folder: str, root: str | None = None):
        """``folder``: where the shards go, relative to the output folder ``out`` (``runs/…/data``);
        ``root``: the folder the rows' ``source_uri`` is written relative to (None: as matched)."""
        self.out, self.folder, self.root = out, folder, root
        self.seen = Metrics.counter(NAMESPACE, "rows_to_shards")

    def process(self, element):
        (split, index, count), grouped = element
        name = shard_name(split, index, count)
        with tempfile.TemporaryFile(prefix="captune-shard-") as spool:
            entries = _spool(grouped, spool)
            self.seen.inc(len(entries))
            with FileSystems.create(FileSystems.join(self.out, self.folder, name)) as fh:
                sink = HashingSink(fh)
                with pq.ParquetWriter(sink, SCHEMA, compression="zstd") as writer:
                    stats = yield from self._write(entries, spool, writer)
        yield {"file": f"{self.folder}/{name}", "split": split, **stats, "sha256": sink.sha256.hexdigest(),
               "bytes": sink.size}

    def _write(self, entries: list, spool, writer):
        """Validate and write the spooled rows (see the class doc); yields the failure records and returns
        ``{rows, captions, validation, llm_errors, source_ids}``."""
        validation = {"suite": SUITE_NAME, "rows": 0, "rejected": 0, "failed": Counter()}
        captions, errors, sources, written = Counter(), set(), set(), 0
        pending = []  # accepted rows with their media, not yet a whole row group
        for start in range(0, len(entries), CHECK_ROWS):
            rows = [self._load(spool, entry) for entry in entries[start:start + CHECK_ROWS]]
            origins = {r["id"]: r[MEDIA_FROM] for r in rows if MEDIA_FROM in r}
            table, invalid = validate_rows(rows)
            del rows
            table, rejected, summary = check_expectations(table)
            yield from (beam.pvalue.TaggedOutput(FAILURES, r) for r in invalid + rejected)
            validation["rows"] += summary["rows"]
            validation["rejected"] += summary["rejected"]
            validation["failed"].update(summary["failed"])
            for at in range(0, table.num_rows, ROW_GROUP_ROWS):
                group, missing = _with_media_column(table.slice(at, ROW_GROUP_ROWS), origins)
                yield from (beam.pvalue.TaggedOutput(FAILURES, r) for r in missing)
                captions.update(caption_counts(group))
                errors.update(llm_errors(group))
                sources.update(group.column("source_id").to_pylist())
                pending.append(group)
                ready = pa.concat_tables(pending)
                while ready.num_rows >= ROW_GROUP_ROWS:
                    writer.write_table(ready.slice(0, ROW_GROUP_ROWS), row_group_size=ROW_GROUP_ROWS)
                    written += ROW_GROUP_ROWS
                    ready = ready.slice(ROW_GROUP_ROWS)
                pending = [ready]
        rest = pa.concat_tables(pending) if pending else SCHEMA.empty_table()
        if rest.num_rows or not written:  # an empty shard is one empty row group, as write_table makes it
            writer.write_table(rest, row_group_size=ROW_GROUP_ROWS)
            written += rest.num_rows
        validation["failed"] = dict(sorted(validation["failed"].items()))
        return {"rows": written, "captions": {k: captions.get(k, 0) for k in CAPTION_STATUSES},
                "validation": validation, "llm_errors": sorted(errors)[:5], "source_ids": sorted(sources)}

    def _load(self, spool, entry) -> dict:
        """One spooled row, with its group, split and ``source_uri`` relative to the root."""
        rid, offset, size, group, split = entry
        spool.seek(offset)
        row = pickle.loads(spool.read(size))
        return {**row, "group_id": group, "split": split, "source_uri": relative_uri(row["source_uri"], self.root)}


def _spool(grouped, spool) -> list[tuple]:
    """Write each pickled row to ``spool`` as it comes; ``[(id, offset, size, group_id, split)]`` sorted by id."""
    entries = []
    for rid, group, split, blob in grouped:
        entries.append((rid, spool.tell(), len(blob), group, split))
        spool.write(blob)
    return sorted(entries)


def _with_media_column(table, origins: dict):
    """(``table`` with the media of its rows named in ``origins`` (id → :data:`MEDIA_FROM`) read back one
    row at a time, those whose media cannot be read back left out, their failure records)."""
    ids = table.column("id").to_pylist()
    if not any(rid in origins for rid in ids):
        return table, []
    media, keep, missing = table.column("media").to_pylist(), [], []
    uris, sources = table.column("source_uri").to_pylist(), table.column("source_id").to_pylist()
    for i, rid in enumerate(ids):
        found = [{}]
        if rid in origins:
            found, bad = with_media([{"source_uri": uris[i], "source_id": sources[i], "media": media[i],
                                      MEDIA_FROM: origins[rid]}])
            missing += bad
            media[i] = found[0]["media"] if found else media[i]
        keep.append(bool(found))
    column = table.schema.get_field_index("media")
    table = table.set_column(column, table.schema.field(column), pa.array(media, type=table.schema.field(column).type))
    return table.filter(pa.array(keep)), missing


class Summary(beam.CombineFn):
    """``(name, value)`` elements → one ``{name: …}`` for the run's manifest, in one combining step
    instead of one per figure: a list of the values of each of :data:`LISTS` (failure and duplicate
    records, the shards written), the number of elements of each of :data:`COUNTS`, and under
    ``largest`` the at most :data:`LARGEST` ``(group_id, sources)`` of the groups with more than one
    source, largest first (ties: the greater id first). Every name is present, empty or 0 when
    nothing came. Holds the lists (small: one record per failure, duplicate or shard) and
    :data:`LARGEST` groups, not a value per counted element."""

    LISTS = ("failures", "duplicates", "near_duplicates", "shards")
    COUNTS = ("paths", "unmatched", "skipped", "sources", "groups", "rows_made", "rows_dropped")
    LARGEST = 10

    def create_accumulator(self):
        return {**{n: [] for n in self.LISTS}, **dict.fromkeys(self.COUNTS, 0), "largest": []}

    def add_input(self, acc, element):
        name, value = element
        if name in self.COUNTS:
            acc[name] += 1
        elif name == "largest":
            acc[name] = self._top(acc[name] + [value] if value[1] > 1 else acc[name])
        else:
            acc[name].append(value)
        return acc

    def merge_accumulators(self, accumulators):
        out = self.create_accumulator()
        for acc in accumulators:
            for name in self.LISTS:
                out[name].extend(acc[name])
            for name in self.COUNTS:
                out[name] += acc[name]
            out["largest"] = self._top(out["largest"] + acc["largest"])
        return out

    def extract_output(self, acc):
        return acc

    def _top(self, groups: list) -> list:
        return sorted(groups, key=lambda kv: (kv[1], kv[0]), reverse=True)[:self.LARGEST]


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
