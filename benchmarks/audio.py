"""Speed and accuracy of captune's audio extractors and MIDI renderer.

Every table has a baseline measured in the same run:

- rendering: :func:`captune.extractors.audio.render_midi` (soundfont loaded once
  per process, 44.1 kHz) against the ``fluidsynth`` CLI called per file, which
  loads the soundfont every time, at 16 kHz as MidiCaps did and at 44.1 kHz;
  CPU seconds per song (the CLI's from ``getrusage`` of the child) and the ratio
  at the same rate (captune also renders at 16 kHz for that).
- real-time factor per core: audio seconds / CPU seconds of the process (CPU
  time, not wall time, since other work may share the machine's cores), of the
  full audio fact set (:func:`captune.extractors.audio.extract`) and of
  decoding, on the planetblupi ``.ogg`` recordings and on POP909 songs rendered
  with the renderer above.
- accuracy on the rendered POP909 songs against their annotations
  (``POP909/NNN/``; algorithmic labels, so agreement, not truth):
  key vs the first region of ``key_audio.txt`` (mir_eval weighted score and exact
  share) for every profile of ``captune.extractors.audio.key.PROFILES``, the
  default profile of essentia's ``KeyExtractor`` (``bgate``) as baseline;
  chords vs ``chord_midi.txt`` (mir_eval ``majmin`` recall weighted by duration,
  summed over songs), baseline essentia ``ChordsDetectionBeats`` on 12-bin HPCP
  (the essentia tutorial's chain) on the same beats; tempo within 4 % (and with
  octave errors allowed) of 60 / the median interval of ``beat_midi.txt``, for
  ``RhythmExtractor2013`` ``degara`` (captune's) and ``multifeature`` (essentia's
  default); downbeats vs the third column of ``beat_midi.txt`` (mir_eval beat
  F-measure), baseline every fourth tracked beat from the first.

    python benchmarks/audio.py [--songs 20] [--blupi 10] [--seed 0] [--corpora /work/shared/corpora]
"""

import argparse
import glob
import os
import random
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import essentia.standard as es
import mir_eval
import numpy as np

from captune.extractors.audio import extract, from_audio_bytes, render_midi
from captune.extractors.audio.key import DEFAULT_PROFILE, PROFILES, key_of
from captune.extractors.audio.render import _soundfont as load_soundfont
from captune.extractors.audio.render import default_soundfont
from captune.extractors.audio.rhythm import beat_times

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from accuracy import ChordTally, segments_to_mir  # noqa: E402
from corpora import (DEFAULT_CORPORA, pop909_beats, pop909_chords, pop909_first_key,  # noqa: E402
                     PLANETBLUPI, pop909_song_dirs)

ESSENTIA_DEFAULT_PROFILE = "bgate"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default=DEFAULT_CORPORA, help="folder holding pop909/")
    parser.add_argument("--songs", type=int, default=20, help="POP909 songs rendered (default %(default)s)")
    parser.add_argument("--blupi", type=int, default=4,
                        help="planetblupi tracks, shortest first (default %(default)s; all 10: 2.7 h of audio)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the song sample (default %(default)s)")
    return parser.parse_args(argv)


# --- per item (one process each) ---------------------------------------------------------

def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_seconds(midi_path: str, rate: int) -> float:
    """CPU seconds of one ``fluidsynth`` CLI render of ``midi_path`` to a WAV at ``rate``."""
    with tempfile.TemporaryDirectory() as tmp:
        start = _children_cpu()
        subprocess.run(["fluidsynth", "-ni", "-q", "-F", os.path.join(tmp, "out.wav"), "-r", str(rate),
                        default_soundfont(), midi_path], check=True, capture_output=True)
        return _children_cpu() - start


def hpcp_chords(samples: np.ndarray, beats: np.ndarray) -> list[dict]:
    """Baseline: essentia ``ChordsDetectionBeats`` on 12-bin HPCP (4096 / 2048 frames, essentia's tutorial chain)."""
    window, spectrum = es.Windowing(type="blackmanharris62"), es.Spectrum()
    peaks = es.SpectralPeaks(orderBy="magnitude", magnitudeThreshold=1e-5, minFrequency=20,
                             maxFrequency=3500, maxPeaks=60)
    hpcp = es.HPCP()
    frames = [hpcp(*peaks(spectrum(window(f)))) for f in es.FrameGenerator(samples, frameSize=4096, hopSize=2048)]
    if len(beats) < 2:
        return []
    labels, _ = es.ChordsDetectionBeats(hopSize=2048)(np.asarray(frames), beats.astype(np.float32))
    return [{"start_s": float(a), "end_s": float(b), "label": lab} for a, b, lab in zip(beats[:-1], beats[1:], labels)]


