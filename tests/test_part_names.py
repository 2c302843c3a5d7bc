"""Track and part names refine a default program only through a fixed vocabulary."""

import numpy as np

from captune.extractors.midi.part_names import CHOIR_PROGRAM, DOUBLE_BASS, VOCAL_PROGRAM, name_program, refine_programs


def test_names_with_numbers_and_numerals():
    assert name_program("1st Violin") == name_program("Violino II") == 40
    assert name_program("Violoncello") == 42 and name_program("Tenor 2") == VOCAL_PROGRAM
    assert name_program("Chorus") == CHOIR_PROGRAM and name_program("English Horn") == 69
    assert name_program("Bassoon") == 70 and name_program("MELODY") is None and name_program(None) is None
    assert name_program("Continuo") == name_program("Bass Continuo") == 19   # a cantata's keyboard: organ


def test_satb_bass_is_a_voice_and_named_programs_are_kept():
    names = ["Soprano", "Alto", "Tenor", "Bass"]
    assert refine_programs([0, 0, 0, 0], names, notated=True) == [VOCAL_PROGRAM] * 4
    # a program other than the default piano is the file's own word: kept
    assert refine_programs([40, 0], ["Soprano", "Alto"], notated=False) == [40, VOCAL_PROGRAM]


def test_bare_bass_without_voices():
    assert refine_programs([0, 0], ["Piano", "Bass"], notated=True) == [0, DOUBLE_BASS]
    assert refine_programs([0, 0], ["Piano", "Bass"], notated=False) == [0, 0]   # MIDI: any bass, left alone


def test_a_score_part_named_as_a_voice_is_a_voice_whatever_its_program():
    # music21's bwv165.6 gives its Soprano, Alto, Tenor and Bass a harpsichord patch (6)
    names = ["Soprano", "Alto", "Tenor", "Bass"]
    assert refine_programs([6, 6, 6, 6], names, notated=True) == [VOCAL_PROGRAM] * 4
    assert refine_programs([6, 6, 6, 6], names, notated=False) == [6, 6, 6, 6]   # MIDI: the file's program
    assert refine_programs([6, 6], ["Violin", "Viola"], notated=True) == [6, 6]  # only voices override


def test_a_score_part_at_a_generic_string_program_is_the_instrument_its_name_says():
    # music21 gives a StringInstrument (its Mozart K. 80 quartet: Violin I, Violin II, Viola, Cello) program 48
    names = ["Violin I", "Violin II", "Viola", "Cello", "Bass"]
    assert refine_programs([48] * 5, names, notated=True) == [40, 40, 41, 42, DOUBLE_BASS]
    assert refine_programs([48] * 5, names, notated=False) == [48] * 5       # MIDI: the file's program
    assert refine_programs([61, 61], ["Horn in F", "Trumpet"], notated=True) == [60, 56]   # BrassInstrument


def test_mozarts_k80_reads_as_a_string_quartet():
    from music21 import corpus

    from captune.captioners import caption
    from captune.extractors import analyze
    path = str(corpus.getWork("mozart/k80/movement2"))
    with open(path, "rb") as fh:
        facts = analyze(fh.read(), path)
    assert sorted(facts["instrument_programs"]) == [40, 41, 42]
    texts = [caption(facts, np.random.default_rng(seed)) for seed in range(10)]
    assert all("string quartet" in t and "strings" not in t.replace("string quartet", "") for t in texts)
    assert "performed on a string quartet" not in " ".join(texts)
    assert any("performed by a string quartet" in t for t in texts)


def test_a_madrigal_s_five_parts_are_voices():
    names = ["Canto", "Quinto", "Alto", "Tenor", "Basso", "Continuo"]
    assert refine_programs([0] * 6, names, notated=True) == [VOCAL_PROGRAM] * 5 + [19]
