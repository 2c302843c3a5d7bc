"""Reading the labelled reference corpora of ``../shared/corpora`` for the benchmarks.

Shared by ``key_agreement.py`` and ``accuracy.py``. Conventions are mir_eval's:
keys ``'Gb major'``, chord labels in Harte syntax (``'G:maj'``, ``'E:min7'``,
``'N'``), times in seconds (chords as ``(intervals, labels)`` with intervals an
``n x 2`` array of ``[start, end)``).

- POP909 (``pop909/POP909/NNN/``): ``NNN.mid`` (the song; alternate versions in
  ``versions/``), ``key_audio.txt`` (``start end Tonic:maj|min``),
  ``chord_midi.txt`` (``start end Harte``) and ``beat_midi.txt`` (``time ...``
  per beat). All labels came from algorithms checked by the authors: agreement,
  not truth.
- DCML (``dcml/``): ``midi/<corpus>__<piece>.mid`` and ``items.jsonl`` (theorists'
  global key, local key regions ``[[start_s, end_s, key], ...]`` and chord labels;
  120 qpm score time, repeats not expanded).
- Nottingham (``nottingham/``): ``MIDI/<book><X>.mid`` (full tune, melody +
  chords, rendered from the ABC with repeats expanded, no tempo map: 120 bpm)
  and ``ABC_cleaned/<book>.abc``. The key is the first ``K:`` of tune ``X:``;
  chord symbols (``"G"``, ``"Em"``, ``"D7"``, ``"Gd"`` dim, ``"Ga"`` aug,
  ``"G/b"`` over B) are placed in time by music21's ABC parser with repeats
  expanded (:func:`nottingham_chords`), and cached, since parsing 1,000 tunes
  takes a few minutes.
"""

import glob
import json
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import mir_eval
import numpy as np

DEFAULT_CORPORA = "/work/shared/corpora"
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "captune-benchmarks")
POP909_MODES = {"maj": "major", "min": "minor"}
ABC_MODES = {"": "major", "maj": "major", "major": "major", "ion": "major",
             "m": "minor", "min": "minor", "minor": "minor", "aeo": "minor"}
ABC_KEY = re.compile(r"^\s*([A-Ga-g])([#b]?)\s*([A-Za-z]*)")


@dataclass(frozen=True)
class Item:
    """One MIDI file and its annotated key (mir_eval form, e.g. ``'Gb major'``)."""

    name: str
    path: str
    reference: str


@dataclass
class Corpus:
    """Items of one corpus, and how many annotated tunes were left out (and why)."""

    title: str
    items: list[Item]
    skipped: dict[str, int]


# --- POP909 ------------------------------------------------------------------

def pop909_first_key(path: str) -> str:
    """First key region of a POP909 ``key_audio.txt`` in mir_eval form (``'2.67 191.98 Gb:maj'`` → ``'Gb major'``)."""
    with open(path) as fh:
        label = fh.readline().split()[2]
    tonic, mode = label.split(":")
    reference = f"{tonic} {POP909_MODES[mode]}"
    mir_eval.key.validate_key(reference)
    return reference


PLANETBLUPI = "/usr/share/planetblupi/music"  # Debian's planetblupi-music-ogg: real .ogg recordings


def pop909_song_dirs(corpora: str) -> list[str]:
    """The 909 POP909 song folders (``POP909/NNN``), sorted."""
    return sorted(glob.glob(os.path.join(corpora, "pop909", "POP909", "[0-9][0-9][0-9]")))


def pop909_corpus(corpora: str) -> Corpus:
    """The 909 POP909 songs (``NNN/NNN.mid``) with their first annotated key."""
    items = []
    for song in pop909_song_dirs(corpora):
        number = os.path.basename(song)
        items.append(Item(number, os.path.join(song, f"{number}.mid"),
                          pop909_first_key(os.path.join(song, "key_audio.txt"))))
    return Corpus("POP909 (first region of key_audio.txt)", items, {})


def pop909_chords(song_dir: str) -> tuple[np.ndarray, list[str]]:
    """``chord_midi.txt`` of a POP909 song: (intervals, Harte labels)."""
    intervals, labels = [], []
    with open(os.path.join(song_dir, "chord_midi.txt")) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 3 and float(parts[1]) > float(parts[0]):
                intervals.append((float(parts[0]), float(parts[1])))
                labels.append(parts[2])
    return np.asarray(intervals).reshape(-1, 2), labels


