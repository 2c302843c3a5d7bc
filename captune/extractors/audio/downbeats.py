"""Downbeats of audio from where the chords change.

Conventions: times in seconds. Bars are assumed to hold ``BEATS_PER_BAR`` = 4
beats (the time signature itself is not claimed: ``time_signature`` stays None).
Method: chords change on downbeats far more often than elsewhere (the cue of
Goto 2001, "An audio-based real-time beat tracking system for music with or
without drum-sounds", and of Papadopoulos & Peeters 2011): of the four ways to
group the tracked beats in fours, the one whose first beats carry the most chord
changes (within ``TOLERANCE_S``; changes to or from ``N`` not counted) wins,
ties to the earliest phase. Fewer than ``MIN_CHANGES`` changes: no downbeats
(None). Accuracy against POP909's annotated downbeats: ``benchmarks/audio.py``.
"""

import numpy as np

BEATS_PER_BAR = 4
TOLERANCE_S = 0.07
MIN_CHANGES = 4


def downbeats(beats_s: list[float], chords: list[dict]) -> list[float] | None:
    """Downbeat times (s): every fourth of ``beats_s``, in the phase the chord changes favour."""
    beats = np.asarray(beats_s, dtype=np.float64)
    changes = np.asarray([b["start_s"] for a, b in zip(chords, chords[1:]) if "N" not in (a["label"], b["label"])])
    if len(beats) < BEATS_PER_BAR or len(changes) < MIN_CHANGES:
        return None
    nearest = np.clip(np.searchsorted(beats, changes), 1, len(beats) - 1)
    nearest -= (changes - beats[nearest - 1]) < (beats[nearest] - changes)  # the closer neighbour
    on_beat = np.abs(beats[nearest] - changes) <= TOLERANCE_S
    votes = np.bincount(nearest[on_beat] % BEATS_PER_BAR, minlength=BEATS_PER_BAR)
    if votes.sum() < MIN_CHANGES:
        return None
    return np.round(beats[int(votes.argmax())::BEATS_PER_BAR], 3).tolist()
