"""Known-answer tests of ``key_changes`` (captune.extractors.midi.key_changes), of the
modulation sentence and of how augmentation rewrites the changes.

The pieces are block chords + bass written with ``fixtures`` at 120 bpm in 4/4, so one
bar lasts 2 s; the keys of each section are read off its chords (the dominant's
sharp, the lifted loop's transposition).
"""

import numpy as np
import pytest

import fixtures as fx
from captune.augment.labels import rewrite
from captune.captioners.factcheck import check
from captune.captioners.modulation import MIN_SHARE, lasting_keys, modulation_sentence
from captune.extractors.midi import extract, from_midi_bytes
from captune.extractors.midi.key import key
from captune.extractors.midi import key_changes as key_changes_module
from captune.extractors.midi.key_changes import cadences, grid, key_changes
from captune.extractors.midi.viterbi import viterbi
from test_key import EXPOSITION, RECAPITULATION, SECOND_GROUP, block_chords, sections

BAR_S = 2.0


def piece(tracks):
    return from_midi_bytes(fx.make_midi(tracks))


def changes(p):
    return [(c["time_s"], c["key"]) for c in key_changes(p, key(p)["key"])]


def test_a_sonata_plan_goes_to_the_dominant_and_back_at_its_section_bars():
    # 16 bars C, 24 bars G, 16 bars C: changes at bar 16 (32 s) and bar 40 (80 s).
    found = changes(piece(sections(EXPOSITION, SECOND_GROUP, RECAPITULATION)))
    assert [k for _, k in found] == ["C major", "G major", "C major"]
    assert found[0][0] == 0.0
    assert found[1][0] == pytest.approx(16 * BAR_S, abs=2 * BAR_S)
    assert found[2][0] == pytest.approx(40 * BAR_S, abs=2 * BAR_S)


def test_a_last_chorus_a_whole_tone_up_is_one_change():
    tracks = sections(["C", "Am", "F", "G"] * 8)
    for (_, _, notes), (_, _, more) in zip(tracks, sections(["C", "Am", "F", "G"] * 2, transpose=2)):
        notes += [(t + 32 * 4.0, d, pitch, v) for t, d, pitch, v in more]
    found = changes(piece(tracks))
    assert [k for _, k in found] == ["C major", "D major"]
    assert found[1][0] == pytest.approx(32 * BAR_S, abs=2 * BAR_S)


def test_a_passing_secondary_dominant_is_not_a_modulation():
    # I-IV-V-I in C with one bar of D7 (V/V) leading to G: a tonicisation, not a new key.
    p = piece(sections(["C", "F", "D7", "G", "C", "F", "G7", "C"] * 4))
    assert key_changes(p, "C major") == [{"time_s": 0.0, "key": "C major"}]


def test_a_piece_that_stays_has_one_entry_with_its_global_key():
    p = piece(sections(["Am", "Dm", "E7", "Am"] * 3 + ["Am", "Dm", "E7", "A"]))  # Picardy ending
    assert key(p)["key"] == "A minor"
    assert changes(p) == [(0.0, "A minor")]


def found_cadences(p):
    """(seconds, key) of every authentic cadence ``cadences`` finds in ``p``."""
    g = grid(p)
    arriving, rows = cadences(g.run_chroma, g.bass, g.on_downbeat)
    return [(float(p.seconds(g.runs[i])), key_changes_module._name(row)) for i, row in zip(arriving, rows)]


def half_bar_chords(chords):
    """Tracks: piano block chords + bass roots, two beats per chord (two chords per 4/4 bar)."""
    piano, bass = block_chords(chords, beats_per_bar=2.0)
    return [(fx.PIANO, False, piano), (fx.BASS, False, bass)]


def test_a_dominant_seventh_resolving_on_the_downbeat_is_a_cadence_in_the_key_of_its_arrival():
    # One chord per bar (2 s): G7 -> C at bar 3 (6 s), E7 -> Am at bar 6 (12 s), D7 -> G at bar 9 (18 s);
    # C -> F is none: the C chord holds F's leading tone E but not its fourth degree Bb.
    assert found_cadences(piece(sections(["C", "F", "G7", "C", "Am", "E7", "Am", "C", "D7", "G"]))) == [
        (6.0, "C major"), (12.0, "A minor"), (18.0, "G major")]
    # Bass a fifth down without a seventh (I -> IV, V -> I with a plain triad): the chord before
    # could be a tonic; no cadence.
    assert found_cadences(piece(sections(["C", "F", "G", "C"]))) == []
    # C, F | G7, C: G7 -> C arriving on the third beat is not a cadence; C, G7 | C on the bar line is.
    assert found_cadences(piece(half_bar_chords(["C", "F", "G7", "C"]))) == []
    assert found_cadences(piece(half_bar_chords(["C", "G7", "C", "C"]))) == [(2.0, "C major")]


