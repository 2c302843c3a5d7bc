"""The bar a listener hears, inferred from the notes when a MIDI file's own meter is implausible.

Conventions: positions are on an eighth-note grid (``tpq / 2`` ticks; onsets
rounded to the nearest eighth); bar-length candidates are in eighths
(``CANDIDATES``: bars of 2/4, 3/4, 4/4 and 6/4); a phase is the eighth
(0 .. bar - 1) on which the bars start.

Evidence (:func:`accent_features`), one value per grid position, each a cue
that marks the start of a bar in most Western music:

- note onsets (how many notes start: chords and bass hits land on strong beats);
- long notes (sum of the durations, in quarters up to a whole note, of the
  notes starting: the agogic accent);
- bass onsets (notes starting in the lowest quarter of the piece's pitch range);
- harmonic change (cosine distance between the pitch classes sounding in the
  quarter before and the quarter after the position);
- kick-drum hits.

Each feature is standardised (zero mean, unit variance over positions) so no
cue dominates by its units. A bar of ``L`` eighths at phase ``p`` scores the
mean evidence at positions ``p mod L`` minus the mean at the other positions
(:func:`bar_scores`). A longer bar wins over its half only if its first beat
is stronger than its middle: with bar starts ``a``, middles ``b`` and weak
positions ``w``, the 4/4 score ``a - (b + 2w)/3`` beats the 2/4 score
``(a + b)/2 - w`` when ``b`` is nearer ``w`` than ``a``.

Decision (:func:`infer`, :func:`settle`): the best-scoring candidate decides
duple against triple, a distinction a listener hears (triple must win by
``TRIPLE_MARGIN``: duple meters are the commoner family, and without the margin
2.5 % of POP909's duple songs read as triple; the margin was chosen on POP909
and checked on Nottingham and DCML, README, Measured); how bars pair up (2/4
against 4/4, 3/4 against 6/4) the accents do not tell reliably (on POP909 the
longer bar scores higher in 69 % of its 4/4 songs), so the unmarked meter is
written: 4/4 for duple, 3/4 for triple, or 6/8 when the dotted-quarter
position outweighs the quarters (:func:`_compound`). An inferred bar starts where
the bass and the harmony change (:func:`phase_scores`), not where a melody's
syncopated onsets and long notes fall (POP909's downbeat F 0.701, 0.693 on all
the cues, README, Measured). The grid follows the notes
(:func:`grid_offset`). A score keeps its notated meter. A MIDI file keeps its
declared time signature unless it is degenerate (numerator 1, e.g. 1/4 or 1/8,
or no time-signature event at all) or contradicted (:func:`_contradicted`):
duple and triple disagree and the declared bar scores at most half the best
(``OVERRULE``), or a declared 2/4 bar's pairs score higher as 4/4 bars. A kept
declaration keeps its bar length, but its bars start where the accents put them
(:func:`_rephased`: a song that opens on an upbeat, notes sitting off the tick
grid), unless the best phase is not clearly accented (``CLEAR_ACCENT``: one
unit of the standardised evidence above the rest) or the declared phase is
accented and the best phase scores under ``OVERRULE`` times it (the same factor
as above; neither is fitted; checked on POP909's annotated bars, Nottingham's
padded pickups and DCML's first downbeats, README, Measured). A declaration is
rephased on all the cues: on the bass and harmony alone DCML's pickups are found
less often (downbeat F 0.520 against 0.620).
"""

from dataclasses import replace

import numpy as np

from captune.extractors.midi.chords import segment_chroma
from captune.extractors.midi.meter import time_signature
from captune.extractors.midi.piece import DRUM_PROGRAM, Piece

