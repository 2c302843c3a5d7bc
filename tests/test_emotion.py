"""Emotion: known answers of the default model, the JSON model format, and ``captune train-emotion``.

Known-answer pieces are built from the cues the literature agrees on (mode, tempo,
loudness, articulation, tonality): a fast, loud, staccato C major piece is +V+A (quadrant 1),
a slow, quiet, legato A minor one −V−A (quadrant 3), a slow quiet major one +V−A (quadrant 4)
and a fast, loud, chromatic one (diminished and augmented chords over a chromatic line, no
clear key) −V+A (quadrant 2). A fast, loud but plainly tonal minor piece is a mixed case
(tempo and a clear key against mode): only its valence's order against the slow minor piece
is checked.
"""

import csv
import json
import math

import numpy as np
import pytest
from fixtures import make_midi, progression_audio, wav_bytes

from captune.extractors import emotion
from captune.extractors.analyze import analyze
from captune.pipelines import train_emotion

MAJOR = {"chords": [(48, 52, 55), (53, 57, 60), (55, 59, 62), (48, 52, 55)],       # C F G C
         "scale": [72, 74, 76, 77, 79, 77, 76, 74]}                               # C5 D5 E5 F5 G5 ...
MINOR = {"chords": [(45, 48, 52), (50, 53, 57), (52, 55, 59), (45, 48, 52)],       # Am Dm Em Am
         "scale": [69, 71, 72, 74, 76, 74, 72, 71]}                               # A4 B4 C5 D5 E5 ...
CHROMATIC = {"chords": [(45, 48, 51), (46, 50, 54), (44, 47, 50), (45, 48, 51)],  # Adim Bbaug G#dim Adim
             "scale": [69, 70, 71, 72, 73, 72, 71, 70]}                           # A4 Bb4 B4 C5 C#5 ...


def emotion_piece(major: bool, excited: bool, shift: int = 0, tempo_jitter: float = 0.0,
                  velocity_jitter: int = 0, k: dict | None = None) -> bytes:
    """Four bars of block chords and a melody. ``excited``: fast (160 bpm), loud (velocity 110),
    staccato eighth notes; otherwise slow (60 bpm), quiet (velocity 40), legato half notes.
    ``k``: chords and melody (default :data:`MAJOR` or :data:`MINOR` by ``major``)."""
    k = k or (MAJOR if major else MINOR)
    vel = (110 if excited else 40) + velocity_jitter
    bpm = (160 if excited else 60) * (1 + tempo_jitter)
    chords = [(bar * 4.0, 4.0, p + shift, vel) for bar, chord in enumerate(k["chords"]) for p in chord]
    step, dur = (0.5, 0.25) if excited else (2.0, 2.0)
    n = int(16 / step)
    tune = [(i * step, dur, k["scale"][i % len(k["scale"])] + shift, vel) for i in range(n)]
    return make_midi([(0, False, chords), (0, False, tune)], tempo_bpm=bpm)


def facts_of(data: bytes, model=None) -> dict:
    return analyze(data, "piece.mid", emotion_model=model)


@pytest.mark.parametrize("major, excited, expected", [
    (True, True, 1),    # fast loud major: happy
    (False, False, 3),  # slow quiet minor: sad
    (True, False, 4),   # slow quiet major: calm / tender
])
def test_default_model_known_quadrants(major, excited, expected):
    f = facts_of(emotion_piece(major, excited))
    assert f["key"] == ("C major" if major else "A minor")
    assert f["emotion_quadrant"] == expected
    assert -1 <= f["valence"] <= 1 and -1 <= f["arousal"] <= 1
    assert abs(f["arousal"]) > 0.5  # tempo, loudness and articulation all agree: far from neutral
    assert f["mood"] and f["mood"][0] == {1: "joyful", 2: "tense", 3: "melancholic", 4: "serene"}[expected]


def test_fast_loud_chromatic_piece_is_tense():
    """Fast, loud, staccato and atonal (anger/fear cues in Gabrielsson & Lindström 2010): −V+A.
    Its key finder's r is far below the 0.8 of a scale used evenly, so key clarity pulls
    valence down by several steps of 0.38, more than the fast tempo and high register (about
    +0.6) push it up."""
    f = facts_of(emotion_piece(False, True, k=CHROMATIC))
    assert f["key_confidence"] < 0.5
    assert f["emotion_quadrant"] == 2 and f["mood"][0] == "tense"


