"""Identity, split and assembly of one output row. Pure functions, no Beam.

- ``source_id``: sha256 hex of the input bytes;
- ``id``: sha256 hex of ``source_id`` + the variant spec (canonical JSON, with the clip
  offset for audio clips and the tune's place for a tune of an ABC book);
- ``group_id`` starts as the source's own id, or for a tune of an ABC book as the
  tune's own group, ``tune_group(source_id, index)``: the tunes of a book are
  different pieces, so each draws its split (unless ``--split-by`` forces the
  book into a group);
- ``split``: ``test`` for a deterministic ``test_fraction`` of groups, drawn from
  sha256 of the ``group_id`` (not the seed), so a source keeps its split across
  runs, seeds and added inputs;
- captions draw from a generator seeded by (seed, id).
"""

import hashlib
import json

import numpy as np

import captune
from captune import captioners, items
from captune.captioners.control import musicbench_controls
from captune.captioners.form import segment_captions
from captune.augment.plan import ORIGINAL
from captune.schemas import SCHEMA_VERSION



def source_id(data: bytes) -> str:
    """sha256 hex digest of the input bytes."""
    return hashlib.sha256(data).hexdigest()


def row_id(source: str, variant: dict, clip_start_s: float | None = None, piece: int | None = None) -> str:
    """Stable id of (source, variant[, clip offset in seconds][, tune index in a book])."""
    spec = dict(variant)
    if clip_start_s is not None:
        spec["clip_start_s"] = clip_start_s
    if piece is not None:
        spec["piece"] = piece
    spec = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{source}:{spec}".encode()).hexdigest()


def tune_group(source: str, piece: int) -> str:
    """The group of the tune at ``piece`` (from 0) in the ABC book ``source``: sha256 hex of ``source#piece``."""
    return hashlib.sha256(f"{source}#{piece}".encode()).hexdigest()


def split_of(group_id: str, test_fraction: float) -> str:
    """``'test'`` or ``'train'``, drawn from the hash of ``group_id``."""
    draw = int(hashlib.sha256(group_id.encode()).hexdigest()[:15], 16) / 16 ** 15
    return "test" if draw < test_fraction else "train"


def rng_for(seed: int, rid: str) -> np.random.Generator:
    """The generator for every random choice made for row ``rid`` under ``seed``."""
    return np.random.default_rng([seed, int(rid[:16], 16)])


def make_row(uri: str, source: str, facts: dict, *, media: dict, seed: int, test_fraction: float,
             variant: dict = ORIGINAL, clip_start_s: float | None = None, augmentation_check: dict | None = None,
             fingerprint: list[int] | None = None, musicbench_captions: bool = False,
             piece: int | None = None) -> dict:
    """A complete record: ids, split, media, facts (``modality`` included), captions and versions.

    ``group_id`` starts as ``source`` (a tune's: :func:`tune_group`) and ``split`` is drawn from it; the
    build replaces both once the near-duplicate groups are known. ``musicbench_captions``: append
    control sentences to the caption by MusicBench's rule
    (:func:`captune.captioners.control.musicbench_controls`), as augmented datasets do. ``piece``: a
    tune's place in its ABC book, which enters the id.
    """
    rid = row_id(source, variant, clip_start_s, piece)
    group = source if piece is None else tune_group(source, piece)
    row = {
        "id": rid, "source_id": source, "source_uri": uri, "group_id": group, "fingerprint": fingerprint,
        "split": split_of(group, test_fraction), "variant": dict(variant),
        "augmentation_check": augmentation_check, "media": media, "clip_start_s": clip_start_s,
        **facts,
    }
    rng = rng_for(seed, rid)
    row["caption"] = captioners.caption(row, rng)
    row["control_sentences"] = captioners.control_sentences(row)
    row["segment_captions"] = segment_captions(row)
    if musicbench_captions:
        row["caption"] = " ".join([row["caption"], *musicbench_controls(row["control_sentences"], rng)])
    row["caption_source"] = "template"
    row["caption_check"] = {"status": "template", "problems": [], "attempts": 0}
    row["pipeline_version"] = captune.__version__
    row["schema_version"] = SCHEMA_VERSION
    return row


def item_rows(uri: str, source: str, item: dict, *, seed: int, test_fraction: float,
              musicbench_captions: bool = False) -> list[dict]:
    """The rows of one processed file (:func:`captune.items.process`)."""
    return [make_row(uri, source, {"modality": item["modality"], **u["facts"]}, media=u["media"], seed=seed,
                     test_fraction=test_fraction, variant=u["variant"], clip_start_s=u["clip_start_s"],
                     augmentation_check=u["augmentation_check"], fingerprint=u.get("fingerprint", item["fingerprint"]),
                     musicbench_captions=musicbench_captions, piece=u.get("piece"))
            for u in item["units"]]


def processed_rows(data: bytes, uri: str, source: str, test_fraction: float, musicbench_captions: bool,
                   settings) -> dict:
    """:func:`captune.items.process` and the rows of its units (:func:`item_rows`) in one call, so the
    analysis child captions too: the item with ``rows`` in place of ``units``."""
    item = items.process(data, uri, source, settings)
    rows = item_rows(uri, source, item, seed=settings.seed, test_fraction=test_fraction,
                     musicbench_captions=musicbench_captions)
    return {**{k: v for k, v in item.items() if k != "units"}, "rows": rows}


def part_rows(part: dict, uri: str, source: str, modality: str, fingerprint, test_fraction: float,
              musicbench_captions: bool, settings) -> list[dict]:
    """The rows of a clip or a tune (:func:`captune.items.part_units`) of the file ``uri``."""
    units = items.part_units(part, uri, source, settings)
    return item_rows(uri, source, {"modality": modality, "fingerprint": fingerprint, "units": units},
                     seed=settings.seed, test_fraction=test_fraction, musicbench_captions=musicbench_captions)
