"""Known answers for the harmony-aware chord labeller and for tempo and beats from onsets.

Every piece is written here from music theory with the mido writer of
``tests/fixtures.py``; the answers come from how the piece was built.
"""

import numpy as np
import pytest

import fixtures as fx
from captune.extractors import midi
from captune.extractors.midi import harmony
from captune.extractors.midi.onset_tempo import lacks_tempo_map, onset_beats

# ---------------------------------------------------------------------------
# Chords.
# ---------------------------------------------------------------------------


def piano_and_bass(piano, bass, **midi_kwargs):
    """A piece of a piano track and a bass track (``fixtures.make_midi`` note tuples; ``midi_kwargs``:
    its tempo and meter)."""
    return midi.from_midi_bytes(fx.make_midi([(fx.PIANO, False, piano), (fx.BASS, False, bass)], **midi_kwargs))


def labels(piece, key="C major", method="harmony"):
    return [s["label"] for s in midi.chords(piece, key, method=method)]


def chords_with_melody(progression, melody_pitches, bpm=120):
    """Block chords (one per 4/4 bar, piano) + bass roots + a melody track of eighth notes."""
    tracks = fx.progression_tracks(progression, meter=(4, 4), with_drums=False)
    tune = fx.melody(melody_pitches, step=0.5)
    return midi.from_midi_bytes(fx.make_midi([(73, False, tune)] + tracks, tempo_bpm=bpm))


def test_melody_passing_tones_do_not_change_the_chord():
    # Bar 1 C major, bar 2 F major, bar 3 G major, bar 4 C major; above each, a flute runs
    # through the scale, touching every non-chord tone of the bar on an off-beat eighth.
    run = fx.notes("C5", "D5", "E5", "F5", "G5", "A5", "B5", "C6")
    tune = run + fx.notes("F5", "G5", "A5", "B5", "C6", "D6", "E6", "F6") \
        + fx.notes("G5", "A5", "B5", "C6", "D6", "E6", "F6", "G6") + run
    piece = chords_with_melody(("C", "F", "G", "C"), tune)
    assert labels(piece) == ["C", "F", "G", "C"]


def test_plain_matcher_is_kept_as_the_baseline():
    piece = midi.from_midi_bytes(fx.progression_piece(("C", "G7"), bpm=120, meter=(4, 4), repeats=1))
    assert labels(piece, method="plain") == ["C", "G7"]
    with pytest.raises(ValueError, match="unknown chord method"):
        midi.chords(piece, "C major", method="nope")


def test_first_inversion_keeps_its_root():
    # C/E: piano C4 E4 G4 over a bass E2. The bass is a chord tone, not the root: still C, not Em.
    voicing = {"C": fx.notes("C4", "E4", "G4")}
    piano = [(0, 4, p, 80) for p in voicing["C"]] + [(4, 4, p, 80) for p in fx.chord_voicing("F")]
    bass = [(0, 4, fx.note("E2"), 90), (4, 4, fx.note("F2"), 90)]
    piece = piano_and_bass(piano, bass)
    assert labels(piece) == ["C", "F"]


def test_bass_root_decides_between_relative_chords():
    # A C E without G over an A bass is A minor; the same three notes over a C bass would be
    # an incomplete C6: the bass on A tips it to Am.
    piano = [(0, 4, p, 80) for p in fx.notes("A3", "C4", "E4")]
    bass = [(0, 4, fx.note("A1"), 90)]
    piece = piano_and_bass(piano, bass)
    assert labels(piece) == ["Am"]


def test_passing_seventh_in_the_melody_stays_a_triad():
    # C major held for two bars; the melody touches B (the major seventh) for one eighth only.
    tune = fx.notes("E5", "G5", "E5", "C5", "G5", "E5", "C5", "B4") + fx.notes("C5", "E5", "G5", "E5",
                                                                               "C5", "G4", "E4", "C5")
    piece = chords_with_melody(("C", "C"), tune)
    assert labels(piece) == ["C"]


