"""Tests for captune.captioners: template captions and MusicBench control sentences."""

import re

import numpy as np
import pytest

from captune.captioners import caption, control_sentences

ORIGINAL = {
    "kind": "original",
    "semitones": 0,
    "tempo_ratio": 1.0,
    "gain_start": None,
    "gain_end": None,
    "change_at_s": None,
}


def make_facts(**overrides):
    """E minor, 3/4, 96 bpm, piano + bass + drums, Em C G D x4, 45 s."""
    facts = {
        "duration_s": 45.0,
        "duration_word": "Short song",
        "tempo_bpm": 96.0,
        "tempo_word": "Moderato",  # 96 > 90 and <= 110 in the MidiCaps thresholds
        "time_signature": "3/4",
        "key": "E minor",
        "key_confidence": 0.83,
        "key_alternative": "G major",
        "chords": [
            {"start_s": 0.0, "end_s": 2.0, "label": "Em"},
            {"start_s": 2.0, "end_s": 4.0, "label": "C"},
        ],
        "chord_summary": ["Em", "C", "G", "D"],
        "chord_summary_count": 4,
        "beats_s": None,
        "downbeats_s": None,
        "instruments": ["Acoustic Grand Piano", "Electric Bass (finger)", "Drums"],
        "instrument_programs": [0, 33, 128],
        "mood": None,
        "genre": None,
        "modality": "midi",
        "variant": dict(ORIGINAL),
    }
    facts.update(overrides)
    return facts


def captions(facts, seeds=range(40)):
    return [caption(facts, np.random.default_rng(seed)) for seed in seeds]


def assert_clean(text):
    assert "None" not in text
    assert "[]" not in text and "[" not in text and "'" not in text
    assert "  " not in text
    assert " ." not in text and " ," not in text and ",," not in text and ".." not in text
    assert text == text.strip()
    assert text[0].isupper()
    assert text.endswith((".", "!"))


# --- template captions --------------------------------------------------------


def test_caption_mentions_every_known_fact():
    for text in captions(make_facts()):
        assert_clean(text)
        assert "E minor" in text
        assert "3/4" in text
        lower = text.lower()
        assert "piano" in lower and "bass" in lower and "drums" in lower
        assert re.search(r"\b96 (BPM|beats per minute)\b", text) or "Moderato" in text or "moderate" in text
        assert "Em, C, G, D" in text
        assert "4 times" in text
        assert "45 seconds" in text or "short song" in text


def test_caption_sentence_count_between_two_and_five():
    for text in captions(make_facts(mood=["calm"], genre=["jazz"])):
        sentences = re.findall(r"[^.!]+[.!]", text)
        assert 2 <= len(sentences) <= 5, text


def test_caption_tempo_uses_all_three_forms_over_seeds():
    texts = captions(make_facts(), seeds=range(200))
    assert any(re.search(r"\b96 (BPM|beats per minute)\b", t) for t in texts)
    assert any("Moderato" in t for t in texts)
    assert any("moderate" in t for t in texts)
    # the bpm is rounded to an integer, never printed as a float
    assert not any("96.0" in t for t in captions(make_facts(tempo_bpm=95.6), seeds=range(200)))


def test_a_sentence_names_its_subject_once():
    """An unsung tune's "short song" reads "short piece": "The piece is a short piece of about 77
    seconds" says "piece" twice; the sentence then opens with "It" (or "This is", first)."""
    from captune.extractors import analyze
    from tests.fixtures import aabb_tune
    facts = analyze(aabb_tune(bpm=100), "tune.mid")                 # 32 bars of 4/4 at 100 bpm, 77 s
    sentences = [s for seed in range(500) for s in caption(facts, np.random.default_rng(seed)).split(". ")]
    assert any("is a short piece of about 77 seconds" in s for s in sentences)
    assert not [s for s in sentences if re.search(r"\b(piece|track|composition)\b.*\b\1\b", s)]


