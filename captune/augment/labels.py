"""Facts of a variant computed from the source's facts, without re-analysis.

Conventions: ``facts`` is keyed by the record's column names
(:func:`captune.extractors.midi.extract`, DESIGN.md); the variant is a dict of
:mod:`captune.augment.plan`. :func:`rewrite` returns a new dict; keys it does
not know are copied unchanged. That includes ``valence``, ``arousal``,
``emotion_quadrant`` and ``mood``, which stay the source's values until the
emotion model is run on the variant's facts.

- ``pitch_shift`` by ``s`` semitones: ``key`` and ``key_alternative`` move by
  ``s`` and take the conventional spelling of the new key (F# minor -2 -> E minor,
  C major +3 -> Eb major); chord roots (and slash basses) move by ``s`` and are
  re-spelled for the new key (:func:`captune.extractors.pitch.spell_root`),
  qualities and ``N`` kept; ``chord_summary`` likewise; every ``key_changes`` key
  moves like ``key``; ``note_stats``
  ``pitch_min`` / ``pitch_max`` / ``pitch_mean`` + ``s``, and each ``section_notes``
  ``pitch_mean`` + ``s``.
- ``tempo_change`` by ratio ``r``: ``tempo_bpm`` and every ``tempo_changes`` bpm
  x ``r`` (``tempo_word`` recomputed); every time in seconds / ``r``
  (``tempo_changes``, ``key_changes``, ``beats_s``, ``downbeats_s``, chord and section bounds, ``duration_s``,
  ``duration_word`` recomputed; section labels and kinds kept); ``note_stats`` and ``section_notes``
  ``note_density`` x ``r``, and ``note_stats`` ``onset_density`` x ``r`` (the events that
  ``ONSET_MERGE_S`` joins or parts at the new tempo aside).
- ``volume_change``: ``note_stats`` ``mean_velocity`` x the time-average of the
  gain curve over the clip (:func:`captune.augment.plan.mean_gain`; exact when
  notes are spread evenly in time, and ignoring the 1..127 clamp);
  ``loudness_lufs`` + 10 log10 of the time-average of gain squared (the energy
  factor; approximate, since LUFS gating drops the quietest blocks); ``section_notes``
  ``mean_velocity`` None (a gain curve changes the sections' loudness unequally; not re-derived).
- ``original``: a copy.

Rounding follows the extractors: seconds to 1 ms, bpm to 0.01, statistics as
they round them.
"""

import copy
import math

import numpy as np

from captune.augment.plan import check, mean_gain
from captune.extractors.errors import BadInput
from captune.extractors.pitch import key_name, parse_key, pitch_class, spell_root
from captune.extractors.words import duration_word, tempo_word


def rewrite(facts: dict, variant: dict) -> dict:
    """The facts of ``variant`` of the source whose facts are ``facts`` (see module doc)."""
    kind = check(variant)["kind"]
    out = copy.deepcopy(facts)
    if kind == "pitch_shift":
        _shift(out, int(variant["semitones"]))
    elif kind == "tempo_change":
        _stretch(out, float(variant["tempo_ratio"]))
    elif kind == "volume_change":
        _ramp(out, variant)
    return out


def transpose_key(key: str | None, semitones: int) -> str | None:
    """``'F# minor'``, -2 -> ``'E minor'`` (None stays None)."""
    if key is None:
        return None
    tonic, mode = _parse(parse_key, key)
    return key_name(tonic + semitones, mode)


def transpose_chord(label: str, semitones: int, key: str | None) -> str:
    """``'Am'``, +3, ``'Eb major'`` -> ``'Cm'``: root (and ``/bass``) moved and spelled for ``key``."""
    if label == "N":
        return label
    chord, slash, bass = label.partition("/")
    root = chord[:2] if chord[1:2] in ("#", "b") else chord[:1]
    moved = spell_root(_parse(pitch_class, root) + semitones, key) + chord[len(root):]
    if slash:
        moved += "/" + spell_root(_parse(pitch_class, bass) + semitones, key)
    return moved


def _parse(fn, text):
    try:
        return fn(text)
    except (ValueError, IndexError) as exc:
        raise BadInput("bad_label", f"cannot transpose {text!r}: {exc}", stage="augment") from exc


def _shift(f: dict, s: int) -> None:
    for name in ("key", "key_alternative"):
        if name in f:
            f[name] = transpose_key(f[name], s)
    for change in f.get("key_changes") or []:
        change["key"] = transpose_key(change["key"], s)
    key = f.get("key")
    for chord in f.get("chords") or []:
        chord["label"] = transpose_chord(chord["label"], s, key)
    if f.get("chord_summary"):
        f["chord_summary"] = [transpose_chord(label, s, key) for label in f["chord_summary"]]
    stats = f.get("note_stats")
    if stats:
        for name in ("pitch_min", "pitch_max"):
            if stats.get(name) is not None:
                stats[name] += s
        if stats.get("pitch_mean") is not None:
            stats["pitch_mean"] = round(stats["pitch_mean"] + s, 2)
    for notes in f.get("section_notes") or []:
        if notes["pitch_mean"] is not None:
            notes["pitch_mean"] = round(notes["pitch_mean"] + s, 2)


def _stretch(f: dict, r: float) -> None:
    if f.get("duration_s") is not None:
        f["duration_s"] = round(f["duration_s"] / r, 3)
        f["duration_word"] = duration_word(f["duration_s"])
    if f.get("tempo_bpm") is not None:
        f["tempo_bpm"] = round(f["tempo_bpm"] * r, 2)
        f["tempo_word"] = tempo_word(f["tempo_bpm"])
    if f.get("tempo_changes"):
        f["tempo_changes"] = [{"time_s": round(c["time_s"] / r, 3), "bpm": round(c["bpm"] * r, 2)}
                              for c in f["tempo_changes"]]
    for name in ("beats_s", "downbeats_s"):
        if f.get(name) is not None:
            f[name] = np.round(np.asarray(f[name], dtype=float) / r, 3).tolist()
    for span in (f.get("chords") or []) + (f.get("sections") or []):
        span["start_s"], span["end_s"] = round(span["start_s"] / r, 3), round(span["end_s"] / r, 3)
    for change in f.get("key_changes") or []:
        change["time_s"] = round(change["time_s"] / r, 3)
    stats = f.get("note_stats")
    for name in ("note_density", "onset_density"):
        if stats and stats.get(name) is not None:
            stats[name] = round(stats[name] * r, 3)
    for notes in f.get("section_notes") or []:
        notes["note_density"] = round(notes["note_density"] * r, 3)


def _ramp(f: dict, variant: dict) -> None:
    duration = f.get("duration_s") or 0.0
    stats = f.get("note_stats")
    if stats and stats.get("mean_velocity") is not None:
        stats["mean_velocity"] = round(stats["mean_velocity"] * mean_gain(variant, duration), 2)
    for notes in f.get("section_notes") or []:
        notes["mean_velocity"] = None
    if f.get("loudness_lufs") is not None:
        f["loudness_lufs"] = round(f["loudness_lufs"] + 10 * math.log10(mean_gain(variant, duration, power=2)), 2)
