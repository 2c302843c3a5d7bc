"""The dataset card ``OUT/README.md`` and its plots ``OUT/<run folder>/plots/*.png``.

The card is a Hugging Face dataset card: a YAML header (license, task and size categories, one
``default`` config whose ``data_files`` name exactly the committed train and test shards, ``dataset_info`` features
from the Arrow schema, split sizes), then how the data was built (versions, options, seed, sources),
tables of counts and distributions, plots and example rows. Everything in it comes from the shards
and the manifest without its timings, so the same build writes the same card and plots.
"""

import io
import json
import os
import re
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from captune.captioners.form import form_name
from captune.schemas.record import SCHEMA

TASK_CATEGORIES = ["text-to-audio", "text-generation"]
TAGS = ["music", "midi", "symbolic-music", "audio", "music-captioning", "captune"]
STAT_COLUMNS = ["id", "source_uri", "group_id", "split", "modality", "variant", "key", "tempo_bpm", "tempo_source",
                "time_signature", "duration_s", "instruments", "emotion_quadrant", "caption", "key_changes", "sections"]
EXAMPLE_COLUMNS = ("file", "duration_s", "key", "tempo_bpm", "time_signature", "caption")
SIZE_BOUNDS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
               (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` value for ``rows`` rows."""
    return next((name for bound, name in SIZE_BOUNDS if rows < bound), "1B<n<10B")


def read_stats(out: str, shards: list[dict]) -> pa.Table:
    """The columns the card summarises, from every shard listed in the manifest, sorted by id."""
    tables = []
    for shard in shards:
        with FileSystems.open(FileSystems.join(out, shard["file"]), compression_type="uncompressed") as fh:
            tables.append(pq.read_table(io.BytesIO(fh.read()), columns=STAT_COLUMNS))
    table = pa.concat_tables(tables) if tables else pa.schema([SCHEMA.field(c) for c in STAT_COLUMNS]).empty_table()
    return table.sort_by("id")


def data_files(manifest: dict) -> list[dict]:
    """The card's ``data_files``: per split, exactly the shards the manifest lists (sorted)."""
    splits = sorted({s["split"] for s in manifest["shards"]})
    return [{"split": split, "path": sorted(s["file"] for s in manifest["shards"] if s["split"] == split)}
            for split in splits]


def card_data(manifest: dict, license: str):
    """The YAML header as a ``huggingface_hub.DatasetCardData``."""
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.splits import SplitDict, SplitInfo
    from huggingface_hub import DatasetCardData

    from captune.schemas.loader import features

    splits = SplitDict()
    for split in sorted(manifest["counts"]["rows_by_split"]):
        listed = [s for s in manifest["shards"] if s["split"] == split]
        splits.add(SplitInfo(name=split, num_examples=sum(s["rows"] for s in listed),
                             num_bytes=sum(s.get("bytes", 0) for s in listed)))
    configs = [{"config_name": "default", "default": True, "data_files": data_files(manifest)}] if splits else None
    data = DatasetCardData(
        license=license, task_categories=TASK_CATEGORIES, tags=TAGS, pretty_name="captune dataset",
        size_categories=[size_category(manifest["counts"]["rows"])], configs=configs)
    size = sum(s.get("bytes", 0) for s in manifest["shards"])
    DatasetInfosDict({"default": DatasetInfo(features=features(), splits=splits, download_size=size,
                                             dataset_size=size)}).to_dataset_card_data(data)
    return data


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_MARKDOWN = re.compile(r"([\\`*\[\]#!|~])")  # emphasis, code, links and images, headings, tables


def plain(text: str) -> str:
    """Text without control characters (terminal escapes, bidirectional overrides, line breaks): each
    shown as ``\\xNN`` / ``\\uNNNN``."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def esc(text: str) -> str:
    """``text`` (a file name, a pattern, an option value) safe to put in the card's Markdown: control
    characters shown (:func:`plain`), HTML's ``& < >`` as entities, Markdown's punctuation escaped."""
    return _MARKDOWN.sub(r"\\\1", plain(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


class _Raw(str):
    """A table cell already escaped."""


class Code(str):
    """A table cell shown as inline code (a column name, a type, an id): backticks cannot end it early."""


def _cell(value) -> str:
    if isinstance(value, Code):
        return "`" + plain(value).replace("`", "'").replace("|", "\\|") + "`"
    text = "" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)
    return esc(text)


def relative_pattern(pattern: str, root: str | None) -> str:
    """An input pattern as the card shows it: relative to the dataset's root (``.`` for the root)."""
    if root is None:
        return pattern
    return "." if pattern.rstrip("/") == root else pattern[len(root) + 1:] if pattern.startswith(root + "/") else pattern


PATH_OPTIONS = ("soundfont", "essentia_models", "emotion_model", "llm_model", "llm_cache", "caption_examples",
                "llm_endpoint")  # the builder's local paths and URLs: kept in manifest.json, not in the card


def table_md(header: tuple, rows) -> str:
    """A Markdown table; every cell escaped (:func:`_cell`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(v if isinstance(v, _Raw) else _cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def distributions(stats: pa.Table) -> dict[str, Counter | list]:
    """Counters (keys, instruments, quadrants, modalities, forms, section counts) and value lists (tempo bpm, duration s,
    caption words) of the rows."""
    col = {c: stats.column(c).to_pylist() for c in STAT_COLUMNS}
    return {
        "keys": Counter(k or "none (drums only)" for k in col["key"]),
        "instruments": Counter(i for names in col["instruments"] for i in names or []),
        "quadrants": Counter("none (no emotion model)" if q is None else f"Q{q}" for q in col["emotion_quadrant"]),
        "modalities": Counter(col["modality"]),
        "variants": Counter(v["kind"] for v in col["variant"]),
        "tempo_bpm": [t for t in col["tempo_bpm"] if t is not None],
        "duration_s": [d for d in col["duration_s"] if d is not None],
        "caption_words": [len(c.split()) for c in col["caption"]],
        "forms": Counter(form_name(s) for s in col["sections"]),
        "section_counts": Counter(len(s) if s else 0 for s in col["sections"]),
        "modulating": sum(len(k or []) > 1 for k in col["key_changes"]),  # rows whose key changes
        "default_tempo": sum(s == "default" for s in col["tempo_source"]),  # MIDI writer's 120, not captioned
    }


PLOTS = {  # file name → (distribution, title, x label)
    "keys.png": ("keys", "Keys", "rows"),
    "instruments.png": ("instruments", "Instruments (top 20)", "rows"),
    "quadrants.png": ("quadrants", "Emotion quadrants", "rows"),
    "tempo.png": ("tempo_bpm", "Tempo", "quarter notes per minute"),
    "duration.png": ("duration_s", "Duration", "seconds"),
    "caption_length.png": ("caption_words", "Caption length", "words"),
}


def plot_png(values, title: str, xlabel: str) -> bytes:
    """A horizontal bar chart of a Counter or a histogram of numbers, as PNG bytes (no timestamp)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=80)
    ax = fig.add_subplot()
    if isinstance(values, Counter):
        items = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:20][::-1]
        ax.barh([k for k, _ in items], [v for _, v in items])
    else:
        ax.hist(values, bins=min(30, max(1, len(set(values)))))
    if not values:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _spread(values: list) -> str:
    if not values:
        return "no values"
    v = sorted(values)
    return f"min {v[0]:.1f}, median {v[len(v) // 2]:.1f}, max {v[-1]:.1f}"


