"""Any OpenAI-compatible chat server (vLLM, llama.cpp's servers, Ollama, a hosted endpoint) over HTTP.

This is how a site serves one larger model to many clinicians. Answers stream as server-sent
events; timeouts, connection failures, 429 and 5xx answers are retried with exponential backoff
and jitter (``Retry-After`` honoured), other 4xx answers are not.

Schemas are sent as ``response_format`` ``json_schema`` (OpenAI, vLLM, Ollama). Servers that only
know ``{"type": "json_object", "schema": ...}`` (llama-cpp-python's own server, which reports the
unknown type as a 500) are detected on the first refusal and spoken to in that form from then on.
Both forms constrain decoding on the servers named; a server that ignores ``response_format``
does not, and the drafting code's validation catches what it returns.

A stream that breaks midway is retried from the start: ``on_text`` then receives the pieces of
the new attempt after those of the broken one, so callers must treat ``Completion.text`` as the
authoritative answer and ``on_text`` as a live preview only.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, TypeVar

import httpx

from scribe.config import Settings
from scribe.errors import BackendError, BackendTimeoutError
from scribe.notes.backends.base import Completion, Message, OnText
from scribe.notes.backends.lines import LineFormat
from scribe.retrying import RETRY_STATUS, Backoff, Transient, retry_after, transport_failure

log = logging.getLogger(__name__)

SchemaForm = Literal["json_schema", "json_object"]
CHARS_PER_TOKEN = 4  # the usual estimate for English text when a server cannot count
T = TypeVar("T")

# Token-counting endpoints, relative to the server's root, tried in turn: (path, request body).
TOKENIZERS: tuple[tuple[str, Callable[[str, str], dict[str, Any]]], ...] = (
    ("/extras/tokenize/count", lambda text, model: {"input": text, "model": model}),  # llama-cpp-python
    ("/tokenize", lambda text, model: {"prompt": text, "model": model, "add_special_tokens": False}),  # vLLM
)


def estimate_tokens(text: str) -> int:
    """Tokens ``text`` takes, estimated at about four characters a token."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class _Refused(Exception):
    """The server answered with an error status that a retry will not change."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _FormatRefused(Exception):
    """The server refused a request that used ``response_format`` ``json_schema``, perhaps for that."""


class OpenAIBackend:
    """A chat model behind an OpenAI-compatible ``/chat/completions`` endpoint."""

    name = "openai"
    device = "remote"

    def __init__(
        self,
        base_url: str,
        model: str = "",
        api_key: str | None = None,
        timeout: float = 120,
        retries: int = 3,
        context_tokens: int = 8192,
        client: httpx.Client | None = None,
        seed: int | None = 0,
        backoff: float = 0.5,
    ) -> None:
        """Connect to ``base_url`` (the part before ``/chat/completions``, e.g. ``http://host:8000/v1``).

        ``timeout`` bounds connecting and each wait for data (the gap between streamed pieces, not
        the whole answer); ``retries`` is the number of tries after the first; the n-th retry waits
        about ``backoff * 2**(n-1)`` seconds. An empty ``model`` asks the server for its first model.
        """
        self.base_url = base_url.rstrip("/")
        self.context_tokens = context_tokens
        self.seed = seed
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout))
        self._backoff = Backoff(retries, backoff, seed=seed)
        self._schema_form: SchemaForm | None = None  # settled by the first schema request that succeeds
        self._tokenizers: tuple[int, ...] = tuple(range(len(TOKENIZERS)))  # candidates left in TOKENIZERS
        self.model = model or self._discover_model()

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIBackend:
        """The server, model, key and limits named in settings."""
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return cls(
            settings.openai_base_url,
            model=settings.openai_model,
            api_key=key,
            timeout=settings.openai_timeout,
            retries=settings.openai_retries,
            context_tokens=settings.llm_context,
            seed=settings.llm_seed,
        )

    @property
    def schema_form(self) -> SchemaForm | None:
        """How schemas reach this server (``json_schema`` or ``json_object``), once a schema request succeeded."""
        return self._schema_form

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIBackend(base_url={self.base_url!r}, model={self.model!r})"

    # -- requests ---------------------------------------------------------------------------------

    def _hint(self) -> str:
        return f"is the server at {self.base_url} running? set SCRIBE_OPENAI_BASE_URL to where it listens"

    def _with_retries(self, what: str, attempt_once: Callable[[], T]) -> T:
        """Run ``attempt_once()`` until it succeeds, retrying what :class:`Transient` marks as transient."""
        try:
            return self._backoff.run(what, lambda _attempt: attempt_once())
        except Transient as exc:
            tries = self._backoff.tries
            if exc.timeout:
                raise BackendTimeoutError(
                    f"{what}: no answer from {self.base_url} after {tries} tries ({exc}); the server may be "
                    "overloaded or the model too slow: raise SCRIBE_OPENAI_TIMEOUT or check the server"
                ) from None
            raise BackendError(f"{what} failed after {tries} tries ({exc}); {self._hint()}") from None
        except _Refused as exc:
            how = f"refused ({exc.status})" if exc.status >= 400 else "failed"
            raise BackendError(f"{what}: the server at {self.base_url} {how}: {exc.message}") from None

    def _request(self, method: str, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """One non-streaming request; transient failures become :class:`Transient`."""
        try:
            response = self._client.request(method, url, json=body, headers=self._headers)
        except httpx.TransportError as exc:
            raise transport_failure(exc) from None
        _raise_for_status(response)
        return response

    def _discover_model(self) -> str:
        def once() -> list[Any]:
            return self._request("GET", f"{self.base_url}/models").json().get("data") or []

        try:
            models = self._with_retries("listing models", once)
        except ValueError:
            raise BackendError(f"{self.base_url}/models did not answer JSON; {self._hint()}") from None
        ids = [m["id"] for m in models if isinstance(m, dict) and m.get("id")]
        if not ids:
            raise BackendError(f"the server at {self.base_url} serves no model; load one or set SCRIBE_OPENAI_MODEL")
        log.info("using model %s from %s", ids[0], self.base_url)
        return ids[0]

    # -- completions --------------------------------------------------------------------------------

    def _body(self, messages: Sequence[Message], max_tokens: int, form: SchemaForm | None, schema: Any) -> dict:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.as_dict() for m in messages],
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if self.seed is not None:
            body["seed"] = self.seed
        if form == "json_schema":
            name = re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "answer"))[:64]
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": True},
            }
        elif form == "json_object":
            body["response_format"] = {"type": "json_object", "schema": schema}
        return body

    def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        on_text: OnText | None = None,
        lines: LineFormat | None = None,  # not enforced here: the drafter parses and drops lines that do not fit
        stop_loops: bool = False,  # not watched here: the drafter drops repeated sentences
    ) -> Completion:
        """Stream one answer (temperature 0); ``on_text`` previews pieces, ``Completion.text`` is final."""
        if schema is None:
            return self._complete(messages, max_tokens, on_text, None, None)
        if self._schema_form is not None:
            return self._complete(messages, max_tokens, on_text, self._schema_form, schema)
        try:
            done = self._complete(messages, max_tokens, on_text, "json_schema", schema)
        except _FormatRefused as refused:
            log.info(
                "%s refused response_format json_schema (%s); trying json_object with a schema", self.base_url, refused
            )
            try:
                done = self._complete(messages, max_tokens, on_text, "json_object", schema)
            except BackendError as exc:
                raise BackendError(f"{exc} (before that, response_format json_schema was refused: {refused})") from None
            self._schema_form = "json_object"
            return done
        self._schema_form = "json_schema"
        return done

    def _complete(
        self,
        messages: Sequence[Message],
        max_tokens: int,
        on_text: OnText | None,
        form: SchemaForm | None,
        schema: dict[str, Any] | None,
    ) -> Completion:
        body = self._body(messages, max_tokens, form, schema)
        url = f"{self.base_url}/chat/completions"
        attempts = 0
        started = time.perf_counter()

        def once() -> Completion:
            nonlocal attempts
            attempts += 1
            return self._stream(url, body, on_text, form)

        done: Completion = self._with_retries("generation", once)
        done.seconds = time.perf_counter() - started
        done.extra["attempts"] = attempts
        if done.extra.get("usage") == "estimated":
            prompt = "\n".join(m.content for m in messages)
            done.prompt_tokens = self.count_tokens(prompt) + 4 * len(messages)  # plus the chat template's markers
        return done

    def _stream(self, url: str, body: dict[str, Any], on_text: OnText | None, form: SchemaForm | None) -> Completion:
        """One streamed try: the whole answer, or :class:`Transient` / :class:`_Refused`."""
        pieces: list[str] = []
        finish = ""
        usage: dict[str, Any] | None = None
        chunks = events = 0
        first: float | None = None
        started = time.perf_counter()
        done = connected = False
        try:
            with self._client.stream("POST", url, json=body, headers=self._headers) as response:
                connected = True
                if response.status_code != 200:
                    response.read()
                    _raise_for_status(response, schema_form=form)
                for data in _sse_data(response.iter_lines()):
                    events += 1
                    if data == "[DONE]":
                        done = True
                        break
                    event = _json(data)
                    if "error" in event:
                        raise _Refused(500, _error_text(event))
                    usage = event.get("usage") or usage
                    for choice in event.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece:
                            chunks += 1
                            first = first or time.perf_counter()
                            pieces.append(piece)
                            if on_text is not None:
                                on_text(piece)
                        finish = choice.get("finish_reason") or finish
        except httpx.TimeoutException as exc:
            raise Transient(f"timed out waiting for the stream: {type(exc).__name__}", timeout=True) from None
        except httpx.TransportError as exc:
            broken = "the stream broke" if connected else "cannot reach the server"
            raise Transient(f"{broken}: {type(exc).__name__}: {exc}") from None
        if not events:  # a clean end with nothing in it: the server swallowed an error, a retry gets the same
            raise _Refused(
                200,
                "the server ended the stream without any answer (llama-cpp-python's server does this when the "
                "prompt plus max_tokens exceed its context, --n_ctx); shorten the input or raise the server's context",
            )
        if not done and not finish:
            raise Transient(f"the stream ended after {len(pieces)} pieces without finishing")
        completion = Completion(text="".join(pieces), finish_reason=finish or "stop")
        completion.extra["time_to_first_token"] = (first - started) if first else None
        if usage:
            completion.prompt_tokens = int(usage.get("prompt_tokens") or 0)
            completion.completion_tokens = int(usage.get("completion_tokens") or 0)
            details = usage.get("prompt_tokens_details") or {}
            completion.cached_tokens = int(details.get("cached_tokens") or 0)
            completion.extra["usage"] = "server"
        else:  # servers that ignore stream_options: streamed pieces are about one token each
            completion.completion_tokens = chunks
            completion.extra["usage"] = "estimated"
        return completion

    # -- tokens and prefill -----------------------------------------------------------------------

    def _root(self) -> str:
        """The server's root: extras such as tokenizers live beside ``/v1``, not under it."""
        return self.base_url.removesuffix("/v1")

    def count_tokens(self, text: str) -> int:
        """Tokens by the server's own tokenizer where it offers one, else about four characters a token.

        Which endpoint works (llama-cpp-python's ``/extras/tokenize/count``, vLLM's ``/tokenize``)
        is found on the first call that reaches the server and remembered; a server with neither is
        estimated from then on. Nothing is retried: an unreachable server gives an estimate.
        """
        candidates = self._tokenizers
        for index in candidates:
            path, body = TOKENIZERS[index]
            try:
                response = self._client.post(self._root() + path, json=body(text, self.model), headers=self._headers)
            except httpx.HTTPError:
                return estimate_tokens(text)
            count = _token_count(response)
            if count is not None:
                self._tokenizers = (index,)
                return count
        if len(candidates) > 1:
            self._tokenizers = ()
            log.info("%s offers no tokenizer endpoint; estimating tokens from characters", self._root())
        return estimate_tokens(text)

    def prefill(self, messages: Sequence[Message]) -> None:
        """Ask for one token on ``messages`` so a server with prefix caching keeps them evaluated.

        llama.cpp's servers keep the longest common token prefix of consecutive prompts and vLLM
        caches prefix blocks, so a later request that extends these messages starts where this
        one stopped. On a server without prefix caching it costs one prompt evaluation and saves
        nothing. One try, no retries: failures raise BackendError for the caller to log and ignore.
        """
        if not messages:
            return
        body = self._body(messages, 1, None, None)
        body.update(stream=False)
        body.pop("stream_options")
        try:
            self._request("POST", f"{self.base_url}/chat/completions", body)
        except Transient as exc:
            raise BackendError(f"prefill failed ({exc}); {self._hint()}") from None
        except _Refused as exc:
            raise BackendError(f"prefill refused by {self.base_url} ({exc.status}): {exc.message}") from None

    def close(self) -> None:
        """Close the HTTP connections (a client passed in is left to its owner)."""
        if self._own_client:
            self._client.close()


def _sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The data of each server-sent event (``data:`` lines joined; comments and other fields skipped)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _token_count(response: httpx.Response) -> int | None:
    """The count in a tokenizer endpoint's answer (``count``, or the length of ``tokens``), if it is one."""
    if response.status_code != 200:
        return None
    try:
        answer = response.json()
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    if isinstance(answer.get("count"), int):
        return answer["count"]
    tokens = answer.get("tokens")
    return len(tokens) if isinstance(tokens, list) else None


def _json(data: str) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except ValueError:
        raise Transient(f"the stream carried something that is not JSON: {data[:80]!r}") from None
    if not isinstance(event, dict):
        raise Transient(f"the stream carried an unexpected event: {data[:80]!r}")
    return event


def _error_text(payload: Any) -> str:
    """The message of an OpenAI-style error body (``{"error": {"message": ...}}``) or FastAPI's ``detail``."""
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if payload.get("detail"):
            return str(payload["detail"])
        if payload.get("message"):
            return str(payload["message"])
    return str(payload)[:500]


def _raise_for_status(response: httpx.Response, schema_form: SchemaForm | None = None) -> None:
    """Nothing for 2xx; :class:`Transient` for 408, 429 and 5xx; :class:`_Refused` for other errors."""
    status = response.status_code
    if status < 300:
        return
    try:
        message = _error_text(response.json())
    except ValueError:
        message = response.text.strip()[:500] or response.reason_phrase
    if schema_form == "json_schema" and (status in (400, 422) or "response_format" in message):
        raise _FormatRefused(f"HTTP {status}: {message}")  # complete() falls back to json_object
    if status in RETRY_STATUS:
        raise Transient(f"HTTP {status}: {message}", wait=retry_after(response) if status in (429, 503) else None)
    advice = {
        401: "check SCRIBE_OPENAI_API_KEY",
        403: "check SCRIBE_OPENAI_API_KEY and that this key may use the model",
        404: "check SCRIBE_OPENAI_BASE_URL (it usually ends in /v1) and SCRIBE_OPENAI_MODEL",
    }.get(status, "check the request limits (context, max tokens) and the server's log")
    raise _Refused(status, f"{message}; {advice}")
