"""Key changes of a symbolic piece: local keys smoothed over time by Viterbi.

Conventions: keys as :mod:`captune.extractors.midi.key`; the result is the
record's ``key_changes``, ``[{'time_s': float, 'key': str}, ...]``, the key in
force from each ``time_s`` (seconds through the tempo map, rounded to the
millisecond) to the next; the first entry is at 0 s, and a piece that does not
modulate has one entry.

Method (a hidden Markov model over the 24 keys, decoded by Viterbi):

1. Frames of ``FRAME`` quarter notes from the first onset; each frame holds how
   long every pitch class sounds (non-drum notes).
2. Local evidence of every key in every frame: the Pearson r of the frame's
   profile with the key profiles (:func:`captune.extractors.midi.key.correlations`)
   minus ``OUT_OF_SCALE`` times the share of the frame's sounding time on
   pitch classes outside the key's scale (major; natural minor + its raised
   seventh), minus ``ACCIDENTAL`` for every pitch class outside the scale that
   sounds in the frame at all: the accidentals of a new key (the F# of a move
   from C to G) are what tells it from the old one, and a single short F# says
   so as much as a long one; silent frames give no evidence.
3. Cadences (:func:`cadences`): where the bass falls a fifth (or rises a
   fourth) onto a downbeat from a dominant seventh chord (its third, the new
   key's leading tone, and its seventh sounding over the bass) to the triad on
   the new bass, the key of that triad gets ``CADENCE`` in the frame of the
   arrival: the authentic cadence is how a new key is confirmed.
4. The path maximising the summed evidence minus ``SWITCH`` per change of key:
   a change pays only when the new key fits better for long enough, so a
   passing secondary dominant or a one-bar tonicisation is not a modulation.
5. A path that never changes takes the global key (which also weighs the
   piece's ends and its final bass, and so can tell a minor key from its
   relative major better than the frames can).

``FRAME``, ``OUT_OF_SCALE`` and ``SWITCH`` were chosen on the even-numbered DCML
movements against their theorists' local-key regions (checked on the odd ones
and on POP909's key regions; ``benchmarks/key_agreement.py``, README);
``ACCIDENTAL`` and ``CADENCE`` later on the same even movements (the others kept);
``CHORD_TONE`` and ``BASS_HOLD`` were set by hand (a tenth of the run, a quarter of the beat)
and not tuned.
"""

from typing import NamedTuple

import numpy as np

from captune.extractors.midi.harmony import _MAJOR_SCALE, _MINOR_SCALE  # the chord prior's scales
from captune.extractors.midi.key import DEFAULT_PROFILE, _MATRICES, _name
from captune.extractors.midi.meter import beat_ticks
from captune.extractors.midi.piece import Piece
from captune.extractors.midi.viterbi import viterbi

FRAME = 4.0         # quarter notes per frame (a bar of 4/4)
OUT_OF_SCALE = 0.5  # evidence lost per share of the frame's time outside the key's scale
SWITCH = 3.0        # cost of a change of key, in units of the evidence summed over frames
ACCIDENTAL = 0.1    # evidence lost per pitch class outside the key's scale sounding in the frame
CADENCE = 1.5       # evidence for the key a dominant seventh resolves to on a downbeat
CHORD_TONE = 0.1    # share of a bass run's sounding time a pitch class needs to count as in its chord
BASS_HOLD = 0.25    # share of a beat a note must last to be the beat's bass


def _outside() -> np.ndarray:
    """24 x 12: 1.0 where a pitch class lies outside the key's scale (rows as the key profiles)."""
    out = np.ones((24, 12))
    for tonic in range(12):
        out[tonic, [(tonic + i) % 12 for i in _MAJOR_SCALE]] = 0.0
        out[12 + tonic, [(tonic + i) % 12 for i in _MINOR_SCALE]] = 0.0
    return out


_OUTSIDE = _outside()


class Grid(NamedTuple):
    """What the key step reads off a piece (ticks; chroma: ticks of sounding per pitch class C..B)."""

    bounds: np.ndarray        # frame bounds (:func:`frame_bounds`)
    frame_chroma: np.ndarray  # frames x 12
    runs: np.ndarray          # start of each bass run (:func:`bass_line`)
    bass: np.ndarray          # its bass pitch (-1 before the first)
    on_downbeat: np.ndarray   # whether it starts on a downbeat
    run_chroma: np.ndarray    # runs x 12, each run to the next (the last to the end)


