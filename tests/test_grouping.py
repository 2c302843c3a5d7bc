"""Known-answer tests for ``captune.pipelines.grouping``.

Signatures are made by hand so that every similarity is known by counting
slots: with 128 hashes in 64 bands of 2 rows, two signatures that agree on slots
``i..j`` share exactly the bands those slots fill, and their similarity is the
share of equal slots. Random slots are 62-bit draws: they never collide by chance.
"""

import numpy as np
import pytest
from apache_beam import Create
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline
from apache_beam.testing.util import assert_that, equal_to

from captune.extractors import BadInput
from captune.extractors.fingerprint import NUM_HASHES, THRESHOLD
from captune.pipelines.grouping import GroupNearDuplicates, components, forced_group, keep_one

RNG = np.random.default_rng(7)


def fresh() -> list[int]:
    return RNG.integers(0, 2 ** 62, NUM_HASHES).tolist()


def replace(signature: list[int], slots) -> list[int]:
    """A copy with new random values in ``slots``."""
    out = list(signature)
    new = fresh()
    for i in slots:
        out[i] = new[i]
    return out


def counters(result) -> dict:
    return {c.key.metric.name: c.committed for c in result.metrics().query(MetricsFilter())["counters"]}


# ---------------------------------------------------------------------------
# components
# ---------------------------------------------------------------------------

def test_components_known_answer():
    edges = [("b", "a"), ("c", "b"), ("f", "e")]
    expected = {"a": "a", "b": "a", "c": "a", "d": "d", "e": "e", "f": "e"}
    assert components(["a", "b", "c", "d", "e", "f"], edges) == expected
    assert components("abcdef", list(reversed(edges))) == expected     # order does not matter
    assert components([], [(3, 9), (9, 1), (5, 4)]) == {1: 1, 3: 1, 9: 1, 4: 4, 5: 4}


def test_components_long_chain():
    # A chain 999-998-...-0 given from the far end: one group, named by its smallest node.
    edges = [(i + 1, i) for i in range(999, -1, -1)]
    groups = components([], edges)
    assert set(groups.values()) == {0} and len(groups) == 1001


# ---------------------------------------------------------------------------
# GroupNearDuplicates
# ---------------------------------------------------------------------------

def test_group_near_duplicates_known_groups():
    a = fresh()
    b = replace(a, range(0, 64))      # a~b: 64 equal slots = 0.5
    c = replace(b, range(64, 112))    # b~c: 80 equal = 0.625; a, c: slots 112-127 only = 0.125
    e = replace(a, range(24, 128))    # a, e: 24 equal slots (12 shared bands) = 0.1875 < THRESHOLD
    h = fresh()
    items = [("a", a), ("b", b), ("c", c), ("d", fresh()), ("e", e), ("f", []), ("g", None),
             ("h", h), ("i", list(h))]
    assert 24 / NUM_HASHES < THRESHOLD < 0.5
    p = BeamPipeline()
    out = p | Create(items) | GroupNearDuplicates()
    assert_that(out, equal_to([("a", "a"), ("b", "a"), ("c", "a"), ("d", "d"), ("e", "e"), ("f", "f"),
                               ("g", "g"), ("h", "h"), ("i", "h")]))
    result = p.run()
    result.wait_until_finish()
    found = counters(result)
    # i is h's copy, joined before LSH. Candidates share a band: a-b, b-c, a-c (bands 56-63),
    # a-e (bands 0-11). Each is verified once although a-b share 32 bands; a-c and a-e fail.
    assert found["identical_signature_items"] == 1
    assert found["lsh_candidate_pairs"] == 4
    assert found["near_duplicate_edges"] == 2
    assert found["unfingerprinted_items"] == 2


def test_oversized_bucket_is_skipped_but_pairs_survive():
    # Six items agree on slots 0-1 (band 0: a bucket of 6 > max_bucket 4). x and y also agree
    # on slots 2-63 (similarity 0.5): their first shared band is skipped, band 1 finds them.
    common = fresh()[:2]
    sigs = {name: common + fresh()[2:] for name in ("p", "q", "r", "s", "x")}
    sigs["y"] = sigs["x"][:64] + fresh()[64:]
    p = BeamPipeline()
    out = p | Create(sorted(sigs.items())) | GroupNearDuplicates(max_bucket=4)
    assert_that(out, equal_to([("p", "p"), ("q", "q"), ("r", "r"), ("s", "s"), ("x", "x"), ("y", "x")]))
    result = p.run()
    result.wait_until_finish()
    found = counters(result)
    assert found["oversized_buckets"] == 1
    assert found["lsh_candidate_pairs"] == 1 and found["near_duplicate_edges"] == 1


