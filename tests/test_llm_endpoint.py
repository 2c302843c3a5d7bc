"""The OpenAI-compatible endpoint client against a real local HTTP server.

``test_llm_local`` runs the client against ``transformers serve`` with the tiny
random model (offline); its answers are gibberish. To test the accept path, the
retries, the concurrency limit, the cache and the API key for real, these tests
run a minimal OpenAI-compatible server written here: ``http.server`` on
127.0.0.1 (port 0) answering ``POST /v1/chat/completions`` with captions the
test writes from the facts in the prompt. It counts requests and requests in
flight, records the Authorization header, and can fail the first requests with
HTTP 500, refuse a wrong key with 401, or answer with a wrong caption first.
"""

import json
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fixtures import IN_MEMORY, read_rows, two_piece_corpus

from captune.captioners import llm
from captune.captioners.cache import ResponseCache
from captune.pipelines import cli

SECRET = "sk-test-0123456789-secret"
KEY_ENV = "CAPTUNE_TEST_API_KEY"


def caption_from_prompt(messages: list[dict]) -> str:
    """A true caption written from the facts listed in the last facts message of the prompt."""
    facts_message = [m["content"] for m in messages if m["role"] == "user" and "\n" in m["content"]][-1]
    facts = dict(re.findall(r"^([a-z ]+): (.+)$", facts_message, re.MULTILINE))
    parts = [f"This {facts.get('instruments', 'ensemble')} piece"]
    if "key" in facts:
        parts.append(f"in {facts['key']}")
    if "time signature" in facts:
        parts.append(f"moves in {facts['time signature']}")
    bpm = re.match(r"(\d+) bpm", facts.get("tempo", ""))
    if bpm:
        parts.append(f"at about {bpm.group(1)} BPM")
    return " ".join(parts) + "."


class Server:
    """A minimal OpenAI-compatible chat completions server on 127.0.0.1."""

    def __init__(self, mode="good", fail_first=0, delay_s=0.0, require_key=None):
        self.mode, self.fail_first, self.delay_s, self.require_key = mode, fail_first, delay_s, require_key
        self.requests, self.in_flight, self.max_in_flight = 0, 0, 0
        self.auth, self.bodies = [], []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests += 1
                    number = server.requests
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    server.auth.append(self.headers.get("Authorization"))
                    server.bodies.append(body)
                try:
                    time.sleep(server.delay_s)
                    code, payload = self._reply(body, number)
                finally:
                    # Out of flight before the reply is written: once the client has read it, it may
                    # send its next request before this thread runs again.
                    with server.lock:
                        server.in_flight -= 1
                self._send(code, payload)

            def _reply(self, body, number):
                if self.path != "/v1/chat/completions":
                    return 404, {"error": "not found"}
                if server.require_key and self.headers.get("Authorization") != f"Bearer {server.require_key}":
                    return 401, {"error": "invalid api key"}
                if number <= server.fail_first:
                    return 500, {"error": "overloaded"}
                return 200, {"object": "chat.completion", "model": body["model"], "choices": [
                    {"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": server.answer(body["messages"])}}]}

            def _send(self, code, payload):
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, messages):
        good = caption_from_prompt(messages)
        retry = messages[-1]["content"].startswith("That caption is not accurate")
        if self.mode == "always_bad" or (self.mode == "bad_then_good" and not retry):
            return good[:-1] + ", with a bright trumpet solo."
        return f'Caption: "{good}"' if self.mode == "labelled" else good

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


FACTS = [
    {"key": "E minor", "tempo_bpm": 96.0, "tempo_word": "Moderato", "time_signature": "3/4",
     "instruments": ["Acoustic Grand Piano"], "instrument_programs": [0]},
    {"key": "C major", "tempo_bpm": 120.0, "tempo_word": "Allegro", "time_signature": "4/4",
     "instruments": ["Violin", "Cello"], "instrument_programs": [40, 42]},
    {"key": None, "tempo_bpm": 100.0, "tempo_word": "Moderato", "time_signature": "4/4",
     "instruments": ["Drums"], "instrument_programs": [128]},
]
TEMPLATES = ["t0", "t1", "t2"]


def _captioner(url, cache_dir, **client_args):
    client = llm.EndpointClient(url, "test-model", api_key_env=KEY_ENV, **client_args)
    return llm.LLMCaptioner(client, model="test-model", cache=ResponseCache(str(cache_dir))), client


