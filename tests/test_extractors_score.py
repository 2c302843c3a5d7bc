"""Known-answer tests for scores (MusicXML, compressed MusicXML, ABC, **kern)
through ``captune.extractors.analyze``.

Inputs are music21's bundled corpus (no download) and small scores built here
with music21. Expected values come from the score itself: its key signature and
mode, music21's own key analysis, its measures and metronome marks.
"""

import os
import tempfile

import numpy as np
import pytest

import music21
from music21 import corpus, key as m21key, meter, note, stream, tempo

from fixtures import ABC_BOOK, ABC_BOOK_HEADER, ABC_BOOK_TUNES, ABC_JIG

from captune import items
from captune.captioners import caption
from captune.extractors import BadInput, analyze
from captune.extractors.midi import from_midi_bytes
from captune.extractors.score import abc_tunes, score_to_midi
from captune.pipelines.rows import row_id

CORPUS = os.path.dirname(corpus.__file__)


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _roots(labels):
    return [lab for lab in labels if lab != "N"]


# ---------------------------------------------------------------------------
# A Bach chorale in MusicXML (compressed): bwv66.6, F# minor.
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bwv66():
    path = str(corpus.getWork("bwv66.6"))
    return path, corpus.parse("bwv66.6"), analyze(_read(path), os.path.basename(path))


def test_chorale_key(bwv66):
    _, score, f = bwv66
    # The score's own signature: three sharps, minor mode -> F# minor; music21's
    # Krumhansl analysis agrees, and so must captune.
    sig = score.recurse().getElementsByClass(m21key.KeySignature).first()
    assert sig.sharps == 3
    m21 = score.analyze("key")
    assert (m21.tonic.name, m21.mode) == ("F#", "minor")
    assert f["modality"] == "score"
    assert f["key"] == "F# minor"
    assert f["key_alternative"] != "F# minor"


def test_chorale_meter_tempo_duration(bwv66):
    _, score, f = bwv66
    marks = list(score.recurse().getElementsByClass(tempo.MetronomeMark))
    assert marks and {m.getQuarterBPM() for m in marks} == {96.0}   # <sound tempo="96"/>
    assert f["time_signature"] == "4/4"
    assert f["tempo_bpm"] == pytest.approx(96.0)
    assert f["tempo_word"] == "Moderato"
    assert f["tempo_changes"] == [{"time_s": 0.0, "bpm": 96.0}]
    quarters = float(score.highestTime)                              # 36 quarter notes
    assert f["duration_s"] == pytest.approx(quarters * 60 / 96, abs=1e-3)
    assert f["duration_word"] == "Short fragment"
    approx = [round(i * 60 / 96, 3) for i in range(int(quarters))]
    assert f["beats_s"] == pytest.approx(approx, abs=1e-3)


def test_chorale_downbeats_fall_on_its_barlines(bwv66):
    _, score, f = bwv66
    # The chorale opens with a one-quarter pickup (measure 0): its bars begin
    # at the offsets music21 reads from the barlines, not every 4 quarters from 0.
    offsets = [float(m.offset) for m in score.parts[0].getElementsByClass(stream.Measure)]
    assert offsets[:3] == [0.0, 1.0, 5.0]
    full_bars = [o for o, m in zip(offsets, score.parts[0].getElementsByClass(stream.Measure))
                 if m.paddingLeft == 0]
    expected = [round(o * 60 / 96, 3) for o in full_bars]
    assert f["downbeats_s"] == pytest.approx(expected, abs=1e-3)


def test_chorale_parts_are_a_four_part_choir(bwv66):
    _, _, f = bwv66
    # Soprano, Alto, Tenor, Bass parts with no program: sung (GM 53), the bass beside the other voices
    assert f["instrument_tracks"] == [53, 53, 53, 53] and f["instruments"] == ["Voice Oohs"]
    text = caption(f, np.random.default_rng(0))
    assert "four-part choir" in text and "piano" not in text and "song" not in text


