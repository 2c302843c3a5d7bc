"""Key of audio.

Conventions: keys are strings like ``'Eb major'`` (:mod:`captune.extractors.pitch`).
Method: essentia ``KeyExtractor`` (HPCP over 4096-sample frames, then the
``Key`` profile match) with profile ``DEFAULT_PROFILE``, chosen by measurement
on 20 POP909 songs rendered with :mod:`.render` (``benchmarks/audio.py``, mir_eval
weighted score): ``bgate`` 0.820 (essentia's default; ``shaath`` ties), ``edma``
0.770, ``krumhansl`` 0.725, ``temperley`` 0.515, ``diatonic`` 0.500.
``key_confidence`` is its strength (correlation, clipped to [0, 1]).
``Key`` does not expose its runner-up, so ``key_alternative`` is the best of
the other 23 keys when the mean chroma of the piece (:mod:`.chroma`) is ranked
by the Krumhansl-Schmuckler correlation of the MIDI path
(:func:`captune.extractors.midi.key.correlations`, its default profile).
"""

import essentia.standard as es
import numpy as np

from captune.extractors.midi.key import correlations
from captune.extractors.pitch import key_name, pitch_class

DEFAULT_PROFILE = "bgate"
PROFILES = ("bgate", "edma", "krumhansl", "temperley", "shaath", "diatonic")  # compared in the benchmark


def key_of(samples: np.ndarray, profile: str = DEFAULT_PROFILE) -> tuple[str, float]:
    """(key, strength) of mono 44.1 kHz ``samples`` by ``KeyExtractor(profileType=profile)``."""
    tonic, scale, strength = es.KeyExtractor(profileType=profile)(samples)
    return key_name(pitch_class(tonic), scale), float(strength)


def key(samples: np.ndarray, mean_chroma: np.ndarray, profile: str | None = None) -> dict:
    """``{'key', 'key_confidence', 'key_alternative'}``; all None when the chroma is flat (no pitch)."""
    chroma = np.asarray(mean_chroma, dtype=np.float64)
    if np.ptp(chroma) <= 1e-9 * max(chroma.max(), 1e-12):
        return {"key": None, "key_confidence": None, "key_alternative": None}
    name, strength = key_of(samples, profile or DEFAULT_PROFILE)
    ranked = np.argsort(-correlations(chroma), kind="stable")
    names = [key_name(int(row) % 12, "major" if row < 12 else "minor") for row in ranked]
    return {"key": name, "key_confidence": round(min(max(strength, 0.0), 1.0), 4),
            "key_alternative": next(n for n in names if n != name)}
