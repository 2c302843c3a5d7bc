"""Audio extractors on known answers synthesized here with numpy (and MIDI written
with mido through tests/fixtures.py, rendered with FluidSynth).

Fixtures are built from music theory: a chord is additive harmonic tones on its
pitches (equal temperament, A4 = 440 Hz) with its root an octave or two below,
a decaying click marks every beat; so a progression's key, tempo and chords are
known before any extractor runs.
"""

import numpy as np
import pytest

from captune.extractors import midi
from captune.extractors.audio import Audio, clips, extract, from_audio_bytes, render_midi, to_flac_bytes
from captune.extractors.audio.render import load_count
from captune.extractors.errors import BadInput
from fixtures import (SR, PIANO, chord_voicing, click, float_wav_bytes, make_midi, melody, notes, progression_audio, progression_piece,
                      sine, wav_bytes)

def agreement(segments: list[dict], spans: list) -> float:
    """Share of the expected spans' time on which the estimated label is the expected one (10 ms grid)."""
    right = total = 0
    for start, end, label in spans:
        for t in np.arange(start, end, 0.01):
            total += 1
            right += any(s["start_s"] <= t < s["end_s"] and s["label"] == label for s in segments)
    return right / total


# --- facts on synthesized progressions -------------------------------------------------

@pytest.fixture(scope="module")
def a_minor():
    y, spans = progression_audio(["Am", "Dm", "E", "Am"], bpm=100)
    return extract(Audio(y)), spans


@pytest.fixture(scope="module")
def c_major():
    y, spans = progression_audio(["C", "F", "G", "C"], bpm=120)
    return extract(Audio(y)), spans


def test_a_minor_progression_key_tempo_chords(a_minor):
    facts, spans = a_minor
    assert facts["key"] == "A minor"
    assert facts["key_alternative"] not in (None, "A minor")
    assert 0 < facts["key_confidence"] <= 1
    assert abs(facts["tempo_bpm"] - 100) / 100 <= 0.04
    assert facts["tempo_word"] == "Moderato"  # 90 < 100 <= 110
    assert facts["tempo_changes"] == [{"time_s": 0.0, "bpm": facts["tempo_bpm"]}]
    assert facts["tempo_source"] == "audio"
    assert agreement(facts["chords"], spans) >= 0.75
    assert facts["chord_summary"] == ["Am", "Dm", "E"]  # Am Dm E Am | Am ...: Am repeats collapse
    assert facts["chord_summary_count"] >= 2


def test_c_major_progression_key_tempo_chords(c_major):
    facts, spans = c_major
    assert facts["key"] == "C major"
    assert abs(facts["tempo_bpm"] - 120) / 120 <= 0.04
    assert agreement(facts["chords"], spans) >= 0.75
    assert set(facts["chord_summary"]) == {"C", "F", "G"}


def test_beats_follow_the_clicks(c_major):
    facts, _ = c_major
    beats = np.asarray(facts["beats_s"])
    clicks = np.arange(0, 12 * 4) * 0.5  # 12 chords of 4 beats at 120 bpm
    inside = beats[beats < clicks[-1]]
    assert len(inside) >= 0.9 * len(clicks)
    assert np.all(np.min(np.abs(inside[:, None] - clicks[None, :]), axis=1) < 0.07)


def test_downbeats_fall_where_the_chords_change(a_minor):
    facts, _ = a_minor
    bar = 4 * 60 / 100  # every chord holds one 4-beat bar at 100 bpm
    downbeats = np.asarray(facts["downbeats_s"])
    assert len(downbeats) >= 10
    assert np.all(np.abs(downbeats / bar - np.round(downbeats / bar)) * bar < 0.07)
    assert set(np.round(np.diff(downbeats) / (bar / 4)).astype(int)) == {4}


