"""Test helpers: a tiny Standard MIDI File writer (on ``mido``, independent of the
symusic parser under test), known-answer pieces built from music theory, and
module-level functions for the ``Isolated`` runner tests (a ``spawn`` child must
import them by name, so they live here and not in a test module).

Times are in beats = quarter notes (the MIDI convention). A note is
``(start_beat, duration_beats, pitch, velocity)``; a track is
``(program, is_drum, notes)``. Drum tracks go on channel 10 (index 9).
"""

import io
import json
import os
import struct
import time
import wave
from pathlib import Path

import mido
import numpy as np
import pyarrow.parquet as pq

# ---------------------------------------------------------------------------
# Note names and chord voicings, written from music theory (not from captune).
# ---------------------------------------------------------------------------

_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def note(name: str) -> int:
    """MIDI number of a scientific pitch name: ``'C4'`` = 60, ``'F#3'`` = 54, ``'Bb2'`` = 46."""
    letter, rest = name[0].upper(), name[1:]
    alter = 0
    while rest and rest[0] in "#b":
        alter += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    return 12 * (int(rest) + 1) + _LETTER_PC[letter] + alter


def notes(*names: str) -> list[int]:
    return [note(n) for n in names]


# Semitones above the root for each chord quality, as taught: a major third is 4
# semitones, a minor third 3, a perfect fifth 7, a diminished fifth 6, a minor
# seventh 10 and a major seventh 11.
CHORD_INTERVALS = {
    "": (0, 4, 7),            # major triad: M3 + P5
    "m": (0, 3, 7),           # minor triad: m3 + P5
    "dim": (0, 3, 6),         # diminished triad: m3 + d5
    "aug": (0, 4, 8),         # augmented triad: M3 + A5
    "7": (0, 4, 7, 10),       # dominant seventh: major triad + m7
    "maj7": (0, 4, 7, 11),    # major seventh: major triad + M7
    "m7": (0, 3, 7, 10),      # minor seventh: minor triad + m7
    "m7b5": (0, 3, 6, 10),    # half-diminished: diminished triad + m7
}


def split_label(label: str) -> tuple[str, str]:
    """``'F#m7'`` → ``('F#', 'm7')``."""
    root = label[0]
    if len(label) > 1 and label[1] in "#b":
        root += label[1]
    return root, label[len(root):]


def chord_voicing(label: str, octave: int = 4) -> list[int]:
    """Close root-position voicing of ``label`` with the root in ``octave``."""
    root, quality = split_label(label)
    base = note(f"{root}{octave}")
    return [base + i for i in CHORD_INTERVALS[quality]]


def chord_root(label: str, octave: int = 2) -> int:
    return note(f"{split_label(label)[0]}{octave}")


# ---------------------------------------------------------------------------
# The MIDI writer.
# ---------------------------------------------------------------------------

def make_midi(tracks, tempo_bpm=120, time_signature=(4, 4), tpq: int = 480,
              channels=None) -> bytes:
    """Format-1 SMF bytes.

    ``tempo_bpm``: a number, a list of ``(beat, bpm)`` changes, or None (no
    tempo event: the SMF default 120 applies). ``time_signature``: ``(num, den)``,
    a list of ``(beat, num, den)``, or None (no event). Tempo and meter go in a
    conductor track 0; each entry of ``tracks`` becomes one more track on its own
    channel (drums on channel index 9) with a program change at time 0.
    """
    mid = mido.MidiFile(type=1, ticks_per_beat=tpq)

    def tick(beat):
        return int(round(beat * tpq))

    conductor = []
    if tempo_bpm is not None:
        changes = [(0, tempo_bpm)] if isinstance(tempo_bpm, (int, float)) else list(tempo_bpm)
        for beat, bpm in changes:
            conductor.append((tick(beat), 0, mido.MetaMessage("set_tempo", tempo=round(60_000_000 / bpm))))
    if time_signature is not None:
        sigs = [(0, *time_signature)] if len(time_signature) == 2 and isinstance(time_signature[0], int) \
            else list(time_signature)
        for beat, num, den in sigs:
            conductor.append((tick(beat), 0, mido.MetaMessage("time_signature", numerator=num, denominator=den)))
    mid.tracks.append(_to_track(conductor))

    melodic_channels = iter([c for c in range(16) if c != 9])
    for i, (program, is_drum, track_notes) in enumerate(tracks):
        if channels is not None:
            channel = channels[i]
        else:
            channel = 9 if is_drum else next(melodic_channels)
        events = [(0, 0, mido.Message("program_change", program=program, channel=channel))]
        for start, dur, pitch, vel in track_notes:
            on, off = tick(start), tick(start + dur)
            events.append((on, 2, mido.Message("note_on", note=pitch, velocity=vel, channel=channel)))
            events.append((off, 1, mido.Message("note_off", note=pitch, velocity=0, channel=channel)))
        mid.tracks.append(_to_track(events))
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def to_format0(data: bytes) -> bytes:
    """The same music as a format-0 file: all tracks merged into one."""
    src = mido.MidiFile(file=io.BytesIO(data))
    out = mido.MidiFile(type=0, ticks_per_beat=src.ticks_per_beat)
    out.tracks.append(mido.merge_tracks(src.tracks))
    buf = io.BytesIO()
    out.save(file=buf)
    return buf.getvalue()


