"""One input file → its modality and facts: the musical work of one item.

``analyze(data, name)`` picks the decoder from the file name's suffix (MIDI, score
or audio), decodes, checks the duration limit and extracts the facts of the whole
file (clips, rendering and variants: :mod:`captune.items`). Every problem, expected or a bug,
raises :class:`BadInput` with ``stage`` set to ``decode`` or ``extract``.
"""

import os

from captune.extractors import midi
from captune.extractors.errors import BadInput
from captune.extractors.midi.key import DEFAULT_PROFILE
from captune.extractors.score import SCORE_SUFFIXES, score_to_midi

MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".rmi", ".smf")
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".aif", ".aiff", ".m4a")
DEFAULT_MAX_DURATION_S = 900.0  # MidiCaps skipped files over 15 minutes


def modality_of(name: str) -> str | None:
    """``'midi'``, ``'score'``, ``'audio'`` or None for a file name, by its suffix."""
    suffix = os.path.splitext(name)[1].lower()
    if suffix in MIDI_SUFFIXES:
        return "midi"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in SCORE_SUFFIXES:
        return "score"
    return None


def load_symbolic(data: bytes, name: str, max_duration_s: float = DEFAULT_MAX_DURATION_S
                  ) -> tuple[bytes, midi.Piece]:
    """(Standard MIDI File bytes, piece) of a MIDI file or a score (music21 writes the score's MIDI),
    refusing pieces over ``max_duration_s`` seconds."""
    modality = modality_of(name)
    if modality not in ("midi", "score"):
        raise BadInput("unsupported_format", f"no symbolic decoder for {os.path.splitext(name)[1] or 'a file without suffix'}")
    try:
        smf, options = score_to_midi(data, os.path.splitext(name)[1].lower()) if modality == "score" else (data, {})
        piece = midi.from_midi_bytes(smf, **options)
    except BadInput:
        raise
    except Exception as exc:  # a decoder bug must still become a failure record
        raise BadInput("parse_error", f"{type(exc).__name__}: {exc}") from exc
    if piece.duration_s > max_duration_s:
        raise BadInput("too_long", f"{piece.duration_s:.0f} s is over the {max_duration_s:.0f} s limit")
    return smf, piece


def guarded(fn, *args):
    """``fn(*args)``, any exception but :class:`BadInput` turned into ``BadInput('extract_error')``."""
    try:
        return fn(*args)
    except BadInput:
        raise
    except Exception as exc:
        raise BadInput("extract_error", f"{type(exc).__name__}: {exc}", stage="extract") from exc


def analyze(data: bytes, name: str, max_duration_s: float = DEFAULT_MAX_DURATION_S,
            key_profile: str = DEFAULT_PROFILE, emotion_model: str | None = None) -> dict:
    """``{'modality', **facts}`` for one whole file; see :func:`captune.extractors.midi.extract` and
    :func:`captune.extractors.audio.extract`.

    ``key_profile`` names a symbolic key profile (audio uses its own, see
    :mod:`captune.extractors.audio.key`). ``emotion_model``: None for the default emotion model, or a saved model's JSON text
    (picklable and parsed once per process; see :mod:`captune.extractors.emotion`).
    """
    if modality_of(name) == "audio":
        from captune.extractors import audio, emotion

        recording = audio.from_audio_bytes(data, os.path.splitext(name)[1].lower(), max_duration_s)
        facts = guarded(audio.extract, recording)
        return {"modality": "audio", **facts, **emotion.estimate(facts, emotion_model)}
    _, piece = load_symbolic(data, name, max_duration_s)
    return {"modality": modality_of(name), **guarded(midi.extract, piece, key_profile, emotion_model)}
