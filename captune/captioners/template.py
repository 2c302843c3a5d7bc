"""Template captions in the spirit of MidiCaps: a few sentences built from facts.

The ``facts`` mapping (any value may be None, any list may be empty):

- ``duration_s``: length in seconds (float); ``duration_word``: one of
  'Short fragment', 'Short song', 'Song', 'Long piece'.
- ``tempo_bpm``: beats per minute (float); ``tempo_word``: Italian marking
  ('Grave' ... 'Prestissimo', MidiCaps thresholds, computed upstream); neither
  is stated when ``tempo_source`` is ``'default'`` (:func:`tempo_is_set`).
- ``time_signature``: '4/4', '3/4', '6/8' ...
- ``key``: 'Eb major', 'F# minor' ... (``key_confidence``/``key_alternative``
  are not used in captions).
- ``chord_summary``: the repeating progression, e.g. ['Am', 'F', 'C', 'G'];
  ``chord_summary_count``: how many times it is played (its turns).
- ``instruments``: General MIDI names ordered by prominence ('Drums' is the
  GM percussion kit); the first five distinct simplified names are mentioned,
  sung parts as a musician names them ('voice', 'two voices', 'a four-part
  choir', counted from ``instrument_tracks``, the program of every track, when
  present) and two violins, viola and cello as 'a string quartet'.
- ``chord_summary`` empty while ``chords`` hold chords: the caption says the
  harmony does not repeat a loop.
- ``mood``, ``genre``: lists of words, mentioned when present.
- ``chords``, ``beats_s``, ``downbeats_s``, ``modality``, ``variant`` are not
  used here (see ``control`` for MusicBench-style sentences).

Conventions: every random choice comes from the ``rng`` passed in, so a seed
fixes the caption. Only facts present in ``facts`` are stated; missing facts
are left out. Keys, chord labels and time signatures are written as given.
Numbers: bpm rounded to an integer; durations under 90 s in whole seconds,
longer ones in minutes rounded to the nearest half minute. Articles: before a
key the article follows the spoken first letter ("an A minor", "an Eb major",
"an F major", "a C major"); before other words it follows the first letter
(a vowel takes "an").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from captune.captioners.form import form_name, form_sentence
from captune.captioners.modulation import modulation_sentence
from captune.extractors.midi.notes import single_line

__all__ = ["caption"]

MAX_INSTRUMENTS = 5
MAX_SENTENCES = 5

# General MIDI names whose plain form is not just the lowercased name without
# its bank number or parenthesis.
_INSTRUMENT_NAMES = {
    "Acoustic Grand Piano": "piano",
    "Bright Acoustic Piano": "bright piano",
    "Electric Piano 1": "electric piano",
    "Electric Piano 2": "electric piano",
    "Acoustic Guitar (nylon)": "classical guitar",
    "Acoustic Guitar (steel)": "acoustic guitar",
    "Electric Guitar (jazz)": "jazz guitar",
    "Electric Guitar (clean)": "clean electric guitar",
    "Electric Guitar (muted)": "muted electric guitar",
    "Distortion Guitar": "distorted guitar",
    "Choir Aahs": "choir",
    "Voice Oohs": "voice",
    "String Ensemble 1": "strings",
    "String Ensemble 2": "strings",
    "Orchestra Hit": "orchestra hits",
    "Synth Drum": "synth drums",
}
_SYNTH_FAMILIES = {"Lead": "synth lead", "Pad": "synth pad", "FX": "synth effects"}

# Plain-English tempo for each Italian marking.
_PLAIN_TEMPO = {
    "Grave": "very slow",
    "Largo": "very slow",
    "Adagio": "slow",
    "Andante": "moderately slow",
    "Moderato": "moderate",
    "Allegro": "fast",
    "Vivace": "fast",
    "Presto": "very fast",
    "Prestissimo": "extremely fast",
}

_NOUNS = ["piece", "track", "composition"]
_SCORE_NOUNS = ["piece", "work", "composition"]   # a score notates a work; "track" is a recording's or a sequencer's


def nouns(facts: Mapping) -> list[str]:
    """What a caption calls the item: MidiCaps' nouns, with 'work' for 'track' when it is a score."""
    return _SCORE_NOUNS if facts.get("modality") == "score" else _NOUNS


