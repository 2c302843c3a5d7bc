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
2. ``Buckets`` (GroupByKey on the key): items sharing a band are candidates. A band
   entry carries the source id only (never the 1 KiB signature), so this shuffle
   moves ~70 bytes per band. ``BucketPairs`` gives each member the later members
   of its bucket; a bucket over ``max_bucket`` members is skipped (counted in
   ``oversized_buckets``): a band shared by that many items is a degenerate
   fingerprint (a constant line), and true near-duplicates share many other
   bands (at s = 0.5 and r = 2 rows per band, 16 of 64 bands on average), so
   skipping it loses nothing real while capping the pairs at ``max_bucket``²
   per bucket; a pair whose only shared bands are skipped buckets is no
   candidate. No all-pairs comparison: the work is the sum over buckets of size².
   ``JoinFirst`` (CoGroupByKey on the first id a) joins a's signature with its
   partners, made distinct there (a pair sharing 32 bands is verified once), and
   sends it to each partner b; ``JoinSecond`` (on b) joins b's signature, and
   ``VerifyPairs`` makes the pair an edge when
   :func:`~captune.extractors.fingerprint.similarity` >= ``threshold``. Each
   signature crosses two joins (and each candidate pair once more) instead of
   ``bands`` shuffles.
3. ``Components``: the edges (from LSH and identical signatures) are collected
   on one worker and joined by union-find (:func:`components`). This scales
   because edges are few: one per verified near-duplicate pair, a few per item at
   most (POP909's 2,898 files give about 2,300); a million edges are tens of MB
   and a second of union-find. The result (a group id per item that has a
   near-duplicate) is joined to the items by source id (``JoinComponents``, a
   CoGroupByKey), not broadcast to every worker.

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
    """(band key, source_id) for each band of a representative: the id only, never the signature."""
    source, packed = item
    for key in band_keys(np.frombuffer(packed, dtype="<i8"), bands):
        yield key, source


class _BucketPairs(beam.DoFn):
    """One LSH bucket → (a, [b, …]) for each member a and the members b > a after it; a bucket of one
    member gives nothing, a bucket over ``max_bucket`` members is skipped (``oversized_buckets``)."""

    def __init__(self, max_bucket: int):
        self.max_bucket = max_bucket
        self.oversized = Metrics.counter(NAMESPACE, "oversized_buckets")

    def process(self, bucket):
        _, members = bucket
        members = sorted(set(members))
        if len(members) > self.max_bucket:
            self.oversized.inc()
            return
        for i in range(len(members) - 1):
            yield members[i], members[i + 1:]


def _send_signature(joined):
    """(a, {'signature': [packed], 'partners': [[b, …], …]}) → (b, (a, packed)) once per distinct partner b."""
    source, sides = joined
    partners = set()
    for later in sides["partners"]:
        partners.update(later)
    if not partners:
        return
    (packed,) = sides["signature"]
    for other in sorted(partners):
        yield other, (source, packed)


class _VerifyPairs(beam.DoFn):
    """(b, {'signature': [packed b], 'candidates': [(a, packed a), …]}) → the edges (a, b), a < b, whose
    similarity is at least ``threshold``. Every distinct candidate pair arrives here exactly once."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.candidates = Metrics.counter(NAMESPACE, "lsh_candidate_pairs")
        self.edges = Metrics.counter(NAMESPACE, "near_duplicate_edges")

    def process(self, joined):
        source, sides = joined
        candidates = sorted(sides["candidates"])
        if not candidates:
            return
        (packed,) = sides["signature"]
        mine = np.frombuffer(packed, dtype="<i8")
        others = np.frombuffer(b"".join(p for _, p in candidates), dtype="<i8").reshape(len(candidates), -1)
        hit = (others == mine).mean(axis=1) >= self.threshold
        self.candidates.inc(len(candidates))
        self.edges.inc(int(hit.sum()))
        for (other, _), ok in zip(candidates, hit):
            if ok:
                yield other, source


def _assign_group(joined):
    """(source_id, {'item': [None, …], 'group': [group_id] or []}) → (source_id, group_id) per item; an
    item in no component is a group of its own."""
    source, sides = joined
    group = next(iter(sides["group"]), source)
    for _ in sides["item"]:
        yield source, group


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
        signatures = same | "Representatives" >> beam.Map(_representative)
        pairs = (signatures
                 | "BandKeys" >> beam.FlatMap(_band_entries, self.bands)
                 | "Buckets" >> beam.GroupByKey()
                 | "BucketPairs" >> beam.ParDo(_BucketPairs(self.max_bucket)))
        sent = ({"signature": signatures, "partners": pairs}
                | "JoinFirst" >> beam.CoGroupByKey()
                | "SendSignature" >> beam.FlatMap(_send_signature))
        near = ({"signature": signatures, "candidates": sent}
                | "JoinSecond" >> beam.CoGroupByKey()
                | "VerifyPairs" >> beam.ParDo(_VerifyPairs(self.threshold)))
        copies = same | "CopyEdges" >> beam.FlatMap(_copy_edges)
        groups = ((near, copies)
                  | "AllEdges" >> beam.Flatten()
                  | "CollectEdges" >> beam.combiners.ToList()
                  | "Components" >> beam.FlatMap(lambda pairs: sorted(components((), pairs).items())))
        return ({"item": items | "ItemIds" >> beam.Map(lambda item: (item[0], None)), "group": groups}
                | "JoinComponents" >> beam.CoGroupByKey()
                | "AssignGroup" >> beam.FlatMap(_assign_group))


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