def test_facts_have_the_midi_paths_keys_and_the_audio_ones(c_major):
    facts, _ = c_major
    midi_facts = midi.extract(midi.from_midi_bytes(progression_piece()))
    emotion_keys = {"valence", "arousal", "emotion_quadrant", "mood"}
    assert set(midi_facts) - emotion_keys <= set(facts)
    assert {"loudness_lufs", "loudness_range_lu", "audio_stats"} >= set(facts) - set(midi_facts) \
        >= {"loudness_range_lu", "audio_stats"}
    for absent in ("time_signature", "instruments", "instrument_programs", "note_stats"):
        assert facts[absent] is None
    assert facts["duration_s"] == pytest.approx(12 * 2.0 + 1.0, abs=0.01)
    assert facts["duration_word"] == "Short fragment"
    assert set(facts["audio_stats"]) == {"spectral_centroid_hz", "onset_rate", "dynamic_complexity_db"}


# --- loudness and statistics -------------------------------------------------------------

def test_loudness_of_sines_follows_bs1770():
    # BS.1770: a full-scale 1 kHz sine in one channel reads -3.01 LKFS; in both channels 0.
    # Mono is fed to both, so a -20 dBFS sine reads -20 LUFS; +6 dB of gain adds 6 LU.
    quiet = extract(Audio(sine(997, 6.0, 0.1).astype(np.float32)))
    loud = extract(Audio(sine(997, 6.0, 0.2).astype(np.float32)))
    assert quiet["loudness_lufs"] == pytest.approx(-20.0, abs=0.3)
    assert loud["loudness_lufs"] - quiet["loudness_lufs"] == pytest.approx(20 * np.log10(2), abs=0.05)
    assert quiet["loudness_range_lu"] < 0.5  # a steady tone has no loudness range


def test_spectral_centroid_and_onset_rate_of_known_signals():
    stats = extract(Audio(sine(1000, 4.0, 0.3).astype(np.float32)))["audio_stats"]
    assert stats["spectral_centroid_hz"] == pytest.approx(1000, rel=0.05)  # one partial: its frequency
    y = np.zeros(8 * SR)
    for t in np.arange(0.25, 8.0, 0.5):  # 16 clicks in 8 s: 2 onsets per second
        y[int(t * SR):int(t * SR) + int(0.05 * SR)] += click(0.05)
    rate = extract(Audio((0.5 * y).astype(np.float32)))["audio_stats"]["onset_rate"]
    assert rate == pytest.approx(2.0, rel=0.15)


# --- decoding ----------------------------------------------------------------------------

def test_stereo_48k_wav_decodes_to_mono_44k_with_the_right_duration_and_pitch():
    left = sine(440, 2.0, 0.5, 48000)
    stereo = np.column_stack([left, np.zeros_like(left)])  # the right channel silent
    audio = from_audio_bytes(wav_bytes(stereo, 48000, 2), ".wav")
    assert (audio.sr, audio.source_rate, audio.source_channels) == (44100, 48000, 2)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.duration_s == pytest.approx(2.0, abs=1e-3)
    spectrum = np.abs(np.fft.rfft(audio.samples))
    assert np.fft.rfftfreq(len(audio.samples), 1 / SR)[spectrum.argmax()] == pytest.approx(440, abs=1)
    assert np.abs(audio.samples).max() == pytest.approx(0.25, abs=0.01)  # the mean of the two channels


def test_flac_round_trip():
    y = sine(440, 1.5, 0.5).astype(np.float32)
    flac = to_flac_bytes(Audio(y))
    assert flac[:4] == b"fLaC"
    back = from_audio_bytes(flac, ".flac")
    assert len(back.samples) == len(y)
    assert np.abs(back.samples - y).max() <= 1.5 / 32768  # 16-bit quantisation


def _reason(data: bytes, suffix: str = ".wav", **kwargs) -> str:
    with pytest.raises(BadInput) as info:
        from_audio_bytes(data, suffix, **kwargs)
    assert info.value.stage == "decode"
    return info.value.reason


