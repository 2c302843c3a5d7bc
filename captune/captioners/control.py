"""MusicBench-style control sentences.

Mustango (Melechovsky et al., "Mustango: Toward Controllable Text-to-Music
Generation", NAACL 2024) is trained on MusicBench captions that end in short
"control sentences" about chords, beats, tempo, key and volume, and it parses
them back out of the prompt. To stay compatible this module reproduces their
wording. Source of the format: repository AMAAI-Lab/mustango, file
``utils/prompt_functions.py`` (``chords_prompt_fc``, ``beats_prompt_fc``,
``bpm_prompt_fc``, ``key_prompt_fc``, ``cres_prompt_fc``; commit
5be5ee6b6e1be593c59669be2907ed829cc1eb20), cross-checked against the
generated captions in ``beats_model/data/100test_musiccaps_ep4.json`` of the
same repository.

MusicBench draws one of several phrasings per sentence at random, so
``control_sentences`` takes an optional ``numpy.random.Generator``: without one
every sentence uses the first phrasing of its list (the order of the
MusicBench source), with one the phrasing is drawn from ``rng`` only.

Facts used (see ``template`` for the full facts mapping):

- ``key``: 'Eb major', 'F# minor' ...; written as given (the ' major'/' minor'
  spelling is one of the spellings MusicBench itself uses).
- ``tempo_bpm``: beats per minute, float. MusicBench prints the rounded bpm as
  a float ("124.0"), and so do we.
- ``tempo_word``: Italian tempo marking ('Moderato' ...), used as given.
- ``chord_summary`` (the repeating progression) or, when empty, the first
  ``MAX_CHORDS`` labels of ``chords`` with no-chord 'N' dropped and repeated
  neighbours merged (MusicBench listed the chords of a 10 s clip).
- ``time_signature`` ('3/4'); its numerator is the beat count. Without it the
  beat count is the most common number of ``beats_s`` per bar, bars being
  delimited by ``downbeats_s`` (seconds), which is how MusicBench derives it.
- ``variant``: only ``kind == 'volume_change'`` gives a volume sentence;
  ``gain_start < gain_end`` is a crescendo, ``gain_start > gain_end`` a
  decrescendo, and ``change_at_s`` (seconds) is where the ramp starts
  (0 or None: from the start of the clip).

Every value of the returned dict is a sentence ending in punctuation, or None
when the fact is missing.

:func:`musicbench_controls` picks which of them a MusicBench caption carries
(AMAAI-Lab/mustango ``utils/add_control_sentences_random.py``, commit
5f615ef2101b6d4542c5fb85f2b176ebd753c049): ``k`` drawn from 0..4 with
probabilities ``K_PROBABILITIES``, a random order of the four sentences chords,
beats, tempo, key, the first ``k`` of that order kept, then the volume sentence.
A missing (None) sentence still takes its place in the order and is then
dropped, as MusicBench's empty strings were: with fewer than four sentences a
caption gets fewer than ``k``, and every present sentence keeps its chance
E[k] / 4 = 1.85 / 4 = 0.4625 to appear, whatever else is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from captune.extractors.midi.notes import single_line

__all__ = ["K_PROBABILITIES", "control_sentences", "musicbench_controls"]

MAX_CHORDS = 8
K_PROBABILITIES = (0.15, 0.25, 0.30, 0.20, 0.10)  # P(k = 0..4 musical control sentences)
MUSICBENCH_ORDER = ("chords", "beats", "tempo", "key")


def control_sentences(facts: Mapping, rng: np.random.Generator | None = None) -> dict:
    """Return ``{'key', 'tempo', 'chords', 'beats', 'volume'}`` -> sentence or None."""
    return {
        "key": _key(facts, rng),
        "tempo": _tempo(facts, rng),
        "chords": _chords(facts, rng),
        "beats": _beats(facts, rng),
        "volume": _volume(facts, rng),
    }


def musicbench_controls(sentences: Mapping, rng: np.random.Generator) -> list[str]:
    """The control sentences of one MusicBench caption, in caption order (see module doc).

    ``sentences`` is :func:`control_sentences`' dict; draws ``k`` then the order from ``rng``.
    """
    k = int(rng.choice(len(K_PROBABILITIES), p=K_PROBABILITIES))
    order = rng.permutation(len(MUSICBENCH_ORDER))[:k]
    chosen = [sentences.get(MUSICBENCH_ORDER[i]) for i in order]
    return [s for s in chosen + [sentences.get("volume")] if s]


def _pick(options: Sequence[str], rng: np.random.Generator | None) -> str:
    return options[0] if rng is None else options[int(rng.integers(len(options)))]


def _key(facts: Mapping, rng) -> str | None:
    key = facts.get("key")
    if not key:
        return None
    return _pick(
        [f"The key is {key}.", f"The key of this song is {key}.", f"This song is in the key of {key}."],
        rng,
    )


def _tempo(facts: Mapping, rng) -> str | None:
    bpm, word = facts.get("tempo_bpm"), facts.get("tempo_word")
    kinds = []
    if bpm is not None:
        value = float(round(bpm))
        kinds.append(
            [
                f"The bpm is {value}.",
                f"The tempo of this song is {value} beats per minute.",
                f"This song goes at {value} beats per minute.",
            ]
        )
    if word:
        kinds.append(
            [
                f"This song is in {word}.",
                f"The tempo of this song is {word}.",
                f"This song is played in {word}.",
                f"The song is played at the pace of {word}.",
            ]
        )
    if not kinds:
        return None
    kind = kinds[0] if rng is None else kinds[int(rng.integers(len(kinds)))]
    return _pick(kind, rng)


def _chord_labels(facts: Mapping) -> list[str]:
    summary = facts.get("chord_summary")
    if summary:
        return list(summary)
    labels: list[str] = []
    for chord in facts.get("chords") or []:
        label = chord.get("label")
        if label and label != "N" and (not labels or labels[-1] != label):
            labels.append(label)
    return labels[:MAX_CHORDS]


def _chords(facts: Mapping, rng) -> str | None:
    labels = _chord_labels(facts)
    if not labels or single_line(facts.get("note_stats")):   # a single line implies chords, none sound
        return None
    opening = _pick(["The chord sequence is", "The chord progression in this song is"], rng)
    return f"{opening} {', '.join(labels)}."


def _beats_per_bar(beats: Sequence[float] | None, downbeats: Sequence[float] | None) -> int | None:
    """Most common number of beats between consecutive downbeats."""
    if not beats or not downbeats or len(downbeats) < 2:
        return None
    bars = np.asarray(downbeats, dtype=float)
    bar_of_beat = np.searchsorted(bars, np.asarray(beats, dtype=float), side="right") - 1
    inside = (bar_of_beat >= 0) & (bar_of_beat < len(bars) - 1)
    per_bar = np.bincount(bar_of_beat[inside], minlength=len(bars) - 1)
    count = int(np.bincount(per_bar).argmax())
    return count or None


def _beats(facts: Mapping, rng) -> str | None:
    signature = facts.get("time_signature")
    if signature:
        count = int(signature.split("/")[0])
        options = [f"The time signature is {signature}."]
    else:
        count = _beats_per_bar(facts.get("beats_s"), facts.get("downbeats_s"))
        options = []
    if not count:
        return None
    options += [f"The beat is {count}.", f"The beat counts to {count}."]
    return _pick(options, rng)


def _volume(facts: Mapping, rng) -> str | None:
    variant = facts.get("variant") or {}
    start, end = variant.get("gain_start"), variant.get("gain_end")
    if variant.get("kind") != "volume_change" or start is None or end is None or start == end:
        return None
    at = round(float(variant.get("change_at_s") or 0.0), 2)
    if start < end:
        if at == 0:
            options = ["The song starts with a crescendo.", "Increase the volume progressively!"]
        else:
            options = [
                f"There is a crescendo from {at} seconds on.",
                f"At seconds {at}, the song starts to gradually increase in volume.",
                "Midway through the song, a crescendo starts.",
                "Increase the volume progressively!",
            ]
    elif at == 0:
        options = ["The song starts with a decrescendo.", "Decrease the volume progressively!"]
    else:
        options = [
            f"There is a decrescendo from {at} seconds on.",
            "After a few seconds, the song starts to decrease in volume.",
            "Midway through the song, a decrescendo starts.",
            "Decrease the volume progressively!",
        ]
    return _pick(options, rng)