def test_fast_minor_is_happier_than_slow_minor():
    """Tempo raises valence (Gagnon & Peretz 2003: fast minor is heard as happier than slow minor)."""
    fast, slow = facts_of(emotion_piece(False, True)), facts_of(emotion_piece(False, False))
    assert fast["valence"] > slow["valence"] and slow["valence"] < 0


def test_key_clarity_feature_and_weight():
    """``key_clarity`` is the symbolic key finder's r; recordings and keyless pieces have none.
    By hand: at the centre (r 0.8) nothing is left (no positivity offset): valence 0; one step
    clearer (r 0.9) adds 0.38; one step more chromatic (r 0.7) takes 0.38 off."""
    f = facts_of(emotion_piece(True, True))
    assert emotion.features(f)["key_clarity"] == pytest.approx(f["key_confidence"])
    assert emotion.features({"note_stats": {"note_count": 3}, "key": None})["key_clarity"] is None
    audio = {"key": "A minor", "key_confidence": 0.9, "audio_stats": {"onset_rate": 2.0}}
    assert emotion.features(audio)["key_clarity"] is None and emotion.features(audio)["mode"] == pytest.approx(-0.9)
    for r, z in ((0.8, 0.0), (0.9, 0.38), (0.7, -0.38)):
        v, a = emotion.default_model({"key_clarity": r})
        assert v == pytest.approx(math.tanh(z)) and a == pytest.approx(0.0)
    chromatic = emotion.features(facts_of(emotion_piece(False, True, k=CHROMATIC)))
    assert chromatic["key_clarity"] < emotion.features(facts_of(emotion_piece(False, True)))["key_clarity"]


def test_features_read_the_facts():
    f = facts_of(emotion_piece(True, True))
    feats = emotion.features(f)
    assert set(feats) == set(emotion.FEATURES)
    assert feats["mode"] == pytest.approx(f["key_confidence"])
    assert feats["log2_tempo"] == pytest.approx(math.log2(160), abs=0.01)
    assert feats["velocity"] == pytest.approx(110)
    assert feats["legato"] < 0.8  # staccato melody over held chords
    minor = emotion.features(facts_of(emotion_piece(False, False)))
    assert minor["mode"] < 0 and minor["legato"] == pytest.approx(1.0)


def test_quadrant_convention_and_mood_words():
    assert [emotion.quadrant(*p) for p in ((0.5, 0.5), (-0.5, 0.5), (-0.5, -0.5), (0.5, -0.5))] == [1, 2, 3, 4]
    assert emotion.quadrant(0.0, 0.0) == 1
    assert emotion.mood_words(0.05, -0.05) == ["gentle"]
    assert emotion.mood_words(0.3, 0.9) == ["joyful", "energetic"]
    assert emotion.mood_words(-0.8, -0.2) == ["melancholic", "sad"]
    assert emotion.mood_words(0.3, 0.2, {"note_stats": {"legato": 0.5}}) == ["joyful", "playful"]


def test_a_value_that_rounds_to_zero_is_zero_not_minus_zero():
    spec = emotion.DEFAULT_MODEL.to_dict()
    spec["valence"] = {"weights": {}, "intercept": -1e-6, "link": "tanh"}   # tanh(-1e-6) rounds to -0.0
    out = emotion.estimate({"note_stats": {"note_count": 10}}, spec)
    assert math.copysign(1.0, out["valence"]) == 1.0 and out["emotion_quadrant"] in (1, 4)


def test_no_notes_means_no_emotion():
    assert emotion.estimate({"note_stats": {"note_count": 0}}) == {
        "valence": None, "arousal": None, "emotion_quadrant": None, "mood": None}


def test_missing_facts_contribute_nothing():
    # a score without a tempo mark: no tempo term, the rest still counts (mode 0.9; no intercept)
    v, a = emotion.default_model({"mode": 1.0, "log2_tempo": None})
    assert v == pytest.approx(math.tanh(0.9)) and a == pytest.approx(0.0)


def test_json_round_trip_gives_identical_predictions(tmp_path):
    path = tmp_path / "default.json"
    emotion.DEFAULT_MODEL.save(str(path))
    loaded = emotion.LinearEmotionModel.load(str(path))
    for major in (True, False):
        for excited in (True, False):
            feats = emotion.features(facts_of(emotion_piece(major, excited)))
            assert loaded.predict(feats) == emotion.DEFAULT_MODEL.predict(feats)
    assert json.loads(path.read_text())["format"] == "captune-emotion-linear"


