"""Do the captions' meter and progression match what the music does? Each table puts captune's
figure beside the baseline (what captune reported before) measured in the same run.

Meter (``--part meter``):

- POP909 (909 songs, ``beat_midi.txt``): share of songs whose time signature has numerator 1;
  bar length (median seconds between downbeats) within 3 % of the annotation's; downbeat
  F-measure (``mir_eval.beat.f_measure``, 70 ms window) against the annotated downbeats.
  Baseline: the file's declared meter (:func:`captune.extractors.midi.meter.beats`).
- Nottingham (full-tune MIDI, which declare the ABC ``M:``) and DCML (``time_signature`` of
  ``items.jsonl``): how often the declared meter is kept (``declared``), and, as a blind
  check, how often the bar inferred while ignoring the declaration has the declared bar length.

Progression (``--part progression``): POP909 summary of captune's chords against the same
summary computed from ``chord_midi.txt`` (with ``beat_midi.txt``'s downbeats; a suspended chord
read as the key's triad on its root, from ``key_audio.txt``; same loop up to rotation and
enharmonic spelling), even songs (where ``MIN_COVER`` was chosen) and odd songs apart, with the
share of summaries of two harmonies on one root and a breakdown of why the summaries differ
(:func:`_why`) and, in the disagreeing songs, what sounds in the half bars where the reference is
major and captune minor on the same root (:func:`_mode_evidence`); baseline: the summary captune made before (:func:`baseline_summary`,
MidiCaps-style most frequent n-gram of labels) of the same chords, against the same reference,
and against the reference summarised the old way; second baseline: the loop finder of the
release before (exact loops only, ``progression_summary(..., variations=False)``) against the
reference summarised by that finder; and
captune's chords summarised on the annotated bars (the grid's share). DCML: the same against the theorists' labels
(bars from the annotated time signature and first downbeat); Nottingham: against the ABC chord
symbols (bars of the file's declared meter).

Demo (``--part demo --demo-out DIR``, after ``captune demo --output DIR``): chorales said to be
"on piano", rows whose mood words leave their quadrant, positive-valence share and quadrants
per kind of the demo's sample.

    nice -n 10 python benchmarks/caption_facts.py [--part meter|progression|all|demo] [--limit N]
"""

import argparse
import glob
import json
import os
import re
import sys
from concurrent.futures import ProcessPoolExecutor

from collections import Counter

import mir_eval
import numpy as np

from captune.extractors.midi import extract, from_midi_bytes
from captune.extractors.midi.bar_inference import accent_features, infer, settle
from captune.extractors.midi.meter import beats, time_signature
from captune.extractors.midi.progression import (_half_bars, _slot_harmonies, harmonic_rhythm, harmony_of,
                                                 progression_summary, repeated_loops)
from captune.extractors.pitch import pitch_class

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpora import DEFAULT_CORPORA, nottingham_chords, pop909_song_dirs  # noqa: E402


# --- progression ---------------------------------------------------------------

def _has_shorter_period(gram: tuple) -> bool:
    n = len(gram)
    return any(all(gram[i] == gram[i + p] for i in range(n - p)) for p in range(1, n))


def _most_common_aperiodic(counts: Counter) -> tuple[tuple, int] | None:
    """The first gram of ``counts.most_common()`` (count descending, first-seen order on ties) that
    is not periodic, if its count is at least 2; else None. The grams of the top count are tried
    first, without sorting every gram (the top one is almost always aperiodic)."""
    top = max(counts.values(), default=0)
    if top < 2:
        return None
    for gram, count in counts.items():
        if count == top and not _has_shorter_period(gram):
            return gram, count
    for gram, count in counts.most_common():
        if count < 2:
            return None
        if count < top and not _has_shorter_period(gram):
            return gram, count
    return None