def _to_track(events) -> mido.MidiTrack:
    """(tick, order, message) → a track with delta times; at equal ticks meta
    events first, then note-offs, then note-ons."""
    track = mido.MidiTrack()
    now = 0
    for t, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=t - now))
        now = t
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


# ---------------------------------------------------------------------------
# Known-answer pieces.
# ---------------------------------------------------------------------------

PIANO, BASS, DRUMS_KIT = 0, 33, 0
KICK, SNARE, CLOSED_HAT = 36, 38, 42


def bar_beats(meter) -> float:
    """Quarter notes in one bar of ``meter`` = (num, den)."""
    num, den = meter
    return num * 4 / den


def drum_pattern(n_bars: int, meter=(4, 4)) -> list[tuple]:
    """Per bar of a simple meter: kick on beat 1, snare on the other beats,
    closed hi-hat on every eighth; every hit lasts half a beat."""
    num, den = meter
    beat = 4 / den
    bar = bar_beats(meter)
    hits = []
    for b in range(n_bars):
        t0 = b * bar
        for k in range(num):
            hits.append((t0 + k * beat, beat / 2, KICK if k == 0 else SNARE, 100))
        for k in range(2 * num):
            hits.append((t0 + k * beat / 2, beat / 2, CLOSED_HAT, 70))
    return hits


def progression_tracks(chords, meter=(4, 4), bars_per_chord=1, repeats=1, with_bass=True,
                       with_drums=True, voicings=None):
    """Tracks for block chords (piano, one attack per bar, held to the bar
    line) + bass roots (program 33, one per bar) + a drum pattern."""
    bar = bar_beats(meter)
    voicings = voicings or {}
    piano, bass = [], []
    t = 0.0
    for _ in range(repeats):
        for label in chords:
            for _ in range(bars_per_chord):
                if label != "N":
                    for p in voicings.get(label) or chord_voicing(label):
                        piano.append((t, bar, p, 80))
                    if with_bass:
                        bass.append((t, bar, chord_root(label), 90))
                t += bar
    n_bars = int(round(t / bar))
    tracks = [(PIANO, False, piano)]
    if with_bass:
        tracks.append((BASS, False, bass))
    if with_drums:
        tracks.append((DRUMS_KIT, True, drum_pattern(n_bars, meter)))
    return tracks


def progression_piece(chords=("Em", "C", "G", "D"), bpm=96, meter=(3, 4), bars_per_chord=1, repeats=4,
                      with_bass=True, with_drums=True, voicings=None, tpq=480) -> bytes:
    """MIDI bytes of ``chords`` as block chords, each held ``bars_per_chord``
    bars, the whole progression played ``repeats`` times."""
    tracks = progression_tracks(chords, meter, bars_per_chord, repeats, with_bass, with_drums, voicings)
    return make_midi(tracks, tempo_bpm=bpm, time_signature=meter, tpq=tpq)


def melody(pitches, start=0.0, step=1.0, dur=None, velocity=80):
    """One note per ``step`` beats, each ``dur`` beats long (default legato)."""
    dur = step if dur is None else dur
    return [(start + i * step, dur, p, velocity) for i, p in enumerate(pitches)]


# ---------------------------------------------------------------------------
# Songs with a known form: 8-bar phrases in 4/4, each a melody over two-bar chords.
# ---------------------------------------------------------------------------

