"""Known-answer tests of the MIDI key extractor (captune.extractors.midi.key).

Pieces are written note by note with ``fixtures`` (mido) from music theory, or
taken from music21's bundled corpus, whose expected keys are read off the score
(key signature, first and final chords), not from captune.
"""

import os

import numpy as np
import pytest

import fixtures as fx
from captune.extractors.midi import from_midi_bytes
from captune.extractors.midi.key import OPENING, PROFILES, key, pitch_class_profile
from captune.extractors.pitch import parse_key

DRUMS = (fx.DRUMS_KIT, True, fx.drum_pattern(4))


def piece(tracks, **kw):
    return from_midi_bytes(fx.make_midi(tracks, **kw))


def block_chords(chords, start_bar=0, beats_per_bar=4.0, transpose=0):
    """Piano block chords + bass roots, one chord per bar from ``start_bar``."""
    piano, bass = [], []
    for i, label in enumerate(chords):
        t = (start_bar + i) * beats_per_bar
        piano += [(t, beats_per_bar, p + transpose, 80) for p in fx.chord_voicing(label)]
        bass.append((t, beats_per_bar, fx.chord_root(label) + transpose, 90))
    return piano, bass


def sections(*parts, transpose=0):
    """Tracks for consecutive sections, each a list of chord labels (one per 4/4 bar)."""
    piano, bass, bar = [], [], 0
    for chords in parts:
        p, b = block_chords(chords, start_bar=bar, transpose=transpose)
        piano += p
        bass += b
        bar += len(chords)
    return [(fx.PIANO, False, piano), (fx.BASS, False, bass)]


# A folk tune's plan: an A part of 8 bars in G major (I-IV-V7-I twice), a long B
# part of 16 bars in D, the dominant (I-V with its C#, vi-V-I), and a short
# return to G. It opens and closes in G: its key is G major, although more
# of its time is spent in D.
A_PART = ["G", "C", "D7", "G"] * 2
B_PART = ["D", "A", "D", "A", "Bm", "A", "D", "D"] * 2
RETURN = ["G", "D7", "G", "G"]


def test_opening_key_outweighs_a_longer_excursion_to_the_dominant():
    p = piece(sections(A_PART, B_PART, RETURN))
    assert key(p)["key"] == "G major"
    # The plain sum is swayed by the long B part: the case the start and end weights are for.
    assert key(p, opening=None, closing=0, final_bass_weight=0)["key"] == "D major"


def test_a_last_chorus_lifted_a_semitone_keeps_the_home_key():
    # A pop song in C major (I-vi-IV-V, 16 bars) whose last choruses are lifted a
    # semitone (the same loop in Db, 24 bars): the song is in C major.
    home = ["C", "Am", "F", "G"] * 4
    lifted = sections(["C", "Am", "F", "G"] * 6, transpose=1)
    tracks = sections(home)
    shift = len(home) * 4.0
    for (prog, drum, notes), (_, _, more) in zip(tracks, lifted):
        notes += [(t + shift, d, pitch, v) for t, d, pitch, v in more]
    p = piece(tracks)
    assert key(p)["key"] == "C major"
    assert key(p, opening=None, closing=0, final_bass_weight=0)["key"] == "Db major"


# A sonata-like plan: 16 bars in C major, a second group of 24 bars in G major
# (the dominant, with its F#), 16 bars back in C. More time is spent in G, but
# the movement starts and ends in C: its key is C major.
EXPOSITION = ["C", "F", "G7", "C"] * 4
SECOND_GROUP = ["G", "D7", "G", "D", "Em", "A7", "D7", "G"] * 3
RECAPITULATION = ["C", "F", "G7", "C"] * 4


def test_a_sonata_plan_keeps_the_key_it_starts_and_ends_in():
    p = piece(sections(EXPOSITION, SECOND_GROUP, RECAPITULATION))
    assert key(p)["key"] == "C major"


def test_a_whole_tone_lift_for_the_last_chorus_keeps_the_first_key():
    # I-vi-IV-V in C for 32 bars, the last chorus (8 bars) a whole tone up, in D.
    tracks = sections(["C", "Am", "F", "G"] * 8)
    for (_, _, notes), (_, _, more) in zip(tracks, sections(["C", "Am", "F", "G"] * 2, transpose=2)):
        notes += [(t + 32 * 4.0, d, pitch, v) for t, d, pitch, v in more]
    assert key(piece(tracks))["key"] == "C major"


def test_a_folk_b_part_in_the_dominant_keeps_the_tonic():
    # AABA-like: 8 bars in G, 8 bars in D (the dominant), 8 bars in G.
    p = piece(sections(A_PART, ["D", "G", "A7", "D"] * 2, A_PART))
    assert key(p)["key"] == "G major"


def test_a_picardy_third_leaves_the_piece_in_minor():
    # i-iv-V7-i in A minor three times, then a final cadence on A major (C#).
    p = piece(sections(["Am", "Dm", "E7", "Am"] * 3 + ["Am", "Dm", "E7", "A"]))
    assert key(p)["key"] == "A minor"


def test_a_relative_major_minor_tie_shows_a_low_margin():
    # Am and C alternating, white notes only, no leading tone: C major and A minor
    # are the two answers, and the runner-up is the other one.
    tie = key(piece(sections(["Am", "C"] * 8)))
    assert {tie["key"], tie["key_alternative"]} == {"C major", "A minor"}
    clear = key(piece(sections(["C", "F", "G7", "C"] * 4)))
    assert clear["key"] == "C major" and clear["key_alternative"] != "A minor"