def test_cadences_in_the_new_key_establish_a_short_modulation(monkeypatch):
    # 12 bars of C major, 16 bars of G major whose V7-I cadences (D7 -> G) confirm it, 12 bars of C:
    # C -> G at bar 12 (24 s) and back at bar 28 (56 s). Without the cadences' evidence the 16 bars
    # of G (its F# only in the D7 bars) are not enough to pay for going there and back.
    home = ["C", "F", "G7", "C"] * 3
    p = piece(sections(home, ["G", "D7", "G", "D7", "G", "C", "D7", "G"] * 2, home))
    assert changes(p) == [(0.0, "C major"), (24.0, "G major"), (56.0, "C major")]
    monkeypatch.setattr(key_changes_module, "CADENCE", 0.0)
    assert changes(p) == [(0.0, "C major")]


def test_the_grid_holds_each_frame_and_bass_run_s_sounding_time():
    # 4/4 at 480 ticks a beat, first onset on beat 1: frames [1, 5) and [5, 9) beats (the last note
    # ends on 9). C3 held from beat 1 to 8 (across the frame bound and many beats), E4 on beat 1 for
    # one beat, G4 on 4.5 for one (half in each frame), E4 from 6 to 9. The bass of each beat is the
    # lowest note struck in it: none on beat 0, C3 on 1, G4 on 4 (only G4 is struck there), E4 on 6.
    c3, e4, g4 = fx.notes("C3", "E4", "G4")
    g = grid(piece([(fx.PIANO, False, [(1.0, 7.0, c3, 80), (1.0, 1.0, e4, 80), (4.5, 1.0, g4, 80),
                                       (6.0, 3.0, e4, 80)])]))
    beat = 480.0
    assert g.bounds.tolist() == [1 * beat, 5 * beat, 9 * beat]
    assert (g.frame_chroma[:, [0, 4, 7]] / beat).tolist() == [[4.0, 1.0, 0.5], [3.0, 3.0, 0.5]]
    assert g.frame_chroma[:, [1, 2, 3, 5, 6, 8, 9, 10, 11]].sum() == 0
    assert (g.runs / beat).tolist() == [0.0, 1.0, 4.0, 6.0]
    assert g.bass.tolist() == [-1, c3, g4, e4]
    assert g.on_downbeat.tolist() == [True, False, True, False]
    assert (g.run_chroma[:, [0, 4, 7]] / beat).tolist() == [[0, 0, 0], [3.0, 1.0, 0], [2.0, 0, 1.0], [2.0, 3.0, 0]]


def test_drums_only_have_no_key_changes():
    p = piece([(fx.DRUMS_KIT, True, fx.drum_pattern(4))])
    assert key_changes(p, None) == []
    assert extract(p)["key_changes"] == []


def test_viterbi_pays_the_switch_cost_only_for_a_lasting_gain():
    # Two states: state 1 better by 0.5 for 3 frames: a gain of 1.5, under the 2 x 1.0 of going
    # there and back; for the last 6 frames a gain of 3.0, over the 1.0 of going once.
    evidence = np.zeros((10, 2))
    evidence[:, 0] = 1.0
    evidence[4:7, 1] = 1.5
    assert viterbi(evidence, 1.0).tolist() == [0] * 10
    evidence[4:, 1] = 1.5
    assert viterbi(evidence, 1.0).tolist() == [0] * 4 + [1] * 6
    assert viterbi(evidence, 3.5).tolist() == [0] * 10  # a cost above the gain: no change


def test_viterbi_cost_per_frame_moves_a_change_onto_the_cheap_frame():
    # Frame 1 leans to state 1 by 0.1; changing into frame 1 costs 0.2, into frame 2 only 0.05 (a beat
    # after an off-beat, as the chord labeller prices them): the change waits for frame 2.
    evidence = np.array([[1.0, 0.0], [0.45, 0.55], [0.0, 1.0], [0.0, 1.0]])
    assert viterbi(evidence, 0.05).tolist() == [0, 1, 1, 1]
    assert viterbi(evidence, np.array([0.0, 0.2, 0.05, 0.05])).tolist() == [0, 0, 1, 1]


