"""Near-duplicate groups: LSH buckets in Beam, connected components, forced groups, dedup.

Conventions: items are ``(source_id, signature)`` with signatures from
:mod:`captune.extractors.fingerprint` (``[]`` or None: no fingerprint). A group
id is the smallest ``source_id`` of its group (deterministic, and equal to the
item's own ``source_id`` for an item with no near-duplicate, the schema's
default).

:class:`GroupNearDuplicates`, (source_id, signature) → (source_id, group_id):

1. ``SameSignature``: items with identical signatures (re-encodings, most
   POP909 versions) are joined at once and only the smallest source_id of each
   goes on; an item without a signature (or with one that does not split into
   ``bands``) keeps its own id. ``BandKeys``: each remaining signature gives
   ``bands`` LSH keys (:func:`~captune.extractors.fingerprint.band_keys`).
2. ``Buckets`` (GroupByKey on the key): items sharing a band are candidates.
   A pair is verified in one bucket only, that of the first band the two share
   (so no pair is compared or emitted twice), and becomes an edge when
   :func:`~captune.extractors.fingerprint.similarity` >= ``threshold``. No
   all-pairs comparison: the work is the sum over buckets of size², and a
   bucket over ``max_bucket`` members is skipped (counted in
   ``oversized_buckets``): a band shared by that many items is a degenerate
   fingerprint (a constant line), and true near-duplicates share many other
   bands (at s = 0.5 and r = 2 rows per band, 16 of 64 bands on average), so
   skipping it loses nothing real while capping the work at ``max_bucket``²
   per bucket. Pairs whose first shared band sat in a skipped bucket are
   verified in their next shared band.
3. ``Components``: the edges (from LSH and identical signatures) are collected
   on one worker and joined by union-find (:func:`components`). This scales
   because edges are few: one per verified near-duplicate pair, a few per item at
   most (POP909's 2,898 files give about 2,300); a million edges are tens of MB
   and a second of union-find. The result (only items that have a near-duplicate)
   is a side input of ``AssignGroup``.

Counters (namespace ``captune``): ``identical_signature_items``,
``lsh_candidate_pairs``, ``near_duplicate_edges`` (from LSH), ``oversized_buckets``,
``unfingerprinted_items``.

Pure helpers: :func:`components`, :func:`forced_group` (``--split-by``),
:func:`keep_one` (``--dedup near``).
"""

import functools
import posixpath
import re

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from captune.extractors.errors import BadInput
from captune.extractors.fingerprint import BANDS, THRESHOLD, band_keys

NAMESPACE = "captune"   # the counters' namespace of every captune transform
MAX_BUCKET = 1000
_PAIR_CHUNK = 4096   # pairs compared at once (bounds memory to ~0.5 MB x hashes)


def components(nodes, edges) -> dict:
    """``{node: group}`` for every node of ``nodes`` and of ``edges`` (pairs); a group is
    the smallest node of its connected component (union-find with path halving)."""
    parent = {node: node for node in nodes}
    for a, b in edges:
        parent.setdefault(a, a)
        parent.setdefault(b, b)

    def root(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)   # the smaller root wins: roots are component minima
    return {node: root(node) for node in parent}


def _packed(item, bands: int):
    """(signature as int64 bytes, source_id) of an item whose signature splits into ``bands``; else nothing."""
    source, signature = item
    if signature is None or not len(signature) or len(signature) % bands:
        Metrics.counter(NAMESPACE, "unfingerprinted_items").inc()
        return
    yield np.asarray(signature, dtype="<i8").tobytes(), source   # bytes cross a shuffle 2x faster than lists


def _representative(same):
    """One (source_id, packed signature) per distinct signature: the smallest source_id."""
    packed, sources = same
    return min(sources), packed


def _copy_edges(same):
    """Edges from the representative to the other items of an identical signature."""
    _, sources = same
    sources = sorted(set(sources))
    Metrics.counter(NAMESPACE, "identical_signature_items").inc(len(sources) - 1)
    return [(sources[0], other) for other in sources[1:]]


def _band_entries(item, bands: int):
    """(band key, (source_id, packed signature)) for each band of a representative."""
    source, packed = item
    for key in band_keys(np.frombuffer(packed, dtype="<i8"), bands):
        yield key, (source, packed)


def _oversized(bucket, max_bucket: int) -> bool:
    return sum(1 for _ in bucket[1]) > max_bucket