def test_full_seventh_chords_are_sevenths():
    piece = midi.from_midi_bytes(fx.progression_piece(("Dm7", "G7", "Cmaj7"), bpm=100, meter=(4, 4),
                                                      repeats=1))
    assert labels(piece) == ["Dm7", "G7", "Cmaj7"]


def test_chord_change_on_the_half_beat_is_placed_there():
    # 2/4 at 60 bpm: C for a beat and a half, then G for half a beat, twice. Beats are 1 s long.
    piano, bass = [], []
    for bar in range(2):
        t0 = 2 * bar
        piano += [(t0, 1.5, p, 80) for p in fx.chord_voicing("C")]
        piano += [(t0 + 1.5, 0.5, p, 80) for p in fx.chord_voicing("G")]
        bass += [(t0, 1.5, fx.note("C2"), 90), (t0 + 1.5, 0.5, fx.note("G2"), 90)]
    piece = piano_and_bass(piano, bass, tempo_bpm=60, time_signature=(2, 4))
    segments = midi.chords(piece, "C major")
    assert [s["label"] for s in segments] == ["C", "G", "C", "G"]
    assert [s["start_s"] for s in segments] == pytest.approx([0.0, 1.5, 2.0, 3.5])


def test_diatonic_prior():
    names = [root_q for root_q in harmony._TEMPLATE_NAMES]
    in_c = harmony._diatonic("C major")
    in_a = harmony._diatonic("A minor")
    assert in_c[names.index((7, "7"))] == 1.0        # G7 = V7 of C
    assert in_c[names.index((4, ""))] == 0.0         # E major has G#, not in C major
    assert in_a[names.index((4, ""))] == 1.0         # E major = V of A minor (harmonic minor)
    assert in_a[names.index((11, "m7b5"))] == 1.0    # B D F A = ii half-diminished of A minor
    assert not harmony._diatonic(None).any()


def test_melody_tracks_are_the_high_monophonic_ones():
    tune = fx.melody(fx.notes("C5", "D5", "E5", "F5"), step=1.0)
    piece = midi.from_midi_bytes(fx.make_midi([(73, False, tune)] + fx.progression_tracks(("C",), (4, 4),
                                                                                          with_drums=False)))
    assert harmony.melody_tracks(piece).tolist() == [0]   # the bass (track 2) is monophonic but low
    alone = midi.from_midi_bytes(fx.progression_piece(("C", "G"), meter=(4, 4), repeats=1, with_bass=False,
                                                      with_drums=False))
    assert harmony.melody_tracks(alone).tolist() == []


def test_an_appoggiatura_in_two_lead_lines_does_not_change_the_chord():
    # A flat major, then E flat major, struck short on every beat, over their roots in the bass; a sung melody
    # and an instrumental line (two tracks, as POP909 writes melody and bridge) both hold F, the sixth
    # above A flat, over the first bar: a suspension over A flat, not F minor seven
    piano = [(beat, 0.5, p, 70) for beat in range(4) for p in fx.notes("Ab3", "C4", "Eb4")]
    piano += [(4 + beat, 0.5, p, 70) for beat in range(4) for p in fx.notes("G3", "Bb3", "Eb4")]
    bass = [(0, 4, fx.note("Ab2"), 90), (4, 4, fx.note("Eb2"), 90)]
    sung = [(0, 3, fx.note("F5"), 100), (3, 1, fx.note("Eb5"), 100), (4, 4, fx.note("G5"), 100)]
    bridge = [(0, 3, fx.note("F6"), 90), (3, 1, fx.note("Eb6"), 90), (4, 4, fx.note("Bb5"), 90)]
    tracks = [(fx.PIANO, False, piano), (fx.BASS, False, bass), (0, False, sung), (73, False, bridge)]
    piece = midi.from_midi_bytes(fx.make_midi(tracks))
    assert sorted(harmony.melody_tracks(piece).tolist()) == [2, 3]
    assert labels(piece, "Ab major") == ["Ab", "Eb"]