def caption(facts: Mapping, rng: np.random.Generator) -> str:
    """A caption of a few sentences describing ``facts``; randomness from ``rng`` only."""
    noun = _pick(rng, nouns(facts))
    intro = _intro(facts, noun, rng)
    frame = [s for s in (_key_sentence(facts, rng), _meter_sentence(facts, rng), _tempo_sentence(facts, rng)) if s]
    others = [s for s in (_chord_sentence(facts, rng), _duration_sentence(facts, rng),
                          modulation_sentence(facts), form_sentence(facts)) if s]

    budget = MAX_SENTENCES - len(others) - (intro is not None)
    if len(frame) > 1 and (len(frame) > budget or rng.random() < 0.5):
        frame = [_frame_sentence(facts, rng)]

    body = [*frame, *others]
    body = [body[i] for i in rng.permutation(len(body))]
    sentences = [intro] if intro else []
    for sentence in body:
        subject = _pick(rng, ["It", "It", f"The {noun}"]) if sentences else f"This {noun}"
        if "{subj}" in sentence and re.search(rf"\b{noun}\b", sentence):   # "is a short piece": no second "piece"
            subject = subject.split()[0] if subject.startswith("This") else "It"
        sentences.append(sentence.replace("{subj}", subject))
    return " ".join(_capitalize(s) for s in sentences)


