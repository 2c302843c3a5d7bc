"""Audio bytes → mono 44.1 kHz samples, clips of it, and FLAC bytes back.

Conventions: :class:`Audio` holds ``samples`` as float32 mono in [-1, 1] at
``sr`` = 44100 Hz (librosa's ``y`` / ``sr``); ``duration_s`` = len / sr.
Decoding uses essentia's ``AudioLoader`` (ffmpeg: wav, flac, mp3, ogg, any rate;
one or two channels) on a temporary file, averages the channels and resamples with
a polyphase filter (``scipy.signal.resample_poly``, deterministic). essentia refuses
more than two channels: a PCM or float WAV with more is read by :func:`wav_samples`
(plain numpy) and mixed down the same way; any other format with more than two
channels is ``too_many_channels`` (convert it with ``ffmpeg -i in.flac -ac 2 out.flac``).

Bad input raises ``BadInput(reason, detail, stage='decode')``:

- ``empty_file``: no bytes;
- ``decode_error``: ffmpeg cannot open or decode it (random bytes, unsupported
  codec, a header cut short), or it is truncated: a WAV whose ``data`` chunk or
  a FLAC whose STREAMINFO sample count promises more than is there, or any
  other file but MPEG audio (whose stated length is an estimate) that decodes
  more than ``TRUNCATION_SLACK_S`` shorter than its container says.
  ffmpeg probes the content, not the suffix: bytes that open with an MPEG sync
  word decode as MPEG frames whatever the suffix, so random bytes are not
  always refused;
- ``no_audio``: zero samples (a WAV header declaring none, or nothing decoded);
- ``too_many_channels``: a FLAC, Ogg, MP3 … (not WAV) with more than two channels;
- ``nan_samples``: NaN or infinite samples;
- ``silent``: peak below ``SILENCE_DBFS`` (-60 dBFS: a 16-bit file's dither or
  hum stays below it, any music above);
- ``too_long``: over ``max_duration_s``, checked from the container's
  duration before the full decode when the container states it.
"""

import io
import math
import os
import tempfile
from dataclasses import dataclass

import essentia
import essentia.standard as es
import numpy as np
from scipy.signal import resample_poly

from captune.extractors.errors import BadInput

essentia.log.infoActive = False
essentia.log.warningActive = False

SR = 44100
SILENCE_DBFS = -60.0
TRUNCATION_SLACK_S = 1.5  # container durations are whole seconds


@dataclass(frozen=True)
class Audio:
    """Mono float32 ``samples`` at ``sr`` Hz, and what the source file was."""

    samples: np.ndarray
    sr: int = SR
    source_rate: int = SR
    source_channels: int = 1

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sr


def _declared_frames(data: bytes) -> int | None:
    """Sample frames a WAV ``data`` chunk or a FLAC STREAMINFO promises (None: not stated or unknown)."""
    if data[:4] == b"fLaC" and len(data) >= 26:  # a total of 0 means unknown
        return int.from_bytes(data[18:26], "big") & ((1 << 36) - 1) or None
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        pos, block_align = 12, None
        while pos + 8 <= len(data):
            chunk, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
            if chunk == b"fmt " and pos + 22 <= len(data):
                block_align = int.from_bytes(data[pos + 20:pos + 22], "little")
            if chunk == b"data":  # 0xFFFFFFFF: a streamed WAV that never filled in its size
                return size // block_align if block_align and size < 0xFFFFFFFF else None
            pos += 8 + size + (size & 1)
    return None