CANDIDATES = (4, 6, 8, 12)   # bar lengths in eighths: 2/4, 3/4 (or 6/8), 4/4, 6/4 (or 12/8)
MIN_POSITIONS = 32           # eighths of music needed before the notes can outvote a declaration
KICKS = (35, 36)
TRIPLE_MARGIN = 1.1          # a triple bar must score 10 % above the best duple one (chosen on POP909)
CLEAR_ACCENT = 1.0           # a phase is clearly accented when it outscores the rest by one unit of standardised evidence
OVERRULE = 2.0               # the notes overrule a declaration (bar, phase) that scores under 1/OVERRULE of theirs
PHASE_CUES = (2, 3)          # rows of accent_features that place the bar line: bass onsets, harmonic change


def grid_offset(piece: Piece) -> int:
    """Ticks (within half an eighth either way) by which the notes sit after the eighth-note grid: the
    circular mean of the onsets' phases. Some files (POP909's) place every note a constant ~40 ticks
    late; the bar lines a listener hears follow the notes."""
    eighth = piece.tpq / 2
    angle = 2 * np.pi * (piece.onset % eighth) / eighth
    mean = np.arctan2(np.sin(angle).sum(), np.cos(angle).sum()) if len(angle) else 0.0
    return int(round(mean / (2 * np.pi) * eighth))


def accent_features(piece: Piece, offset: int = 0) -> np.ndarray:
    """(5, n) standardised evidence per eighth-note position (module doc), the grid shifted by
    ``offset`` ticks (:func:`grid_offset`)."""
    eighth = piece.tpq / 2
    pitched = piece.track_program[piece.track] != DRUM_PROGRAM
    pos = np.maximum(np.rint((piece.onset - offset) / eighth), 0).astype(np.int64)
    n = int(pos.max()) + 2 if len(pos) else 2
    feats = np.zeros((5, n))
    np.add.at(feats[0], pos[pitched], 1.0)
    np.add.at(feats[1], pos[pitched], np.minimum(piece.duration[pitched] / piece.tpq, 4.0))
    if pitched.any():
        low = np.quantile(piece.pitch[pitched], 0.25)
        bass = pitched & (piece.pitch <= low)
        np.add.at(feats[2], pos[bass], 1.0)
        bounds = np.arange(n + 1) * eighth + offset
        chroma = segment_chroma(piece, bounds)
        before = np.concatenate([np.zeros((2, 12)), chroma])[:n] + np.concatenate([np.zeros((1, 12)), chroma])[:n]
        after = chroma + np.concatenate([chroma[1:], np.zeros((1, 12))])
        norm = np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1)
        cos = np.einsum("ij,ij->i", before, after) / np.where(norm > 0, norm, 1.0)
        feats[3] = np.where(norm > 0, 1.0 - cos, 0.0)
    kick = ~pitched & np.isin(piece.pitch, KICKS)
    np.add.at(feats[4], pos[kick], 1.0)
    sd = feats.std(axis=1, keepdims=True)
    return np.where(sd > 0, (feats - feats.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0), 0.0)


def bar_scores(evidence: np.ndarray, length: int) -> np.ndarray:
    """Score of each phase 0 .. ``length`` - 1 of a bar of ``length`` eighths (module doc)."""
    total = evidence.sum(axis=0)
    n = len(total) // length * length
    if n < length:
        return np.zeros(length)
    folded = total[:n].reshape(-1, length).mean(axis=0)
    return folded - (folded.sum() - folded) / (length - 1)


def phase_scores(evidence: np.ndarray, length: int) -> np.ndarray:
    """:func:`bar_scores` of the cues that place a bar line (``PHASE_CUES``: bass onsets and harmonic
    change): harmony changes and the bass moves on the first beat, while a pop melody's syncopated
    onsets and long notes, and a drum kit's kicks on every beat, say how long the bar is more than where it starts."""
    return bar_scores(evidence[list(PHASE_CUES)], length)


