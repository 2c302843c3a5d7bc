"""Pitch-class and key names.

Keys are strings ``'<tonic> major'`` / ``'<tonic> minor'`` with tonics spelled
as their conventional key signature: the spelling with the fewest accidentals
(Eb major not D# major, C# minor not Db minor). The two six-accidental ties take
F# major and Eb minor. Chord roots are spelled by their degree in the key (see
:func:`spell_root`): Bb in G major is the flat third (bIII), not A#.
"""

SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
MAJOR_TONICS = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
MODES = ("major", "minor")

_PC = {name: pc for names in (SHARP_NAMES, FLAT_NAMES) for pc, name in enumerate(names)}
_PC.update({"Cb": 11, "Fb": 4, "E#": 5, "B#": 0})
# Keys whose signature has flats: their chords are spelled with flats.
_FLAT_KEYS = {("F", "major"), ("Bb", "major"), ("Eb", "major"), ("Ab", "major"), ("Db", "major"),
              ("D", "minor"), ("G", "minor"), ("C", "minor"), ("F", "minor"), ("Bb", "minor"),
              ("Eb", "minor")}
# In C major / A minor (no signature) the usual chromatic chords: Bb, Eb, Ab, F#, C#.
_NEUTRAL_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def pitch_class(name: str) -> int:
    """Pitch class 0-11 of a note name like ``'Eb'``, ``'F#'``, ``'B'``."""
    try:
        return _PC[name]
    except KeyError:
        raise ValueError(f"unknown note name {name!r}; expected e.g. 'C', 'F#', 'Bb'") from None


def key_name(tonic_pc: int, mode: str) -> str:
    """Conventional name of the key on pitch class ``tonic_pc`` in ``mode``."""
    tonics = MAJOR_TONICS if mode == "major" else MINOR_TONICS
    return f"{tonics[tonic_pc % 12]} {mode}"


def parse_key(key: str) -> tuple[int, str]:
    """``'Eb major'`` → ``(3, 'major')``; raises ValueError on anything else."""
    parts = key.split()
    if len(parts) != 2 or parts[1] not in MODES:
        raise ValueError(f"key {key!r} is not of the form '<tonic> major|minor'")
    return pitch_class(parts[0]), parts[1]


_LETTERS = "CDEFGAB"
_NATURAL = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Scale degree (0 = tonic letter) that names each interval above the tonic, in semitones. Chromatic
# roots take the spelling of the chords they usually are: in major #1 (the passing diminished
# chord on C# in C), b3, #4 (vii of V), b6 and b7 (chords borrowed from the minor); in minor b2
# (the Neapolitan), the major third (V of iv), #4, the raised sixth and the leading tone.
_DEGREE = {"major": (0, 0, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6), "minor": (0, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6)}
_ACCIDENTAL = {-1: "b", 0: "", 1: "#"}
_RARE = {"E#", "B#", "Cb", "Fb"}  # right in theory, but a chord is rarely named so: F, C, B, E instead


def spell_root(pc: int, key: str | None) -> str:
    """Name of chord root ``pc`` spelled by its degree in ``key`` (see ``_DEGREE``); a spelling
    that would need a double accidental, or E#, B#, Cb or Fb, falls back to the key signature's side (flats in flat
    keys, sharps otherwise). ``key=None``: neutral spelling (C#, Eb, F#, Ab, Bb)."""
    if key is None:
        return _NEUTRAL_NAMES[pc % 12]
    tonic, mode = key.split()
    letter = _LETTERS[(_LETTERS.index(tonic[0]) + _DEGREE[mode][(pc - pitch_class(tonic)) % 12]) % 7]
    accidental = (pc - _NATURAL[letter] + 6) % 12 - 6
    if accidental in _ACCIDENTAL and letter + _ACCIDENTAL[accidental] not in _RARE:
        return letter + _ACCIDENTAL[accidental]
    return (FLAT_NAMES if (tonic, mode) in _FLAT_KEYS else SHARP_NAMES)[pc % 12]