def test_a_score_that_names_no_instrument_gets_none():
    """An ABC tune states no instrument (music21 writes its part at program 0, the renderer's piano): the
    facts name none and no caption says "piano"; a part that names one keeps it, by program or by name."""
    from music21 import instrument

    from captune.captioners.factcheck import check

    jig = analyze(ABC_JIG, "jig.abc")
    assert (jig["instruments"], jig["instrument_programs"], jig["instrument_tracks"]) == ([], [], [])
    for seed in range(20):
        text = caption(jig, np.random.default_rng(seed))
        assert "piano" not in text.lower() and check(text, jig) == [], text
    assert analyze(_write(_scale_score(bpm=90), "musicxml", ".musicxml"), "s.musicxml")["instruments"] == []
    named = []
    for state in (lambda part: part.insert(0, instrument.Violin()), lambda part: part.insert(0, instrument.Piano()),
                  lambda part: setattr(part, "partName", "Flauto")):
        score = _scale_score(bpm=90)
        state(score.parts[0])
        named.append(analyze(_write(score, "musicxml", ".musicxml"), "s.musicxml")["instruments"])
    assert named == [["Violin"], ["Acoustic Grand Piano"], ["Flute"]]


def test_string_quartet_parts_are_strings():
    path = str(corpus.getWork("haydn/opus74no1/movement1"))
    f = analyze(_read(path), os.path.basename(path))
    assert sorted(f["instrument_tracks"]) == [40, 40, 41, 42]
    assert "string quartet" in caption(f, np.random.default_rng(0))


def test_chorale_pitches_and_texture(bwv66):
    _, score, f = bwv66
    midis = [p.midi for n in score.recurse().notes for p in n.pitches]
    s = f["note_stats"]
    assert (s["pitch_min"], s["pitch_max"]) == (min(midis), max(midis))
    assert 3.0 <= s["polyphony"] <= 4.0                                # four voices, a few rests
    roots = _roots(c["label"] for c in f["chords"])
    assert roots and not any("b" in r[:2] for r in roots)             # a sharp key: no flats


# ---------------------------------------------------------------------------
# A Bach chorale in Humdrum **kern: bwv281, F major, no tempo stated.
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bwv281():
    path = os.path.join(CORPUS, "bach", "bwv281.krn")
    data = _read(path)
    assert b"*F:" in data and b"*k[b-]" in data and b"*M4/4" in data and b"*MM" not in data
    return music21.converter.parse(path), analyze(data, "bwv281.krn")


def test_kern_chorale(bwv281):
    score, f = bwv281
    m21 = score.analyze("key")
    assert (m21.tonic.name, m21.mode) == ("F", "major")
    assert f["modality"] == "score"
    assert f["key"] == "F major"
    assert f["time_signature"] == "4/4"
    roots = _roots(c["label"] for c in f["chords"])
    assert roots and not any("#" in r for r in roots)                 # a flat key: no sharps


def test_kern_without_tempo_has_no_tempo_facts(bwv281):
    score, f = bwv281
    assert (f["tempo_bpm"], f["tempo_word"], f["tempo_changes"]) == (None, None, [])
    assert f["beats_s"] is None and f["downbeats_s"] is None
    # Seconds then assume the MIDI default of 120 quarters per minute.
    assert f["duration_s"] == pytest.approx(float(score.highestTime) * 0.5, abs=1e-3)


# ---------------------------------------------------------------------------
# ABC: analyze() reads one piece, so it refuses a tune book (captune.items
# cuts books into tunes, below); a single tune is analysed.
# ---------------------------------------------------------------------------



def test_abc_tune_book_is_refused():
    with pytest.raises(BadInput) as info:
        analyze(ABC_BOOK, "book.abc")
    assert (info.value.reason, info.value.stage) == ("multi_piece_score", "decode")
    assert "4" in info.value.detail


def test_corpus_abc_tune_book_is_refused():
    path = os.path.join(CORPUS, "oneills1850", "0626-0635.abc")
    data = _read(path)
    n_tunes = sum(1 for line in data.splitlines() if line.startswith(b"X:"))
    assert n_tunes > 1
    with pytest.raises(BadInput) as info:
        analyze(data, "0626-0635.abc")
    assert (info.value.reason, info.value.stage) == ("multi_piece_score", "decode")
    assert str(n_tunes) in info.value.detail


