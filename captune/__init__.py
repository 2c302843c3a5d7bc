"""captune: captioned music datasets from MIDI, score and audio corpora."""

import os

__version__ = "0.1.0"

# essentia's TensorFlow build (essentia-tensorflow, for --essentia-models) logs CUDA warnings on import
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