def two_voices(bars):
    """One keyboard staff (one track) of two voices, 4/4 at 120 bpm: ``bars`` of (bass names, one per
    half bar; upper-voice names, one per eighth)."""
    notes = []
    for i, (bass, upper) in enumerate(bars):
        notes += [(4 * i + 2 * j, 2, fx.note(name), 80) for j, name in enumerate(bass)]
        notes += [(4 * i + 0.5 * j, 0.5, fx.note(name), 80) for j, name in enumerate(upper)]
    return midi.from_midi_bytes(fx.make_midi([(fx.PIANO, False, notes)]))


def test_passing_and_neighbour_tones_are_found():
    # One line: C4 on the beat, D4 on the off-beat between C4 and E4 (passing), E4, F4 between two E4s
    # off the beat (neighbour), then a leap G4 -> C5 on an off-beat (not stepwise: a chord tone) and
    # a D4 struck on the beat between C4 and E4 (accented, not flagged).
    line = [(0, .5, "C4"), (.5, .5, "D4"), (1, .5, "E4"), (1.5, .5, "F4"), (2, .5, "E4"), (2.5, .5, "G4"),
            (3, .5, "C5"), (3.5, .5, "B4"), (4, 1, "C4"), (5, 1, "D4"), (6, 1, "E4")]
    piece = midi.from_midi_bytes(fx.make_midi([(fx.PIANO, False, [(t, d, fx.note(n), 80) for t, d, n in line])]))
    beats = np.arange(0, 8) * piece.tpq
    flagged = [fx.note(n) for (_, _, n), f in zip(line, harmony.embellishing(piece, beats)) if f]
    assert flagged == fx.notes("D4", "F4")


def test_two_voice_progression_with_passing_tones_is_labelled_by_its_triads():
    # I-IV-V-I in two voices: a bass in half notes (root, then third or fifth), an upper line in eighths
    # whose off-beats are passing and neighbour tones; every on-beat eighth is a chord tone.
    piece = two_voices([(("C3", "E3"), ("C5", "D5", "E5", "F5", "G5", "F5", "E5", "D5")),
                        (("F3", "A3"), ("C5", "D5", "C5", "B4", "A4", "B4", "A4", "A4")),
                        (("G3", "B2"), ("B4", "C5", "D5", "C5", "B4", "C5", "D5", "D5")),
                        (("C3", "C3"), ("C5", "D5", "E5", "F5", "E5", "D5", "C5", "C5"))])
    assert labels(piece) == ["C", "F", "G", "C"]


def test_cadential_six_four_is_the_dominant():
    # C | F | C/G for two beats (C E G over a G bass) resolving to G over the same bass | C.
    # Analysts read the 6/4 as the dominant with a double suspension: C, F, G, C.
    piano = [(0, 4, p, 80) for p in fx.notes("C4", "E4", "G4")] + \
        [(4, 4, p, 80) for p in fx.notes("C4", "F4", "A4")] + \
        [(8, 2, p, 80) for p in fx.notes("C4", "E4", "G4")] + [(10, 2, p, 80) for p in fx.notes("B3", "D4", "G4")] + \
        [(12, 4, p, 80) for p in fx.notes("C4", "E4", "G4")]
    bass = [(0, 4, fx.note("C2"), 90), (4, 4, fx.note("F2"), 90), (8, 4, fx.note("G2"), 90),
            (12, 4, fx.note("C2"), 90)]
    piece = piano_and_bass(piano, bass)
    assert labels(piece) == ["C", "F", "G", "C"]
    # C E G over G that moves on to F over F, read in F major (G is not its dominant), is no 6/4: C
    piano = [(0, 2, p, 80) for p in fx.notes("C4", "E4", "G4")] + [(2, 2, p, 80) for p in fx.notes("C4", "F4", "A4")]
    bass = [(0, 2, fx.note("G2"), 90), (2, 2, fx.note("F2"), 90)]
    passing = piano_and_bass(piano, bass)
    assert labels(passing, key="F major") == ["C", "F"]


