"""Sections from symbolic music: known-answer songs generated with mido (tests/fixtures.py)."""

import numpy as np
import pytest

from captune.extractors.midi import from_midi_bytes
from captune.extractors.midi.sections import bar_lines, name_kinds, sections
from tests.fixtures import aabb_tune, make_midi, verse_chorus_song


def _form(found):
    return [(s["label"], s["kind"]) for s in found]


def test_verse_chorus_song_gives_its_six_sections():
    found = sections(from_midi_bytes(verse_chorus_song(bpm=120)))   # 2 s per bar, 16 s per 8-bar part
    assert _form(found) == [("i", "intro"), ("A", "verse"), ("B", "chorus"), ("A", "verse"), ("B", "chorus"),
                            ("o", "outro")]
    assert [(s["start_s"], s["end_s"]) for s in found] == [(16.0 * k, 16.0 * (k + 1)) for k in range(6)]


def test_a_piece_only_voices_sing_has_no_intro_or_outro():
    """The verse-chorus song with both tracks sung (Voice Oohs): the lower voices' opening and closing
    bars, where the top voice rests, are no intro or outro (no instrument plays them); they join the
    first and the last section. With the accompaniment on a piano they stay an intro and an outro."""
    import io

    import mido

    mid = mido.MidiFile(file=io.BytesIO(verse_chorus_song(bpm=120)))
    for track in mid.tracks:
        for i, msg in enumerate(track):
            if msg.type == "program_change":
                track[i] = msg.copy(program=53)
    out = io.BytesIO()
    mid.save(file=out)
    found = sections(from_midi_bytes(out.getvalue()))
    # A B A B, the melody note for note twice and no intro to open it: a tune played through (no verse, chorus)
    assert _form(found) == [("A", "melodic"), ("B", "melodic"), ("A", "melodic"), ("B", "melodic")]
    assert [(s["start_s"], s["end_s"]) for s in found] == [(0.0, 32.0), (32.0, 48.0), (48.0, 64.0), (64.0, 96.0)]
    assert [s["kind"] for s in sections(from_midi_bytes(verse_chorus_song(bpm=120)))][::5] == ["intro", "outro"]


def test_aabb_tune_gives_a_a_b_b_without_verse_or_chorus():
    found = sections(from_midi_bytes(aabb_tune(bpm=120)))
    assert [s["label"] for s in found] == ["A", "A", "B", "B"]
    assert [s["kind"] for s in found] == ["melodic"] * 4     # no verse-chorus alternation
    assert [s["start_s"] for s in found] == [0.0, 16.0, 32.0, 48.0]


def test_a_tune_played_twice_note_for_note_has_no_verse_or_chorus():
    """A dance tune's A A B B (B louder and higher, as a chorus would be) played through twice, the
    melody note for note, is a tune with its repeats written out; the same form whose second pass
    re-rhythms the A melody (each bar's second note an eighth later: new words) is a song."""
    from tests.fixtures import STRAIN_A, STRAIN_B, form_song

    def new_words(bars):
        return [[note if i != 1 else (note[0] + .5, max(note[1] - .5, .5), note[2]) for i, note in enumerate(bar)]
                for bar in bars]

    a, b = (STRAIN_A, ("G", "D", "G", "D"), 70), (STRAIN_B, ("C", "G", "Am", "D"), 100)
    sung_a = (new_words(STRAIN_A), a[1], 70)
    for parts, kinds in (([a, a, b, b] * 2, ["melodic"] * 8), ([a, b] * 2, ["melodic"] * 4),
                         ([a, a, b, b, sung_a, sung_a, b, b], ["verse", "verse", "chorus", "chorus"] * 2),
                         ([a, b, sung_a, b], ["verse", "chorus"] * 2)):
        found = sections(from_midi_bytes(form_song(parts, 120)))
        assert [s["label"] for s in found] == ["A" if part[0] is not STRAIN_B else "B" for part in parts]
        assert [s["kind"] for s in found] == kinds


