"""Form sentences, time-stamped section captions and their fact check, on generated songs."""

import numpy as np

from captune.captioners import caption, factcheck
from captune.captioners.form import bar_count, form_sentence, segment_captions
from captune.captioners.prompts import facts_text
from captune.extractors.midi import extract, from_midi_bytes
from tests.fixtures import aabb_tune, verse_chorus_song


def _facts(data):
    return extract(from_midi_bytes(data))


def test_form_sentence_of_a_verse_chorus_song():
    facts = _facts(verse_chorus_song())
    assert form_sentence(facts) == ("{subj} follows a verse-chorus form: an 8-bar intro, two verses, two choruses "
                                    "and an 8-bar outro.")
    assert form_sentence(_facts(aabb_tune())) == "Its form is A A B B, in 8-bar sections."


def test_one_strain_played_again_and_again_is_said_so():
    from tests.fixtures import STRAIN_A, form_song
    facts = _facts(form_song([(STRAIN_A, ("G", "D", "G", "D"), 80)] * 4, 120))
    assert [s["label"] for s in facts["sections"]] == ["A"] * 4
    sentence = form_sentence(facts)
    assert sentence == "{subj} plays one melody four times: its form is A A A A, in 8-bar sections."
    text = sentence.replace("{subj}", "The tune")
    assert factcheck.section_claims(text, facts) == ([], 3)   # the pattern, the bars, one melody four times
    assert factcheck.section_claims(text.replace("A A A A", "A A A"), facts)[0]


def test_a_long_form_names_its_repeated_run_or_counts_what_returns():
    from tests.fixtures import STRAIN_A, STRAIN_B, form_song
    a, b = (STRAIN_A, ("G", "D", "G", "D"), 80), (STRAIN_B, ("C", "G", "Am", "D"), 80)
    alternating = _facts(form_song([a, b] * 5, 120))      # ten 8-bar strains, A B five times
    assert [s["label"] for s in alternating["sections"]] == ["A", "B"] * 5
    sentence = form_sentence(alternating)
    assert sentence == "Its form is A B, played five times, in 8-bar sections."
    assert factcheck.section_claims(sentence, alternating) == ([], 2)
    assert factcheck.section_claims(sentence.replace("five", "four"), alternating)[0]
    one = _facts(form_song([a] * 10, 120))
    assert form_sentence(one) == "{subj} plays one melody ten times, in 8-bar sections."
    assert factcheck.section_claims("It plays one melody nine times.", one)[0]
    # 16 sections on nine melodies, of which A (3 times), C, D, E and H (twice each) return
    labels = "ABCCDDEEFAGAAHHI"
    facts = {"sections": [{"start_s": 4.0 * k, "end_s": 4.0 * k + 4, "label": x, "kind": "melodic"}
                          for k, x in enumerate(labels)]}
    sentence = form_sentence(facts)
    assert sentence == "{subj} has 16 phrases, in which five of its nine melodies return."
    text = sentence.replace("{subj}", "The sonata")
    assert factcheck.section_claims(text, facts) == ([], 2)
    assert factcheck.section_claims(text.replace("five", "nine"), facts)[0] == [
        "form: says nine of its nine melodies return, 5 of its 9 melodies return"]
    # the sentence of the release before: nine distinct melodies, but only five recur
    assert factcheck.section_claims("It has 16 sections on nine recurring melodies.", facts)[0] == [
        "form: says nine recurring melodies, 5 of its 9 melodies return"]
    two = {"sections": [dict(facts["sections"][0], label=x) for x in "AbB"]}
    assert form_sentence(two) == "{subj} has three phrases, and neither of its two melodies returns."
    assert factcheck.section_claims("It has three phrases, and neither of its two melodies returns.", two) == ([], 2)
    assert factcheck.section_claims("It has four phrases.", two)[0] == ["form: says four phrases, there are 3"]
    assert factcheck.section_claims("Both of its two melodies return.", two)[0]