def test_cadential_six_four_of_a_tonicised_key_is_its_dominant():
    # In C major, a half cadence on G's dominant: C | G/D (G B D over a D bass) resolving to D over the
    # same bass | G. The key in force (C) has no 6/4 on D, but the run that resolves over its bass to
    # the chord on that bass is read as that chord: C, D, G.
    piano = [(0, 4, p, 80) for p in fx.notes("C4", "E4", "G4")] + \
        [(4, 2, p, 80) for p in fx.notes("B3", "D4", "G4")] + [(6, 2, p, 80) for p in fx.notes("A3", "D4", "F#4")] + \
        [(8, 4, p, 80) for p in fx.notes("B3", "D4", "G4")]
    bass = [(0, 4, fx.note("C2"), 90), (4, 4, fx.note("D2"), 90), (8, 4, fx.note("G2"), 90)]
    piece = piano_and_bass(piano, bass)
    assert labels(piece) == ["C", "D", "G"]


def upbeat_piece():
    """3/4 at 120 bpm written as DCML's files are: time 0 is the first note, a sixteenth upbeat (C4 E4),
    then a bar each of C, G and C from beat 0.25 (block chords over the root)."""
    piano = [(0, 0.25, p, 80) for p in fx.notes("C4", "E4")]
    bass = []
    for i, label in enumerate(("C", "G", "C")):
        start = 0.25 + 3 * i
        piano += [(start, 3, p, 80) for p in fx.chord_voicing(label)]
        bass.append((start, 3, fx.chord_root(label), 90))
    return piano_and_bass(piano, bass, time_signature=(3, 4))


def test_an_unpadded_upbeat_shifts_the_beats_onto_the_notes():
    from captune.extractors.midi.chords import _beat_bounds, beat_phase
    piece = upbeat_piece()
    assert beat_phase(piece, _beat_bounds(piece)) == piece.tpq / 4  # the bars start a sixteenth in
    segments = midi.chords(piece, "C major")
    assert [s["label"] for s in segments] == ["C", "G", "C"]  # the upbeat belongs to the C chord
    assert [s["start_s"] for s in segments] == pytest.approx([0.0, 1.625, 3.125])  # not 1.5 or 1.75


def test_a_bare_fifth_keeps_the_mode_of_the_chord_before():
    # A bar of C minor (C Eb G over C), then a bar of C and G alone: the bare fifth says nothing of the
    # mode, so it stays C minor, even read in C major, whose prior favours the major triad; and a bar
    # of C major then the bare fifth stays C major in C minor.
    def piece(third):
        piano = [(0, 4, p, 80) for p in fx.notes("C4", third, "G4")] + [(4, 4, p, 80) for p in fx.notes("C4", "G4")]
        bass = [(0, 8, fx.note("C2"), 90)]
        return piano_and_bass(piano, bass)
    assert labels(piece("Eb4"), key="C major") == ["Cm"]
    assert labels(piece("E4"), key="C minor") == ["C"]
    # with no third anywhere, the key decides: C and G alone are C minor in C minor, C in C major
    bare = midi.from_midi_bytes(fx.make_midi([(fx.PIANO, False, [(0, 8, p, 80) for p in fx.notes("C3", "G3", "C4")])]))
    assert labels(bare, key="C minor") == ["Cm"]
    assert labels(bare, key="C major") == ["C"]


