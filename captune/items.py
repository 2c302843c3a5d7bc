"""One input file → the contents of its rows: decode, clip, render, extract, augment, verify.

Pure (no Beam); the pipeline calls :func:`process` once per distinct input file,
inside the isolated child process (:mod:`captune.pipelines.isolation`).

A file gives one or more *units*, each a future row ``{variant, clip_start_s,
media, facts, augmentation_check}``:

- MIDI and scores: one unit, ``media`` the file itself (a score's media is its
  own bytes too); with ``render_midi`` the piece is rendered with FluidSynth,
  ``media`` becomes that FLAC and the unit gains the audio's loudness, loudness
  range and audio statistics, while key, chords, tempo and beats stay the
  symbolic ones (exact, where audio analysis only estimates);
- audio: one unit per clip of ``clip_seconds`` (``clip_start_s`` its offset,
  ``media`` the clip as FLAC), or one for the whole recording (``media`` the
  file itself, ``clip_start_s`` None).

With ``augment`` set, every unit is followed by its MusicBench variants
(:func:`captune.augment.plan.variants`, drawn from (seed, source id)): MIDI is
transformed exactly, audio with Rubber Band; the facts are rewritten
analytically (:func:`captune.augment.labels.rewrite`) and the emotion model runs
again on them. With ``verify`` the variant's facts are also re-extracted from
its media and compared (:func:`captune.augment.verify.check`).

Every unit of a file shares the file's near-duplicate ``fingerprint``.

The audio modules (essentia, scipy, pedalboard: seconds to import) load on the
first audio item or rendering, so a MIDI-only run never pays for them.
"""

import os
from dataclasses import dataclass

from captune.augment import labels, plan, verify
from captune.augment.plan import ORIGINAL
from captune.augment import midi as midi_augment
from captune.extractors import emotion, fingerprint, midi
from captune.extractors.analyze import DEFAULT_MAX_DURATION_S, guarded, load_symbolic, modality_of
from captune.extractors.errors import BadInput
from captune.extractors.midi.key import DEFAULT_PROFILE

RENDERED_FACTS = ("loudness_lufs", "loudness_range_lu", "audio_stats")


@dataclass(frozen=True)
class Settings:
    """What to make of each file (picklable; sent to the child with every item)."""

    max_duration_s: float = DEFAULT_MAX_DURATION_S
    key_profile: str = DEFAULT_PROFILE
    emotion_model: str | None = None     # JSON text of a trained model; None: the default model
    clip_seconds: float | None = None    # audio clip length in seconds; None: whole files
    render_midi: bool = False
    soundfont: str | None = None
    augment: plan.Settings | None = None  # None: originals only
    verify: bool = False
    seed: int = 0


def process(data: bytes, name: str, source_id: str, settings: Settings = Settings()) -> dict:
    """``{'modality', 'duration_s', 'fingerprint', 'units': [...]}`` for the bytes of the file called ``name``.

    Raises :class:`BadInput` (stage ``decode`` or ``extract``) for a file that gives no row; a
    variant that cannot be made is a failure of the whole file too, so a dataset never holds
    half an augmentation set.
    """
    modality = modality_of(name)
    if modality == "audio":
        return guarded(_audio_units, data, name, source_id, settings)
    if modality in ("midi", "score"):
        return guarded(_symbolic_units, data, name, source_id, settings)
    raise BadInput("unsupported_format", f"no decoder for {os.path.splitext(name)[1] or 'a file without suffix'}")


def _unit(variant: dict, clip_start_s: float | None, media: dict, facts: dict) -> dict:
    """One future row (see module doc); ``augmentation_check`` is filled by ``--verify-augmentation``."""
    return {"variant": variant, "clip_start_s": clip_start_s, "media": media, "facts": facts,
            "augmentation_check": None}


def _with_emotion(facts: dict, settings: Settings) -> dict:
    return {**facts, **emotion.estimate(facts, settings.emotion_model)}


