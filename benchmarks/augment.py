"""Speed and metamorphic agreement of MusicBench-style variants (``captune.augment``).

Every source gets the 11 default variants of :func:`captune.augment.plan.variants`
(6 pitch shifts, 4 tempo changes, 1 volume ramp). Measured in one run:

- MIDI (``--midi-songs`` random POP909 songs ``NNN/NNN.mid``), one process:
  variants/s of transform + relabel (:func:`augment.midi.apply` +
  :func:`augment.labels.rewrite`), and of transform + relabel + re-extraction
  (:func:`captune.extractors.midi.extract`) + :func:`augment.verify.check`;
  baseline: analysis of the original file (decode + ``extract``), files/s.
- Audio (planetblupi ``.ogg`` recordings, ``--clips-per-file`` 10 s clips cut at
  30 s, 90 s, 150 s ... of each file), one process: variants/s of
  :func:`augment.audio.apply` (Rubber Band via pedalboard); baselines: decoding
  (essentia ``MonoLoader``, 44.1 kHz mono, whole file, per 10 s of audio) and
  analysing a clip (key + tempo below).
- Agreement: the facts of the original, rewritten for the variant, against the
  facts extracted again from the variant (``verify.check``: same tonic and mode;
  bpm within 4 %). MIDI facts from ``captune.extractors.midi.extract``; audio facts
  from essentia directly (``KeyExtractor`` key, ``RhythmExtractor2013``
  multifeature bpm), since captune's audio extractor is being written. Run on
  ``--workers`` processes (agreement only, not timed).

Ratios are per core: variants/s divided by the baseline's items/s, both single process.

    python benchmarks/augment.py [--corpora /work/shared/corpora] [--midi-songs 100] [--clips-per-file 3]
"""

import argparse
import glob
import os
import random
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from captune.augment import audio, labels, midi as amidi, plan, verify
from captune.extractors import midi

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpora import DEFAULT_CORPORA, PLANETBLUPI, pop909_song_dirs  # noqa: E402

SR = 44100
CLIP_S = 10.0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default=DEFAULT_CORPORA, help="folder holding pop909/ (default %(default)s)")
    parser.add_argument("--midi-songs", type=int, default=100, help="POP909 songs (default %(default)s)")
    parser.add_argument("--timed-songs", type=int, default=30,
                        help="of those, songs timed in one process (default %(default)s)")
    parser.add_argument("--clips-per-file", type=int, default=3, help="10 s clips per .ogg (default %(default)s)")
    parser.add_argument("--timed-clips", type=int, default=5, help="clips timed in one process (default %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the agreement runs (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample and the variants (default %(default)s)")
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------
# MIDI
# ---------------------------------------------------------------------------

def midi_agreement(args) -> list[tuple[str, dict]]:
    """(variant kind, verify.check result) for every variant of one MIDI file."""
    path, seed = args
    with open(path, "rb") as fh:
        data = fh.read()
    facts = midi.extract(midi.from_midi_bytes(data))
    out = []
    for v in plan.variants(os.path.basename(path), facts["duration_s"], seed):
        found = midi.extract(midi.from_midi_bytes(amidi.apply(data, v)))
        out.append((v["kind"], verify.check(labels.rewrite(facts, v), found)))
    return out


def time_midi(paths: list[str], seed: int) -> dict:
    """Seconds spent per stage over ``paths`` (one process)."""
    blobs = []
    for p in paths:
        with open(p, "rb") as fh:
            blobs.append((os.path.basename(p), fh.read()))
    t = {"analyse": 0.0, "transform": 0.0, "verify": 0.0, "variants": 0}
    for name, data in blobs:
        start = time.perf_counter()
        facts = midi.extract(midi.from_midi_bytes(data))
        t["analyse"] += time.perf_counter() - start
        for v in plan.variants(name, facts["duration_s"], seed):
            start = time.perf_counter()
            out, expected = amidi.apply(data, v), labels.rewrite(facts, v)
            middle = time.perf_counter()
            verify.check(expected, midi.extract(midi.from_midi_bytes(out)))
            t["transform"] += middle - start
            t["verify"] += time.perf_counter() - start
            t["variants"] += 1
    return t


# ---------------------------------------------------------------------------
# Audio
# ---------------------------------------------------------------------------

def load(path: str) -> np.ndarray:
    import essentia.standard as es

    return es.MonoLoader(filename=path, sampleRate=SR)()


def clips(path: str, count: int) -> list[tuple[str, np.ndarray]]:
    """``count`` 10 s clips starting at 30 s, 90 s, 150 s ..."""
    x = load(path)
    n = int(CLIP_S * SR)
    starts = [int((30 + 60 * i) * SR) for i in range(count)]
    return [(f"{os.path.basename(path)}@{s // SR}s", x[s: s + n]) for s in starts if s + n <= len(x)]


