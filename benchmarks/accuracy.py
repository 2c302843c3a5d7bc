"""Accuracy of captune's MIDI key, chord, tempo and beat extractors on labelled corpora (mir_eval).

Every table has a baseline measured in the same run:

- key: mir_eval weighted score (1 same key, 0.5 fifth, 0.3 relative, 0.2
  parallel) and exact share; baseline music21 ``analyze('key')`` on a random
  ``--sample`` of items per corpus (the same items for every row of that table).
- chords: duration-weighted chord symbol recall (mir_eval ``majmin`` and
  ``sevenths``, summed over the corpus: seconds labelled right / seconds
  evaluated); baseline: the plain beat-synchronous template matcher captune
  started with (``chords(piece, key, method='plain')``), with captune's key; the default
  is given captune's key and ``key_changes``, as the pipeline does, on the piece settled
  as the pipeline settles it (an implausible meter replaced by the inferred bar).
  ``--previous-harmony FILE`` (an earlier ``harmony.py``, e.g. from ``git show``)
  adds the previous labeller on the same pieces; every method's seconds are
  summed in the same run (its cost as a ratio).
- tempo and beats, from note onsets on performance-like MIDI: POP909 songs are
  rewritten without their tempo map (one 120 bpm event, notes placed at their
  real seconds plus Gaussian timing jitter of ``--jitter-ms``), so that only the
  onsets carry the tempo; captune detects that case
  (:func:`captune.extractors.midi.onset_tempo.lacks_tempo_map`) and estimates
  tempo and beats from the onsets. References: ``beat_midi.txt`` (tempo = 60 /
  median inter-beat interval). Metrics: tempo within 4 %, within 4 % allowing
  octave errors (x2, x1/2, x3, x1/3), mir_eval beat F-measure (70 ms window).
  Baseline: the file's own (fake) tempo map, i.e. what captune reported before.
  The same songs with their real tempo map are shown as the upper bound.

Corpora (see ``corpora.py``): DCML (theorists' global keys and chord labels,
music21 on every movement), POP909 (``chord_midi.txt``, ``key_audio.txt``
first region, ``beat_midi.txt``: algorithmic labels, so agreement, not truth)
and Nottingham (first ``K:``; ABC chord symbols placed in time by music21 with
repeats expanded; tunes whose expanded length differs from the MIDI by more
than one quarter note are skipped and counted).

    python benchmarks/accuracy.py [--corpora /work/shared/corpora] [--sample 200] [--tempo-songs 300]
        [--music21-cache FILE] [--previous-harmony FILE]
"""

import argparse
import importlib.util
import inspect
import os
import random
import shlex
import sys
import time

import mir_eval
import numpy as np

from captune.extractors.errors import BadInput
from captune.extractors.midi import from_midi_bytes
from captune.extractors.midi.bar_inference import settle
from captune.extractors.midi.chords import chords
from captune.extractors.midi.key import key
from captune.extractors.midi.key_changes import key_changes
from captune.extractors.midi.meter import beats as notated_beats
from captune.extractors.midi.onset_tempo import lacks_tempo_map, onset_beats
from captune.extractors.midi.piece import Piece
from captune.extractors.midi.tempo import map_tempo
from captune.extractors.pitch import pitch_class

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpora import (DEFAULT_CORPORA, chord_intervals, dcml_corpus, dcml_rows, nottingham_chords,  # noqa: E402
                     nottingham_corpus, pop909_beats, pop909_chords, pop909_corpus)
from key_agreement import music21_keys  # noqa: E402

chord_module = importlib.import_module("captune.extractors.midi.chords")  # the package re-exports chords()
UNKNOWN = "X"
HARTE_QUALITY = {"": "maj", "m": "min", "dim": "dim", "aug": "aug", "7": "7", "maj7": "maj7", "m7": "min7",
                 "m7b5": "hdim7"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default=DEFAULT_CORPORA, help="folder holding pop909/ and nottingham/")
    parser.add_argument("--sample", type=int, default=200, help="items per corpus for music21 (default %(default)s)")
    parser.add_argument("--tempo-songs", type=int, default=300,
                        help="POP909 songs rewritten as performance MIDI (default %(default)s)")
    parser.add_argument("--jitter-ms", type=float, default=20.0,
                        help="standard deviation of the onset jitter, ms (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of samples and jitter (default %(default)s)")
    parser.add_argument("--music21-cache", default=None,
                        help="JSON file of music21 answers (path -> key), read and extended (default: none)")
    parser.add_argument("--previous-harmony", default=None,
                        help="an earlier harmony.py, scored and timed beside the default (default: none)")
    return parser.parse_args(argv)


