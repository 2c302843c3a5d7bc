"""Near-duplicate fingerprints: MinHash signatures of melodic and harmonic shingles.

Conventions:

- A *signature* is a list of ``NUM_HASHES`` ints in ``[0, 2**63)`` (they fit
  int64): slot ``i`` is the minimum of hash function ``i`` over the item's set of
  shingles, so the share of equal slots of two signatures estimates the Jaccard
  similarity of their shingle sets (:func:`similarity`; standard error
  ``sqrt(s (1 - s) / NUM_HASHES)``, 0.035 at s = 0.2). Hashes are splitmix64 with
  fixed seeds: the same input gives the same signature in every process.
- An item with no shingle (no pitched note, or no line of ``SHINGLE_NOTES``
  notes; chroma with fewer than ``CHORD_GRAM`` chords) gets ``[]``: it cannot be
  compared and stays a group of its own.
- :func:`symbolic` (a :class:`~captune.extractors.midi.Piece`): every pitched
  track is reduced to its top line (onsets closer than ``MERGE_BEATS`` quarter
  notes merged into one event, the highest pitch kept). Tracks whose events are
  at least ``LINE_SHARE`` of their notes (unison and octave doublings counted
  once) are melodic lines (melody, counter-melody, bass); only they count, or
  every track's top line when no track is melodic. A shingle is
  ``SHINGLE_NOTES`` consecutive notes of one line: their pitch intervals
  (semitones, clipped to +-24: transposition does not matter) and the ratios of
  consecutive inter-onset intervals, as ``round(log2(ratio))`` clipped to +-3
  (a global tempo change, a tempo map, the ticks per quarter do not matter).
  Accompaniment (block chords, arpeggiated piano), velocities, programs and the
  order of tracks do not enter; doubling a line in another track or octave adds
  no shingle.
- :func:`from_chroma` (frames x 12 chroma, columns C..B, any frame rate, or one
  frame per beat): frames are averaged over ``CHORD_SMOOTH_S``, labelled with
  the major and minor triad templates of :mod:`captune.extractors.midi.chords`
  (none below ``MIN_SIMILARITY`` or in silence), triads shorter than
  ``MIN_CHORD_S`` dropped and equal neighbours merged. A shingle is
  ``CHORD_GRAM`` consecutive triads: their modes and the root steps between
  them (mod 12: the key does not matter); durations do not enter (tempo does not
  matter). Sevenths, dim/aug and chord durations were left out because they
  flip on real audio: on 4 recordings (planetblupi-music-ogg, 90 s) time-stretched
  x 1.2 / x 0.9 and pitch-shifted +2 / -3 with pedalboard, the similarity to the
  original is 0.20-0.64 (0.0-0.4 with all 8 qualities and duration ratios), and
  at most 0.06 between the 8 different recordings. Weaker than :func:`symbolic`:
  songs sharing a four-chord loop look alike. Audio signatures are compared
  with audio signatures only (the shingle families differ).
- LSH (:func:`band_keys`): the signature is cut into ``bands`` bands of
  ``r = NUM_HASHES / bands`` rows; two items become a candidate pair when one
  band is equal, with probability ``P(s) = 1 - (1 - s**r)**bands`` at
  similarity ``s``.

Defaults, measured on POP909's 909 songs and 1,989 versions
(``benchmarks/near_duplicates.py``): a version's similarity to its song is 1
for 62 % of them (the melody kept, the accompaniment re-played), under 0.4 for
5 %; between different songs (songs that are the same tune aside) the highest
is 0.12 (exact Jaccard 0.146) and the nearest other song's median 0.02.
``THRESHOLD`` 0.2 sits between, 1.7 standard errors above the worst unrelated
pair. ``BANDS`` 64 (r = 2) gives P(0.2) = 0.93, P(0.3) = 0.998 and
P(0.05) = 0.15: near-certain for versions and still cheap, since unrelated
pairs sit near 0 (1,708 candidate pairs among 1,557 distinct signatures, 989
of them near-duplicates; 98.9 % of the versions end in their song's group);
r = 3 and r = 4 group 1 % and 2.6 % fewer versions. Shingles of 5 notes let unrelated
songs come closer (exact Jaccard up to 0.157); all tracks' top lines instead
of the melodic ones dilute the kept melody with the re-played accompaniment
(5th percentile of version similarity 0.30 instead of 0.45).
"""

import hashlib

import numpy as np

from captune.extractors.errors import BadInput
from captune.extractors.midi.chords import _TEMPLATE_NAMES, _TEMPLATES, MIN_SIMILARITY
from captune.extractors.midi.piece import Piece

NUM_HASHES = 128
THRESHOLD = 0.2
BANDS = 64
SEED = 909

