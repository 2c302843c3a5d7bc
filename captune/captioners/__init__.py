"""Captions from extracted music facts.

``caption(facts, rng)``: MidiCaps-style template caption (``template``).
``control_sentences(facts, rng=None)``: MusicBench-style control sentences (``control``).

LLM captions (``--captioner llm``): ``prompts`` (styles, few-shot examples),
``llm`` (a local transformers model or an OpenAI-compatible endpoint, and the
``LLMCaptioner`` that checks, retries once and falls back), ``factcheck``
(caption + facts → problems), ``cache`` (responses on disk by model and prompt).
"""

from captune.captioners.control import control_sentences
from captune.captioners.template import caption

__all__ = ["caption", "control_sentences"]