# --- small helpers -----------------------------------------------------------


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _capitalize(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _a(word: str) -> str:
    """Indefinite article for an ordinary English word or phrase."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def _a_key(key: str) -> str:
    """Indefinite article for a key, by the spoken letter name: A, E, F take 'an'."""
    return "an" if key[:1].upper() in "AEF" else "a"


def _join(words: Sequence[str]) -> str:
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _times(count: int) -> str:
    return "twice" if count == 2 else f"{count} times"


def instrument_name(gm_name: str) -> str:
    """Plain lowercase name for a General MIDI instrument name."""
    if gm_name in _INSTRUMENT_NAMES:
        return _INSTRUMENT_NAMES[gm_name]
    family = gm_name.split(" ")[0]
    if family in _SYNTH_FAMILIES and re.match(r"^\w+ \d", gm_name):
        return _SYNTH_FAMILIES[family]
    name = re.sub(r"\s*\(.*?\)", "", gm_name)
    return re.sub(r"\s+\d+$", "", name).strip().lower()


_SUNG = ("Choir Aahs", "Voice Oohs")
_STRING_QUARTET = [40, 40, 41, 42]   # two violins, viola, cello
_COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


def _singers(facts: Mapping) -> str:
    """The sung parts as a musician names them: 'voice', 'two voices', 'a four-part choir', 'a choir'.
    Parts are counted from ``instrument_tracks`` (a track per part) when the facts carry it."""
    tracks = facts.get("instrument_tracks") or []
    parts = sum(p in (52, 53) for p in tracks)
    if "Choir Aahs" in (facts.get("instruments") or []) and parts < 3:
        return "a choir"
    if parts <= 1:
        return "voice"
    if parts == 2:
        return "two voices"
    if parts not in _COUNT_WORDS:
        return "a choir"
    ensemble = f"{_COUNT_WORDS[parts]}-part choir"
    return f"{_a(ensemble)} {ensemble}"


def plain_instruments(facts: Mapping) -> list[str]:
    """The first ``MAX_INSTRUMENTS`` distinct plain instrument names, by prominence; sung parts first,
    as one ensemble (:func:`_singers`), two violins, viola and cello alone as 'a string quartet'."""
    if sorted(facts.get("instrument_tracks") or []) == _STRING_QUARTET:
        return ["a string quartet"]
    names: list[str] = []
    listed = facts.get("instruments") or []
    for gm_name in sorted(listed, key=lambda n: n not in _SUNG):  # voices first: 'voice and piano'
        name = _singers(facts) if gm_name in _SUNG else instrument_name(gm_name)
        if name and name not in names:
            names.append(name)
    return names[:MAX_INSTRUMENTS]


def is_sung(facts: Mapping) -> bool:
    """True when a voice or choir is among the instruments."""
    return any(n in _SUNG for n in facts.get("instruments") or [])


def _duration_phrase(seconds: float) -> str:
    if seconds < 90:
        whole = max(1, round(seconds))
        return f"{whole} second{'s' if whole != 1 else ''}"
    minutes = round(seconds / 30) / 2
    return f"{minutes:g} minutes"


# --- sentences ---------------------------------------------------------------
# Sentences may start with "{subj}", filled in by ``caption`` ("This piece",
# "It", "The track" ...) once the sentence order is known.


def _intro(facts: Mapping, noun: str, rng) -> str | None:
    moods = [m.lower() for m in (facts.get("mood") or [])[:3] if m]
    genres = [g.lower() for g in (facts.get("genre") or [])[:2] if g]
    described = " ".join(filter(None, [", ".join(moods), " and ".join(genres), noun]))
    names = plain_instruments(facts)
    if not names:
        return f"This is {_a(described)} {described}." if described != noun else None
    listed = _join(names)  # an ensemble ("a string quartet") or singers perform; instruments are played on
    options = [
        f"This is {_a(described)} {described} featuring {listed}.",
        f"This {described} is performed {'by' if is_sung(facts) or names[0].startswith('a ') else 'on'} {listed}.",
        f"{listed} can be heard in this {described}.",
        f"This {described} is scored for {listed}.",
    ]
    if len(names) > 1:  # "consists of piano" is not English; "consists of piano and strings" is
        options.append(f"The instrumentation of this {described} consists of {listed}.")
    if len(names) > 1 and not names[0].startswith("a "):
        options.append(f"Led by the {names[0]}, this {described} also features {_join(names[1:])}.")
    return _pick(rng, options)


def _key_sentence(facts: Mapping, rng) -> str | None:
    key = facts.get("key")
    if not key:
        return None
    return _pick(
        rng,
        [
            f"{{subj}} is in {key}.",
            f"The key is {key}.",
            f"{{subj}} is written in {_a_key(key)} {key} key.",
            f"The home key is {key}.",
        ],
    )


def _meter_sentence(facts: Mapping, rng) -> str | None:
    signature = facts.get("time_signature")
    if not signature:
        return None
    return _pick(
        rng,
        [
            f"The time signature is {signature}.",
            f"{{subj}} is in {signature} time.",
            f"The meter is {signature}.",
            f"{{subj}} moves in {signature}.",
        ],
    )


def tempo_is_set(facts: Mapping) -> bool:
    """False when the tempo is the MIDI writer's default (``tempo_source`` ``'default'``: a lone 120 bpm
    in a file nobody played, :func:`captune.extractors.midi.tempo.unperformed_default`): a caption
    then says nothing of the tempo, since "Allegro" would be the export's, not the sarabande's."""
    return facts.get("tempo_source") != "default"


def _tempo_forms(facts: Mapping) -> list[str]:
    """Available ways to name the tempo: 'bpm', 'marking', 'plain' (none unless :func:`tempo_is_set`)."""
    if not tempo_is_set(facts):
        return []
    forms = ["bpm"] if facts.get("tempo_bpm") is not None else []
    if facts.get("tempo_word") in _PLAIN_TEMPO:
        forms += ["marking", "plain"]
    return forms


def _tempo_sentence(facts: Mapping, rng) -> str | None:
    forms = _tempo_forms(facts)
    if not forms:
        return None
    form = _pick(rng, forms)
    if form == "bpm":
        bpm = round(facts["tempo_bpm"])
        options = [
            f"The tempo is about {bpm} BPM.",
            f"{{subj}} moves at roughly {bpm} beats per minute.",
            f"{{subj}} is played at around {bpm} BPM.",
        ]
    elif form == "marking":
        word = facts["tempo_word"]
        options = [
            f"The tempo is {word}.",
            f"The tempo marking is {word}.",
            f"{{subj}} is taken at {_a(word)} {word} tempo.",
        ]
    else:
        plain = _PLAIN_TEMPO[facts["tempo_word"]]
        options = [
            f"The tempo is {plain}.",
            f"{{subj}} moves at {_a(plain)} {plain} pace.",
            f"{{subj}} has {_a(plain)} {plain} tempo.",
        ]
    return _pick(rng, options)


def _frame_sentence(facts: Mapping, rng) -> str:
    """Key, meter and tempo in one sentence (at least one of them is known)."""
    clauses = []
    key = facts.get("key")
    if key:
        clauses.append(_pick(rng, [f"in {key}", f"in the key of {key}", f"in {_a_key(key)} {key} key"]))
    signature = facts.get("time_signature")
    if signature:
        clauses.append(_pick(rng, [f"in {signature} time", f"with a time signature of {signature}"]))
    forms = _tempo_forms(facts)
    if forms:
        form = _pick(rng, forms)
        if form == "bpm":
            clauses.append(f"at about {round(facts['tempo_bpm'])} BPM")
        elif form == "marking":
            word = facts["tempo_word"]
            clauses.append(f"at {_a(word)} {word} tempo")
        else:
            plain = _PLAIN_TEMPO[facts["tempo_word"]]
            clauses.append(f"at {_a(plain)} {plain} pace")
    clauses = [clauses[i] for i in rng.permutation(len(clauses))]
    verb = _pick(rng, ["is played", "unfolds", "is performed"])
    return f"{{subj}} {verb} {_join(clauses)}."


def _chord_sentence(facts: Mapping, rng) -> str | None:
    if single_line(facts.get("note_stats")):   # one voice of a chanson, a fiddle tune: no harmony sounds
        return _pick(rng, ["{subj} is a single melodic line.", "{subj} is one unaccompanied melodic line.",
                           "{subj} is a melody alone, with no accompaniment."])
    chords = [c for c in (facts.get("chord_summary") or []) if c]
    if not chords:
        if any(c.get("label") not in (None, "N") for c in facts.get("chords") or []):
            return _pick(rng, ["The harmony keeps moving rather than repeating a loop of chords.",
                               "{subj} does not settle into a repeating chord loop."])
        return None
    if len(chords) == 1:
        return _pick(rng, [f"The harmony revolves around {chords[0]}.", f"{{subj}} is built around {chords[0]}."])
    progression = ", ".join(chords)
    count = facts.get("chord_summary_count") or 0
    if count < 2:
        options = [
            f"The main chord progression is {progression}.",
            f"The harmony follows the progression {progression}.",
            f"{{subj}} is built on the chords {progression}.",
        ]
    elif len(chords) == 2:   # a pair heard again and again alternates: a vamp, or tonic and dominant
        times, (a, b) = _times(count), chords
        options = [
            f"The harmony alternates between {a} and {b}, a pair heard {times}.",
            f"The chords {a} and {b} alternate, a pair played {times}.",
        ]
        if count >= 4:   # "again and again ... heard twice" would contradict itself
            options.append(f"Again and again the harmony moves between {a} and {b}, a pair heard {times}.")
    else:
        times = _times(count)
        options = [
            f"The progression {progression} is played {times}.",
            f"The chords {progression} form a loop that is played {times}.",
            f"Heard {times}, the progression {progression} underpins the harmony.",
            f"The harmony is built on {progression}, a progression heard {times}.",
        ]
    return _pick(rng, options)


_UNSUNG_LENGTH = {"short song": "short piece", "song": "medium-length piece"}
_SUNG_LENGTH = {"song": "medium-length song"}   # MidiCaps' middle class: "making it a song" names no length


def may_say_song(facts: Mapping) -> bool:
    """False for a score or MIDI file that nobody sings and whose form is not verse-chorus (a chorale
    played by instruments, a sonata movement, a string quartet): 'piece' is true of a song too,
    'song' is false of a quartet. Audio keeps MusicBench's 'song'."""
    return (facts.get("modality") not in ("score", "midi") or is_sung(facts)
            or form_name(facts.get("sections")) == "verse-chorus")


def length_word(facts: Mapping) -> str:
    """MidiCaps' duration word, lowercased, with 'song' read as 'piece' unless :func:`may_say_song`,
    and 'short fragment' as 'short piece' for a score: a score notates a whole piece (a chorale, a
    movement, a tune of a book), never an excerpt of one, however short."""
    word = (facts.get("duration_word") or "").lower()
    if word == "short fragment" and facts.get("modality") == "score":
        word = "short piece"
    return (_SUNG_LENGTH if may_say_song(facts) else _UNSUNG_LENGTH).get(word, word)


def _duration_sentence(facts: Mapping, rng) -> str | None:
    seconds = facts.get("duration_s")
    length = _duration_phrase(seconds) if seconds and seconds > 0 else None
    word = length_word(facts)
    options = []
    if length:
        options += [f"{{subj}} lasts about {length}.", f"{{subj}} runs for roughly {length}."]
    elif word:
        options.append(f"{{subj}} is {_a(word)} {word}.")
    if length and word:
        options += [
            f"{{subj}} is {_a(word)} {word} of about {length}.",
            f"The total duration is about {length}, making it {_a(word)} {word}.",
        ]
    return _pick(rng, options) if options else None
