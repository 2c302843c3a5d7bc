"""Track and part names refine a default program only through a fixed vocabulary."""

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


def test_a_madrigal_s_five_parts_are_voices():
    names = ["Canto", "Quinto", "Alto", "Tenor", "Basso", "Continuo"]
    assert refine_programs([0] * 6, names, notated=True) == [VOCAL_PROGRAM] * 5 + [19]