def test_a_single_melodic_line_is_not_given_a_harmony():
    """A fiddle tune or one voice of a chanson sounds one note at a time: its chords are implied, not
    heard, so no caption, control sentence or prompt names a progression; with a bass under the same
    tune, chords sound and may be named, and "a single melodic line" is then false."""
    from captune.captioners.factcheck import check
    from captune.captioners.prompts import facts_text
    from captune.extractors import analyze
    from tests.fixtures import make_midi, melody
    tune = melody([67, 71, 74, 71, 69, 66, 62, 66] * 4, step=1.0)                 # G major arpeggios, 8 bars
    bass = [(4.0 * i, 4.0, (43, 38)[i % 2], 80) for i in range(8)]                # G2, D2 a bar each
    alone = analyze(make_midi([(73, False, tune)], tempo_bpm=100), "tune.mid")
    accompanied = analyze(make_midi([(73, False, tune), (32, False, bass)], tempo_bpm=100), "duo.mid")
    assert alone["note_stats"]["polyphony"] == 1.0 and alone["chords"]           # implied chords are kept
    harmony = re.compile(r"chord|harmony|progression", re.IGNORECASE)
    texts = captions(alone, seeds=range(60))
    assert not any(harmony.search(t) for t in texts)
    assert any("single melodic line" in t for t in texts)
    assert all(check(t, alone) == [] for t in texts)
    assert control_sentences(alone)["chords"] is None
    assert "texture: a single melodic line" in facts_text(alone) and "chord progression" not in facts_text(alone)
    assert any("chords: names G" in p for p in check("A flute melody over the chords G and D.", alone))
    assert any(harmony.search(t) for t in captions(accompanied, seeds=range(60)))
    assert any("single melodic line" in p for p in check("A single melodic line for flute and bass.", accompanied))


def test_same_seed_same_caption():
    facts = make_facts(mood=["happy"], genre=["pop"])
    assert caption(facts, np.random.default_rng(7)) == caption(facts, np.random.default_rng(7))


def test_different_seeds_give_varied_captions():
    assert len(set(captions(make_facts(), seeds=range(20)))) >= 8


def test_caption_with_missing_facts_has_no_artefacts():
    facts = make_facts(
        key=None,
        chords=[],
        chord_summary=[],
        chord_summary_count=None,
        instruments=["Drums"],
        instrument_programs=[128],
        time_signature=None,
    )
    for text in captions(facts):
        assert_clean(text)
        assert "drums" in text.lower()
        assert "key" not in text and "minor" not in text and "major" not in text
        assert "progression" not in text and "chord" not in text
        assert "time signature" not in text and "meter" not in text


def test_caption_without_tempo_or_duration_skips_them():
    facts = make_facts(tempo_bpm=None, tempo_word=None, duration_s=None, duration_word=None)
    for text in captions(facts):
        assert_clean(text)
        assert "tempo" not in text and "BPM" not in text and "pace" not in text
        assert "second" not in text and "minute" not in text


def test_caption_of_empty_facts_is_empty():
    facts = {key: None for key in make_facts()}
    assert caption(facts, np.random.default_rng(0)) == ""


def test_caption_mentions_mood_and_genre_when_present():
    for text in captions(make_facts(mood=["Melancholic"], genre=["Classical"])):
        assert "melancholic" in text.lower() and "classical" in text.lower()


def test_caption_limits_instruments_to_five():
    names = ["Violin", "Viola", "Cello", "Contrabass", "Flute", "Oboe", "Clarinet"]
    for text in captions(make_facts(instruments=names)):
        assert "flute" in text.lower()
        assert "oboe" not in text.lower() and "clarinet" not in text.lower()


def test_caption_simplifies_gm_names():
    facts = make_facts(instruments=["Acoustic Grand Piano", "String Ensemble 1", "Lead 1 (square)"])
    for text in captions(facts):
        lower = text.lower()
        assert "grand" not in lower and "ensemble 1" not in lower and "(" not in lower
        assert "piano" in lower and "strings" in lower and "synth lead" in lower


def test_caption_duration_in_minutes_for_long_pieces():
    # 200 s is 3 min 20 s: rounded to the nearest half minute, 3.5 minutes
    for text in captions(make_facts(duration_s=200.0, duration_word="Song")):
        assert "3.5 minutes" in text or "a song" in text


def test_chord_count_of_two_reads_twice():
    texts = captions(make_facts(chord_summary_count=2))
    assert all("twice" in t for t in texts)
    assert not any("2 times" in t for t in texts)