def frame_bounds(t0: int, t1: int, tpq: int) -> np.ndarray:
    """Frame bounds in ticks: every ``FRAME`` quarter notes from the first onset ``t0``, then the
    last note end ``t1``."""
    return np.concatenate([np.arange(t0, t1, FRAME * tpq, dtype=np.float64), [float(max(t1, t0 + 1))]])


def spread(on: np.ndarray, off: np.ndarray, pcs: np.ndarray, cells: np.ndarray,
           first: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cell, pitch class, ticks) of every piece of sounding of the notes ``on``-``off`` (ticks) of
    pitch class ``pcs`` in the cells between the ascending ``cells`` (ticks, spanning every note),
    ``first`` the cell of each onset: each note's head in its onset's cell, and for a note that
    outlasts that cell its tail in its end's cell and the whole cells between."""
    bound = cells[first + 1]
    more = np.flatnonzero(off > bound)  # notes that outlast their onset's cell: cells first + 1 .. last
    after = first[more] + 1
    count = np.searchsorted(cells, off[more], side="left") - after
    note = np.repeat(more, count)
    cell = np.arange(len(note)) + np.repeat(after + count - np.cumsum(count), count)
    return (np.concatenate([first, cell]), np.concatenate([pcs, pcs[note]]),
            np.concatenate([np.minimum(off, bound) - on, np.minimum(off[note], cells[cell + 1]) - cells[cell]]))


def _chroma(pieces: tuple[np.ndarray, np.ndarray, np.ndarray], starts: np.ndarray, cells: int) -> np.ndarray:
    """len(starts) x 12 ticks per pitch class of the ``pieces`` (:func:`spread`) in the groups of
    consecutive cells (of ``cells``) that begin at the ascending cell indices ``starts``, each to
    the next (the last to the end); none before the first."""
    cell, pcs, ticks = pieces
    row = 12 * np.cumsum(np.bincount(starts, minlength=cells))  # 12 x (1 + each cell's group; 0: before the first)
    return np.bincount(row[cell] + pcs, weights=ticks, minlength=12 * (len(starts) + 1))[12:].reshape(-1, 12)


def grid(piece: Piece) -> Grid:
    """Frames, bass runs and their chroma, from one pass over the notes: the cells between the
    notated beats and the frame bounds hold the chroma, and the cell of each onset tells its beat."""
    on, duration, pitch = piece.onset, piece.duration, piece.pitch
    if piece.is_drum.any():
        pitched = ~piece.is_drum
        on, duration, pitch = on[pitched], duration[pitched], pitch[pitched]
    off = on + duration
    end = int(off.max())
    bounds = frame_bounds(int(on.min()), end, piece.tpq)
    on, off = on.astype(np.float64), off.astype(np.float64)  # compared with the cells (float ticks)
    beats, downbeats = beat_ticks(piece)
    beats = beats[beats < end]
    points = np.concatenate([beats, bounds])  # a frame bound on a beat sorts after it
    order = np.argsort(points, kind="stable")
    cells = points[order]
    first = np.searchsorted(cells, on, side="right") - 1  # >= 0: the first cell starts by the first onset
    beat = np.cumsum(order < len(beats))[first] - 1  # the last beat at or before each onset (-1: none)
    starts, bass = bass_line(beats, end, beat, duration, pitch)
    runs = beats[starts]
    place = np.empty(len(points), dtype=np.intp)
    place[order] = np.arange(len(points))  # where each beat and bound went among the cells
    pieces = spread(on, off, pitch % 12, cells, np.minimum(first, len(cells) - 2))
    if len(downbeats):
        on_downbeat = downbeats[np.minimum(np.searchsorted(downbeats, runs), len(downbeats) - 1)] == runs
    else:
        on_downbeat = np.zeros(len(runs), dtype=bool)
    return Grid(bounds, _chroma(pieces, place[len(beats):-1], len(cells) - 1), runs, bass, on_downbeat,
                _chroma(pieces, place[starts], len(cells) - 1))


