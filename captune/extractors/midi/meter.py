"""Time signature, beats and downbeats of a symbolic piece.

Conventions: time signatures are strings ``'num/den'``; the beat is the
denominator's note value, except in compound meters (6/8, 9/8, 12/8, 6/4, …:
numerator a multiple of 3 above 3) where it is three of them (a dotted
value). Bars restart at every time-signature change; the first bar may be a
pickup (``piece.pickup_ticks``), whose beats count back from the first barline. Beat and downbeat times are
seconds through the tempo map, from time 0 up to the end of the last note.
"""

import numpy as np

from captune.extractors.midi.piece import Piece


def _is_compound(numerator: int, denominator: int) -> bool:
    return numerator % 3 == 0 and numerator > 3 and denominator >= 4


def _segments(piece: Piece):
    """(start tick, end tick, numerator, denominator) per time-signature span."""
    end = max(piece.end_tick, 1)
    starts = piece.ts_tick
    ends = np.append(starts[1:], max(end, int(starts[-1]) + 1))
    for t0, t1, n, d in zip(starts, ends, piece.ts_numerator, piece.ts_denominator):
        if t0 < end:
            yield int(t0), int(min(t1, end)), int(n), int(d)


def time_signature(piece: Piece) -> str:
    """The time signature that covers the most seconds of the piece."""
    cover: dict[str, float] = {}
    for t0, t1, n, d in _segments(piece):
        span = float(piece.seconds(t1) - piece.seconds(t0))
        cover[f"{n}/{d}"] = cover.get(f"{n}/{d}", 0.0) + span
    return max(cover.items(), key=lambda kv: kv[1])[0]


def beat_ticks(piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    """(beat ticks, downbeat ticks) on the notated grid."""
    beats, downbeats = [], []
    for t0, t1, n, d in _segments(piece):
        unit = piece.tpq * 4 / d
        beat = unit * (3 if _is_compound(n, d) else 1)
        bar = unit * n
        origin = t0 + (piece.pickup_ticks % bar if t0 == 0 else 0)
        beats.append(np.concatenate([np.arange(origin - beat, t0 - 0.5, -beat)[::-1], np.arange(origin, t1, beat)]))
        downbeats.append(np.arange(origin, t1, bar))
    return np.concatenate(beats), np.concatenate(downbeats)


def beats(piece: Piece) -> dict:
    """``{'beats_s', 'downbeats_s'}`` in seconds, rounded to the millisecond."""
    b, db = beat_ticks(piece)
    return {"beats_s": np.round(piece.seconds(b), 3).tolist(),
            "downbeats_s": np.round(piece.seconds(db), 3).tolist()}