def baseline_summary(labels: list[str], max_length: int = 8) -> tuple[list[str], int]:
    """The summary captune made before (moved here from ``chords.py`` as the baseline).

    ``N`` is dropped and repeats collapsed first. Among n-grams of 2..``max_length``
    chords that are not themselves periodic (``C G C`` is ``C G`` wrapped round),
    the most frequent of each length competes; the longest one occurring at
    least 0.8 times as often as the most frequent of any length wins. Nothing
    repeating: the whole sequence once if it has at most 4 chords, else nothing.
    """
    seq = [l for l in labels if l != "N"]
    seq = [l for i, l in enumerate(seq) if i == 0 or l != seq[i - 1]]
    best: dict[int, tuple[tuple, int]] = {}
    for n in range(2, min(max_length, len(seq)) + 1):
        found = _most_common_aperiodic(Counter(zip(*(seq[i:] for i in range(n)))))
        if found is not None:
            best[n] = found
    if not best:
        return (seq, 1) if 0 < len(seq) <= 4 else ([], 0)
    top = max(count for _, count in best.values())
    n = max(n for n, (_, count) in best.items() if count >= 0.8 * top)
    gram, count = best[n]
    return list(gram), count


HARTE = {"maj": "", "min": "m", "7": "7", "maj7": "maj7", "min7": "m7", "dim": "dim", "hdim7": "m7b5", "aug": "aug",
         "maj6": "", "min6": "m", "9": "7", "maj9": "maj7", "min9": "m7", "dim7": "dim"}
SUS = {"sus4": ("", "m"), "sus2": ("", "m"), "sus4(b7)": ("7", "m7")}  # (on a major, on a minor diatonic triad)
_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
_MINOR_TRIAD_DEGREES = {2, 4, 9}  # ii, iii, vi above the major tonic


def from_harte(label: str, key: tuple[int, str] | None = None) -> str:
    """Harte ``'Bb:min7/5'`` → captune ``'Bbm7'`` (bass dropped; unknown qualities → ``N``).

    A suspended chord has no third: it stands for the triad the key gives its root (``key`` =
    (tonic pitch class, ``'maj'``/``'min'``)): in C major Dsus4 is ii (``Dm``), Gsus4 is V (``G``);
    major without a key or on a chromatic root."""
    if label in ("N", "X") or ":" not in label:
        return "N"
    root, quality = label.split(":", 1)
    quality = quality.split("/")[0]
    if quality in SUS:
        major_tonic = key[0] if key and key[1] == "maj" else (key[0] + 3) % 12 if key else None
        minor = major_tonic is not None and (pitch_class(root) - major_tonic) % 12 in _MINOR_TRIAD_DEGREES
        return _NAMES[pitch_class(root)] + SUS[quality][minor]
    quality = quality.split("(")[0]
    if quality not in HARTE:
        return "N"
    return _NAMES[pitch_class(root)] + HARTE[quality]


def _key_at(regions: list[tuple[float, float, tuple[int, str]]], t: float) -> tuple[int, str] | None:
    """The (tonic pitch class, mode) of the key region holding ``t`` seconds (else the nearest)."""
    if not regions:
        return None
    return min(regions, key=lambda r: 0.0 if r[0] <= t < r[1] else min(abs(t - r[0]), abs(t - r[1])))[2]


def _harmonies_key(harmonies) -> tuple:
    """(root, function) harmonies as (pitch class, function), rotated to the smallest rotation."""
    hs = [(pitch_class(root), function) for root, function in harmonies]
    return min(tuple(hs[i:] + hs[:i]) for i in range(len(hs))) if hs else ()


def loop_key(labels) -> tuple:
    """A loop as (pitch class, function) harmonies, rotated to its smallest rotation: equal keys =
    the same loop up to rotation and enharmonic spelling."""
    return _harmonies_key([harmony_of(label) for label in labels])


def _one_root_pair(labels) -> bool:
    roots = {harmony_of(l)[0] for l in labels if harmony_of(l)}
    return len(labels) == 2 and len(roots) == 1


def _summaries(segments, downbeats, beats_s, ref_segments, ref_downbeats, ref_beats) -> dict:
    """The summaries compared (captune's, the baseline's, the reference's, captune's chords on the
    reference's bars) and the loops each side plays twice in a row (for the breakdown)."""
    def looped(segs, db, b):
        return {_harmonies_key(loop) for loop in repeated_loops(harmonic_rhythm(segs, db, b)[0])}

    return {"new": progression_summary(segments, downbeats, beats_s)[0],
            "old": baseline_summary([s["label"] for s in segments])[0],
            "ref": progression_summary(ref_segments, ref_downbeats, ref_beats)[0],
            "ref_old": baseline_summary([s["label"] for s in ref_segments])[0],
            "grid": progression_summary(segments, ref_downbeats, ref_beats)[0],
            "prev": progression_summary(segments, downbeats, beats_s, variations=False)[0],
            "ref_prev": progression_summary(ref_segments, ref_downbeats, ref_beats, variations=False)[0],
            "looped": looped(segments, downbeats, beats_s), "ref_looped": looped(ref_segments, ref_downbeats, ref_beats)}


