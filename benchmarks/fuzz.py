"""Fuzz benchmark (issue 16): mutated MIDI, score and audio files, built twice, idle and under CPU load.

From one seed it writes N_MIDI mutated MIDI files and N_OTHER mutated scores (MusicXML, ABC, .mxl)
and audio files (WAV) into a folder, then builds it with ``captune build`` (the CLI, DirectRunner,
two workers) twice: once on the machine as it is, once while one busy-loop process per core keeps
every core loaded. It reports:

- the exit status of each run (target 0),
- whether ``inputs = sources + file_failures + duplicates + near_duplicates`` holds,
- the peak memory of the whole process tree (launcher, Beam workers, isolated analysis children),
  summed RSS sampled every 0.2 s (target < 2 GiB),
- whether the two runs wrote the same bytes (shards and failure lists) (target: identical),
- the failure reasons and wall times.

Mutations (each file draws one or more): byte flips, truncation, a random chunk inserted or deleted,
a duplicated region, an absurd tempo event, a huge tick division, dangling note-ons, a time signature
of x/128; scores: text cut, tags deleted, a ZIP bomb member; audio: header fields rewritten (channels,
rate, sizes), samples replaced by noise or NaN, truncation.

    nice -n 10 python benchmarks/fuzz.py [--seed 16] [--midi 1000] [--other 100] [--workers 2] [--keep DIR]
"""

import argparse
import hashlib
import io
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import threading
import time
import wave
import zipfile

import numpy as np
import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from fixtures import committed_files, make_midi, melody, progression_piece  # noqa: E402


def base_midis() -> list[bytes]:
    return [progression_piece(("C", "Am", "F", "G"), bpm=120, meter=(4, 4), repeats=2),
            progression_piece(("Em", "Am", "B7", "Em"), bpm=96, meter=(3, 4), repeats=2),
            make_midi([(0, False, melody([60, 62, 64, 65, 67, 69, 71, 72] * 2))], tempo_bpm=140),
            make_midi([(0, False, melody([57, 60, 64, 60] * 4, step=0.5))], tempo_bpm=[(0, 80), (8, 160)])]


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    kind = rng.choice(["flip", "truncate", "insert", "delete", "duplicate", "flips"])
    if kind in ("flip", "flips"):
        for _ in range(1 if kind == "flip" else rng.randint(2, 40)):
            i = rng.randrange(len(b))
            b[i] = rng.randrange(256)
    elif kind == "truncate":
        b = b[:rng.randrange(1, len(b))]
    elif kind == "insert":
        i = rng.randrange(len(b))
        b[i:i] = rng.randbytes(rng.randint(1, 200))
    elif kind == "delete":
        i = rng.randrange(len(b))
        del b[i:i + rng.randint(1, 200)]
    else:
        i = rng.randrange(len(b))
        b[i:i] = b[i:i + rng.randint(1, 500)]
    return bytes(b)


def _smf(tpq: int, events: bytes) -> bytes:
    track = events + b"\x00\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(track)) + track)


def special_midi(rng: random.Random) -> bytes:
    kind = rng.choice(["absurd_tempo", "huge_division", "dangling", "ts128"])
    if kind == "absurd_tempo":
        return _smf(1, b"\x00\xff\x51\x03\x00\x00" + bytes([rng.randint(1, 5)]) + b"\x00\x90\x3c\x50"
                    + b"\xfa\xd6\x08\x80\x3c\x00")
    if kind == "huge_division":
        return _smf(0x7FFF, b"\x00\x90\x3c\x50\x81\x80\x00\x80\x3c\x00")
    if kind == "dangling":
        return _smf(480, b"".join(b"\x83\x60\x90" + bytes([60 + i, 80]) for i in range(rng.randint(1, 20))))
    return make_midi([(0, False, melody([60, 64, 67, 72] * 4, step=0.25))], time_signature=(rng.randint(1, 9), 128))


def midi_files(n: int, rng: random.Random) -> list[tuple[str, bytes]]:
    bases = base_midis()
    out = []
    for i in range(n):
        if rng.random() < 0.1:
            data = special_midi(rng)
        else:
            data = rng.choice(bases)
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                data = mutate_bytes(data, rng) if data else data
        out.append((f"midi/m{i:04d}.mid", data))
    return out


