"""All facts of a symbolic piece, keyed by the record's column names."""

import numpy as np

from captune.extractors import emotion
from captune.extractors.midi.bar_inference import bars_on_beats, settle, settle_on_beats
from captune.extractors.midi.chords import chords
from captune.extractors.midi.instruments import instruments
from captune.extractors.midi.key import DEFAULT_PROFILE, key
from captune.extractors.midi.key_changes import key_changes
from captune.extractors.midi.meter import beats, time_signature
from captune.extractors.midi.notes import note_stats
from captune.extractors.midi.onset_tempo import onset_estimate
from captune.extractors.midi.piece import Piece
from captune.extractors.midi.progression import progression_summary
from captune.extractors.midi.sections import section_notes, sections
from captune.extractors.midi.tempo import tempo_facts
from captune.extractors.words import duration_word

_NO_KEY = {"key": None, "key_confidence": None, "key_alternative": None}


def extract(piece: Piece, key_profile: str = DEFAULT_PROFILE, emotion_model=None) -> dict:
    """Duration, tempo, meter, beats, key, chords, instruments, note statistics and emotion.

    A piece with only drums (or a single pitch class) has no key: ``key`` and
    friends are None and ``chords`` empty. Beats are None when the tempo is
    unknown (a score with no tempo mark), since their seconds would be invented.
    Performance MIDI without a real tempo map (a lone 120 bpm, onsets off the
    grid) takes tempo and beats from its onsets (``tempo_source`` ``'onsets'``,
    no downbeats), and its chords follow those beats. A MIDI file's implausible time signature
    (1/4, none, or one its accents contradict) is replaced by the bar inferred from the notes
    (:mod:`captune.extractors.midi.bar_inference`; ``time_signature_source`` ``'inferred'``), and
    beats, downbeats and chords follow it; for performance MIDI only the signature is inferred, on
    the beats found from the onsets (its downbeats stay None).
    ``sections`` (the form) are on the bar lines of ``downbeats_s`` (a score without tempo: its
    notated bars at 120 bpm, like its chords); performance MIDI's on bars laid on its found beats
    (:func:`captune.extractors.midi.bar_inference.bars_on_beats`); ``section_notes`` (not a
    record column: the segment captions and their fact check read it, the written row drops it) are
    the notes of each section (:func:`captune.extractors.midi.sections.section_notes`). ``valence``, ``arousal``,
    ``emotion_quadrant`` and ``mood`` come from the other facts through
    ``emotion_model`` (None: the literature-based default; or a model, its dict or
    JSON text, see :func:`captune.extractors.emotion.as_model`). ``dynamics_known`` (no column of
    the record) is False for a score whose notes all have one velocity (no dynamics marked): the
    emotion model then ignores loudness.
    """
    facts = {"duration_s": round(piece.duration_s, 3)}
    facts["duration_word"] = duration_word(facts["duration_s"])
    estimate = onset_estimate(piece)  # None unless performance MIDI without a real tempo map
    facts.update(tempo_facts(piece, estimate))
    beat_grid = None
    if estimate is None:
        piece, facts["time_signature_source"] = settle(piece)
        facts["time_signature"] = time_signature(piece)
        facts.update(beats(piece) if piece.tempo_known else {"beats_s": None, "downbeats_s": None})
    else:
        facts["time_signature"], facts["time_signature_source"] = settle_on_beats(piece, estimate["beats_s"])
        facts.update(beats_s=estimate["beats_s"], downbeats_s=estimate["downbeats_s"])
        beat_grid = np.asarray(estimate["beats_s"]) * (1e6 * piece.tpq / piece.tempo_mspq[0])  # one tempo
    facts.update(key(piece, key_profile) or _NO_KEY)
    facts["key_changes"] = key_changes(piece, facts["key"], key_profile)
    segments = (chords(piece, facts["key"], beat_ticks=beat_grid, key_changes=facts["key_changes"])
                if facts["key"] else [])
    facts["chords"] = segments
    facts["chord_summary"], facts["chord_summary_count"] = progression_summary(
        segments, facts["downbeats_s"], facts["beats_s"])
    facts.update(instruments(piece))
    facts["note_stats"] = note_stats(piece)
    # a score without dynamics marks: every velocity is the MIDI writer's default, not loudness
    facts["dynamics_known"] = not (piece.notated and len(np.unique(piece.velocity)) == 1)
    if estimate is None:
        facts["sections"] = sections(piece, facts["downbeats_s"])
    else:
        bars_s = bars_on_beats(piece, facts["beats_s"], facts["time_signature"])
        facts["sections"] = sections(piece, bars_s) if bars_s else None
    facts["section_notes"] = section_notes(piece, facts["sections"]) if facts["sections"] else None
    facts.update(emotion.estimate(facts, emotion_model))
    return facts
