"""Note statistics of a symbolic piece.

- ``note_count``: all notes, drums included;
- ``pitch_min`` / ``pitch_max``: MIDI note numbers of non-drum notes (None if none);
- ``mean_velocity``: mean MIDI velocity (1-127) of all notes;
- ``note_density``: notes per second over the piece's duration;
- ``onset_density``: events per second over the piece's duration, an event being
  every onset more than ``ONSET_MERGE_S`` after the one before (any track, drums
  included): a chord struck by four voices is one event, as in the audio
  ``onset_rate``, so the texture's thickness does not count as activity;
- ``polyphony``: mean number of non-drum notes sounding at once, over the time
  when at least one sounds (1.0 for a melody, about 3 for block triads);
- ``pitch_mean``: mean MIDI note number of non-drum notes (register; None if none);
- ``legato``: articulation, the mean over non-drum notes of the note's duration
  divided by the time from its onset to the next later onset of its track,
  capped at 1 (1.0 legato, about 0.5 staccato; notes at a track's last onset
  are left out; None when no note has a later onset).

:func:`single_line`: the notes are one melodic line (``polyphony`` at most
``SINGLE_LINE``: a melody's legato overlaps, a grace chord or a double stop add
a few percent of a second note; a second voice or an accompaniment sounds much
of the time). Its chords are the harmony the line implies, not one that sounds.
"""

import numpy as np

from captune.extractors.midi.piece import Piece


def _mean_polyphony(on: np.ndarray, off: np.ndarray) -> float | None:
    if not len(on):
        return None
    times = np.concatenate([on, off])
    steps = np.concatenate([np.ones(len(on)), -np.ones(len(off))])
    order = np.lexsort((steps, times))  # offs before ons at equal times
    times, active = times[order], np.cumsum(steps[order])
    spans = np.diff(times)
    sounding = spans * (active[:-1] > 0)
    total = sounding.sum()
    return round(float((spans * active[:-1]).sum() / total), 3) if total > 0 else 1.0


def _legato(onset: np.ndarray, duration: np.ndarray, track: np.ndarray) -> float | None:
    if len(onset) < 2:
        return None
    span = int(onset.max()) + 1
    key = track.astype(np.int64) * span + onset  # (track, onset) as one sortable number
    order = np.argsort(key)
    key, duration = key[order], duration[order]
    new = np.empty(len(key), bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    starts = key[new]
    nxt = np.cumsum(new)  # index into starts of the next later onset (of any track)
    ok = nxt < len(starts)
    key, duration, nxt = key[ok], duration[ok], starts[nxt[ok]]
    same_track = nxt // span == key // span
    if not same_track.any():
        return None
    ioi = (nxt - key)[same_track]
    return round(float(np.minimum(duration[same_track] / ioi, 1.0).mean()), 3)


ONSET_MERGE_S = 0.05  # onsets this close (s) are one event: mir_eval's onset window; a hand-played chord spreads less


def _events(piece: Piece) -> int:
    """Number of onset events (see ``onset_density``)."""
    if not len(piece.onset):
        return 0
    seconds = np.sort(piece.seconds(piece.onset.astype(np.float64)))
    return 1 + int((np.diff(seconds) > ONSET_MERGE_S).sum())


SINGLE_LINE = 1.1  # mean non-drum notes sounding at once up to which the notes are one line


def single_line(stats: dict | None) -> bool:
    """True when ``stats`` (:func:`note_stats`) describe one melodic line (module doc); False without."""
    polyphony = (stats or {}).get("polyphony")
    return polyphony is not None and polyphony <= SINGLE_LINE


def note_stats(piece: Piece) -> dict:
    """The statistics above as a dict (see module doc)."""
    pitched = ~piece.is_drum
    duration = max(piece.duration_s, 1e-9)
    pitches = piece.pitch[pitched]
    return {
        "note_count": int(len(piece.pitch)),
        "pitch_min": int(pitches.min()) if len(pitches) else None,
        "pitch_max": int(pitches.max()) if len(pitches) else None,
        "mean_velocity": round(float(piece.velocity.mean()), 2),
        "note_density": round(len(piece.pitch) / duration, 3),
        "onset_density": round(_events(piece) / duration, 3),
        "polyphony": _mean_polyphony(piece.onset[pitched].astype(float),
                                     (piece.onset + piece.duration)[pitched].astype(float)),
        "pitch_mean": round(float(pitches.mean()), 2) if len(pitches) else None,
        "legato": _legato(piece.onset[pitched], piece.duration[pitched], piece.track[pitched]),
    }
