"""The embedded default backend: a GGUF model run in process by llama.cpp (llama-cpp-python).

Prompts are formatted with the model's own chat template (from the GGUF metadata) and sent as
raw completions, so that :meth:`LlamaCppBackend.prefill` and :meth:`LlamaCppBackend.complete`
tokenise the same text: llama.cpp keeps the longest common token prefix of consecutive prompts
in its KV cache, so a transcript prefilled during recording, or shared by every section of a
note, is evaluated once. JSON schemas become GBNF grammars, so output always parses.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scribe.catalogue import MODELS_EXTRA
from scribe.config import Settings
from scribe.errors import BackendError, ModelError
from scribe.notes.backends.base import Completion, Message, OnText, SentenceLoop
from scribe.notes.backends.lines import LineConstraint, LineFormat
from scribe.notes.backends.lines import apply as apply_mask

log = logging.getLogger(__name__)


def _gpu_layers(requested: int, device: str) -> int:
    """Layers to offload: all (-1 means all) when this llama.cpp build and a CUDA GPU allow it."""
    import llama_cpp

    if device == "cpu" or requested == 0:
        return 0
    from scribe.devices import cuda_available

    if not (llama_cpp.llama_supports_gpu_offload() and cuda_available()):
        if device == "cuda":
            raise BackendError(
                "device cuda was asked for, but this llama-cpp-python build has no CUDA support or no GPU is "
                "visible; reinstall it with CMAKE_ARGS='-DGGML_CUDA=on' or use device cpu/auto"
            )
        return 0
    return requested


class LlamaCppBackend:
    """A GGUF chat model in this process."""

    name = "llamacpp"

    def __init__(
        self,
        model_path: Path,
        *,
        context_tokens: int = 8192,
        threads: int = 0,
        gpu_layers: int = -1,
        device: str = "auto",
        seed: int = 0,
        flash_attn: bool = False,
        batch: int = 512,
    ) -> None:
        try:
            import llama_cpp
        except ImportError as exc:  # not installed, or a broken build of the compiled extension
            missing = isinstance(exc, ModuleNotFoundError) and exc.name == "llama_cpp"
            problem = "is not installed" if missing else f"cannot be imported ({exc})"
            raise BackendError(f"llama-cpp-python {problem}; install scribe's models extra: {MODELS_EXTRA}") from None
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        offload = _gpu_layers(gpu_layers, device)
        self.device = "cuda" if offload else "cpu"
        self.model = model_path.stem
        self.seed = seed
        started = time.perf_counter()
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=context_tokens,
                n_threads=threads or os.cpu_count() or 1,
                n_threads_batch=threads or os.cpu_count() or 1,
                n_batch=batch,
                n_gpu_layers=offload,
                flash_attn=flash_attn,
                seed=seed,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(
                f"llama.cpp cannot load {model_path} ({exc}); check the file with `scribe models verify`"
            ) from None
        self.context_tokens = self._llm.n_ctx()
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(f"{model_path} has no chat template in its metadata; use an instruction-tuned GGUF")
        eos, bos = self._llm.token_eos(), self._llm.token_bos()
        self._eos_text = self._token_text(eos)
        self._pieces: list[str] | None = None  # every token's text, made on first use of a line format
        self._constraints: dict[LineFormat, LineConstraint] = {}
        self._formatter = Jinja2ChatFormatter(template, eos_token=self._eos_text, bos_token=self._token_text(bos))
        log.info(
            "loaded %s on %s (%d layers offloaded, context %d) in %.1f s",
            model_path.name,
            self.device,
            offload,
            self.context_tokens,
            time.perf_counter() - started,
        )

    @classmethod
    def from_settings(cls, settings: Settings, model: str | None = None) -> LlamaCppBackend:
        """Resolve the catalogue model (or GGUF path) named in settings and load it."""
        from scribe.catalogue import resolve_gguf

        return cls(
            resolve_gguf(model or settings.llm_model, settings),
            context_tokens=settings.llm_context,
            threads=settings.llm_threads,
            gpu_layers=settings.llm_gpu_layers,
            device=settings.device,
            seed=settings.llm_seed,
            flash_attn=settings.llm_flash_attn,
            batch=settings.llm_batch,
        )

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def _prompt(self, messages: Sequence[Message]) -> str:
        return self._formatter(messages=[m.as_dict() for m in messages]).prompt

    def _tokens(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prefill(self, messages: Sequence[Message]) -> None:
        """Evaluate the prompt up to the end of the last message's text, so later prompts start there.

        The chat template's closing tokens after the last message are left out: a prompt that
        extends that message (more transcript, then a task) shares the whole evaluated prefix.
        """
        if not messages:
            return
        prompt = self._prompt(messages)
        end = prompt.rfind(messages[-1].content) + len(messages[-1].content)
        tokens = self._tokens(prompt[:end])
        if len(tokens) >= self.context_tokens:
            return
        started = time.perf_counter()
        self._llm.create_completion(tokens, max_tokens=1, temperature=0.0, seed=self.seed)
        log.debug("prefilled %d tokens in %.2f s", len(tokens), time.perf_counter() - started)

    def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        on_text: OnText | None = None,
        lines: LineFormat | None = None,
        stop_loops: bool = False,
    ) -> Completion:
        from llama_cpp import LlamaGrammar, LogitsProcessorList

        tokens = self._tokens(self._prompt(messages))
        if len(tokens) + max_tokens > self.context_tokens:
            raise BackendError(
                f"prompt of {len(tokens)} tokens plus {max_tokens} to generate exceeds the context of "
                f"{self.context_tokens}; raise SCRIBE_LLM_CONTEXT or shorten the input"
            )
        grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False) if schema else None
        processors = LogitsProcessorList([self._line_processor(lines, len(tokens))]) if lines else None
        cached_before = self._common_prefix(tokens)
        started = time.perf_counter()
        pieces: list[str] = []
        finish = ""
        count = 0
        loop = SentenceLoop() if stop_loops else None
        try:
            stream = self._llm.create_completion(
                tokens,
                max_tokens=max_tokens,
                temperature=0.0,
                seed=self.seed,
                stop=[self._eos_text] if self._eos_text else [],
                grammar=grammar,
                logits_processor=processors,
                stream=True,
            )
            for chunk in stream:
                choice = chunk["choices"][0]
                piece = choice.get("text") or ""
                count += 1
                if piece:
                    pieces.append(piece)
                    if on_text is not None:
                        on_text(piece)
                finish = choice.get("finish_reason") or finish
                if loop is not None and piece and loop.feed(piece):
                    log.info("the answer repeats itself; it ends after %d tokens", count)
                    finish = "loop"
                    stream.close()
                    break
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"llama.cpp failed while generating: {exc}") from None
        text = "".join(pieces)
        return Completion(
            text=text,
            prompt_tokens=len(tokens),
            completion_tokens=max(count, 0),
            cached_tokens=cached_before,
            seconds=time.perf_counter() - started,
            finish_reason=finish or "stop",
        )

    def _line_processor(self, form: LineFormat, prompt_length: int) -> Callable[[Any, Any], Any]:
        """A logits processor holding the answer (the tokens after ``prompt_length``) to ``form``."""
        constraint = self._constraints.get(form)
        if constraint is None:
            if self._pieces is None:
                vocab = self._llm.n_vocab()
                self._pieces = [
                    self._llm.detokenize([i], special=False).decode("utf-8", errors="ignore") for i in range(vocab)
                ]
            constraint = LineConstraint(form, self._pieces, [self._llm.token_eos()])
            self._constraints[form] = constraint
        pieces = self._pieces or []

        def processor(input_ids: Any, scores: Any) -> Any:
            generated = [int(t) for t in input_ids[prompt_length:]]
            answer = "".join(pieces[t] for t in generated)
            scores = apply_mask(scores, constraint.allowed(answer))
            repeats = constraint.repeats(generated, answer)
            if repeats and int(np.argmax(scores)) in repeats:  # a loop has begun: the answer ends here
                scores = np.where(constraint.end[: len(scores)], 0.0, -np.inf).astype(scores.dtype)
            return scores

        return processor

    def _common_prefix(self, tokens: list[int]) -> int:
        """Tokens of ``tokens`` already in the KV cache (what llama.cpp will skip)."""
        cached = self._llm.eval_tokens  # a deque of the tokens evaluated so far
        n = 0
        for a, b in zip(cached, tokens, strict=False):
            if a != b:
                break
            n += 1
        return n

    def close(self) -> None:
        self._llm.close()
