"""MIDI bytes → :class:`Audio` with FluidSynth, the soundfont loaded once per process.

Conventions: output as :mod:`.decode` (mono float32, ``sr`` Hz, default 44100):
FluidSynth's stereo float output (reverb and chorus at FluidSynth's defaults,
gain ``GAIN``, as the ``fluidsynth`` CLI) averaged to mono. The notes come from
:func:`captune.extractors.midi.from_midi_bytes` (its tempo map gives the
seconds): each track plays on its own channel with its GM program; drum tracks
(program 128) take bank 128, preset 0 (the standard kit). Controllers and pitch
bends are not played. ``RELEASE_S`` of release tail follows the last note off.

The soundfont is loaded once per (soundfont, rate) by a synthesizer kept
for the life of the process (:func:`load_count` counts the loads). Each render
runs on a fresh synthesizer that borrows the loaded soundfont
(``fluid_synth_add_sfont``), so no reverb, chorus or voice state carries over:
the same bytes always give the same samples. Default soundfont: the first of
``SOUNDFONTS`` that exists; none: ``BadInput('no_soundfont')``. MIDI that cannot
be read raises the MIDI decoder's ``BadInput``.
"""

import ctypes
import os
import threading
from functools import lru_cache

import numpy as np

from captune.extractors.audio.decode import SR, Audio
from captune.extractors.errors import BadInput
from captune.extractors.midi import from_midi_bytes
from captune.extractors.midi.piece import DRUM_PROGRAM

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
GAIN = 0.2
MAX_CHANNELS = 256  # FluidSynth's limit; tracks beyond it share channels (track index modulo 256)
RELEASE_S = 1.0
_FLUID_WARN = 2  # FluidSynth log level whose messages (no preset before the soundfont is added) are muted
_LOADED: dict = {}  # (soundfont, sr) -> (holder synth, fluid_sfont_t pointer)
_LOCK = threading.Lock()
_loads = 0


def load_count() -> int:
    """How many times this process has loaded a soundfont."""
    return _loads


def default_soundfont() -> str:
    """The first installed soundfont of ``SOUNDFONTS``; ``BadInput('no_soundfont')`` if none."""
    for path in SOUNDFONTS:
        if os.path.exists(path):
            return path
    raise BadInput("no_soundfont", f"none of {', '.join(SOUNDFONTS)} exists; pass soundfont=", stage="decode")


@lru_cache(maxsize=None)
def _library():
    """pyfluidsynth and its C library, with the calls it does not wrap declared (soundfont sharing, float
    output) and its warnings muted; ``BadInput('no_synthesizer')`` without pyfluidsynth or libfluidsynth."""
    try:
        import fluidsynth
    except ImportError as exc:
        raise BadInput("no_synthesizer", f"FluidSynth is not available: {exc}", stage="decode") from None
    lib = fluidsynth._fl
    for name in ("fluid_synth_add_sfont", "fluid_synth_remove_sfont"):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        getattr(lib, name).restype = ctypes.c_int
    lib.fluid_synth_write_float.argtypes = [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p, ctypes.c_int,
                                                                              ctypes.c_int] * 2
    lib.fluid_synth_write_float.restype = ctypes.c_int
    lib.fluid_set_log_function.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    lib.fluid_set_log_function(_FLUID_WARN, None, None)
    return fluidsynth, lib


def _soundfont(soundfont: str, sr: int):
    """The loaded ``soundfont`` (a ``fluid_sfont_t`` pointer) for rate ``sr``, loaded on first use."""
    global _loads
    if (soundfont, sr) not in _LOADED:
        if not os.path.isfile(soundfont):
            raise BadInput("no_soundfont", f"no soundfont at {soundfont}", stage="decode")
        fluidsynth, _ = _library()
        holder = fluidsynth.Synth(gain=GAIN, samplerate=float(sr), channels=16)
        sfid = holder.sfload(soundfont)
        if sfid < 0:
            raise BadInput("no_soundfont", f"FluidSynth cannot load {soundfont}", stage="decode")
        _loads += 1
        _LOADED[(soundfont, sr)] = (holder, fluidsynth.fluid_synth_get_sfont_by_id(holder.synth, sfid))
    return _LOADED[(soundfont, sr)][1]


def _events(data: bytes, sr: int) -> tuple[np.ndarray, list[int], int]:
    """(events sorted by time, program per track, end sample): rows (sample, on 1 / off 0, channel, pitch,
    velocity); note offs sort before note ons at the same sample."""
    piece = from_midi_bytes(data)
    on = np.round(piece.seconds(piece.onset) * sr).astype(np.int64)
    off = np.maximum(np.round(piece.seconds(piece.onset + piece.duration) * sr).astype(np.int64), on + 1)
    channel = piece.track.astype(np.int64) % MAX_CHANNELS
    pitch, velocity = piece.pitch.astype(np.int64), piece.velocity.astype(np.int64)
    n = len(on)
    events = np.column_stack([np.concatenate([on, off]), np.repeat([1, 0], n), np.tile(channel, 2),
                              np.tile(pitch, 2), np.tile(velocity, 2)])
    events = events[np.lexsort((events[:, 1], events[:, 0]))]
    end = int(off.max() if n else 0) + int(RELEASE_S * sr)
    return events, piece.track_program.astype(int).tolist(), end


def _pull(synth, frames: int) -> np.ndarray:
    """``frames`` stereo frames from ``synth`` (``fluid_synth_write_float``, interleaved) as mono float32."""
    if frames <= 0:
        return np.zeros(0, np.float32)
    out = np.empty(2 * frames, np.float32)
    address = out.ctypes.data
    _library()[1].fluid_synth_write_float(synth.synth, frames, address, 0, 2, address, 1, 2)
    return out.reshape(-1, 2).mean(axis=1)


def _play(synth, events: np.ndarray, end: int) -> np.ndarray:
    """Send ``events`` to ``synth`` at their samples and return its mono output up to sample ``end``."""
    parts, now = [], 0
    for sample, is_on, chan, pitch, velocity in events.tolist():
        parts.append(_pull(synth, sample - now))
        now = sample
        if is_on:
            synth.noteon(chan, pitch, velocity)
        else:
            synth.noteoff(chan, pitch)
    parts.append(_pull(synth, end - now))
    return np.concatenate(parts)


def render_midi(data: bytes, soundfont: str | None = None, sr: int = SR) -> Audio:
    """Render MIDI ``data`` to mono audio at ``sr`` Hz (see module doc)."""
    events, programs, end = _events(data, sr)
    soundfont = soundfont or default_soundfont()
    with _LOCK:
        sfont = _soundfont(soundfont, sr)
        fluidsynth, lib = _library()
        channels = min(16 * (len(programs) // 16 + 1), MAX_CHANNELS)
        synth = fluidsynth.Synth(gain=GAIN, samplerate=float(sr), channels=channels)
        try:
            sfid = lib.fluid_synth_add_sfont(synth.synth, sfont)
            for chan, program in enumerate(programs[:MAX_CHANNELS]):
                drums = program == DRUM_PROGRAM
                synth.program_select(chan, sfid, 128 if drums else 0, 0 if drums else program)
            samples = _play(synth, events, end)
        finally:
            lib.fluid_synth_remove_sfont(synth.synth, sfont)
            synth.delete()
    return Audio(samples, sr, sr, 1)