# Verse: quarter notes around E4-C5, a breath (half rest) at the end of the phrase.
VERSE = [[(0, 1, "E4"), (1, 1, "G4"), (2, 1, "A4"), (3, 1, "G4")], [(0, 2, "E4"), (2, 1, "D4"), (3, 1, "C4")],
         [(0, 1, "D4"), (1, 1, "E4"), (2, 1, "F4"), (3, 1, "A4")], [(0, 3, "G4")],
         [(0, 1, "A4"), (1, 1, "C5"), (2, 1, "B4"), (3, 1, "A4")], [(0, 1, "G4"), (1, 1, "E4"), (2, 2, "G4")],
         [(0, 1, "F4"), (1, 1, "E4"), (2, 1, "D4"), (3, 1, "E4")], [(0, 2, "C4")]]
# Chorus: eighths then quarters, an octave higher than the verse.
CHORUS = [[(0, .5, "C5"), (.5, .5, "D5"), (1, .5, "E5"), (1.5, .5, "G5"), (2, 1, "A5"), (3, 1, "G5")],
          [(0, .5, "E5"), (.5, .5, "D5"), (1, .5, "C5"), (1.5, .5, "D5"), (2, 2, "E5")],
          [(0, .5, "F5"), (.5, .5, "F5"), (1, .5, "E5"), (1.5, .5, "D5"), (2, 1, "C5"), (3, 1, "D5")],
          [(0, .5, "E5"), (.5, .5, "G5"), (1, 1, "A5"), (2, 2, "G5")],
          [(0, .5, "A5"), (.5, .5, "A5"), (1, .5, "G5"), (1.5, .5, "E5"), (2, 1, "F5"), (3, 1, "E5")],
          [(0, .5, "D5"), (.5, .5, "E5"), (1, .5, "F5"), (1.5, .5, "A5"), (2, 2, "G5")],
          [(0, .5, "F5"), (.5, .5, "E5"), (1, .5, "D5"), (1.5, .5, "B4"), (2, 1, "D5"), (3, 1, "B4")],
          [(0, 2, "C5")]]
# A folk tune's two strains.
STRAIN_A = [[(0, 1, "G4"), (1, 1, "B4"), (2, 1, "D5"), (3, 1, "B4")], [(0, 1, "A4"), (1, 1, "F#4"), (2, 2, "D4")],
            [(0, 1, "G4"), (1, .5, "A4"), (1.5, .5, "B4"), (2, 1, "C5"), (3, 1, "A4")], [(0, 3, "B4")],
            [(0, 1, "D5"), (1, 1, "B4"), (2, 1, "G4"), (3, 1, "B4")], [(0, 1, "A4"), (1, 1, "C5"), (2, 2, "A4")],
            [(0, 1, "F#4"), (1, 1, "A4"), (2, 1, "E4"), (3, 1, "F#4")], [(0, 3, "G4")]]
STRAIN_B = [[(0, .5, "D5"), (.5, .5, "E5"), (1, 1, "F#5"), (2, 1, "G5"), (3, 1, "D5")], [(0, 2, "E5"), (2, 2, "C5")],
            [(0, .5, "B4"), (.5, .5, "C5"), (1, 1, "D5"), (2, 1, "G5"), (3, 1, "F#5")], [(0, 2, "E5"), (2, 1, "D5")],
            [(0, 1, "C5"), (1, 1, "E5"), (2, .5, "D5"), (2.5, .5, "C5"), (3, 1, "B4")], [(0, 2, "A4"), (2, 2, "D5")],
            [(0, 1, "B4"), (1, .5, "A4"), (1.5, .5, "G4"), (2, 1, "F#4"), (3, 1, "A4")], [(0, 3, "G4")]]


def phrase_notes(bars, start_bar: int, velocity: int = 80) -> list[tuple]:
    """Notes of a phrase given bar by bar as ``(beat in bar, beats, name)``, from ``start_bar`` (4/4)."""
    return [(4 * (start_bar + i) + beat, dur, note(name), velocity) for i, bar in enumerate(bars)
            for beat, dur, name in bar]


