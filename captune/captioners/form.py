"""Form in words: a sentence on the whole form and one time-stamped sentence per section.

Facts used: ``sections`` (``{'start_s', 'end_s', 'label', 'kind'}``, see
:mod:`captune.extractors.midi.sections`), ``downbeats_s`` and ``time_signature``
(bar counts, :func:`bar_count`), ``chords`` (the chords of each section). Any may be
missing: no sections, no sentence; no downbeats, no bar counts.

Every statement is checkable by :mod:`captune.captioners.factcheck`: bar counts
(``an 8-bar intro``) by :func:`bar_count`, the numbers of verses, choruses and
sections, the label pattern (``Its form is A A B B``) and, per section, its kind,
label, bar count and chords. Deterministic: the same facts give the same text.
Instruments entering or leaving, register, density and dynamics per section are
not stated yet: the record holds no per-section note facts.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["bar_count", "form_name", "form_sentence", "form_text", "segment_captions", "section_name"]

MAX_PATTERN = 8          # longest label pattern spelled out
MAX_CHORDS = 4           # chords named per section
_NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
            "twelve"]


def number_word(n: int) -> str:
    return _NUMBERS[n] if 0 <= n < len(_NUMBERS) else str(n)


def _bar_factor(time_signature: str | None) -> int:
    """Notated bars per counted bar: bars shorter than 3 quarter notes (1/4, 2/4) are grouped by
    ``round(4 / quarters)``, as the sections extractor groups them."""
    try:
        num, den = (int(x) for x in (time_signature or "4/4").split("/"))
        quarters = 4 * num / den
    except (ValueError, ZeroDivisionError):
        return 1
    return max(1, int(round(4 / quarters))) if 0 < quarters < 3 else 1


def bar_count(section: Mapping, facts: Mapping) -> int | None:
    """Bars of ``section``: its length over the median bar length of the ``downbeats_s`` inside it
    (x the grouping of short bars by ``time_signature``); None without two downbeats."""
    downbeats = np.asarray(facts.get("downbeats_s") or [], dtype=float)
    if len(downbeats) < 2:
        return None
    inside = downbeats[(downbeats >= section["start_s"] - 1e-3) & (downbeats <= section["end_s"] + 1e-3)]
    steps = np.diff(inside) if len(inside) >= 2 else np.diff(downbeats)
    bar = float(np.median(steps)) * _bar_factor(facts.get("time_signature"))
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
        return "{subj} is through-composed, one section without a repeated part."
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
    if 2 <= len(melodic) <= MAX_PATTERN and len(melodic) == len(sections) - bool(intro) - bool(outro):
        bars = {bar_count(s, facts) for s in melodic}
        size = f", in {bars.pop()}-bar sections" if len(bars) == 1 and None not in bars else ""
        tail = f", {_join(frame)}" if frame else ""
        return f"Its form is {' '.join(s['label'] for s in melodic)}{size}{tail}."
    themes = len({s["label"] for s in melodic})
    tail = f", {_join(frame)}" if frame else ""
    melodies = f"{number_word(themes)} recurring {'melody' if themes == 1 else 'melodies'}"
    return f"{{subj}} has {number_word(len(sections))} sections on {melodies}{tail}."


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
    bars and chords), or None without sections."""
    sections = facts.get("sections")
    if not sections:
        return None
    out, seen = [], set()
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
        chords = _chords_in(section, facts)
        detail = " ".join(filter(None, [f"{bars} bar{'s' if bars != 1 else ''}" if bars else None,
                                         f"over the chords {_join(chords)}" if chords else None]))
        text = f"{tagged}{' returns' if returns else ''}{': ' + detail if detail else ''}."
        out.append({"start_s": section["start_s"], "end_s": section["end_s"], "text": text[:1].upper() + text[1:]})
    return out
