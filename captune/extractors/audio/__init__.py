"""Facts from audio. Pure functions on :class:`Audio` (mono float32 at 44.1 kHz).

>>> from captune.extractors import audio
>>> a = audio.from_audio_bytes(open("song.ogg", "rb").read(), ".ogg")
>>> facts = audio.extract(a)
>>> facts["key"], facts["tempo_bpm"], facts["loudness_lufs"]

:func:`render_midi` turns MIDI bytes into :class:`Audio` with FluidSynth.
"""

from captune.extractors.audio.decode import Audio, clips, from_audio_bytes, to_flac_bytes
from captune.extractors.audio.facts import extract
from captune.extractors.audio.render import render_midi

__all__ = ["Audio", "clips", "extract", "from_audio_bytes", "render_midi", "to_flac_bytes"]