def test_bad_inputs_raise_bad_input_with_their_reason():
    good = wav_bytes(sine(440, 2.0, 0.5))
    assert _reason(b"") == "empty_file"
    assert _reason(good[:len(good) // 2]) == "decode_error"  # cut inside the data chunk
    assert _reason(good[:30]) == "decode_error"              # cut inside the header
    for seed, suffix in ((0, ".wav"), (2, ".mp3"), (3, ".ogg")):
        # (bytes opening with an MPEG sync word, 0xFFE, would decode as a few MPEG frames: not tested)
        assert _reason(np.random.default_rng(seed).bytes(4000), suffix) == "decode_error"
    flac = to_flac_bytes(Audio(sine(440, 3.0, 0.5).astype(np.float32)))
    assert _reason(flac[:len(flac) // 2], ".flac") == "decode_error"
    assert _reason(wav_bytes(np.zeros(0))) == "no_audio"
    assert _reason(wav_bytes(np.zeros(SR))) == "silent"
    assert _reason(wav_bytes(sine(440, 1.0, 10 ** (-70 / 20)))) == "silent"  # -70 dBFS
    with_nan = sine(440, 1.0, 0.5)
    with_nan[1000:1100] = np.nan
    assert _reason(float_wav_bytes(with_nan)) == "nan_samples"
    assert _reason(good, max_duration_s=1.5) == "too_long"
    assert from_audio_bytes(good, ".wav", max_duration_s=2.5).duration_s == pytest.approx(2.0, abs=1e-3)


def test_extract_refuses_audio_too_short_to_analyse():
    with pytest.raises(BadInput) as info:
        extract(Audio(sine(440, 0.5, 0.3).astype(np.float32)))
    assert (info.value.reason, info.value.stage) == ("too_short", "extract")


def test_quiet_but_audible_audio_is_not_silent():
    audio = from_audio_bytes(wav_bytes(sine(440, 1.0, 10 ** (-50 / 20))), ".wav")  # -50 dBFS
    assert audio.duration_s == pytest.approx(1.0, abs=1e-3)


# --- clips -------------------------------------------------------------------------------

@pytest.mark.parametrize("seconds, offsets, last", [
    (25.0, [0.0, 10.0, 20.0], 5.0),   # a 5 s tail is half a clip: kept
    (24.0, [0.0, 10.0], 10.0),        # a 4 s tail is dropped
    (30.0, [0.0, 10.0, 20.0], 10.0),
    (3.0, [0.0], 3.0),                # shorter than a clip: one clip
])
def test_clips(seconds, offsets, last):
    audio = Audio(np.arange(int(seconds * SR), dtype=np.float32))
    got = clips(audio, 10.0)
    assert [offset for offset, _ in got] == offsets
    assert got[-1][1].duration_s == pytest.approx(last)
    for offset, clip in got:
        assert clip.samples[0] == offset * SR  # the ramp's value is its sample index


# --- rendering MIDI ----------------------------------------------------------------------

SCALE = notes("C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5", "B4", "A4", "G4", "F4", "E4", "D4", "C4")


def scale_midi() -> bytes:
    """A C major scale up and down in quarter notes at 120 bpm (15 notes: 7.5 s), then the tonic
    triad held two beats: 9.5 s of music."""
    tracks = [(PIANO, False, melody(SCALE) + [(15.0, 4.0, p, 80) for p in chord_voicing("C", 4)])]
    return make_midi(tracks, tempo_bpm=120)


def test_render_midi_scale_is_c_major_of_the_right_length():
    audio = render_midi(scale_midi())
    assert audio.sr == SR and audio.samples.dtype == np.float32
    assert audio.duration_s == pytest.approx(9.5 + 1.0, abs=0.02)  # music + 1 s release tail
    assert np.abs(audio.samples).max() > 0.01
    assert extract(audio)["key"] == "C major"


def test_render_midi_loads_the_soundfont_once_and_is_deterministic():
    first = render_midi(scale_midi())
    loads = load_count()
    assert loads >= 1
    other = render_midi(progression_piece())  # drums, bass and piano
    again = render_midi(scale_midi())
    assert load_count() == loads
    assert np.array_equal(first.samples, again.samples)
    assert not np.array_equal(first.samples[:len(other.samples)], other.samples[:len(first.samples)])


def test_render_midi_bad_soundfont_and_bad_midi():
    with pytest.raises(BadInput) as info:
        render_midi(scale_midi(), soundfont="/nonexistent/none.sf2")
    assert info.value.reason == "no_soundfont"
    with pytest.raises(BadInput):
        render_midi(b"not a midi file")
