"""Known answers for the meter inferred from the notes (captune.extractors.midi.bar_inference)."""

from dataclasses import replace

import numpy as np

import fixtures as fx
from captune.extractors import midi
from captune.extractors.midi.bar_inference import grid_offset, settle

LOOP = ["C", "G", "Am", "F"]


def _piece(music_meter, declared, repeats=4, with_drums=True):
    tracks = fx.progression_tracks(LOOP, meter=music_meter, repeats=repeats, with_drums=with_drums)
    return midi.from_midi_bytes(fx.make_midi(tracks, tempo_bpm=100, time_signature=declared))


def test_declared_one_four_with_four_four_accents_is_inferred_four_four():
    facts = midi.extract(_piece((4, 4), (1, 4)))
    assert (facts["time_signature"], facts["time_signature_source"]) == ("4/4", "inferred")
    # bars of 4 quarters at 100 bpm = 2.4 s, the first on the first chord
    assert np.allclose(np.diff(facts["downbeats_s"]), 2.4, atol=1e-3)
    assert facts["downbeats_s"][0] == 0.0


def test_three_four_music_declaring_three_four_keeps_it():
    facts = midi.extract(_piece((3, 4), (3, 4)))
    assert (facts["time_signature"], facts["time_signature_source"]) == ("3/4", "declared")


def test_waltz_without_time_signature_is_inferred_triple():
    # no drums: chords and bass once per 3-beat bar are the only accents
    piece = _piece((3, 4), None, with_drums=False)
    settled, source = settle(piece)
    assert source == "inferred" and midi.time_signature(settled) == "3/4"


def test_four_four_music_declared_three_four_is_contradicted():
    settled, source = settle(_piece((4, 4), (3, 4)))
    assert (source, midi.time_signature(settled)) == ("inferred", "4/4")


def test_notes_late_on_the_grid_move_the_bar_lines_onto_them():
    # every note 40 ticks (of 480 per quarter) after its grid position, as in POP909's files
    tracks = [(p, d, [(s + 40 / 480, du, pi, v) for s, du, pi, v in n])
              for p, d, n in fx.progression_tracks(LOOP, repeats=4)]
    piece = midi.from_midi_bytes(fx.make_midi(tracks, tempo_bpm=120, time_signature=(1, 4)))
    assert grid_offset(piece) == 40
    settled, _ = settle(piece)
    assert settled.pickup_ticks == 40


def test_a_declared_four_four_song_opening_on_an_upbeat_keeps_its_meter_with_bars_on_the_chords():
    # the loop starts one beat into the file (a melody note as upbeat): the declared 4/4 stands,
    # its bar lines move to the chord attacks, one quarter (480 ticks) in
    tracks = [(p, d, [(s + 1, du, pi, v) for s, du, pi, v in n]) for p, d, n in fx.progression_tracks(LOOP, repeats=4)]
    tracks.append((73, False, [(0, 1, 72, 80)]))
    settled, source = settle(midi.from_midi_bytes(fx.make_midi(tracks, tempo_bpm=120, time_signature=(4, 4))))
    assert (source, midi.time_signature(settled), settled.pickup_ticks) == ("declared", "4/4", 480)


def test_a_declared_bar_line_with_accents_of_its_own_stands():
    settled, source = settle(_piece((4, 4), (4, 4)))
    assert (source, settled.pickup_ticks) == ("declared", 0)


def test_scores_keep_their_notated_meter():
    score = replace(_piece((4, 4), (3, 4)), notated=True)
    settled, source = settle(score)
    assert settled is score and source == "declared"


def test_performance_midi_declaring_one_four_gets_its_bar_from_the_found_beats():
    from captune.extractors.midi.bar_inference import settle_on_beats

    piece = _piece((4, 4), (1, 4))                     # 100 bpm: a beat every 0.6 s
    beats_s = np.arange(0, piece.duration_s, 0.6)
    assert settle_on_beats(piece, beats_s) == ("4/4", "inferred")
    assert settle_on_beats(_piece((3, 4), (3, 4)), beats_s) == ("3/4", "declared")


def test_bars_on_found_beats_start_on_the_chords():
    from captune.extractors.midi.bar_inference import bars_on_beats

    piece = _piece((4, 4), (1, 4))                     # 100 bpm: a beat every 0.6 s, a chord every 4 beats
    beats_s = np.arange(0, piece.duration_s, 0.6)
    assert np.allclose(bars_on_beats(piece, beats_s, "4/4")[:3], [0.0, 2.4, 4.8])
    # the same beats, the music one beat later (after an upbeat): the bars move with the chords
    tracks = [(p, d, [(s + 1, du, pi, v) for s, du, pi, v in n])
              for p, d, n in fx.progression_tracks(LOOP, repeats=4, with_drums=False)] + [(73, False, [(0, 1, 72, 80)])]
    late = midi.from_midi_bytes(fx.make_midi(tracks, tempo_bpm=100, time_signature=(1, 4)))
    assert np.allclose(bars_on_beats(late, np.arange(0, late.duration_s, 0.6), "4/4")[:3], [0.6, 3.0, 5.4])
    assert bars_on_beats(piece, beats_s[:1], "4/4") is None


def test_bar_lines_follow_the_chord_changes_and_bass_not_the_melodys_long_notes():
    # piano re-strikes each chord on every beat and the bass holds its root from the chord change;
    # a melody in octaves enters on the third beat with notes held across the bar line: its onsets and
    # long notes accent beat 3, the harmony and the bass beat 1, where the bar lines go
    piano, bass, tune = [], [], []
    for bar in range(16):
        label = LOOP[bar % 4]
        piano += [(bar * 4 + beat, 1, p, 60) for beat in range(4) for p in fx.chord_voicing(label)]
        bass.append((bar * 4, 4, fx.chord_root(label), 90))
        tune += [(bar * 4 + 1.5, 0.5, 79, 100), (bar * 4 + 2, 4, 76 + bar % 3, 100), (bar * 4 + 2, 4, 64 + bar % 3, 100)]
    tracks = [(fx.PIANO, False, piano), (fx.BASS, False, bass), (73, False, tune)]
    settled, source = settle(midi.from_midi_bytes(fx.make_midi(tracks, tempo_bpm=120, time_signature=(1, 4))))
    assert (source, midi.time_signature(settled), settled.pickup_ticks) == ("inferred", "4/4", 0)