def test_a_first_inversion_whose_root_sounds_briefly_is_not_the_mediant():
    # I6-IV-V7-I in C: the I6 bar is E G over an E bass with the root C for one off-beat eighth only.
    # Every frame without the C reads as E minor (E G, the bass on its root); over the whole bar C
    # sounds and B does not, so it is C over its third: C, F, G7, C.
    def cadence(first_bar):
        piano = first_bar + [(4, 4, p, 80) for p in fx.notes("F4", "A4", "C5")] + \
            [(8, 4, p, 80) for p in fx.notes("B3", "D4", "F4", "G4")] + \
            [(12, 4, p, 80) for p in fx.notes("C4", "E4", "G4")]
        bass = [(0, 4, fx.note("E2"), 90), (4, 4, fx.note("F2"), 90), (8, 4, fx.note("G2"), 90),
                (12, 4, fx.note("C2"), 90)]
        return piano_and_bass(piano, bass)
    six = [(0, 4, p, 80) for p in fx.notes("E4", "G4")] + [(1.5, 0.5, fx.note("C5"), 80)]
    assert labels(cadence(six)) == ["C", "F", "G7", "C"]
    # with its fifth B held, E G B is E minor, the same brief C notwithstanding (iii, IV, V7, I)
    mediant = [(0, 4, p, 80) for p in fx.notes("E4", "G4", "B4")] + [(1.5, 0.5, fx.note("C5"), 80)]
    assert labels(cadence(mediant)) == ["Em", "F", "G7", "C"]


def test_a_rest_holds_the_chord_before_it():
    # C for two beats, two beats of silence, G: the harmony lasts until the next chord (as analysts
    # label it), so no N between them; silence says nothing of a change.
    piano = [(0, 2, p, 80) for p in fx.chord_voicing("C")] + [(4, 4, p, 80) for p in fx.chord_voicing("G")]
    bass = [(0, 2, fx.note("C2"), 90), (4, 4, fx.note("G2"), 90)]
    piece = piano_and_bass(piano, bass)
    segments = midi.chords(piece, "C major")
    assert [s["label"] for s in segments] == ["C", "G"]
    assert segments[1]["start_s"] == pytest.approx(2.0)


def test_a_scale_run_alone_keeps_the_chord_it_starts_from():
    # A bar of C, then a bar where only a descending scale sounds (sixteenths, one voice: two notes a
    # step apart in every half beat, which fit no chord), then G. The run is motion within the C
    # harmony, not an absence of harmony: C, G with no N between. A chromatic run likewise.
    diatonic = ("C6", "B5", "A5", "G5", "F5", "E5", "D5", "C5", "B4", "A4", "G4", "F4", "E4", "D4", "C4", "B3")
    chromatic = ("C5", "B4", "Bb4", "A4", "Ab4", "G4", "F#4", "F4", "E4", "Eb4", "D4", "C#4", "C4", "B3", "Bb3", "A3")
    for names in (diatonic, chromatic):
        run = [(4 + 0.25 * i, 0.25, fx.note(n), 80) for i, n in enumerate(names)]
        piano = [(0, 4, p, 80) for p in fx.chord_voicing("C")] + [(8, 4, p, 80) for p in fx.chord_voicing("G")]
        bass = [(0, 4, fx.note("C2"), 90), (8, 4, fx.note("G2"), 90)]
        piece = piano_and_bass(piano + run, bass)
        segments = midi.chords(piece, "C major")
        assert [s["label"] for s in segments] == ["C", "G"]
        assert segments[1]["start_s"] == pytest.approx(4.0)


