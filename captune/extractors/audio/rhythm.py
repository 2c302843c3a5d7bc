"""Tempo and beats of audio.

Conventions: bpm are beats per minute of the tracked beat; times in seconds.
Method: essentia ``RhythmExtractor2013`` (``BEAT_METHOD``: ``'degara'``, the
Degara et al. 2012 probabilistic tracker on complex-spectral-difference onsets:
2.3 s of CPU for a 10-minute track against 9.3 s for ``'multifeature'``, with
the same tempo agreement on rendered POP909 in ``benchmarks/audio.py``). Slow
songs are often tracked at the eighth-note level (twice the annotated tempo).
``tempo_bpm`` is 60 over the median inter-beat interval of the tracked beats
(robust to a few missed beats), rounded to 0.01; ``tempo_changes`` is that one
global tempo at time 0 (no tempo curve is claimed); ``tempo_source`` is
``'audio'``. The time signature is not estimated (None); downbeats come from
the chord changes (:mod:`.downbeats`).
"""

import essentia.standard as es
import numpy as np

from captune.extractors.words import tempo_word

BEAT_METHOD = "degara"
MIN_BEATS = 4  # fewer tracked beats: no tempo


def beat_times(samples: np.ndarray, method: str = BEAT_METHOD) -> np.ndarray:
    """Beat times (s) of mono 44.1 kHz ``samples`` by ``RhythmExtractor2013(method)``."""
    return np.asarray(es.RhythmExtractor2013(method=method)(samples)[1], dtype=np.float64)


def rhythm(samples: np.ndarray, method: str = BEAT_METHOD) -> dict:
    """``{'tempo_bpm', 'tempo_word', 'tempo_changes', 'tempo_source', 'time_signature', 'beats_s'}`` of
    mono 44.1 kHz ``samples`` (see module doc)."""
    beats = beat_times(samples, method)
    if len(beats) < MIN_BEATS:
        return {"tempo_bpm": None, "tempo_word": None, "tempo_changes": [], "tempo_source": None,
                "time_signature": None, "beats_s": []}
    bpm = round(60.0 / float(np.median(np.diff(beats))), 2)
    return {"tempo_bpm": bpm, "tempo_word": tempo_word(bpm), "tempo_changes": [{"time_s": 0.0, "bpm": bpm}],
            "tempo_source": "audio", "time_signature": None, "beats_s": np.round(beats, 3).tolist()}