def test_abc_single_jig():
    f = analyze(ABC_JIG, "jig.abc")
    assert f["key"] == "D major"                       # K:D, a D-major-arpeggio tune
    assert f["time_signature"] == "6/8"
    # Q:3/8=80 is 80 dotted quarters a minute = 120 quarters a minute.
    assert f["tempo_bpm"] == pytest.approx(120.0)
    # Four bars of three quarters, played twice (|: ... :|): 24 quarters = 12 s.
    assert f["duration_s"] == pytest.approx(12.0)
    assert f["beats_s"] == pytest.approx([0.75 * i for i in range(16)], abs=1e-3)     # dotted quarters
    assert f["downbeats_s"] == pytest.approx([1.5 * i for i in range(8)], abs=1e-3)
    s = f["note_stats"]
    assert s["polyphony"] == pytest.approx(1.0)
    # Per pass: 3 bars of 6 eighths + 2 dotted quarters = 20 notes; two passes.
    assert s["note_count"] == 40
    assert (s["pitch_min"], s["pitch_max"]) == (62, 79)   # D4 .. G5 (ABC lower case = octave up)


ABC_LEAD_SHEET = b"""X:1
T:Chord symbols
M:4/4
L:1/4
Q:1/4=120
K:G
"G"G B d B|"D"A F D F|"C"E G c G|"G"G4|]
"""


def test_abc_chord_symbols_sound_until_the_next_one():
    # Four bars of 4/4 at 120 bpm (2 s a bar), one chord symbol a bar: each chord sounds for its bar
    # under the tune, so the chords are exactly G D C G and one melody note + a triad sound at a time.
    f = analyze(ABC_LEAD_SHEET, "lead.abc")
    assert [(c["start_s"], c["end_s"], c["label"]) for c in f["chords"]] == [
        (0.0, 2.0, "G"), (2.0, 4.0, "D"), (4.0, 6.0, "C"), (6.0, 8.0, "G")]
    assert f["note_stats"]["polyphony"] == pytest.approx(4.0)
    assert f["key"] == "G major"


ABC_TEXT_IN_QUOTES = b"""X:1
T:Part letters and a dynamic in chord syntax
M:4/4
L:1/4
Q:1/4=120
K:C
"A" C D E F | "f" G A B c :|
"B" c B A G | F E D C |]
"""


@pytest.mark.parametrize("body, bars", [
    ("CDEF|GABc:|cBAG|FEDC:|", [1, 2, 1, 2, 3, 4, 3, 4]),                 # A:| B:| (O'Neill's way)
    ("CDEF|1GABc:|2GGGG|cBAG|FEDC:|", [1, 2, 1, 3, 4, 5, 4, 5]),          # the B part after A's endings
])
def test_an_end_repeat_without_a_start_goes_back_to_the_previous_one(body, bars):
    """A second end repeat with no start repeat repeats from the bar after the previous repeat (and its
    endings), not from the top: music21 went back to the beginning each time (a six-strain jig of
    O'Neill's lasted 1,512 s instead of 144 s)."""
    notes = {1: [60, 62, 64, 65], 2: [67, 69, 71, 72], 3: [72, 71, 69, 67], 4: [65, 64, 62, 60]}
    if "GGGG" in body:
        notes = {1: notes[1], 2: notes[2], 3: [67] * 4, 4: notes[3], 5: notes[4]}
    smf, options = score_to_midi(f"X:1\nT:t\nM:4/4\nL:1/4\nK:C\n{body}\n".encode(), ".abc")
    piece = from_midi_bytes(smf, **options)
    assert piece.duration_s == 16.0                                       # 8 bars of 4/4 at 120 bpm
    assert piece.pitch.tolist() == [p for bar in bars for p in notes[bar]]


def test_a_voice_merged_into_another_leaves_no_empty_part_to_refuse_the_repeats():
    """``V:2 merge`` in the header: music21 makes an empty part (no measures) for it, and its repeat
    expansion then refused the tune (two of Aird's sixth book). The two bars, repeated, are 16 quarter
    notes: C D E F G A B c twice."""
    abc = b"X:1\nT:t\nM:4/4\nL:1/4\nQ:1/4=120\nV:1\nV:2 merge\nK:C\n[V:1] C D E F | G A B c :|\n[V:2] x4 | x4 :|\n"
    smf, options = score_to_midi(abc, ".abc")
    piece = from_midi_bytes(smf, **options)
    assert piece.duration_s == 8.0                                        # 4 bars of 4/4 at 120 bpm
    assert piece.pitch.tolist() == [60, 62, 64, 65, 67, 69, 71, 72] * 2


