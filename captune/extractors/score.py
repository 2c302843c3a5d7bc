"""Scores (MusicXML, compressed MusicXML, ABC, Humdrum **kern) → :class:`Piece`.

music21 parses the score and writes it as a Standard MIDI File, which then goes
through the same symbolic path as any MIDI file. A score that states no tempo
(no metronome mark with a number, nor a playback tempo other than the 120 bpm
default: :func:`states_tempo`) gets ``tempo_known=False``: its seconds assume
120 bpm and its tempo facts are None. An incomplete first bar (a pickup) is kept as
``pickup_ticks`` so beats and downbeats fall on the score's barlines. Chord
symbols that music21 writes as sounding chords (ABC's ``"G"``) last until the
next symbol, as a lead sheet means them (music21 leaves them ringing for
several bars, overlapping the next chords: a mean polyphony of 9.4 instead
of 4.0 on Nottingham's tunes). Grace notes are left out: they take no notated
time, and music21 writes each as a note-on and a note-off on one tick, the off
first, so the MIDI reader held the note until the next note-off of its pitch,
often hundreds of beats later (in Mozart's K. 155/1, 18 grace notes, many of
them C#, made the C# outweigh the G and the key read A major for D major).
A score whose repeats music21 cannot expand ("badly formed repeats": five of
45 movements checked in music21's own corpus) is played once as written
instead of refused. Parts with no note at all are dropped (:func:`_drop_empty_parts`). A score none of whose parts states an instrument (no MIDI
program, and no part or instrument name that :mod:`captune.extractors.midi.part_names`
knows: ABC tunes, **kern without ``*I``) gets ``instruments_known=False``: music21
writes such parts at program 0, but nothing says they are a piano (a hornpipe
from a fiddler's tune book, a Renaissance chanson), so no instrument is stated
for them.

An ABC tune book (several ``X:`` reference lines) is cut by :func:`abc_tunes`
into one ABC file per tune, each with the book's file header (the lines before
the first ``X:``, whose fields apply to every tune in the ABC standard), so that
each tune is decoded, analysed and stored on its own; tunes that are the voices of one piece (the
same title, subtitled with voice parts: music21's Josquin chansons, one ``X:`` per voice) stay one
piece, their voices merged as its parts. Any other file that music21 reads as several pieces (an
Opus) is refused with ``multi_piece_score``.

A compressed MusicXML file (``.mxl``, a ZIP archive) whose members would unpack to more than
``MAX_UNPACKED_BYTES`` is refused with ``too_large`` before music21 opens it (a 290 KB file can
unpack to 300 MB of XML, which music21 parses into 3.5 GB); the sizes are read from the ZIP's
central directory and checked again while reading, so a lying directory cannot slip through.
"""

import io
import os
import tempfile
import zipfile
import zlib

from captune.extractors.errors import BadInput
from captune.extractors.midi.part_names import VOCAL_PROGRAM, name_program
from captune.extractors.midi.piece import DEFAULT_MSPQ, Piece, from_midi_bytes

SCORE_SUFFIXES = (".xml", ".musicxml", ".mxl", ".abc", ".krn")
DEFAULT_BPM = 60e6 / DEFAULT_MSPQ  # 120: MIDI's and notation programs' tempo when none is set; music21 writes it too
MAX_UNPACKED_BYTES = 64 * 2 ** 20  # the largest orchestral MusicXML in music21's corpus unpacks to ~7 MB