def test_a_chord_takes_the_mode_of_the_third_that_sounds_more_over_its_run():
    names = list(harmony._TEMPLATE_NAMES)
    c_minor, c_major, g7, n = names.index((0, "m")), names.index((0, "")), names.index((7, "7")), len(names)
    chroma = np.zeros((5, 12))
    chroma[:, [0, 7]] = 1.0                  # C and G throughout
    chroma[1, 4], chroma[3, 4] = 0.5, 0.5    # E twice
    chroma[2, 3] = 0.25                      # Eb once, shorter
    chroma[4, [2, 5, 11]] = 1.0              # the G7 frame: G B D F
    path = np.asarray([c_minor] * 4 + [g7])
    assert harmony.segment_modes(path, chroma).tolist() == [c_major] * 4 + [g7]
    chroma[2, 3] = 2.0                       # Eb now sounds more than E: C minor stays
    assert harmony.segment_modes(path, chroma).tolist() == path.tolist()
    assert harmony.segment_modes(np.asarray([n, n]), np.zeros((2, 12))).tolist() == [n, n]


def test_a_change_between_beats_waits_for_the_bar_line_when_the_evidence_is_thin():
    # 4/4 at 120 bpm: C for a bar, then G, whose notes enter early: the bass G on the last off-beat of
    # bar 1 (under the held C chord, half a beat), the G chord itself on the bar line. The G bass alone
    # over C E G fits C (G is its fifth) and a change there costs more than on the bar line.
    piano = [(0, 4, p, 80) for p in fx.chord_voicing("C")] + [(4, 4, p, 80) for p in fx.chord_voicing("G")]
    bass = [(0, 3.5, fx.note("C2"), 90), (3.5, 4.5, fx.note("G2"), 90)]
    piece = piano_and_bass(piano, bass)
    segments = midi.chords(piece, "C major")
    assert [s["label"] for s in segments] == ["C", "G"]
    assert segments[1]["start_s"] == pytest.approx(2.0)


def test_key_prior_favours_tonic_subdominant_and_dominant():
    prior = harmony._key_prior("C major")
    names = list(harmony._TEMPLATE_NAMES)
    tonic, subdominant, dominant = (prior[names.index(n)] for n in ((0, ""), (5, ""), (7, "7")))
    ii, iii, foreign = (prior[names.index(n)] for n in ((2, "m"), (4, "m"), (4, "")))
    assert tonic == subdominant == dominant > ii == iii > foreign == 0.0
    assert not harmony._key_prior(None).any()
    # in A minor the dominant is E major (its third the leading tone); E minor is diatonic but no dominant
    minor = harmony._key_prior("A minor")
    tonic, major_v, minor_v, v7 = (minor[names.index(n)] for n in ((9, "m"), (4, ""), (4, "m"), (4, "7")))
    assert tonic == major_v == v7 > minor_v > 0.0


def test_a_voice_among_voices_is_no_melody():
    # Four monophonic lines (a string quartet's texture): the top one is a voice, not a melody over an
    # accompaniment, so its notes are not discounted.
    lines = [fx.melody(fx.notes(*names)) for names in (("E5", "F5", "G5", "E5"), ("C5", "C5", "B4", "C5"),
                                                     ("G4", "A4", "D4", "G4"), ("C3", "F3", "G3", "C3"))]
    piece = midi.from_midi_bytes(fx.make_midi([(40 + i, False, line) for i, line in enumerate(lines)]))
    assert harmony.melody_tracks(piece).tolist() == []


def test_compound_beats_split_in_three():
    # 6/8: a dotted-quarter beat (720 ticks at 480 per quarter) is split in eighths; a 2/4 beat in two
    assert harmony.subdivide(np.array([0.0, 720.0, 1440.0]), 480).tolist() == [0, 240, 480, 720, 960, 1200, 1440]
    assert harmony.subdivide(np.array([0.0, 480.0]), 480).tolist() == [0, 240, 480]


# ---------------------------------------------------------------------------
# Tempo and beats from onsets.
# ---------------------------------------------------------------------------

TRUE_BPM = 93.0