def local_evidence(chroma: np.ndarray, profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """frames x 24: each frame's Pearson r with every key minus ``OUT_OF_SCALE`` x its share
    outside the key's scale and ``ACCIDENTAL`` x the number of pitch classes outside the scale
    that sound (0 where silent)."""
    total = np.add.reduce(chroma, axis=1, keepdims=True)
    centred = chroma - total / 12  # the mean
    deviation = centred - np.add.reduce(centred, axis=1, keepdims=True) / 12  # np.std's steps, less overhead
    std = np.sqrt(np.add.reduce(deviation * deviation, axis=1, keepdims=True) / 12)
    z = centred / np.where(std > 0, std, 1.0)
    foreign = OUT_OF_SCALE * chroma / np.where(total > 0, total, 1.0) + ACCIDENTAL * (chroma > 0)
    evidence = (np.einsum("tj,kj->tk", z, _MATRICES[profile]) / 12.0  # einsum: no BLAS pool
                - np.einsum("tj,kj->tk", foreign, _OUTSIDE))
    evidence[total[:, 0] <= 0] = 0.0
    return evidence


def bass_line(beats: np.ndarray, end: int, beat: np.ndarray, duration: np.ndarray,
              pitch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of the first beat, bass pitch) of the runs of ``beats`` (ticks, before ``end``, the
    last note end) on one bass note, from the notes' ``beat`` (index of the last beat at or before
    the onset, -1 before the first), ``duration`` (ticks) and ``pitch``. A beat's bass is the lowest
    pitch among the notes struck in it that last at least ``BASS_HOLD`` of the beat, else the bass
    before (a held note, a rest); -1 before the first. No runs when no note lasts that long."""
    none = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if not len(beats):
        return none
    lengths = np.concatenate([beats[1:], [end]]) - beats
    keep = (beat >= 0) & (duration >= BASS_HOLD * lengths[beat])  # (beat -1 reads the last length, not kept)
    bass = np.full(len(beats), 1 << 16)
    np.minimum.at(bass, beat[keep], pitch[keep].astype(np.int64))  # one dtype: ufunc.at's fast loop
    latest = np.maximum.accumulate(np.where(bass < 1 << 16, np.arange(len(beats)), -1))  # the last struck beat
    if latest[-1] < 0:  # no note holds a beat long enough: no bass line
        return none
    bass = np.where(latest >= 0, bass[latest], -1)
    starts = np.flatnonzero(np.concatenate([[True], bass[1:] != bass[:-1]]))
    return starts, bass[starts]


def cadences(chroma: np.ndarray, bass: np.ndarray, on_downbeat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of the arriving run, key row) of the authentic cadences among bass runs
    (:func:`grid`; ``chroma``: each run's sounding ticks per pitch class): a run on the note
    a fifth below (or a fourth above) the run before, starting on a downbeat, the run before
    holding the major third and the minor seventh over its bass (a dominant seventh: the new key's
    leading tone and fourth degree), the arriving run the major or minor third over its bass (the
    key's mode; the major when both sound). A chord tone sounds at least ``CHORD_TONE`` of its
    run's sounding time."""
    arriving = 1 + np.flatnonzero((bass[:-1] >= 0) & ((bass[:-1] - bass[1:]) % 12 == 7) & on_downbeat[1:])
    n, tonic = len(arriving), bass[arriving] % 12
    x = chroma[np.concatenate([arriving, arriving - 1])]  # the arriving runs, then the runs before
    tone = x / np.maximum(np.add.reduce(x, axis=1, keepdims=True), 1e-9) >= CHORD_TONE
    # over the arriving bass: its major and minor third; in the run before: the leading tone and the fourth degree
    held = tone[np.arange(n)[:, None] + [0, 0, n, n], (tonic[:, None] + [4, 3, 11, 5]) % 12]
    found = held[:, 2] & held[:, 3] & (held[:, 0] | held[:, 1])
    return arriving[found], np.where(held[:, 0], tonic, tonic + 12)[found]


def key_changes(piece: Piece, global_key: str | None, profile: str = DEFAULT_PROFILE) -> list[dict]:
    """``[{'time_s', 'key'}, ...]`` (see module doc); empty without a global key."""
    if global_key is None or piece.is_drum.all():
        return []
    g = grid(piece)
    evidence = local_evidence(g.frame_chroma, profile)
    arrivals, rows = cadences(g.run_chroma, g.bass, g.on_downbeat)
    if len(arrivals):
        frames = np.searchsorted(g.bounds, g.runs[arrivals], side="right") - 1
        np.add.at(evidence, (np.minimum(np.maximum(frames, 0), len(evidence) - 1), rows), CADENCE)
    path = viterbi(evidence, SWITCH)
    starts = np.flatnonzero(np.concatenate([[True], path[1:] != path[:-1]]))
    if len(starts) == 1:
        return [{"time_s": 0.0, "key": global_key}]
    times = np.round(piece.seconds(g.bounds[starts]), 3)
    times[0] = 0.0
    return [{"time_s": float(t), "key": _name(path[s])} for t, s in zip(times, starts)]