def test_true_captions_are_accepted_cached_and_sent_with_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    with Server(mode="labelled") as server:
        captioner, _ = _captioner(server.url, tmp_path / "cache")
        outcomes = captioner.caption_many(FACTS, TEMPLATES)
        assert [o["caption_check"]["status"] for o in outcomes] == ["accepted"] * 3
        assert all(o["caption_source"] == "llm:test-model" for o in outcomes)
        assert outcomes[0]["caption"] == "This piano piece in E minor moves in 3/4 at about 96 BPM."
        assert server.requests == 3 and server.auth == [f"Bearer {SECRET}"] * 3
        assert server.bodies[0]["model"] == "test-model" and server.bodies[0]["temperature"] == 0

        again, _ = _captioner(server.url, tmp_path / "cache")
        assert again.caption_many(FACTS, TEMPLATES) == outcomes
        assert server.requests == 3  # the re-run paid nothing
    for path in (tmp_path / "cache").rglob("*"):
        assert path.is_dir() or SECRET not in path.read_text()


def test_no_key_no_authorization_header_and_a_refused_key_stops_the_requests(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with Server() as server:
        captioner, _ = _captioner(server.url, tmp_path / "cache")
        captioner.caption_many(FACTS[:1], TEMPLATES[:1])
        assert server.auth == [None]
    monkeypatch.setenv(KEY_ENV, "sk-wrong")
    with Server(require_key=SECRET) as server, caplog.at_level(logging.WARNING):
        captioner, client = _captioner(server.url, tmp_path / "cache2", concurrency=1)
        outcomes = captioner.caption_many(FACTS, TEMPLATES)
        assert [o["caption"] for o in outcomes] == TEMPLATES and server.requests == 1  # no retry of a 401
        assert "HTTP 401" in outcomes[0]["caption_check"]["problems"][0] and "--llm-api-key-env" in caplog.text
        assert "sk-wrong" not in caplog.text


def test_server_errors_are_retried_with_exponential_backoff(tmp_path):
    with Server(fail_first=2) as server:
        client = llm.EndpointClient(server.url, "test-model", retries=3, backoff_s=0.1, concurrency=1)
        started = time.monotonic()
        [answer] = client.generate([[{"role": "user", "content": "facts:\nkey: C major"}]])
        elapsed = time.monotonic() - started
        assert answer == "This ensemble piece in C major."
        assert server.requests == 3 and elapsed >= 0.1 + 0.2  # waited 0.1 s, then 0.2 s
    with Server(fail_first=100) as server:
        client = llm.EndpointClient(server.url, "test-model", retries=2, backoff_s=0.01)
        assert client.generate([[{"role": "user", "content": "x\ny: z"}]]) == [None]
        assert server.requests == 3 and "HTTP 500" in client.error and not client.dead


def test_at_most_concurrency_requests_are_in_flight(tmp_path):
    with Server(delay_s=0.15) as server:
        client = llm.EndpointClient(server.url, "test-model", concurrency=3)
        answers = client.generate([[{"role": "user", "content": f"f\nkey: C major {i}"}] for i in range(9)])
        assert len(answers) == 9 and all(answers)
        assert server.max_in_flight == 3


def test_a_wrong_caption_is_retried_once_then_replaced_by_the_template(tmp_path):
    with Server(mode="bad_then_good") as server:
        captioner, _ = _captioner(server.url, tmp_path / "a")
        outcomes = captioner.caption_many(FACTS[:2], TEMPLATES[:2])
        for outcome in outcomes:
            check = outcome["caption_check"]
            assert check["status"] == "retried" and check["attempts"] == 2
            assert check["problems"] == ["instruments: names trumpet, which does not play"]
            assert "trumpet" not in outcome["caption"] and outcome["caption_source"] == "llm:test-model"
        assert server.requests == 4
        retry_prompt = server.bodies[-1]["messages"]
        assert retry_prompt[-2]["role"] == "assistant" and "trumpet" in retry_prompt[-2]["content"]
    with Server(mode="always_bad") as server:
        captioner, _ = _captioner(server.url, tmp_path / "b")
        outcomes = captioner.caption_many(FACTS[:2], TEMPLATES[:2])
        assert [(o["caption"], o["caption_source"]) for o in outcomes] == [("t0", "template"), ("t1", "template")]
        assert all(o["caption_check"]["status"] == "fallback" and o["caption_check"]["attempts"] == 2
                   for o in outcomes)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_dead_endpoint_gives_template_captions_and_a_clear_message(tmp_path, caplog):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    client = llm.EndpointClient(url, "test-model", retries=1, backoff_s=0.01)
    captioner = llm.LLMCaptioner(client, model="test-model", cache=ResponseCache(str(tmp_path)))
    with caplog.at_level(logging.WARNING):
        outcomes = captioner.caption_many(FACTS, TEMPLATES)
    assert [o["caption"] for o in outcomes] == TEMPLATES
    for o in outcomes:
        assert o["caption_check"]["status"] == "fallback" and "unreachable" in o["caption_check"]["problems"][0]
    assert client.dead and "is unreachable" in caplog.text and url in caplog.text
    requests = client.requests
    assert captioner.caption_many(FACTS, TEMPLATES) == outcomes and client.requests == requests  # no more tries


# --- the pipeline --------------------------------------------------------------------







def test_pipeline_with_an_endpoint_accepts_checked_captions_and_never_leaks_the_key(
        tmp_path, monkeypatch, capfd, caplog):
    monkeypatch.setenv(KEY_ENV, SECRET)
    corpus = two_piece_corpus(tmp_path / "in")
    with Server() as server, caplog.at_level(logging.DEBUG):
        flags = ["--captioner", "llm", "--llm-endpoint", server.url, "--llm-model", "test-model",
                 "--llm-api-key-env", KEY_ENV, "--caption-style", "summary", "--llm-cache", str(tmp_path / "cache"),
                 *IN_MEMORY]
        assert cli.main(["build", str(corpus), "--output", str(tmp_path / "out1"), *flags]) == 0
        assert server.requests == 2
        assert cli.main(["build", str(corpus), "--output", str(tmp_path / "out2"), *flags]) == 0
        assert server.requests == 2  # second run: every answer from the cache
    printed = capfd.readouterr()
    assert "captions    accepted=2  retried=0  fallback=0  template=0" in printed.out
    rows = read_rows(tmp_path / "out1")
    assert rows == read_rows(tmp_path / "out2")  # same inputs, seed and cached answers: identical rows
    e_minor = next(r for r in rows if r["source_uri"].endswith("e_minor.mid"))
    assert e_minor["caption"].startswith("This piano, ")  # instruments in the extractor's order of prominence
    assert e_minor["caption"].endswith(" piece in E minor moves in 3/4 at about 96 BPM.")
    assert e_minor["caption_source"] == "llm:test-model"
    assert e_minor["caption_check"] == {"status": "accepted", "problems": [], "attempts": 1}
    manifest = (tmp_path / "out1" / "manifest.json").read_text()
    assert json.loads(manifest)["counts"]["captions"]["accepted"] == 2
    for text in (manifest, printed.out, printed.err, caplog.text):
        assert SECRET not in text
    assert server.auth == [f"Bearer {SECRET}"] * 2


def test_pipeline_with_a_dead_endpoint_keeps_every_row(tmp_path, capsys):
    corpus = two_piece_corpus(tmp_path / "in")
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    assert cli.main(["build", str(corpus), "--output", str(tmp_path / "out"), "--captioner", "llm",
                     "--llm-endpoint", url, "--llm-model", "test-model", "--llm-retries", "1", *IN_MEMORY]) == 0
    printed = capsys.readouterr().out
    assert "fallback=2" in printed and "unreachable" in printed and url in printed
    rows = read_rows(tmp_path / "out")
    assert len(rows) == 2 and all(r["caption_source"] == "template" for r in rows)


def test_styles_and_examples_from_a_file_shape_the_prompt(tmp_path):
    from captune.captioners import prompts

    path = tmp_path / "examples.jsonl"
    path.write_text(json.dumps({"facts": {"key": "D minor", "instruments": ["Cello"]},
                                "caption": "A lone cello in D minor."}) + "\n"
                    + json.dumps({"facts": "key: G major", "caption": "Bright and in G major."}) + "\n")
    examples = prompts.load_examples(str(path))
    with Server() as server:
        client = llm.EndpointClient(server.url, "test-model")
        captioner = llm.LLMCaptioner(client, model="test-model", style="attributes", examples=examples)
        [outcome] = captioner.caption_many(FACTS[:1], TEMPLATES[:1])
        assert outcome["caption_check"]["status"] == "accepted"
        sent = server.bodies[0]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert sent[1]["content"] == prompts.STYLES["attributes"] + "\ninstruments: cello\nkey: D minor"
    assert sent[2]["content"] == "A lone cello in D minor." and sent[3]["content"].endswith("key: G major")
    assert sent[-1]["content"].startswith(prompts.STYLES["attributes"])
    assert "tempo: 96 bpm (Moderato)" in sent[-1]["content"]
    assert len({prompts.STYLES[s] for s in ("writing", "summary", "paraphrase", "attributes")}) == 4