def card_body(manifest: dict, stats: pa.Table, examples: list[dict]) -> str:
    """The Markdown below the YAML header."""
    c, d = manifest["counts"], distributions(stats)
    v = manifest.get("validation", {})
    options = {k: v for k, v in manifest["options"].items() if v not in (None, [], "")}
    parts = [
        "# captune dataset",
        f"Captioned music built by captune {manifest['pipeline_version']} "
        f"(record schema v{manifest['schema_version']}): one row per source item, audio clip and "
        "augmentation variant, with musical facts (key, chords, tempo, beats, meter, instruments, loudness, "
        "emotion), a MidiCaps-style caption and MusicBench-style control sentences.",
        "## Loading",
        "```python\nfrom datasets import load_dataset\nds = load_dataset(\"path/to/this/folder\")  # or the Hub repo id;"
        " the data_files above name the shards\n"
        "# or, with the schema version and the shards' sizes checked against manifest.json:\n"
        "from captune.schemas import load\nds = load(\"path/to/this/folder\", format=\"datasets\")\n```",
        "## How it was built",
        table_md(("", ""), [("captune", manifest["pipeline_version"]),
                            ("code", (manifest.get("recipe") or {}).get("code", "not recorded")),
                            ("schema version", manifest["schema_version"]),
                            ("run id", manifest["run_id"]), ("seed", manifest["seed"]),
                            ("sources", _Raw(", ".join(_cell(Code(relative_pattern(p, manifest.get("root"))))
                                                       for p in manifest["inputs"])))]),
        "Options:",
        table_md(("option", "value"), sorted((k, json.dumps(v)) for k, v in options.items()
                                             if k not in PATH_OPTIONS)),
        "## Counts",
        table_md(("", "count"), [("inputs", c["inputs"]), ("sources with rows", c["sources"]), ("rows", c["rows"]),
                                 *((f"rows in {s}", n) for s, n in c["rows_by_split"].items()),
                                 ("duplicates (identical files)", c["duplicates"]),
                                 ("near-duplicates dropped (--dedup near)", c["near_duplicates"]),
                                 ("failures", c["failures"]),
                                 *((f"failures: {r}", n) for r, n in c["failures_by_reason"].items())]),
        f"Validation (suite `{v.get('suite')}`): {v.get('rows', 0)} rows checked, {v.get('rejected', 0)} "
        "rejected to the failure list. Failed inputs are listed in "
        f"{_cell(Code(manifest.get('lists', {}).get('failures', 'failures/failures.jsonl')))}.",
        *groups_section(manifest.get("groups"), stats),
        "## Distributions",
        table_md(("", "values"), [("tempo (bpm)", _spread(d["tempo_bpm"])),
                                  ("duration (s)", _spread(d["duration_s"])),
                                  ("caption length (words)", _spread(d["caption_words"])),
                                  ("rows that change key (key_changes)", d["modulating"]),
                                  ("rows at a MIDI writer's default 120 bpm (tempo_source 'default', "
                                   "not in captions)", d["default_tempo"])]),
        table_md(("modality", "rows"), sorted(d["modalities"].items())),
        table_md(("variant", "rows"), sorted(d["variants"].items())),
        table_md(("key", "rows"), sorted(d["keys"].items(), key=lambda kv: (-kv[1], kv[0]))),
        table_md(("instrument", "rows"), sorted(d["instruments"].items(), key=lambda kv: (-kv[1], kv[0]))[:20]),
        table_md(("emotion quadrant", "rows"), sorted(d["quadrants"].items())),
        table_md(("form", "rows"), sorted(d["forms"].items(), key=lambda kv: (-kv[1], kv[0]))[:20]),
        table_md(("sections", "rows"), sorted(d["section_counts"].items())),
        "\n".join(f"![{title}]({manifest.get('run_dir', '.')}/plots/{name})" for name, (_, title, _) in PLOTS.items()),
        "## Example rows",
        table_md(EXAMPLE_COLUMNS, [[r[k] for k in EXAMPLE_COLUMNS] for r in examples]),
        "## Fields",
        table_md(("column", "type"), [(Code(f.name), Code(str(f.type))) for f in SCHEMA]),
    ]
    return "\n\n".join(parts) + "\n"


