"""Captions from extracted music facts.

``caption(facts, rng)``: MidiCaps-style template caption (``template``).
``control_sentences(facts, rng=None)``: MusicBench-style control sentences (``control``).
"""

from captune.captioners.control import control_sentences
from captune.captioners.template import caption

__all__ = ["caption", "control_sentences"]