MERGE_BEATS = 1 / 12     # onsets closer than this (quarter notes) are one event of a line
LINE_SHARE = 0.9         # a track with this many events per distinct pitch class sounding is a line
SHINGLE_NOTES = 6        # notes per melodic shingle: 5 intervals and 4 rhythm ratios
MAX_INTERVAL = 24        # semitones; larger leaps are clipped
MAX_RATIO_CLASS = 3      # round(log2(ioi ratio)) clipped to +-3

CHORD_SMOOTH_S = 1.0     # moving average of chroma frames before labelling
MIN_CHORD_S = 0.6        # shorter triads are dropped
CHORD_GRAM = 4           # triads per harmonic shingle
SILENCE_SHARE = 0.05     # frames under this share of the median frame energy are N

_MELODIC, _HARMONIC = 1, 2   # shingle families, in the top bits of a shingle code
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_CHUNK = 1 << 15              # shingles hashed at once (bounds memory to 32 MB)
_POPCOUNT = np.asarray([bin(mask).count("1") for mask in range(1 << 12)])   # set bits of 12-bit masks
_IS_TRIAD = np.asarray([quality in ("", "m") for _, quality in _TEMPLATE_NAMES])
_TRIADS = _TEMPLATES[_IS_TRIAD]                                   # 24 x 12, unit rows
_TRIAD_ROOTS = np.asarray([root for root, _ in _TEMPLATE_NAMES], dtype=np.int64)[_IS_TRIAD]
_TRIAD_MINOR = np.asarray([quality == "m" for _, quality in _TEMPLATE_NAMES], dtype=np.int64)[_IS_TRIAD]


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on a uint64 array (wrapping arithmetic)."""
    z = z.copy()
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


_SEEDS = _mix(np.arange(NUM_HASHES, dtype=np.uint64) + np.uint64(SEED * 0x9E3779B97F4A7C15 % 2**64))


def minhash(shingles: np.ndarray) -> list[int]:
    """Signature of a set of shingle codes (any int64 / uint64 array; duplicates ignored)."""
    codes = np.unique(np.asarray(shingles).astype(np.uint64))
    if not len(codes):
        return []
    low = np.full(NUM_HASHES, _MASK64, dtype=np.uint64)
    for start in range(0, len(codes), _CHUNK):
        block = codes[None, start:start + _CHUNK] ^ _SEEDS[:, None]
        low = np.minimum(low, _mix(block).min(axis=1))
    return (low >> np.uint64(1)).astype(np.int64).tolist()


def _pack(columns: list[np.ndarray], widths: list[int], family: int) -> np.ndarray:
    """Shingle codes: non-negative small ints packed side by side, the family in bits 60-63."""
    code = np.full(len(columns[0]), family, dtype=np.int64) << 60
    shift = 0
    for column, width in zip(columns, widths):
        code |= column.astype(np.int64) << shift
        shift += width
    return code


def _ratio_classes(lengths: np.ndarray) -> np.ndarray:
    """round(log2(lengths[i + 1] / lengths[i])) clipped to +-MAX_RATIO_CLASS, shifted to be >= 0."""
    ratio = np.log2(lengths[1:] / lengths[:-1])
    return np.clip(np.rint(ratio), -MAX_RATIO_CLASS, MAX_RATIO_CLASS).astype(np.int64) + MAX_RATIO_CLASS


def lines(piece: Piece) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(onsets in ticks, pitches)`` of the melodic lines of ``piece`` (see module doc), by track."""
    pitched = ~piece.is_drum
    if not pitched.any():
        return []
    track, onset, pitch = piece.track[pitched], piece.onset[pitched], piece.pitch[pitched].astype(np.int64)
    order = np.lexsort((onset, track))
    track, onset, pitch = track[order], onset[order], pitch[order]
    gap = np.diff(onset)
    new = np.concatenate([[True], (track[1:] != track[:-1]) | (gap >= MERGE_BEATS * piece.tpq)])
    starts = np.flatnonzero(new)
    top = np.maximum.reduceat(pitch, starts)    # merged onsets: not always the first note's pitch
    event_track, event_onset = track[starts], onset[starts]
    ids = np.unique(event_track)
    classes = _POPCOUNT[np.bitwise_or.reduceat(1 << (pitch % 12), starts)]   # distinct pitch classes
    notes = np.bincount(event_track, weights=classes, minlength=ids.max() + 1)[ids]
    events = np.bincount(event_track, minlength=ids.max() + 1)[ids]
    melodic = ids[events >= LINE_SHARE * notes]
    chosen = melodic if len(melodic) else ids
    return [(event_onset[event_track == t], top[event_track == t]) for t in chosen]