def pop909_beats(song_dir: str) -> np.ndarray:
    """Beat times (s) of ``beat_midi.txt`` (first column)."""
    return np.loadtxt(os.path.join(song_dir, "beat_midi.txt"), usecols=0, ndmin=1)


def pop909_key_regions(song_dir: str) -> list[tuple[float, float, str]]:
    """``key_audio.txt`` of a POP909 song: ``[(start_s, end_s, 'Gb major'), ...]``."""
    regions = []
    with open(os.path.join(song_dir, "key_audio.txt")) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 3:
                tonic, mode = parts[2].split(":")
                regions.append((float(parts[0]), float(parts[1]), f"{tonic} {POP909_MODES[mode]}"))
    return regions


# --- DCML ----------------------------------------------------------------------

def dcml_rows(corpora: str) -> list[dict]:
    """The rows of ``dcml/items.jsonl`` with ``path`` made absolute."""
    root = os.path.join(corpora, "dcml")
    with open(os.path.join(root, "items.jsonl")) as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    for row in rows:
        row["path"] = os.path.join(root, row["path"])
    return rows


def dcml_corpus(corpora: str) -> Corpus:
    """The DCML movements with their global key; item names are ``<corpus>/<piece>``."""
    items = [Item(f"{row['corpus']}/{row['piece']}", row["path"], row["key"]) for row in dcml_rows(corpora)]
    return Corpus("DCML (theorists' global key)", items, {})


# --- Nottingham: keys ----------------------------------------------------------

def abc_first_keys(text: str) -> dict[int, str]:
    """Tune number (``X:``) → the value of its first ``K:`` field, for one ABC file."""
    keys, number = {}, None
    for line in text.splitlines():
        if line.startswith("X:"):
            number = int(line[2:].strip())
        elif line.startswith("K:") and number is not None and number not in keys:
            keys[number] = line[2:].strip()
    return keys


def abc_key_to_mir(field: str) -> str | None:
    """An ABC key field in mir_eval form (``'Em'`` → ``'E minor'``), or None for modes and the unparsable."""
    match = ABC_KEY.match(field)
    if not match:
        return None
    tonic, accidental, mode = match.groups()
    mode = ABC_MODES.get(mode.lower())
    return f"{tonic.upper()}{accidental} {mode}" if mode else None


def nottingham_corpus(corpora: str) -> Corpus:
    """Nottingham tunes (full MIDI) with the first ``K:`` of their ABC tune; modal or unmatched tunes skipped."""
    root = os.path.join(corpora, "nottingham")
    items, skipped = [], {"modal or unparsable K:": 0, "no MIDI file": 0}
    for abc in sorted(glob.glob(os.path.join(root, "ABC_cleaned", "*.abc"))):
        book = os.path.splitext(os.path.basename(abc))[0]
        with open(abc, encoding="utf-8", errors="replace") as fh:
            keys = abc_first_keys(fh.read())
        for number, field in sorted(keys.items()):
            reference = abc_key_to_mir(field)
            path = os.path.join(root, "MIDI", f"{book}{number}.mid")
            if reference is None:
                skipped["modal or unparsable K:"] += 1
            elif not os.path.exists(path):
                skipped["no MIDI file"] += 1
            else:
                items.append(Item(f"{book}{number}", path, reference))
    return Corpus("Nottingham (first K: of the ABC tune)", items, skipped)


# --- Nottingham: chord symbols -------------------------------------------------

# The cleaned ABC chord qualities → (figure music21 parses faithfully, Harte quality).
ABC_QUALITIES = {"": ("", "maj"), "m": ("m", "min"), "7": ("7", "7"), "m7": ("m7", "min7"),
                 "d": ("dim", "dim"), "a": ("aug", "aug"), "6": ("6", "maj6"), "m6": ("m6", "min6"),
                 "7b9": ("7", "7"), "maj7": ("maj7", "maj7"), "9": ("9", "9")}
ABC_CHORD = re.compile(r"^([A-G][#b]?)([^/]*)(/.*)?$")
HARTE_OF_FIGURE = {}
for _root in ("C", "C#", "Db", "D", "D#", "Eb", "E", "F", "F#", "Gb", "G", "G#", "Ab", "A", "A#", "Bb", "B"):
    for _fig, _harte in ABC_QUALITIES.values():
        HARTE_OF_FIGURE[_root + _fig] = f"{_root}:{_harte}"


