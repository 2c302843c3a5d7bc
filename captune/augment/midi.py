"""Exact MIDI variants: transpose, rescale the tempo map, ramp the velocities.

Conventions: ``data`` is a Standard MIDI File; the variant is a dict of
:mod:`captune.augment.plan`. Times are in ticks and stay in ticks, so bars and
beats are untouched by every transform.

- ``pitch_shift``: every note of a non-drum track (symusic's ``is_drum``:
  channel 10) moves by ``semitones``; drum tracks are left alone. Key signature
  meta events move with the notes and take the conventional spelling of the new
  key (:func:`captune.extractors.pitch.key_name`: Eb major, 3 flats; never D#
  major). A note that would leave 0..127 fails the variant with
  ``BadInput('pitch_out_of_range')`` rather than being folded by an octave, so
  the rewritten labels (pitch range, key) stay exact.
- ``tempo_change``: every tempo of the map becomes ``bpm x tempo_ratio``
  (microseconds per quarter / ratio, rounded to the microsecond as MIDI
  stores them); a file without tempo events gets one at tick 0 (120 bpm x ratio).
- ``volume_change``: each note's velocity (drums too) is multiplied by
  :func:`captune.augment.plan.gain_curve` at its onset in seconds (through the
  tempo map), over the piece's duration (to the end of the last note), rounded
  and clamped to 1..127.
- ``original``: the bytes are returned unchanged.

Input symusic cannot read raises :class:`BadInput` (as in
:func:`captune.extractors.midi.from_midi_bytes`).
"""

import numpy as np
from symusic import KeySignature, Note, Score, Tempo

from captune.augment.plan import check, gain_curve
from captune.extractors.errors import BadInput
from captune.extractors.midi.piece import DEFAULT_MSPQ, from_score, load_score
from captune.extractors.pitch import key_name

_STAGE = "augment"
_FIFTHS = "FCGDAEB"  # letters in fifths


def apply(data: bytes, variant: dict) -> bytes:
    """MIDI bytes of ``variant`` of the file ``data`` (see module doc)."""
    kind = check(variant)["kind"]
    if kind == "original":
        return data
    score = load_score(data)
    if kind == "pitch_shift":
        _transpose(score, int(variant["semitones"]))
    elif kind == "tempo_change":
        _scale_tempo(score, float(variant["tempo_ratio"]))
    else:
        _ramp_velocity(score, variant)
    try:
        return score.dumps_midi()
    except Exception as exc:  # symusic raises RuntimeError on events it cannot encode
        raise BadInput("write_error", f"symusic could not write the variant: {exc}", stage=_STAGE) from exc


def _transpose(score: Score, semitones: int) -> None:
    for track in score.tracks:
        if track.is_drum or not track.note_num():
            continue
        pitch = track.notes.numpy()["pitch"].astype(np.int64) + semitones
        if pitch.min() < 0 or pitch.max() > 127:
            raise BadInput("pitch_out_of_range",
                           f"shifting by {semitones:+d} puts notes at {pitch.min()}..{pitch.max()}, outside 0..127",
                           stage=_STAGE)
    for track in score.tracks:
        if not track.is_drum:
            track.shift_pitch(semitones, inplace=True)
    score.key_signatures = KeySignature.from_numpy(*_shifted_signatures(score, semitones))


def _shifted_signatures(score: Score, semitones: int):
    """(time, key, tonality) arrays of the key signatures moved by ``semitones``.

    ``key`` counts sharps (negative: flats); ``tonality`` 0 major, 1 minor. The
    tonic of ``k`` sharps is ``7k`` semitones above C (major) or A (minor).
    """
    sig = score.key_signatures.numpy()
    keys = []
    for sharps, minor in zip(sig["key"], sig["tonality"]):
        mode = "minor" if minor else "major"
        tonic = (7 * int(sharps) + (9 if minor else 0) + semitones) % 12
        keys.append(_sharps(tonic, mode))
    return sig["time"], np.asarray(keys, dtype=sig["key"].dtype), sig["tonality"]


def _sharps(tonic_pc: int, mode: str) -> int:
    """Signature (sharps > 0, flats < 0) of the conventionally spelled key on ``tonic_pc``:
    the letter's place on the circle of fifths from C (major) or A (minor), +-7 per accidental."""
    tonic = key_name(tonic_pc, mode).split()[0]
    fifths = _FIFTHS.index(tonic[0]) - (4 if mode == "minor" else 1)
    return fifths + 7 * tonic.count("#") - 7 * tonic.count("b")


def _scale_tempo(score: Score, ratio: float) -> None:
    tempos = score.tempos.numpy()
    dtype = tempos["mspq"].dtype
    time, mspq = tempos["time"], tempos["mspq"].astype(np.float64)
    if not len(time) or time.min() > 0:  # the SMF default applies until the first event
        time, mspq = np.concatenate([[0], time]), np.concatenate([[DEFAULT_MSPQ], mspq])
    mspq = np.where(mspq > 0, mspq, DEFAULT_MSPQ)
    score.tempos = Tempo.from_numpy(time=time.astype(tempos["time"].dtype),
                                    mspq=np.maximum(np.round(mspq / ratio), 1).astype(dtype))


def _ramp_velocity(score: Score, variant: dict) -> None:
    piece = from_score(score)  # the extractor's own tick -> seconds mapping and duration
    for track in score.tracks:
        if not track.note_num():
            continue
        notes = track.notes.numpy()
        gain = gain_curve(piece.seconds(notes["time"]), variant, piece.duration_s)
        velocity = np.clip(np.round(notes["velocity"] * gain), 1, 127).astype(notes["velocity"].dtype)
        track.notes = Note.from_numpy(notes["time"], notes["duration"], notes["pitch"], velocity)
