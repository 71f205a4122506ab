"""A chat model run by Hugging Face transformers: a local model folder or a GGUF file, on CPU or CUDA.

An optional extra (``pip install 'scribe[transformers]'``): torch and transformers are imported
when a backend is built, never at module import. Nothing is fetched from the Hugging Face hub
(``local_files_only``); a GGUF file is dequantised on load (transformers needs the ``gguf`` and
``accelerate`` packages for that), so it takes the memory of the full-precision model.

Decoding is NOT constrained to the schema here: transformers has no JSON-schema decoding of its
own. The schema is put in the prompt, the answer is started with ``{`` so the model writes an
object, generation stops as soon as that object is complete, and the first JSON object of the
output is returned. The drafting code validates every answer with pydantic and retries; an
answer with no complete object is returned as generated, for that validation to reject.

``prefill`` is a no-op: each ``complete`` evaluates its whole prompt.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scribe.config import Settings
from scribe.errors import BackendError, ModelError
from scribe.notes.backends.base import Completion, Message, OnText, schema_text
from scribe.notes.backends.lines import LineFormat

log = logging.getLogger(__name__)

INSTALL = "install the extra: pip install 'scribe[transformers]'"
SCHEMA_PROMPT = "Answer with one JSON object and nothing else. It must match this JSON schema:\n{schema}"


def json_object_end(text: str) -> int | None:
    """Where the first complete JSON object in ``text`` ends (an index into ``text``), if one does."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        _, end = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return None
    return end


def with_schema(messages: Sequence[Message], schema: dict[str, Any]) -> list[Message]:
    """``messages`` with the schema and the instruction to follow it added to the last user message."""
    out = list(messages)
    instruction = SCHEMA_PROMPT.format(schema=schema_text(schema))
    for i in range(len(out) - 1, -1, -1):
        if out[i].role == "user":
            out[i] = Message("user", f"{out[i].content}\n\n{instruction}")
            return out
    return [*out, Message("user", instruction)]


def _locate(model_path: Path, gguf_file: str | None) -> tuple[Path, str | None]:
    """The folder to load from and the GGUF file in it (None for a transformers model folder)."""
    path = model_path.expanduser()
    if gguf_file is None and path.is_file():
        path, gguf_file = path.parent, path.name
    if gguf_file is not None:
        if not (path / gguf_file).is_file():
            raise ModelError(f"no GGUF file {path / gguf_file}; check the path (SCRIBE_LLM_MODEL)")
        return path, gguf_file
    if not path.is_dir():
        raise ModelError(
            f"no model at {path}; give a transformers model folder (config.json and weights) or a GGUF file "
            "(SCRIBE_LLM_MODEL)"
        )
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} is not a transformers model folder (no config.json); give one, or a GGUF file")
    return path, None


