"""Global key of a symbolic piece: the key it starts and ends in.

Conventions: keys are strings like ``'Eb major'`` (see :mod:`captune.extractors.pitch`);
times in ticks; ``opening`` is a share (0-1] of the piece's span.
Method (Krumhansl-Schmuckler, with the home key taken where musicians hear it:
stated at the start and confirmed at the end):

1. Two pitch-class profiles: for every non-drum note, the time it sounds, in
   quarter notes, weighted at each instant ``t`` by ``exp(-(t - t0) / scale)``
   (the start) and by ``exp(-(t1 - t) / scale)`` (the end), with
   ``scale = max(opening * span, MIN_SCALE)`` (``t0`` the first onset, ``t1``
   the last note end, ``span = t1 - t0``; the integrals are exact). Long
   pieces leave the home key for a long time (a sonata's second group, a
   folk tune's B part, a pop song's last chorus a step up); in a plain sum the
   excursion can outweigh the home key, which holds at the start and, in
   closed forms, returns at the end. ``MIN_SCALE`` (16 quarter notes, a
   four-bar phrase of 4/4) keeps a short piece's repeated progression evenly
   weighed: a chord late in each cycle still counts. ``opening=None`` weighs
   all time alike (the plain method; both profiles are then the same).
2. Pearson r of each profile with a major and a minor key profile rotated to
   all 12 tonics. A key's score is ``r_start + CLOSING * max(r_end, 0) +
   FINAL_BASS * [its tonic is the final bass note]`` (the lowest pitch sounding at the last
   onset: the final cadence's root, which tells a minor key from its
   relative major, and stays on the tonic under a Picardy third). The end
   counts less than the start, and only for keys it supports (r clipped at
   0): pop songs often end elsewhere (a lifted chorus, a fade on IV), and a
   last chorus a semitone up correlates negatively with the home key.
3. The best score is the key, the runner-up the alternative; the confidence
   is ``(r_start + CLOSING * max(r_end, 0)) / (1 + CLOSING)`` of the key, clipped to
   [0, 1], so a key the profiles hardly tell from its relative shows a low
   margin over the alternative.

Profiles (index 0 = tonic):

- ``krumhansl``: Krumhansl & Kessler (1982), probe-tone ratings;
- ``temperley``: Temperley (2007), Kostka-Payne corpus;
- ``albrecht``: Albrecht & Shanahan (2013), 490 common-practice pieces;
- ``aarden``: Aarden (2003), Essen folk-song corpus;
- ``bellman``: Bellman (2005) / Budge (1943) chord-frequency profiles.

Where the constants came from (``benchmarks/key_agreement.py``, figures in the
README): the default profile and ``OPENING`` on the even-numbered items of
POP909 and Nottingham (checked on the odd ones); ``CLOSING`` and
``FINAL_BASS`` on the even-numbered items of DCML, POP909 and Nottingham
(checked on the odd ones and on music21's corpus): DCML alone asked for a
final-bass weight of 0.2, which costs POP909, whose final bass is the tonic
in only two songs of three.
"""

import numpy as np

from captune.extractors.midi.piece import Piece
from captune.extractors.pitch import key_name

PROFILES = {
    "krumhansl": ([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88],
                  [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]),
    "temperley": ([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400],
                  [0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330]),
    "albrecht": ([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081],
                 [0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052]),
    "aarden": ([17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587,
                0.291248, 22.062, 0.145624, 8.15494, 0.232998, 4.95122],
               [18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362,
                0.702494, 18.6161, 4.56621, 1.93186, 7.37619, 1.75623]),
    "bellman": ([16.80, 0.86, 12.95, 1.41, 13.49, 11.93, 1.25, 20.28, 1.80, 8.04, 0.62, 10.57],
                [18.16, 0.69, 12.99, 13.34, 1.07, 11.15, 1.38, 21.07, 7.49, 1.53, 0.92, 10.21]),
}
DEFAULT_PROFILE = "albrecht"  # best mean weighted score on POP909 + Nottingham (README)
OPENING = 0.25  # time constant of the start and end weights, as a share of the piece's span
MIN_SCALE = 16.0  # quarter notes: the weights never decay faster than over this
CLOSING = 0.25  # weight of the end profile's r beside the start's (README: fitted on even items)
FINAL_BASS = 0.1  # score bonus (in units of r) for the key whose tonic is the final bass note


