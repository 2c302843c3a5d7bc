"""LLM captions grounded in the extracted facts. No Beam here.

Two generators share one small interface, ``generate(prompts) -> list[str |
None]`` where a prompt is a list of chat messages (see :mod:`prompts`) and
None means no answer (the reason is in ``generator.error``):

- :class:`LocalModel`: a local ``transformers`` causal LM (chat model with a
  chat template, or a plain text-generation model), loaded once, generating
  in batches of ``batch_size`` with greedy decoding (deterministic).
- :class:`EndpointClient`: any OpenAI-compatible ``/v1/chat/completions``
  server (vLLM, llama.cpp server, Ollama, ``transformers serve``), at most
  ``concurrency`` requests in flight, retries with exponential backoff on
  connection errors, timeouts, 429 and 5xx. The API key is read from an
  environment variable, sent only in the ``Authorization`` header and never
  logged or stored.

:class:`LLMCaptioner` turns facts into captions: ask (through the
:class:`~captune.captioners.cache.ResponseCache`), check every stated fact
(:mod:`factcheck`), retry a rejected caption once with the problems as
feedback, and otherwise keep the template caption. Each outcome carries
``caption``, ``caption_source`` (``'llm:<model>'`` or ``'template'``) and
``caption_check`` ``{status, problems, attempts}`` with status ``accepted``
(first answer passed), ``retried`` (second answer passed; problems are the
first answer's), or ``fallback`` (template kept; problems say why).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from captune.captioners import factcheck, prompts

__all__ = ["LocalModel", "EndpointClient", "LLMCaptioner", "ModelUnavailable", "TEMPLATE_CHECK"]

log = logging.getLogger(__name__)

TEMPLATE_CHECK = {"status": "template", "problems": [], "attempts": 0}
DEFAULT_MAX_NEW_TOKENS = 120


class ModelUnavailable(RuntimeError):
    """The local model could not be loaded."""


# --- local transformers model -------------------------------------------------


class LocalModel:
    """A local transformers causal LM loaded once from ``path`` (no download)."""

    loads = 0  # how many times any LocalModel loaded weights in this process (tests check "once")

    def __init__(self, path: str, *, batch_size: int = 8, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                 name: str | None = None):
        self.path, self.batch_size, self.max_new_tokens = path, max(1, batch_size), max_new_tokens
        self.name = name or os.path.basename(os.path.normpath(path))
        self.error: str | None = None
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # no per-worker progress bars in the build's output
            self._torch = torch
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
        except Exception as exc:  # missing path, no torch, unknown architecture, bad weights …
            raise ModelUnavailable(f"model {path!r} could not be loaded: {type(exc).__name__}: {exc}") from exc
        self.model.eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        LocalModel.loads += 1

    def params(self) -> dict:
        return {"decoding": "greedy", "max_new_tokens": self.max_new_tokens}

    def _text(self, messages: Sequence[Mapping]) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"

    def generate(self, prompts_: Sequence[Sequence[Mapping]]) -> list[str | None]:
        out: list[str | None] = []
        for i in range(0, len(prompts_), self.batch_size):
            out += self._generate_batch(prompts_[i:i + self.batch_size])
        return out

    def _generate_batch(self, batch) -> list[str | None]:
        torch = self._torch
        try:
            chat = bool(getattr(self.tokenizer, "chat_template", None))
            limit = getattr(self.model.config, "max_position_embeddings", None)
            encoded = self.tokenizer([self._text(m) for m in batch], return_tensors="pt", padding=True,
                                     add_special_tokens=not chat)
            if limit and encoded["input_ids"].shape[1] > limit - self.max_new_tokens:
                keep = max(1, limit - self.max_new_tokens)  # keep the end: the facts asked about
                encoded = {k: v[:, -keep:] for k, v in encoded.items()}
            with torch.no_grad():
                generated = self.model.generate(**encoded, max_new_tokens=self.max_new_tokens, do_sample=False,
                                                pad_token_id=self.tokenizer.pad_token_id)
            start = encoded["input_ids"].shape[1]
            return [self.tokenizer.decode(g[start:], skip_special_tokens=True) for g in generated]
        except Exception as exc:  # one bad batch costs its captions, not the run
            self.error = f"generation failed: {type(exc).__name__}: {exc}"
            log.warning("captune: %s", self.error)
            return [None] * len(batch)


# --- OpenAI-compatible endpoint ---------------------------------------------------


def chat_url(endpoint: str) -> str:
    """``http://host:8000``, ``…/v1`` or ``…/v1/chat/completions`` → the chat completions URL."""
    url = endpoint.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if re.search(r"/v\d+$", url):
        return url + "/chat/completions"
    return url + "/v1/chat/completions"


