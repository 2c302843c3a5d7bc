"""The one record schema (Arrow), version 3.

One row per (source item, variant). Column names are the contract with users,
the loader and evaluation tools (see DESIGN.md). Units: seconds (``*_s``),
beats per minute (``*_bpm``), LUFS, MIDI note numbers and velocities.
Nullable where a fact does not apply: no key for a drums-only piece, no tempo
or beats for a score without a tempo mark, no loudness for unrendered MIDI,
no emotion for an item without notes, no genre until a genre model fills it.
``note_stats`` gained ``pitch_mean`` and ``legato``, later ``onset_density`` (nullable, used by
the emotion model); shards written before still read, with those fields null.

Version 2 added ``fingerprint`` (near-duplicate MinHash, :mod:`captune.extractors.fingerprint`),
``clip_start_s`` (offset of an audio clip in its recording; null for whole files),
``augmentation_check`` (``--verify-augmentation``), ``loudness_range_lu`` (EBU R128 LRA) and
``audio_stats``; the loader reads version-1 shards with those columns null.

Version 3 added ``key_changes`` (the key in force over time, first entry at 0 s),
``time_signature_source`` (``declared`` by the file or ``inferred`` from the notes),
``sections`` (the form: bar-aligned segments labelled by repetition) and
``segment_captions`` (one sentence per section); the loader reads version-1 and
version-2 shards with those columns null.
"""

import pyarrow as pa

SCHEMA_VERSION = "3"

VARIANT = pa.struct([
    ("kind", pa.string()),          # original | pitch_shift | tempo_change | volume_change
    ("semitones", pa.int32()),
    ("tempo_ratio", pa.float64()),
    ("gain_start", pa.float64()),
    ("gain_end", pa.float64()),
    ("change_at_s", pa.float64()),
])
MEDIA = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
NOTE_STATS = pa.struct([
    ("note_count", pa.int32()), ("pitch_min", pa.int32()), ("pitch_max", pa.int32()),
    ("mean_velocity", pa.float64()), ("note_density", pa.float64()), ("polyphony", pa.float64()),
    ("pitch_mean", pa.float64()), ("legato", pa.float64()),  # register; articulation (1 legato, ~0.5 staccato)
    ("onset_density", pa.float64()),  # onset events per second: a chord is one event
])
# How the caption was checked: status template (no LLM) | accepted (the LLM caption passed the fact
# check) | retried (passed on the second try; problems are the first try's) | fallback (template
# caption kept; problems say why); attempts = LLM answers asked for.
CAPTION_CHECK = pa.struct([("status", pa.string()), ("problems", pa.list_(pa.string())), ("attempts", pa.int32())])
AUDIO_STATS = pa.struct([
    ("spectral_centroid_hz", pa.float64()),   # mean spectral centroid: brightness
    ("onset_rate", pa.float64()),             # onsets per second: event density
    ("dynamic_complexity_db", pa.float64()),  # mean deviation from the global loudness, dB
])
# --verify-augmentation: facts re-extracted from the variant against its rewritten labels
AUGMENTATION_CHECK = pa.struct([("key_ok", pa.bool_()), ("tempo_ok", pa.bool_()),
                                ("key_found", pa.string()), ("bpm_found", pa.float64())])
KEY_CHANGE = pa.struct([("time_s", pa.float64()), ("key", pa.string())])
# label: repetition letter (A, B, ...; a prime for a varied return); kind: intro | outro | instrumental |
# melodic | verse | chorus | bridge
SECTION = pa.struct([("start_s", pa.float64()), ("end_s", pa.float64()), ("label", pa.string()),
                     ("kind", pa.string())])
SEGMENT_CAPTION = pa.struct([("start_s", pa.float64()), ("end_s", pa.float64()), ("text", pa.string())])
CONTROL_SENTENCES = pa.struct([(k, pa.string()) for k in ("key", "tempo", "chords", "beats", "volume")])

SCHEMA = pa.schema([
    ("id", pa.string()),
    ("source_id", pa.string()),
    ("source_uri", pa.string()),
    ("modality", pa.string()),
    ("group_id", pa.string()),
    ("fingerprint", pa.list_(pa.int64())),
    ("split", pa.string()),
    ("variant", VARIANT),
    ("augmentation_check", AUGMENTATION_CHECK),
    ("media", MEDIA),
    ("clip_start_s", pa.float64()),
    ("duration_s", pa.float64()),
    ("duration_word", pa.string()),
    ("tempo_bpm", pa.float64()),
    ("tempo_word", pa.string()),
    ("tempo_changes", pa.list_(pa.struct([("time_s", pa.float64()), ("bpm", pa.float64())]))),
    ("tempo_source", pa.string()),  # tempo_map | onsets (estimated from note onsets) | audio | default (the tempo map's lone 120 bpm in an unperformed MIDI file: the writer's, captions leave it out) | null
    ("time_signature", pa.string()),
    ("time_signature_source", pa.string()),  # declared | inferred | null
    ("key", pa.string()),
    ("key_confidence", pa.float64()),
    ("key_alternative", pa.string()),
    ("key_changes", pa.list_(KEY_CHANGE)),
    ("chords", pa.list_(pa.struct([("start_s", pa.float64()), ("end_s", pa.float64()), ("label", pa.string())]))),
    ("chord_summary", pa.list_(pa.string())),
    ("chord_summary_count", pa.int32()),
    ("beats_s", pa.list_(pa.float64())),
    ("downbeats_s", pa.list_(pa.float64())),
    ("sections", pa.list_(SECTION)),
    ("instruments", pa.list_(pa.string())),
    ("instrument_programs", pa.list_(pa.int32())),
    ("note_stats", NOTE_STATS),
    ("audio_stats", AUDIO_STATS),
    ("loudness_lufs", pa.float64()),
    ("loudness_range_lu", pa.float64()),
    ("valence", pa.float64()),
    ("arousal", pa.float64()),
    ("emotion_quadrant", pa.int32()),
    ("mood", pa.list_(pa.string())),
    ("genre", pa.list_(pa.string())),
    ("caption", pa.string()),
    ("caption_source", pa.string()),  # template | llm:<model>
    ("segment_captions", pa.list_(SEGMENT_CAPTION)),
    ("caption_check", CAPTION_CHECK),
    ("control_sentences", CONTROL_SENTENCES),
    ("pipeline_version", pa.string()),
    ("schema_version", pa.string()),
], metadata={"captune_schema_version": SCHEMA_VERSION})

REQUIRED = ("id", "source_id", "source_uri", "modality", "group_id", "split", "variant", "media",
            "duration_s", "duration_word", "caption", "caption_source", "pipeline_version", "schema_version")


def to_table(rows: list[dict]) -> pa.Table:
    """Rows (dicts keyed by column name) → an Arrow table of :data:`SCHEMA`.

    Raises ``ValueError`` naming the column when a value does not fit its type
    or a required column is null; missing optional keys become nulls.
    """
    for row in rows:
        missing = [c for c in REQUIRED if row.get(c) is None]
        if missing:
            raise ValueError(f"required column(s) {missing} are null in row {row.get('id')!r}")
    columns = {}
    for field in SCHEMA:
        try:
            columns[field.name] = pa.array([row.get(field.name) for row in rows], type=field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
            raise ValueError(f"column {field.name!r}: {exc}") from exc
    return pa.Table.from_pydict(columns, schema=SCHEMA)
