"""One input file → the contents of its rows: decode, clip, render, extract, augment, verify.

Pure (no Beam); the pipeline calls :func:`process` once per distinct input file,
inside the isolated child process (:mod:`captune.pipelines.isolation`).

A file gives one or more *units*, each a future row ``{variant, clip_start_s,
piece, media, facts, augmentation_check}``:

- MIDI and scores: one unit, ``media`` the file itself (a score's media is its
  own bytes too, not the MIDI music21 writes from it); with ``render_midi`` the
  piece is rendered with FluidSynth, ``media`` becomes that FLAC and the unit
  gains the audio's loudness, loudness range and audio statistics, while key,
  chords, tempo and beats stay the symbolic ones (exact, where audio analysis
  only estimates);
- audio: one unit for the whole recording (``media`` the file itself,
  ``clip_start_s`` None), or with ``clip_seconds`` one per clip (``clip_start_s``
  its offset, ``media`` the clip as FLAC);
- an ABC tune book: one unit per tune (``piece`` its place in the book from 0,
  ``media`` the tune's own ABC with the book's header, named ``book.NNN.abc``
  from 001).

Clips and tunes are *parts*: :func:`process` returns a clipped recording cut
but unanalysed and a tune book split but unparsed, and :func:`part_units` makes
each part's units in a call of its own, so the pipeline spreads a long
recording or a book over its workers, a tune that music21 cannot read (or that
hangs) costs only its own rows, and no single element carries a whole
augmented recording.

With ``augment`` set, every unit is followed by its MusicBench variants
(:func:`captune.augment.plan.variants`, drawn from (seed, source id)): MIDI is
transformed exactly, audio with Rubber Band; the facts are rewritten
analytically (:func:`captune.augment.labels.rewrite`) and the emotion model runs
again on them (a part's variants are drawn from (seed, source id, part)). With
``verify`` the variant's facts are also re-extracted from its media and
compared (:func:`captune.augment.verify.check`).

With ``essentia_models`` the MTG-Jamendo taggers
(:mod:`captune.extractors.audio.tagging`) fill ``genre`` and ``mood`` from each
recording or clip, and from a MIDI or score rendered once; variants keep their
unit's tags.

Every unit of a file shares the file's near-duplicate ``fingerprint``, but a tune
of a book: the book has none (it is a collection, not a piece), each tune's units
carry the tune's own (``fingerprint`` in the unit), and the build groups the tune as
an item of its own, so the same tune in two books, or in a book and a file of its own,
lands in one group and one split.

The audio modules (essentia, scipy, pedalboard: seconds to import) load on the
first audio item or rendering, so a MIDI-only run never pays for them.
"""

import os
from dataclasses import dataclass

from captune.augment import labels, plan, verify
from captune.augment.plan import ORIGINAL
from captune.augment import midi as midi_augment
from captune.extractors import emotion, fingerprint, midi, score
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
    max_recording_s: float = 4 * 3600.0  # longest recording cut into clips (max_duration_s bounds each clip)
    render_midi: bool = False
    soundfont: str | None = None
    augment: plan.Settings | None = None  # None: originals only
    verify: bool = False
    essentia_models: str | None = None  # folder of the MTG-Jamendo genre and mood/theme models; None: no tagging
    seed: int = 0


def process(data: bytes, name: str, source_id: str, settings: Settings = Settings()) -> dict:
    """``{'modality', 'duration_s', 'fingerprint', 'units': [...], 'parts': [...]}`` for the bytes of
    the file called ``name``; ``parts`` is empty except for audio cut with ``clip_seconds`` and ABC
    tune books, whose units are then left to :func:`part_units` (``duration_s`` is None for a book).

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


def _unit(variant: dict, clip_start_s: float | None, media: dict, facts: dict, piece: int | None = None) -> dict:
    """One future row (see module doc); ``augmentation_check`` is filled by ``--verify-augmentation``;
    ``piece``: a tune's place in its book (enters the row id only)."""
    return {"variant": variant, "clip_start_s": clip_start_s, "piece": piece, "media": media, "facts": facts,
            "augmentation_check": None}


def _with_emotion(facts: dict, settings: Settings, tags: dict | None = None) -> dict:
    """``facts`` with the emotion model's estimate, then the tagger's ``genre`` and ``mood`` (:func:`_tags`)."""
    return {**facts, **emotion.estimate(facts, settings.emotion_model), **(tags or {})}