@functools.lru_cache(maxsize=256)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (i, j), i < j, of every pair among ``n`` members."""
    return np.triu_indices(n, 1)


def _band_index(key: str) -> int:
    return int(key.split(":", 1)[0])


class _VerifyBucket(beam.DoFn):
    """One LSH bucket → the edges (a, b), a < b, of its pairs first seen in this band."""

    def __init__(self, threshold: float, bands: int, max_bucket: int):
        self.threshold, self.bands, self.max_bucket = threshold, bands, max_bucket
        self.candidates = Metrics.counter(NAMESPACE, "lsh_candidate_pairs")
        self.edges = Metrics.counter(NAMESPACE, "near_duplicate_edges")
        self.oversized = Metrics.counter(NAMESPACE, "oversized_buckets")

    def process(self, bucket, oversized):
        key, members = bucket
        members = list(members)
        if len(members) > self.max_bucket:   # the same count as the Oversized side input
            self.oversized.inc()
            return
        members = sorted(dict(members).items())
        if len(members) < 2:
            return
        ids = [source for source, _ in members]
        sig = np.frombuffer(b"".join(packed for _, packed in members), dtype="<i8").reshape(len(ids), -1)
        band, rows = _band_index(key), sig.shape[1] // self.bands
        skipped = set(oversized)
        left, right = _pairs(len(ids))
        for start in range(0, len(left), _PAIR_CHUNK):
            a, b = left[start:start + _PAIR_CHUNK], right[start:start + _PAIR_CHUNK]
            equal = sig[a] == sig[b]                                                   # pairs x slots
            earlier = equal[:, :band * rows].reshape(len(a), band, rows).all(axis=2)   # earlier bands shared
            first = ~earlier.any(axis=1)
            if skipped and not first.all():   # an earlier shared band whose bucket was skipped still counts
                first |= np.asarray([self._only_skipped(sig[i], row, skipped) for i, row in zip(a, earlier)])
            hit = first & (equal.mean(axis=1) >= self.threshold)
            self.candidates.inc(int(first.sum()))
            self.edges.inc(int(hit.sum()))
            for i, j in zip(a[hit], b[hit]):
                yield ids[i], ids[j]

    def _only_skipped(self, signature: np.ndarray, shared_before: np.ndarray, skipped: set) -> bool:
        """True when every earlier band a pair shares had its bucket skipped as oversized."""
        keys = band_keys(signature.tolist(), self.bands)
        return all(keys[j] in skipped for j in np.flatnonzero(shared_before))


class GroupNearDuplicates(beam.PTransform):
    """(source_id, signature) → (source_id, group_id); see the module doc."""

    def __init__(self, threshold: float = THRESHOLD, bands: int = BANDS, max_bucket: int = MAX_BUCKET,
                 label: str | None = None):
        super().__init__(label)
        self.threshold, self.bands, self.max_bucket = threshold, bands, max_bucket

    def expand(self, items):
        same = (items
                | "PackSignatures" >> beam.FlatMap(_packed, self.bands)
                | "SameSignature" >> beam.GroupByKey())
        buckets = (same
                   | "Representatives" >> beam.Map(_representative)
                   | "BandKeys" >> beam.FlatMap(_band_entries, self.bands)
                   | "Buckets" >> beam.GroupByKey())
        oversized = (buckets
                     | "Oversized" >> beam.Filter(_oversized, self.max_bucket)
                     | "OversizedKeys" >> beam.Keys())
        near = buckets | "VerifyPairs" >> beam.ParDo(_VerifyBucket(self.threshold, self.bands, self.max_bucket),
                                                     beam.pvalue.AsList(oversized))
        copies = same | "CopyEdges" >> beam.FlatMap(_copy_edges)
        groups = ((near, copies)
                  | "AllEdges" >> beam.Flatten()
                  | "CollectEdges" >> beam.combiners.ToList()
                  | "Components" >> beam.Map(lambda pairs: components((), pairs)))
        return items | "AssignGroup" >> beam.Map(lambda item, g: (item[0], g.get(item[0], item[0])),
                                                 beam.pvalue.AsSingleton(groups))


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise BadInput("bad_split_by", f"--split-by {pattern!r} is not a regular expression: {exc}",
                       stage="group") from exc


def forced_group(uri: str, split_by: str) -> str | None:
    """The group ``--split-by`` forces on ``uri``, or None (group by content / near-duplicates).

    ``content``: None. ``folder``: the parent folder (``'data/abba/x.mid'`` →
    ``'data/abba'``; a bare file name → ``''``). Anything else is a regular
    expression searched in the uri: its first group if it has groups (a group
    that did not take part in the match gives the whole match), else the whole
    match; no match → None, meaning fall back to content.
    """
    if split_by == "content":
        return None
    if split_by == "folder":
        return posixpath.dirname(uri.replace("\\", "/"))
    match = _compiled(split_by).search(uri)
    if match is None:
        return None
    return match.group(1) if match.re.groups and match.group(1) is not None else match.group(0)


def keep_one(members: list[dict]) -> tuple[dict, list[dict]]:
    """``--dedup near``: (kept, dropped) of one group's rows (dicts with ``duration_s`` and
    ``source_uri``). The longest (``duration_s``; None counts as 0) is kept, ties go to the
    first ``source_uri``; ``dropped`` is in ``source_uri`` order."""
    if not members:
        raise BadInput("empty_group", "keep_one needs at least one member", stage="group")
    ranked = sorted(members, key=lambda m: (-(m.get("duration_s") or 0.0), m.get("source_uri") or ""))
    kept = ranked[0]
    return kept, sorted(ranked[1:], key=lambda m: m.get("source_uri") or "")