@pytest.mark.parametrize("semitones", range(12))
def test_transposing_the_piece_transposes_the_key(semitones):
    # The same folk tune in every key: the answer moves with it, mode unchanged.
    p = piece(sections(A_PART, B_PART, RETURN, transpose=semitones))
    assert parse_key(key(p)["key"]) == ((7 + semitones) % 12, "major")


def test_c_major_scale_and_cadence():
    scale = fx.melody(fx.notes("C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5"), step=1.0)
    piano, bass = block_chords(["C", "F", "G7", "C"], start_bar=2)
    result = key(piece([(0, False, scale), (fx.PIANO, False, piano), (fx.BASS, False, bass), DRUMS]))
    assert result["key"] == "C major"
    assert 0.0 < result["key_confidence"] <= 1.0
    assert result["key_alternative"] != result["key"]


def test_a_minor_with_its_leading_tone():
    # i-iv-V7-i in A minor twice: the E7 brings G#, which C major does not have.
    p = piece(sections(["Am", "Dm", "E7", "Am"] * 2))
    assert key(p)["key"] == "A minor"


def test_a_short_loop_counts_its_last_chord():
    # Em-C-G-D looped four times in 3/4 (48 quarter notes): the one-sharp
    # collection, E minor or G major. The F# comes only in the D chord, last in
    # every cycle; a weight decaying within the loop would lose it (C major).
    p = from_midi_bytes(fx.progression_piece(("Em", "C", "G", "D"), bpm=96, meter=(3, 4), repeats=4))
    assert key(p)["key"] in ("E minor", "G major")


def test_uniform_weighting_is_the_plain_profile_sum():
    # Pitch-class durations equal to Albrecht & Shanahan's major profile on D:
    # with every instant weighed alike the correlation with D major is 1.
    major = PROFILES["albrecht"][0]
    notes, t = [], 0.0
    for degree, w in enumerate(major):
        dur = round(w * 100, 2)  # beats; the smallest is 0.6
        notes.append((t, dur, 62 + degree, 80))
        t += dur
    p = piece([(0, False, notes)])
    plain = key(p, "albrecht", opening=None, closing=0, final_bass_weight=0)
    assert plain["key"] == "D major" and plain["key_confidence"] > 0.999
    durations = pitch_class_profile(p)
    # each duration was rounded to the tick (480 per quarter note)
    assert np.allclose(np.roll(durations, -2), [round(w * 100, 2) for w in major], atol=1 / 480)


def test_opening_weight_is_the_exact_integral():
    # C for 200 quarter notes, then G for 200: span 400, so scale = OPENING * 400 (above
    # MIN_SCALE). The integral of exp(-t / scale) over [a, b] is
    # scale * (exp(-a / scale) - exp(-b / scale)).
    p = piece([(0, False, [(0.0, 200.0, 60, 80), (200.0, 200.0, 67, 80)])])
    scale = OPENING * 400.0
    expected_c = scale * (1 - np.exp(-200.0 / scale))
    expected_g = scale * (np.exp(-200.0 / scale) - np.exp(-400.0 / scale))
    pcp = pitch_class_profile(p, OPENING)
    assert pcp[0] == pytest.approx(expected_c, rel=1e-9)
    assert pcp[7] == pytest.approx(expected_g, rel=1e-9)
    assert np.count_nonzero(pcp) == 2


def test_drums_only_and_single_pitch_class_give_no_key():
    assert key(piece([DRUMS])) is None
    drums_and_one_note = piece([DRUMS, (0, False, [(0.0, 1.0, 60, 80)])])
    assert key(drums_and_one_note) is None
    octaves = piece([(0, False, fx.melody([48, 60, 72, 60], step=1.0))])
    assert key(octaves) is None and key(octaves, opening=None) is None


def test_bad_arguments_raise_value_error():
    p = piece(sections(A_PART))
    with pytest.raises(ValueError, match="opening"):
        key(p, opening=0.0)
    with pytest.raises(ValueError, match="profile"):
        key(p, profile="nonexistent")


def test_every_profile_names_the_folk_tune_in_g():
    p = piece(sections(A_PART, B_PART, RETURN))
    for profile in PROFILES:
        assert key(p, profile)["key"] == "G major", profile


# Bach chorales from music21's corpus, keys read off the score: the key
# signature gives the relative pair, the first and final chords the tonic
# (a minor-mode chorale may end on a major tonic triad, the Picardy third).
CHORALES = [
    ("bach/bwv66.6", "F# minor"),  # 3 sharps; opens on A major, closes on F# (major triad)
    ("bach/bwv281", "F major"),    # 1 flat; opens and closes on F major
    ("bach/bwv26.6", "A minor"),   # no signature; opens on A minor, closes on A (major triad)
]


@pytest.mark.parametrize("name, expected", CHORALES)
def test_bach_chorales(name, expected, tmp_path):
    music21 = pytest.importorskip("music21")
    path = music21.corpus.parse(name).write("midi", fp=os.path.join(tmp_path, "chorale.mid"))
    with open(path, "rb") as fh:
        result = key(from_midi_bytes(fh.read()))
    assert result["key"] == expected