def form_song(parts, bpm: float = 120, tpq: int = 480) -> bytes:
    """A 4/4 song of 8-bar parts ``(melody bars or None, four chords of two bars, velocity)``:
    a melody track (program 73, flute) and block chords with a bass (program 0) in one track."""
    tune, accompaniment = [], []
    for k, (bars, chords, velocity) in enumerate(parts):
        if bars is not None:
            tune += phrase_notes(bars, 8 * k, velocity)
        for j, label in enumerate(chords):
            t = 4 * (8 * k + 2 * j)
            accompaniment += [(t, 8, p, velocity - 10) for p in chord_voicing(label, 3)]
            accompaniment += [(t + 4 * b, 4, chord_root(label), velocity - 10) for b in range(2)]
    return make_midi([(73, False, tune), (0, False, accompaniment)], tempo_bpm=bpm, tpq=tpq)


VERSE_CHORDS, CHORUS_CHORDS, INTRO_CHORDS = ("C", "Am", "F", "G"), ("F", "G", "Em", "Am"), ("C", "F", "C", "G")


def verse_chorus_song(bpm: float = 120) -> bytes:
    """Intro (chords only), verse, chorus, verse, chorus, outro (chords only): 8 bars each. The chorus
    is louder and denser than the verse."""
    intro, outro = (None, INTRO_CHORDS, 70), (None, ("F", "G", "C", "C"), 70)
    verse, chorus = (VERSE, VERSE_CHORDS, 70), (CHORUS, CHORUS_CHORDS, 100)
    return form_song([intro, verse, chorus, verse, chorus, outro], bpm)


def aabb_tune(bpm: float = 120) -> bytes:
    """A folk tune in G: strain A twice, strain B twice (8 bars each), melody over chords."""
    a, b = (STRAIN_A, ("G", "D", "G", "D"), 80), (STRAIN_B, ("C", "G", "Am", "D"), 80)
    return form_song([a, a, b, b], bpm)


# ---------------------------------------------------------------------------
# Audio: additive tones, clicks and WAV files with known key, tempo and chords.
# ---------------------------------------------------------------------------

SR = 44100


def hz(midi_number: int) -> float:
    return 440.0 * 2 ** ((midi_number - 69) / 12)


def tone(pitch: int, seconds: float, harmonics: int = 4) -> np.ndarray:
    """A harmonic tone (partials 1/h) with a 10 ms attack and an exponential decay."""
    t = np.arange(int(seconds * SR)) / SR
    wave_ = sum(np.sin(2 * np.pi * hz(pitch) * h * t) / h for h in range(1, harmonics + 1))
    envelope = np.minimum(t / 0.01, 1.0) * np.exp(-t / 1.5)
    return wave_ * envelope


def click(seconds: float) -> np.ndarray:
    """A percussive click: a 30 ms burst of seeded noise decaying in 5 ms."""
    t = np.arange(int(seconds * SR)) / SR
    noise = np.random.default_rng(0).standard_normal(len(t))
    return noise * np.exp(-t / 0.005) * (t < 0.03)


def progression_audio(labels, bpm: float, beats_per_chord: int = 4, repeats: int = 3) -> tuple[np.ndarray, list]:
    """(samples, [(start_s, end_s, label)]): block chords (root position in octave 4, root in
    octave 2) each held ``beats_per_chord`` beats, a click on every beat."""
    beat = 60.0 / bpm
    chord_s = beat * beats_per_chord
    sequence = list(labels) * repeats
    y = np.zeros(int((len(sequence) * chord_s + 1.0) * SR))
    spans = []
    for i, label in enumerate(sequence):
        start = int(i * chord_s * SR)
        pitches = chord_voicing(label, 4) + [note(f"{split_label(label)[0]}2")]
        sound = sum(tone(p, chord_s) for p in pitches)
        y[start:start + len(sound)] += sound
        spans.append((i * chord_s, (i + 1) * chord_s, label))
    for b in range(len(sequence) * beats_per_chord):
        start = int(b * beat * SR)
        c = 3.0 * click(0.05)
        y[start:start + len(c)] += c[:len(y) - start]
    return (0.5 * y / np.abs(y).max()).astype(np.float32), spans


def wav_bytes(samples: np.ndarray, rate: int = SR, channels: int = 1) -> bytes:
    """16-bit PCM WAV of ``samples`` (frames x channels, or mono) in [-1, 1]."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.round(np.asarray(samples) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def float_wav_bytes(samples: np.ndarray, rate: int = SR) -> bytes:
    """Mono 32-bit float WAV (format tag 3), written by hand: the wave module only writes PCM."""
    data = np.asarray(samples, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def sine(freq: float, seconds: float, amplitude: float, rate: int = SR) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)


# ---------------------------------------------------------------------------
# Functions run by captune.pipelines.isolation.Isolated in a spawn child.
# ---------------------------------------------------------------------------

class CustomFailure(RuntimeError):
    """An exception type only this module defines."""


def pid_after(seconds=0.0):
    """Sleep, then return the id of the process that ran the call."""
    time.sleep(seconds)
    return os.getpid()


PREPARED = []  # the processes in which prepare_slowly ran


def prepare_slowly():
    """A child's start-up work: one second of waiting, then a note of the process it ran in."""
    time.sleep(1.0)
    PREPARED.append(os.getpid())


