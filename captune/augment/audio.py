"""Audio variants: Rubber Band pitch shift and time stretch, and the volume ramp.

Conventions (librosa's): ``samples`` is a 1-D float32 array (mono), ``sr`` the
sample rate in Hz; the result is a new float32 array at the same ``sr``. The
variant is a dict of :mod:`captune.augment.plan`.

- ``pitch_shift``: Rubber Band through ``pedalboard.time_stretch`` with
  ``stretch_factor=1`` and ``pitch_shift_in_semitones=semitones``, formants not
  preserved (Rubber Band's default, as in MusicBench's pyrubberband); the output
  is trimmed or zero-padded to the input length.
- ``tempo_change``: ``pedalboard.time_stretch`` with ``stretch_factor=tempo_ratio``
  (> 1 faster and shorter: about ``len / tempo_ratio`` samples), pitch kept.
- ``volume_change``: samples x :func:`captune.augment.plan.gain_curve` at their
  times ``n / sr``, over the clip's duration ``len / sr``.
- ``original``: a copy.

Samples that are not a finite 1-D array, or ``sr`` <= 0, raise
``BadInput('bad_audio')``; a Rubber Band failure raises ``BadInput('augment_error')``.
"""

import numpy as np

from captune.augment.plan import check, gain_curve
from captune.extractors.errors import BadInput

_STAGE = "augment"


def apply(samples: np.ndarray, sr: int, variant: dict) -> np.ndarray:
    """Samples of ``variant`` of the clip ``samples`` at rate ``sr`` (see module doc)."""
    kind = check(variant)["kind"]
    x = _check(samples, sr)
    if kind == "original":
        return x.copy()
    if kind == "volume_change":
        duration = len(x) / sr
        return (x * gain_curve(np.arange(len(x)) / sr, variant, duration)).astype(np.float32)
    if kind == "pitch_shift":
        y = _rubberband(x, sr, stretch_factor=1.0, pitch_shift_in_semitones=float(variant["semitones"]))
        return np.pad(y[: len(x)], (0, max(len(x) - len(y), 0)))
    return _rubberband(x, sr, stretch_factor=float(variant["tempo_ratio"]), pitch_shift_in_semitones=0.0)


def _check(samples, sr) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim != 1 or not len(x) or not np.issubdtype(x.dtype, np.floating) or not np.isfinite(x).all():
        raise BadInput("bad_audio", "expected a non-empty, finite 1-D float array of mono samples", stage=_STAGE)
    if not sr > 0:
        raise BadInput("bad_audio", f"sample rate must be positive, got {sr}", stage=_STAGE)
    return x.astype(np.float32, copy=False)


def _rubberband(x: np.ndarray, sr: int, **shift) -> np.ndarray:
    import pedalboard  # only audio variants need it

    try:
        y = pedalboard.time_stretch(x[np.newaxis, :], float(sr), preserve_formants=False, **shift)
    except Exception as exc:  # pedalboard raises RuntimeError/ValueError from Rubber Band
        raise BadInput("augment_error", f"Rubber Band failed: {exc}", stage=_STAGE) from exc
    return np.ascontiguousarray(y[0], dtype=np.float32)