def normalise_abc_chord(symbol: str) -> str | None:
    """Cleaned-ABC chord text → a figure music21 reads faithfully (bass dropped), or None.

    ``'Gd'`` → ``'Gdim'``, ``'D7/f+'`` → ``'D7'``; alternatives in parentheses
    (``'(D7)'``), annotations and unknown qualities → None (the symbol is removed).
    """
    match = ABC_CHORD.match(symbol.strip())
    if not match or match.group(2) not in ABC_QUALITIES:
        return None
    return match.group(1) + ABC_QUALITIES[match.group(2)][0]


def _normalise_tune(text: str) -> str:
    out = []
    for line in text.splitlines():
        if re.match(r"^[A-Za-z]:", line):
            out.append(line)
        else:
            out.append(re.sub(r'"([^"]*)"', lambda m: f'"{normalise_abc_chord(m.group(1))}"'
                              if normalise_abc_chord(m.group(1)) else "", line))
    return "\n".join(out) + "\n"


def abc_tunes(text: str) -> dict[int, str]:
    """Tune number → the text of that tune (from its ``X:`` line to the next)."""
    tunes, number, lines = {}, None, []
    for line in text.splitlines():
        if line.startswith("X:"):
            if number is not None:
                tunes[number] = "\n".join(lines)
            number, lines = int(line[2:].strip()), []
        if number is not None:
            lines.append(line)
    if number is not None:
        tunes[number] = "\n".join(lines)
    return tunes


def _chord_list(score) -> dict:
    from music21 import harmony
    flat = score.flatten()
    chords = [[float(c.offset), HARTE_OF_FIGURE[c.figure]]
              for c in flat.getElementsByClass(harmony.ChordSymbol) if c.figure in HARTE_OF_FIGURE]
    return {"length_q": float(flat.highestTime), "chords": chords}


def tune_chords(tune_text: str) -> dict | None:
    """``{'written': ..., 'expanded': ...}`` of one ABC tune, each ``{'length_q', 'chords': [[offset_q,
    harte], ...]}``, as written and with repeats expanded (None where music21 fails); offsets count
    from the first note, so a pickup starts at 0."""
    from music21 import converter  # benchmark-only dependency, imported in the worker
    try:
        score = converter.parse(_normalise_tune(tune_text), format="abc")
    except Exception:
        return None
    out = {"written": _chord_list(score), "expanded": None}
    try:
        out["expanded"] = _chord_list(score.expandRepeats())
    except Exception:  # inconsistent repeat marks
        pass
    return out


def nottingham_chords(corpora: str, workers: int | None = None) -> dict[str, dict | None]:
    """Tune name (``<book><X>``) → :func:`tune_chords`, from the cache when present."""
    os.makedirs(CACHE_DIR, exist_ok=True)
    cache = os.path.join(CACHE_DIR, "nottingham_chords_v2.json")
    if os.path.exists(cache):
        with open(cache) as fh:
            return json.load(fh)
    names, texts = [], []
    for abc in sorted(glob.glob(os.path.join(corpora, "nottingham", "ABC_cleaned", "*.abc"))):
        book = os.path.splitext(os.path.basename(abc))[0]
        with open(abc, encoding="utf-8", errors="replace") as fh:
            for number, text in abc_tunes(fh.read()).items():
                names.append(f"{book}{number}")
                texts.append(text)
    with ProcessPoolExecutor(workers) as pool:
        results = dict(zip(names, pool.map(tune_chords, texts, chunksize=8)))
    with open(cache, "w") as fh:
        json.dump(results, fh)
    return results


def chord_intervals(onsets_s: np.ndarray, labels: list[str], end_s: float) -> tuple[np.ndarray, list[str]]:
    """Time-stamped chord labels from chord onsets: each holds to the next (the last to ``end_s``);
    ``N`` before the first."""
    onsets_s = np.asarray(onsets_s, dtype=np.float64)
    starts = np.concatenate([[0.0], onsets_s]) if len(onsets_s) and onsets_s[0] > 0 else onsets_s
    labels = (["N"] + list(labels)) if len(starts) > len(onsets_s) else list(labels)
    ends = np.append(starts[1:], max(end_s, starts[-1]))
    keep = ends > starts
    return np.stack([starts[keep], ends[keep]], axis=1), [l for l, k in zip(labels, keep) if k]
