"""Facts from symbolic music. Every function takes a :class:`Piece`.

>>> from captune.extractors import midi
>>> piece = midi.from_midi_bytes(open("song.mid", "rb").read())
>>> midi.key(piece)["key"], midi.tempo(piece)["tempo_bpm"], midi.time_signature(piece)
"""

from captune.extractors.midi.chords import chords
from captune.extractors.midi.facts import extract
from captune.extractors.midi.instruments import instruments
from captune.extractors.midi.key import key
from captune.extractors.midi.meter import beats, time_signature
from captune.extractors.midi.notes import note_stats
from captune.extractors.midi.piece import Piece, from_midi_bytes, from_score
from captune.extractors.midi.progression import progression_summary
from captune.extractors.midi.tempo import tempo

__all__ = ["Piece", "beats", "chords", "extract", "from_midi_bytes", "from_score", "instruments", "key",
           "note_stats", "progression_summary", "tempo", "time_signature"]
