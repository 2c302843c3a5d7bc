"""Variant specs: which variants a source gets, and the volume curve they share.

A variant is the record's ``variant`` struct (:data:`captune.schemas.record.VARIANT`)::

    {"kind": "original" | "pitch_shift" | "tempo_change" | "volume_change",
     "semitones": int | None, "tempo_ratio": float | None,
     "gain_start": float | None, "gain_end": float | None, "change_at_s": float | None}

- ``semitones``: transposition, positive = up.
- ``tempo_ratio``: > 1 is faster: new bpm = old bpm x ratio, new times = old times / ratio.
- ``gain_start``, ``gain_end``, ``change_at_s``: a volume ramp (linear amplitude
  factors, seconds in the variant's own time). The gain holds ``gain_start`` up to
  ``change_at_s``, then moves on an exponential curve (straight in dB) to reach
  ``gain_end`` at the end of the clip (MusicBench's "crescendo from N seconds on";
  its ``volume_change_simple`` with ``expo=True``). :func:`gain_curve` is the one
  definition that MIDI velocities, audio samples and the relabelling all use.

:func:`variants` draws MusicBench's defaults (Melechovsky et al., 2024, repository
AMAAI-Lab/mustango ``utils/augment_data.py``) from a generator seeded by
(seed, sha256 of ``source_id``), so the same source, seed and settings give the
same list:

- every shift in ``Settings.semitones`` (default +-1..3: six variants);
- ``tempo_count`` tempo changes: factors ``r`` drawn without replacement from the
  grid 1.1000, 1.1001 .. 1.2500 (uniform on ``tempo_range`` at 4 decimals; no two
  alike, so ids never collide); exactly ``tempo_count // 2`` of them, chosen at
  random, slow down (``tempo_ratio = 1 / r``, rounded to 6 decimals), the others
  speed up (``tempo_ratio = r``);
- ``volume_count`` volume ramps: a fair coin picks crescendo (``gain_start = g``,
  ``gain_end = 1``) or decrescendo (``1`` -> ``g``); ``g`` is drawn without
  replacement from the grid 0.100 .. 0.400 (``gain_range``, 3 decimals);
  ``change_at_s`` is uniform in 40-60 % of ``duration_s``, rounded to 0.01 s.

Order of the list: shifts (in ``Settings.semitones`` order), tempo changes, volume ramps.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from captune.extractors.errors import BadInput

KINDS = ("original", "pitch_shift", "tempo_change", "volume_change")
ORIGINAL = {"kind": "original", "semitones": None, "tempo_ratio": None,
            "gain_start": None, "gain_end": None, "change_at_s": None}
CHANGE_AT = (0.4, 0.6)  # change point, as fractions of the clip's duration


@dataclass(frozen=True)
class Settings:
    """How many variants of each kind, and the ranges they are drawn from."""

    semitones: tuple[int, ...] = (-3, -2, -1, 1, 2, 3)
    tempo_count: int = 4
    tempo_range: tuple[float, float] = (1.10, 1.25)
    volume_count: int = 1
    gain_range: tuple[float, float] = (0.1, 0.4)


def variant(kind: str, **fields) -> dict:
    """A complete variant dict of ``kind`` (unset fields None)."""
    if kind not in KINDS:
        raise ValueError(f"unknown variant kind {kind!r}; expected one of {KINDS}")
    spec = {**ORIGINAL, "kind": kind}
    unknown = set(fields) - set(spec)
    if unknown:
        raise ValueError(f"unknown variant field(s) {sorted(unknown)}")
    spec.update(fields)
    return spec


def check(spec: dict) -> dict:
    """``spec`` if its kind is known and carries the fields that kind needs, else ``BadInput('bad_variant')``:
    an int ``semitones``, a positive ``tempo_ratio``, positive gains and a change point >= 0 (or None)."""
    kind = spec.get("kind")
    fields = {"pitch_shift": ("semitones",), "tempo_change": ("tempo_ratio",),
              "volume_change": ("gain_start", "gain_end")}.get(kind, ())
    values = [spec.get(f) for f in fields]
    at = spec.get("change_at_s") or 0.0
    ok = kind in KINDS and all(isinstance(v, (int, float, np.integer, np.floating)) and np.isfinite(v)
                               for v in (*values, at))
    if ok and kind == "pitch_shift":
        ok = float(values[0]).is_integer()
    elif ok and kind in ("tempo_change", "volume_change"):
        ok = min(values) > 0 and at >= 0
    if not ok:
        raise BadInput("bad_variant", f"not a usable variant: {spec!r}", stage="augment")
    return spec


def rng_for(seed: int, source_id: str) -> np.random.Generator:
    """The generator for every draw made for ``source_id`` under ``seed``."""
    return np.random.default_rng([seed, int(hashlib.sha256(source_id.encode()).hexdigest()[:16], 16)])


def _grid(lo: float, hi: float, decimals: int) -> np.ndarray:
    step = 10.0 ** -decimals
    return np.round(np.arange(round(lo / step), round(hi / step) + 1) * step, decimals)


def variants(source_id: str, duration_s: float, seed: int, settings: Settings = Settings()) -> list[dict]:
    """The non-original variants of one source (see module doc)."""
    if not np.isfinite(duration_s) or duration_s <= 0:
        raise BadInput("bad_duration", f"cannot plan variants of a clip lasting {duration_s} s", stage="augment")
    rng = rng_for(seed, source_id)
    out = [variant("pitch_shift", semitones=int(s)) for s in settings.semitones]

    n = settings.tempo_count
    factors = rng.choice(_grid(*settings.tempo_range, 4), size=n, replace=False)
    slow = np.zeros(n, bool)
    slow[rng.permutation(n)[: n // 2]] = True
    for r, down in zip(factors, slow):
        out.append(variant("tempo_change", tempo_ratio=round(1.0 / float(r), 6) if down else float(r)))

    gains = rng.choice(_grid(*settings.gain_range, 3), size=settings.volume_count, replace=False)
    for g in gains:
        crescendo = bool(rng.integers(2))
        at = round(float(rng.uniform(*CHANGE_AT)) * duration_s, 2)
        start, end = (float(g), 1.0) if crescendo else (1.0, float(g))
        out.append(variant("volume_change", gain_start=start, gain_end=end, change_at_s=at))
    return out


def gain_curve(t_s, spec: dict, duration_s: float) -> np.ndarray:
    """Linear gain at times ``t_s`` (seconds) of a clip lasting ``duration_s`` (1 for non-volume variants).

    ``gain_start`` before ``change_at_s`` (None: 0), then
    ``gain_start * (gain_end / gain_start) ** ((t - change_at_s) / (duration_s - change_at_s))``,
    ``gain_end`` from ``duration_s`` on.
    """
    t = np.asarray(t_s, dtype=np.float64)
    if spec.get("kind") != "volume_change":
        return np.ones_like(t)
    g0, g1, at = _ramp(check(spec))
    span = duration_s - at
    if span <= 0:
        return np.full_like(t, g0)
    frac = np.clip((t - at) / span, 0.0, 1.0)
    return g0 * (g1 / g0) ** frac


def mean_gain(spec: dict, duration_s: float, power: int = 1) -> float:
    """Time average over [0, ``duration_s``] of ``gain_curve ** power`` (1 for non-volume variants).

    ``power=1``: mean amplitude factor; ``power=2``: mean energy factor.
    """
    if spec.get("kind") != "volume_change" or duration_s <= 0:
        return 1.0
    g0, g1, at = _ramp(check(spec))
    at = min(at, duration_s)
    a, b = g0 ** power, g1 ** power
    ramp = (b - a) / np.log(b / a) if a != b else a  # mean of an exponential from a to b
    return float((at * a + (duration_s - at) * ramp) / duration_s)


def _ramp(spec: dict) -> tuple[float, float, float]:
    return float(spec["gain_start"]), float(spec["gain_end"]), float(spec.get("change_at_s") or 0.0)