def _key_matrix(profile: str) -> np.ndarray:
    """24 x 12 z-scored profiles: rows 0-11 major on C..B, 12-23 minor on C..B."""
    major, minor = (np.asarray(p, dtype=np.float64) for p in PROFILES[profile])
    rows = [np.roll(p, tonic) for p in (major, minor) for tonic in range(12)]
    m = np.asarray(rows)
    return (m - m.mean(axis=1, keepdims=True)) / m.std(axis=1, keepdims=True)


_MATRICES = {name: _key_matrix(name) for name in PROFILES}
_TONICS = np.arange(24) % 12  # tonic pitch class of each row


def pitch_class_profile(piece: Piece, opening: float | None = None, from_end: bool = False) -> np.ndarray:
    """Sounding time (quarter notes) of non-drum notes per pitch class C..B, each instant
    weighted by ``exp(-(t - t0) / scale)``, or ``exp(-(t1 - t) / scale)`` with ``from_end``,
    ``scale = max(opening * span, MIN_SCALE)`` (see module doc); ``opening=None``:
    unweighted durations."""
    pitched = ~piece.is_drum
    on = piece.onset[pitched].astype(np.float64)
    off = on + piece.duration[pitched]
    if opening is None or not len(on):
        weights = off - on
    else:
        if not opening > 0:
            raise ValueError(f"opening must be a positive share of the piece, got {opening!r}")
        t0, t1 = on.min(), off.max()
        scale = max(opening * (t1 - t0), MIN_SCALE * piece.tpq)  # ticks
        if from_end:
            weights = scale * (np.exp(-(t1 - off) / scale) - np.exp(-(t1 - on) / scale))
        else:
            weights = scale * (np.exp(-(on - t0) / scale) - np.exp(-(off - t0) / scale))
    return np.bincount(piece.pitch[pitched] % 12, weights=weights / piece.tpq, minlength=12)


def final_bass(piece: Piece) -> int | None:
    """Pitch class of the lowest non-drum note sounding at the last onset (None without notes)."""
    pitched = ~piece.is_drum
    if not pitched.any():
        return None
    on = piece.onset[pitched]
    last = on.max()
    sounding = (on + np.maximum(piece.duration[pitched], 1)) > last
    return int(piece.pitch[pitched][sounding].min() % 12)


def correlations(pcp: np.ndarray, profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """Pearson r of ``pcp`` with the 24 keys (see :func:`_key_matrix` for the order)."""
    if profile not in _MATRICES:
        raise ValueError(f"unknown key profile {profile!r}; choose from {sorted(PROFILES)}")
    z = (pcp - pcp.mean()) / pcp.std()
    return np.einsum("kj,j->k", _MATRICES[profile], z) / 12.0  # einsum: no BLAS thread pool


def key(piece: Piece, profile: str = DEFAULT_PROFILE, opening: float | None = OPENING,
        closing: float = CLOSING, final_bass_weight: float = FINAL_BASS) -> dict | None:
    """``{'key', 'key_confidence', 'key_alternative'}``, or None when no key can be
    told: no pitched notes, a single pitch class, or all twelve equally long.

    ``opening``: time constant of the start and end weights as a share of the piece
    (None: all time alike); ``closing``: weight of the end profile; ``final_bass_weight``:
    bonus of the key on the final bass note (``closing=0, final_bass_weight=0``: the start
    profile alone, the previous method); see module doc."""
    start = pitch_class_profile(piece, opening)
    if np.count_nonzero(start) < 2 or np.ptp(start) <= 1e-9 * start.max():
        return None
    r = correlations(start, profile)
    if closing:
        end = correlations(pitch_class_profile(piece, opening, from_end=True), profile)
        r = r + closing * np.maximum(np.nan_to_num(end), 0.0)  # the end supports a key, never vetoes one
    score = r.copy()
    if final_bass_weight:
        score[_TONICS == final_bass(piece)] += final_bass_weight
    best, second = np.argsort(-score, kind="stable")[:2]
    confidence = r[best] / (1 + closing)
    return {"key": _name(best), "key_confidence": round(float(max(confidence, 0.0)), 4),
            "key_alternative": _name(second)}


def _name(row: int) -> str:
    return key_name(int(row) % 12, "major" if row < 12 else "minor")
