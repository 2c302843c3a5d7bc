"""All facts of a piece of audio, keyed by the record's column names.

The keys are the MIDI path's (:func:`captune.extractors.midi.extract`) plus
``loudness_range_lu`` and ``audio_stats``; what audio cannot tell is None:
``time_signature`` (and its ``time_signature_source``), ``instruments``,
``instrument_programs``, ``instrument_tracks``, ``note_stats``, ``sections`` and ``section_notes`` (not yet); ``dynamics_known`` is
True (a recording's loudness is real).
Emotion is not estimated here; ``key_changes`` holds the global key alone. Facts of each kind: :mod:`.rhythm`, :mod:`.key`,
:mod:`.chords`, :mod:`.downbeats` (from the chord changes), :mod:`.loudness`,
:mod:`.stats`.
"""

from captune.extractors.audio.chords import chords_from_chroma
from captune.extractors.audio.chroma import chromagram
from captune.extractors.audio.decode import Audio
from captune.extractors.audio.downbeats import downbeats
from captune.extractors.audio.key import key
from captune.extractors.audio.loudness import loudness
from captune.extractors.audio.rhythm import rhythm
from captune.extractors.audio.stats import audio_stats
from captune.extractors.errors import BadInput
from captune.extractors.midi.progression import progression_summary
from captune.extractors.words import duration_word

MIN_DURATION_S = 1.0


def check_long_enough(audio: Audio) -> None:
    """Raise ``BadInput('too_short', stage='extract')`` for audio under ``MIN_DURATION_S``."""
    if audio.duration_s < MIN_DURATION_S:
        raise BadInput("too_short", f"{audio.duration_s:.2f} s is under the {MIN_DURATION_S:g} s "
                       "the analysis frames need", stage="extract")


def extract(audio: Audio, key_profile: str | None = None, chroma=None) -> dict:
    """Duration, tempo, beats, key, chords, loudness and low-level statistics of ``audio``.

    ``key_profile``: an essentia ``Key`` profile (None: :data:`.key.DEFAULT_PROFILE`).
    ``chroma``: :func:`.chroma.chromagram` of these same samples when the caller already has it
    (computed here otherwise).
    A piece without pitch (flat chroma) has no key and no chords. Audio shorter
    than ``MIN_DURATION_S`` raises ``BadInput('too_short', stage='extract')``; an
    essentia failure ``BadInput('extract_error', stage='extract')``.
    """
    check_long_enough(audio)
    try:
        return _facts(audio, key_profile, chroma)
    except RuntimeError as exc:  # essentia reports every failure as RuntimeError
        raise BadInput("extract_error", str(exc).splitlines()[0][:200], stage="extract") from None


def _facts(audio: Audio, key_profile: str | None, chroma) -> dict:
    y, sr = audio.samples, audio.sr
    facts = {"duration_s": round(audio.duration_s, 3)}
    facts["duration_word"] = duration_word(facts["duration_s"])
    facts.update(rhythm(y))
    times, treble, bass = chromagram(y, sr) if chroma is None else chroma
    facts.update(key(y, treble.mean(axis=0), key_profile))
    facts["key_changes"] = [{"time_s": 0.0, "key": facts["key"]}] if facts["key"] else []  # no local keys yet
    segments = (chords_from_chroma(times, treble, bass, facts["beats_s"], audio.duration_s, facts["key"])
                if facts["key"] else [])
    facts["chords"] = segments
    facts["downbeats_s"] = downbeats(facts["beats_s"], segments)
    facts["chord_summary"], facts["chord_summary_count"] = progression_summary(
        segments, facts["downbeats_s"], facts["beats_s"])
    facts.update(instruments=None, instrument_programs=None, instrument_tracks=None, note_stats=None,
                 time_signature_source=None, dynamics_known=True, sections=None,
                 section_notes=None)
    facts.update(loudness(y, sr))
    facts["audio_stats"] = audio_stats(y, sr)
    return facts