def _compound(evidence: np.ndarray, phase: int) -> bool:
    """True when, in bars of 6 eighths from ``phase``, the dotted-quarter position (3) outweighs the
    quarters (2, 4): 6/8 rather than 3/4."""
    total = evidence.sum(axis=0)[phase:]
    folded = total[:len(total) // 6 * 6].reshape(-1, 6).mean(axis=0)
    return folded[3] > folded[[2, 4]].mean()


def _is_triple(length: int) -> bool:
    """A bar of ``length`` eighths groups its pulses in threes (3/4, 6/8, 9/8, 12/8, 6/4)."""
    return length % 3 == 0


def infer(evidence: np.ndarray) -> dict | None:
    """The bar the accents imply, or None with under ``MIN_POSITIONS`` eighths of music.

    ``{'signature': (num, den), 'phase': eighths, 'scores': {length: best score}, 'phases': {length:
    best phase}}``: a bar's length is scored on all the cues, its phase on those that place a bar line
    (:func:`phase_scores`). The best-scoring candidate decides duple against triple, a triple one only when it
    scores ``TRIPLE_MARGIN`` times the best duple one (duple is the commoner family); a duple bar is 4/4 (2/4
    and 4/4 differ only in how bars pair up, and 4/4 is the unmarked duple meter), a triple bar 3/4 or
    6/8 (:func:`_compound`), the unmarked triple meters (6/4 and 12/8 are rare)."""
    if evidence.shape[1] < MIN_POSITIONS:
        return None
    scores, phases = {}, {}
    for length in CANDIDATES:
        scores[length], phases[length] = float(bar_scores(evidence, length).max()), int(phase_scores(evidence, length).argmax())
    duple = max(v for k, v in scores.items() if not _is_triple(k))
    triple = max(v for k, v in scores.items() if _is_triple(k))
    length = 6 if triple > (TRIPLE_MARGIN * duple if duple > 0 else duple) else 8
    phase = phases[length]
    signature = (6, 8) if length == 6 and _compound(evidence, phase) else (length // 2, 4)
    return {"signature": signature, "phase": phase, "scores": scores, "phases": phases}


def _contradicted(num: int, den: int, found: dict, evidence: np.ndarray) -> bool:
    """True when the accents contradict a declared ``num/den`` (module doc)."""
    length = num * 8 / den
    if length != int(length) or length < 2:
        return False
    length = int(length)
    best = max(found["scores"].values())
    own = float(bar_scores(evidence, length).max())
    if _is_triple(length) != _is_triple(found["signature"][0] * 8 // found["signature"][1]):
        return own <= best / OVERRULE
    return length == 4 and found["scores"][8] > found["scores"][4]


def settle(piece: Piece) -> tuple[Piece, str]:
    """(piece with the meter to use, ``'declared'`` or ``'inferred'``): see the module doc.
    An inferred meter replaces the whole time-signature map by one signature whose bars start at
    the inferred phase, shifted onto the notes (:func:`grid_offset`), as ``pickup_ticks``."""
    if piece.notated:
        return piece, "declared"
    offset = grid_offset(piece)
    evidence = accent_features(piece, offset)
    found = infer(evidence)
    if found is None:
        return piece, "declared"
    degenerate = bool((piece.ts_numerator == 1).any()) or not piece.ts_declared
    num, den = (int(x) for x in time_signature(piece).split("/"))
    if not degenerate and not _contradicted(num, den, found, evidence):
        return _rephased(piece, num, den, evidence, offset), "declared"
    f_num, f_den = found["signature"]
    bar = piece.tpq * 4 * f_num // f_den
    inferred = replace(piece, ts_tick=np.zeros(1, np.int64), ts_numerator=np.asarray([f_num], np.int16),
                       ts_denominator=np.asarray([f_den], np.int16),
                       pickup_ticks=(round(found["phase"] * piece.tpq / 2) + offset) % bar)
    return inferred, "inferred"


def _rephased(piece: Piece, num: int, den: int, evidence: np.ndarray, offset: int) -> Piece:
    """``piece`` with its declared ``num/den`` bars started where the accents put them: at the
    best-scoring phase of a bar of that length (:func:`bar_scores`), shifted onto the notes
    (``offset``, :func:`grid_offset`), as ``pickup_ticks``, unless the best phase is not clearly
    accented (scores under ``CLEAR_ACCENT``: music without accents, such as even notes, keeps
    its declaration) or the declared phase (bars from tick 0) is accented too and the best phase
    scores under ``OVERRULE`` times it. A MIDI file
    states its bar's length, but
    its first bar line at tick 0 is only where the file starts: a song beginning on an upbeat, or
    notes sitting off the tick grid, put the bars a listener hears elsewhere. Files whose meter
    changes, or whose bar is not a whole number of eighths, keep their grid."""
    length = num * 8 / den
    if len(set(zip(piece.ts_numerator.tolist(), piece.ts_denominator.tolist()))) > 1 or length != int(length):
        return piece
    scores = bar_scores(evidence, int(length))
    phase = int(scores.argmax())
    if scores[phase] < CLEAR_ACCENT or (scores[0] > 0 and scores[phase] < OVERRULE * scores[0]):
        phase = 0                     # no clear accent elsewhere, or the declared bar line has its own: it stands
    bar = piece.tpq * 4 * num // den
    return replace(piece, ts_tick=piece.ts_tick[:1], ts_numerator=piece.ts_numerator[:1],
                   ts_denominator=piece.ts_denominator[:1],
                   pickup_ticks=(round(phase * piece.tpq / 2) + offset) % bar)


def settle_on_beats(piece: Piece, beats_s) -> tuple[str, str]:
    """(time signature, source) of performance MIDI whose beats were found from its onsets
    (:mod:`captune.extractors.midi.onset_tempo`): a degenerate declaration is replaced by the bar
    inferred on those beats (the notes re-timed so that each found beat is a quarter note,
    :func:`_on_beats`); otherwise the declared signature stands."""
    declared = time_signature(piece)
    degenerate = bool((piece.ts_numerator == 1).any()) or not piece.ts_declared
    beats_s = np.asarray(beats_s if beats_s is not None else [], dtype=float)
    if not degenerate or len(beats_s) < 2:
        return declared, "declared"
    found = infer(accent_features(_on_beats(piece, beats_s)))
    if found is None:
        return declared, "declared"
    return "{}/{}".format(*found["signature"]), "inferred"


def bars_on_beats(piece: Piece, beats_s, signature: str) -> list[float] | None:
    """Bar lines (seconds) of performance MIDI on the beats found from its onsets: bars of
    ``signature`` (its length in quarters = beats) from the beat where the accents of the re-timed
    notes (:func:`_on_beats`) put them (the best phase, :func:`bar_scores`). A phrase-level grid for
    the sections, not a ``downbeats_s`` fact (which stays None: expressive timing blurs the phase);
    None with under two beats or a bar that is not a whole number of eighths."""
    beats_s = np.asarray(beats_s if beats_s is not None else [], dtype=float)
    num, den = (int(x) for x in signature.split("/"))
    if len(beats_s) < 2 or (num * 8) % den:
        return None
    length = num * 8 // den
    phase = int(bar_scores(accent_features(_on_beats(piece, beats_s)), length).argmax())
    at = np.arange(phase / 2, len(beats_s) - 1, length / 2)      # in beats
    return np.round(np.interp(at, np.arange(len(beats_s)), beats_s), 3).tolist()


def _on_beats(piece: Piece, beats_s: np.ndarray) -> Piece:
    """``piece`` re-timed so that each of ``beats_s`` (seconds) is a quarter note (extrapolated at the
    last beat's period before the first and after the last)."""
    index = np.arange(len(beats_s), dtype=float)
    step = beats_s[-1] - beats_s[-2]

    def to_ticks(seconds):
        beat = np.interp(seconds, beats_s, index, left=np.nan, right=np.nan)
        beat = np.where(np.isnan(beat), np.where(seconds < beats_s[0], (seconds - beats_s[0]) / step,
                                                 index[-1] + (seconds - beats_s[-1]) / step), beat)
        return np.maximum(np.rint(beat * piece.tpq), 0).astype(np.int64)

    start = to_ticks(piece.seconds(piece.onset))
    end = to_ticks(piece.seconds(piece.onset + piece.duration))
    return replace(piece, onset=start, duration=np.maximum(end - start, 1))