class _Fatal(Exception):
    """A request that retrying will not fix (4xx other than 408/429)."""


class EndpointClient:
    """An OpenAI-compatible chat completions client with a concurrency limit and retries."""

    def __init__(self, endpoint: str, model: str, *, api_key_env: str | None = "OPENAI_API_KEY",
                 concurrency: int = 4, retries: int = 3, backoff_s: float = 0.5, timeout_s: float = 60.0,
                 max_tokens: int = DEFAULT_MAX_NEW_TOKENS, seed: int = 0):
        self.url, self.name = chat_url(endpoint), model
        self._api_key_env = api_key_env
        self.concurrency, self.retries = max(1, concurrency), max(0, retries)
        self.backoff_s, self.timeout_s, self.max_tokens, self.seed = backoff_s, timeout_s, max_tokens, seed
        self.error: str | None = None
        self.dead: str | None = None  # set when the server cannot be reached at all: later calls skip it
        self.requests = 0
        self._lock = threading.Lock()

    def params(self) -> dict:
        return {"temperature": 0, "max_tokens": self.max_tokens, "seed": self.seed}

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self._api_key_env) if self._api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post_once(self, messages) -> str:
        body = json.dumps({"model": self.name, "messages": list(messages), **self.params()}).encode()
        request = urllib.request.Request(self.url, data=body, headers=self._headers(), method="POST")
        with self._lock:
            self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code in (408, 429) or exc.code >= 500:
                raise ConnectionError(f"HTTP {exc.code} from {self.url}") from None
            raise _Fatal(f"HTTP {exc.code} from {self.url}: {exc.reason}") from None
        except (ValueError, http.client.HTTPException) as exc:  # bad JSON, truncated or garbled response
            raise ConnectionError(f"bad response from {self.url}: {type(exc).__name__}: {exc}") from None
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise _Fatal(f"unexpected response from {self.url}: no choices[0].message.content") from None
        if not isinstance(content, str):
            raise _Fatal(f"unexpected response from {self.url}: content is not text")
        return content

    def _post(self, messages) -> str | None:
        if self.dead:
            return None
        for attempt in range(self.retries + 1):
            try:
                return self._post_once(messages)
            except _Fatal as exc:
                self.error = str(exc)
                if re.search(r"HTTP (401|403|404) ", self.error) and not self.dead:
                    # a wrong key, URL or model name fails every request alike: stop asking
                    self.dead = self.error
                    log.warning("captune: LLM endpoint refuses requests (%s; check --llm-endpoint, --llm-model "
                                "and --llm-api-key-env); rows keep their template captions", self.error)
                return None
            except OSError as exc:  # URLError, timeouts, and the retryable HTTP statuses above
                reason = getattr(exc, "reason", None) or exc
                # connection refused, no route, unknown host: the server is not there at all
                unreachable = isinstance(exc, urllib.error.URLError) and not isinstance(reason, TimeoutError)
                self.error = f"{self.url} unreachable: {reason}" if unreachable else str(reason)
                if attempt == self.retries:
                    if unreachable and not self.dead:
                        self.dead = self.error
                        log.warning("captune: LLM endpoint %s is unreachable after %d tries (%s); rows keep "
                                    "their template captions", self.url, attempt + 1, reason)
                    return None
                time.sleep(self.backoff_s * 2 ** attempt)
        return None

    def generate(self, prompts_: Sequence[Sequence[Mapping]]) -> list[str | None]:
        if len(prompts_) <= 1 or self.concurrency == 1:
            return [self._post(m) for m in prompts_]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts_))) as pool:
            return list(pool.map(self._post, prompts_))


# --- captions ------------------------------------------------------------------


