"""Instrument words in track and part names, through a fixed vocabulary.

A score's parts are named (Soprano, Alto, Tenor, Bass; Violin 1, Viola,
Violoncello) while music21 often writes them with no program (MIDI's default:
piano). A track name refines a track's program only when the program says
nothing (0, the default piano) and the name holds a word of ``VOCABULARY``; the
name's own text never reaches a caption, only the GM program it maps to.

Conventions: names are matched case-blind as whole words, after dropping digits,
roman numerals and punctuation ("1st Violin", "Violino II", "Tenor 2").
``VOCAL_PROGRAM`` (53, GM "Voice Oohs", music21's program for its vocal
instruments) marks a sung part; ``CHOIR_PROGRAM`` (52, "Choir Aahs") a choir. A
continuo part is the organ (the keyboard of a church cantata's basso continuo).
A bare "Bass" (or "Basso", a madrigal's lowest part) is a singer only beside
another sung part (the B of SATB); otherwise it is a double bass in a score and
left alone in a MIDI file (where it may be any bass instrument). In a score a
part named as a voice is a voice whatever program the file gives it (an edition
that plays its chorale on a harpsichord patch still prints Soprano, Alto …);
in a MIDI file any program other than 0 is the file's own word and is kept.
Nor is a family's generic program in a score (``GENERIC_PROGRAMS``: 48 "String
Ensemble 1" and 61 "Brass Section", which music21 gives its ``StringInstrument``
and ``BrassInstrument``, as in its Mozart and Haydn quartets whose parts read
Violin I, Violin II, Viola, Cello): the part's name says which instrument.
"""

import re

VOCAL_PROGRAM = 53
CHOIR_PROGRAM = 52
DOUBLE_BASS = 43
GENERIC_PROGRAMS = (48, 61)  # music21's StringInstrument and BrassInstrument: a family, not an instrument

VOCABULARY = {
    **{w: VOCAL_PROGRAM for w in ("soprano", "mezzo", "alto", "contralto", "tenor", "baritone", "voice", "vocal",
                                  "vocals", "singer", "canto", "cantus", "altus", "tenore", "bassus", "quintus",
                                  "quinto", "quinta", "sextus", "sexta", "sesto", "superius", "discantus", "countertenor",
                                  "contratenor", "contra", "vagans")},
    **{w: CHOIR_PROGRAM for w in ("choir", "chorus", "coro")},
    "piano": 0, "pianoforte": 0, "harpsichord": 6, "cembalo": 6, "organ": 19, "continuo": 19, "accordion": 21, "harmonica": 22,
    "guitar": 24, "violin": 40, "violino": 40, "fiddle": 40, "viola": 41, "cello": 42, "violoncello": 42,
    "contrabass": DOUBLE_BASS, "double bass": DOUBLE_BASS, "harp": 46, "timpani": 47, "trumpet": 56,
    "tromba": 56, "trombone": 57, "tuba": 58, "horn": 60, "corno": 60, "oboe": 68, "english horn": 69,
    "bassoon": 70, "fagotto": 70, "clarinet": 71, "piccolo": 72, "flute": 73, "flauto": 73, "recorder": 74,
}
_WORDS = re.compile(r"\b(" + "|".join(sorted(VOCABULARY, key=len, reverse=True)) + r")\b")
_NOISE = re.compile(r"\b(?:\d+(?:st|nd|rd|th)?|[ivx]+)\b|[^a-z ]")


def name_program(name: str | None) -> int | None:
    """GM program named by a track or part name (first vocabulary word), None when it names none."""
    if not name:
        return None
    m = _WORDS.search(_NOISE.sub(" ", name.lower()))
    return VOCABULARY[m.group(1)] if m else None


def _is_sung(program: int) -> bool:
    return program in (VOCAL_PROGRAM, CHOIR_PROGRAM)


def _is_bare_bass(name: str | None) -> bool:
    return bool(name) and _NOISE.sub(" ", name.lower()).split() in (["bass"], ["basso"])


def refine_programs(programs: list[int], names: list[str | None], notated: bool) -> list[int]:
    """Programs of tracks, those at the default 0 (in a score also a sung name or a generic program)
    refined by their names (module doc)."""
    out = [name_program(n) if name_program(n) is not None
           and (p == 0 or notated and (_is_sung(name_program(n)) or p in GENERIC_PROGRAMS))
           else p for p, n in zip(programs, names)]
    sung = any(_is_sung(p) for p in out)
    for i, (p, n) in enumerate(zip(programs, names)):
        if (p == 0 or notated and (sung or p in GENERIC_PROGRAMS)) and _is_bare_bass(n) and (sung or notated):
            out[i] = VOCAL_PROGRAM if sung else DOUBLE_BASS
    return out
