"""Tempo of a symbolic piece: from its tempo map, or from note onsets when the map says nothing.

Conventions: bpm are quarter notes per minute (the MIDI convention, 60e6 /
microseconds-per-quarter). ``tempo_bpm`` is the time-weighted mean: each tempo
holds from its change to the next one (or the end of the last note) and counts
for that many seconds. ``tempo_changes`` lists every change of bpm, rounded to
0.01, as ``{'time_s', 'bpm'}`` starting at time 0; ``tempo_source`` says where
the tempo came from: ``tempo_map`` (the file's tempo events), or ``onsets`` for
performance MIDI whose map is a lone 120 bpm while the onsets ignore the tick
grid (:func:`captune.extractors.midi.onset_tempo.lacks_tempo_map`): the tempo
is then estimated from the onsets (:func:`onset_tempo.onset_beats`, one global
tempo). A score that states no tempo (``piece.tempo_known`` False) has no
tempo: ``None``, ``[]``, ``None``. An unperformed MIDI file at the default
tempo (:func:`unperformed_default`: a lone 120 bpm, onsets on the grid, one
velocity for every note) keeps its tempo map's facts, the tempo it plays at,
with ``tempo_source`` ``'default'``: it is what a notation program or converter
writes when nobody set a tempo (every DCML movement, every Nottingham tune, 40
of VGMIDI's 204 phrases), the writer's 120 rather than the music's, so captions
do not state it (:func:`captune.captioners.template.tempo_is_set`), and its form is
named by letters, as a score's (:mod:`captune.extractors.midi.sections`).
"""

import numpy as np

from captune.extractors.midi.onset_tempo import default_tempo_map, onset_estimate
from captune.extractors.midi.piece import Piece
from captune.extractors.words import tempo_word


def tempo(piece: Piece) -> dict:
    """``{'tempo_bpm', 'tempo_word', 'tempo_changes', 'tempo_source'}`` (see module doc)."""
    return tempo_facts(piece, onset_estimate(piece))


def tempo_facts(piece: Piece, estimate: dict | None) -> dict:
    """The tempo facts given the piece's onset estimate (:func:`onset_tempo.onset_estimate`):
    none for an unknown tempo, the estimate's when there is one, else the tempo map's (its source
    ``'default'`` for :func:`unperformed_default`)."""
    if not piece.tempo_known:
        return {"tempo_bpm": None, "tempo_word": None, "tempo_changes": [], "tempo_source": None}
    if estimate is not None:
        return {k: estimate[k] for k in ("tempo_bpm", "tempo_word", "tempo_changes", "tempo_source")}
    facts = map_tempo(piece)
    if unperformed_default(piece):
        facts["tempo_source"] = "default"
    return facts


def unperformed_default(piece: Piece) -> bool:
    """True for a MIDI file (not a score's rendering: a score's own marks decide) whose tempo map is a
    lone 120 bpm and whose notes all have one velocity: nobody set its tempo or played it. Its onsets
    are on the grid, or :func:`onset_tempo.lacks_tempo_map` would have found it a performance."""
    return not piece.notated and default_tempo_map(piece) and len(np.unique(piece.velocity)) == 1


def map_tempo(piece: Piece) -> dict:
    """Tempo facts from the tempo map alone (``tempo_source`` ``'tempo_map'``)."""
    end = max(piece.end_tick, 1)
    live = piece.tempo_tick < end
    ticks, bpm = piece.tempo_tick[live], np.round(60e6 / piece.tempo_mspq[live], 2)
    starts_s = piece.seconds(ticks)
    spans = np.diff(np.append(starts_s, piece.seconds(end)))
    mean_bpm = round(float(np.average(bpm, weights=spans)) if spans.sum() > 0 else float(bpm[0]), 2)
    changed = np.append(True, bpm[1:] != bpm[:-1])
    changes = [{"time_s": round(float(t), 3), "bpm": float(b)} for t, b in zip(starts_s[changed], bpm[changed])]
    return {"tempo_bpm": mean_bpm, "tempo_word": tempo_word(mean_bpm), "tempo_changes": changes,
            "tempo_source": "tempo_map"}
