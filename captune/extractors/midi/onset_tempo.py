"""Tempo and beats from note onsets, for MIDI whose tempo map says nothing.

Performance MIDI (transcriptions of recordings, keyboards recorded without a
click) usually stores one tempo event of 120 bpm (or none: the SMF default)
while the music moves at its own pace with expressive timing; the notated grid
and its beats are then fiction.

Conventions: seconds; bpm are beats per minute of the estimated beat level
(reported as ``tempo_bpm`` like the quarter-note bpm of a tempo map); the
beats are ``beats_s``, no downbeats (``None``: the bar cannot be told honestly
from onsets alone), and ``tempo_source`` is ``'onsets'``.

Detection (:func:`lacks_tempo_map`): the tempo map holds a single tempo of
exactly 120 bpm (``DEFAULT_MSPQ``) and fewer than ``MIN_ALIGNED`` of the
distinct onsets (at least ``MIN_ONSETS`` of them) lie within ``tpq / 64`` ticks
of a simple subdivision of the quarter note (eighths, sixteenths, thirty-seconds,
triplets, sextuplets). Quantised files align almost entirely; random
(expressive) onsets land in those windows about 38 % of the time.

Estimation (:func:`onset_beats`):

1. Onset strength: each distinct onset (within 10 ms) adds log(1 + notes) to a
   100 Hz envelope, smoothed by a Gaussian of ``SMOOTH_S`` to absorb jitter.
2. Tempo: the autocorrelation of the envelope (by FFT) weighted by a
   log-Gaussian tempo prior centred on ``PRIOR_BPM`` with ``PRIOR_OCTAVES``
   (Ellis 2007, "Beat tracking by dynamic programming", J. New Music Research
   36(1), section 3.1; the prior follows Moelants & McKinney 2004 on preferred
   tempi); the period is refined by parabolic interpolation of the peak.
3. Beats: Ellis's dynamic programme, C(t) = O(t) + max over the previous beat
   τ in [t - 2P, t - P/2] of (C(τ) - ``TIGHTNESS`` · log²((t - τ)/P)), then
   backtracking from the best score in the last period. Since every
   predecessor lies at least P/2 frames back, blocks of P/2 frames are computed
   at once with numpy.
"""

import numpy as np

from captune.extractors.midi.piece import DEFAULT_MSPQ, Piece
from captune.extractors.words import tempo_word

MIN_ONSETS = 24
MIN_ALIGNED = 0.6
FRAME_RATE = 100.0          # envelope frames per second
SMOOTH_S = 0.02
PRIOR_BPM = 100.0
PRIOR_OCTAVES = 1.0
MIN_BPM, MAX_BPM = 40.0, 220.0
TIGHTNESS = 100.0
_SUBDIVISIONS = (8, 6)      # grid of 1/8 and 1/6 quarter notes: 32nds and sextuplets (and all coarser)


def _distinct_onsets(piece: Piece) -> np.ndarray:
    """Sorted distinct onset ticks of all notes (drums included: they carry the beat)."""
    return np.unique(piece.onset)


def default_tempo_map(piece: Piece) -> bool:
    """True when the tempo map is a lone 120 bpm (``DEFAULT_MSPQ``): one such event, or none at all."""
    return len(np.unique(piece.tempo_mspq)) == 1 and piece.tempo_mspq[0] == DEFAULT_MSPQ


def lacks_tempo_map(piece: Piece) -> bool:
    """True when the tempo map is a lone 120 bpm and the onsets ignore the tick grid (module doc)."""
    if not piece.tempo_known or not default_tempo_map(piece):
        return False
    onsets = _distinct_onsets(piece)
    if len(onsets) < MIN_ONSETS:
        return False
    tolerance = max(piece.tpq / 64.0, 1.0)
    phase = (onsets % piece.tpq).astype(np.float64)
    aligned = np.zeros(len(onsets), dtype=bool)
    for division in _SUBDIVISIONS:
        step = piece.tpq / division
        off = np.abs(phase - np.round(phase / step) * step)
        aligned |= off <= tolerance
    return aligned.mean() < MIN_ALIGNED