def check_unpacked_size(data: bytes, limit: int = MAX_UNPACKED_BYTES) -> None:
    """Raise ``BadInput('too_large')`` when the ZIP archive ``data`` unpacks to more than ``limit``
    bytes (an archive that is not a ZIP is left to the parser)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return
    with archive:
        stated = sum(info.file_size for info in archive.infolist())
        if stated > limit:
            raise BadInput("too_large", f"the archive unpacks to {stated} bytes, over the {limit} byte limit")
        total = 0
        for info in archive.infolist():
            try:
                member = archive.open(info)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError):
                return  # a damaged or encrypted member: music21 reports it
            with member:
                while True:
                    try:
                        chunk = member.read(2 ** 20)
                    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error):
                        return
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > limit:
                        raise BadInput("too_large", f"the archive unpacks to over the {limit} byte limit "
                                                    "(more than its directory states)")


def abc_tunes(data: bytes) -> list[bytes]:
    """The tunes of ABC bytes, one ABC file each: the file header, then one tune's lines from its ``X:``
    line to the next ``X:`` line (music21 cuts a book the same way). ``[data]`` when the file holds
    at most one tune. Consecutive tunes that are the voices of one piece (:func:`_voice_runs`: a
    Renaissance part-book edition, one ``X:`` per voice) stay together as one piece."""
    lines = data.split(b"\n")
    starts = [i for i, line in enumerate(lines) if line.lstrip(b"\xef\xbb\xbf").startswith(b"X:")]
    if len(starts) < 2:
        return [data]
    header = lines[:starts[0]]
    tunes = [lines[a:b] for a, b in zip(starts, starts[1:] + [len(lines)])]
    runs = _voice_runs(tunes)
    if len(runs) == 1:
        return [data]
    return [b"\n".join(header + [line for tune in run for line in tune]).strip(b"\n") + b"\n" for run in runs]


def _titles(tune: list[bytes]) -> list[str]:
    """The ``T:`` fields of a tune's lines, in order (the first is its title)."""
    return [line[2:].strip().decode("utf-8", "replace") for line in tune if line.startswith(b"T:")]


def abc_voice_name(titles: list[str]) -> str | None:
    """The first of a tune's subtitles that names a voice part (``Tenor``, ``Cantus (line 1)``,
    ``Quinta Pars``: :data:`captune.extractors.midi.part_names.VOCAL_PROGRAM` words), or None."""
    return next((t for t in titles[1:] if name_program(t) == VOCAL_PROGRAM), None)


def _voice_runs(tunes: list[list[bytes]]) -> list[list[list[bytes]]]:
    """``tunes`` in runs: consecutive tunes with the same title, one of them subtitled with a voice part
    (:func:`abc_voice_name`), are one run, the voices of one piece (music21's Josquin chansons: ``T:Mille
    regrets`` four times, subtitled Superius, Contratenor, Tenor, Bassus); any other tune is a run of its
    own (Essen's same-titled different songs carry no voice subtitle, nor do Aird's "For the Violin"
    versions)."""
    runs: list[list[list[bytes]]] = []
    for tune in tunes:
        title = (_titles(tune) or [None])[0]
        if runs and title and title == (_titles(runs[-1][0]) or [None])[0]:
            runs[-1].append(tune)
        else:
            runs.append([tune])
    out = []
    for run in runs:
        voiced = len(run) > 1 and any(abc_voice_name(_titles(t)) for t in run)
        out += [run] if voiced else [[t] for t in run]
    return out


def from_score_bytes(data: bytes, suffix: str) -> Piece:
    """Decode score bytes whose format is named by ``suffix`` (e.g. ``'.mxl'``)."""
    smf, options = score_to_midi(data, suffix)
    return from_midi_bytes(smf, **options)


def score_to_midi(data: bytes, suffix: str) -> tuple[bytes, dict]:
    """(Standard MIDI File bytes, the options :func:`from_midi_bytes` decodes them with: whether the
    score states a tempo (:func:`states_tempo`), its pickup in quarter notes, ``notated``, whether it
    states an instrument (:func:`states_instruments`)) of score bytes whose format is named by
    ``suffix``."""
    from music21 import converter, harmony, midi, repeat, stream  # heavy: only when a score comes

    if not data:
        raise BadInput("empty_file", "the file has 0 bytes")
    if suffix == ".mxl":
        check_unpacked_size(data)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "score" + suffix)
        with open(path, "wb") as fh:
            fh.write(data)
        try:
            parsed = converter.parse(path, forceSource=True)
        except Exception as exc:  # music21 raises many exception types on bad scores
            raise BadInput("parse_error", f"music21 could not parse the {suffix} score: {exc}") from exc
    if isinstance(parsed, stream.Opus):
        parsed = _one_piece(parsed, data if suffix == ".abc" else None)
    _drop_empty_parts(parsed)
    for part in parsed.parts if parsed.parts else [parsed]:
        if suffix == ".abc":
            _drop_text_chord_symbols(part)
        harmony.realizeChordSymbolDurations(part)  # sounding chord symbols last until the next one
    _unshare_marks(parsed)
    _drop_grace_notes(parsed)
    _start_orphan_repeats(parsed)
    options = {"tempo_known": states_tempo(parsed), "pickup_quarters": _pickup_quarters(parsed), "notated": True,
               "instruments_known": states_instruments(parsed)}
    try:
        try:
            smf = midi.translate.streamToMidiFile(parsed).writestr()
        except repeat.ExpanderException:  # repeats music21 cannot follow: play the notes once, as written
            _drop_repeats(parsed)
            smf = midi.translate.streamToMidiFile(parsed).writestr()
    except Exception as exc:
        raise BadInput("parse_error", f"music21 could not render the score as MIDI: {exc}") from exc
    return smf, options