def pop909_item(song_dir: str) -> dict:
    """Render one POP909 song, time it against the CLI, extract its facts and every baseline."""
    number = os.path.basename(song_dir)
    midi_path = os.path.join(song_dir, f"{number}.mid")
    with open(midi_path, "rb") as fh:
        data = fh.read()
    start = time.process_time()
    render_midi(data, sr=16000)
    render16_s = time.process_time() - start
    start = time.process_time()
    audio = render_midi(data)
    render_s = time.process_time() - start
    start = time.process_time()
    facts = extract(audio)
    extract_s = time.process_time() - start
    y = audio.samples
    beats_mf = beat_times(y, "multifeature")
    return {"song": number, "duration_s": audio.duration_s, "render_s": render_s, "render16_s": render16_s,
            "extract_s": extract_s,
            "cli16_s": cli_seconds(midi_path, 16000), "cli44_s": cli_seconds(midi_path, 44100),
            "keys": {p: key_of(y, p)[0] for p in PROFILES}, "facts": facts,
            "tempo_multifeature": 60.0 / float(np.median(np.diff(beats_mf))) if len(beats_mf) > 1 else None,
            "baseline_chords": hpcp_chords(y, np.asarray(facts["beats_s"]))}


def blupi_item(path: str) -> dict:
    """Decode and extract one planetblupi track, timed."""
    with open(path, "rb") as fh:
        data = fh.read()
    start = time.process_time()
    audio = from_audio_bytes(data, ".ogg")
    decode_s = time.process_time() - start
    start = time.process_time()
    facts = extract(audio)
    return {"name": os.path.basename(path), "duration_s": audio.duration_s, "decode_s": decode_s,
            "extract_s": time.process_time() - start, "key": facts["key"], "tempo_bpm": facts["tempo_bpm"]}


def warm_up() -> None:
    """Load the soundfont once in each worker (what a pipeline worker's setup does)."""
    for rate in (16000, 44100):
        load_soundfont(default_soundfont(), rate)


# --- tables ------------------------------------------------------------------------------

def key_rows(items: list[dict], references: list[str]) -> list[str]:
    lines = ["| KeyExtractor profile | weighted score | exact |", "|---|---:|---:|"]
    for profile in PROFILES:
        scores = [mir_eval.key.evaluate(r, i["keys"][profile])["Weighted Score"] for r, i in zip(references, items)]
        tags = [t for t, on in (("captune default", profile == DEFAULT_PROFILE),
                                ("essentia default, baseline", profile == ESSENTIA_DEFAULT_PROFILE)) if on]
        name = f"{profile} ({', '.join(tags)})" if tags else profile
        lines.append(f"| {name} | {np.mean(scores):.3f} | {np.mean(np.asarray(scores) == 1.0):.1%} |")
    return lines


def chord_rows(items: list[dict], song_dirs: list[str]) -> list[str]:
    mine, base = ChordTally(), ChordTally()
    for item, song in zip(items, song_dirs):
        ref_int, ref_lab = pop909_chords(song)
        if not len(ref_lab):
            continue
        mine.add(ref_int, ref_lab, *segments_to_mir(item["facts"]["chords"], item["duration_s"]))
        base.add(ref_int, ref_lab, *segments_to_mir(item["baseline_chords"], item["duration_s"]))
    return ["| method | majmin recall (duration-weighted) |", "|---|---:|",
            f"| essentia ChordsDetectionBeats on HPCP (baseline) | {base.score('majmin'):.3f} |",
            f"| captune (chroma of NNLSChroma, templates, Viterbi) | {mine.score('majmin'):.3f} |"]


def tempo_rows(items: list[dict], song_dirs: list[str]) -> list[str]:
    ref = np.asarray([60.0 / np.median(np.diff(pop909_beats(s))) for s in song_dirs])
    lines = ["| RhythmExtractor2013 method | tempo within 4% | within 4%, octave errors allowed |", "|---|---:|---:|"]
    for name, est in (("multifeature (essentia default, baseline)", [i["tempo_multifeature"] for i in items]),
                      ("degara (captune)", [i["facts"]["tempo_bpm"] for i in items])):
        ratio = np.asarray([e if e else np.nan for e in est], dtype=float) / ref
        within = np.abs(ratio - 1) <= 0.04
        octave = within | np.any([np.abs(ratio / f - 1) <= 0.04 for f in (2.0, 0.5, 3.0, 1 / 3)], axis=0)
        lines.append(f"| {name} | {within.mean():.1%} | {octave.mean():.1%} |")
    return lines


