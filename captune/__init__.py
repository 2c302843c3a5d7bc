"""captune: captioned music datasets from MIDI, score and audio corpora."""

__version__ = "0.1.0"
