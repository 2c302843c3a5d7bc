"""The real transformers path, driven by a tiny randomly initialised model built here.

The model is a 2-layer Llama with a character-level tokenizer (built offline
with ``tokenizers``) and a chat template, saved with ``save_pretrained`` and
loaded back by path, so nothing is downloaded. Its random weights write
gibberish: the checker must reject it, the captioner must retry once and then
keep the template caption, and the pipeline must record all of it.
"""

import json
import os
import string

import pytest
from fixtures import IN_MEMORY, read_rows, two_piece_corpus

from captune.captioners import llm, prompts
from captune.captioners.cache import ResponseCache
from captune.pipelines import build, cli

CHAT_TEMPLATE = ("{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>\n{% endfor %}"
                 "{% if add_generation_prompt %}<s>assistant: {% endif %}")


def build_tiny_model(path: str, seed: int = 0) -> str:
    """Save a tiny random Llama chat model with a character tokenizer to ``path``; return ``path``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3}
    for ch in string.printable:
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", unk_token="<unk>")
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_model(str(tmp_path_factory.mktemp("models") / "tiny-llama"))


FACTS = [
    {"key": "E minor", "tempo_bpm": 96.0, "tempo_word": "Moderato", "time_signature": "3/4",
     "instruments": ["Acoustic Grand Piano"], "instrument_programs": [0], "duration_s": 30.0},
    {"key": "C major", "tempo_bpm": 120.0, "tempo_word": "Allegro", "time_signature": "4/4",
     "instruments": ["Violin", "Cello"], "instrument_programs": [40, 42], "duration_s": 12.0},
    {"key": None, "tempo_bpm": 100.0, "tempo_word": "Moderato", "time_signature": "4/4",
     "instruments": ["Drums"], "instrument_programs": [128], "duration_s": 8.0},
]


def test_local_model_loads_once_and_generates_in_batches(tiny_model):
    before = llm.LocalModel.loads
    model = llm.LocalModel(tiny_model, batch_size=2, max_new_tokens=12)
    assert llm.LocalModel.loads == before + 1 and model.name == "tiny-llama"
    batch = [prompts.messages(f, "summary") for f in FACTS]
    out = model.generate(batch)
    assert len(out) == 3 and all(isinstance(o, str) for o in out)
    assert out == model.generate(batch)  # greedy: the same prompts give the same answers
    assert llm.LocalModel.loads == before + 1  # generating does not reload


def test_gibberish_is_rejected_retried_once_then_the_template_is_kept(tiny_model, tmp_path):
    model = llm.LocalModel(tiny_model, batch_size=3, max_new_tokens=16)
    cache = ResponseCache(str(tmp_path / "cache"))
    captioner = llm.LLMCaptioner(model, model=model.name, cache=cache)
    templates = [f"template {i}" for i in range(3)]
    outcomes = captioner.caption_many(FACTS, templates)
    for outcome, template in zip(outcomes, templates):
        check = outcome["caption_check"]
        assert (outcome["caption"], outcome["caption_source"]) == (template, "template")
        assert check["status"] == "fallback" and check["attempts"] == 2 and check["problems"]
    # the first answers and the retries are cached: 6 entries, and a re-run reads them all
    assert cache.misses == 6 and len(list((tmp_path / "cache").rglob("*.json"))) == 6
    again = llm.LLMCaptioner(None, model=model.name, cache=cache, params=model.params(), unavailable="x")
    assert again.caption_many(FACTS, templates) == outcomes and cache.hits == 6


def test_a_model_that_will_not_load_is_a_clear_error(tmp_path):
    with pytest.raises(llm.ModelUnavailable, match="could not be loaded"):
        llm.LocalModel(str(tmp_path / "no-such-model"))







def test_pipeline_with_a_local_model_keeps_every_row_and_records_the_check(tiny_model, tmp_path, capsys):
    corpus = two_piece_corpus(tmp_path / "in")
    args = ["build", str(corpus), "--output", str(tmp_path / "out"), "--captioner", "llm",
            "--llm-model", tiny_model, "--llm-max-tokens", "16", "--llm-batch-size", "4", *IN_MEMORY]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "captions    accepted=0  retried=0  fallback=2  template=0" in printed
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"]["captions"] == {"accepted": 0, "retried": 0, "fallback": 2, "template": 0}
    assert manifest["counts"]["rows"] == 2 and manifest["llm_errors"] == []
    rows = read_rows(tmp_path / "out")
    for row in rows:
        assert row["caption_source"] == "template" and row["caption"]
        assert row["caption_check"]["status"] == "fallback" and row["caption_check"]["attempts"] == 2
    assert len(list((tmp_path / "out" / "llm_cache").rglob("*.json"))) == 4  # 2 rows x (first + retry)

    # template rows (no --captioner llm) carry the 'template' check
    template_manifest = build.run(["--input", str(corpus), "--output", str(tmp_path / "tpl"), *IN_MEMORY])
    assert template_manifest["counts"]["captions"] == {"accepted": 0, "retried": 0, "fallback": 0, "template": 2}
    tpl = read_rows(tmp_path / "tpl")
    assert all(r["caption_check"] == {"status": "template", "problems": [], "attempts": 0} for r in tpl)
    assert [r["caption"] for r in tpl] == [r["caption"] for r in rows]  # the fallback is the template caption


def test_pipeline_with_a_model_that_will_not_load_falls_back_with_a_message(tmp_path, capsys):
    corpus = two_piece_corpus(tmp_path / "in")
    assert cli.main(["build", str(corpus), "--output", str(tmp_path / "out"), "--captioner", "llm",
                     "--llm-model", str(tmp_path / "missing-model"), *IN_MEMORY]) == 0
    printed = capsys.readouterr().out
    assert "fallback=2" in printed and "could not be loaded" in printed
    rows = read_rows(tmp_path / "out")
    assert len(rows) == 2 and all(r["caption_check"]["status"] == "fallback" for r in rows)
    assert all("could not be loaded" in r["caption_check"]["problems"][0] for r in rows)


def test_llm_flags_are_checked_before_the_run(tmp_path):
    with pytest.raises(SystemExit, match="--llm-model"):
        build.run(["--input", "x", "--output", str(tmp_path), "--captioner", "llm"])
    bad = tmp_path / "examples.jsonl"
    bad.write_text('{"facts": {"key": "C major"}}\n')
    with pytest.raises(SystemExit, match="caption-examples"):
        build.run(["--input", "x", "--output", str(tmp_path), "--captioner", "llm", "--llm-model", "m",
                   "--caption-examples", str(bad)])


# --- the same tiny model behind `transformers serve` ------------------------------


@pytest.fixture(scope="module")
def served_model(tiny_model):
    """``transformers serve`` (OpenAI-compatible, FastAPI) on 127.0.0.1 with the tiny model, offline."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "transformers.cli.transformers", "serve", tiny_model,
                                "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"transformers serve did not start: {process.stderr.read().decode()[-2000:]}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_endpoint_client_against_transformers_serve(served_model, tiny_model, tmp_path):
    client = llm.EndpointClient(served_model, tiny_model, max_tokens=16, concurrency=2)
    cache = ResponseCache(str(tmp_path / "cache"))
    captioner = llm.LLMCaptioner(client, model="tiny-llama", cache=cache)
    outcomes = captioner.caption_many(FACTS, ["t0", "t1", "t2"])
    assert client.error is None and client.requests == 6  # 3 answers + 3 retries, all HTTP 200
    for outcome in outcomes:  # random weights: gibberish, rejected twice, the template kept
        assert outcome["caption_source"] == "template"
        assert outcome["caption_check"]["status"] == "fallback" and outcome["caption_check"]["attempts"] == 2
    again = llm.LLMCaptioner(llm.EndpointClient(served_model, tiny_model, max_tokens=16), model="tiny-llama",
                             cache=cache)
    assert again.caption_many(FACTS, ["t0", "t1", "t2"]) == outcomes and again.generator.requests == 0
