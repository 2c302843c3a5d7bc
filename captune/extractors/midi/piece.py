"""``Piece``: a decoded symbolic item as flat numpy arrays.

Conventions: times in ticks (int64) with ``tpq`` ticks per quarter note; the
tempo map in microseconds per quarter (``mspq``) and time signatures apply from
their tick on. Notes of all tracks are concatenated in onset order and carry the index of
their track; ``track_program[i]`` is the GM program of track ``i`` (0-127, or
128 for a drum kit, by MidiCaps' rule: channel 10 is drums unless its program is
one of the percussive melodic instruments 112-119); a track left at program 0 whose
name holds a known instrument word ("Soprano", "Violin 1") takes that word's program
(:mod:`captune.extractors.midi.part_names`). ``tempo_known`` is False for
scores that state no tempo (their seconds then assume 120 bpm, the MIDI default).
``pickup_ticks`` is the length of an incomplete first bar (an anacrusis), known
for scores and 0 for MIDI files, which do not say. ``ts_declared`` is False when the
file holds no time-signature event (the 4/4 is then the SMF default); ``notated``
is True for a score, whose meter is the composer's; ``instruments_known`` is False for a
score that names no instrument (:func:`captune.extractors.score.states_instruments`), whose
tracks' program 0 is then the renderer's, not the music's.

Refused as ``BadInput`` (stage ``decode``): ``no_notes``; ``no_note_offs`` (note-ons that no
note-off ends, which symusic drops); ``absurd_tempo``: more quarter notes than ``MAX_BPM`` allows
in the piece's seconds (a tempo of 1 µs per quarter makes a beat grid of millions of frames for a
few seconds of music: the grids of the analysis are sized by beats, so this caps them by the music).
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from symusic import Score

from captune.extractors.errors import BadInput
from captune.extractors.midi.container import check_smf
from captune.extractors.midi.part_names import refine_programs

DEFAULT_MSPQ = 500_000  # 120 bpm, the Standard MIDI File default
MAX_BPM = 1000.0  # the schema's top tempo; a piece averaging more quarters per minute is refused
SLACK_QUARTERS = 16  # a very short piece may have a few fast quarters (grace-note runs, a flourish)
DRUM_PROGRAM = 128


@dataclass(frozen=True)
class Piece:
    """Notes, tempo map and time signatures of one symbolic item (see module doc)."""

    tpq: int
    onset: np.ndarray        # int64 ticks
    duration: np.ndarray     # int64 ticks
    pitch: np.ndarray        # int16 MIDI note number
    velocity: np.ndarray     # int16 1-127
    track: np.ndarray        # int32 index into track_program
    track_program: np.ndarray  # int16, 128 = drums
    tempo_tick: np.ndarray   # int64, first entry at tick 0
    tempo_mspq: np.ndarray   # float64 microseconds per quarter note
    ts_tick: np.ndarray      # int64, first entry at tick 0
    ts_numerator: np.ndarray
    ts_denominator: np.ndarray
    tempo_known: bool = True
    pickup_ticks: int = 0
    ts_declared: bool = True
    notated: bool = False
    instruments_known: bool = True

    def decode_options(self) -> dict:
        """What :func:`from_midi_bytes` was told besides the bytes (a score's tempo, pickup, notation and
        instruments), so that a rewritten rendering (an augmented variant) decodes the same way."""
        return {"tempo_known": self.tempo_known, "pickup_quarters": self.pickup_ticks / self.tpq,
                "notated": self.notated, "instruments_known": self.instruments_known}

    @cached_property
    def is_drum(self) -> np.ndarray:
        """Boolean mask over notes: True for notes on a drum-kit track (computed once, read-only)."""
        mask = self.track_program[self.track] == DRUM_PROGRAM
        mask.flags.writeable = False
        return mask

    @cached_property
    def end_tick(self) -> int:
        """Tick at which the last note ends (computed once)."""
        return int((self.onset + self.duration).max()) if len(self.onset) else 0

    @cached_property
    def _tempo_start_s(self) -> np.ndarray:
        """Seconds at which each tempo of the map takes effect."""
        seg_s = np.diff(self.tempo_tick) * self.tempo_mspq[:-1] / (1e6 * self.tpq)
        return np.concatenate([[0.0], np.cumsum(seg_s)])

    def seconds(self, ticks) -> np.ndarray:
        """Convert ticks (scalar or array) to seconds through the tempo map."""
        ticks = np.asarray(ticks, dtype=np.float64)
        i = np.maximum(np.searchsorted(self.tempo_tick, ticks, side="right") - 1, 0)
        return self._tempo_start_s[i] + (ticks - self.tempo_tick[i]) * self.tempo_mspq[i] / (1e6 * self.tpq)

    @property
    def duration_s(self) -> float:
        """Seconds from time 0 to the end of the last note."""
        return float(self.seconds(self.end_tick))


def _map_from_zero(ticks, values, default):
    """Sort events, keep the last per tick, and make sure one applies from tick 0."""
    ticks = np.asarray(ticks, dtype=np.int64)
    values = [np.asarray(v) for v in values]
    order = np.argsort(ticks, kind="stable")
    ticks, values = ticks[order], [v[order] for v in values]
    last_per_tick = np.append(ticks[1:] != ticks[:-1], True) if len(ticks) else np.zeros(0, bool)
    ticks, values = ticks[last_per_tick], [v[last_per_tick] for v in values]
    if not len(ticks) or ticks[0] > 0:
        ticks = np.concatenate([[0], ticks])
        values = [np.concatenate([[d], v]) for d, v in zip(default, values)]
    return ticks, values


def _program(track) -> int:
    if track.is_drum and not 111 < track.program < 120:
        return DRUM_PROGRAM
    return int(track.program)


def from_score(score: Score, tempo_known: bool = True, pickup_quarters: float = 0.0,
               notated: bool = False, instruments_known: bool = True) -> Piece:
    """Build a :class:`Piece` from a tick-based symusic ``Score``."""
    arrays, programs, names = [], [], []
    for i, tr in enumerate(t for t in score.tracks if t.note_num()):
        a = tr.notes.numpy()
        arrays.append((a["time"], a["duration"], a["pitch"], a["velocity"], np.full(len(a["time"]), i)))
        programs.append(_program(tr))
        names.append(tr.name)
    programs = refine_programs(programs, names, notated)
    if not arrays:
        raise BadInput("no_notes", "the file holds no notes")
    onset, duration, pitch, velocity, track = (np.concatenate(c) for c in zip(*arrays))
    order = np.lexsort((pitch, onset))
    tempos, sigs = score.tempos.numpy(), score.time_signatures.numpy()
    tempo_tick, (mspq,) = _map_from_zero(tempos["time"], [tempos["mspq"].astype(np.float64)], [DEFAULT_MSPQ])
    ts_tick, (num, den) = _map_from_zero(sigs["time"], [sigs["numerator"], sigs["denominator"]], [4, 4])
    mspq = np.where(mspq > 0, mspq, DEFAULT_MSPQ)
    piece = Piece(
        tpq=int(score.ticks_per_quarter),
        onset=onset[order].astype(np.int64),
        duration=np.maximum(duration[order], 0).astype(np.int64),
        pitch=pitch[order].astype(np.int16),
        velocity=velocity[order].astype(np.int16),
        track=track[order].astype(np.int32),
        track_program=np.asarray(programs, dtype=np.int16),
        tempo_tick=tempo_tick, tempo_mspq=mspq,
        ts_tick=ts_tick, ts_numerator=num.astype(np.int16), ts_denominator=np.maximum(den, 1).astype(np.int16),
        tempo_known=tempo_known,
        pickup_ticks=round(pickup_quarters * score.ticks_per_quarter),
        ts_declared=bool(len(sigs["time"])), notated=notated, instruments_known=instruments_known,
    )
    check_tempo_map(piece)
    return piece


def check_tempo_map(piece: Piece) -> None:
    """Raise ``BadInput('absurd_tempo')`` when the piece has more quarter notes than :data:`MAX_BPM`
    allows in its duration (plus :data:`SLACK_QUARTERS`)."""
    quarters = piece.end_tick / piece.tpq
    allowed = piece.duration_s * MAX_BPM / 60 + SLACK_QUARTERS
    if quarters > allowed:
        raise BadInput("absurd_tempo", f"{quarters:.0f} quarter notes in {piece.duration_s:.3g} s: a tempo map "
                                       f"over {MAX_BPM:.0f} bpm on average")


def _varlen(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            break
    return value, pos


def count_note_ons(data: bytes) -> int:
    """Note-on events with a velocity above 0 in the ``MTrk`` chunks of Standard MIDI File bytes (a walk
    of the events: delta times, running status, meta and sysex events skipped by their lengths)."""
    count, pos = 0, 8 + int.from_bytes(data[4:8], "big")
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4:pos + 8], "big")
        chunk, end, pos = data[pos:pos + 4], min(pos + 8 + size, len(data)), pos + 8
        status = 0
        try:
            while chunk == b"MTrk" and pos < end:
                _, pos = _varlen(data, pos)
                if data[pos] >= 0x80:
                    status, pos = data[pos], pos + 1
                if status == 0xFF:
                    length, pos = _varlen(data, pos + 1)
                    pos += length
                elif status in (0xF0, 0xF7):
                    length, pos = _varlen(data, pos)
                    pos += length
                elif 0xC0 <= status < 0xE0:
                    pos += 1
                elif status >= 0x80:
                    count += status >> 4 == 0x9 and data[pos + 1] > 0
                    pos += 2
                else:
                    break  # data without a status: stop reading this track
        except IndexError:  # a track cut short: what was read counts
            pass
        pos = end
    return count


def load_score(data: bytes) -> Score:
    """Standard MIDI File bytes → a tick-based symusic ``Score`` (raises :class:`BadInput`)."""
    data = check_smf(data)
    try:
        score = Score.from_midi(data)
    except Exception as exc:  # symusic raises RuntimeError/ValueError on malformed events
        raise BadInput("parse_error", f"symusic could not parse the MIDI: {exc}") from exc
    if score.ticks_per_quarter <= 0:
        raise BadInput("parse_error", "SMPTE or zero time division is not supported")
    return score


def from_midi_bytes(data: bytes, tempo_known: bool = True, pickup_quarters: float = 0.0,
                    notated: bool = False, instruments_known: bool = True) -> Piece:
    """Decode Standard MIDI File bytes into a :class:`Piece` (raises :class:`BadInput`); ``notated``:
    the bytes are a score's rendering."""
    score = load_score(data)
    try:
        return from_score(score, tempo_known=tempo_known, pickup_quarters=pickup_quarters, notated=notated,
                          instruments_known=instruments_known)
    except BadInput as exc:
        ons = count_note_ons(data) if exc.reason == "no_notes" else 0
        if ons:
            raise BadInput("no_note_offs", f"{ons} note-on(s) but no note-off ends any of them (a note needs "
                                           "both; a note-on of velocity 0 counts as a note-off)") from None
        raise