def load(path: str) -> Piece | None:
    with open(path, "rb") as fh:
        try:
            return from_midi_bytes(fh.read())
        except BadInput:
            return None


# --- key ------------------------------------------------------------------------

def key_scores(references: list[str], estimates: list[str]) -> tuple[float, float]:
    """(mean weighted score, exact share)."""
    s = [mir_eval.key.evaluate(r, e)["Weighted Score"] for r, e in zip(references, estimates)]
    return float(np.mean(s)), float(np.mean(np.asarray(s) == 1.0))


# --- chords ---------------------------------------------------------------------

def to_harte(label: str) -> str:
    """captune label → Harte (``'Bbm7'`` → ``'Bb:min7'``, ``'N'`` → ``'N'``)."""
    if label == "N":
        return "N"
    root = label[:2] if len(label) > 1 and label[1] in "#b" else label[:1]
    pitch_class(root)
    return f"{root}:{HARTE_QUALITY[label[len(root):]]}"


def segments_to_mir(segments: list[dict], end_s: float) -> tuple[np.ndarray, list[str]]:
    if not segments:
        return np.asarray([[0.0, max(end_s, 1e-3)]]), ["N"]
    return (np.asarray([[s["start_s"], s["end_s"]] for s in segments]),
            [to_harte(s["label"]) for s in segments])


class ChordTally:
    """Duration-weighted chord symbol recall summed over a corpus (seconds right / seconds evaluated)."""

    def __init__(self):
        self.right = {"majmin": 0.0, "sevenths": 0.0}
        self.total = {"majmin": 0.0, "sevenths": 0.0}

    def add(self, ref_int, ref_lab, est_int, est_lab):
        est_int, est_lab = mir_eval.util.adjust_intervals(est_int, est_lab, ref_int.min(), ref_int.max(),
                                                          mir_eval.chord.NO_CHORD, mir_eval.chord.NO_CHORD)
        intervals, ref, est = mir_eval.util.merge_labeled_intervals(ref_int, ref_lab, est_int, est_lab)
        durations = mir_eval.util.intervals_to_durations(intervals)
        for metric in self.right:
            comparison = getattr(mir_eval.chord, metric)(ref, est)
            valid = comparison >= 0
            self.right[metric] += float(np.sum(comparison[valid] * durations[valid]))
            self.total[metric] += float(np.sum(durations[valid]))

    def score(self, metric: str) -> float:
        return self.right[metric] / self.total[metric] if self.total[metric] else float("nan")


def nottingham_reference(piece: Piece, entry: dict | None) -> tuple[np.ndarray, list[str]] | None:
    """Time-stamped chord reference of a Nottingham tune, or None when it does not line up with the MIDI.

    The MIDI pads a pickup to a full bar, so music21's offsets (first note at 0) are shifted to the
    first MIDI note; the tune with repeats expanded, or else as written, must then end within one
    quarter note of the MIDI."""
    if not entry:
        return None
    shift_q = piece.onset.min() / piece.tpq
    end_q = piece.end_tick / piece.tpq
    for version in ("expanded", "written"):
        v = entry.get(version)
        if v and v["chords"] and abs(v["length_q"] + shift_q - end_q) <= 1.0:
            onsets_q = np.asarray([c[0] for c in v["chords"]]) + shift_q
            onsets_s = piece.seconds(onsets_q * piece.tpq)
            return chord_intervals(onsets_s, [c[1] for c in v["chords"]], piece.duration_s)
    return None


# --- tempo and beats from onsets ------------------------------------------------

def performance_piece(piece: Piece, rng: np.random.Generator, jitter_s: float) -> Piece:
    """``piece`` as a performance recording would store it: one 120 bpm tempo event, notes at
    their real seconds plus Gaussian jitter, on a 480-tick grid (960 ticks per second)."""
    on_s = piece.seconds(piece.onset)
    off_s = piece.seconds(piece.onset + piece.duration)
    on_j = np.maximum(on_s + rng.normal(0.0, jitter_s, len(on_s)), 0.0)
    off_j = np.maximum(off_s + rng.normal(0.0, jitter_s, len(on_s)), on_j + 0.01)
    tpq, per_s = 480, 960.0
    onset = np.round(on_j * per_s).astype(np.int64)
    duration = np.maximum(np.round(off_j * per_s).astype(np.int64) - onset, 1)
    order = np.lexsort((piece.pitch, onset))
    return Piece(tpq=tpq, onset=onset[order], duration=duration[order], pitch=piece.pitch[order],
                 velocity=piece.velocity[order], track=piece.track[order], track_program=piece.track_program,
                 tempo_tick=np.zeros(1, np.int64), tempo_mspq=np.full(1, 500_000.0),
                 ts_tick=np.zeros(1, np.int64), ts_numerator=np.full(1, 4, np.int16),
                 ts_denominator=np.full(1, 4, np.int16))