MODE_EVIDENCE = ("the accompaniment sounds the minor third more", "no third below; the melody sounds the minor third more",
                 "no third sounds at all", "the melody sounds the major third more, none below",
                 "the accompaniment sounds the major third more")


def _mode_evidence(path: str, ref: list[dict], segments: list[dict], downbeats, beats_s) -> Counter:
    """Per half bar of the annotated bars where the reference has a major harmony and captune the minor
    one on the same root: which third sounds more in it, in the accompaniment (every track but
    POP909's ``MELODY``), else in the melody (:data:`MODE_EVIDENCE`)."""
    import symusic

    score = symusic.Score(path).to("second")
    notes = {part: np.array([(n.time, n.time + n.duration, n.pitch % 12) for t in score.tracks
                             if (t.name == "MELODY") == (part == "melody") for n in t.notes]).reshape(-1, 3)
             for part in ("accompaniment", "melody")}
    bounds, mine = _half_bars(segments, downbeats, beats_s)
    out = Counter()
    for a, b, h_ref, h in zip(bounds[:-1], bounds[1:], _slot_harmonies(ref, bounds), mine):
        if not (h_ref and h and pitch_class(h_ref[0]) == pitch_class(h[0]) and (h_ref[1], h[1]) == ("major", "minor")):
            continue
        third = {}
        for part, arr in notes.items():
            sounding = np.clip(np.minimum(arr[:, 1], b) - np.maximum(arr[:, 0], a), 0, None)
            third[part] = [sounding[arr[:, 2] == (pitch_class(h[0]) + k) % 12].sum() for k in (3, 4)]
        (minor_acc, major_acc), (minor_mel, major_mel) = third["accompaniment"], third["melody"]
        if minor_acc != major_acc:
            out[MODE_EVIDENCE[0 if minor_acc > major_acc else 4]] += 1
        else:
            out[MODE_EVIDENCE[1 if minor_mel > major_mel else 3 if major_mel > minor_mel else 2]] += 1
    return out


def _mode_table(title: str, res: list[dict]) -> None:
    """What sounds where a disagreeing song's reference is major and captune minor on one root."""
    total = sum((r["mode"] for r in res if not _same(r, "new")), Counter())
    n = sum(total.values())
    _table([(title, "half bars", "share")] + [(k, total[k], f"{total[k] / max(n, 1):.1%}") for k in MODE_EVIDENCE])


def _pop909_progression(song_dir: str) -> dict:
    name = os.path.basename(song_dir)
    facts = extract(from_midi_bytes(open(os.path.join(song_dir, f"{name}.mid"), "rb").read()))
    ann = np.loadtxt(os.path.join(song_dir, "beat_midi.txt"))
    keys = []
    with open(os.path.join(song_dir, "key_audio.txt")) as fh:
        for line in fh:
            a, b, key = line.split()[:3]
            tonic, mode = key.split(":")
            keys.append((float(a), float(b), (pitch_class(tonic), mode)))
    ref = []
    with open(os.path.join(song_dir, "chord_midi.txt")) as fh:
        for line in fh:
            a, b, label = line.split()[:3]
            ref.append({"start_s": float(a), "end_s": float(b),
                        "label": from_harte(label, _key_at(keys, (float(a) + float(b)) / 2)), "harte": label})
    out = _summaries(facts["chords"], facts["downbeats_s"], facts["beats_s"], ref, ann[ann[:, 2] == 1, 0], ann[:, 0])
    sus_major = [{**r, "label": from_harte(r["harte"])} for r in ref]
    out["ref_sus_major"] = progression_summary(sus_major, ann[ann[:, 2] == 1, 0], ann[:, 0])[0]
    out["mode"] = _mode_evidence(os.path.join(song_dir, f"{name}.mid"), ref, facts["chords"], ann[ann[:, 2] == 1, 0], ann[:, 0])
    out["song"] = int(name)
    return out


