"""The fact checker on hand-written true and false captions, and on every template caption."""

import numpy as np
import pytest

from captune.captioners import caption
from captune.captioners.factcheck import check, mentions
from captune.captioners.prompts import DEFAULT_EXAMPLES

E_MINOR = {  # E minor, 3/4, 96 bpm (Moderato), piano + finger bass + drums, Em Am B7
    "duration_s": 45.0, "duration_word": "Short song", "tempo_bpm": 96.0, "tempo_word": "Moderato",
    "time_signature": "3/4", "key": "E minor",
    "chords": [{"start_s": 0.0, "end_s": 1.0, "label": "Em"}, {"start_s": 1.0, "end_s": 2.0, "label": "Am"},
               {"start_s": 2.0, "end_s": 3.0, "label": "B7"}],
    "chord_summary": ["Em", "Am", "B7"], "chord_summary_count": 4,
    "instruments": ["Acoustic Grand Piano", "Electric Bass (finger)", "Drums"], "instrument_programs": [0, 33, 128],
}

TRUE = [
    "A piano, bass and drums trio in E minor, moving in 3/4 at about 96 BPM.",
    "This moderately paced waltz in the key of E minor is played on piano with electric bass and a drum kit.",
    "The progression Em, Am, B7 repeats four times under the piano in E minor.",
    "Around 95 beats per minute, the piano leads while bass and drums keep a steady 3/4 pulse.",
    "A short song at a moderate tempo: piano over bass and drums, Moderato, in a minor key.",
    "The home key is E minor, and the piece is played on piano, bass and drums.",
    "Piano and bass carry the harmony, Em to Am to B7, in E minor.",
    "There are no strings here, only piano, bass and drums in E minor.",
    "A minor-key piece for piano, bass and drums at 98 BPM.",  # 2 bpm off: within tolerance
]

FALSE = [  # (caption, a word the problem must contain)
    ("A piano piece in G major at 96 BPM with bass and drums.", "relative-key confusion"),
    ("A piano piece in C major with bass and drums.", "key: says C major"),
    ("A piano piece in E major with bass and drums.", "wrong mode"),
    ("A piano piece in E minor at 120 BPM.", "tempo: says 120 bpm"),
    ("A piano piece in E minor at 48 BPM.", "tempo: says 48 bpm"),  # half tempo is wrong too
    ("Piano, bass, drums and a bright trumpet play in E minor.", "names trumpet"),
    ("A piano waltz in E minor with a soaring violin.", "names violin"),
    ("A piano piece in E minor in 4/4 time.", "time signature: says 4/4"),
    ("A piano piece in E minor at a fast tempo.", "tempo: says fast"),
    ("A piano piece in E minor, marked Allegro.", "tempo: says Allegro"),
    ("A piano piece in E minor built on the chords Em, F and C.", "chords: names F"),
    ("A piano piece with drums in a major key.", "mode: says major"),
    ("There are no drums, just piano and bass in E minor.", "no drums"),
    ("xq zzk ppq rrr vvv wq lorem", "states none"),
    ("", "empty"),
    ("Piano in E.", "too short"),
]


def test_template_facts_examples_pass():
    for ex in DEFAULT_EXAMPLES:
        assert check(ex["caption"], ex["facts"]) == [], ex["caption"]


@pytest.mark.parametrize("text", TRUE)
def test_true_captions_pass(text):
    assert check(text, E_MINOR) == []


@pytest.mark.parametrize("text,expected", FALSE)
def test_false_captions_are_rejected_with_the_reason(text, expected):
    problems = check(text, E_MINOR)
    assert problems and any(expected in p for p in problems), problems


def test_an_adjective_is_not_a_tempo_claim_but_a_tempo_phrase_is():
    assert check("A fast piano piece in E minor.", E_MINOR) == []  # "fast piece": not parsed as tempo
    assert check("A grave mood hangs over this piano piece in E minor.", E_MINOR) == []  # not Grave the marking


def test_enharmonic_and_spelled_out_keys_pass():
    facts = {**E_MINOR, "key": "Eb minor", "chords": [], "chord_summary": []}
    assert check("A piano piece in D# minor.", facts) == []
    assert check("A piano piece in E-flat minor.", facts) == []
    assert check("A piano piece in E flat minor.", facts) == []
    assert check("A piano piece in F# minor.", facts)