def test_a_bad_model_is_refused():
    with pytest.raises(emotion.ModelError, match="format"):
        emotion.LinearEmotionModel.from_json('{"weights": {}}')
    spec = emotion.DEFAULT_MODEL.to_dict()
    spec["valence"]["weights"]["loudness_of_the_moon"] = 1.0
    with pytest.raises(emotion.ModelError, match="unknown feature"):
        emotion.LinearEmotionModel.from_dict(spec)


def test_a_model_passed_as_json_text_changes_the_answer():
    sad = emotion.DEFAULT_MODEL.to_dict()
    sad["valence"] = {"weights": {}, "intercept": -2.0, "link": "tanh"}
    sad["arousal"] = {"weights": {}, "intercept": -2.0, "link": "tanh"}
    f = facts_of(emotion_piece(True, True), model=json.dumps(sad))
    assert f["emotion_quadrant"] == 3 and f["valence"] == pytest.approx(math.tanh(-2), abs=1e-4)


def labelled_set(root, quadrants: bool = False) -> str:
    """24 generated pieces labelled by construction (6 per quadrant, shifted and jittered), and their CSV."""
    (root / "midi").mkdir()
    rows = []
    for i in range(24):
        major, excited = bool(i % 2), bool((i // 2) % 2)
        data = emotion_piece(major, excited, shift=(i % 5) - 2, tempo_jitter=0.04 * ((i % 3) - 1),
                             velocity_jitter=(i % 7) - 3)
        name = f"midi/piece_{i:02d}.mid"
        (root / name).write_bytes(data)
        v, a = (1 if major else -1), (1 if excited else -1)
        rows.append([name, emotion.quadrant(v, a)] if quadrants else [name, v, a])
    path = root / "labels.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "quadrant"] if quadrants else ["path", "valence", "arousal"])
        w.writerows(rows)
    return str(path)


@pytest.mark.parametrize("quadrants", [False, True])
def test_train_emotion_fits_and_saves_a_model(tmp_path, capsys, quadrants):
    labels = labelled_set(tmp_path, quadrants)
    out = tmp_path / "model.json"
    assert train_emotion.main([labels, "--output", str(out), "--cv", "3"]) == 0
    printed = capsys.readouterr().out
    assert "3-fold cross-validation" in printed and "majority" in printed
    spec = json.loads(out.read_text())  # plain JSON, no pickle
    assert spec["format"] == "captune-emotion-linear" and spec["valence"]["link"] == "logistic"
    model = emotion.LinearEmotionModel.load(str(out))
    items, feats = train_emotion.feature_rows(train_emotion.read_labels(labels))
    acc = train_emotion.scores(model.predict, feats, [i["valence"] for i in items], [i["arousal"] for i in items])
    assert acc["valence"] >= 0.9 and acc["arousal"] >= 0.9 and acc["quadrant"] >= 0.85


def test_read_labels_rejects_bad_rows(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("path,quadrant\na.mid,5\n")
    with pytest.raises(SystemExit, match="line 2"):
        train_emotion.read_labels(str(path))
    path.write_text("path,happiness\na.mid,1\n")
    with pytest.raises(SystemExit, match="valence,arousal or quadrant"):
        train_emotion.read_labels(str(path))


def test_shards_written_before_pitch_mean_legato_and_onset_density_still_load():
    import pyarrow as pa

    from captune.schemas.loader import upgrade
    from captune.schemas.record import NOTE_STATS, SCHEMA, to_table

    row = {"id": "a", "source_id": "s", "source_uri": "x.mid", "modality": "midi", "group_id": "s", "split": "train",
           "variant": {"kind": "original"}, "media": {"bytes": b"", "path": "x.mid"}, "duration_s": 1.0,
           "duration_word": "Short fragment", "caption": "A short piece.", "caption_source": "template",
           "pipeline_version": "0", "schema_version": "1",
           "note_stats": {"note_count": 3, "pitch_min": 60, "pitch_max": 64, "mean_velocity": 80.0,
                          "note_density": 1.0, "polyphony": 1.0, "pitch_mean": 62.0, "legato": 1.0}}
    table = to_table([row])
    old_type = pa.struct([f for f in NOTE_STATS if f.name not in ("pitch_mean", "legato", "onset_density")])
    i = table.schema.get_field_index("note_stats")
    old = table.set_column(i, pa.field("note_stats", old_type), table.column("note_stats").cast(old_type))
    loaded = upgrade(old)
    assert loaded.schema.equals(SCHEMA, check_metadata=False)
    stats = loaded.column("note_stats").to_pylist()[0]
    assert stats["note_count"] == 3 and stats["pitch_mean"] is None and stats["legato"] is None
    assert stats["onset_density"] is None


@pytest.mark.parametrize("labels, bpm, beats_per_chord, peak, quadrant", [
    (["C", "F", "G", "C"], 160, 2, 0.9, 1),    # fast, loud, major: +V+A
    (["Am", "Dm", "E", "Am"], 60, 4, 0.03, 3),  # slow, quiet (about -47 LUFS), minor: -V-A
])
def test_recordings_land_in_their_quadrant(labels, bpm, beats_per_chord, peak, quadrant):
    """The audio path: mode, tempo, loudness and onset rate from synthesized recordings."""
    y, _ = progression_audio(labels, bpm=bpm, beats_per_chord=beats_per_chord, repeats=3)
    facts = analyze(wav_bytes(y / np.abs(y).max() * peak), "recording.wav")
    assert facts["note_stats"] is None and facts["audio_stats"]["onset_rate"] > 0
    assert facts["emotion_quadrant"] == quadrant, (facts["valence"], facts["arousal"])


def test_slow_soft_minor_piece_is_never_joyful():
    """The literature's sad prototype (slow, soft, legato, minor) reads −V−A whatever its
    transposition: never a joyful or other quadrant-1 word."""
    for shift in range(-3, 4):
        f = facts_of(emotion_piece(False, False, shift=shift))
        assert f["emotion_quadrant"] == 3 and f["valence"] < 0, shift
        assert not {"joyful", "cheerful", "energetic", "playful"} & set(f["mood"])


def test_a_four_part_chorale_texture_is_not_excited():
    """Four voices in quarter notes at 120 bpm, mezzo forte, legato: 8 notes but 2 events a second,
    below the centre (eighths at 100 bpm, 10/3 events a second), so calm; its event density is its
    soprano's alone (the texture's thickness is no arousal cue)."""
    chords = [(48, 55, 64, 72), (53, 57, 60, 69), (55, 59, 62, 71), (48, 55, 64, 72)] * 4
    voices = [[(float(i), 1.0, chord[v], 64) for i, chord in enumerate(chords)] for v in range(4)]
    choir = facts_of(make_midi([(52, False, notes) for notes in voices], tempo_bpm=120))
    soprano = facts_of(make_midi([(52, False, voices[3])], tempo_bpm=120))
    assert emotion.features(choir)["log2_events"] == pytest.approx(1.0, abs=0.01)   # 2 events / s
    assert emotion.features(choir)["log2_events"] == emotion.features(soprano)["log2_events"]
    assert choir["arousal"] < 0 and choir["emotion_quadrant"] in (3, 4), choir["arousal"]


QUADRANT_WORDS = {1: {"joyful", "energetic", "cheerful", "playful"}, 2: {"tense", "agitated", "dark"},
                  3: {"melancholic", "somber", "sad"}, 4: {"serene", "calm", "tender"}}


def test_mood_words_agree_with_the_quadrant():
    grid = np.linspace(-1, 1, 41)
    for v in grid:
        for a in grid:
            words = set(emotion.mood_words(v, a, {"note_stats": {"legato": 0.5}}))
            if words == {"gentle"}:
                assert abs(v) < emotion.NEUTRAL and abs(a) < emotion.NEUTRAL
            else:
                assert words <= QUADRANT_WORDS[emotion.quadrant(v, a)], (v, a, words)


def test_a_score_without_dynamics_has_no_loudness_cue():
    f = {"note_stats": {"note_count": 8, "mean_velocity": 90.0}, "dynamics_known": False}
    assert emotion.features(f)["velocity"] is None
    assert emotion.features({**f, "dynamics_known": True})["velocity"] == 90.0


def test_dissonance_is_the_share_of_diminished_and_augmented_chord_time():
    chords = [{"start_s": 0.0, "end_s": 3.0, "label": "C"}, {"start_s": 3.0, "end_s": 4.0, "label": "Bdim"},
              {"start_s": 4.0, "end_s": 6.0, "label": "N"}]
    assert emotion.features({"chords": chords})["dissonance"] == pytest.approx(0.25)
    assert emotion.features({"chords": []})["dissonance"] is None


def test_changing_a_models_dict_leaves_the_model_as_it_was():
    spec = emotion.DEFAULT_MODEL.to_dict()
    spec["valence"]["weights"]["mode"] = 99.0
    assert emotion.DEFAULT_MODEL.to_dict()["valence"]["weights"]["mode"] != 99.0
