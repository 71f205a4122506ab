"""The OpenAI-compatible backend against real servers on 127.0.0.1.

llama-cpp-python's own server (serving the packaged SmolLM2 GGUF) answers the real-model
tests; small ``http.server`` servers written here, listening on real sockets, play servers
that fail in the ways the retry logic must handle (slow, 5xx, 429, broken streams).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import pytest
from helpers.local_server import free_port
from pydantic import BaseModel, SecretStr

from scribe.config import Settings
from scribe.errors import BackendError, BackendTimeoutError
from scribe.notes.backends import load_backend
from scribe.notes.backends.base import Message
from scribe.notes.backends.openai import OpenAIBackend, estimate_tokens

QUESTION = [Message("system", "You answer briefly."), Message("user", "Name three colours.")]
FAST = {"retries": 2, "backoff": 0.01}  # quick retries for the failing servers


class Vitals(BaseModel):
    pulse: int
    side: Literal["left", "right"]


@pytest.fixture
def backend(llm_server_url: str) -> Iterator[OpenAIBackend]:
    client = OpenAIBackend(llm_server_url, timeout=60, retries=1)
    yield client
    client.close()


# -- the real server --------------------------------------------------------------------------------


def test_discovers_the_model_and_streams_pieces(backend: OpenAIBackend, smollm2_gguf: Path) -> None:
    pieces: list[str] = []
    done = backend.complete(QUESTION, max_tokens=24, on_text=pieces.append)
    assert backend.model.endswith(smollm2_gguf.name)  # llama_cpp.server names its model by the path given
    assert len(pieces) > 3
    assert "".join(pieces) == done.text
    assert done.text.strip()
    assert done.finish_reason in ("stop", "length")
    assert 0 < done.completion_tokens <= 24
    assert done.prompt_tokens > 10
    assert done.extra["attempts"] == 1


def test_schema_answers_validate(backend: OpenAIBackend) -> None:
    messages = [Message("user", "The pulse was 72 and the pain is in the left knee. Give pulse and side as JSON.")]
    done = backend.complete(messages, schema=Vitals.model_json_schema(), max_tokens=64)
    vitals = Vitals.model_validate_json(done.text)
    assert isinstance(vitals.pulse, int)
    # llama-cpp-python 0.3.36 refuses response_format json_schema; the backend fell back and remembers
    assert backend.schema_form == "json_object"
    again = backend.complete(messages, schema=Vitals.model_json_schema(), max_tokens=64)
    assert Vitals.model_validate_json(again.text) == vitals
    assert again.extra["attempts"] == 1


def test_count_tokens_uses_the_server_tokenizer(backend: OpenAIBackend, smollm2_gguf: Path) -> None:
    import llama_cpp

    text = "Amoxicillin 500 mg three times a day for seven days; review if no better in 48 hours."
    vocab = llama_cpp.Llama(model_path=str(smollm2_gguf), vocab_only=True, verbose=False)
    try:
        expected = len(vocab.tokenize(text.encode(), add_bos=True, special=True))
    finally:
        vocab.close()
    assert expected != estimate_tokens(text)  # so the assertion below tells the two apart
    assert backend.count_tokens(text) == expected


def test_prefill_does_not_change_the_answer(backend: OpenAIBackend) -> None:
    plain = backend.complete(QUESTION, max_tokens=12)
    backend.prefill(QUESTION[:1] + [Message("user", "Name three")])
    assert backend.complete(QUESTION, max_tokens=12).text == plain.text


def test_prompt_over_the_context_is_refused_without_retries(llm_server_url: str) -> None:
    backend = OpenAIBackend(llm_server_url, retries=3, backoff=5)  # a retry would make this test slow
    # the server answers 200 and an empty stream: its error never reaches the client
    with pytest.raises(BackendError, match="ended the stream without any answer.*context") as caught:
        backend.complete([Message("user", "word " * 3000)], max_tokens=8)
    assert "tries" not in str(caught.value)
    backend.close()


def test_from_settings(settings: Settings, llm_server_url: str, smollm2_gguf: Path) -> None:
    configured = settings.model_copy(update={"openai_base_url": llm_server_url, "openai_api_key": SecretStr("s3cr3t")})
    backend = OpenAIBackend.from_settings(configured)
    assert backend.model.endswith(smollm2_gguf.name)
    assert backend.context_tokens == settings.llm_context
    assert backend.device == "remote"
    assert "s3cr3t" not in repr(backend)
    backend.close()
    named = load_backend(configured, "openai", model="any-name")  # the factory passes a model name through
    assert isinstance(named, OpenAIBackend) and named.model == "any-name"
    named.close()


# -- servers that misbehave, on real sockets ------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    at: float


class CannedServer:
    """An HTTP server on 127.0.0.1 that answers with ``replies`` in turn (the last one repeats)."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.seen: list[Seen] = []
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                canned.seen.append(Seen(self.command, self.path, dict(self.headers), body, time.monotonic()))
                reply = canned.replies.pop(0) if len(canned.replies) > 1 else canned.replies[0]
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CannedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def sse(pieces: list[str], *, finish: str | None = "stop", usage: dict | None = None, done: bool = True) -> Reply:
    """A streamed chat completion as a server sends it."""
    events = [{"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}]
    events += [{"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    if finish:
        events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if usage:
        events.append({"choices": [], "usage": usage})
    text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + (": ping\n\ndata: [DONE]\n\n" if done else "")
    return Reply(200, text.encode(), {"Content-Type": "text/event-stream"})


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps({"error": {"message": message, "type": "error"}}).encode()
    return Reply(status, body, {"Content-Type": "application/json", **(headers or {})})


def test_server_down_fails_quickly_with_advice() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(BackendError, match="is the server at .* running.*SCRIBE_OPENAI_BASE_URL"):
        OpenAIBackend(url, **FAST)  # model discovery is the first request
    backend = OpenAIBackend(url, model="m", **FAST)
    with pytest.raises(BackendError, match="after 3 tries.*cannot reach the server"):
        backend.complete(QUESTION)
    assert backend.count_tokens("x" * 40) == 10  # unreachable: an estimate, no error


def test_slow_server_times_out_after_the_retries() -> None:
    with CannedServer([Reply(delay=1.0, body=b"{}")]) as server:
        backend = OpenAIBackend(server.url, model="m", timeout=0.2, **FAST)
        with pytest.raises(BackendTimeoutError, match="after 3 tries.*SCRIBE_OPENAI_TIMEOUT"):
            backend.complete(QUESTION)
    assert len(server.seen) == 3


def test_server_error_then_success_is_retried() -> None:
    pieces: list[str] = []
    with CannedServer([error(500, "busy"), sse(["Red", ", green", ", blue."])]) as server:
        backend = OpenAIBackend(server.url, model="m", **FAST)
        done = backend.complete(QUESTION, on_text=pieces.append)
    assert done.text == "Red, green, blue."
    assert pieces == ["Red", ", green", ", blue."]
    assert done.extra["attempts"] == 2
    assert done.extra["usage"] == "estimated"
    assert done.completion_tokens == 3
    first = server.seen[0].body
    assert first is not None and first["stream"] is True and first["temperature"] == 0 and first["seed"] == 0


def test_rate_limit_waits_as_asked() -> None:
    with CannedServer([error(429, "slow down", {"Retry-After": "1"}), sse(["ok"])]) as server:
        backend = OpenAIBackend(server.url, model="m", **FAST)
        assert backend.complete(QUESTION).text == "ok"
    assert server.seen[1].at - server.seen[0].at >= 0.9  # the backoff alone would wait about 0.01 s


def test_client_errors_are_not_retried() -> None:
    with CannedServer([error(401, "Invalid API key")]) as server:
        backend = OpenAIBackend(server.url, model="m", api_key="k-123", **FAST)
        with pytest.raises(BackendError, match="refused \\(401\\): Invalid API key; check SCRIBE_OPENAI_API_KEY"):
            backend.complete(QUESTION)
    assert len(server.seen) == 1
    assert server.seen[0].headers["Authorization"] == "Bearer k-123"
    assert "k-123" not in repr(backend)


def test_broken_stream_is_retried_from_the_start() -> None:
    pieces: list[str] = []
    broken = sse(["Red", ", gr"], finish=None, done=False)
    with CannedServer([broken, sse(["Red", ", green."])]) as server:
        backend = OpenAIBackend(server.url, model="m", **FAST)
        done = backend.complete(QUESTION, on_text=pieces.append)
    assert done.text == "Red, green."  # the final text is the complete attempt's alone
    assert pieces == ["Red", ", gr", "Red", ", green."]  # on_text saw both attempts
    assert done.extra["attempts"] == 2


def test_usage_from_the_server_is_used() -> None:
    usage = {"prompt_tokens": 31, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 16}}
    with CannedServer([sse(["o", "k"], usage=usage)]) as server:
        backend = OpenAIBackend(server.url, model="m", **FAST)
        done = backend.complete(QUESTION)
    assert (done.prompt_tokens, done.completion_tokens, done.cached_tokens) == (31, 2, 16)
    assert done.extra["usage"] == "server"
    assert server.seen[0].body is not None and server.seen[0].body["stream_options"] == {"include_usage": True}


def test_json_schema_is_sent_where_the_server_accepts_it() -> None:
    with CannedServer([sse(['{"pulse": 72, "side": "left"}'])]) as server:
        backend = OpenAIBackend(server.url, model="m", **FAST)
        done = backend.complete(QUESTION, schema=Vitals.model_json_schema())
    assert Vitals.model_validate_json(done.text).pulse == 72
    assert backend.schema_form == "json_schema"
    sent = server.seen[0].body
    assert sent is not None
    assert sent["response_format"]["type"] == "json_schema"
    expected = {"name": "Vitals", "schema": Vitals.model_json_schema(), "strict": True}
    assert sent["response_format"]["json_schema"] == expected


def test_json_schema_refused_falls_back_to_json_object_for_good() -> None:
    answer = sse(['{"pulse": 60, "side": "right"}'])
    with CannedServer([error(422, "unknown response_format type"), answer]) as server:
        backend = OpenAIBackend(server.url, model="m", **FAST)
        backend.complete(QUESTION, schema=Vitals.model_json_schema())
        backend.complete(QUESTION, schema=Vitals.model_json_schema())
    chats = [s.body for s in server.seen if s.path == "/v1/chat/completions" and s.body]
    assert [c["response_format"]["type"] for c in chats] == ["json_schema", "json_object", "json_object"]
    assert chats[1]["response_format"]["schema"] == Vitals.model_json_schema()


def test_model_discovery_and_no_tokenizer() -> None:
    models = Reply(200, json.dumps({"object": "list", "data": [{"id": "big-model"}, {"id": "other"}]}).encode())
    with CannedServer([models, error(404, "not found")]) as server:
        backend = OpenAIBackend(server.url, **FAST)
        assert backend.model == "big-model"
        assert backend.count_tokens("x" * 41) == 11
        assert backend.count_tokens("y" * 8) == 2
    # one GET for the models, two tokenizer endpoints probed once, then estimates without asking
    assert [s.path for s in server.seen] == ["/v1/models", "/extras/tokenize/count", "/tokenize"]


def test_a_server_with_no_model_is_an_error() -> None:
    with (
        CannedServer([Reply(200, b'{"object": "list", "data": []}')]) as server,
        pytest.raises(BackendError, match="serves no model.*SCRIBE_OPENAI_MODEL"),
    ):
        OpenAIBackend(server.url, **FAST)