def performance(bpm=TRUE_BPM, bars=24, jitter_s=0.015, file_bpm=120, seed=1):
    """A recorded-keyboard file: one ``file_bpm`` tempo event, while the music really moves at
    ``bpm`` (in 4/4: bass + chord on every beat, melody eighths on chord tones, a kick on beats 1 and 3),
    with Gaussian timing jitter. Returns (MIDI bytes, true beat times in seconds)."""
    rng = np.random.default_rng(seed)
    beat_s = 60.0 / bpm
    to_q = file_bpm / 60.0        # seconds -> quarter notes of the file's tempo
    progression = ["C", "Am", "F", "G"]
    piano, bass, tune, drums = [], [], [], []
    for b in range(bars * 4):
        chord = progression[(b // 4) % 4]
        t = b * beat_s
        start = (t + rng.normal(0, jitter_s)) * to_q
        if b > 0:
            start = max(start, 0.0)
        for p in fx.chord_voicing(chord):
            piano.append((start, 0.8 * beat_s * to_q, p, 70))
        bass.append((start, 0.9 * beat_s * to_q, fx.chord_root(chord), 90))
        for half in range(2):
            th = max((t + half * beat_s / 2 + rng.normal(0, jitter_s)) * to_q, 0.0)
            tune.append((th, 0.4 * beat_s * to_q, fx.chord_voicing(chord, 5)[(b + half) % 3], 80))
        if b % 2 == 0:
            drums.append((max((t + rng.normal(0, jitter_s)) * to_q, 0.0), 0.2, fx.KICK, 100))
    tracks = [(fx.PIANO, False, piano), (fx.BASS, False, bass), (73, False, tune), (0, True, drums)]
    return fx.make_midi(tracks, tempo_bpm=file_bpm), np.arange(bars * 4) * beat_s


def beat_hits(estimated, truth, window=0.07):
    """Share of true beats with an estimated beat within ``window`` seconds."""
    estimated = np.asarray(estimated)
    return float(np.mean([np.min(np.abs(estimated - t)) <= window for t in truth]))


def test_performance_midi_is_detected_and_tracked():
    data, truth = performance()
    piece = midi.from_midi_bytes(data)
    assert lacks_tempo_map(piece)
    f = midi.extract(piece)
    assert f["tempo_source"] == "onsets"
    assert f["tempo_bpm"] == pytest.approx(TRUE_BPM, rel=0.04)
    assert f["tempo_changes"] == [{"time_s": 0.0, "bpm": f["tempo_bpm"]}]
    assert f["tempo_word"] == "Moderato"              # 90 < 93 <= 110
    assert f["downbeats_s"] is None
    assert beat_hits(f["beats_s"], truth[2:-2]) >= 0.95
    # the chords follow the onset beats: the progression comes out in order
    assert f["chord_summary"] == ["C", "Am", "F", "G"]


def test_same_tempo_via_the_tempo_function():
    data, _ = performance()
    t = midi.tempo(midi.from_midi_bytes(data))
    assert t["tempo_source"] == "onsets" and t["tempo_bpm"] == pytest.approx(TRUE_BPM, rel=0.04)


def test_quantised_120_bpm_file_keeps_its_tempo_map():
    piece = midi.from_midi_bytes(fx.progression_piece(("C", "G"), bpm=120, meter=(4, 4), repeats=8))
    assert not lacks_tempo_map(piece)
    f = midi.extract(piece)
    assert f["tempo_source"] == "tempo_map" and f["tempo_bpm"] == 120.0
    assert f["downbeats_s"][:2] == [0.0, 2.0]


def test_real_tempo_map_is_trusted_even_with_loose_onsets():
    data, _ = performance(file_bpm=100)          # off-grid onsets, but a tempo that is not the default
    piece = midi.from_midi_bytes(data)
    assert not lacks_tempo_map(piece)
    assert midi.extract(piece)["tempo_source"] == "tempo_map"


def test_too_few_onsets_is_not_performance_midi():
    data, _ = performance(bars=1)
    piece = midi.from_midi_bytes(data)
    assert not lacks_tempo_map(piece)
    assert onset_beats(piece) is None