def wav_samples(data: bytes) -> tuple[np.ndarray, int] | None:
    """(samples as float64 frames x channels in [-1, 1], rate) of a PCM (8, 16, 24, 32 bit) or IEEE
    float (32, 64 bit) WAV, plain or WAVE_FORMAT_EXTENSIBLE; None for any other file."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        body = data[pos + 8:pos + 8 + size]
        if chunk == b"fmt " and len(body) >= 16:
            tag, channels, rate = (int.from_bytes(body[a:b], "little") for a, b in ((0, 2), (2, 4), (4, 8)))
            bits = int.from_bytes(body[14:16], "little")
            if tag == 0xFFFE and len(body) >= 26:
                tag = int.from_bytes(body[24:26], "little")  # the sub-format GUID starts with the tag
            fmt = (tag, channels, rate, bits)
        elif chunk == b"data" and fmt is not None:
            tag, channels, rate, bits = fmt
            width = bits // 8
            if channels < 1 or width < 1 or (tag, bits) not in ((1, 8), (1, 16), (1, 24), (1, 32), (3, 32), (3, 64)):
                return None
            frames = len(body) // (width * channels)
            raw = np.frombuffer(body[:frames * width * channels], np.uint8)
            if tag == 3:
                samples = raw.view("<f4" if bits == 32 else "<f8").astype(np.float64)
            elif bits == 8:
                samples = (raw.astype(np.float64) - 128) / 128
            elif bits == 24:
                b = raw.reshape(-1, 3).astype(np.int32)
                samples = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8) / 2 ** 23
            else:
                samples = raw.view("<i2" if bits == 16 else "<i4").astype(np.float64) / 2 ** (bits - 1)
            return samples.reshape(frames, channels), rate
        pos += 8 + size + (size & 1)
    return None


def _load(path: str, max_duration_s: float | None) -> tuple[np.ndarray, int, int, float]:
    """(stereo samples, rate, channels, stated duration s or 0) of the file at ``path``; the stated
    duration is 0 for MPEG audio, whose header gives only an estimate (exact for VBR files only with
    a Xing header)."""
    try:
        stated = float(es.MetadataReader(filename=path, failOnError=True)()[-4])
    except RuntimeError:
        stated = 0.0
    if max_duration_s is not None and stated > max_duration_s:
        raise BadInput("too_long", f"{stated:.0f} s is over the {max_duration_s:.0f} s limit")
    try:
        stereo, rate, channels, _, _, codec = es.AudioLoader(filename=path)()
    except RuntimeError as exc:
        message = str(exc).splitlines()[0].replace(path, "the file" + os.path.splitext(path)[1])
        if "more than 2 channels" in message:
            with open(path, "rb") as fh:
                wav = wav_samples(fh.read())
            if wav is not None:
                return wav[0], int(wav[1]), wav[0].shape[1], 0.0
            raise BadInput("too_many_channels", "more than 2 channels: essentia's decoder reads at most 2 (a WAV "
                                                "is read by captune itself); convert it to stereo") from None
        raise BadInput("decode_error", message[:200]) from None  # no temp path: records stay deterministic
    return stereo, int(rate), int(channels), 0.0 if codec.startswith("mp") else stated


def from_audio_bytes(data: bytes, suffix: str, max_duration_s: float | None = None) -> Audio:
    """Decode ``data`` (a file's bytes; ``suffix`` like ``'.ogg'`` tells ffmpeg the format) to :class:`Audio`."""
    if not data:
        raise BadInput("empty_file", "the file has no bytes")
    declared = _declared_frames(data)
    if declared == 0:
        raise BadInput("no_audio", "the file's header declares zero samples")
    fd, path = tempfile.mkstemp(suffix=suffix if suffix.startswith(".") else "." + suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        stereo, rate, channels, stated = _load(path, max_duration_s)
    finally:
        os.unlink(path)
    if declared is not None and len(stereo) < declared:
        raise BadInput("decode_error", f"truncated: {len(stereo)} of {declared} sample frames decoded")
    if stated and len(stereo) / max(rate, 1) < stated - TRUNCATION_SLACK_S:
        raise BadInput("decode_error", f"truncated: {len(stereo) / rate:.1f} s decoded of {stated:.0f} s")
    if not len(stereo):
        raise BadInput("no_audio", "the file decodes to zero samples")
    mono = stereo.mean(axis=1, dtype=np.float64) if channels > 1 else stereo[:, 0].astype(np.float64)
    if not np.isfinite(mono).all():
        raise BadInput("nan_samples", "the samples contain NaN or infinity")
    if rate != SR:
        g = math.gcd(rate, SR)
        mono = resample_poly(mono, SR // g, rate // g)
    audio = Audio(mono.astype(np.float32), SR, rate, channels)
    if max_duration_s is not None and audio.duration_s > max_duration_s:
        raise BadInput("too_long", f"{audio.duration_s:.0f} s is over the {max_duration_s:.0f} s limit")
    peak = float(np.abs(audio.samples).max())
    if peak < 10 ** (SILENCE_DBFS / 20):
        level = 20 * math.log10(peak) if peak > 0 else -math.inf
        raise BadInput("silent", f"peak {level:.1f} dBFS is below {SILENCE_DBFS:.0f} dBFS")
    return audio


def clips(audio: Audio, seconds: float) -> list[tuple[float, Audio]]:
    """``(offset_s, clip)`` for consecutive clips of ``seconds`` (MusicBench: 10 s).

    A tail shorter than half a clip is dropped; a longer tail is a shorter last clip.
    A file shorter than one clip is one clip, whatever its length.
    """
    if seconds <= 0:
        raise ValueError(f"clip length must be positive, got {seconds}")
    step = int(round(seconds * audio.sr))
    n = len(audio.samples)
    starts = [s for s in range(0, n, step) if s == 0 or n - s >= step / 2]
    return [(s / audio.sr, Audio(audio.samples[s:s + step], audio.sr, audio.source_rate, audio.source_channels))
            for s in starts]


def to_flac_bytes(audio: Audio) -> bytes:
    """16-bit mono FLAC of ``audio`` (pedalboard's encoder, in memory); samples clipped to [-1, 1]."""
    from pedalboard.io import AudioFile
    out = io.BytesIO()
    with AudioFile(out, "w", audio.sr, num_channels=1, bit_depth=16, format="flac") as fh:
        fh.write(np.clip(audio.samples, -1.0, 1.0)[None, :])
    return out.getvalue()