def downbeat_rows(items: list[dict], song_dirs: list[str]) -> list[str]:
    mine, base = [], []
    for item, song in zip(items, song_dirs):
        rows = np.loadtxt(os.path.join(song, "beat_midi.txt"), ndmin=2)
        reference = mir_eval.beat.trim_beats(rows[rows[:, 2] == 1, 0])
        beats = np.asarray(item["facts"]["beats_s"])
        mine.append(mir_eval.beat.f_measure(reference, mir_eval.beat.trim_beats(
            np.asarray(item["facts"]["downbeats_s"] or []))))
        base.append(mir_eval.beat.f_measure(reference, mir_eval.beat.trim_beats(beats[::4])))
    return ["| method | downbeat F-measure (70 ms) |", "|---|---:|",
            f"| every fourth tracked beat from the first (baseline) | {np.mean(base):.3f} |",
            f"| captune: the phase of the chord changes | {np.mean(mine):.3f} |"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    songs = pop909_song_dirs(args.corpora)
    songs = sorted(random.Random(args.seed).sample(songs, min(args.songs, len(songs))))
    blupi = sorted(glob.glob(os.path.join(PLANETBLUPI, "*.ogg")), key=lambda p: (os.path.getsize(p), p))[:args.blupi]
    wall = time.perf_counter()
    with ProcessPoolExecutor(2, initializer=warm_up) as pool:
        pop = list(pool.map(pop909_item, songs))
        tracks = list(pool.map(blupi_item, blupi))
    command = shlex.join(sys.argv[1:] if argv is None else argv)
    print(f"# Audio extractors and renderer\n\n`python benchmarks/audio.py {command}`"
          f" — {len(songs)} POP909 songs, {len(tracks)} planetblupi tracks, 2 processes, "
          f"{time.perf_counter() - wall:.0f} s wall\n")
    mine, mine16, c16, c44 = (sum(i[k] for i in pop) for k in ("render_s", "render16_s", "cli16_s", "cli44_s"))
    audio_s = sum(i["duration_s"] for i in pop)
    print("## Rendering MIDI (CPU seconds per song; soundfont FluidR3_GM)\n")
    print("| renderer | CPU s per song | x real time | captune at the same rate faster by |\n|---|---:|---:|---:|")
    for name, total, ours in (("fluidsynth CLI per file, 16 kHz (MidiCaps)", c16, mine16),
                              ("captune render_midi, 16 kHz, soundfont loaded once", mine16, mine16),
                              ("fluidsynth CLI per file, 44.1 kHz", c44, mine),
                              ("captune render_midi, 44.1 kHz, soundfont loaded once", mine, mine)):
        print(f"| {name} | {total / len(pop):.2f} | {audio_s / total:.0f} | {total / ours:.2f}x |")
    print("\n## Real-time factor per core (audio s / CPU s)\n")
    print("| input | audio h | decode | extract (full fact set) | decode + extract |\n|---|---:|---:|---:|---:|")
    blupi_s = sum(t["duration_s"] for t in tracks)
    dec, ext = sum(t["decode_s"] for t in tracks), sum(t["extract_s"] for t in tracks)
    print(f"| planetblupi .ogg ({len(tracks)} tracks) | {blupi_s / 3600:.2f} | {blupi_s / dec:.0f} | "
          f"{blupi_s / ext:.0f} | {blupi_s / (dec + ext):.0f} |")
    pop_ext = sum(i["extract_s"] for i in pop)
    print(f"| POP909 rendered ({len(pop)} songs) | {audio_s / 3600:.2f} | (render {audio_s / mine:.0f}) | "
          f"{audio_s / pop_ext:.0f} | (render + extract {audio_s / (mine + pop_ext):.0f}) |")
    references = [pop909_first_key(os.path.join(s, "key_audio.txt")) for s in songs]
    print(f"\n## Key on rendered POP909 vs key_audio.txt (first region), {len(pop)} songs\n")
    print("\n".join(key_rows(pop, references)))
    print(f"\n## Chords on rendered POP909 vs chord_midi.txt, {len(pop)} songs\n")
    print("\n".join(chord_rows(pop, songs)))
    print(f"\n## Tempo on rendered POP909 vs beat_midi.txt (60 / median beat interval), {len(pop)} songs\n")
    print("\n".join(tempo_rows(pop, songs)))
    print(f"\n## Downbeats on rendered POP909 vs beat_midi.txt (third column), {len(pop)} songs\n")
    print("\n".join(downbeat_rows(pop, songs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
