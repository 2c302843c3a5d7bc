"""Pure functions from decoded input to facts. No Beam here.

``extractors.midi`` works on a :class:`~captune.extractors.midi.Piece`;
``extractors.analyze`` takes one file's bytes to its facts.
"""

from captune.extractors.analyze import analyze, load_symbolic, modality_of
from captune.extractors.errors import BadInput

__all__ = ["BadInput", "analyze", "load_symbolic", "modality_of"]
