"""Form in words: a sentence on the whole form and one time-stamped sentence per section.

Facts used: ``sections`` (``{'start_s', 'end_s', 'label', 'kind'}``, see
:mod:`captune.extractors.midi.sections`), ``downbeats_s``
(bar counts, :func:`bar_count`), ``chords`` (the chords of each section),
``section_notes`` (changes between sections). Any may be missing: no sections, no
sentence; no downbeats, no bar counts; no section notes, no changes.

Every statement is checkable by :mod:`captune.captioners.factcheck`: bar counts
(``an 8-bar intro``) by :func:`bar_count`, the numbers of verses, choruses and
sections, the label pattern (``Its form is A A B B``) and, per section, its kind,
label, bar count, chords and changes. Deterministic: the same facts give the same text.
Changes from the section before (:func:`section_changes`, from ``section_notes``,
the notes of each section: :func:`captune.extractors.midi.sections.section_notes`)
are stated only when clear: an instrument enters when it sounded in less than
``SILENT_SHARE`` of the section before (a stray note, a release carried over) and
sounds in at least ``PART_SHARE`` of this one (a part of the texture, not a fill),
and leaves the other way round; the mean pitch moves by ``REGISTER_SEMITONES`` (a
major third: smaller moves come from inversions and melodic contour), the notes
per second by a factor of ``DENSITY_RATIO`` (e.g. half the parts moving from
quarter notes to eighths), the mean velocity by ``DYNAMICS_VELOCITY`` (half of
the 16 velocity units between the customary dynamic levels p 49, mp 64, mf 80,
f 96). The thresholds are set from these reasons, not fitted to a corpus.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from captune.extractors.midi.notes import single_line

__all__ = ["bar_count", "form_name", "form_sentence", "form_text", "melodies_returning", "repeated_block",
           "section_changes", "segment_captions", "section_name"]

MAX_PATTERN = 8          # longest label pattern spelled out
MAX_CHORDS = 4           # chords named per section
PART_SHARE = 0.25        # share of a section's time an instrument sounds in to be one of its parts
SILENT_SHARE = 0.05      # ... below which it is absent
REGISTER_SEMITONES = 4.0
DENSITY_RATIO = 1.5
DYNAMICS_VELOCITY = 8.0
_NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
            "twelve"]


def number_word(n: int) -> str:
    return _NUMBERS[n] if 0 <= n < len(_NUMBERS) else str(n)


def bar_count(section: Mapping, facts: Mapping) -> int | None:
    """Bars of ``section``: its length over the median bar length of the ``downbeats_s`` inside it
    (the bars a build writes, on which the sections were found); None without two downbeats."""
    downbeats = np.asarray(facts.get("downbeats_s") or [], dtype=float)
    if len(downbeats) < 2:
        return None
    inside = downbeats[(downbeats >= section["start_s"] - 1e-3) & (downbeats <= section["end_s"] + 1e-3)]
    steps = np.diff(inside) if len(inside) >= 2 else np.diff(downbeats)
    bar = float(np.median(steps))
    return max(1, int(round((section["end_s"] - section["start_s"]) / bar))) if bar > 0 else None


def section_name(section: Mapping) -> str:
    """``intro``, ``outro``, ``verse``, ``chorus``, ``instrumental passage`` or ``section A``."""
    kind = section["kind"]
    if kind == "instrumental":
        return "instrumental passage"
    if kind == "melodic":
        return f"section {section['label']}"
    return kind


def _chords_in(section: Mapping, facts: Mapping) -> list[str]:
    """The first ``MAX_CHORDS`` distinct chords (not ``N``) starting inside ``section`` or covering its start."""
    out: list[str] = []
    for chord in facts.get("chords") or []:
        overlaps = chord["start_s"] < section["end_s"] - 1e-3 and chord["end_s"] > section["start_s"] + 1e-3
        if overlaps and chord["label"] != "N" and chord["label"] not in out:
            out.append(chord["label"])
    return out[:MAX_CHORDS]


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _plural(n: int, word: str) -> str:
    return f"{number_word(n)} {word}{'' if n == 1 else 'es' if word.endswith('s') else 's'}"


def _sized(section: Mapping, facts: Mapping, name: str) -> str:
    """``an 8-bar intro`` / ``an intro``."""
    bars = bar_count(section, facts)
    phrase = f"{bars}-bar {name}" if bars else name
    return f"{'an' if phrase[:1] in 'aeio8' or phrase.startswith(('11-', '18-')) else 'a'} {phrase}"


def form_name(sections) -> str:
    """A name for the form, for counting: ``verse-chorus`` (a chorus was named), ``through-composed``
    (one section), the melodic label pattern (``A A B B``) up to ``MAX_PATTERN`` sections, else
    ``N themes``; ``none`` without sections."""
    sections = list(sections or [])
    if not sections:
        return "none"
    if len(sections) == 1:
        return "through-composed"
    if any(s["kind"] == "chorus" for s in sections):
        return "verse-chorus"
    melodic = [s["label"] for s in sections if s["label"].isupper()]
    if len(melodic) <= MAX_PATTERN:
        return " ".join(melodic) or "no melody"
    return f"{len(set(melodic))} themes"


def form_sentence(facts: Mapping) -> str | None:
    """One sentence on the whole form (``{subj}`` stands for the subject), or None without sections."""
    sections = list(facts.get("sections") or [])
    if not sections:
        return None
    if len(sections) == 1:
        return "{subj} unfolds as a single section in which no part returns."
    intro = sections[0] if sections[0]["kind"] == "intro" else None
    outro = sections[-1] if sections[-1]["kind"] == "outro" else None
    kinds = [s["kind"] for s in sections]
    frame = ([f"after {_sized(intro, facts, 'intro')}"] if intro else []) + \
            ([f"with {_sized(outro, facts, 'outro')}"] if outro else [])
    if "chorus" in kinds:
        parts = [_sized(intro, facts, "intro")] if intro else []
        parts += [_plural(kinds.count("verse"), "verse"), _plural(kinds.count("chorus"), "chorus")]
        if kinds.count("instrumental"):
            parts.append(_plural(kinds.count("instrumental"), "instrumental passage"))
        if kinds.count("melodic"):
            parts.append(_plural(kinds.count("melodic"), "other melodic section"))
        if outro:
            parts.append(_sized(outro, facts, "outro"))
        return f"{{subj}} follows a verse-chorus form: {_join(parts)}."
    melodic = [s for s in sections if s["label"].isupper()]
    tail = f", {_join(frame)}" if frame else ""
    labels = [s["label"] for s in melodic]
    if 2 <= len(melodic) and len(melodic) == len(sections) - bool(intro) - bool(outro):
        bars = {bar_count(s, facts) for s in melodic}
        size = f", in {bars.pop()}-bar sections" if len(bars) == 1 and None not in bars else ""
        if len(set(labels)) == 1:   # A A A A: a strain played again and again
            times = "twice" if len(melodic) == 2 else f"{number_word(len(melodic))} times"
            if len(melodic) > MAX_PATTERN:
                return f"{{subj}} plays one melody {times}{size}{tail}."
            return f"{{subj}} plays one melody {times}: its form is {' '.join(labels)}{size}{tail}."
        if len(melodic) <= MAX_PATTERN:
            return f"Its form is {' '.join(labels)}{size}{tail}."
        block = repeated_block(labels)
        if block:
            times = "twice" if len(labels) == 2 * len(block) else f"{number_word(len(labels) // len(block))} times"
            return f"Its form is {' '.join(block)}, played {times}{size}{tail}."
    # sections are phrases (4 to 8 bars, Dai et al.'s labels): many of them read as phrases, not a form's sections
    return f"{{subj}} has {number_word(len(sections))} phrases, {_returning_clause(labels)}{tail}."


def repeated_block(labels: list[str]) -> list[str] | None:
    """The shortest run of at most ``MAX_PATTERN`` labels that ``labels`` is, played twice or more in a
    row (``A B B A B B`` → ``A B B``), or None."""
    n = len(labels)
    for size in range(1, min(MAX_PATTERN, n // 2) + 1):
        if n % size == 0 and labels == labels[:size] * (n // size):
            return labels[:size]
    return None


def melodies_returning(labels: list[str]) -> tuple[int, int]:
    """(melodies heard in more than one section, distinct melodies) of the melodic ``labels``."""
    distinct = set(labels)
    return sum(1 for x in distinct if labels.count(x) > 1), len(distinct)


def _returning_clause(labels: list[str]) -> str:
    """``in which three of its nine melodies return`` (see :func:`melodies_returning`)."""
    back, melodies = melodies_returning(labels)
    if melodies <= 1:
        return "none of them melodic" if not melodies else \
            f"and its one melody {'returns' if back else 'is heard once'}"
    if back == 0:
        return f"and {'neither' if melodies == 2 else 'none'} of its {number_word(melodies)} melodies returns"
    if back == melodies:
        return "in which both of its two melodies return" if melodies == 2 else \
            f"in which each of its {number_word(melodies)} melodies returns"
    return f"in which {number_word(back)} of its {number_word(melodies)} melodies return{'s' if back == 1 else ''}"


def form_text(facts: Mapping) -> str | None:
    """The sections as one line for a prompt: ``intro (8 bars), A verse (8 bars), …``; None without."""
    parts = []
    for section in facts.get("sections") or []:
        bars = bar_count(section, facts)
        name = section["kind"] if section["kind"] in ("intro", "outro") else f"{section['label']} {section['kind']}"
        parts.append(name + (f" ({bars} bars)" if bars else ""))
    return ", ".join(parts) or None


def segment_captions(facts: Mapping) -> list[dict] | None:
    """``[{'start_s', 'end_s', 'text'}]``, one sentence per section (what it is, whether it returns, its
    bars and chords, and what changes from the section before), or None without sections."""
    sections = facts.get("sections")
    if not sections:
        return None
    out, seen = [], set()
    alone = single_line(facts.get("note_stats"))   # a single line: no chords sound in any section
    for section in sections:
        name = section_name(section)
        label = section["label"]
        if section["kind"] in ("melodic", "instrumental"):
            tagged = f"{name} {label}" if section["kind"] == "instrumental" else name
        else:
            tagged = f"the {name}" + (f" ({label})" if section["kind"] in ("verse", "chorus") else "")
        returns = label in seen and section["kind"] not in ("intro", "outro")
        seen.add(label)
        bars = bar_count(section, facts)
        chords = [] if alone else _chords_in(section, facts)
        detail = " ".join(filter(None, [f"{bars} bar{'s' if bars != 1 else ''}" if bars else None,
                                         f"over the chords {_join(chords)}" if chords else None]))
        change = _change_clause(section_changes(facts, len(out)))
        text = f"{tagged}{' returns' if returns else ''}{': ' + detail if detail else ''}{change}."
        out.append({"start_s": section["start_s"], "end_s": section["end_s"], "text": text[:1].upper() + text[1:]})
    return out


def _trend(before, after, up: str, down: str, clear) -> str | None:
    if before is None or after is None:
        return None
    return up if clear(after, before) else down if clear(before, after) else None


def section_changes(facts: Mapping, index: int) -> dict:
    """What clearly changes from section ``index - 1`` to ``index`` (module doc): ``enter`` and
    ``leave`` (GM programs, 128 drums), ``register`` (``higher`` / ``lower``), ``density``
    (``denser`` / ``sparser``), ``dynamics`` (``louder`` / ``softer``); empty lists and None when
    nothing clearly changes, for the first section, or without ``section_notes``."""
    notes = facts.get("section_notes") or []
    out = {"enter": [], "leave": [], "register": None, "density": None, "dynamics": None}
    if not 0 < index < len(notes):
        return out
    before, after = notes[index - 1], notes[index]
    was, now = before["sounding"], after["sounding"]
    out["enter"] = sorted(p for p, share in now.items() if share >= PART_SHARE and was.get(p, 0.0) < SILENT_SHARE)
    out["leave"] = sorted(p for p, share in was.items() if share >= PART_SHARE and now.get(p, 0.0) < SILENT_SHARE)
    out["register"] = _trend(before["pitch_mean"], after["pitch_mean"], "higher", "lower",
                             lambda a, b: a - b >= REGISTER_SEMITONES)
    out["density"] = _trend(before["note_density"], after["note_density"], "denser", "sparser",
                            lambda a, b: a >= DENSITY_RATIO * b and a > 0)
    out["dynamics"] = _trend(before["mean_velocity"], after["mean_velocity"], "louder", "softer",
                             lambda a, b: a - b >= DYNAMICS_VELOCITY)
    return out


def _named(programs: list[int]) -> list[str]:
    """Plain names (``the flute``) of ``programs`` that the fact check recognises, each name once."""
    from captune.captioners.factcheck import INSTRUMENT_WORDS
    from captune.captioners.template import instrument_name
    from captune.extractors.midi.gm import GM_PROGRAM_NAMES
    names: list[str] = []
    for program in programs:
        name = instrument_name(GM_PROGRAM_NAMES[program])
        if program in INSTRUMENT_WORDS.get(name, ()) and f"the {name}" not in names:
            names.append(f"the {name}")
    return names


def _change_clause(change: Mapping) -> str:
    """``; the flute enters; it is higher and louder than the section before`` (empty without a change)."""
    parts = []
    for key, one, many in (("enter", "enters", "enter"), ("leave", "leaves", "leave")):
        names = _named(change[key])
        if names:
            parts.append(f"{_join(names)} {one if len(names) == 1 else many}")
    trends = [change[k] for k in ("register", "density", "dynamics") if change[k]]
    if trends:
        parts.append(f"it is {_join(trends)} than the section before")
    return "".join(f"; {p}" for p in parts)