class TransformersBackend:
    """A causal language model with a chat template, loaded by transformers."""

    name = "transformers"

    def __init__(
        self,
        model_path: Path,
        *,
        device: str = "auto",
        context_tokens: int = 8192,
        seed: int = 0,
        gguf_file: str | None = None,
        threads: int = 0,
    ) -> None:
        """Load ``model_path``: a model folder, a GGUF file, or a folder holding ``gguf_file``.

        ``device`` auto picks CUDA (float16) when torch sees a GPU, else CPU (float32).
        ``context_tokens`` is capped at the model's own maximum. Decoding is greedy, so ``seed``
        changes nothing; it is kept for the common interface. ``threads`` > 0 sets torch's CPU
        threads, for the whole process (torch has no other way); 0 leaves torch's default.
        """
        folder, gguf = _locate(Path(model_path), gguf_file)
        try:
            import torch
            import transformers
        except ImportError as exc:
            raise BackendError(f"the transformers backend needs torch and transformers ({exc}); {INSTALL}") from None
        if gguf and not transformers.utils.is_accelerate_available():
            raise BackendError(f"transformers loads GGUF files only with the accelerate package; {INSTALL}")
        self.device = _device(device, torch)
        if threads > 0:
            torch.set_num_threads(threads)
        self.seed = seed
        self.model = Path(gguf).stem if gguf else folder.name
        self._torch = torch
        started = time.perf_counter()
        dtype = torch.float16 if self.device == "cuda" else torch.float32
        try:
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=gguf, local_files_only=True)
            self._model = transformers.AutoModelForCausalLM.from_pretrained(
                folder, gguf_file=gguf, dtype=dtype, local_files_only=True
            )
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            where = folder / gguf if gguf else folder
            raise ModelError(
                f"transformers cannot load {where} ({exc}); check the model files, or use SCRIBE_LLM_BACKEND=llamacpp"
            ) from None
        self._model.to(self.device).eval()
        if not self._tokenizer.chat_template:
            raise ModelError(f"{folder / (gguf or '')} has no chat template; use an instruction-tuned model")
        limit = getattr(self._model.config, "max_position_embeddings", None) or context_tokens
        self.context_tokens = min(context_tokens, limit)
        eos = self._tokenizer.eos_token_id
        self._pad = self._tokenizer.pad_token_id if self._tokenizer.pad_token_id is not None else eos
        log.info(
            "loaded %s with transformers on %s (%s, context %d) in %.1f s",
            gguf or folder.name,
            self.device,
            str(dtype).removeprefix("torch."),
            self.context_tokens,
            time.perf_counter() - started,
        )

    @classmethod
    def from_settings(cls, settings: Settings, model_path: Path) -> TransformersBackend:
        """Load ``model_path`` with the device, context, seed and CPU threads from settings."""
        return cls(
            model_path,
            device=settings.device,
            context_tokens=settings.llm_context,
            seed=settings.llm_seed,
            threads=settings.llm_threads,
        )

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def prefill(self, messages: Sequence[Message]) -> None:
        """Nothing: this backend keeps no cache between calls."""

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
        """Generate greedily; with a schema, prompt for it and return the first complete JSON object."""
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        chat = with_schema(messages, schema) if schema else list(messages)
        prompt = self._tokenizer.apply_chat_template(
            [m.as_dict() for m in chat], add_generation_prompt=True, tokenize=False
        )
        opening = "{" if schema and schema.get("type", "object") == "object" else ""
        inputs = self._tokenizer(prompt + opening, add_special_tokens=False, return_tensors="pt").to(self.device)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        if prompt_tokens + max_tokens > self.context_tokens:
            raise BackendError(
                f"prompt of {prompt_tokens} tokens plus {max_tokens} to generate exceeds the context of "
                f"{self.context_tokens}; raise SCRIBE_LLM_CONTEXT or shorten the input"
            )
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        enough = threading.Event()  # set when the JSON object is complete: generation stops at the next token
        outcome: dict[str, Any] = {}

        def generate() -> None:
            try:
                outcome["ids"] = self._model.generate(
                    **inputs,
                    max_new_tokens=max_tokens,
                    do_sample=False,
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([_Until(enough, self._torch)]),
                    pad_token_id=self._pad,
                )
            except Exception as exc:  # re-raised in the caller's thread below
                outcome["error"] = exc
                streamer.end()

        started = time.perf_counter()
        worker = threading.Thread(target=generate, name="transformers-generate", daemon=True)
        worker.start()
        text, first = opening, None
        if opening and on_text is not None:
            on_text(opening)
        for piece in streamer:
            if not piece or enough.is_set():
                continue  # after the object is complete, the tokens still in flight are dropped
            first = first or time.perf_counter()
            end = json_object_end(text + piece) if schema and "}" in piece else None
            if end is not None:
                piece = (text + piece)[len(text) : end]
                enough.set()
            text += piece
            if on_text is not None and piece:
                on_text(piece)
        worker.join()
        if "error" in outcome:
            raise BackendError(f"transformers failed while generating: {outcome['error']}") from None
        generated = int(outcome["ids"].shape[1]) - prompt_tokens
        if schema and not enough.is_set():
            log.warning("the model wrote no complete JSON object in %d tokens", generated)
        finish = "stop" if enough.is_set() or generated < max_tokens else "length"
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=generated,
            seconds=time.perf_counter() - started,
            finish_reason=finish,
            extra={
                "time_to_first_token": (first - started) if first else None,
                "schema": "prompted" if schema else None,
            },
        )

    def close(self) -> None:
        """Drop the model (and free GPU memory)."""
        del self._model
        if self.device == "cuda":
            self._torch.cuda.empty_cache()


class _Until:
    """A stopping criterion: stop once ``event`` is set."""

    def __init__(self, event: threading.Event, torch: Any) -> None:
        self.event = event
        self.torch = torch

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        return self.torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=self.torch.bool, device=input_ids.device
        )


def _device(requested: str, torch: Any) -> str:
    """``cuda`` or ``cpu`` for ``requested`` (auto, cpu or cuda)."""
    if requested == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        raise BackendError(
            "device cuda was asked for, but torch sees no CUDA GPU; install a CUDA build or use cpu/auto"
        )
    return "cpu"
