"""Chord labels per half beat from weighted pitch-class evidence, smoothed at the harmonic rhythm.

Conventions: as :mod:`captune.extractors.midi.chords` (labels ``<root><quality>``
with qualities ``''``, ``m``, ``dim``, ``aug``, ``7``, ``maj7``, ``m7``,
``m7b5``, and ``N``; roots spelled for the key). Input: frame bounds in ticks
(:func:`subdivide` splits every beat into ``SUBDIVIDE`` frames, a dotted beat
of 6/8, 9/8, 12/8 or 6/4 into its three natural divisions; the last bound is
the end) and the beat bounds they were cut from; output one label per frame,
which :func:`chords.chords` merges into segments.

Method (a score for every template on every frame, then the best path):

1. Evidence per frame: how long each pitch class sounds, with two kinds of
   note discounted. The melodies' notes count ``MELODY_WEIGHT``
   (:func:`melody_tracks`: the monophonic tracks above the chordal tracks'
   mean pitch, over at least one chordal track: tunes over an accompaniment,
   such as a song's sung melody and its instrumental bridge, whose passing
   tones are not the harmony; a top line among single lines, as in a string
   quartet, is one voice of the harmony and counts in full). Passing and neighbour tones in any track count
   ``NCT_WEIGHT`` (:func:`embellishing`: short, struck off the beat,
   approached and left by step in their own track, the textbook unaccented
   non-chord tones). The bass: how long the lowest pitch holding at least
   ``BASS_HOLD`` of the frame sounds.
2. Template fit: cosine similarity of each frame's evidence with binary chord
   templates (Fujishima 1999, "Realtime chord recognition of musical sound",
   pitch-class profiles). Longer spans are step 7's work. Where neither third
   of a root sounds (a bare fifth, a lone root), its major and minor chords
   (triads, sevenths) take the better of their two scores, the key prior's
   choice keeping an edge of only ``MODE_TIE``: the frame says nothing of the
   mode, so the frames around it, where the third sounds, decide it through
   the path, and the key only where they do not.
3. Bass: a bonus ``BASS_ROOT`` times the share of the frame's bass on the
   chord's root, a penalty ``BASS_FOREIGN`` times the share off the chord.
   Inversions and slash chords (C/E) keep their root since a chord-tone bass is
   not penalised (Temperley 2001, "The Cognition of Basic Musical Structures",
   ch. 6, the preference for roots in the bass).
4. Key prior, from the key in force (``key_changes`` where given, else the
   global key), the key conditioning the chord as in Mauch & Dixon 2010,
   "Simultaneous estimation of chords and musical context from audio" (IEEE
   TASLP 18(6)): ``KEY_PRIOR`` for chords whose tones all lie in its scale
   (major; natural + harmonic minor: after a modulation to the dominant its
   leading tone is diatonic), ``PRIMARY`` more for those on the tonic,
   subdominant and dominant (the three functions that carry most of tonal
   harmony; in minor the dominant is the major chord, whose third is the
   leading tone, so a bare fifth on it leans to V, not v). The cadential 6/4:
   over the dominant in the bass, the tonic triad counts as evidence for the
   dominant (V's score is at least I's), as analysts read it (V with a double suspension that resolves over the same
   bass, not I in second inversion); and after the path (step 7), any run
   of a triad over its fifth that resolves to the chord on that bass over
   the same bass takes that chord's label (:func:`resolve_six_fours`: the
   cadential 6/4 of a tonicised key the key in force does not name).
5. Parsimony: sevenths lose ``SEVENTH_COST`` and diminished / augmented triads
   ``RARE_COST``, so a melody note crossing the seventh keeps the triad.
6. ``N`` scores ``MIN_FIT`` (a label must fit better), and wins where nothing sounds.
7. Harmonic rhythm: the labels are the Viterbi path over the templates and
   ``N`` (:mod:`.viterbi`) with a cost ``CHANGE`` per change on a beat,
   ``DOWNBEAT_CHANGE`` times that on a bar line and ``OFF_BEAT_CHANGE`` times
   that between beats (chords change on strong beats: Temperley 2001, ch. 6,
   the metrical preference rule for chord spans), in units of a half beat of evidence (a frame's scores are weighed
   by its length in half beats), so a
   chord holds until the evidence for the next outweighs it: a passing or
   suspended tone on one frame does not change the chord, a real change on
   any frame does, and a chord may last a beat or several bars (segmenting by
   harmonic rhythm, as Pardo & Birmingham 2002, "Algorithms for chordal
   analysis", Computer Music Journal 26(2), score candidate segments by
   template fit). A rest between notes within a bar carries no evidence (every
   label scores 0 there, so the chord before holds until the next: a harmony
   lasts over a breath, as analysts label it; :func:`held_rests`); a silence
   holding a whole bar, and silence before the first note or after the last, is ``N``;
   from the first full bar on, a frame where anything sounds that the path
   leaves ``N`` takes the chord before it (:func:`hold_through`: a scale run
   that fits no chord is motion within the harmony it starts from); before
   the first full bar (a pickup alone) ``N`` stays.
8. Each chord of the path, as a whole (segment-level evidence, where a frame
   sees only part of the chord): a major or minor chord takes the mode of
   the third that sounds more over its span (:func:`segment_modes`), and a
   minor triad over its root (the lowest note of the whole run) in which the
   note a minor sixth above the bass sounds more than the triad's fifth is the
   major triad a third below in first inversion (:func:`first_inversions`: E G
   over E with C sounding now and then is C/E, I6, not iii; the per-frame
   bass-root bonus had read every frame without the C as E minor). The
   converse (C E over C with an A now and then as A minor over its third) is
   not made: measured, it loses.

Where the constants came from (``benchmarks/accuracy.py``, figures in the
README): ``MELODY_WEIGHT``, ``SEVENTH_COST``, ``RARE_COST``, ``MIN_FIT``,
``KEY_PRIOR`` on Nottingham and POP909; ``CHANGE``, ``BASS_ROOT`` and
``BASS_FOREIGN`` on the even-numbered items of DCML and POP909; ``PRIMARY``,
``NCT_WEIGHT``, ``NCT_SHORT``, ``MODE_TIE``, ``OFF_BEAT_CHANGE`` and ``DOWNBEAT_CHANGE`` on the even-numbered DCML
movements (in name order), checked on the odd ones, POP909 and Nottingham.
No sus chords: the vocabulary is unchanged. numpy only; template matching by gather-and-sum, not a
matrix product (no BLAS thread pool).
"""