def test_abc_rehearsal_letters_and_dynamics_are_not_chords():
    # "A" and "B" label the parts, "f" is forte: no chord sounds, only the tune's 16 quarter notes,
    # one at a time (with them as chords, A, F and B major triads would sound under the tune).
    f = analyze(ABC_TEXT_IN_QUOTES, "parts.abc")
    assert f["note_stats"]["note_count"] == 16 + 8       # the first part's repeat played
    assert f["note_stats"]["polyphony"] == pytest.approx(1.0)
    assert f["key"] == "C major"


ABC_METER_CHANGES = b"""X:1
T:Meter changes
M:6/8
L:1/8
Q:3/8=60
K:D
DFA dAF|
M:9/8
DFA dAF DFA|
M:6/8
DFA d3|]
"""


def test_abc_tune_returning_to_an_earlier_meter_is_read():
    # music21 reuses its 6/8 object for the second M:6/8 and its MIDI writer refused the tune.
    # Q:3/8=60: a dotted quarter a second (90 quarters a minute); 2 + 3 + 2 dotted quarters of notes.
    # (music21 bars the 9/8 bar as 6/8 + 3/8, so the downbeats follow that barring: not checked.)
    f = analyze(ABC_METER_CHANGES, "meters.abc")
    assert f["duration_s"] == pytest.approx(7.0)
    assert f["note_stats"]["note_count"] == 6 + 9 + 4
    assert f["time_signature"] == "6/8"
    assert f["tempo_bpm"] == pytest.approx(90.0)


# ---------------------------------------------------------------------------
# ABC tune books in a build: cut into one ABC file per tune (the book's header
# kept), each tune a part with its own rows; a tune without notes fails alone.
# Keys, meters and lengths are read off the ABC: K:, M:, and the note lengths
# (L:1/8 from the header unless the tune sets L:), at the assumed 120 bpm.
# ---------------------------------------------------------------------------

def test_abc_tunes_cuts_a_book_and_keeps_its_header():
    tunes = abc_tunes(ABC_BOOK)
    assert len(tunes) == 4
    for tune, text in zip(tunes, ABC_BOOK_TUNES):
        assert tune.startswith(ABC_BOOK_HEADER) and tune.endswith(text)
    assert abc_tunes(ABC_JIG) == [ABC_JIG]


def test_a_tune_book_becomes_one_part_per_tune():
    processed = items.process(ABC_BOOK, "book.abc", "src")
    assert processed["units"] == [] and processed["fingerprint"] == []
    parts = processed["parts"]
    assert [p["piece"] for p in parts] == [0, 1, 2, 3]
    expected = [("G major", "4/4", 4.0), ("D major", "3/4", 4.5), ("A minor", "2/4", 3.0)]  # 8, 9, 6 quarters
    ids = set()
    for part, (key, meter_, seconds) in zip(parts[:3], expected):
        (unit,) = items.part_units(part, "book.abc", "src", items.Settings())
        f = unit["facts"]
        assert (f["key"], f["time_signature"]) == (key, meter_)
        assert f["duration_s"] == pytest.approx(seconds)
        assert unit["piece"] == part["piece"]
        assert unit["media"] == {"bytes": part["score"], "path": f"book.{part['piece'] + 1:03d}.abc"}
        assert analyze(unit["media"]["bytes"], "tune.abc")["key"] == key  # the media is a score of its own
        ids.add(row_id("src", unit["variant"], piece=unit["piece"]))
    assert len(ids) == 3
    with pytest.raises(BadInput) as info:
        items.part_units(parts[3], "book.abc", "src", items.Settings())
    assert info.value.reason == "no_notes"
    assert items.part_label(parts[3]) == "tune 4"