def prepared_pids():
    """What :func:`prepare_slowly` noted in this process."""
    return list(PREPARED)


def pid_after_busy(seconds=0.0):
    """Keep a core busy for ``seconds`` of CPU time, then return the id of the process that ran the call."""
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
    return os.getpid()


def pid_or_exit(code=None):
    """The process id, or end the process at once with exit ``code``."""
    if code is not None:
        os._exit(code)
    return os.getpid()


def raise_custom(message):
    raise CustomFailure(message)


def raise_bad_input(reason, detail, stage):
    from captune.extractors.errors import BadInput
    raise BadInput(reason, detail, stage=stage)


# ---------------------------------------------------------------------------
# Small builds.
# ---------------------------------------------------------------------------
# An ABC tune book: a file header, three tunes in G major 4/4, D major 3/4 and A
# minor 2/4 (8, 9 and 6 quarter notes long: L:1/8 from the header unless the
# tune sets L:), and a tune without notes.
# ---------------------------------------------------------------------------

ABC_BOOK_HEADER = b"""% A tune book written for the tests
L:1/8
"""

ABC_BOOK_TUNES = [b"""X:1
T:In G
M:4/4
K:G
GABc d2B2|A2F2 G4|]
""", b"""X:2
T:In D
M:3/4
L:1/4
K:D
D F A|d2 c|d3|]
""", b"""X:3
T:In A minor
M:2/4
K:Am
A,CEA|B^GE2|A4|]
""", b"""X:4
T:Silent
M:4/4
K:C
"""]

ABC_BOOK = ABC_BOOK_HEADER + b"\n" + b"\n".join(ABC_BOOK_TUNES)

# A single jig in D major, 6/8, Q:3/8=80 (120 quarters a minute), four bars played twice.
ABC_JIG = b"""X:1
T:Test jig
M:6/8
L:1/8
Q:3/8=80
K:D
|:DFA dAF|GBd gdB|AFD DFA|E3 E3:|
"""

# ---------------------------------------------------------------------------

IN_MEMORY = ["--direct_running_mode", "in_memory", "--direct_num_workers", "1"]  # Beam flags: one process


def two_piece_corpus(root):
    """A folder with an E minor piece (Em Am B7 Em, 3/4, 96 bpm) and a C major melody at 120 bpm."""
    root.mkdir()
    (root / "e_minor.mid").write_bytes(progression_piece(("Em", "Am", "B7", "Em"), bpm=96, meter=(3, 4), repeats=2))
    (root / "c_major.mid").write_bytes(make_midi([(0, False, melody([60, 62, 64, 65, 67, 69, 71, 72]))],
                                                 tempo_bpm=120))
    return root


def shard_files(out) -> list:
    """Paths of the shards the committed manifest of ``out`` lists, sorted."""
    manifest = json.loads((out / "manifest.json").read_text())
    return sorted(out / s["file"] for s in manifest["shards"])


def committed_files(out) -> dict[str, bytes]:
    """The bytes of the committed shards and lists of ``out``, by path inside the run folder (the run
    folder's name counts the builds the folder has seen, so two folders built alike differ only there)."""
    out = Path(out)
    manifest = json.loads((out / "manifest.json").read_text())
    files = [s["file"] for s in manifest["shards"]] + list(manifest["lists"].values())
    return {f.split("/", 2)[2]: (out / f).read_bytes() for f in files}


def read_rows(out) -> list[dict]:
    """Every row of the committed shards of ``out``, sorted by id."""
    return sorted((r for p in shard_files(out) for r in pq.read_table(p).to_pylist()), key=lambda r: r["id"])


def read_list(out, name: str = "failures") -> list[dict]:
    """The committed list ``failures``, ``duplicates`` or ``near_duplicates`` of ``out``."""
    manifest = json.loads((out / "manifest.json").read_text())
    path = out / manifest["lists"][name]
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