import numpy as np

from captune.extractors.midi.chords import QUALITIES, _TEMPLATE_NAMES, _TEMPLATES, _label_names
from captune.extractors.midi.piece import Piece
from captune.extractors.midi.viterbi import viterbi
from captune.extractors.pitch import parse_key

SUBDIVIDE = 2                 # evidence frames per beat
BASS_ROOT = 0.06
BASS_FOREIGN = 0.05
KEY_PRIOR = 0.06
PRIMARY = 0.02                # more for chords on the tonic, subdominant, dominant
NCT_WEIGHT = 0.5              # passing and neighbour tones count this much
DOWNBEAT_CHANGE = 0.5         # a change on a bar line costs this many times CHANGE
OFF_BEAT_CHANGE = 1.5         # a change between beats costs this many times CHANGE
MODE_TIE = 0.005              # a bare fifth: the key prior's mode keeps this edge
NCT_SHORT = 0.5               # beats: a passing or neighbour tone lasts at most this
SEVENTH_COST = 0.03
RARE_COST = 0.06
MIN_FIT = 0.55                # below: N
CHANGE = 0.2                  # cost of a chord change, in units of the per-frame score
BASS_HOLD = 0.1               # share of the frame a note must sound to count as the bass
MELODY_WEIGHT = 0.3           # the melody track's notes count this much
MONOPHONIC = 0.9              # distinct onsets / notes of a monophonic track, at least

_MASK = (_TEMPLATES > 0).astype(np.float64)                      # K x 12
_ROOTS = np.asarray([root for root, _ in _TEMPLATE_NAMES])
_QUALITY = [quality for _, quality in _TEMPLATE_NAMES]
_IS_SEVENTH = np.asarray([len(QUALITIES[q]) == 4 for q in _QUALITY], dtype=np.float64)
_IS_RARE = np.asarray([q in ("dim", "aug") for q in _QUALITY], dtype=np.float64)
_INDEX = {name: i for i, name in enumerate(_TEMPLATE_NAMES)}
_MODE_PAIRS = np.asarray([[[_INDEX[(root, q)] for root in range(12)] for q in pair]
                         for pair in (("", "m"), ("7", "m7"))])  # [pair, major / minor, root] -> template