def test_a_loop_of_two_harmonies_alternates_and_is_no_progression():
    texts = captions(make_facts(chord_summary=["F", "C"], chord_summary_count=48), seeds=range(60))
    assert all(re.search(r"\bF and C\b", t) and "alternat" in t or "moves between F and C" in t for t in texts)
    assert all("48 times" in t and "progression" not in t and "loop" not in t for t in texts)
    longer = captions(make_facts(chord_summary=["C", "G", "Am", "F"], chord_summary_count=4), seeds=range(60))
    assert all("C, G, Am, F" in t and "alternat" not in t for t in longer)
    # a pair heard twice alternates; it does not come back "again and again"
    twice = captions(make_facts(chord_summary=["D", "G"], chord_summary_count=2), seeds=range(60))
    assert all("alternat" in t and "twice" in t and "again and again" not in t.lower() for t in twice)


@pytest.mark.parametrize(
    "key, article",
    [("A minor", "an"), ("E major", "an"), ("F major", "an"), ("Eb major", "an"), ("F# minor", "an"),
     ("C major", "a"), ("Bb major", "a"), ("G minor", "a"), ("D major", "a")],
)
def test_key_article_follows_spoken_letter(key, article):
    wrong = "a" if article == "an" else "an"
    texts = captions(make_facts(key=key), seeds=range(200))
    assert any(f" {article} {key}" in t for t in texts)
    assert not any(re.search(rf"\b{wrong} {re.escape(key)}", t) for t in texts)


def test_no_article_errors_before_vowel_words():
    facts = make_facts(genre=["electronic"], tempo_word="Allegro", tempo_bpm=120.0)
    for text in captions(facts, seeds=range(200)):
        assert not re.search(r"\ba [aeiouAEIOU]", text), text
        assert not re.search(r"\ban [^aeiouAEIOU]", text), text


# --- MusicBench control sentences --------------------------------------------
# Format from AMAAI-Lab/mustango utils/prompt_functions.py; first phrasing
# without an rng.


def test_control_first_phrasings():
    sentences = control_sentences(make_facts())
    assert sentences == {
        "key": "The key is E minor.",
        "tempo": "The bpm is 96.0.",
        "chords": "The chord sequence is Em, C, G, D.",
        "beats": "The time signature is 3/4.",
        "volume": None,
    }


def test_control_tempo_rounds_bpm_like_musicbench():
    assert control_sentences(make_facts(tempo_bpm=123.6))["tempo"] == "The bpm is 124.0."


def test_control_tempo_word_only():
    facts = make_facts(tempo_bpm=None, tempo_word="Vivace")
    assert control_sentences(facts)["tempo"] == "This song is in Vivace."


def test_control_phrasings_drawn_from_musicbench_lists():
    facts = make_facts()
    allowed = {
        "key": {"The key is E minor.", "The key of this song is E minor.", "This song is in the key of E minor."},
        "tempo": {
            "The bpm is 96.0.",
            "The tempo of this song is 96.0 beats per minute.",
            "This song goes at 96.0 beats per minute.",
            "This song is in Moderato.",
            "The tempo of this song is Moderato.",
            "This song is played in Moderato.",
            "The song is played at the pace of Moderato.",
        },
        "chords": {"The chord sequence is Em, C, G, D.", "The chord progression in this song is Em, C, G, D."},
        "beats": {"The time signature is 3/4.", "The beat is 3.", "The beat counts to 3."},
    }
    seen = {name: set() for name in allowed}
    for seed in range(300):
        sentences = control_sentences(facts, np.random.default_rng(seed))
        for name in allowed:
            seen[name].add(sentences[name])
    assert seen == allowed


def test_control_same_seed_same_sentences():
    facts = make_facts()
    assert control_sentences(facts, np.random.default_rng(3)) == control_sentences(facts, np.random.default_rng(3))


def test_control_missing_facts_give_none():
    facts = make_facts(key=None, tempo_bpm=None, tempo_word=None, chords=[], chord_summary=[], time_signature=None)
    assert control_sentences(facts) == {"key": None, "tempo": None, "chords": None, "beats": None, "volume": None}


