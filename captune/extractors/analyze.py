"""One input file → its modality and facts: the musical work of one item.

``analyze(data, name)`` picks the decoder from the file name's suffix, decodes,
checks the duration limit and extracts. Every problem, expected or a bug,
raises :class:`BadInput` with ``stage`` set to ``decode`` or ``extract``.
"""

import os

from captune.extractors import midi
from captune.extractors.errors import BadInput
from captune.extractors.midi.key import DEFAULT_PROFILE
from captune.extractors.score import SCORE_SUFFIXES, from_score_bytes

MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".rmi", ".smf")
DEFAULT_MAX_DURATION_S = 900.0  # MidiCaps skipped files over 15 minutes


def modality_of(name: str) -> str | None:
    """``'midi'``, ``'score'`` or None for a file name, by its suffix."""
    suffix = os.path.splitext(name)[1].lower()
    if suffix in MIDI_SUFFIXES:
        return "midi"
    if suffix in SCORE_SUFFIXES:
        return "score"
    return None


def decode(data: bytes, name: str) -> tuple[str, midi.Piece]:
    """(modality, piece) for the bytes of the file called ``name``."""
    modality = modality_of(name)
    if modality == "midi":
        return modality, midi.from_midi_bytes(data)
    if modality == "score":
        return modality, from_score_bytes(data, os.path.splitext(name)[1].lower())
    raise BadInput("unsupported_format", f"no decoder for {os.path.splitext(name)[1] or 'a file without suffix'}")


def analyze(data: bytes, name: str, max_duration_s: float = DEFAULT_MAX_DURATION_S,
            key_profile: str = DEFAULT_PROFILE, emotion_model: str | None = None) -> dict:
    """``{'modality', **facts}`` for one file; see :func:`captune.extractors.midi.extract`.

    ``emotion_model``: None for the default emotion model, or a saved model's JSON text
    (picklable and parsed once per process; see :mod:`captune.extractors.emotion`).
    """
    try:
        modality, piece = decode(data, name)
    except BadInput:
        raise
    except Exception as exc:  # a decoder bug must still become a failure record
        raise BadInput("parse_error", f"{type(exc).__name__}: {exc}") from exc
    if piece.duration_s > max_duration_s:
        raise BadInput("too_long", f"{piece.duration_s:.0f} s is over the {max_duration_s:.0f} s limit",
                       stage="decode")
    try:
        return {"modality": modality, **midi.extract(piece, key_profile, emotion_model)}
    except Exception as exc:
        raise BadInput("extract_error", f"{type(exc).__name__}: {exc}", stage="extract") from exc
