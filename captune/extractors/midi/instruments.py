"""Instruments of a symbolic piece, ordered by how much they play.

Conventions: an instrument is a General MIDI program (0-127, 128 = drum kit,
see :mod:`captune.extractors.midi.gm`); tracks sharing a program are one
instrument. Prominence is the total sounding time of its notes in seconds
(MidiCaps ordered by note duration per channel too); ties go to the lower
program number. A piece whose instruments are not known (a score that names
none, ``Piece.instruments_known``) has none: empty lists, not a guessed piano.
"""

import numpy as np

from captune.extractors.midi.gm import GM_PROGRAM_NAMES
from captune.extractors.midi.piece import Piece


def instruments(piece: Piece) -> dict:
    """``{'instruments': [GM name, ...], 'instrument_programs': [program, ...], 'instrument_tracks':
    [program of each track, ...]}``. ``instrument_tracks`` is no column of the record: it lets a
    caption count parts ("a four-part choir")."""
    if not piece.instruments_known:
        return {"instruments": [], "instrument_programs": [], "instrument_tracks": []}
    seconds = piece.seconds(piece.onset + piece.duration) - piece.seconds(piece.onset)
    programs = piece.track_program[piece.track]
    played = np.bincount(programs, weights=seconds, minlength=129)
    present = np.unique(programs)
    order = sorted(present.tolist(), key=lambda p: (-played[p], p))
    return {"instruments": [GM_PROGRAM_NAMES[p] for p in order], "instrument_programs": order,
            "instrument_tracks": piece.track_program.tolist()}