def test_control_chords_fall_back_to_chord_list():
    chords = [
        {"start_s": 0.0, "end_s": 1.0, "label": "N"},
        {"start_s": 1.0, "end_s": 2.0, "label": "Am7"},
        {"start_s": 2.0, "end_s": 3.0, "label": "Am7"},
        {"start_s": 3.0, "end_s": 4.0, "label": "D7"},
        {"start_s": 4.0, "end_s": 5.0, "label": "Gmaj7"},
    ]
    facts = make_facts(chord_summary=[], chords=chords)
    assert control_sentences(facts)["chords"] == "The chord sequence is Am7, D7, Gmaj7."


def test_control_beats_from_beat_tracking_without_time_signature():
    # 3 beats per bar at 0.5 s: downbeats every 1.5 s
    beats = [i * 0.5 for i in range(24)]
    downbeats = beats[::3]
    facts = make_facts(time_signature=None, beats_s=beats, downbeats_s=downbeats)
    assert control_sentences(facts)["beats"] == "The beat is 3."
    # the time-signature phrasing is never used when no time signature is known
    for seed in range(50):
        assert "time signature" not in control_sentences(facts, np.random.default_rng(seed))["beats"]


def volume_variant(start, end, at):
    return {**ORIGINAL, "kind": "volume_change", "gain_start": start, "gain_end": end, "change_at_s": at}


def test_control_volume_none_for_original_and_flat_gain():
    assert control_sentences(make_facts())["volume"] is None
    assert control_sentences(make_facts(variant=volume_variant(0.8, 0.8, 2.0)))["volume"] is None


def test_control_volume_crescendo_and_decrescendo():
    assert control_sentences(make_facts(variant=volume_variant(0.3, 1.0, 4.25)))["volume"] == (
        "There is a crescendo from 4.25 seconds on."
    )
    assert control_sentences(make_facts(variant=volume_variant(1.0, 0.2, 3.0)))["volume"] == (
        "There is a decrescendo from 3.0 seconds on."
    )
    assert control_sentences(make_facts(variant=volume_variant(0.1, 1.0, 0.0)))["volume"] == (
        "The song starts with a crescendo."
    )
    assert control_sentences(make_facts(variant=volume_variant(1.0, 0.1, None)))["volume"] == (
        "The song starts with a decrescendo."
    )


def test_control_volume_direction_holds_for_every_phrasing():
    rising = make_facts(variant=volume_variant(0.3, 1.0, 2.0))
    falling = make_facts(variant=volume_variant(1.0, 0.3, 2.0))
    for seed in range(50):
        up = control_sentences(rising, np.random.default_rng(seed))["volume"]
        down = control_sentences(falling, np.random.default_rng(seed))["volume"]
        assert "decrescendo" not in up and "decrease" not in up.lower()
        assert "crescendo" not in down.replace("decrescendo", "") and "increase" not in down.lower()


def test_chord_sentence_without_a_summary_lists_at_most_eight_chords():
    labels = ["C", "Dm", "Em", "F", "G", "Am", "Bdim", "C7", "Fmaj7", "G7", "Am7", "D"]
    chords = [{"start_s": float(i), "end_s": float(i + 1), "label": label} for i, label in enumerate(labels)]
    sentence = control_sentences({"chords": chords, "chord_summary": []})["chords"]
    assert sentence.endswith("C, Dm, Em, F, G, Am, Bdim, C7.")


def test_satb_parts_are_a_four_part_choir_not_a_piano():
    facts = make_facts(instruments=["Voice Oohs"], instrument_programs=[53], instrument_tracks=[53, 53, 53, 53],
                       modality="score")
    for text in captions(facts):
        assert "four-part choir" in text and "piano" not in text and "oohs" not in text.lower()


def test_a_score_is_a_work_or_piece_never_a_track():
    """A notated piece is called a piece, a work or a composition; MIDI keeps MidiCaps' 'track'."""
    score = [caption(make_facts(modality="score"), np.random.default_rng(seed)) for seed in range(60)]
    assert not any(re.search(r"\btrack\b", text) for text in score)
    assert any(re.search(r"\bwork\b", text) for text in score)
    midi = [caption(make_facts(modality="midi"), np.random.default_rng(seed)) for seed in range(60)]
    assert any(re.search(r"\btrack\b", text) for text in midi) and not any(re.search(r"\bwork\b", t) for t in midi)


def test_an_eight_part_choir_takes_an():
    facts = make_facts(instruments=["Voice Oohs"], instrument_programs=[53], instrument_tracks=[53] * 8,
                       modality="score")
    for text in captions(facts):
        assert "an eight-part choir" in text.lower() and "a eight" not in text.lower()


