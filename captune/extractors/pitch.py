"""Pitch-class and key names.

Keys are strings ``'<tonic> major'`` / ``'<tonic> minor'`` with tonics spelled
as their conventional key signature: the spelling with the fewest accidentals
(Eb major not D# major, C# minor not Db minor). The two six-accidental ties take
F# major and Eb minor. Chord roots are spelled with flats in flat keys and sharps
otherwise (see :func:`spell_root`).
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


def spell_root(pc: int, key: str | None) -> str:
    """Name of chord root ``pc`` in the spelling of ``key`` (None: neutral spelling)."""
    if key is None:
        return _NEUTRAL_NAMES[pc % 12]
    tonic, mode = key.split()
    if (tonic, mode) in _FLAT_KEYS:
        return FLAT_NAMES[pc % 12]
    if (tonic, mode) in {("C", "major"), ("A", "minor")}:
        return _NEUTRAL_NAMES[pc % 12]
    return SHARP_NAMES[pc % 12]