def score_and_audio_files(n: int, rng: random.Random) -> list[tuple[str, bytes]]:
    from music21 import corpus

    xml = open(corpus.getWork("bwv66.6"), "rb").read()  # .mxl (a ZIP)
    with zipfile.ZipFile(io.BytesIO(xml)) as z:
        inner = z.read([n for n in z.namelist() if n.endswith(".xml") and "META" not in n][0])
    abc = (b"X:1\nT:Fuzz\nM:6/8\nL:1/8\nK:G\n\"G\"GAB c2d|\"D\"e2f g2a|\"G\"b3 g3|\"C\"e2d c2B|\"D\"A3 D3|\n")
    sr = 22050
    t = np.arange(sr * 2) / sr
    tone = (0.4 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    out = []
    for i in range(n):
        kind = rng.choice(["xml", "abc", "mxl", "wav", "wav"])
        if kind == "xml":
            out.append((f"other/s{i:03d}.musicxml", mutate_bytes(inner, rng)))
        elif kind == "abc":
            out.append((f"other/s{i:03d}.abc", mutate_bytes(abc * rng.randint(1, 3), rng)))
        elif kind == "mxl":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("META-INF/container.xml",
                           '<container><rootfiles><rootfile full-path="s.xml"/></rootfiles></container>')
                body = inner if rng.random() < 0.7 else inner + b" " * (100 * 2 ** 20)  # a ZIP bomb sometimes
                z.writestr("s.xml", mutate_bytes(body, rng) if rng.random() < 0.5 else body)
            out.append((f"other/s{i:03d}.mxl", buffer.getvalue()))
        else:
            channels = rng.choice([1, 2, 8])
            buffer = io.BytesIO()
            with wave.open(buffer, "wb") as w:
                w.setnchannels(channels)
                w.setsampwidth(2)
                w.setframerate(sr)
                w.writeframes(np.repeat(tone[:, None], channels, axis=1).tobytes())
            out.append((f"other/a{i:03d}.wav", mutate_bytes(buffer.getvalue(), rng) if rng.random() < 0.7
                        else buffer.getvalue()))
    return out


class TreeMemory:
    """Peak summed RSS (bytes) of a process and all its descendants, sampled every ``every_s``."""

    def __init__(self, pid: int, every_s: float = 0.2):
        self.proc, self.every_s, self.peak = psutil.Process(pid), every_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.is_set():
            try:
                procs = [self.proc] + self.proc.children(recursive=True)
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            time.sleep(self.every_s)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(2)
        return self.peak


def run_build(src: str, out: str, workers: int) -> dict:
    env = {**os.environ, "PYTHONPATH": ROOT}
    started = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "captune.pipelines.cli", "build", src, "--output", out,
                             "--direct_num_workers", str(workers)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    memory = TreeMemory(proc.pid)
    stdout, stderr = proc.communicate()
    peak = memory.stop()
    return {"rc": proc.returncode, "wall_s": time.time() - started, "peak_rss": peak, "stdout": stdout,
            "stderr": stderr}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--midi", type=int, default=1000)
    parser.add_argument("--other", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", help="folder for the corpus and outputs (default: a temporary folder)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = args.keep or tempfile.mkdtemp(prefix="captune-fuzz-")
    src = os.path.join(work, "src")
    files = midi_files(args.midi, rng) + score_and_audio_files(args.other, rng)
    for name, data in files:
        os.makedirs(os.path.dirname(os.path.join(src, name)), exist_ok=True)
        with open(os.path.join(src, name), "wb") as fh:
            fh.write(data)
    idle = run_build(src, os.path.join(work, "idle"), args.workers)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        loaded = run_build(src, os.path.join(work, "loaded"), args.workers)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    rows = []
    results = {}
    for name, run in (("idle", idle), ("loaded", loaded)):
        if run["rc"] != 0:
            print(f"{name}: rc {run['rc']}\n{run['stderr'][-3000:]}")
            results[name] = None
            continue
        with open(os.path.join(work, name, "manifest.json")) as fh:
            manifest = json.load(fh)
        digest = {f: hashlib.sha256(data).hexdigest() for f, data in committed_files(os.path.join(work, name)).items()}
        c = manifest["counts"]
        holds = c["inputs"] == c["sources"] + c["file_failures"] + c["duplicates"] + c["near_duplicates"]
        results[name] = (digest, c)
        rows.append((name, run["rc"], c["inputs"], c["sources"], c["rows"], c["failures"], holds,
                     f"{run['peak_rss'] / 2 ** 30:.2f}", f"{run['wall_s']:.0f}"))
    print(f"fuzz benchmark: seed {args.seed}, {args.midi} MIDI + {args.other} scores/audio, "
          f"{args.workers} workers, {len(files)} files")
    print("| run | rc | inputs | sources | rows | failures | invariant | peak RSS of the tree (GiB) | wall s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(v) for v in r) + " |")
    same = all(results.values()) and results["idle"][0] == results["loaded"][0]
    print(f"identical bytes idle vs loaded: {same}")
    if results.get("idle"):
        print("failures by reason (idle):")
        for reason, n in results["idle"][1]["failures_by_reason"].items():
            print(f"  {reason:<32} {n}")
    if not same and all(results.values()):
        a, b = results["idle"][1], results["loaded"][1]
        print("counts differ:", {k: (a[k], b[k]) for k in a if a[k] != b[k]})
    ok = same and all(r[1] == 0 and r[6] for r in rows) and all(float(r[7]) < 2 for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