def melodic_shingles(onset: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Shingle codes of one line (see module doc); empty if it has fewer than ``SHINGLE_NOTES`` notes."""
    n = SHINGLE_NOTES
    if len(pitch) < n:
        return np.zeros(0, dtype=np.int64)
    interval = np.clip(np.diff(pitch), -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL       # 0..48: 6 bits
    rhythm = _ratio_classes(np.diff(onset).astype(np.float64))                          # 0..6: 3 bits
    count = len(pitch) - n + 1
    return _pack([interval[k:k + count] for k in range(n - 1)] + [rhythm[k:k + count] for k in range(n - 2)],
                 [6] * (n - 1) + [3] * (n - 2), _MELODIC)


def symbolic(piece: Piece) -> list[int]:
    """MinHash signature of a symbolic piece's melodic lines; ``[]`` if it has none (see module doc)."""
    codes = [melodic_shingles(onset, pitch) for onset, pitch in lines(piece)]
    return minhash(np.concatenate(codes)) if codes else []


def chord_sequence(chroma: np.ndarray, frame_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(roots 0-11, minor 0/1) of the successive triads of a chromagram (see module doc)."""
    chroma = _check_chroma(chroma, frame_rate)
    if not len(chroma):
        return _TRIAD_ROOTS[:0], _TRIAD_MINOR[:0]
    width = max(1, int(round(CHORD_SMOOTH_S * frame_rate)))
    kernel = np.ones(width) / width
    smooth = np.stack([np.convolve(chroma[:, c], kernel, mode="same") for c in range(12)], axis=1)
    energy = np.linalg.norm(smooth, axis=1)
    scores = np.einsum("ij,kj->ik", smooth / np.where(energy > 0, energy, 1.0)[:, None], _TRIADS)
    best = scores.argmax(axis=1)
    none = (scores[np.arange(len(best)), best] < MIN_SIMILARITY) | (energy <= SILENCE_SHARE * np.median(energy))
    label = np.where(none, -1, best)
    starts = np.flatnonzero(np.concatenate([[True], label[1:] != label[:-1]]))
    runs = np.diff(np.append(starts, len(label)))
    label = label[starts][(label[starts] >= 0) & (runs >= MIN_CHORD_S * frame_rate)]
    label = label[np.concatenate([[True], label[1:] != label[:-1]])] if len(label) else label  # merge equals
    return _TRIAD_ROOTS[label], _TRIAD_MINOR[label]


def from_chroma(chroma: np.ndarray, frame_rate: float) -> list[int]:
    """MinHash signature of the triad changes of a frames x 12 chromagram at ``frame_rate`` frames/s;
    ``[]`` with fewer than ``CHORD_GRAM`` triads (see module doc)."""
    roots, minor = chord_sequence(chroma, frame_rate)
    n = CHORD_GRAM
    if len(roots) < n:
        return []
    count = len(roots) - n + 1
    step = np.diff(roots) % 12                                                  # 4 bits each
    columns = [step[k:k + count] for k in range(n - 1)] + [minor[k:k + count] for k in range(n)]   # 1 bit
    return minhash(_pack(columns, [4] * (n - 1) + [1] * n, _HARMONIC))


def _check_chroma(chroma, frame_rate) -> np.ndarray:
    try:
        chroma = np.asarray(chroma, dtype=np.float64)
        frame_rate = float(frame_rate)
    except (TypeError, ValueError) as exc:
        raise BadInput("bad_chroma", f"chroma must be a numeric array: {exc}", stage="extract") from exc
    if chroma.ndim != 2 or chroma.shape[1] != 12:
        raise BadInput("bad_chroma", f"chroma must be frames x 12, got shape {chroma.shape}", stage="extract")
    if not np.isfinite(chroma).all() or (chroma < 0).any():
        raise BadInput("bad_chroma", "chroma must be finite and non-negative", stage="extract")
    if not frame_rate > 0 or not np.isfinite(frame_rate):
        raise BadInput("bad_chroma", f"frame_rate must be positive, got {frame_rate}", stage="extract")
    return chroma


def similarity(a, b) -> float:
    """Estimated Jaccard similarity: the share of equal slots; 0.0 if either signature is empty/None."""
    if a is None or b is None or not len(a) or not len(b):
        return 0.0
    if len(a) != len(b):
        raise BadInput("signature_mismatch", f"signatures of {len(a)} and {len(b)} hashes", stage="group")
    return float(np.count_nonzero(np.asarray(a) == np.asarray(b))) / len(a)


def band_keys(signature, bands: int = BANDS) -> list[str]:
    """LSH band keys ``'<band>:<16 hex digits>'`` (blake2b of the band's rows); ``[]`` for an empty signature."""
    if signature is None or not len(signature):
        return []
    if bands <= 0 or len(signature) % bands:
        raise BadInput("bad_bands", f"{len(signature)} hashes do not split into {bands} bands", stage="group")
    rows = np.asarray(signature, dtype="<i8").reshape(bands, -1)
    return [f"{i}:{hashlib.blake2b(row.tobytes(), digest_size=8).hexdigest()}" for i, row in enumerate(rows)]
