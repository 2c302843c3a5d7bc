"""Low-level statistics of audio that feed the emotion model (``audio_stats``).

Conventions: ``spectral_centroid_hz`` is the magnitude-weighted mean frequency
(Hz) of 2048-sample Hann frames (hop 2048), averaged over the frames whose energy
is within 60 dB of the loudest; ``onset_rate`` is onsets per second from
essentia ``OnsetRate`` (HFC + complex-domain onsets); ``dynamic_complexity_db``
is essentia ``DynamicComplexity`` (mean absolute deviation of the loudness
curve from its mean, dB).
"""

import essentia.standard as es
import numpy as np

from captune.extractors.audio.chroma import magnitudes

CENTROID_FRAME = 2048
FLOOR_DB = 60.0


def spectral_centroid(samples: np.ndarray, sr: int) -> float | None:
    """Mean spectral centroid (Hz) of the non-silent frames, None if there are none."""
    spectra = magnitudes(samples, CENTROID_FRAME, CENTROID_FRAME)
    energy = np.einsum("ij,ij->i", spectra, spectra, dtype=np.float64)
    keep = energy > energy.max() * 10 ** (-FLOOR_DB / 10) if energy.max() > 0 else np.zeros(len(energy), bool)
    if not keep.any():
        return None
    freqs = np.arange(spectra.shape[1]) * sr / CENTROID_FRAME
    kept = spectra[keep].astype(np.float64)
    return float(np.mean(np.einsum("ij,j->i", kept, freqs) / kept.sum(axis=1)))  # einsum: no BLAS threads


def audio_stats(samples: np.ndarray, sr: int) -> dict:
    """``{'spectral_centroid_hz', 'onset_rate', 'dynamic_complexity_db'}`` of mono 44.1 kHz ``samples``."""
    centroid = spectral_centroid(samples, sr)
    onset_rate = float(es.OnsetRate()(samples)[1])
    complexity = float(es.DynamicComplexity(sampleRate=sr)(samples)[0])
    return {"spectral_centroid_hz": None if centroid is None else round(centroid, 1),
            "onset_rate": round(onset_rate, 3), "dynamic_complexity_db": round(complexity, 3)}