# A duet written as a part book, one X: per voice (music21's Josquin chansons): C major, 2/4, the
# cantus C5 D5 E5 F5 | G5 4 over the tenor C4 B3 C4 D4 | C4 4: two bars each, sounding together.
ABC_DUET = b"""X:1
T:Duet
T:Cantus
M:2/4
L:1/8
K:C
c d e f | g4 |]

X:2
T:Duet
T:Tenor
M:2/4
L:1/8
K:C
C B, C D | C4 |]
"""


def test_voices_written_one_tune_each_are_one_piece():
    assert abc_tunes(ABC_DUET) == [ABC_DUET]
    f = analyze(ABC_DUET, "duet.abc")
    assert f["note_stats"]["note_count"] == 10 and f["duration_s"] == pytest.approx(2.0)  # 4 quarters at 120
    assert f["instrument_programs"] == [53] and f["key"] == "C major" and f["time_signature"] == "2/4"
    assert f["note_stats"]["polyphony"] == pytest.approx(2.0)   # both voices sound all through
    # the same title without a voice subtitle is two tunes (Essen's songs share titles)
    plain = ABC_DUET.replace(b"T:Cantus\n", b"").replace(b"T:Tenor\n", b"")
    assert len(abc_tunes(plain)) == 2
    with pytest.raises(BadInput) as info:
        analyze(plain, "book.abc")
    assert info.value.reason == "multi_piece_score"


def test_a_josquin_chanson_in_part_books_is_one_four_voice_piece():
    data = _read(os.path.join(CORPUS, "josquin", "milleRegrets.abc"))   # Superius, Contratenor, Tenor, Bassus
    processed = items.process(data, "milleRegrets.abc", "src")
    assert processed["parts"] == [] and len(processed["units"]) == 1
    f = processed["units"][0]["facts"]
    assert f["instrument_programs"] == [53] and f["duration_s"] == pytest.approx(156.0)  # 312 quarters at 120
    assert "four-part choir" in caption(f, np.random.default_rng(0))


def test_a_single_score_keeps_its_own_bytes_as_media():
    (unit,) = items.process(ABC_JIG, "jig.abc", "src")["units"]
    assert unit["media"] == {"bytes": ABC_JIG, "path": "jig.abc"} and unit["piece"] is None


# ---------------------------------------------------------------------------
# A small MusicXML written here: C major scale in 3/4, with and without a tempo.
# ---------------------------------------------------------------------------

SCALE_UP = ["C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5"]


def _scale_score(bpm=None) -> stream.Score:
    part = stream.Part()
    part.append(meter.TimeSignature("3/4"))
    if bpm is not None:
        part.append(tempo.MetronomeMark(number=bpm, referent=note.Note(type="quarter").duration))
    for name in SCALE_UP + SCALE_UP[-2::-1]:    # up C4..C5, down B4..C4: 15 quarters
        part.append(note.Note(name, quarterLength=1.0))
    part.append(note.Note("C4", quarterLength=3.0))   # a dotted half to close: 18 quarters = 6 bars
    score = stream.Score()
    score.insert(0, part)
    return score