def test_segment_captions_follow_the_sections_in_time():
    facts = _facts(verse_chorus_song())
    captions = segment_captions(facts)
    assert [(c["start_s"], c["end_s"]) for c in captions] == [(16.0 * k, 16.0 * (k + 1)) for k in range(6)]
    # the verse adds the flute (melody around G4) over the intro's piano chords: higher, 46 notes in 16 s
    # against 20 (x 2.3) but one velocity (the flute at 70, the piano at 60); the chorus is an octave-
    # higher tune at velocity 100, only x 1.34 the notes per second
    assert captions[1]["text"] == ("The verse (A): 8 bars over the chords C, Am, F and G; the flute enters; "
                                   "it is higher and denser than the section before.")
    assert captions[2]["text"] == ("The chorus (B): 8 bars over the chords F, G, Em and Am; "
                                   "it is higher and louder than the section before.")
    assert captions[3]["text"] == ("The verse (A) returns: 8 bars over the chords C, Am, F and G; "
                                   "it is lower and softer than the section before.")
    assert captions[5]["text"].endswith("; the flute leaves; it is lower, sparser and softer than the section before.")
    for text, section in zip((c["text"] for c in captions), facts["sections"]):
        assert factcheck.check_segment(text, section, facts) == []


def test_fact_check_of_form_claims():
    facts = _facts(verse_chorus_song())
    good = "This song follows a verse-chorus form: an 8-bar intro, two verses, two choruses and an 8-bar outro."
    assert factcheck.section_claims(good, facts) == ([], 4)
    problems, _ = factcheck.section_claims("It opens with a 4-bar intro and has three choruses.", facts)
    assert problems == ["form: says 4-bar intro, no such section of 4 bars", "form: says three choruses, there are 2"]
    assert factcheck.section_claims("Its form is A B A B.", _facts(aabb_tune()))[0] == [
        "form: says form is A B A B, the melodic sections are A A B B"]
    wrong = factcheck.check_segment("The chorus (B): 4 bars over the chords Bb and F.", facts["sections"][2], facts)
    assert wrong == ["section: says 4 bars, the section has 8", "section: names Bb, which does not sound in it"]


def test_section_notes_of_a_verse_chorus_song():
    notes = _facts(verse_chorus_song())["section_notes"]
    # intro: four two-bar chords of three notes plus two bass notes (piano, program 0) at velocity 60
    assert notes[0]["sounding"] == {0: 1.0}
    assert notes[0]["note_density"] == 20 / 16 and notes[0]["mean_velocity"] == 60.0
    assert set(notes[1]["sounding"]) == {0, 73} and notes[1]["sounding"][73] >= 0.25   # the flute's verse


def test_fact_check_of_section_changes():
    facts = _facts(verse_chorus_song())
    chorus = facts["sections"][2]
    wrong = factcheck.check_segment("The chorus (B): 8 bars; the piano leaves; it is sparser and louder than "
                                    "the section before.", chorus, facts)
    assert wrong == ["section: says the piano leaves, no such instrument clearly leaves here",
                     "section: says sparser, not a clear change from the section before"]
    assert factcheck.check_segment("The chorus (B): 8 bars; it is louder.", chorus, facts) == []
    bare = {k: v for k, v in facts.items() if k != "section_notes"}   # as read back from a shard
    assert factcheck.check_segment("The chorus (B): 8 bars; it is louder.", chorus, bare) == [
        "section: says louder, not a clear change from the section before"]


def test_template_caption_states_the_form_and_passes_the_check():
    facts = _facts(verse_chorus_song())
    text = caption(facts, np.random.default_rng(0))
    assert "verse-chorus form: an 8-bar intro, two verses, two choruses and an 8-bar outro." in text
    assert factcheck.check(text, facts) == []


def test_bar_count_counts_the_written_bars():
    # 2/4 at 120 bpm: a bar per second; the sections are found on these bars, so 8 s is 8 bars
    facts = {"downbeats_s": [1.0 * k for k in range(40)], "time_signature": "2/4"}
    assert bar_count({"start_s": 0.0, "end_s": 8.0}, facts) == 8


def test_prompt_facts_list_the_sections():
    line = [l for l in facts_text(_facts(verse_chorus_song())).splitlines() if l.startswith("form:")]
    assert line == ["form: intro (8 bars), A verse (8 bars), B chorus (8 bars), A verse (8 bars), "
                    "B chorus (8 bars), outro (8 bars)"]