def onset_envelope(onsets_s: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """100 Hz onset-strength envelope (see module doc), Gaussian-smoothed."""
    n = int(np.ceil(onsets_s.max() * FRAME_RATE)) + 2 if len(onsets_s) else 1
    env = np.zeros(n)
    counts = np.ones(len(onsets_s)) if counts is None else counts
    np.add.at(env, np.round(onsets_s * FRAME_RATE).astype(np.int64), np.log1p(counts))
    sigma = SMOOTH_S * FRAME_RATE
    half = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    return np.convolve(env, kernel / kernel.sum(), mode="same")


def estimate_period(env: np.ndarray) -> float:
    """Beat period in frames: the prior-weighted autocorrelation peak (module doc, step 2)."""
    x = env - env.mean()
    size = 1 << int(np.ceil(np.log2(2 * len(x))))
    spectrum = np.fft.rfft(x, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[:len(x)]
    lo = int(FRAME_RATE * 60 / MAX_BPM)
    hi = min(int(FRAME_RATE * 60 / MIN_BPM) + 1, len(acf) - 2)
    if hi <= lo + 2:
        return FRAME_RATE * 60 / PRIOR_BPM
    lags = np.arange(lo, hi)
    prior_lag = FRAME_RATE * 60 / PRIOR_BPM
    weight = np.exp(-0.5 * (np.log2(lags / prior_lag) / PRIOR_OCTAVES) ** 2)
    score = acf[lags] * weight
    i = int(score.argmax())
    if 0 < i < len(lags) - 1:  # parabolic interpolation of the peak
        a, b, c = score[i - 1], score[i], score[i + 1]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
        return float(lags[i] + np.clip(shift, -0.5, 0.5))
    return float(lags[i])


def track_beats(env: np.ndarray, period: float) -> np.ndarray:
    """Beat frames by Ellis's dynamic programme (module doc, step 3), blockwise in numpy."""
    n = len(env)
    o = env / (env.std() or 1.0)
    lo, hi = max(int(round(period / 2)), 1), max(int(round(2 * period)), 2)
    offsets = np.arange(lo, hi + 1)
    penalty = -TIGHTNESS * np.log(offsets / period) ** 2
    score = o.copy()
    back = np.full(n, -1, dtype=np.int64)
    for start in range(lo, n, lo):
        frames = np.arange(start, min(start + lo, n))
        prev = frames[:, None] - offsets[None, :]
        cand = np.where(prev >= 0, score[np.maximum(prev, 0)] + penalty, -np.inf)
        j = cand.argmax(axis=1)
        best = cand[np.arange(len(frames)), j]
        use = best > 0
        score[frames] = o[frames] + np.where(use, best, 0.0)
        back[frames] = np.where(use, prev[np.arange(len(frames)), j], -1)
    tail = max(n - int(round(period)), 0)
    t = tail + int(score[tail:].argmax())
    beats = [t]
    while back[t] >= 0:
        t = int(back[t])
        beats.append(t)
    return np.asarray(beats[::-1])


def onset_beats(piece: Piece) -> dict | None:
    """Tempo and beats from onsets: ``{'tempo_bpm', 'tempo_word', 'tempo_changes', 'tempo_source',
    'beats_s', 'downbeats_s'}``, or None with too few onsets."""
    ticks, counts = np.unique(piece.onset, return_counts=True)
    if len(ticks) < MIN_ONSETS:
        return None
    seconds = piece.seconds(ticks)
    env = onset_envelope(seconds, counts.astype(np.float64))
    period = estimate_period(env)
    beat_frames = track_beats(env, period)
    bpm = round(60.0 * FRAME_RATE / period, 2)
    beats_s = np.round(beat_frames / FRAME_RATE, 3)
    return {"tempo_bpm": bpm, "tempo_word": tempo_word(bpm), "tempo_changes": [{"time_s": 0.0, "bpm": bpm}],
            "tempo_source": "onsets", "beats_s": beats_s.tolist(), "downbeats_s": None}


def onset_estimate(piece: Piece) -> dict | None:
    """:func:`onset_beats` for a piece that :func:`lacks_tempo_map`, else None."""
    return onset_beats(piece) if lacks_tempo_map(piece) else None