def test_drums_only_piece_has_no_key_to_state():
    drums = {"tempo_bpm": 100.0, "tempo_word": "Moderato", "time_signature": "4/4", "key": None, "chords": [],
             "instruments": ["Drums"], "instrument_programs": [128]}
    assert check("A drum groove in 4/4 at 100 BPM.", drums) == []
    assert any("no key was detected" in p for p in check("A drum groove in A minor at 100 BPM.", drums))
    assert any("names piano" in p for p in check("Drums and piano at 100 BPM.", drums))


def test_tempo_tolerance_is_five_percent_or_three_bpm():
    fast = {**E_MINOR, "tempo_bpm": 180.0, "tempo_word": "Presto"}
    assert check("Piano, bass and drums at 189 BPM in E minor.", fast) == []   # 5 % of 180 = 9
    assert check("Piano, bass and drums at 190 BPM in E minor.", fast)
    assert check("Piano, bass and drums at 99 BPM in E minor.", E_MINOR) == []  # 3 bpm
    assert check("Piano, bass and drums at 101 BPM in E minor.", E_MINOR)


def test_a_writers_default_tempo_is_not_a_fact_a_caption_may_state():
    played = {**E_MINOR, "tempo_bpm": 120.0, "tempo_word": "Allegro", "tempo_source": "tempo_map"}
    exported = {**played, "tempo_source": "default"}
    for text in ("Piano, bass and drums at 120 BPM in E minor.", "An Allegro piece for piano in E minor."):
        assert check(text, played) == []
        assert any("the tempo is unknown" in p for p in check(text, exported))
    assert check("Piano, bass and drums in E minor.", exported) == []


def test_mentions_reports_what_was_parsed():
    found = mentions("The chords Em, Am and B7 loop in E minor at 96 BPM in 3/4 with piano but no drums.")
    assert [(k[0], k[1]) for k in found["keys"]] == [(4, "minor")]
    assert [c[2] for c in found["chords"]] == ["Em", "Am", "B7"]
    assert found["bpms"] == [96.0] and found["meters"] == ["3/4"]
    assert ("piano", False) in found["instruments"] and ("drums", True) in found["instruments"]


FACT_SETS = [
    E_MINOR,
    {**E_MINOR, "key": "F# major", "time_signature": "6/8", "tempo_bpm": 150.0, "tempo_word": "Vivace",
     "chord_summary": ["F#", "C#7", "D#m", "B"], "instruments": ["String Ensemble 1", "Trumpet", "Flute"],
     "instrument_programs": [48, 56, 73]},
    {"duration_s": 200.0, "duration_word": "Song", "tempo_bpm": 55.0, "tempo_word": "Largo",
     "time_signature": "4/4", "key": "Bb minor", "chord_summary": ["Bbm", "Gbmaj7", "Fm7", "Cm7b5"],
     "chord_summary_count": 3, "instruments": ["Choir Aahs", "Church Organ"], "instrument_programs": [52, 19]},
    {"duration_s": 20.0, "duration_word": "Short fragment", "tempo_bpm": None, "tempo_word": None,
     "time_signature": "2/4", "key": "A major", "chord_summary": ["A", "E7"], "chord_summary_count": 1,
     "instruments": ["Acoustic Guitar (nylon)", "Lead 2 (sawtooth)", "Synth Bass 1"],
     "instrument_programs": [24, 81, 38]},
    {"duration_s": 30.0, "duration_word": "Short fragment", "tempo_bpm": 100.0, "tempo_word": "Moderato",
     "time_signature": "4/4", "key": None, "instruments": ["Drums"], "instrument_programs": [128]},
]


@pytest.mark.parametrize("facts", FACT_SETS)
def test_every_template_caption_passes(facts):
    """The template captioner states facts only; the checker must agree (no false rejections)."""
    for seed in range(60):
        text = caption(facts, np.random.default_rng(seed))
        assert check(text, facts) == [], text


def test_every_general_midi_instrument_named_by_the_template_passes():
    from captune.extractors.midi.gm import GM_PROGRAM_NAMES

    for program, name in enumerate(GM_PROGRAM_NAMES):
        facts = {"key": "C major", "tempo_bpm": 120.0, "instruments": [name], "instrument_programs": [program]}
        for seed in range(3):
            text = caption(facts, np.random.default_rng(seed))
            assert check(text, facts) == [], (name, text)