def _dcml_progression(item: dict) -> dict:
    path = os.path.join(os.path.dirname(item["_items"]), item["path"])
    facts = extract(from_midi_bytes(open(path, "rb").read()))
    ref = [{"start_s": a, "end_s": b, "label": from_harte(l)} for a, b, l in item["chords"]]
    num, den = (int(x) for x in item["time_signature"].split("/"))
    bar = num * 2.0 / den  # seconds at 120 quarter notes per minute
    first = item.get("first_downbeat_s") or 0.0
    db = np.concatenate([np.arange(first, -1e-9, -bar)[::-1][:-1], np.arange(first, item["duration_s"], bar)])
    return _summaries(facts["chords"], facts["downbeats_s"], facts["beats_s"], ref, db, None)


def _nottingham_progression(args: tuple[str, dict | None]) -> dict | None:
    """Captune's chords of a Nottingham tune against its ABC chord symbols, both on the bars of the
    file's declared meter; None when the symbols do not line up with the MIDI."""
    from accuracy import nottingham_reference

    path, entry = args
    piece = from_midi_bytes(open(path, "rb").read())
    found = nottingham_reference(piece, entry)
    if found is None:
        return None
    facts, declared = extract(piece), beats(piece)
    ref = [{"start_s": float(a), "end_s": float(b), "label": from_harte(l)} for (a, b), l in zip(*found)]
    return _summaries(facts["chords"], facts["downbeats_s"], facts["beats_s"], ref,
                      declared["downbeats_s"], declared["beats_s"])


def _same(r: dict, tag: str, ref: str = "ref") -> bool:
    return bool(r[tag]) and bool(r[ref]) and loop_key(r[tag]) == loop_key(r[ref])


def _agreement_table(title: str, res: list[dict], extra: tuple = ()) -> None:
    n = len(res)
    rows = [(title, "items", "same loop as the reference's (up to rotation)", "same, or both no loop",
             "2 harmonies on one root", "no loop named", "reference: no loop")]
    for tag, label, ref in (("old", "before (baseline)", "ref"), ("new", "captune", "ref"),
                            ("prev", "previous loop finder (exact loops only) vs the reference by the same finder", "ref_prev"),
                            ("old", "before vs before-style reference", "ref_old"), *extra):
        same = sum(_same(r, tag, ref) for r in res)
        agree = same + sum(not r[tag] and not r[ref] for r in res)
        pair = sum(_one_root_pair(r[tag]) for r in res)
        empty = sum(not r[tag] for r in res)
        ref_empty = sum(not r[ref] for r in res)
        rows.append((label, n, f"{same} ({same / n:.1%})", f"{agree} ({agree / n:.1%})", f"{pair} ({pair / n:.1%})", f"{empty} ({empty / n:.1%})",
                     f"{ref_empty} ({ref_empty / n:.1%})"))
    _table(rows)
    lengths = Counter(len(r["new"]) for r in res)
    print(f"{title}: summary lengths (harmonies: items) {sorted(lengths.items())}\n")


def _why(r: dict) -> str:
    """Why captune's summary and the reference's differ, tested in this order: the bar grid (captune's
    chords summarised on the reference's bars agree), the chord labels (one side's loop is never
    played twice in a row in the other side's chords), the cover threshold (both play it, one names
    no loop), the choice (both play both loops; the other covers more)."""
    if _same(r, "new"):
        return "same loop"
    if not r["new"] and not r["ref"]:
        return "both: no loop"
    if _same(r, "grid") or (not r["grid"] and not r["ref"]):
        return "grid: captune's chords on the annotated bars agree"
    if r["ref"] and loop_key(r["ref"]) not in r["looped"]:
        return "labels: the reference's loop is never played twice in a row (exactly) in captune's chords"
    if r["new"] and loop_key(r["new"]) not in r["ref_looped"]:
        return "labels: captune's loop is never played twice in a row (exactly) in the reference's chords"
    if not r["new"] or not r["ref"]:
        return "cover: both play the loop, one side under MIN_COVER"
    return "choice: both play both loops, the other covers more"


def _why_table(title: str, res: list[dict]) -> None:
    rows = [(title, "items", "share")]
    for why, count in Counter(_why(r) for r in res).most_common():
        rows.append((why, count, f"{count / len(res):.1%}"))
    _table(rows)


