"""Check a caption against the facts it should describe. Pure functions, no Beam.

``check(caption, facts) -> list[str]``: one problem per wrong or unsupported
statement; an empty list means the caption passes. ``mentions(caption)`` gives
what was parsed, for inspection.

Conventions (facts as in :mod:`captune.captioners.template`):

- **Key.** A key is ``'<tonic> major|minor'``. Stated keys are ``X major`` /
  ``X minor`` (``maj``/``min``, ``sharp``/``flat`` words, ♯/♭ allowed) outside
  a chord context, and bare modes (``a minor key``, ``major tonality``). A key
  passes when tonic pitch class and mode match, so enharmonic spellings (D#
  minor for Eb minor) pass. Stating the relative key (G major for E minor) or
  the parallel one (E major for E minor) is a problem, named as such. Stating
  any key when no key was detected (drums only) is a problem. A key the piece
  moves to (any key of ``key_changes``) passes too.
- **Tempo (bpm).** A number before ``bpm``/``beats per minute`` passes when it
  is within ``max(BPM_TOLERANCE_ABS, BPM_TOLERANCE_REL * bpm)`` of ``tempo_bpm``:
  3 bpm covers rounding to the nearest 5 (what writers do with "about 95
  BPM"), 5 % is about the tempo-discrimination threshold of listeners (Drake &
  Botte 1993 report 2-7 %). Octave errors (half or double tempo) are problems.
- **Tempo words.** MidiCaps' Italian markings (and Lento, Larghetto, Andantino,
  Allegretto) and plain phrases ("slow tempo", "a fast pace") map to bpm ranges
  from MidiCaps' thresholds (see ``TEMPO_WORD_RANGES``); the word passes when
  ``tempo_bpm`` lies in its range widened by the bpm tolerance. Without a
  ``tempo_bpm`` an Italian marking must equal ``tempo_word``. A MIDI writer's
  default tempo (``tempo_source`` ``'default'``) counts as unknown: captions do
  not state it (:func:`captune.captioners.template.tempo_is_set`).
- **Time signature.** ``N/D`` (and "common time" = 4/4, "cut time" = 2/2) must
  equal ``time_signature``.
- **Instruments.** Names and common synonyms map to General MIDI programs
  (``INSTRUMENT_WORDS``; 128 = drum kit); a named instrument passes when one of
  its programs plays (``instrument_programs``, else the programs of the GM
  names in ``instruments``). Negated mentions ("no drums") are problems only
  when that instrument does play.
- **Chords.** Chord symbols (``Em``, ``B7``, ``F#m7b5``, ``Cmaj7``, also ``E
  minor`` inside a sentence about chords or a progression) are parsed in
  sentences that speak of chords, progressions or harmony, and pass when a
  chord with the same root pitch class and quality occurs in ``chords`` or
  ``chord_summary``. A piece that is one melodic line
  (:func:`captune.extractors.midi.notes.single_line`) sounds no chords: any chord
  named is a problem, and so is calling a piece of several voices "a single
  melodic line" / "unaccompanied" / "a melody alone", which passes for a single line.
- **Form** (:func:`section_claims`). ``N-bar intro|outro|verse|chorus|section(s)|
  passage`` needs a section of that kind (any, for sections; an instrumental one, for
  a passage) of N bars (:func:`captune.captioners.form.bar_count`); ``two verses`` /
  ``choruses`` / ``instrumental passages`` / ``sections`` (``phrases``) the number of sections of
  that kind (or all); ``form is A A B B`` the melodic labels in order (``form is A B, played
  twice``: that run repeated); ``one melody four times`` four melodic sections on one label;
  ``three of its nine melodies return`` (``each`` / ``both`` / ``none`` / ``neither of``, ``its one
  melody returns``; ``five recurring melodies``) the distinct melodic labels and those in more than
  one section (:func:`captune.captioners.form.melodies_returning`).
  :func:`check_segment` checks a time-stamped section caption against its section:
  its kind, bar count and chords (among the chords sounding in it), and each change it states from
  the section before (an instrument entering or leaving; higher / lower, denser / sparser, louder /
  softer) must be a clear one by :func:`captune.captioners.form.section_changes` (so none can be
  checked without ``section_notes``).
- **Sanity.** A caption must have ``MIN_WORDS``..``MAX_WORDS`` words and state
  at least one of the facts it was given (instrument, key, tempo, meter or
  chord), so gibberish and empty answers are rejected too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from captune.captioners.template import tempo_is_set
from captune.extractors.midi.gm import GM_PROGRAM_NAMES
from captune.extractors.midi.notes import single_line
from captune.extractors.pitch import key_name, parse_key
from captune.extractors.words import TEMPO_THRESHOLDS_BPM, TEMPO_WORDS

__all__ = ["check", "mentions", "BPM_TOLERANCE_ABS", "BPM_TOLERANCE_REL"]

BPM_TOLERANCE_ABS = 3.0
BPM_TOLERANCE_REL = 0.05
MIN_WORDS, MAX_WORDS = 5, 150

_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# --- tempo words -------------------------------------------------------------

_BOUNDS = (0.0, *TEMPO_THRESHOLDS_BPM, 1000.0)
_ITALIAN = {w.lower(): (_BOUNDS[i], _BOUNDS[i + 1]) for i, w in enumerate(TEMPO_WORDS)}
_ITALIAN.update({"lento": (40.0, 70.0), "larghetto": (60.0, 70.0), "andantino": (70.0, 110.0),
                 "allegretto": (90.0, 140.0)})


def _span(first: str, last: str) -> tuple[float, float]:
    return _ITALIAN[first.lower()][0], _ITALIAN[last.lower()][1]


# Plain-English tempo phrases → union of MidiCaps buckets.
TEMPO_WORD_RANGES = {
    "very slow": _span("Grave", "Largo"),
    "extremely slow": _span("Grave", "Grave"),
    "slow": _span("Grave", "Andante"),
    "moderately slow": _span("Adagio", "Andante"),
    "relaxed": _span("Grave", "Moderato"),
    "leisurely": _span("Grave", "Moderato"),
    "moderate": _span("Andante", "Moderato"),
    "medium": _span("Andante", "Moderato"),
    "mid-tempo": _span("Andante", "Moderato"),
    "moderately fast": _span("Moderato", "Allegro"),
    "brisk": _span("Moderato", "Vivace"),
    "upbeat": _span("Moderato", "Prestissimo"),
    "lively": _span("Moderato", "Prestissimo"),
    "quick": _span("Allegro", "Prestissimo"),
    "fast": _span("Allegro", "Prestissimo"),
    "very fast": _span("Presto", "Prestissimo"),
    "extremely fast": _span("Prestissimo", "Prestissimo"),
}
_PLAIN_RE = re.compile(
    r"\b(" + "|".join(sorted((re.escape(w) for w in TEMPO_WORD_RANGES), key=len, reverse=True)) + r")"
    r"(?:[- ]paced)?\s+(?:tempo|pace|speed|beat|rhythm|groove)\b"
    r"|\b(?:tempo|pace|speed)\s+(?:is|was|feels|remains|stays)\s+(?:quite\s+|rather\s+|fairly\s+)?("
    + "|".join(sorted((re.escape(w) for w in TEMPO_WORD_RANGES), key=len, reverse=True)) + r")\b",
    re.IGNORECASE)
# "grave" is also an English adjective: only the capitalised marking counts.
_ITALIAN_RE = re.compile(r"\b(Grave|(?i:" + "|".join(sorted(set(_ITALIAN) - {"grave"}, key=len, reverse=True))
                         + r"))\b")
_BPM_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:-\s*)?(?:bpm|beats\s+(?:per|a|each)\s+minute)\b", re.IGNORECASE)

# --- keys and chords ---------------------------------------------------------

_ACC = r"(?:#|♯|b|♭|-sharp|-flat|\s+sharp|\s+flat)?"
_KEY_RE = re.compile(r"(?<![\w#])([A-G])(" + _ACC + r")\s*(major|minor|maj|min)\b(?!\s*(?:7|seventh|sixth|ninth))")
_MODE_RE = re.compile(r"\b(major|minor)[\s-]+(?:key|tonality|mode|scale|keys)\b", re.IGNORECASE)
_KEY_BEFORE_RE = re.compile(r"(?:\b(?:key|tonality|tonic)\s+(?:is\s+|of\s+)?|\bin\s+(?:the\s+key\s+of\s+)?)"
                            r"(?:an?\s+)?$", re.IGNORECASE)
_CHORD_CONTEXT_RE = re.compile(r"\b(?:chord|chords|progression|progressions|harmony|harmonies|harmonic|"
                               r"changes|cadence|vamp|loop)\b", re.IGNORECASE)
_CHORD_RE = re.compile(r"(?<![\w#♯♭/'’-])([A-G])(#|♯|b|♭|[- ](?:flat|sharp)\b)?(maj7|M7|m7b5|ø7?|min7|m7|dim7|dim|°|aug|\+|min|m|7)?"
                       r"(?![\w#♯♭'’])")
_ARTICLE_A_RE = re.compile(r"\s+(?!and\b|or\b|to\b|then\b|chord\b|major\b|minor\b)[a-z]")

_QUALITY = {None: "", "": "", "m": "m", "min": "m", "7": "7", "maj7": "maj7", "M7": "maj7", "m7": "m7",
            "min7": "m7", "m7b5": "m7b5", "ø": "m7b5", "ø7": "m7b5", "dim": "dim", "°": "dim", "dim7": "dim",
            "aug": "aug", "+": "aug"}
_LABEL_RE = re.compile(r"^([A-G])(#|b)?(.*)$")

# --- instruments -------------------------------------------------------------


def _r(a: int, b: int) -> set[int]:
    return set(range(a, b + 1))


DRUMS = 128
_BASS = _r(32, 39) | {43, 87}
_STRINGS = _r(40, 45) | _r(48, 51) | {110}
_BRASS = _r(56, 63)
_SYNTH = _r(80, 103) | {38, 39, 50, 51, 54, 62, 63}
_PERCUSSION = {DRUMS, 47} | _r(112, 119)
INSTRUMENT_WORDS: dict[str, set[int]] = {
    "grand piano": _r(0, 3), "electric piano": {2, 4, 5}, "rhodes": {4, 5}, "piano": _r(0, 5),
    "keyboard": _r(0, 8) | _r(16, 21) | _SYNTH, "keyboards": _r(0, 8) | _r(16, 21) | _SYNTH,
    "harpsichord": {6}, "clavinet": {7}, "celesta": {8}, "glockenspiel": {9}, "music box": {10},
    "vibraphone": {11}, "vibes": {11}, "marimba": {12}, "xylophone": {13}, "tubular bells": {14},
    "bells": {9, 10, 14, 98, 112}, "chimes": {14}, "dulcimer": {15},
    "organ": _r(16, 20), "church organ": {19}, "accordion": {21, 23}, "harmonica": {22},
    "bass guitar": _BASS, "electric bass": _BASS, "synth bass": {38, 39, 87}, "fretless bass": {35},
    "slap bass": {36, 37}, "double bass": {32, 43}, "upright bass": {32, 43}, "acoustic bass": {32, 43},
    "bass": _BASS,
    "guitar": _r(24, 31), "guitars": _r(24, 31), "acoustic guitar": {24, 25}, "classical guitar": {24},
    "electric guitar": _r(26, 31), "distorted guitar": {29, 30}, "overdriven guitar": {29, 30},
    "violin": {40, 110}, "violins": {40, 110, 48, 49}, "viola": {41}, "cello": {42}, "cellos": {42},
    "contrabass": {43, 32},
    "strings": _STRINGS, "string quartet": _STRINGS, "string section": _STRINGS, "string ensemble": _STRINGS, "pizzicato": {45},
    "harp": {46}, "timpani": {47},
    "choir": {52, 53, 54, 85, 91}, "vocals": {52, 53, 54, 85}, "vocal": {52, 53, 54, 85},
    "singer": {52, 53, 54, 85}, "singing": {52, 53, 54, 85}, "voice": {52, 53, 54, 85}, "voices": {52, 53, 54, 85},
    "trumpet": {56, 59}, "trumpets": {56, 59}, "trombone": {57}, "tuba": {58}, "french horn": {60},
    "horn": {60, 61}, "horns": {60, 61} | _BRASS, "brass": _BRASS, "brass section": _BRASS,
    "saxophone": _r(64, 67), "sax": _r(64, 67), "oboe": {68}, "english horn": {69}, "cor anglais": {69},
    "bassoon": {70}, "clarinet": {71}, "piccolo": {72}, "flute": {72, 73, 75}, "flutes": {72, 73, 75},
    "recorder": {74}, "pan flute": {75}, "panpipes": {75}, "whistle": {78}, "ocarina": {79},
    "woodwinds": _r(64, 79), "woodwind": _r(64, 79), "winds": _r(64, 79) | _BRASS,
    "synth": _SYNTH, "synths": _SYNTH, "synthesizer": _SYNTH, "synthesizers": _SYNTH,
    "synth lead": _r(80, 87), "lead synth": _r(80, 87), "synth pad": _r(88, 95), "pad": _r(88, 95),
    "pads": _r(88, 95), "synth strings": {50, 51}, "synth brass": {62, 63},
    "sitar": {104}, "banjo": {105}, "shamisen": {106}, "koto": {107}, "kalimba": {108}, "bagpipe": {109},
    "bagpipes": {109}, "fiddle": {110, 40}, "steel drums": {114}, "steel drum": {114},
    "drums": {DRUMS, 114, 116, 117, 118}, "drum": {DRUMS, 114, 116, 117, 118}, "drum kit": {DRUMS},
    "drum machine": {DRUMS, 118}, "bass drum": {DRUMS}, "kick": {DRUMS}, "kick drum": {DRUMS},
    "snare": {DRUMS}, "hi-hat": {DRUMS}, "hi-hats": {DRUMS}, "hihat": {DRUMS}, "cymbal": {DRUMS, 119},
    "cymbals": {DRUMS, 119}, "percussion": _PERCUSSION, "taiko": {116}, "toms": {DRUMS, 117},
    "synth drums": {118, DRUMS}, "synth drum": {118, DRUMS}, "guitar fret noise": {120}, "fret noise": {120},
}
_INSTRUMENT_RE = re.compile(
    r"\b(" + "|".join(re.escape(w) for w in sorted(INSTRUMENT_WORDS, key=len, reverse=True)) + r")\b"
    r"(?!\s+(?:line|lines|notes|register|clef|range|part|voice|leading))", re.IGNORECASE)
_SINGLE_LINE_RE = re.compile(r"\b(?:single|one|lone|solo) (?:unaccompanied )?melodic line\b|\bunaccompanied\b|"
                             r"\ba melody alone\b", re.IGNORECASE)
_NEGATION_RE = re.compile(r"\b(?:no|without|lacks?|lacking|absence of|absent|not(?!\s+only)|nor|free of)\b"
                          r"(?:(?!\bbut\b)[^.;:!?,])*$", re.IGNORECASE)
_GM_INDEX = {name: program for program, name in enumerate(GM_PROGRAM_NAMES)}


# --- parsing -----------------------------------------------------------------


def _sentences(text: str) -> list[tuple[int, str]]:
    """(start offset, sentence) pairs; a period inside a number does not split."""
    out, start = [], 0
    for m in re.finditer(r"[.!?](?=\s|$)|\n+", text):
        out.append((start, text[start:m.end()]))
        start = m.end()
    if start < len(text):
        out.append((start, text[start:]))
    return out


def _accidental(acc: str) -> int:
    acc = acc.strip().lower().lstrip("-")
    if acc in ("#", "♯", "sharp"):
        return 1
    if acc in ("b", "♭", "flat"):
        return -1
    return 0


def _pc(letter: str, acc: str) -> int:
    return (_LETTER_PC[letter] + _accidental(acc)) % 12


def _mode(word: str) -> str:
    return "major" if word.lower().startswith("maj") else "minor"


def mentions(caption: str) -> dict:
    """Every fact a caption states, as parsed: ``keys`` [(pc, mode, text)], ``modes`` [mode],
    ``bpms`` [float], ``tempo_words`` [(word, (lo, hi))], ``meters`` ['3/4'],
    ``instruments`` [(word, negated)], ``chords`` [(pc, quality, text)], ``single_line`` (it calls the
    piece one melodic line)."""
    found = {"keys": [], "modes": [], "bpms": [], "tempo_words": [], "meters": [], "instruments": [],
             "chords": [], "single_line": bool(_SINGLE_LINE_RE.search(caption))}
    for _, sentence in _sentences(caption):
        chordy = bool(_CHORD_CONTEXT_RE.search(sentence))
        masked = sentence
        for m in _KEY_RE.finditer(sentence):
            if m.group(1) == "A" and not m.group(2) and sentence[m.end():m.end() + 1] == "-":
                continue  # "A minor-key piece": the article, then a mode
            pc, mode = _pc(m.group(1), m.group(2)), _mode(m.group(3))
            before = sentence[max(0, m.start() - 40):m.start()]
            as_key = (not chordy or _KEY_BEFORE_RE.search(before)
                      or re.match(r"\s*(?:key|tonality)\b", sentence[m.end():], re.IGNORECASE))
            if as_key:
                found["keys"].append((pc, mode, m.group(0)))
            else:
                found["chords"].append((pc, "" if mode == "major" else "m", m.group(0)))
            masked = masked[:m.start()] + " " * (m.end() - m.start()) + masked[m.end():]
        for m in _MODE_RE.finditer(masked):
            found["modes"].append(m.group(1).lower())
        for m in _BPM_RE.finditer(masked):
            found["bpms"].append(float(m.group(1)))
        for m in _ITALIAN_RE.finditer(masked):
            found["tempo_words"].append((m.group(1), _ITALIAN[m.group(1).lower()]))
        for m in _PLAIN_RE.finditer(masked):
            word = (m.group(1) or m.group(2)).lower()
            found["tempo_words"].append((word, TEMPO_WORD_RANGES[word]))
        for m in re.finditer(r"(?<![\d/])(\d{1,2})\s*/\s*(\d{1,2})(?![\d/])", masked):
            found["meters"].append(f"{int(m.group(1))}/{int(m.group(2))}")
        if re.search(r"\bcommon time\b", masked, re.IGNORECASE):
            found["meters"].append("4/4")
        if re.search(r"\b(?:cut time|alla breve)\b", masked, re.IGNORECASE):
            found["meters"].append("2/2")
        for m in _INSTRUMENT_RE.finditer(masked):
            negated = bool(_NEGATION_RE.search(masked[max(0, m.start() - 40):m.start()]))
            found["instruments"].append((m.group(1).lower(), negated))
        if chordy:
            for m in _CHORD_RE.finditer(masked):
                letter, acc, quality = m.group(1), m.group(2) or "", m.group(3)
                if letter == "A" and not acc and not quality and _ARTICLE_A_RE.match(masked[m.end():]):
                    continue  # the article "A"
                if letter == "A" and not acc and not quality and m.start() == 0:
                    continue
                found["chords"].append((_pc(letter, acc), _QUALITY[quality], m.group(0)))
    return found


def _programs(facts: Mapping) -> set[int]:
    programs = [p for p in (facts.get("instrument_programs") or []) if p is not None]
    if programs:
        return set(programs)
    return {_GM_INDEX[n] for n in (facts.get("instruments") or []) if n in _GM_INDEX}


def _chord_set(facts: Mapping) -> set[tuple[int, str]]:
    labels = [c.get("label") for c in (facts.get("chords") or [])] + list(facts.get("chord_summary") or [])
    out = set()
    for label in labels:
        m = _LABEL_RE.match(label or "")
        if m and label != "N":
            out.add((_pc(m.group(1), m.group(2) or ""), _QUALITY.get(m.group(3), m.group(3))))
    return out


def _tolerance(bpm: float) -> float:
    return max(BPM_TOLERANCE_ABS, BPM_TOLERANCE_REL * bpm)


# --- the check ---------------------------------------------------------------


def check(caption: str | None, facts: Mapping) -> list[str]:
    """Problems of ``caption`` as a description of ``facts`` (empty: it passes)."""
    if caption is None or not caption.strip():
        return ["empty caption"]
    problems: list[str] = []
    words = re.findall(r"[A-Za-z]+(?:'[a-z]+)?", caption)
    if len(words) < MIN_WORDS:
        problems.append(f"too short ({len(words)} words)")
    if len(caption.split()) > MAX_WORDS:
        problems.append(f"too long ({len(caption.split())} words)")
    found = mentions(caption)
    stated = 0

    key = facts.get("key")
    moved_to = {change["key"] for change in facts.get("key_changes") or []}
    true_pc, true_mode = None, None
    if key:
        try:
            true_pc, true_mode = parse_key(key)
        except ValueError:  # a key outside the '<tonic> major|minor' convention: not checkable
            key, found["keys"], found["modes"] = None, [], []
    for pc, mode, text in found["keys"]:
        said = key_name(pc, mode)
        if key is None:
            problems.append(f"key: says {said}, but no key was detected")
        elif (pc, mode) == (true_pc, true_mode) or said in moved_to:  # the home key or one it moves to
            stated += 1
        elif mode != true_mode and pc == (true_pc + (3 if true_mode == "minor" else 9)) % 12:
            problems.append(f"key: says {said}, the key is {key} (relative-key confusion)")
        elif pc == true_pc:
            problems.append(f"key: says {said}, the key is {key} (wrong mode)")
        else:
            problems.append(f"key: says {said}, the key is {key}")
    for mode in found["modes"]:
        if key is None:
            problems.append(f"mode: says {mode}, but no key was detected")
        elif mode != true_mode:
            problems.append(f"mode: says {mode}, the key is {key}")
        else:
            stated += 1

    bpm, tempo_word = (facts.get("tempo_bpm"), facts.get("tempo_word")) if tempo_is_set(facts) else (None, None)
    for said in found["bpms"]:
        if bpm is None:
            problems.append(f"tempo: says {said:g} bpm, but the tempo is unknown")
        elif abs(said - bpm) > _tolerance(bpm):
            problems.append(f"tempo: says {said:g} bpm, the tempo is {bpm:g} bpm")
        else:
            stated += 1
    for word, (lo, hi) in found["tempo_words"]:
        if bpm is not None:
            tol = _tolerance(bpm)
            if lo - tol < bpm <= hi + tol:
                stated += 1
            else:
                problems.append(f"tempo: says {word} ({lo:g}-{hi:g} bpm), the tempo is {bpm:g} bpm")
        elif tempo_word and word.lower() == tempo_word.lower():
            stated += 1
        else:
            problems.append(f"tempo: says {word}, but " +
                            (f"the tempo is {tempo_word}" if tempo_word else "the tempo is unknown"))

    meter = facts.get("time_signature")
    for said in found["meters"]:
        if said == meter:
            stated += 1
        else:
            problems.append(f"time signature: says {said}, " +
                            (f"the time signature is {meter}" if meter else "but the time signature is unknown"))

    programs = _programs(facts)
    for word, negated in found["instruments"]:
        plays = bool(INSTRUMENT_WORDS[word] & programs)
        if negated and plays:
            problems.append(f"instruments: says there is no {word}, but it plays")
        elif not negated and not plays:
            problems.append(f"instruments: names {word}, which does not play")
        elif not negated:
            stated += 1

    alone = single_line(facts.get("note_stats"))
    if found["single_line"]:
        if alone:
            stated += 1
        else:
            problems.append("texture: says a single melodic line, but several notes sound at once")
    chords = set() if alone else _chord_set(facts)
    for pc, quality, text in found["chords"]:
        if alone:
            problems.append(f"chords: names {text.strip()}, but the piece is a single melodic line")
        elif (pc, quality) in chords:
            stated += 1
        else:
            problems.append(f"chords: names {text.strip()}, which does not occur")

    form_problems, form_stated = section_claims(caption, facts)
    problems += form_problems
    stated += form_stated

    checkable = key or bpm is not None or tempo_word or meter or programs or chords or alone
    if not problems and stated == 0 and checkable:
        problems.append("states none of the given facts")
    return list(dict.fromkeys(problems))


# --- form --------------------------------------------------------------------

_KIND_WORDS = {"intro": ("intro",), "outro": ("outro",), "verse": ("verse",), "chorus": ("chorus",),
               "passage": ("instrumental",), "section": None, "sections": None}
_BARS_RE = re.compile(r"\b(\d+)-bar (intro|outro|verse|chorus|sections?|passage)\b", re.IGNORECASE)
_COUNT_RE = re.compile(r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\d+) "
                       r"(verses?|choruses|chorus|instrumental passages?|sections|phrases)\b", re.IGNORECASE)
_PATTERN_RE = re.compile(r"\bform is ([A-Z](?: [A-Z])+)\b(?:, played (twice|\w+ times))?")
_ONE_MELODY_RE = re.compile(r"\bone melody (twice|\w+ times)")
_RECURRING_RE = re.compile(r"\b(\w+) recurring melod(?:y|ies)\b", re.IGNORECASE)
_RETURN_RE = re.compile(r"\b(each|both|none|neither|\w+) of its (\w+) melodies returns?\b|\bits one melody (returns|is heard once)")


def section_claims(caption: str, facts: Mapping) -> tuple[list[str], int]:
    """(problems, facts stated) of the form claims of ``caption`` (see module doc)."""
    from captune.captioners.form import bar_count, melodies_returning
    sections = list(facts.get("sections") or [])
    problems, stated = [], 0
    claims = [m for r in (_BARS_RE, _COUNT_RE, _PATTERN_RE, _ONE_MELODY_RE, _RETURN_RE, _RECURRING_RE) for m in r.finditer(caption)]
    if claims and not sections:
        return ["form: states sections, but none were found"], 0
    for m in _BARS_RE.finditer(caption):
        bars, word = int(m.group(1)), m.group(2).lower()
        kinds = _KIND_WORDS[word]
        pool = [s for s in sections if kinds is None or s["kind"] in kinds]
        if any(bar_count(s, facts) == bars for s in pool):
            stated += 1
        else:
            problems.append(f"form: says {m.group(0)}, no such section of {bars} bars")
    for m in _COUNT_RE.finditer(caption):
        n = _count(m.group(1))
        word = m.group(2).lower()
        kind = "verse" if word.startswith("verse") else "chorus" if word.startswith("chorus") else \
            "instrumental" if word.startswith("instrumental") else None
        true = sum(1 for s in sections if kind is None or s["kind"] == kind)
        if n == true:
            stated += 1
        else:
            problems.append(f"form: says {m.group(0)}, there are {true}")
    labels = [s["label"] for s in sections if s["label"].isupper()]
    for m in _PATTERN_RE.finditer(caption):
        said = m.group(1).split() * (_times(m.group(2)) if m.group(2) else 1)
        if said == labels:
            stated += 1
        else:
            problems.append(f"form: says {m.group(0)}, the melodic sections are {' '.join(labels)}")
    for m in _ONE_MELODY_RE.finditer(caption):
        if len(set(labels)) == 1 and len(labels) == _times(m.group(1)):
            stated += 1
        else:
            problems.append(f"form: says {m.group(0)}, the melodic sections are {' '.join(labels)}")
    back, melodies = melodies_returning(labels)
    for m in _RETURN_RE.finditer(caption):
        if m.group(3):
            said = (1, 1 if m.group(3) == "returns" else 0)
        else:
            total, which = _count(m.group(2)), m.group(1).lower()
            said = (total, total if which in ("each", "both") else 0 if which in ("none", "neither") else _count(which))
        if said == (melodies, back):
            stated += 1
        else:
            problems.append(f"form: says {m.group(0)}, {back} of its {melodies} melodies return")
    for m in _RECURRING_RE.finditer(caption):
        if _count(m.group(1)) == back:
            stated += 1
        else:
            problems.append(f"form: says {m.group(0)}, {back} of its {melodies} melodies return")
    return problems, stated


def _count(word: str) -> int | None:
    """``nine`` / ``16`` → 9 / 16; None for a word that is not a number."""
    from captune.captioners.form import _NUMBERS
    word = word.lower()
    return _NUMBERS.index(word) if word in _NUMBERS else int(word) if word.isdigit() else None


def _times(phrase: str) -> int | None:
    """``twice`` / ``four times`` → 2 / 4."""
    return 2 if phrase == "twice" else _count(phrase.split()[0])


def check_segment(text: str, section: Mapping, facts: Mapping) -> list[str]:
    """Problems of a section's caption: its kind word, ``N bars`` and chords must be those of ``section``,
    and the changes it states from the section before must be clear ones (:func:`_change_problems`)."""
    from captune.captioners.form import bar_count, section_name
    problems = []
    name = section_name(section)
    if name.split()[0] not in text.lower():
        problems.append(f"section: does not call the {name} by its kind")
    bars = bar_count(section, facts)
    for m in re.finditer(r"\b(\d+) bars?\b", text):
        if int(m.group(1)) != bars:
            problems.append(f"section: says {m.group(0)}, the section has {bars}")
    inside = [c for c in facts.get("chords") or []
              if c["start_s"] < section["end_s"] - 1e-3 and c["end_s"] > section["start_s"] + 1e-3]
    chords = _chord_set({"chords": inside})
    at = text.lower().find("chord")                     # labels like "(A)" before it are not chords
    for pc, quality, said in (mentions(text[at:].split(";")[0])["chords"] if at >= 0 else []):
        if (pc, quality) not in chords:
            problems.append(f"section: names {said.strip()}, which does not sound in it")
    return problems + _change_problems(text, section, facts)


_CHANGE_VERBS = {"enters": "enter", "enter": "enter", "joins": "enter", "join": "enter", "leaves": "leave",
                 "leave": "leave", "drops out": "leave", "drop out": "leave"}
_VERB_RE = re.compile(r"\b(enters|enter|joins|join|leaves|leave|drops out|drop out)\b", re.IGNORECASE)
_TRENDS = {"higher": ("register", "higher"), "lower": ("register", "lower"), "denser": ("density", "denser"),
           "sparser": ("density", "sparser"), "louder": ("dynamics", "louder"), "softer": ("dynamics", "softer"),
           "quieter": ("dynamics", "softer")}
_TREND_RE = re.compile(r"\b(" + "|".join(_TRENDS) + r")\b", re.IGNORECASE)


def _change_problems(text: str, section: Mapping, facts: Mapping) -> list[str]:
    """Problems of a section caption's changes from the section before (instruments entering or
    leaving: an instrument word followed, in its clause, by enters / leaves; higher / lower, denser /
    sparser, louder / softer): each must be a clear change by
    :func:`captune.captioners.form.section_changes`."""
    from captune.captioners.form import section_changes
    index = next((i for i, s in enumerate(facts.get("sections") or [])
                  if s["start_s"] == section["start_s"] and s["end_s"] == section["end_s"]), None)
    change = section_changes(facts, index) if index is not None else section_changes({}, 0)
    problems = []
    for m in _INSTRUMENT_RE.finditer(text):
        clause = re.split(r"[;.]", text[m.end():])[0]
        verb = _VERB_RE.search(clause)
        if verb:
            way = _CHANGE_VERBS[verb.group(1).lower()]
            if not INSTRUMENT_WORDS[m.group(1).lower()] & set(change[way]):
                problems.append(f"section: says the {m.group(1).lower()} {verb.group(1).lower()}, "
                                f"no such instrument clearly {way}s here")
    for m in _TREND_RE.finditer(text):
        key, value = _TRENDS[m.group(1).lower()]
        if change[key] != value:
            problems.append(f"section: says {m.group(1).lower()}, not a clear change from the section before")
    return problems