def test_extract_fills_key_changes():
    facts = extract(piece(sections(EXPOSITION, SECOND_GROUP, RECAPITULATION)))
    assert facts["key"] == "C major"
    assert [c["key"] for c in facts["key_changes"]] == ["C major", "G major", "C major"]


SONATA_FACTS = {"key": "C major", "duration_s": 112.0,
                "key_changes": [{"time_s": 0.0, "key": "C major"}, {"time_s": 32.0, "key": "G major"},
                                {"time_s": 80.0, "key": "C major"}]}


def test_the_sentence_says_a_lasting_change_and_the_return():
    assert modulation_sentence(SONATA_FACTS) == ("{subj} opens in C major and moves to G major "
                                                 "before returning home.")
    lift = {"key": "C major", "duration_s": 80.0,
            "key_changes": [{"time_s": 0.0, "key": "C major"}, {"time_s": 64.0, "key": "D major"}]}
    assert modulation_sentence(lift) == "{subj} opens in C major and moves to D major."


def test_the_sentence_names_each_key_once():
    # A movement going back and forth between the modes (C. P. E. Bach's Wq 50/6 read C minor,
    # C major, C minor, C major, C minor) was "passes through C major, C minor and C major before
    # returning home": the home key named as a place it passes through, C major twice.
    halves = {"key": "C minor", "duration_s": 100.0,
              "key_changes": [{"time_s": t, "key": k} for t, k in
                              zip((0.0, 20.0, 40.0, 60.0, 80.0), ("C minor", "C major") * 2 + ("C minor",))]}
    assert modulation_sentence(halves) == "{subj} opens in C minor and moves to C major before returning home."
    tour = {"key": "C major", "duration_s": 100.0,
            "key_changes": [{"time_s": t, "key": k} for t, k in
                            zip((0.0, 20.0, 40.0, 60.0, 80.0), ("C major", "G major", "A minor", "G major", "C major"))]}
    assert modulation_sentence(tour) == ("{subj} opens in C major and passes through G major and A minor "
                                         "before returning home.")


def test_a_short_excursion_is_not_said():
    # G major for 10 s of a 112 s piece: under MIN_SHARE, dropped, and the two C regions merge.
    short = dict(SONATA_FACTS, key_changes=[{"time_s": 0.0, "key": "C major"}, {"time_s": 32.0, "key": "G major"},
                                            {"time_s": 32.0 + 0.5 * MIN_SHARE * 112.0, "key": "C major"}])
    assert lasting_keys(short) == ["C major"]
    assert modulation_sentence(short) is None
    assert modulation_sentence({"key": "C major", "duration_s": 60.0,
                                "key_changes": [{"time_s": 0.0, "key": "C major"}]}) is None


def test_factcheck_accepts_a_key_the_piece_moves_to_and_still_refuses_others():
    assert not [p for p in check("It opens in C major and moves to G major before returning home.",
                                 SONATA_FACTS) if p.startswith("key")]
    assert [p for p in check("This piece is in D major, with a steady beat.", SONATA_FACTS) if p.startswith("key")]


def test_augmentation_transposes_and_stretches_key_changes():
    shifted = rewrite(SONATA_FACTS, {"kind": "pitch_shift", "semitones": 3})
    assert [c["key"] for c in shifted["key_changes"]] == ["Eb major", "Bb major", "Eb major"]
    assert [c["time_s"] for c in shifted["key_changes"]] == [0.0, 32.0, 80.0]
    faster = rewrite(SONATA_FACTS, {"kind": "tempo_change", "tempo_ratio": 1.25})
    assert [c["time_s"] for c in faster["key_changes"]] == [0.0, 25.6, 64.0]
    assert [c["key"] for c in faster["key_changes"]] == ["C major", "G major", "C major"]


def test_chords_are_spelled_for_the_key_in_force():
    # 16 bars of D major (D G A D), then 16 of Bb major (Bb Eb F Bb). Spelled in D major, pitch
    # class 3 is #1 (D#); in the Bb major section the chord is IV, Eb, and Bb is its tonic, not A#.
    from captune.extractors.midi.chords import chords

    p = piece(sections(["D", "G", "A", "D"] * 4, ["Bb", "Eb", "F", "Bb"] * 4))
    found = key_changes(p, "D major")
    assert [k["key"] for k in found] == ["D major", "Bb major"]
    labels = {c["label"] for c in chords(p, "D major", key_changes=found) if c["start_s"] >= found[1]["time_s"]}
    assert "Eb" in labels and "D#" not in labels and "A#" not in labels