_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)  # natural minor + the raised seventh


def _diatonic(key: str | None) -> np.ndarray:
    """1.0 for templates whose tones all lie in the scale of ``key`` (zeros without a key)."""
    if key is None:
        return np.zeros(len(_TEMPLATE_NAMES))
    tonic, mode = parse_key(key)
    scale = np.zeros(12)
    scale[[(tonic + i) % 12 for i in (_MAJOR_SCALE if mode == "major" else _MINOR_SCALE)]] = 1.0
    return (np.einsum("kj,j->k", _MASK, 1.0 - scale) == 0).astype(np.float64)


def _key_prior(key: str | None) -> np.ndarray:
    """Score bonus per template in ``key``: ``KEY_PRIOR`` if diatonic, ``PRIMARY`` more if its
    root is also the tonic, subdominant or dominant (zeros without a key)."""
    diatonic = _diatonic(key)
    if key is None:
        return diatonic
    tonic, mode = parse_key(key)
    primary = np.isin((_ROOTS - tonic) % 12, (0, 5, 7))
    if mode == "minor":  # the dominant of a minor key is major (its third the leading tone): v is no primary
        primary &= ~(((_ROOTS - tonic) % 12 == 7) & np.isin(_QUALITY, ("m", "m7")))
    return diatonic * (KEY_PRIOR + PRIMARY * primary)


