"""Spectra and chromagrams of mono audio.

Conventions: frames are centred, ``times_s[i]`` is the centre of frame ``i`` in
seconds; chroma columns are pitch classes C..B (index 0 = C). Magnitude
spectra come from a Hann window, unnormalised, batched ``scipy.fft.rfft``
(one worker).

:func:`chromagram` is the chroma Chordino uses (Mauch & Dixon 2010, "Approximate
note transcription for the improved identification of difficult chords",
ISMIR): essentia's ``LogSpectrum`` (3 bins per semitone, tuning) and
``NNLSChroma`` (treble and bass chroma with Chordino's profiles, running
spectral whitening). The audio is first resampled to 11025 Hz (the analysis
stops at 7 octaves above 27.5 Hz, so nothing above 5.5 kHz is used) with frame
4096 and hop 512 (the 16384 / 2048 of Chordino at 44.1 kHz, a quarter of the
work). ``useNNLS`` is off: essentia 2.1b6's NNLS transcription returns all
zeros, so the linear spectral mapping Chordino offers as its alternative is used.
"""

import essentia.standard as es
import numpy as np
import scipy.fft
from scipy.signal import resample_poly

CHROMA_SR = 11025
FRAME = 4096
HOP = 512
_CHUNK = 512  # frames per FFT batch (bounds memory)
_A_TO_C = 9   # NNLSChroma's bins start at A: A moves to index 9, C to 0


def magnitudes(y: np.ndarray, n: int, hop: int) -> np.ndarray:
    """frames x (n // 2 + 1) float32 magnitude spectra of ``y`` (Hann window, frames start at 0)."""
    if len(y) < n:
        y = np.pad(y, (0, n - len(y)))
    count = 1 + (len(y) - n) // hop
    window = np.hanning(n).astype(np.float32)
    out = np.empty((count, n // 2 + 1), dtype=np.float32)
    for start in range(0, count, _CHUNK):
        idx = (np.arange(start, min(start + _CHUNK, count)) * hop)[:, None] + np.arange(n)[None, :]
        out[start:start + len(idx)] = np.abs(scipy.fft.rfft(y[idx] * window, axis=1, workers=1))
    return out


def chromagram(samples: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times_s, treble chroma frames x 12, bass chroma frames x 12) of mono ``samples`` at ``sr`` Hz."""
    g = np.gcd(sr, CHROMA_SR)
    y = resample_poly(samples.astype(np.float64), CHROMA_SR // g, sr // g).astype(np.float32)
    spectra = magnitudes(y, FRAME, HOP)
    log_spectrum = es.LogSpectrum(frameSize=FRAME // 2 + 1, sampleRate=CHROMA_SR)
    logs, local = [], []
    for frame in spectra:
        log_frame, mean_tuning, local_tuning = log_spectrum(frame)
        logs.append(log_frame)
        local.append(local_tuning)
    nnls = es.NNLSChroma(frameSize=FRAME // 2 + 1, sampleRate=CHROMA_SR, useNNLS=False)
    _, _, bass, treble = nnls(np.asarray(logs, dtype=np.float32), mean_tuning,
                              np.asarray(local, dtype=np.float32))
    times = (np.arange(len(spectra)) * HOP + FRAME / 2) / CHROMA_SR
    return times, _from_a(treble), _from_a(bass)


def _from_a(chroma) -> np.ndarray:
    """NNLSChroma's frames (columns A..G#) as frames x 12 with columns C..B."""
    return np.roll(np.asarray(chroma, dtype=np.float64).reshape(-1, 12), _A_TO_C, axis=1)