def _one_piece(opus, abc: bytes | None):
    """The one piece of a music21 Opus: its only score, or, for ABC whose tunes are the voices of one
    piece (:func:`_voice_runs`), the voices merged as the parts of one score, each named by its voice
    subtitle (music21 drops it) so that it counts as a sung part; else ``BadInput('multi_piece_score')``."""
    from music21 import instrument

    scores = list(opus.scores)
    if len(scores) == 1:
        return scores[0]
    if abc is not None:
        lines = abc.split(b"\n")
        starts = [i for i, line in enumerate(lines) if line.lstrip(b"\xef\xbb\xbf").startswith(b"X:")]
        tunes = [lines[a:b] for a, b in zip(starts, starts[1:] + [len(lines)])]
        if len(tunes) == len(scores) and len(_voice_runs(tunes)) == 1 and all(len(s.parts) == 1 for s in scores):
            merged = opus.mergeScores()
            for part, tune in zip(merged.parts, tunes):
                voice = instrument.Instrument()
                # a voice without a subtitle is a voice too (the unnamed top part of La plus des plus)
                voice.partName = part.partName = abc_voice_name(_titles(tune)) or "Voice"
                part.insert(0, voice)   # music21 writes an instrument's part name as the MIDI track name
            return merged
    raise BadInput("multi_piece_score", f"the file holds {len(scores)} pieces; split it into one per file")


def states_tempo(score) -> bool:
    """True when a metronome mark of the music21 ``score`` gives a tempo: a number, printed or implied
    by a tempo word (``Q:"Allegro"``), or a playback tempo (MusicXML ``<sound tempo>``) other than
    :data:`DEFAULT_BPM`. A bare playback tempo of 120 bpm is the default that MIDI and notation
    programs write when nobody set one (50 of the 155 sound-only MusicXML files of music21's corpus,
    all its trecento ones among them; the Bach chorales' spread from 72 to 176 bpm), and a mark music21
    cannot read (Webern's "Ruhig ♩ = ca 72") has no number at all: both would otherwise be captioned
    "Allegro … at a fast pace" from music21's own default of 120 bpm."""
    from music21 import tempo

    for mark in score.recurse().getElementsByClass(tempo.MetronomeMark):
        if mark.number is not None or (mark.numberSounding is not None and mark.numberSounding != DEFAULT_BPM):
            return True
    return False


def states_instruments(score) -> bool:
    """True when some part of the music21 ``score`` names its instrument: a MIDI program, or a part
    or instrument name holding a known instrument word (``Violino I.``, ``Soprano``; not ``Instrument
    1``)."""
    for part in score.parts if score.parts else [score]:
        inst = part.getInstrument(returnDefault=False)
        names = [part.partName] + ([inst.partName, inst.instrumentName] if inst is not None else [])
        if (inst is not None and inst.midiProgram is not None) or any(name_program(n) is not None for n in names):
            return True
    return False


def _drop_empty_parts(score) -> None:
    """Remove the parts of ``score`` that hold no note, chord or chord symbol, unless every part is
    empty. An empty part sounds nothing; music21's ABC reader makes one, with no measures, for each
    ``V:`` line of a tune's header whose voice it merges into another part (``V:2 merge``), and its
    repeat expansion then refuses the whole tune ("cannot process repeats on Stream that does not
    contain measures": tunes 3 and 175 of Aird's sixth book)."""
    parts = list(score.parts)
    empty = [part for part in parts if not part.recurse().notes]
    if len(empty) < len(parts):
        for part in empty:
            score.remove(part)