def audio_facts(x: np.ndarray) -> dict:
    """Key and bpm with essentia (``KeyExtractor``, ``RhythmExtractor2013`` multifeature)."""
    import essentia.standard as es

    tonic, scale, _ = es.KeyExtractor(sampleRate=SR)(x)
    bpm = float(es.RhythmExtractor2013(method="multifeature")(x)[0])
    return {"key": f"{tonic} {scale}", "tempo_bpm": round(bpm, 2), "duration_s": len(x) / SR}


def audio_agreement(args) -> list[tuple[str, dict]]:
    name, x, seed = args
    facts = audio_facts(x)
    return [(v["kind"], verify.check(labels.rewrite(facts, v), audio_facts(audio.apply(x, SR, v))))
            for v in plan.variants(name, facts["duration_s"], seed)]


def time_audio(paths: list[str], sample: list[tuple[str, np.ndarray]], seed: int) -> dict:
    t = {"decode": 0.0, "decoded_s": 0.0, "analyse": 0.0, "clips": 0, "variants": 0,
         **{k: 0.0 for k in plan.KINDS[1:]}, **{f"n_{k}": 0 for k in plan.KINDS[1:]}}
    for p in paths:
        start = time.perf_counter()
        x = load(p)
        t["decode"] += time.perf_counter() - start
        t["decoded_s"] += len(x) / SR
    for name, x in sample:
        start = time.perf_counter()
        audio_facts(x)
        t["analyse"] += time.perf_counter() - start
        t["clips"] += 1
        for v in plan.variants(name, CLIP_S, seed):
            start = time.perf_counter()
            audio.apply(x, SR, v)
            t[v["kind"]] += time.perf_counter() - start
            t[f"n_{v['kind']}"] += 1
            t["variants"] += 1
    return t


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def agreement_table(title: str, results: list[tuple[str, dict]]) -> None:
    by_kind = defaultdict(list)
    for kind, r in results:
        by_kind[kind].append(r)
        by_kind["all"].append(r)
    print(f"\n{title}\n\n| variants | n | key_ok | tempo_ok | key n/a | tempo n/a |\n|---|---|---|---|---|---|")
    for kind in (*plan.KINDS[1:], "all"):
        rs = by_kind.get(kind, [])
        if not rs:
            continue
        row = [kind, str(len(rs))]
        for field in ("key_ok", "tempo_ok"):
            known = [r[field] for r in rs if r[field] is not None]
            row.append(f"{np.mean(known):.1%}" if known else "-")
        row += [str(sum(r[f] is None for r in rs)) for f in ("key_ok", "tempo_ok")]
        print("| " + " | ".join(row) + " |")


def main(argv=None) -> None:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    songs = [os.path.join(d, os.path.basename(d) + ".mid") for d in pop909_song_dirs(args.corpora)]
    songs = sorted(rng.sample(songs, min(args.midi_songs, len(songs))))
    oggs = sorted(glob.glob(os.path.join(PLANETBLUPI, "*.ogg")))

    tm = time_midi(songs[: args.timed_songs], args.seed)
    sample = [c for p in oggs for c in clips(p, args.clips_per_file)]
    ta = time_audio(oggs[:2], sample[: args.timed_clips], args.seed)

    files_s = args.timed_songs / tm["analyse"]
    print("\n## Speed, one process (per core)\n\n| work | items/s | ratio to baseline |\n|---|---|---|")
    print(f"| MIDI baseline: analyse original (decode + extract), files | {files_s:.2f} | 1.00 |")
    for label, key in (("MIDI variants: transform + relabel", "transform"),
                       ("MIDI variants: transform + relabel + re-extract + check", "verify")):
        rate = tm["variants"] / tm[key]
        print(f"| {label} | {rate:.2f} | {rate / files_s:.2f} |")
    decode = ta["decoded_s"] / CLIP_S / ta["decode"]
    analyse = ta["clips"] / ta["analyse"]
    print(f"| audio baseline: decode .ogg, 10 s clips | {decode:.2f} | 1.00 |")
    print(f"| audio baseline: analyse a 10 s clip (essentia key + bpm) | {analyse:.2f} | {analyse / decode:.3f} |")
    for kind in plan.KINDS[1:]:
        rate = ta[f"n_{kind}"] / ta[kind]
        print(f"| audio variants: {kind}, 10 s clips | {rate:.2f} | {rate / decode:.3f} |")
    rate = ta["variants"] / sum(ta[k] for k in plan.KINDS[1:])
    print(f"| audio variants: the 11 defaults, 10 s clips | {rate:.2f} | {rate / decode:.3f} |")

    with ProcessPoolExecutor(args.workers) as pool:
        midi_results = [r for rs in pool.map(midi_agreement, [(p, args.seed) for p in songs]) for r in rs]
        audio_results = [r for rs in pool.map(audio_agreement, [(n, x, args.seed) for n, x in sample]) for r in rs]
    agreement_table(f"## Agreement, POP909 ({len(songs)} songs, captune MIDI extractor)", midi_results)
    agreement_table(f"## Agreement, planetblupi ({len(sample)} clips of 10 s, essentia key + bpm)", audio_results)


if __name__ == "__main__":
    main()