def test_an_unperformed_export_has_no_verse_or_chorus():
    """The verse-chorus song with every note at one velocity and the default 120 bpm is what a notation
    program exports (tempo_source 'default'): its form is named by letters, as a score's is; at 100 bpm
    (someone set the tempo) it is a song again."""
    import io

    import mido

    def one_velocity(data):
        mid = mido.MidiFile(file=io.BytesIO(data))
        for track in mid.tracks:
            for i, msg in enumerate(track):
                if msg.type == "note_on" and msg.velocity > 0:
                    track[i] = msg.copy(velocity=80)
        out = io.BytesIO()
        mid.save(file=out)
        return out.getvalue()

    exported = sections(from_midi_bytes(one_velocity(verse_chorus_song(bpm=120))))
    assert [s["label"] for s in exported] == ["i", "A", "B", "A", "B", "o"]
    assert [s["kind"] for s in exported] == ["intro", "melodic", "melodic", "melodic", "melodic", "outro"]
    set_tempo = sections(from_midi_bytes(one_velocity(verse_chorus_song(bpm=100))))
    assert [s["kind"] for s in set_tempo] == ["intro", "verse", "chorus", "verse", "chorus", "outro"]


def test_through_composed_random_melody_is_one_section():
    rng = np.random.default_rng(7)
    t, tune = 0.0, []
    while t < 64:                                        # 16 bars of 4/4
        dur = float(rng.choice([0.5, 1.0, 1.5, 2.0]))
        tune.append((t, dur, int(rng.integers(55, 80)), 80))
        t += dur
    found = sections(from_midi_bytes(make_midi([(0, False, tune)], tempo_bpm=120)))
    assert _form(found) == [("A", "melodic")]
    assert found[0]["start_s"] == 0.0 and found[0]["end_s"] == tune[-1][0] / 2 + tune[-1][1] / 2


def test_slower_tempo_keeps_labels_and_scales_times():
    fast = sections(from_midi_bytes(verse_chorus_song(bpm=120)))
    slow = sections(from_midi_bytes(verse_chorus_song(bpm=90)))
    assert _form(slow) == _form(fast)
    assert [round(s["start_s"] * 90 / 120, 3) for s in slow] == [s["start_s"] for s in fast]


def test_one_beat_bars_become_the_inferred_four_beat_bars_at_the_chord_changes():
    """A file declaring 1/4 (as many POP909 files do) with its music starting one beat late: the bar
    lines are those of the inferred meter, every 4 beats from the first chord, where harmony changes;
    the pickup beat opens the first section."""
    piece = from_midi_bytes(_shifted_one_beat_bars())
    settled, lines = bar_lines(piece)
    assert list(lines[:3] / piece.tpq) == [1.0, 5.0, 9.0]     # in quarter notes
    assert settled.ts_numerator.tolist() == [4]
    assert sections(piece)[0]["start_s"] == 0.0


def _shifted_one_beat_bars() -> bytes:
    from tests.fixtures import chord_voicing
    notes = [(0, 1, 67, 80)]                                  # a one-beat pickup
    for k, label in enumerate(["C", "F", "G", "C", "Am", "Dm", "G", "C"]):
        notes += [(1 + 4 * k, 4, p, 80) for p in chord_voicing(label, 3)]
    return make_midi([(0, False, notes)], tempo_bpm=120, time_signature=(1, 4))


def test_extract_gives_sections_on_its_downbeats():
    from captune.extractors.midi import extract
    facts = extract(from_midi_bytes(verse_chorus_song(bpm=120)))
    assert [s["label"] for s in facts["sections"]] == ["i", "A", "B", "A", "B", "o"]
    assert facts["sections"][1]["start_s"] == facts["downbeats_s"][8]


@pytest.mark.parametrize("n, length", [(12, 3), (12, 12), (20, 12)])   # the longest segment up to the piece
def test_repeat_starts_and_repetition_match_brute_force(n, length):
    from captune.extractors.midi.sections import diagonal_sums, repeat_starts, repetition
    rng = np.random.default_rng(3)
    x = rng.random((n, n))
    sim = (x + x.T) / 2
    span = 4
    cum = diagonal_sums(sim, span)          # bar a at a + span

    def window(a, c, m):            # bars a.. and c.. for up to m bars, inside the piece
        return sum(sim[a + k, c + k] for k in range(m) if a + k < n and c + k < n)

    rise = [max([window(a, c, span) / span - sum(sim[a - k, c - k] for k in range(1, span + 1)
                                                 if a - k >= 0 and c - k >= 0) / span
                 for c in range(n) if c != a] + [0.0]) for a in range(n)]
    assert np.allclose(repeat_starts(cum, span, span), rise)
    best = [[max([window(a, c, m) for c in range(n - m + 1) if abs(a - c) >= m] + [0.0]) if a <= n - m else 0.0
             for a in range(n)] for m in range(1, length + 1)]
    assert np.allclose(repetition(cum, span, length), best)


def test_cosines_in_tiles_are_the_whole_product():
    from captune.extractors.midi.sections import COSINE_TILE, _cosines
    unit = np.random.default_rng(5).random((2 * COSINE_TILE + 7, 12))     # three tiles a side, the last short
    assert np.allclose(_cosines(unit), unit @ unit.T, rtol=0, atol=1e-12)