def tempo_row(reference_bpm: np.ndarray, estimate_bpm: np.ndarray, f_measures: list[float]) -> str:
    ratio = estimate_bpm / reference_bpm
    within = np.abs(ratio - 1) <= 0.04
    octave = within.copy()
    for factor in (2.0, 0.5, 3.0, 1 / 3):
        octave |= np.abs(ratio / factor - 1) <= 0.04
    return f"{within.mean():.1%} | {octave.mean():.1%} | {np.mean(f_measures):.3f}"


def evaluate_tempo(corpora: str, n_songs: int, jitter_ms: float, seed: int) -> list[str]:
    songs = sorted(os.path.dirname(item.path) for item in pop909_corpus(corpora).items)
    songs = sorted(random.Random(seed).sample(songs, min(n_songs, len(songs))))
    rng = np.random.default_rng(seed)
    rows = {"map": ([], [], []), "fake": ([], [], []), "onsets": ([], [], [])}
    detected = {"map": 0, "fake": 0}
    for song in songs:
        piece = load(os.path.join(song, os.path.basename(song) + ".mid"))
        reference = pop909_beats(song)
        ref_bpm = 60.0 / np.median(np.diff(reference))
        perf = performance_piece(piece, rng, jitter_ms / 1000.0)
        detected["map"] += lacks_tempo_map(piece)
        detected["fake"] += lacks_tempo_map(perf)
        ref_trim = mir_eval.beat.trim_beats(reference)
        for name, p, est in (("map", piece, None), ("fake", perf, None), ("onsets", perf, onset_beats(perf))):
            if est is None:  # what the file's tempo map and notated grid say
                bpm, beat_s = map_tempo(p)["tempo_bpm"], np.asarray(notated_beats(p)["beats_s"])
            else:
                bpm, beat_s = est["tempo_bpm"], np.asarray(est["beats_s"])
            rows[name][0].append(ref_bpm)
            rows[name][1].append(bpm)
            rows[name][2].append(mir_eval.beat.f_measure(ref_trim, mir_eval.beat.trim_beats(beat_s)))
    title = {"map": "original file: its tempo map and notated grid (reference; not performance MIDI)",
             "fake": "performance file: its 120 bpm map and grid (baseline: what captune reported before)",
             "onsets": "captune onsets (tempo_source='onsets')"}
    lines = [f"## Tempo and beats from onsets: {len(songs)} POP909 songs as performance MIDI "
             f"(no tempo map, jitter {jitter_ms:g} ms) vs beat_midi.txt\n",
             f"Detected as lacking a tempo map: {detected['fake']}/{len(songs)} performance files, "
             f"{detected['map']}/{len(songs)} original files (songs stored at a lone 120 bpm with off-grid onsets, "
             "listed below).\n",
             "| method | tempo within 4% | within 4% (octave errors allowed) | beat F-measure |",
             "|---|---:|---:|---:|"]
    for name in ("fake", "onsets", "map"):
        ref, est, f = rows[name]
        lines.append(f"| {title[name]} | {tempo_row(np.asarray(ref), np.asarray(est, float), f)} |")
    return lines + [""] + real_performance_files(corpora)


def real_performance_files(corpora: str) -> list[str]:
    """Every POP909 song the detector flags as it is stored (a lone 120 bpm and off-grid onsets):
    the file's own tempo and grid against captune's onset estimate, per song."""
    lines = ["POP909 songs that, as stored, carry a lone 120 bpm and onsets off the tick grid "
             "(flagged by the detector among all 909):", "",
             "| song | reference bpm | map bpm | onsets bpm | beat F (notated grid) | beat F (onsets) |",
             "|---|---:|---:|---:|---:|---:|"]
    for item in pop909_corpus(corpora).items:
        piece = load(item.path)
        if piece is None or not lacks_tempo_map(piece):
            continue
        song = os.path.dirname(item.path)
        reference = pop909_beats(song)
        ref_trim = mir_eval.beat.trim_beats(reference)
        est = onset_beats(piece)
        grid = np.asarray(notated_beats(piece)["beats_s"])
        f_grid = mir_eval.beat.f_measure(ref_trim, mir_eval.beat.trim_beats(grid))
        f_onsets = mir_eval.beat.f_measure(ref_trim, mir_eval.beat.trim_beats(np.asarray(est["beats_s"])))
        lines.append(f"| {item.name} | {60.0 / np.median(np.diff(reference)):.1f} | "
                     f"{map_tempo(piece)['tempo_bpm']:.1f} | {est['tempo_bpm']:.1f} | "
                     f"{f_grid:.3f} | {f_onsets:.3f} |")
    return lines


