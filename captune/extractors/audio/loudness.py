"""Loudness of audio (EBU R128 / ITU-R BS.1770).

Conventions: ``loudness_lufs`` is the integrated loudness in LUFS,
``loudness_range_lu`` the loudness range (LRA) in LU, both from essentia
``LoudnessEBUR128`` at 44.1 kHz. It takes stereo: the mono signal is fed to both
channels, as a mono file plays on two speakers (so a full-scale 1 kHz sine
reads about 0 LUFS: BS.1770 puts it at -3.01 LKFS in one channel, and the
second channel adds 3.01 dB).
None where the gating leaves nothing (a clip under 400 ms or near silence).
"""

import math

import essentia.standard as es
import numpy as np


def loudness(samples: np.ndarray, sr: int) -> dict:
    """``{'loudness_lufs', 'loudness_range_lu'}`` of mono ``samples`` at ``sr`` Hz (see module doc)."""
    stereo = np.empty((len(samples), 2), dtype=np.float32)
    stereo[:, 0] = stereo[:, 1] = samples
    _, _, integrated, lra = es.LoudnessEBUR128(sampleRate=sr)(stereo)
    integrated = float(integrated) if math.isfinite(integrated) and integrated > -70 else None
    return {"loudness_lufs": None if integrated is None else round(integrated, 2),
            "loudness_range_lu": None if integrated is None or not math.isfinite(lra) else round(float(lra), 2)}