def progression(corpora: str, limit: int | None, workers: int) -> None:
    dirs = pop909_song_dirs(corpora)[:limit]
    with ProcessPoolExecutor(workers) as pool:
        res = list(pool.map(_pop909_progression, dirs, chunksize=4))
    extra = (("grid", "captune's chords on the annotated bars", "ref"),
             ("new", "captune vs the reference with sus chords as major", "ref_sus_major"))
    for half, parity in (("even songs (tuning)", 0), ("odd songs (held out)", 1)):
        part = [r for r in res if r["song"] % 2 == parity]
        _agreement_table(f"POP909 progression, {half}", part, extra)
        _why_table(f"POP909, {half}: why captune's summary differs", part)
        _mode_table(f"POP909, {half}, disagreeing songs: reference major, captune minor on one root", part)
    items_path = os.path.join(corpora, "dcml", "items.jsonl")
    items = [{**json.loads(line), "_items": items_path} for line in open(items_path)][:limit]
    with ProcessPoolExecutor(workers) as pool:
        res = list(pool.map(_dcml_progression, items, chunksize=4))
    _agreement_table("DCML progression", res)
    table = nottingham_chords(corpora, workers)
    paths = sorted(glob.glob(os.path.join(corpora, "nottingham", "MIDI", "*.mid")))[:limit]
    with ProcessPoolExecutor(workers) as pool:
        res = [r for r in pool.map(_nottingham_progression, [(p, table.get(os.path.basename(p)[:-4])) for p in paths],
                                   chunksize=8) if r]
    _agreement_table("Nottingham progression", res)


# --- meter -----------------------------------------------------------------------

def _bar_s(downbeats) -> float:
    return float(np.median(np.diff(downbeats))) if len(downbeats) > 1 else float("nan")


def _pop909_meter(song_dir: str) -> dict:
    name = os.path.basename(song_dir)
    piece = from_midi_bytes(open(os.path.join(song_dir, f"{name}.mid"), "rb").read())
    ann = np.loadtxt(os.path.join(song_dir, "beat_midi.txt"))
    ref = ann[ann[:, 2] == 1, 0]
    out = {"song": name, "ref_bar_s": _bar_s(ref)}
    settled, source = settle(piece)
    for tag, p in (("declared", piece), ("captune", settled)):
        db = np.asarray(beats(p)["downbeats_s"])
        out[tag] = {"ts": time_signature(p), "bar_s": _bar_s(db),
                    "f": float(mir_eval.beat.f_measure(ref, db))}
    out["source"] = source
    return out


def _row_signature(path: str) -> str | None:
    """The time signature a row of this MIDI file gets (the whole extraction for performance MIDI,
    whose meter is inferred on the beats found from its onsets), None if the file has no notes."""
    from captune.extractors.errors import BadInput
    from captune.extractors.midi.onset_tempo import lacks_tempo_map

    try:
        piece = from_midi_bytes(open(path, "rb").read())
    except BadInput:
        return None
    return extract(piece)["time_signature"] if lacks_tempo_map(piece) else time_signature(settle(piece)[0])


def _declares_one(path: str) -> bool:
    from symusic import Score

    return any(t.numerator == 1 for t in Score(path).time_signatures)


def _bar_quarters(sig: str) -> float:
    num, den = (int(x) for x in sig.split("/"))
    return num * 4 / den


def _declared_check(path: str) -> dict:
    piece = from_midi_bytes(open(path, "rb").read())
    found = infer(accent_features(piece))
    declared = time_signature(piece)
    blind = "{}/{}".format(*found["signature"]) if found else None
    settled, source = settle(piece)
    same_bars = mir_eval.beat.f_measure(np.asarray(beats(piece)["downbeats_s"]), np.asarray(beats(settled)["downbeats_s"]))
    return {"path": path, "declared": declared, "source": source, "blind": blind, "same_bars": same_bars}


def _dcml_downbeats(item: dict, corpora: str) -> tuple[float, float, bool] | None:
    """Downbeat F (70 ms) of the declared grid and of captune's (``settle``) against DCML's bars (its one
    time signature from ``first_downbeat_s``), and whether the piece opens with a pickup; None for
    pieces whose meter changes or that give no first downbeat."""
    piece = from_midi_bytes(open(os.path.join(corpora, "dcml", item["path"]), "rb").read())
    if item["first_downbeat_s"] is None or len(set(zip(piece.ts_numerator.tolist(), piece.ts_denominator.tolist()))) > 1:
        return None
    ref = np.arange(item["first_downbeat_s"], piece.duration_s, 2.0 * piece.ts_numerator[0] / piece.ts_denominator[0])
    declared, found = (np.asarray(beats(p)["downbeats_s"]) for p in (piece, settle(piece)[0]))
    return (mir_eval.beat.f_measure(ref, declared), mir_eval.beat.f_measure(ref, found), item["first_downbeat_s"] > 0)