def melody_tracks(piece: Piece) -> np.ndarray:
    """The tracks of the tunes over an accompaniment: among at least two pitched tracks, the monophonic
    ones (at most ``1 - MONOPHONIC`` of a track's notes share an onset) whose mean pitch is above the
    mean pitch of the chordal (not monophonic) tracks' notes; none without a chordal track (single
    lines only: voices of the harmony). A song's lead lines are often more than one: POP909 writes
    the sung melody and the instrumental bridge between its phrases as two tracks, and an appoggiatura
    held over the chord in either (F over A flat major) must not make it F minor seven."""
    pitched = ~piece.is_drum
    tracks = piece.track[pitched]
    if len(np.unique(tracks)) < 2:
        return np.zeros(0, np.int64)
    pitch = piece.pitch[pitched].astype(np.float64)
    count = np.bincount(tracks, minlength=len(piece.track_program)).astype(np.float64)
    mean = np.bincount(tracks, weights=pitch, minlength=len(count)) / np.maximum(count, 1)
    span = int(piece.onset.max()) + 1
    keys = np.sort(tracks.astype(np.int64) * span + piece.onset[pitched])
    distinct = np.bincount(keys[np.append(True, keys[1:] != keys[:-1])] // span, minlength=len(count))
    mono = (count > 0) & (distinct >= MONOPHONIC * count)
    chordal = (count > 0) & ~mono
    if not chordal.any():
        return np.zeros(0, np.int64)
    floor = pitch[chordal[tracks]].mean()
    return np.flatnonzero(mono & (mean > floor))


def embellishing(piece: Piece, beats: np.ndarray) -> np.ndarray:
    """True per pitched note that is a passing or neighbour tone: short (at most ``NCT_SHORT`` of a
    beat), struck off the beat, and approached and left by step (one or two semitones) in its own
    track (a note of the track ends where it starts, another starts where it ends)."""
    pitched = ~piece.is_drum
    on, dur = piece.onset[pitched].astype(np.int64), piece.duration[pitched].astype(np.int64)
    off, pitch, track = on + dur, piece.pitch[pitched].astype(np.int64), piece.track[pitched].astype(np.int64)
    beat_len = np.median(np.diff(beats)) if len(beats) > 1 else piece.tpq
    at = np.clip(np.searchsorted(beats, on), 0, len(beats) - 1)
    before = np.clip(at - 1, 0, len(beats) - 1)
    tol = beat_len / 16
    on_beat = (np.abs(beats[at] - on) <= tol) | (np.abs(beats[before] - on) <= tol)
    quantum = max(int(tol), 1)

    def code(tick, p):
        return (track * (1 << 32) + np.round(tick / quantum).astype(np.int64)) * 128 + p

    def found(queries, table):  # any of each row's queries among the table's codes (sorted search, no hashing)
        table = np.sort(table)
        at = np.minimum(np.searchsorted(table, queries), len(table) - 1)
        return (table[at] == queries).any(axis=1)

    steps = np.asarray([-2, -1, 1, 2])
    approached = found(code(on, pitch)[:, None] + steps, code(off, pitch))
    left = found(code(off, pitch)[:, None] + steps, code(on, pitch))
    return approached & left & (dur <= NCT_SHORT * beat_len) & ~on_beat


def beat_evidence(piece: Piece, bounds: np.ndarray, beats: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(chroma, bass, lowest): (len(bounds) - 1) x 12 sounding ticks per pitch class (melody track
    discounted by ``MELODY_WEIGHT``, passing and neighbour tones by ``NCT_WEIGHT``, judged on the
    beat bounds ``beats``, default every ``SUBDIVIDE``-th bound), sounding ticks of the
    frame's bass per pitch class, and the frame's bass pitch (MIDI number, -1 where nothing sounds)."""
    pitched = ~piece.is_drum
    on, off = piece.onset[pitched], (piece.onset + piece.duration)[pitched]
    pitch = piece.pitch[pitched].astype(np.int64)
    n = len(bounds) - 1
    chroma, bass = np.zeros((n, 12)), np.zeros((n, 12))
    if not len(on):
        return chroma, bass, np.full(n, -1)
    first = np.clip(np.searchsorted(bounds, on, side="right") - 1, 0, n - 1)
    last = np.clip(np.searchsorted(bounds, off, side="left") - 1, first, n - 1)
    spans = last - first + 1
    note = np.repeat(np.arange(len(on)), spans)
    seg = np.repeat(first, spans) + (np.arange(spans.sum()) - np.repeat(np.cumsum(spans) - spans, spans))
    overlap = np.minimum(off[note], bounds[seg + 1]) - np.maximum(on[note], bounds[seg])
    sounding = overlap > 0
    note, seg, overlap = note[sounding], seg[sounding], overlap[sounding]
    p = pitch[note]
    weight = overlap * np.where(np.isin(piece.track[pitched][note], melody_tracks(piece)), MELODY_WEIGHT, 1.0)
    passing = embellishing(piece, bounds[::SUBDIVIDE] if beats is None else beats)
    weight = weight * np.where(passing[note], NCT_WEIGHT, 1.0)
    chroma = np.bincount(seg * 12 + p % 12, weights=weight, minlength=n * 12).reshape(n, 12)
    # the bass: the lowest pitch among notes holding at least BASS_HOLD of the frame (else any note)
    held = overlap >= BASS_HOLD * (bounds[seg + 1] - bounds[seg])
    lowest = np.full(n, 1 << 30)
    np.minimum.at(lowest, seg[held], p[held])
    fallback = np.full(n, 1 << 30)
    np.minimum.at(fallback, seg, p)
    lowest = np.where(lowest < (1 << 30), lowest, fallback)
    is_bass = p == lowest[seg]
    bass = np.bincount(seg[is_bass] * 12 + p[is_bass] % 12, weights=overlap[is_bass],
                       minlength=n * 12).reshape(n, 12)
    return chroma, bass, np.where(lowest < (1 << 30), lowest, -1)


_INTERVALS = list(QUALITIES.values())
# [template, tone] -> pitch class, 3-note templates padded with 12 (a zero column appended to the input)
_TONES = np.asarray([[(root + i) % 12 for i in iv] + [12] * (4 - len(iv))
                     for iv in _INTERVALS for root in range(12)])
_SQRT_SIZES = np.sqrt(np.repeat([float(len(iv)) for iv in _INTERVALS], 12))


def _tone_sums(x: np.ndarray) -> np.ndarray:
    """rows x templates: the sum of ``x`` over each template's tones (template order of ``_TEMPLATE_NAMES``).

    One gather and a sum over four tones instead of a matrix product: no BLAS thread pool."""
    padded = np.concatenate([x, np.zeros((len(x), 1))], axis=1)
    return padded[:, _TONES].sum(axis=2)


def _unit(chroma: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.sqrt(np.einsum("ij,ij->i", chroma, chroma))[:, None]
    return chroma / np.where(norms > 0, norms, 1.0)


def subdivide(bounds: np.ndarray, tpq: int | None = None) -> np.ndarray:
    """Beat bounds (ticks) split into ``SUBDIVIDE`` equal frames per beat (the last bound kept); with
    ``tpq``, a dotted beat (a multiple of three eighths: 6/8, 9/8, 12/8, 6/4) into three, its
    natural division."""
    lengths = np.diff(bounds)
    parts = np.full(len(lengths), SUBDIVIDE)
    if tpq:
        eighths = np.round(lengths / (tpq / 2))
        parts[(eighths % 3 == 0) & (np.abs(lengths - eighths * tpq / 2) < tpq / 16)] = 3
    starts = np.repeat(bounds[:-1], parts)
    index = np.arange(parts.sum()) - np.repeat(np.cumsum(parts) - parts, parts)
    inner = starts + np.repeat(lengths / parts, parts) * index
    return np.append(inner, bounds[-1])


def frame_keys(piece: Piece, bounds: np.ndarray, key: str | None, key_changes: list[dict] | None) -> list:
    """The key in force at the start of every frame between ``bounds`` (ticks): from
    ``key_changes`` (``[{'time_s', 'key'}, ...]``) where given, else ``key`` throughout."""
    if not key_changes:
        return [key] * (len(bounds) - 1)
    starts = np.asarray([c["time_s"] for c in key_changes])
    at = np.searchsorted(starts, piece.seconds(bounds[:-1]) + 1e-6, side="right") - 1
    return [key_changes[i]["key"] for i in np.maximum(at, 0)]


def harmony_scores(piece: Piece, bounds: np.ndarray, key: str | None = None,
                   keys: list | None = None, beats: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(scores frames x templates, then chroma, bass and lowest as :func:`beat_evidence` gives
    them) for the frames between
    ``bounds``, ``SUBDIVIDE`` frames per beat: see module doc. ``keys``: the key in force
    per frame (:func:`frame_keys`; None: ``key`` throughout)."""
    chroma, bass, lowest = beat_evidence(piece, bounds, beats)
    scores = _tone_sums(_unit(chroma)) / _SQRT_SIZES  # cosine with each template
    # bass (one pitch, so one pitch class per frame): + BASS_ROOT on the root, - BASS_FOREIGN off the chord
    has_bass = bass.sum(axis=1) > 0
    table = BASS_FOREIGN * (_MASK.T - 1.0) + BASS_ROOT * (np.arange(12)[:, None] == _ROOTS[None, :])
    scores += table[bass.argmax(axis=1)] * has_bass[:, None]
    scores -= (SEVENTH_COST * _IS_SEVENTH + RARE_COST * _IS_RARE)[None, :]
    keys = np.asarray([key] * len(scores) if keys is None else keys, dtype=object)
    for k in set(keys.tolist()):
        rows = keys == k
        scores[rows] += _key_prior(k)[None, :]
        if k is not None:  # the cadential 6/4: the tonic triad over the dominant bass counts for V
            tonic, mode = parse_key(k)
            dominant = (tonic + 7) % 12
            six_four = rows & has_bass & (bass.argmax(axis=1) == dominant)
            i, v = _INDEX[(tonic, "" if mode == "major" else "m")], _INDEX[(dominant, "")]
            scores[six_four, v] = np.maximum(scores[six_four, v], scores[six_four, i])
    # no third sounds over a root (a bare fifth, a lone root): its major and minor chords (triads,
    # sevenths) score alike but for MODE_TIE, so the frames around, where the third sounds, tell the mode
    roots = np.arange(12)
    bare = (chroma[:, (roots + 3) % 12] <= 0) & (chroma[:, (roots + 4) % 12] <= 0)
    for major, minor in _MODE_PAIRS:
        both = np.maximum(scores[:, major], scores[:, minor])
        lean = MODE_TIE * np.sign(scores[:, major] - scores[:, minor])  # the prior's choice keeps an edge
        scores[:, major] = np.where(bare, both - np.maximum(-lean, 0), scores[:, major])
        scores[:, minor] = np.where(bare, both - np.maximum(lean, 0), scores[:, minor])
    return scores, chroma, bass, lowest


def harmony_labels(piece: Piece, bounds: np.ndarray, key: str | None = None,
                   key_changes: list[dict] | None = None, beats: np.ndarray | None = None,
                   downbeats: np.ndarray | None = None) -> list[str]:
    """One label per frame between ``bounds`` (ticks, cut from the beat bounds ``beats`` by
    :func:`subdivide`; None: ``SUBDIVIDE`` frames per beat), roots spelled for ``key``; the key
    prior follows ``key_changes`` where given, and a change on one of the ``downbeats`` (ticks)
    costs ``DOWNBEAT_CHANGE`` times ``CHANGE``; rests held and runs held through only where the
    ``downbeats`` are known (see module doc)."""
    keys = frame_keys(piece, bounds, key, key_changes)
    scores, chroma, bass, lowest = harmony_scores(piece, bounds, key, keys, beats)
    sounding = chroma.sum(axis=1) > 0
    evidence = np.concatenate([scores, np.full((len(scores), 1), MIN_FIT)], axis=1)  # last column: N
    evidence[~sounding, :-1] = -1.0  # silence: N (cosine fits lie in [0, 1], the bonuses are small)
    evidence[~sounding, -1] = 1.0
    if downbeats is not None:
        evidence[held_rests(bounds, sounding, downbeats)] = 0.0
    change = np.full(len(evidence), CHANGE)
    if beats is not None:  # frames shorter than a half beat weigh less
        at = np.clip(np.searchsorted(beats, bounds[:-1], side="right") - 1, 0, len(beats) - 2)
        evidence *= (np.diff(bounds) * SUBDIVIDE / np.diff(beats)[at])[:, None]
        change[~np.isin(bounds[:-1], beats)] *= OFF_BEAT_CHANGE
    if downbeats is not None and len(downbeats):
        change[np.isin(bounds[:-1], downbeats)] *= DOWNBEAT_CHANGE
    path = resolve_six_fours(viterbi(evidence, change), bass)
    if downbeats is not None:
        path = hold_through(path, sounding & in_full_bars(bounds, sounding, downbeats))
    return _label_names(key)[first_inversions(segment_modes(path, chroma), chroma, lowest)].tolist()


def held_rests(bounds: np.ndarray, sounding: np.ndarray, downbeats: np.ndarray) -> np.ndarray:
    """True per silent frame (between ``bounds``, ticks) that lies between two sounding ones in a
    silence holding no whole bar (``downbeats``: bar lines, ticks): a rest within the bar is part of
    the harmony before it, which lasts until the next chord, as analysts label it; a silent bar is N."""
    silent = ~sounding
    held = np.zeros(len(silent), dtype=bool)
    starts, ends = _runs(silent)
    for start, end in zip(starts, ends):
        if not silent[start] or start == 0 or end == len(silent):
            continue
        bars = np.searchsorted(downbeats, bounds[end], side="right") - np.searchsorted(downbeats, bounds[start])
        held[start:end] = bars < 2
    return held


def in_full_bars(bounds: np.ndarray, sounding: np.ndarray, downbeats: np.ndarray) -> np.ndarray:
    """True per frame (between ``bounds``, ticks) from the first bar line (``downbeats``, ticks) at or
    after the first note on (before it, an unaccompanied pickup may stand without a chord, as lead
    sheets leave it)."""
    begun = np.zeros(len(sounding), dtype=bool)
    if sounding.any():
        bars = downbeats[downbeats >= bounds[np.flatnonzero(sounding)[0]]]
        if len(bars):
            begun = bounds[:-1] >= bars[0]
    return begun


def hold_through(path: np.ndarray, holds: np.ndarray) -> np.ndarray:
    """``path`` (template index per frame; ``len(_TEMPLATE_NAMES)`` is N) with every ``N`` on a frame
    where ``holds`` (sounding, from the first full bar on: :func:`in_full_bars`) given the chord
    before it: a scale run or a chromatic line that fits no chord is motion within the harmony it
    starts from, not an absence of harmony."""
    path = path.copy()
    none = len(_QUALITY)
    for t in np.flatnonzero(holds & (path == none)):
        if t > 0:
            path[t] = path[t - 1]
    return path


def _runs(path: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of equal labels in ``path``."""
    starts = np.flatnonzero(np.append(True, path[1:] != path[:-1]))
    return starts, np.append(starts[1:], len(path))


_MODE_FLIP = {"": "m", "m": "", "7": "m7", "m7": "7"}
_OTHER_MODE = np.asarray([_INDEX[(root, _MODE_FLIP[q])] if q in _MODE_FLIP else -1  # the same root's other mode
                          for root, q in _TEMPLATE_NAMES])


def segment_modes(path: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """``path`` (template index per frame; ``len(_TEMPLATE_NAMES)`` is N) with every major or minor
    chord (triad or seventh) in the mode of the third that sounds more over its whole run
    (``chroma``: frames x 12 evidence): a frame without its third got the mode from the frames
    around and the key, but a third anywhere in the chord's span is the chord's own word on it."""
    if not len(path):
        return path
    path = path.copy()
    starts, ends = _runs(path)
    sums = np.add.reduceat(chroma, starts, axis=0)
    for r, (start, end) in enumerate(zip(starts, ends)):
        here = path[start]
        if here >= len(_QUALITY) or _OTHER_MODE[here] < 0:
            continue
        major_third, minor_third = (_ROOTS[here] + 4) % 12, (_ROOTS[here] + 3) % 12
        own, other = (major_third, minor_third) if _QUALITY[here] in ("", "7") else (minor_third, major_third)
        if sums[r, other] > sums[r, own]:
            path[start:end] = _OTHER_MODE[here]
    return path


def first_inversions(path: np.ndarray, chroma: np.ndarray, lowest: np.ndarray) -> np.ndarray:
    """``path`` with every run of a minor triad over its root (the lowest note of the whole run,
    ``lowest``: the bass pitch per frame, -1 none) in which the note a minor sixth above the bass
    sounds more than the triad's fifth relabelled as the major triad a third below, in first
    inversion (E-G with C above E: C/E, not Em): the bass-root bonus of each frame reads a
    first-inversion chord whose root sounds only now and then as the mediant triad."""
    if not len(path):
        return path
    path = path.copy()
    starts, ends = _runs(path)
    sums = np.add.reduceat(chroma, starts, axis=0)
    low = np.minimum.reduceat(np.where(lowest >= 0, lowest, 1 << 30), starts)
    for r, (start, end) in enumerate(zip(starts, ends)):
        here = path[start]
        if here >= len(_QUALITY) or _QUALITY[here] != "m" or low[r] >= (1 << 30) or low[r] % 12 != _ROOTS[here]:
            continue
        root = _ROOTS[here]
        if sums[r, (root + 8) % 12] > sums[r, (root + 7) % 12]:
            path[start:end] = _INDEX[((root + 8) % 12, "")]
    return path


def resolve_six_fours(path: np.ndarray, bass: np.ndarray) -> np.ndarray:
    """``path`` (template index per frame; ``len(_TEMPLATE_NAMES)`` is N) with every 6/4 that resolves
    over its bass relabelled as the chord it delays: a run of a major or minor triad over its fifth
    (``bass``: frames x 12 sounding ticks), followed by a run of the major triad or dominant seventh
    on that bass over the same bass, takes the next run's label (the cadential 6/4 of any key, the
    tonicised ones the key prior does not know)."""
    starts, ends = _runs(path)
    if len(starts) < 2:
        return path
    path = path.copy()
    run_bass = np.add.reduceat(bass, starts, axis=0).argmax(axis=1)
    n = len(_QUALITY)
    for r in range(len(starts) - 1):
        here, after = path[starts[r]], path[starts[r + 1]]
        if here >= n or after >= n or _QUALITY[here] not in ("", "m") or _QUALITY[after] not in ("", "7"):
            continue
        fifth = (_ROOTS[here] + 7) % 12
        if _ROOTS[after] == fifth == run_bass[r] == run_bass[r + 1]:
            path[starts[r]:ends[r]] = after
    return path