def _tags(sound, settings: Settings) -> dict:
    """``{'genre': [...], 'mood': [...]}`` from the essentia-tensorflow models for :class:`Audio` ``sound``
    (``{}`` without ``essentia_models``). ``genre`` may be empty (the model ran, no class passed its
    threshold); ``mood`` is left out when empty, so the emotion model's words stay."""
    if not settings.essentia_models:
        return {}
    from captune.extractors.audio import tagging

    found = tagging.tags(sound, settings.essentia_models)
    return {"genre": found["genre"], **({"mood": found["mood"]} if found["mood"] else {})}


def _symbolic_units(data: bytes, name: str, source_id: str, settings: Settings) -> dict:
    modality = modality_of(name)
    if modality == "score" and name.lower().endswith(".abc"):
        tunes = score.abc_tunes(data)
        if len(tunes) > 1:  # a tune book: each tune becomes a part of its own (see part_units)
            return {"modality": modality, "duration_s": None, "fingerprint": [], "units": [],
                    "parts": [{"kind": "piece", "piece": i, "score": tune} for i, tune in enumerate(tunes)]}
    piece, units = _piece_units(data, name, os.path.basename(name), source_id, settings)
    return {"modality": modality, "duration_s": units[0]["facts"]["duration_s"],
            "fingerprint": fingerprint.symbolic(piece), "units": units, "parts": []}


def _piece_units(data: bytes, name: str, media_name: str, key: str, settings: Settings,
                 index: int | None = None):
    """(the decoded piece, its original and variant units) of MIDI or score bytes; ``media_name``
    names the original's media, ``key`` draws the variants, ``index`` is a tune's place in its book."""
    smf, piece = load_symbolic(data, name, settings.max_duration_s)
    facts = midi.extract(piece, settings.key_profile, settings.emotion_model)
    stem = os.path.splitext(media_name)[0]
    rendered_original = None
    if settings.essentia_models:  # the taggers listen: render the piece (once), as MidiCaps did
        from captune.extractors import audio

        rendered_original = audio.render_midi(smf, settings.soundfont)
    tags = _tags(rendered_original, settings)
    facts = {**facts, **tags}

    def unit(variant, midi_bytes, media_bytes, facts, media_name, rendered=None):
        media = {"bytes": media_bytes, "path": media_name}
        if settings.render_midi:
            from captune.extractors import audio

            rendered = rendered if rendered is not None else audio.render_midi(midi_bytes, settings.soundfont)
            sound = audio.extract(rendered)
            facts = {**facts, **{k: sound[k] for k in RENDERED_FACTS}}  # emotion reads the notes, not these
            media = {"bytes": audio.to_flac_bytes(rendered), "path": os.path.splitext(media_name)[0] + ".flac"}
        return _unit(variant, None, media, facts, index)

    units = [unit(ORIGINAL, smf, data, facts, media_name, rendered_original)]  # a score's media: its own bytes
    for variant in _variants(key, facts["duration_s"], settings):
        changed = midi_augment.apply(smf, variant)
        expected = _with_emotion(labels.rewrite(facts, variant), settings, tags)
        u = unit(variant, changed, changed, expected, f"{stem}.{variant_tag(variant)}.mid")
        if settings.verify:
            again = midi.from_midi_bytes(changed, **piece.decode_options())
            found = midi.extract(again, settings.key_profile, settings.emotion_model)
            u["augmentation_check"] = verify.check(expected, found)
        units.append(u)
    return piece, units


def _audio_units(data: bytes, name: str, source_id: str, settings: Settings) -> dict:
    from captune.extractors import audio
    from captune.extractors.audio.chroma import CHROMA_SR, HOP, chromagram

    from captune.extractors.audio.facts import check_long_enough

    whole_limit = settings.max_recording_s if settings.clip_seconds else settings.max_duration_s
    recording = audio.from_audio_bytes(data, os.path.splitext(name)[1].lower(), whole_limit)
    check_long_enough(recording)  # before the whole file's chromagram, which needs a few frames
    whole = chromagram(recording.samples, recording.sr)  # for the fingerprint, and a whole file's facts
    item = {"modality": "audio", "duration_s": round(recording.duration_s, 3),
            "fingerprint": fingerprint.from_chroma(whole[1], CHROMA_SR / HOP), "units": [], "parts": []}
    if settings.clip_seconds:
        item["parts"] = [{"kind": "clip", "clip_start_s": start, "audio": clip}
                         for start, clip in audio.clips(recording, settings.clip_seconds)]
    else:
        media = {"bytes": data, "path": os.path.basename(name)}
        item["units"] = _recording_units(recording, None, name, source_id, settings, media=media, chroma=whole)
    return item


