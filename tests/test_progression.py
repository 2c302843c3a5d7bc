"""Known answers for the progression summary (captune.extractors.midi.progression)."""

import fixtures as fx
from captune.extractors import midi
from captune.extractors.midi.progression import harmony_of, progression_summary


def _segments(labels, seconds=2.0):
    return [{"start_s": i * seconds, "end_s": (i + 1) * seconds, "label": l} for i, l in enumerate(labels)]


def _bars(n, seconds=2.0):
    return [i * seconds for i in range(n)]


def test_one_root_one_function_is_one_harmony():
    assert harmony_of("C") == harmony_of("C7") == harmony_of("Cmaj7") == ("C", "major")
    assert harmony_of("Am") == harmony_of("Am7") == ("A", "minor")
    assert harmony_of("Am") != harmony_of("A")
    assert harmony_of("N") is None


def test_voicing_changes_are_not_a_progression():
    labels = ["C", "C7"] * 8
    summary, count = progression_summary(_segments(labels), _bars(16))
    assert summary == ["C"] and count == 1          # one harmony, named by its longest label (tie: first)


def test_voicing_only_piece_through_the_extractor():
    facts = midi.extract(midi.from_midi_bytes(fx.make_midi(
        fx.progression_tracks(["C", "C7"], repeats=6, with_drums=False), tempo_bpm=120)))
    assert len({harmony_of(l)[0] for l in facts["chord_summary"]}) <= 1


def test_one_five_six_four_loop_is_found():
    labels = ["C", "G", "Am", "F"] * 6
    assert progression_summary(_segments(labels), _bars(24)) == (["C", "G", "Am", "F"], 6)


def test_loop_with_sevenths_and_passing_chords_is_the_loop():
    # a bar of C then Cmaj7 (half bar each), G, Am7, F, and a sixteenth-long passing Dm inside the F bar
    segs = []
    t = 0.0
    for _ in range(4):
        for label, length in (("C", 1.0), ("Cmaj7", 1.0), ("G", 2.0), ("Am7", 2.0), ("F", 1.875), ("Dm", 0.125)):
            segs.append({"start_s": t, "end_s": t + length, "label": label})
            t += length
    assert progression_summary(segs, _bars(16)) == (["C", "G", "Am7", "F"], 4)


def test_through_composed_piece_names_no_loop():
    labels = ["C", "F", "G", "Am", "Dm", "E", "A", "D", "Bm", "F#", "B", "Em"]
    assert progression_summary(_segments(labels), _bars(12)) == ([], 0)


def test_a_cadence_heard_twice_in_a_long_piece_is_not_a_loop():
    labels = ["C", "Dm", "G", "C", "F", "Bb", "Eb", "Ab", "Db", "Gb", "B", "E", "A", "D", "G", "C"]
    assert progression_summary(_segments(labels), _bars(16)) == ([], 0)


def test_short_piece_lists_its_harmonies_once():
    assert progression_summary(_segments(["C", "F", "G"]), _bars(3)) == (["C", "F", "G"], 1)
    assert progression_summary([]) == ([], 0)


def test_a_vamp_merged_across_its_repeat_is_the_vamp():
    # F G F, F G F: the equal neighbours merge into F G F G F, a two-harmony vamp, not a loop of three
    labels = ["Fmaj7", "G7", "Fmaj7"] * 6
    assert progression_summary(_segments(labels), _bars(18)) == (["Fmaj7", "G7"], 6)


def test_a_fragment_shared_by_several_loops_is_not_the_loop():
    # three loops ending Am F G: the fragment Am F G occurs 7 times but never follows itself; the verse
    # loop, played three times in a row, is the loop (the old most-covering n-gram named Am F G)
    labels = ["C", "Am", "F", "G"] * 3 + ["Em", "Am", "F", "G"] * 2 + ["Dm", "Am", "F", "G"] * 2
    assert progression_summary(_segments(labels), _bars(len(labels))) == (["C", "Am", "F", "G"], 3)


def test_a_loop_counts_its_turns_wherever_they_return():
    # the chorus loop F G Em Am twice in a row, then a verse, then the chorus loop once more: 3 turns
    labels = ["F", "G", "Em", "Am"] * 2 + ["C", "Dm", "Bb", "Eb", "Ab", "Db"] + ["F", "G", "Em", "Am"]
    assert progression_summary(_segments(labels), _bars(len(labels))) == (["F", "G", "Em", "Am"], 3)


def _with_bar_changed(turn, changes):
    """One copy of ``turn`` (one label per bar) per entry of ``changes``: None plays it as it is,
    (bar, label) plays ``label`` in that bar."""
    out = []
    for change in changes:
        labels = list(turn)
        if change:
            bar, label = change
            labels[bar] = label
        out += labels
    return out


def test_a_loop_varied_in_one_bar_of_every_repeat_is_still_the_loop():
    # I-V-vi-IV in C, two bars each (8-bar turns), four turns; turns 2-4 each change a different bar, so
    # no turn is played twice exactly in a row
    turn = ["C", "C", "G", "G", "Am", "Am", "F", "F"]
    labels = _with_bar_changed(turn, [None, (3, "Em"), (7, "Dm"), (5, "E")])
    segs, bars = _segments(labels), _bars(len(labels) + 1)  # the last downbeat ends the piece
    assert progression_summary(segs, bars, variations=False) == ([], 0)
    assert progression_summary(segs, bars) == (["C", "G", "Am", "F"], 4)


def _timed(pairs):
    """Segments from (label, seconds) pairs played one after another."""
    segs, t = [], 0.0
    for label, seconds in pairs:
        segs.append({"start_s": t, "end_s": t + seconds, "label": label})
        t += seconds
    return segs


def test_a_four_bar_turn_may_vary_in_half_a_bar_not_in_two_bars():
    turn = [("G", 2.0), ("Am", 2.0), ("F", 2.0)]
    pairs = []
    for change in (None, "Dm", "Em", "Bb"):  # the second half of the C bar changes in turns 2, 3 and 4
        pairs += ([("C", 1.0), (change, 1.0)] if change else [("C", 2.0)]) + turn
    segs, bars = _timed(pairs), _bars(17)
    assert progression_summary(segs, bars, variations=False) == ([], 0)
    assert progression_summary(segs, bars) == (["C", "G", "Am", "F"], 4)
    # two whole bars changed in every other turn: the repeats are different music, no loop
    labels = ["C", "G", "Am", "F", "C", "E", "Dm", "F", "C", "G", "Am", "F", "C", "Bb", "Eb", "F"]
    assert progression_summary(_segments(labels), _bars(17)) == ([], 0)