# --- driver -----------------------------------------------------------------------

def load_previous(path: str | None):
    """An earlier ``harmony.py`` (e.g. ``git show REV:captune/extractors/midi/harmony.py > FILE``) as a
    module, or None: the chord labeller before this release (run by :func:`previous_chords`)."""
    if not path:
        return None
    spec = importlib.util.spec_from_file_location("previous_harmony", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def previous_chords(module, piece: Piece, key_name: str, changes: list[dict]) -> list[dict]:
    """The previous labeller's chords. A module whose ``harmony_labels`` takes the beats and bar lines
    runs inside ``chords()`` in place of the current one (the same beats, beat phase and bar lines as
    the default, so only the labeller differs); an older one on the notated half beats."""
    if "downbeats" in inspect.signature(module.harmony_labels).parameters:
        name = "captune.extractors.midi.harmony"
        current = sys.modules[name]
        sys.modules[name] = module  # chords() imports harmony_labels and subdivide from here when called
        try:
            return chords(piece, key_name, key_changes=changes)
        finally:
            sys.modules[name] = current
    frames = module.subdivide(chord_module._beat_bounds(piece))
    labels = module.harmony_labels(piece, frames, key_name, changes)
    return chord_module.respell(chord_module._merge(piece, frames, labels), changes)


def analyse_item(path: str, previous=None) -> dict:
    """Keys and chord segments of one file by captune (default, plain and, given ``previous``, the
    previous labeller), with the seconds each chord method took. The piece is settled as the
    pipeline settles it (:func:`bar_inference.settle`: an implausible meter is replaced by the bar
    inferred from the notes, which sets the beats and bar lines the labeller works on)."""
    piece = load(path)
    if piece is None:
        return {"key": UNKNOWN}
    piece, _ = settle(piece)
    k = key(piece)
    name = k["key"] if k else None
    result = {"key": name or UNKNOWN, "end_s": piece.duration_s, "seconds": {}}
    if not name:
        return result | {"harmony": [], "plain": [], "previous": []}
    changes = key_changes(piece, name)
    methods = {"harmony": lambda: chords(piece, name, key_changes=changes),
               "plain": lambda: chords(piece, name, method="plain")}
    if previous is not None:
        methods["previous"] = lambda: previous_chords(previous, piece, name, changes)
    for method, run in methods.items():
        started = time.perf_counter()
        result[method] = run()
        result["seconds"][method] = time.perf_counter() - started
    return result


def evaluate_corpus(title: str, items, refs, sample: int, seed: int, cache: str | None = None,
                    previous=None) -> tuple[list[str], dict]:
    """Key and chord tables of one corpus; ``refs`` maps item name → (intervals, labels) or None;
    music21's keys through ``cache`` (:func:`key_agreement.music21_keys`)."""
    results = [analyse_item(item.path, previous) for item in items]
    chosen = sorted(random.Random(seed).sample(range(len(items)), min(sample, len(items))))
    m21 = music21_keys([items[i].path for i in chosen], cache)
    refs_key = [item.reference for item in items]
    est_key = [r["key"] for r in results]
    base_w, base_x = key_scores([refs_key[i] for i in chosen], m21)
    cap_w_s, cap_x_s = key_scores([refs_key[i] for i in chosen], [est_key[i] for i in chosen])
    cap_w, cap_x = key_scores(refs_key, est_key)
    lines = [f"## {title}\n", "### Key\n",
             "| method | items | weighted score | exact | weighted vs baseline |", "|---|---:|---:|---:|---:|",
             f"| music21 analyze('key') (baseline) | {len(chosen)} | {base_w:.3f} | {base_x:.1%} | 1.00x |",
             f"| captune (same sample) | {len(chosen)} | {cap_w_s:.3f} | {cap_x_s:.1%} | {cap_w_s / base_w:.2f}x |",
             f"| captune (all items) | {len(items)} | {cap_w:.3f} | {cap_x:.1%} | |", ""]
    methods = ["plain", "harmony"] + (["previous"] if previous is not None else [])
    tallies = {method: [ChordTally(), ChordTally()] for method in methods}  # even, odd items
    seconds = dict.fromkeys(methods, 0.0)
    rank = {name: i for i, name in enumerate(sorted(item.name for item in items))}  # halves in name order
    used = 0
    for item, r in zip(items, results):
        ref = refs.get(item.name)
        if ref is None or r["key"] == UNKNOWN:
            continue
        used += 1
        for method in methods:
            tallies[method][rank[item.name] % 2].add(ref[0], ref[1], *segments_to_mir(r[method], r["end_s"]))
            seconds[method] += r["seconds"][method]
    totals = {}
    for method, (even, odd) in tallies.items():
        total = ChordTally()
        for half in (even, odd):
            for metric in total.right:
                total.right[metric] += half.right[metric]
                total.total[metric] += half.total[metric]
        totals[method] = total
    names = {"plain": "plain template matcher (baseline)", "previous": "previous harmony labeller",
             "harmony": "captune harmony (default)"}
    lines += [f"### Chords ({used} items with a reference, duration-weighted; "
              "even / odd items in name order, the tuning split)\n",
              "| method | majmin | sevenths | majmin even / odd | majmin vs baseline | seconds |",
              "|---|---:|---:|---:|---:|---:|"]
    for method in ["plain"] + (["previous"] if previous is not None else []) + ["harmony"]:
        t, (even, odd) = totals[method], tallies[method]
        lines.append(f"| {names[method]} | {t.score('majmin'):.3f} | {t.score('sevenths'):.3f} | "
                     f"{even.score('majmin'):.3f} / {odd.score('majmin'):.3f} | "
                     f"{t.score('majmin') / totals['plain'].score('majmin'):.2f}x | {seconds[method]:.1f} |")
    lines.append("")
    h = totals["harmony"]
    return lines, {"key": cap_w, "majmin": h.score("majmin")}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    previous = load_previous(args.previous_harmony)
    dcml = dcml_corpus(args.corpora)
    dcml_refs = {f"{row['corpus']}/{row['piece']}": (np.asarray([c[:2] for c in row["chords"]]).reshape(-1, 2),
                                                     [c[2] for c in row["chords"]])
                 for row in dcml_rows(args.corpora) if row["chords"]}
    lines, _ = evaluate_corpus(f"DCML: {len(dcml.items)} classical movements (theorists' labels)",
                               dcml.items, dcml_refs, len(dcml.items), args.seed, args.music21_cache, previous)
    print("\n".join(lines), flush=True)
    pop = pop909_corpus(args.corpora)
    pop_refs = {item.name: pop909_chords(os.path.dirname(item.path)) for item in pop.items}
    lines, _ = evaluate_corpus("POP909: 909 songs (labels are algorithmic: agreement, not truth)",
                               pop.items, pop_refs, args.sample, args.seed, args.music21_cache, previous)
    print("\n".join(lines), flush=True)
    notts = nottingham_corpus(args.corpora)
    table = nottingham_chords(args.corpora)
    notts_refs, skipped = {}, 0
    for item in notts.items:
        piece = load(item.path)
        ref = nottingham_reference(piece, table.get(item.name)) if piece else None
        skipped += ref is None
        if ref is not None:
            notts_refs[item.name] = ref
    lines, _ = evaluate_corpus(f"Nottingham: {len(notts.items)} tunes in major/minor keys "
                               f"({skipped} without a chord reference that lines up with the MIDI)",
                               notts.items, notts_refs, args.sample, args.seed, args.music21_cache, previous)
    print("\n".join(lines), flush=True)
    lines = evaluate_tempo(args.corpora, args.tempo_songs, args.jitter_ms, args.seed)
    print("\n".join(lines), flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s. Reproduce: python benchmarks/accuracy.py --corpora "
          f"{shlex.quote(args.corpora)} --sample {args.sample} --tempo-songs {args.tempo_songs} "
          f"--jitter-ms {args.jitter_ms:g} --seed {args.seed}"
          + (f" --music21-cache {shlex.quote(args.music21_cache)}" if args.music21_cache else "")
          + (f" --previous-harmony {shlex.quote(args.previous_harmony)}" if args.previous_harmony else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
