"""Prompts for LLM captions: the facts, a style instruction, few-shot examples.

Conventions:

- A prompt is a list of chat messages ``{'role': 'system'|'user'|'assistant',
  'content': str}``, the OpenAI chat format; a local text-generation model
  without a chat template gets the messages joined as plain text.
- The facts are written as MidiCaps fed them to Claude 3 Opus: one short
  ``name: value`` line per known fact (see :func:`facts_text`); missing facts
  are left out, so the model is never asked to state them.
- ``style`` is one of LP-MusicCaps' four instruction modes (Doh et al., 2023):
  ``writing`` (a description including the attributes), ``summary`` (one
  sentence), ``paraphrase`` (creative paraphrasing allowed), ``attributes``
  (state every attribute, one clause each). LP-MusicCaps' fourth mode predicted
  *new* attributes; captune checks every stated fact, so here it asks for the
  given attributes only.
- Few-shot examples are ``{'facts': dict | str, 'caption': str}``; the default
  ones below were written for captune in MidiCaps' facts-to-caption style. A
  JSON-lines file of the same records replaces them (``--caption-examples``).
- A retry adds the checker's problems as feedback (:func:`retry_messages`), so
  the retry is a different prompt with its own cache entry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from captune.captioners.form import form_text
from captune.captioners.template import length_word, plain_instruments, tempo_is_set
from captune.extractors.midi.notes import single_line

__all__ = ["STYLES", "DEFAULT_EXAMPLES", "facts_text", "messages", "retry_messages", "parse_examples", "load_examples",
           "prompt_key"]

STYLES = {
    "writing": "Write a music description of two to four sentences that includes the following attributes.",
    "summary": "Write a single sentence that summarizes a piece of music with the following attributes.",
    "paraphrase": "Write a music description of two to four sentences that includes the following attributes. "
                  "Creative paraphrasing is acceptable, but do not change any fact.",
    "attributes": "Write a music description that states every one of the following attributes, "
                  "one short clause each, and nothing else.",
}

SYSTEM = ("You write captions for a music dataset. State only the facts you are given: never invent an "
          "instrument, key, tempo, time signature or chord. Do not mention artists, titles or lyrics. "
          "Answer with the caption only.")


DEFAULT_EXAMPLES = [
    {
        "facts": {"instruments": ["Acoustic Grand Piano", "Electric Bass (finger)", "Drums"], "key": "E minor",
                  "time_signature": "3/4", "tempo_bpm": 96.0, "tempo_word": "Moderato",
                  "chord_summary": ["Em", "Am", "B7"], "chord_summary_count": 4,
                  "duration_s": 30.0, "duration_word": "Short fragment"},
        "caption": "A piano leads this short fragment in E minor, supported by electric bass and drums. "
                   "It moves in 3/4 at a moderate 96 BPM, and the progression Em, Am, B7 comes around four times.",
    },
    {
        "facts": {"instruments": ["String Ensemble 1", "French Horn", "Flute"], "key": "Eb major",
                  "time_signature": "4/4", "tempo_bpm": 66.0, "tempo_word": "Adagio",
                  "chord_summary": ["Eb", "Cm", "Ab", "Bb7"], "chord_summary_count": 2,
                  "duration_s": 150.0, "duration_word": "Song"},
        "caption": "Strings, french horn and flute play this slow orchestral song in Eb major. "
                   "At about 66 beats per minute in 4/4, the harmony follows Eb, Cm, Ab and Bb7, twice over.",
    },
    {
        "facts": {"instruments": ["Drums", "Synth Bass 1", "Lead 2 (sawtooth)"], "time_signature": "4/4",
                  "tempo_bpm": 128.0, "tempo_word": "Allegro", "duration_s": 75.0, "duration_word": "Short song"},
        "caption": "Driving drums, synth bass and a sawtooth synth lead push this short track along "
                   "at a fast 128 BPM in 4/4.",
    },
]


def facts_text(facts: Mapping) -> str:
    """The known facts, one ``name: value`` line each (MidiCaps' tag list)."""
    lines = []
    names = plain_instruments(facts)
    if names:
        lines.append(f"instruments: {', '.join(names)}")
    for label in ("genre", "mood"):
        if facts.get(label):
            lines.append(f"{label}: {', '.join(str(v) for v in facts[label])}")
    if facts.get("key"):
        lines.append(f"key: {facts['key']}")
    if facts.get("time_signature"):
        lines.append(f"time signature: {facts['time_signature']}")
    bpm, word = (facts.get("tempo_bpm"), facts.get("tempo_word")) if tempo_is_set(facts) else (None, None)
    if bpm is not None:
        lines.append(f"tempo: {round(bpm)} bpm" + (f" ({word})" if word else ""))
    elif word:
        lines.append(f"tempo: {word}")
    chords = [c for c in (facts.get("chord_summary") or []) if c]
    if single_line(facts.get("note_stats")):
        lines.append("texture: a single melodic line, unaccompanied (no chords sound)")
    elif chords:
        count = facts.get("chord_summary_count") or 0
        lines.append(f"chord progression: {', '.join(chords)}" + (f" (played {count} times)" if count > 1 else ""))
    if form_text(facts):
        lines.append(f"form: {form_text(facts)}")
    seconds = facts.get("duration_s")
    if seconds:
        word = length_word(facts)   # the template's word: no "song" nobody sings, no "fragment" for a score
        lines.append(f"duration: {round(seconds)} seconds" + (f" ({word})" if word else ""))
    return "\n".join(lines)


def _as_text(facts) -> str:
    return facts if isinstance(facts, str) else facts_text(facts)


def messages(facts: Mapping, style: str = "writing", examples: Sequence[Mapping] | None = None) -> list[dict]:
    """Chat messages asking for a caption of ``facts`` in ``style``, after the few-shot ``examples``."""
    if style not in STYLES:
        raise ValueError(f"unknown caption style {style!r}; expected one of {sorted(STYLES)}")
    examples = DEFAULT_EXAMPLES if examples is None else examples
    instruction = STYLES[style]
    out = [{"role": "system", "content": SYSTEM}]
    for example in examples:
        out.append({"role": "user", "content": f"{instruction}\n{_as_text(example['facts'])}"})
        out.append({"role": "assistant", "content": example["caption"]})
    out.append({"role": "user", "content": f"{instruction}\n{facts_text(facts)}"})
    return out


def retry_messages(first: list[dict], answer: str, problems: Sequence[str]) -> list[dict]:
    """``first`` plus the rejected ``answer`` and what was wrong with it: the retry prompt."""
    feedback = ("That caption is not accurate: " + "; ".join(problems) +
                ". Write it again, stating only the attributes given above.")
    return [*first, {"role": "assistant", "content": answer}, {"role": "user", "content": feedback}]


def parse_examples(text: str, name: str = "examples") -> list[dict]:
    """Few-shot examples from JSON-lines ``text`` of ``{"facts": {...} or "text", "caption": "..."}``;
    ``name`` (the file's) prefixes the error messages. The pipeline reads the file on the launcher
    (local or ``gs://``) and ships the parsed examples to the workers."""
    examples = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name}:{number}: not JSON ({exc})") from None
        if not isinstance(record, dict) or not isinstance(record.get("caption"), str) \
                or not isinstance(record.get("facts"), (dict, str)):
            raise ValueError(f"{name}:{number}: expected {{\"facts\": {{...}} or \"...\", \"caption\": \"...\"}}")
        examples.append({"facts": record["facts"], "caption": record["caption"]})
    if not examples:
        raise ValueError(f"{name}: no examples")
    return examples


def load_examples(path: str) -> list[dict]:
    """:func:`parse_examples` of a local JSON-lines file."""
    with open(path, encoding="utf-8") as fh:
        return parse_examples(fh.read(), path)


def prompt_key(msgs: Sequence[Mapping], **params) -> str:
    """Canonical text of a prompt and its generation parameters (the cache key's prompt part)."""
    return json.dumps({"messages": list(msgs), "params": params}, sort_keys=True, separators=(",", ":"))