def test_a_melody_too_sparse_for_any_melodic_bar_gives_one_section_without_melody():
    tune = [(4 * k, 0.25, 84, 80) for k in range(16)]          # a sixteenth per bar over held chords
    accompaniment = [(4 * k, 4, 48, 70) for k in range(16)]
    found = sections(from_midi_bytes(make_midi([(0, False, tune), (0, False, accompaniment)], tempo_bpm=120)))
    assert [(s["start_s"], s["end_s"], s["label"]) for s in found] == [(0.0, 32.0, "i")]


def test_bar_of_places_sorted_ticks_after_the_last_bound_at_or_before_them():
    from captune.extractors.midi.sections import bar_of
    bounds = np.asarray([0.0, 10.0, 20.0])
    assert bar_of(bounds, np.asarray([-5, 0, 5, 10, 10, 25])).tolist() == [-1, 0, 0, 1, 1, 2]
    ticks = np.sort(np.random.default_rng(1).integers(-50, 300, 500))
    bounds = np.sort(np.random.default_rng(2).choice(250, 30, replace=False)).astype(float)
    assert bar_of(bounds, ticks).tolist() == (np.searchsorted(bounds, ticks, side="right") - 1).tolist()


def test_to_ticks_inverts_the_tempo_map():
    from captune.extractors.midi.sections import to_ticks
    piece = from_midi_bytes(make_midi([(0, False, [(0, 16, 60, 80)])], tempo_bpm=[(0, 120), (4, 60)]))
    # 4 beats at 0.5 s, then 1 s per beat: tick of 2.0 s is beat 4, of 4.0 s beat 6 (tpq 480)
    assert to_ticks(piece, [0.0, 1.0, 2.0, 4.0]).tolist() == [0.0, 960.0, 1920.0, 2880.0]


def test_a_chorale_in_bar_form_gives_a_a_b():
    """Bach's chorale BWV 269 (music21's corpus) is in bar form: the Stollen, repeated, then the Abgesang."""
    import os

    from music21 import corpus

    from captune.extractors.score import from_score_bytes
    path = str(corpus.getWork("bach/bwv269"))
    found = sections(from_score_bytes(open(path, "rb").read(), os.path.splitext(path)[1]))
    assert [(s["label"], s["kind"]) for s in found] == [("A", "melodic"), ("A", "melodic"), ("B", "melodic")]


def test_a_notated_score_names_no_verse_or_chorus():
    # the alternation that makes B the chorus of a song is a theme's return in a score
    labels, energy = ["A", "B", "A", "B", "C"], [1.0, 2.0, 1.0, 2.0, 1.0]
    assert name_kinds(labels, energy) == ["verse", "chorus", "verse", "chorus", "melodic"]
    assert name_kinds(labels, energy, song=False) == ["melodic"] * 5


def test_of_two_labels_leading_into_the_chorus_equally_often_the_verse_is_the_one_heard_first():
    labels, energy = ["A", "B", "C", "B", "A", "B", "C", "B"], [1.0, 2.0, 1.0, 2.0] * 2
    assert name_kinds(labels, energy) == ["verse", "chorus", "melodic", "chorus"] * 2


def test_an_aabb_tune_opening_on_an_upbeat_keeps_its_strains():
    """The AABB tune as Nottingham's MIDI files write an upbeat: a first bar of rest ending on the
    upbeat, the strains from bar 1 (2 s per bar). The lone first bar joins strain A."""
    from tests.fixtures import STRAIN_A, STRAIN_B, chord_root, chord_voicing, phrase_notes
    tune, accompaniment = [(3, 1, 62, 80)], []
    for k, (bars, chords) in enumerate([(STRAIN_A, ("G", "D", "G", "D"))] * 2 + [(STRAIN_B, ("C", "G", "Am", "D"))] * 2):
        tune += phrase_notes(bars, 8 * k + 1, 80)
        for j, label in enumerate(chords):
            t = 4 * (8 * k + 1 + 2 * j)
            accompaniment += [(t, 8, p, 70) for p in chord_voicing(label, 3)] + [(t, 8, chord_root(label), 70)]
    found = sections(from_midi_bytes(make_midi([(73, False, tune), (0, False, accompaniment)], tempo_bpm=120)))
    assert [(s["start_s"], s["label"]) for s in found] == [(0.0, "A"), (18.0, "A"), (34.0, "B"), (50.0, "B")]