def _table(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    print()


def meter(corpora: str, limit: int | None, workers: int) -> None:
    dirs = pop909_song_dirs(corpora)[:limit]
    with ProcessPoolExecutor(workers) as pool:
        res = list(pool.map(_pop909_meter, dirs, chunksize=8))
    rows = [("POP909 meter", "songs", "numerator 1", "bar within 3 %", "downbeat F (mean)")]
    for tag in ("declared", "captune"):
        ok = [abs(r[tag]["bar_s"] / r["ref_bar_s"] - 1) <= 0.03 for r in res]
        ones = sum(r[tag]["ts"].startswith("1/") for r in res)
        rows.append((tag if tag == "captune" else "declared (baseline)", len(res), f"{ones} ({ones / len(res):.1%})",
                     f"{sum(ok)} ({sum(ok) / len(res):.1%})", f"{np.mean([r[tag]['f'] for r in res]):.3f}"))
    _table(rows)
    inferred = sum(r["source"] == "inferred" for r in res)
    print(f"POP909: {inferred} of {len(res)} songs inferred")
    every = sorted(glob.glob(os.path.join(corpora, "pop909", "POP909", "*", "*.mid"))
                   + glob.glob(os.path.join(corpora, "pop909", "POP909", "*", "versions", "*.mid")))[:limit]
    with ProcessPoolExecutor(workers) as pool:
        sigs = [x for x in pool.map(_row_signature, every, chunksize=16) if x]
    print(f"POP909 with its versions: {sum(x.startswith('1/') for x in sigs)} of {len(sigs)} files with notes get "
          f"a numerator-1 time signature (declared: {sum(1 for d in every if _declares_one(d))})\n")
    bad = [r for r in res if abs(r["captune"]["bar_s"] / r["ref_bar_s"] - 1) > 0.03]
    print("POP909 misses (song, declared, captune, bar ratio):",
          [(r["song"], r["declared"]["ts"], r["captune"]["ts"], round(r["captune"]["bar_s"] / r["ref_bar_s"], 2))
           for r in bad[:25]], "\n")
    checks = {"Nottingham": sorted(glob.glob(os.path.join(corpora, "nottingham", "MIDI", "*.mid")))[:limit],
              "DCML": sorted(glob.glob(os.path.join(corpora, "dcml", "midi", "*.mid")))[:limit]}
    rows = [("declared meters", "files", "kept declared", "blind inference: same bar length", "blind: same signature",
             "downbeat F vs the declared bars")]
    for corpus, paths in checks.items():
        with ProcessPoolExecutor(workers) as pool:
            res = list(pool.map(_declared_check, paths, chunksize=8))
        kept = sum(r["source"] == "declared" for r in res)
        same_len = sum(r["blind"] is not None and _bar_quarters(r["blind"]) == _bar_quarters(r["declared"])
                       for r in res)
        same = sum(r["blind"] == r["declared"] for r in res)
        rows.append((corpus, len(res), f"{kept} ({kept / len(res):.1%})", f"{same_len} ({same_len / len(res):.1%})",
                     f"{same} ({same / len(res):.1%})", f"{np.mean([r['same_bars'] for r in res]):.3f}"))
    _table(rows)
    items = [json.loads(line) for line in open(os.path.join(corpora, "dcml", "items.jsonl"))][:limit]
    with ProcessPoolExecutor(workers) as pool:
        res = np.asarray([r for r in pool.map(_dcml_downbeats, items, [corpora] * len(items), chunksize=8) if r])
    rows = [("DCML downbeats (one meter, 120 qpm)", "pieces", "declared grid: F (all / pickup / none)",
             "captune: F (all / pickup / none)")]
    pick = res[:, 2] == 1
    rows.append(("", len(res), *(f"{r[:, k].mean():.3f} / {r[pick, k].mean():.3f} ({pick.sum()}) / {r[~pick, k].mean():.3f}"
                                 for k, r in ((0, res), (1, res)))))
    _table(rows)


QUADRANT_WORDS = {1: {"joyful", "energetic", "cheerful", "playful"}, 2: {"tense", "agitated", "dark"},
                  3: {"melancholic", "somber", "sad"}, 4: {"serene", "calm", "tender"}}


def demo_rows(out: str) -> None:
    """Checks of a ``captune demo`` output: chorales said to be on piano, mood words outside their
    quadrant, captions naming an instrument for a score that states none (an ABC tune), single melodic
    lines captioned with a harmony, rows with no stated tempo, unsung pieces called a song, rows naming
    a loop, positive-valence share and quadrant counts per kind of the demo's sample."""
    from captune.captioners.factcheck import INSTRUMENT_WORDS
    from captune.captioners.template import may_say_song
    from captune.extractors.midi.notes import single_line
    from captune.pipelines.demo import KINDS
    from captune.schemas import load

    rows = load(out).to_pylist()
    folder_kind = {f: k for k, folders in KINDS.items() for f in folders}

    def kind(uri):
        rel = uri.split("/corpus/", 1)[-1]
        for folder in sorted(folder_kind, key=len, reverse=True):
            if rel.startswith(folder + "/"):
                return folder_kind[folder]
        return "other"

    on_piano = [r["source_uri"] for r in rows if kind(r["source_uri"]) == "chorale" and "piano" in r["caption"].lower()]
    disagree = [r["id"] for r in rows if r["mood"] and set(r["mood"]) != {"gentle"}
                and not set(r["mood"]) <= QUADRANT_WORDS[r["emotion_quadrant"]]]
    unstated = [r for r in rows if r["modality"] == "score" and r["instrument_programs"] == []]
    word = re.compile(r"\b(" + "|".join(map(re.escape, INSTRUMENT_WORDS)) + r")\b")
    named = [r["id"] for r in unstated if word.search(r["caption"].lower())]
    unsung_songs = [r["id"] for r in rows if not may_say_song(r) and re.search(r"\bsong\b", r["caption"].lower())]
    loops = [r for r in rows if r["chord_summary"] and r["chord_summary_count"] > 1]
    alone = [r for r in rows if single_line(r["note_stats"])]
    harmony = [r["id"] for r in alone if re.search(r"chord|harmony|progression", r["caption"], re.IGNORECASE)]
    print(f"single melodic lines: {len(alone)} rows, {len(harmony)} of them with a caption naming a harmony")
    print(f"demo: {len(rows)} rows; chorales 'on piano': {len(on_piano)}; rows whose mood words leave their "
          f"quadrant: {len(disagree)}; scores stating no instrument: {len(unstated)} rows, "
          f"{len(named)} of them with a caption naming one; no stated tempo: "
          f"{sum(r['tempo_bpm'] is None for r in rows)} rows; unsung, not verse-chorus, called a song: "
          f"{len(unsung_songs)}; a loop in chord_summary: {len(loops)} rows ({sum(len(r['chord_summary']) == 2 for r in loops)} "
          f"of two harmonies; {sum(not single_line(r['note_stats']) for r in loops)} of them captioned with it, the "
          f"others single lines), no loop: {sum(not r['chord_summary'] for r in rows)}")
    table = [("demo kind", "rows", "positive valence", "quadrants 1 / 2 / 3 / 4", "time signature inferred")]
    for k in [*KINDS, "other"]:
        sub = [r for r in rows if kind(r["source_uri"]) == k and r["valence"] is not None]
        if not sub:
            continue
        q = Counter(r["emotion_quadrant"] for r in sub)
        pos = sum(r["valence"] >= 0 for r in sub)
        inferred = sum(r["time_signature_source"] == "inferred" for r in sub)
        table.append((k, len(sub), f"{pos / len(sub):.0%}", " / ".join(str(q[i]) for i in (1, 2, 3, 4)), inferred))
    _table(table)
    for r in rows[:6]:
        print(" ", os.path.basename(r["source_uri"]), "::", r["caption"])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpora", default=DEFAULT_CORPORA)
    ap.add_argument("--part", choices=("meter", "progression", "all", "demo"), default="all")
    ap.add_argument("--demo-out", default="demo-out", help="output of `captune demo` (--part demo)")
    ap.add_argument("--limit", type=int, default=None, help="first N items of each corpus")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    if args.part in ("meter", "all"):
        meter(args.corpora, args.limit, args.workers)
    if args.part in ("progression", "all"):
        progression(args.corpora, args.limit, args.workers)
    if args.part == "demo":
        demo_rows(args.demo_out)


if __name__ == "__main__":
    main()