def _start_orphan_repeats(score) -> None:
    """Give an end repeat with no start repeat since the previous end repeat its start: the bar after
    that one, or after the endings that follow it (how players read A:| B:|, and ABC 2.1's rule).
    music21 goes back to the beginning of the piece each time, so a six-strain jig of O'Neill's
    written that way played 21 times its length (26% of O'Neill's tunes, half of Aird's)."""
    from music21 import bar, spanner

    for part in score.parts if score.parts else [score]:
        measures = list(part.getElementsByClass("Measure"))
        ending = {id(m) for b in part.recurse().getElementsByClass(spanner.RepeatBracket)
                  for m in b.getSpannedElements()}
        opened, after = False, None   # a start repeat since the last end repeat; where a start would go
        for i, m in enumerate(measures):
            if _repeat(m.leftBarline, "start") or i and _repeat(measures[i - 1].rightBarline, "start"):
                opened = True
            if after is not None and id(m) in ending and i == after:
                after += 1            # the previous repeat's endings: the start goes after them
            if _repeat(m.rightBarline, "end"):
                if not opened and after is not None and after <= i:
                    measures[after].leftBarline = bar.Repeat(direction="start")
                opened, after = False, i + 1


def _repeat(barline, direction: str) -> bool:
    """True when ``barline`` is a music21 repeat barline facing ``direction`` (``'start'`` / ``'end'``)."""
    from music21 import bar

    return isinstance(barline, bar.Repeat) and barline.direction == direction


def _drop_repeats(score) -> None:
    """Remove the repeat barlines, endings and marks (segno, coda, D.C., fine) of ``score``."""
    from music21 import bar, repeat, spanner

    for mark in list(score.recurse().getElementsByClass(repeat.RepeatMark)):
        mark.activeSite.remove(mark)
    for ending in list(score.recurse().getElementsByClass(spanner.RepeatBracket)):
        ending.activeSite.remove(ending)
    for barline in list(score.recurse().getElementsByClass(bar.Repeat)):
        measure = barline.activeSite
        if measure.leftBarline is barline:
            measure.leftBarline = None
        if measure.rightBarline is barline:
            measure.rightBarline = None


def _drop_text_chord_symbols(part) -> None:
    """Remove from an ABC ``part`` the quoted texts music21 reads as chord symbols but that are not
    chords: a name starting with a lower-case letter (ABC's chord names start with an upper-case note
    name; ``"f"`` is forte, read as an F major chord: O'Neill's tunes), and symbols that are the letters
    A, B, C, … each once, in that order (rehearsal letters or part labels: every voice of Josquin's
    Déploration, which then sounded A, B, C, D, E and F major chords in turn, and two fife tunes)."""
    from music21 import harmony

    symbols = list(part.recurse().getElementsByClass(harmony.ChordSymbol))
    lower, named = [], []
    for symbol in symbols:
        (lower if symbol.figure[:1].islower() else named).append(symbol)
    lettered = len(named) >= 2 and [s.figure for s in named] == [chr(ord("A") + i) for i in range(len(named))]
    for symbol in symbols if lettered else lower:
        symbol.activeSite.remove(symbol)


def _drop_grace_notes(score) -> None:
    """Remove the grace notes and grace chords of ``score`` (see module doc: they take no time)."""
    for grace in [n for n in score.recurse().notes if n.duration.isGrace]:
        grace.activeSite.remove(grace)


def _unshare_marks(score) -> None:
    """Give every time signature, key signature and metronome mark that stands in more than one place
    a copy of its own. music21's ABC reader reuses one object when a tune returns to an earlier
    ``M:`` (6/8, 9/8, 6/8), and its MIDI writer then refuses the tune ("… is already found in this
    Stream"): 4 of Nottingham's 1,034 tunes."""
    import copy

    from music21 import key, meter, tempo

    seen = set()
    for container in [score, *score.recurse(streamsOnly=True)]:
        for mark in list(container.getElementsByClass((meter.TimeSignature, key.KeySignature, tempo.MetronomeMark))):
            if id(mark) in seen:
                container.replace(mark, copy.deepcopy(mark))
            else:
                seen.add(id(mark))


def _pickup_quarters(score) -> float:
    """Length in quarter notes of an incomplete first bar, 0 if the first bar is full."""
    from music21 import stream

    parts = score.parts if score.parts else [score]
    first = parts[0].getElementsByClass(stream.Measure).first()
    if first is None:
        return 0.0
    length, full = float(first.duration.quarterLength), float(first.barDuration.quarterLength)
    return length if 0 < length < full else 0.0