def _write(score: stream.Score, fmt: str, suffix: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = score.write(fmt, fp=os.path.join(tmp, "scale" + suffix))
        return _read(str(path))


@pytest.mark.parametrize("fmt, suffix", [("musicxml", ".musicxml"), ("musicxml", ".xml"), ("mxl", ".mxl")])
def test_scale_with_metronome_mark(fmt, suffix):
    f = analyze(_write(_scale_score(bpm=90), fmt, suffix), "scale" + suffix)
    assert f["modality"] == "score"
    assert f["key"] == "C major"
    assert f["time_signature"] == "3/4"
    assert f["tempo_bpm"] == pytest.approx(90.0)
    assert f["tempo_word"] == "Andante"               # exactly 90 takes the slower word
    assert f["duration_s"] == pytest.approx(18 * 60 / 90, abs=1e-3)   # 12 s
    assert f["beats_s"] == pytest.approx([i * 60 / 90 for i in range(18)], abs=1e-3)
    assert f["downbeats_s"] == pytest.approx([i * 3 * 60 / 90 for i in range(6)], abs=1e-3)
    s = f["note_stats"]
    assert s["note_count"] == 16 and (s["pitch_min"], s["pitch_max"]) == (60, 72)
    assert s["polyphony"] == pytest.approx(1.0)


def _scale_with_direction(direction: str) -> bytes:
    """The 90 bpm scale as MusicXML with its tempo direction's inner XML replaced by ``direction``."""
    xml = _write(_scale_score(bpm=90), "musicxml", ".musicxml").decode()
    start, end = xml.index("<direction>") + len("<direction>"), xml.index("</direction>")
    return (xml[:start] + direction + xml[end:]).encode()


UNREAD_METRONOME = ("<direction-type><metronome><beat-unit>quarter</beat-unit><per-minute>ca 72</per-minute>"
                    "</metronome></direction-type>")


@pytest.mark.parametrize("direction, bpm", [
    ('<direction-type><words>x</words></direction-type><sound tempo="96"/>', 96.0),   # a playback tempo someone set
    ('<direction-type><words>x</words></direction-type><sound tempo="120"/>', None),  # the programs' default
    (UNREAD_METRONOME, None),                                    # "ca 72": music21 reads no number (Webern op. 16/2)
])
def test_a_playback_tempo_counts_unless_it_is_the_default(direction, bpm):
    f = analyze(_scale_with_direction(direction), "scale.musicxml")
    assert f["tempo_bpm"] == (pytest.approx(bpm) if bpm else None)
    assert f["tempo_changes"] == ([{"time_s": 0.0, "bpm": bpm}] if bpm else [])
    assert f["duration_s"] == pytest.approx(18 * 60 / (bpm or 120.0), abs=1e-3)


def test_scale_without_metronome_mark():
    f = analyze(_write(_scale_score(bpm=None), "musicxml", ".musicxml"), "scale.musicxml")
    assert f["key"] == "C major"
    assert f["time_signature"] == "3/4"
    assert (f["tempo_bpm"], f["tempo_word"], f["tempo_changes"]) == (None, None, [])
    assert f["beats_s"] is None and f["downbeats_s"] is None
    assert f["duration_s"] == pytest.approx(18 * 0.5, abs=1e-3)   # 120 bpm assumed


# ---------------------------------------------------------------------------
# Bad scores.
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("data, name, reason", [
    (b"", "empty.musicxml", "empty_file"),
    (b"", "empty.abc", "empty_file"),
    (b"<?xml version='1.0'?><not-a-score><x/></not-a-score>", "junk.xml", "parse_error"),
    (b"PK\x03\x04 this is no zip", "junk.mxl", "parse_error"),
])
def test_bad_scores(data, name, reason):
    with pytest.raises(BadInput) as info:
        analyze(data, name)
    assert info.value.reason == reason
    assert info.value.stage == "decode"


def test_grace_notes_do_not_hang_on():
    """Four bars of quarter notes in D major, a grace C#5 before the first bar's D5 and a real C#5
    in the last bar. music21 writes the grace note's note-off before its note-on on one tick, so
    before grace notes were left out the C# sounded from beat 1 to bar 4 (about 13 quarters)."""
    part = stream.Part()
    part.append(meter.TimeSignature("4/4"))
    part.append(note.Note("C#5", quarterLength=1.0).getGrace())
    for name in ["D5", "F#4", "A4", "D5"] * 3 + ["A4", "G4", "C#5", "D5"]:
        part.append(note.Note(name, quarterLength=1.0))
    score = stream.Score()
    score.insert(0, part)
    from captune.extractors.score import from_score_bytes
    piece = from_score_bytes(_write(score, "musicxml", ".musicxml"), ".musicxml")
    quarters = piece.duration / piece.tpq
    assert len(quarters) == 16                      # the 16 notated notes; the grace note is left out
    assert np.allclose(quarters, 1.0, atol=0.05)    # none holds on past its quarter


def test_score_with_repeats_music21_cannot_expand_is_played_once():
    """Mozart's K. 458/2 (a minuet in B-flat major) in music21's corpus: music21's MIDI writer
    refuses its repeats ("badly formed repeats"); the notes are played once as written."""
    path = str(corpus.getWork("mozart/k458/movement2.mxl"))
    with pytest.raises(music21.repeat.ExpanderException):
        music21.midi.translate.streamToMidiFile(corpus.parse(path))
    facts = analyze(_read(path), os.path.basename(path))
    assert facts["key"] == "Bb major"