def reference_groups(items, threshold, max_bucket, bands=64):
    """Brute force over every pair: identical signatures join; two distinct signatures are a candidate
    when they share a band whose bucket holds at most ``max_bucket`` distinct signatures, and an edge
    when their similarity reaches ``threshold``. Returns (groups, candidate pairs, edges, oversized buckets)."""
    signed = {s: tuple(sig) for s, sig in items if sig}
    reps = {}
    for source in sorted(signed):
        reps.setdefault(signed[source], source)
    rows = NUM_HASHES // bands
    buckets = {}
    for sig, source in reps.items():
        for b in range(bands):
            buckets.setdefault((b, sig[b * rows:(b + 1) * rows]), set()).add(source)
    usable = {key for key, members in buckets.items() if len(members) <= max_bucket}
    candidates, edges = 0, []
    ids = sorted(reps.values())
    sig_of = {source: sig for sig, source in reps.items()}
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            shared = [k for k in range(bands) if sig_of[a][k * rows:(k + 1) * rows] == sig_of[b][k * rows:(k + 1) * rows]
                      and (k, sig_of[a][k * rows:(k + 1) * rows]) in usable]
            if shared:
                candidates += 1
                if np.mean(np.asarray(sig_of[a]) == np.asarray(sig_of[b])) >= threshold:
                    edges.append((a, b))
    edges += [(reps[signed[s]], s) for s in signed if reps[signed[s]] != s]
    groups = components([s for s, _ in items], edges)
    return (sorted(groups.items()), candidates, len(edges) - sum(1 for s in signed if reps[signed[s]] != s),
            len(buckets) - len(usable))


@pytest.mark.parametrize("max_bucket", [1000, 3])
def test_group_near_duplicates_matches_brute_force(max_bucket):
    # Clusters of edited copies (a few slots to half the slots replaced), exact copies, a shared
    # constant band (a bucket over max_bucket=3) and singletons: the pipeline must find exactly
    # the pairs a comparison of every pair sharing a usable band finds.
    rng = np.random.default_rng(11)
    common = fresh()[:2]
    items = []
    for c in range(6):
        base = fresh()
        if c % 2:
            base[:2] = common
        items.append((f"c{c}-0", base))
        for k in range(1, 5):
            slots = rng.choice(NUM_HASHES, size=int(rng.integers(4, 110)), replace=False)
            items.append((f"c{c}-{k}", replace(base, [s for s in slots if s >= 2])))
        items.append((f"c{c}-copy", list(base)))
    items += [(f"s{i}", fresh()) for i in range(8)] + [("none", None), ("empty", [])]
    expected, candidates, edges, oversized = reference_groups(items, THRESHOLD, max_bucket)
    assert 0 < edges < candidates     # some candidates fail verification
    assert (oversized > 0) == (max_bucket == 3)
    p = BeamPipeline()
    out = p | Create(items) | GroupNearDuplicates(max_bucket=max_bucket)
    assert_that(out, equal_to(expected))
    result = p.run()
    result.wait_until_finish()
    found = counters(result)
    assert found["lsh_candidate_pairs"] == candidates
    assert found["near_duplicate_edges"] == edges
    assert found.get("oversized_buckets", 0) == oversized


def test_threshold_is_a_parameter():
    a = fresh()
    b = replace(a, range(0, 64))          # 0.5
    with BeamPipeline() as p:
        out = p | Create([("a", a), ("b", b)]) | GroupNearDuplicates(threshold=0.6)
        assert_that(out, equal_to([("a", "a"), ("b", "b")]))


# ---------------------------------------------------------------------------
# forced_group, keep_one
# ---------------------------------------------------------------------------

def test_forced_group():
    assert forced_group("data/abba/take1.mid", "content") is None
    assert forced_group("data/abba/take1.mid", "folder") == "data/abba"
    assert forced_group("gs://bucket/pop909/001/versions/001-v1.mid", "folder") == "gs://bucket/pop909/001/versions"
    assert forced_group("song.mid", "folder") == ""
    # first group of the regex; the whole match without groups; no match -> None (content)
    assert forced_group("POP909/001/versions/001-v2.mid", r"POP909/(\d+)/") == "001"
    assert forced_group("POP909/001/001.mid", r"\d+\.mid") == "001.mid"
    assert forced_group("nottingham/jigs.mid", r"POP909/(\d+)/") is None
    assert forced_group("a/b.mid", r"(x)?b") == "b"      # a group that did not match: the whole match
    with pytest.raises(BadInput) as err:
        forced_group("a.mid", "([")
    assert err.value.reason == "bad_split_by"


def test_keep_one():
    rows = [{"source_uri": "c.mid", "duration_s": 200.0}, {"source_uri": "b.mid", "duration_s": 310.5},
            {"source_uri": "a.mid", "duration_s": 310.5}, {"source_uri": "d.mid", "duration_s": None}]
    kept, dropped = keep_one(rows)
    assert kept["source_uri"] == "a.mid"          # longest; the tie with b.mid goes to the first uri
    assert [r["source_uri"] for r in dropped] == ["b.mid", "c.mid", "d.mid"]
    assert keep_one(rows[:1]) == (rows[0], [])
    with pytest.raises(BadInput):
        keep_one([])
