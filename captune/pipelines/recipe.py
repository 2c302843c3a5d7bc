"""What made a dataset's rows: the code and the options that shape them, so a folder never mixes builds.

A manifest records ``recipe``: ``code``, a fingerprint of captune's own source (sha256 over the package's
``.py`` files, path and bytes, first 16 hex digits; ``pipeline_version`` names the release, which does not
change when an extractor does), ``libraries``, the installed versions of the packages the extractors,
augmentation and captioners compute with (:data:`LIBRARIES`: a new music21 parses scores anew), and
``options``, the values of :data:`ROW_OPTIONS`. An ``--incremental``
run adds rows only to a folder whose recipe equals its own (:func:`check_incremental`); otherwise the
new rows would be made by other code or settings than the old ones and the folder would mix two builds.
Options left out change how a build runs, not its rows: runners and workers, limits on time and memory
(an item over them is a failure record either way), shard size, progress, licence text.
"""

import argparse
import hashlib
import os
from functools import lru_cache
from importlib import metadata

import captune
from captune.pipelines.errors import UsageError

ROW_OPTIONS = (
    "seed", "max_duration", "max_recording_duration", "max_file_mb", "key_profile", "emotion_model",
    "test_fraction", "absolute_uris", "clip_seconds", "render_midi", "soundfont", "essentia_models",
    "augment", "pitch_shifts", "tempo_changes", "tempo_range", "volume_changes", "gain_range",
    "verify_augmentation", "split_by", "dedup", "captioner", "llm_model", "caption_style",
    "caption_examples", "llm_max_tokens",
)


# distribution names (the first installed of each entry) of what computes row contents
LIBRARIES = (("numpy",), ("scipy",), ("symusic",), ("music21",), ("essentia", "essentia-tensorflow"),
             ("pedalboard",), ("transformers",), ("torch",))


def library_versions() -> dict:
    """``{distribution: version}`` of :data:`LIBRARIES` (read from package metadata, nothing imported);
    a library that is not installed is left out."""
    found = {}
    for names in LIBRARIES:
        for name in names:
            try:
                found[names[0]] = metadata.version(name)
                break
            except metadata.PackageNotFoundError:
                continue
    return found


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 (first 16 hex digits) of every ``.py`` file of the installed captune package, by
    relative path and content: the same code gives the same fingerprint on any machine."""
    root = os.path.dirname(os.path.abspath(captune.__file__))
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, root).encode() + b"\0")
            with open(path, "rb") as fh:
                digest.update(fh.read() + b"\0")
    return digest.hexdigest()[:16]


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def recipe(opts: argparse.Namespace) -> dict:
    """``{code, libraries, options}`` of this build (JSON-ready: tuples as lists)."""
    return {"code": code_fingerprint(), "libraries": library_versions(),
            "options": {name: _plain(getattr(opts, name, None)) for name in ROW_OPTIONS}}


def check_incremental(manifest: dict | None, opts: argparse.Namespace) -> None:
    """Raise :class:`UsageError` when an ``--incremental`` run would add rows made by another recipe than
    the committed ``manifest``'s (None: an empty folder, nothing to mix with)."""
    if manifest is None:
        return
    theirs, ours = manifest.get("recipe"), recipe(opts)
    if theirs is None:
        differences = ["the folder records no recipe: it was built before captune recorded one"]
    else:
        differences = [f"captune code {theirs.get('code')} there, {ours['code']} here"] \
            if theirs.get("code") != ours["code"] else []
        libraries = theirs.get("libraries", {})
        differences += [f"{name} {libraries.get(name, 'absent')} there, {ours['libraries'].get(name, 'absent')} here"
                        for name in sorted(set(libraries) | set(ours["libraries"]))
                        if libraries.get(name) != ours["libraries"].get(name)]
        options = theirs.get("options", {})
        differences += [f"--{name.replace('_', '-')} {options.get(name)!r} there, {value!r} here"
                        for name, value in ours["options"].items() if options.get(name) != value]
    if differences:
        raise UsageError("--incremental: the new rows would not be made as the folder's were ("
                         + "; ".join(differences) + "), and one dataset would mix two builds. Build into a new "
                         "folder, or rebuild this one without --incremental.")