def part_units(part: dict, name: str, source_id: str, settings: Settings) -> list[dict]:
    """The units of one part of the file called ``name``, as listed by :func:`process`: a clip
    ``{'kind': 'clip', 'clip_start_s', 'audio'}`` (an :class:`~captune.extractors.audio.Audio` at that
    offset in seconds) or a tune ``{'kind': 'piece', 'piece', 'score'}`` (its place in the book from 0,
    its own ABC bytes; each of its units also carries the tune's ``fingerprint``); ``kind`` is also the
    stage of the part's failure records. Raises :class:`BadInput` when the part or one of its variants
    cannot be decoded or analysed."""
    if part["kind"] == "clip":
        return guarded(_recording_units, part["audio"], part["clip_start_s"], name, source_id, settings)
    index = part["piece"]
    stem, suffix = os.path.splitext(os.path.basename(name))
    media_name = f"{stem}.{index + 1:03d}{suffix}"

    def tune_units():
        piece, units = _piece_units(part["score"], media_name, media_name, f"{source_id}#{index}", settings, index)
        own = fingerprint.symbolic(piece)
        return [{**u, "fingerprint": own} for u in units]

    return guarded(tune_units)


def part_label(part: dict) -> str:
    """How a failure record names a part: ``clip at 20 s``, ``tune 3`` (counted from 1)."""
    return f"clip at {part['clip_start_s']:g} s" if part["kind"] == "clip" else f"tune {part['piece'] + 1}"


def _recording_units(recording, start_s: float | None, name: str, source_id: str, settings: Settings, *,
                     media: dict | None = None, chroma=None) -> list[dict]:
    """The original and variant units of a clip (``start_s`` its offset) or of a whole recording
    (``start_s`` None, ``media`` the file itself, ``chroma`` its chromagram if already computed)."""
    from captune.augment import audio as audio_augment
    from captune.extractors import audio

    tags = _tags(recording, settings)
    facts = _with_emotion(audio.extract(recording, chroma=chroma), settings, tags)
    stem = os.path.splitext(os.path.basename(name))[0]
    label = stem if start_s is None else f"{stem}.{start_s:.1f}s"
    if media is None:
        media = {"bytes": audio.to_flac_bytes(recording), "path": f"{label}.flac"}
    units = [_unit(ORIGINAL, start_s, media, facts)]
    for variant in _variants(f"{source_id}:{start_s}", facts["duration_s"], settings):
        changed = audio.Audio(audio_augment.apply(recording.samples, recording.sr, variant), recording.sr)
        expected = _with_emotion(labels.rewrite(facts, variant), settings, tags)
        u = _unit(variant, start_s, {"bytes": audio.to_flac_bytes(changed),
                                     "path": f"{label}.{variant_tag(variant)}.flac"}, expected)
        if settings.verify:
            u["augmentation_check"] = verify.check(expected, audio.extract(changed))
        units.append(u)
    return units


def work_factor(name: str, size_bytes: int, settings: Settings) -> float:
    """How many ordinary items of work :func:`process` is for a file, to scale its time limit: audio
    counts one per MB (about a minute of compressed audio, less of WAV), times its rows (1 + variants)
    unless it is only cut into clips; rendered MIDI counts one per row; other MIDI and scores count 1.
    Tagging (``essentia_models``) doubles it: rendering and the embedding model, an estimate."""
    if modality_of(name) == "audio":
        work = max(1.0, size_bytes / 1e6) * (1.0 if settings.clip_seconds else rows_per_unit(settings))
    else:
        work = float(rows_per_unit(settings)) if settings.render_midi else 1.0
    return work * _tagging_factor(settings)


def part_work(part: dict, name: str, settings: Settings) -> float:
    """How many ordinary items of work one :func:`part_units` call on a part of the file ``name`` is
    (see :func:`work_factor`): a clip one per row, a tune as a file of its own."""
    if part["kind"] == "clip":
        return rows_per_unit(settings) * _tagging_factor(settings)
    return work_factor(name, len(part["score"]), settings)


def _tagging_factor(settings: Settings) -> float:
    return 2.0 if settings.essentia_models else 1.0


def rows_per_unit(settings: Settings) -> int:
    """Rows made from each unit: the original and its variants."""
    aug = settings.augment
    return 1 + (len(aug.semitones) + aug.tempo_count + aug.volume_count if aug else 0)


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
