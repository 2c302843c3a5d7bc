"""Identity, split and assembly of one output row. Pure functions, no Beam.

- ``source_id``: sha256 hex of the input bytes;
- ``id``: sha256 hex of ``source_id`` + the variant spec (canonical JSON);
- ``split``: ``test`` for a deterministic ``test_fraction`` of groups, drawn from
  sha256 of the ``group_id`` (not the seed), so a source keeps its split across
  runs, seeds and added inputs;
- captions draw from a generator seeded by (seed, id).
"""

import hashlib
import json
import os

import numpy as np

import captune
from captune import captioners
from captune.schemas import SCHEMA_VERSION

ORIGINAL = {"kind": "original", "semitones": None, "tempo_ratio": None,
            "gain_start": None, "gain_end": None, "change_at_s": None}


def source_id(data: bytes) -> str:
    """sha256 hex digest of the input bytes."""
    return hashlib.sha256(data).hexdigest()


def row_id(source: str, variant: dict) -> str:
    """Stable id of (source, variant)."""
    spec = json.dumps(variant, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{source}:{spec}".encode()).hexdigest()


def split_of(group_id: str, test_fraction: float) -> str:
    """``'test'`` or ``'train'``, drawn from the hash of ``group_id``."""
    draw = int(hashlib.sha256(group_id.encode()).hexdigest()[:15], 16) / 16 ** 15
    return "test" if draw < test_fraction else "train"


def rng_for(seed: int, rid: str) -> np.random.Generator:
    """The generator for every random choice made for row ``rid`` under ``seed``."""
    return np.random.default_rng([seed, int(rid[:16], 16)])


def make_row(uri: str, source: str, data: bytes, facts: dict, *, seed: int, test_fraction: float,
             variant: dict = ORIGINAL) -> dict:
    """A complete record: ids, split, media, facts, captions and versions."""
    rid = row_id(source, variant)
    row = {
        "id": rid, "source_id": source, "source_uri": uri, "group_id": source,
        "split": split_of(source, test_fraction), "variant": dict(variant),
        "media": {"bytes": data, "path": os.path.basename(uri)},
        **facts,
    }
    row["caption"] = captioners.caption(row, rng_for(seed, rid))
    row["caption_source"] = "template"
    row["caption_check"] = {"status": "template", "problems": [], "attempts": 0}
    row["control_sentences"] = captioners.control_sentences(row)
    row["pipeline_version"] = captune.__version__
    row["schema_version"] = SCHEMA_VERSION
    return row