def _symbolic_units(data: bytes, name: str, source_id: str, settings: Settings) -> dict:
    modality = modality_of(name)
    smf, piece = load_symbolic(data, name, settings.max_duration_s)
    facts = midi.extract(piece, settings.key_profile, settings.emotion_model)
    stem = os.path.splitext(os.path.basename(name))[0]

    def unit(variant, midi_bytes, facts, media_name):
        media = {"bytes": midi_bytes, "path": media_name}
        if settings.render_midi:
            from captune.extractors import audio

            rendered = audio.render_midi(midi_bytes, settings.soundfont)
            sound = audio.extract(rendered)
            facts = {**facts, **{k: sound[k] for k in RENDERED_FACTS}}  # emotion reads the notes, not these
            media = {"bytes": audio.to_flac_bytes(rendered), "path": os.path.splitext(media_name)[0] + ".flac"}
        return _unit(variant, None, media, facts)

    units = [unit(ORIGINAL, smf, facts, os.path.basename(name))]
    for variant in _variants(source_id, facts["duration_s"], settings):
        changed = midi_augment.apply(smf, variant)
        expected = _with_emotion(labels.rewrite(facts, variant), settings)
        u = unit(variant, changed, expected, f"{stem}.{variant_tag(variant)}.mid")
        if settings.verify:
            again = midi.from_midi_bytes(changed, tempo_known=piece.tempo_known,
                                         pickup_quarters=piece.pickup_ticks / piece.tpq)
            found = midi.extract(again, settings.key_profile, settings.emotion_model)
            u["augmentation_check"] = verify.check(expected, found)
        units.append(u)
    return {"modality": modality, "duration_s": facts["duration_s"], "fingerprint": fingerprint.symbolic(piece),
            "units": units}


def _audio_units(data: bytes, name: str, source_id: str, settings: Settings) -> dict:
    from captune.augment import audio as audio_augment
    from captune.extractors import audio
    from captune.extractors.audio.chroma import CHROMA_SR, HOP, chromagram

    suffix = os.path.splitext(name)[1].lower()
    recording = audio.from_audio_bytes(data, suffix, settings.max_duration_s)
    stem = os.path.splitext(os.path.basename(name))[0]
    if settings.clip_seconds:
        pieces = audio.clips(recording, settings.clip_seconds)
    else:
        pieces = [(None, recording)]
    whole = chromagram(recording.samples, recording.sr)  # for the fingerprint, and a whole file's facts
    units = []
    for start, clip in pieces:
        facts = _with_emotion(audio.extract(clip, chroma=whole if start is None else None), settings)
        label = stem if start is None else f"{stem}.{start:.1f}s"
        media = ({"bytes": data, "path": os.path.basename(name)} if start is None
                 else {"bytes": audio.to_flac_bytes(clip), "path": f"{label}.flac"})
        units.append(_unit(ORIGINAL, start, media, facts))
        for variant in _variants(f"{source_id}:{start}", facts["duration_s"], settings):
            changed = audio.Audio(audio_augment.apply(clip.samples, clip.sr, variant), clip.sr)
            expected = _with_emotion(labels.rewrite(facts, variant), settings)
            u = _unit(variant, start, {"bytes": audio.to_flac_bytes(changed),
                                       "path": f"{label}.{variant_tag(variant)}.flac"}, expected)
            if settings.verify:
                u["augmentation_check"] = verify.check(expected, audio.extract(changed))
            units.append(u)
    return {"modality": "audio", "duration_s": round(recording.duration_s, 3),
            "fingerprint": fingerprint.from_chroma(whole[1], CHROMA_SR / HOP), "units": units}


def work_factor(name: str, size_bytes: int, settings: Settings) -> float:
    """How many ordinary items of work a file is, to scale its time limit: audio counts one per
    MB (about a minute of compressed audio, less of WAV), times its rows per clip (1 + variants);
    rendered MIDI counts one per row; other MIDI and scores count 1."""
    aug = settings.augment
    rows = 1 + (len(aug.semitones) + aug.tempo_count + aug.volume_count if aug else 0)
    if modality_of(name) == "audio":
        return max(1.0, size_bytes / 1e6) * rows
    return float(rows) if settings.render_midi else 1.0


def _variants(key: str, duration_s: float, settings: Settings) -> list[dict]:
    if settings.augment is None:
        return []
    return plan.variants(key, duration_s, settings.seed, settings.augment)


def variant_tag(variant: dict) -> str:
    """A short file-name tag of a variant: ``pitch+2``, ``tempo0.8693``, ``volume0.25-1``."""
    kind = variant["kind"]
    if kind == "pitch_shift":
        return f"pitch{variant['semitones']:+d}"
    if kind == "tempo_change":
        return f"tempo{variant['tempo_ratio']:.4f}"
    if kind == "volume_change":
        return f"volume{variant['gain_start']:.3g}-{variant['gain_end']:.3g}"
    return kind