def clean(answer: str | None) -> str | None:
    """The caption in a model's answer: first paragraph, no label or quotes, one line."""
    if answer is None:
        return None
    text = answer.strip()
    text = re.sub(r"^(?:caption|description)\s*:\s*", "", text, flags=re.IGNORECASE)
    text = re.split(r"\n\s*\n", text, maxsplit=1)[0]
    text = " ".join(text.split())
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”":
        text = text[1:-1].strip()
    return text


class LLMCaptioner:
    """facts → checked LLM captions, falling back to the template caption.

    ``generator`` is a :class:`LocalModel`, an :class:`EndpointClient` or None
    (unavailable: ``unavailable`` says why; cached answers are still used).
    ``model`` names the model in ``caption_source``; ``cache_model`` (default
    ``model``) is the model part of the cache key; ``params`` (default the
    generator's) are the generation parameters, part of the prompt's key.
    """

    def __init__(self, generator, *, model: str, style: str = "writing", examples=None, cache=None,
                 params: Mapping | None = None, unavailable: str | None = None, cache_model: str | None = None):
        if style not in prompts.STYLES:
            raise ValueError(f"unknown caption style {style!r}; expected one of {sorted(prompts.STYLES)}")
        self.generator, self.model, self.style, self.examples = generator, model, style, examples
        self.cache, self.unavailable = cache, unavailable
        self.params = dict(params if params is not None else (generator.params() if generator else {}))
        self.cache_model = cache_model or model  # the model part of the cache key

    def _ask(self, batch: list[list[dict]]) -> tuple[list[str | None], str | None]:
        keys = [prompts.prompt_key(m, **self.params) for m in batch]
        answers: list[str | None] = [self.cache.get(self.cache_model, k) if self.cache else None for k in keys]
        missing = [i for i, a in enumerate(answers) if a is None]
        reason = None
        if missing:
            if self.generator is None:
                reason = self.unavailable or "no generator"
            else:
                got = self.generator.generate([batch[i] for i in missing])
                for i, answer in zip(missing, got):
                    answers[i] = answer
                    if answer is not None and self.cache:
                        self.cache.put(self.cache_model, keys[i], answer)
                if any(a is None for a in got):
                    reason = getattr(self.generator, "dead", None) or getattr(self.generator, "error", None) \
                        or "no answer"
        return answers, reason

    def caption_many(self, facts_list: Sequence[Mapping], templates: Sequence[str]) -> list[dict]:
        """One ``{caption, caption_source, caption_check}`` per facts mapping, in order."""
        source = f"llm:{self.model}"
        first = [prompts.messages(f, self.style, self.examples) for f in facts_list]
        answers, reason = self._ask(first)
        outcomes: list[dict | None] = [None] * len(facts_list)
        retry: list[int] = []
        first_problems: dict[int, list[str]] = {}
        for i, (facts, answer) in enumerate(zip(facts_list, answers)):
            if answer is None:
                outcomes[i] = _fallback(templates[i], [f"no response: {reason}"], 1)
                continue
            text = clean(answer)
            problems = factcheck.check(text, facts)
            if not problems:
                outcomes[i] = {"caption": text, "caption_source": source,
                               "caption_check": {"status": "accepted", "problems": [], "attempts": 1}}
            else:
                first_problems[i] = problems
                retry.append(i)
        if retry:
            second = [prompts.retry_messages(first[i], clean(answers[i]) or "", first_problems[i]) for i in retry]
            answers2, reason2 = self._ask(second)
            for i, answer in zip(retry, answers2):
                if answer is None:
                    outcomes[i] = _fallback(templates[i], first_problems[i] + [f"no response: {reason2}"], 2)
                    continue
                text = clean(answer)
                problems = factcheck.check(text, facts_list[i])
                if problems:
                    outcomes[i] = _fallback(templates[i], problems, 2)
                else:
                    outcomes[i] = {"caption": text, "caption_source": source,
                                   "caption_check": {"status": "retried", "problems": first_problems[i],
                                                     "attempts": 2}}
        return outcomes


def _fallback(template: str, problems: list[str], attempts: int) -> dict:
    return {"caption": template, "caption_source": "template",
            "caption_check": {"status": "fallback", "problems": list(dict.fromkeys(problems)), "attempts": attempts}}