def test_one_voice_with_piano_is_voice_and_piano():
    facts = make_facts(instruments=["Acoustic Grand Piano", "Voice Oohs"], instrument_programs=[0, 53],
                       instrument_tracks=[0, 53])
    for text in captions(facts):
        assert "voice and piano" in text.lower() or "voice, this" in text
        assert "performed on" not in text


def test_two_violins_viola_and_cello_are_a_string_quartet():
    facts = make_facts(instruments=["Violin", "Viola", "Cello"], instrument_programs=[40, 41, 42],
                       instrument_tracks=[40, 42, 41, 40])
    assert all("string quartet" in text for text in captions(facts))


def test_an_instrumental_score_is_a_piece_not_a_song():
    facts = make_facts(modality="score", duration_word="Short song", duration_s=None)
    assert not any("song" in text.lower() for text in captions(facts))
    sung = make_facts(modality="score", duration_word="Short song", duration_s=None, instruments=["Voice Oohs"],
                      instrument_programs=[53])
    assert any("short song" in text for text in captions(sung))


def test_an_unsung_midi_file_is_a_song_only_in_verse_chorus_form():
    # The generated 96 s song (a "Short song" by MidiCaps' word) has an intro, two verses, two choruses
    # and an outro, played on piano and flute: a song. The same notes without their form, or a string
    # quartet, are pieces; a voice makes anything a song.
    from captune.extractors.midi import extract, from_midi_bytes
    from tests.fixtures import verse_chorus_song

    song = extract(from_midi_bytes(verse_chorus_song()))
    song["modality"] = "midi"
    assert song["duration_word"] == "Short song" and {s["kind"] for s in song["sections"]} >= {"verse", "chorus"}
    assert not any("short piece" in text for text in captions(song))
    assert any("short song" in text for text in captions(song))
    assert not any("song" in text.lower() for text in captions({**song, "sections": None}))
    quartet = make_facts(instruments=["Violin", "Viola", "Cello"], instrument_programs=[40, 41, 42],
                         instrument_tracks=[40, 42, 41, 40])
    assert not any("song" in text.lower() for text in captions(quartet))
    assert any("short song" in text for text in captions({**quartet, "instruments": ["Voice Oohs"]}))


def test_a_short_score_is_a_short_piece_not_a_fragment():
    # a 24 s Bach chorale or a 20 s O'Neill tune is a whole piece; a 24 s MIDI file may be an excerpt
    short = make_facts(duration_word="Short fragment", duration_s=24.0)
    assert not any("fragment" in text for text in captions({**short, "modality": "score"}))
    assert any("short piece" in text for text in captions({**short, "modality": "score"}))
    assert any("short fragment" in text for text in captions({**short, "modality": "midi"}))
    # the LLM prompt gives the same word as the template, so a model is not told "fragment" or "song"
    from captune.captioners.prompts import facts_text

    assert "duration: 24 seconds (short piece)" in facts_text({**short, "modality": "score"})
    quartet = make_facts(duration_word="Song", duration_s=150.0, modality="score",
                         instruments=["Violin", "Violin", "Viola", "Cello"])
    assert "duration: 150 seconds (medium-length piece)" in facts_text(quartet)
    # a sung one of MidiCaps' middle length is a medium-length song: "making it a song" names no length
    choir = {**quartet, "instruments": ["Voice Oohs"], "instrument_programs": [53]}
    texts = captions(choir, seeds=range(60))
    assert any("a medium-length song" in t for t in texts)
    assert not any(re.search(r"\ba song\b", t) for t in texts)


def test_duration_word_alone_is_not_a_sentence_when_the_length_is_known():
    for text in captions(make_facts(duration_word="Song", duration_s=150.0)):
        assert "is a song." not in text


def test_through_composed_harmony_is_said_not_a_false_loop():
    facts = make_facts(chord_summary=[], chord_summary_count=0)
    texts = captions(facts)
    assert any("loop" in text for text in texts)
    assert not any("repeats" in text for text in texts)
    # "through-composed" names a form with no returning section: a chorale in A A B or a verse-chorus
    # song whose harmony repeats no loop is not one, so the harmony sentence never uses the word
    assert not any("through-composed" in text for text in texts)