def groups_section(groups: dict | None, stats: pa.Table) -> list[str]:
    """The card's paragraphs on near-duplicate groups and how the split was drawn."""
    if not groups:
        return []
    first_file = {}
    for g, uri in sorted(zip(stats.column("group_id").to_pylist(), stats.column("source_uri").to_pylist())):
        first_file.setdefault(g, os.path.basename(uri))
    rule = {"group": "near-duplicate groups found from fingerprints (MinHash + LSH)",
            "content": "each distinct file", "folder": "the folder of each file"}.get(
        groups["split_by"], f"the match of {_cell(Code(groups['split_by']))} in each path")
    parts = ["## Groups and splits",
             f"The split is drawn per group, so every version, clip and variant of a piece lands in the same "
             f"split. Groups: {rule}; {groups['groups']} groups from {groups['sources']} sources."]
    if groups["largest"]:
        parts.append(table_md(("group", "sources", "a file in it"),
                              [(Code(g["group_id"][:12]), g["sources"], first_file.get(g["group_id"], ""))
                               for g in groups["largest"]]))
    return parts


def write_card(out: str, manifest: dict, license: str, n_examples: int = 3) -> None:
    """Write ``OUT/README.md`` (atomically) and the plots in the run's folder for the dataset the
    manifest describes; the examples are the ``n_examples`` rows of smallest id."""
    from huggingface_hub import DatasetCard

    from captune.pipelines.commit import atomic_write

    stats = read_stats(out, manifest["shards"])
    dist = distributions(stats)
    for name, (key, title, xlabel) in PLOTS.items():
        with FileSystems.create(FileSystems.join(out, manifest.get("run_dir", "."), "plots", name)) as fh:
            fh.write(plot_png(dist[key], title, xlabel))
    examples = [dict(r, file=os.path.basename(r["source_uri"])) for r in stats.slice(0, n_examples).to_pylist()]
    card = DatasetCard(f"---\n{card_data(manifest, license).to_yaml()}\n---\n\n{card_body(manifest, stats, examples)}")
    atomic_write(FileSystems.join(out, "README.md"), str(card).encode())
