"""The transformers backend on CPU: the packaged SmolLM2 GGUF, and a small model folder made here.

Loading the GGUF dequantises it (about 40 s on this machine), so it is loaded once per module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel

from scribe.catalogue import resolve_gguf
from scribe.config import Settings
from scribe.errors import BackendError, ModelError
from scribe.notes.backends import load_backend
from scribe.notes.backends.base import Message
from scribe.notes.backends.transformers import TransformersBackend, json_object_end, with_schema

pytestmark = pytest.mark.transformers

QUESTION = [Message("system", "You answer briefly."), Message("user", "Name three colours.")]
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# no "}" in the vocabulary: the random model can never close a JSON object
WORDS = ["the", "a", "knee", "pain", "left", "right", "pulse", "side", "was", "is", "72", "{", ":", ",", "yes", "no"]


class Vitals(BaseModel):
    pulse: int
    side: Literal["left", "right"]


def make_folder(folder: Path, *, chat_template: str | None = TEMPLATE, max_positions: int = 256) -> Path:
    """A real transformers model folder: a word-level tokenizer and a tiny random Llama, saved to disk."""
    pytest.importorskip("transformers")
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<|im_start|>", "<|im_end|>"]
    vocab = {token: i for i, token in enumerate(specials + WORDS + ["system", "user", "assistant"])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", eos_token="<|im_end|>", additional_special_tokens=specials[1:]
    )
    tokenizer.chat_template = chat_template
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=max_positions,
        eos_token_id=vocab["<|im_end|>"],
        bos_token_id=None,
        pad_token_id=None,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def cpu_threads() -> Iterator[None]:
    """Put torch's thread count back after the module: the backends here set it for the process."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, cpu_threads: None
) -> Iterator[TransformersBackend]:
    folder = make_folder(tmp_path_factory.mktemp("tiny"))
    backend = TransformersBackend.from_settings(settings.model_copy(update={"device": "cpu", "llm_threads": 1}), folder)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def smollm2(settings: Settings, cpu_threads: None) -> Iterator[TransformersBackend]:
    pytest.importorskip("accelerate", reason="transformers loads GGUF files only with accelerate")
    backend = TransformersBackend(
        resolve_gguf("smollm2-135m-instruct", settings), device="cpu", context_tokens=2048, threads=1
    )
    yield backend
    backend.close()


# -- no model needed ------------------------------------------------------------------------------------


def test_missing_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model at .*nowhere.*SCRIBE_LLM_MODEL"):
        TransformersBackend(tmp_path / "nowhere")
    with pytest.raises(ModelError, match="no GGUF file .*missing.gguf"):
        TransformersBackend(tmp_path, gguf_file="missing.gguf")
    with pytest.raises(ModelError, match="not a transformers model folder \\(no config.json\\)"):
        TransformersBackend(tmp_path)


def test_a_corrupt_gguf_is_a_model_error(tmp_path: Path) -> None:
    pytest.importorskip("accelerate", reason="transformers loads GGUF files only with accelerate")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 60)
    with pytest.raises(ModelError, match="transformers cannot load .*bad.gguf"):
        TransformersBackend(bad, device="cpu")


def test_json_object_end() -> None:
    assert json_object_end('{"a": {"b": 1}} and more') == 15
    assert json_object_end('Sure: {"a": "}"}\n') == 16
    assert json_object_end('{"a": {"b": 1}') is None
    assert json_object_end("no object") is None


def test_the_schema_goes_into_the_last_user_message() -> None:
    out = with_schema(QUESTION, Vitals.model_json_schema())
    assert out[0] == QUESTION[0]
    assert out[1].content.startswith("Name three colours.\n\nAnswer with one JSON object")
    assert json.loads(out[1].content.split("\n")[-1]) == Vitals.model_json_schema()


# -- a model folder --------------------------------------------------------------------------------------


def test_a_model_folder_generates_on_cpu(tiny: TransformersBackend) -> None:
    pieces: list[str] = []
    done = tiny.complete(QUESTION, max_tokens=6, on_text=pieces.append)
    assert (tiny.device, tiny.name, tiny.context_tokens) == ("cpu", "transformers", 256)  # capped at the model's
    assert "".join(pieces) == done.text
    assert 0 < done.completion_tokens <= 6
    assert done.prompt_tokens == tiny.count_tokens(
        "<|im_start|> system You answer briefly. <|im_end|> <|im_start|> user Name three colours. <|im_end|> "
        "<|im_start|> assistant"
    )


def test_without_a_json_object_the_raw_answer_comes_back(tiny: TransformersBackend) -> None:
    done = tiny.complete(QUESTION, schema=Vitals.model_json_schema(), max_tokens=5)
    assert done.text.startswith("{")  # the answer was started as an object
    assert json_object_end(done.text) is None  # never closed: returned as it is, for validation to reject
    assert done.finish_reason in ("length", "stop")
    assert done.extra["schema"] == "prompted"


def test_the_factory_loads_a_model_folder(tmp_path: Path, settings: Settings, cpu_threads: None) -> None:
    folder = make_folder(tmp_path / "tiny")
    backend = load_backend(settings.model_copy(update={"device": "cpu", "llm_threads": 1}), "transformers", str(folder))
    assert isinstance(backend, TransformersBackend) and backend.model == "tiny"
    backend.close()


def test_the_context_is_enforced(tiny: TransformersBackend) -> None:
    with pytest.raises(BackendError, match="exceeds the context of 256.*SCRIBE_LLM_CONTEXT"):
        tiny.complete([Message("user", "knee " * 300)], max_tokens=8)


def test_a_model_without_chat_template_is_refused(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "plain", chat_template=None)
    with pytest.raises(ModelError, match="no chat template"):
        TransformersBackend(folder, device="cpu")


# -- the packaged GGUF --------------------------------------------------------------------------------------


def test_gguf_completion_streams(smollm2: TransformersBackend) -> None:
    pieces: list[str] = []
    done = smollm2.complete(QUESTION, max_tokens=12, on_text=pieces.append)
    assert smollm2.model == "SmolLM2-135M-Instruct.Q4_1"
    assert len(pieces) > 3
    assert "".join(pieces) == done.text
    assert done.text.strip()
    assert done.completion_tokens == 12 and done.finish_reason == "length"


def test_gguf_schema_answer_is_one_json_object(smollm2: TransformersBackend) -> None:
    messages = [Message("user", "The pulse was 72 and the pain is in the left knee. Give pulse and side as JSON.")]
    done = smollm2.complete(messages, schema=Vitals.model_json_schema(), max_tokens=160)
    # a 135M model echoes the schema rather than filling it, but what comes back is exactly one object,
    # cut where it closed: generation stopped there instead of running on to max_tokens
    assert isinstance(json.loads(done.text), dict)
    assert done.finish_reason == "stop"
    assert done.completion_tokens < 160


def test_gguf_tokens_match_llama_cpp(smollm2: TransformersBackend, settings: Settings) -> None:
    import llama_cpp

    text = "Amoxicillin 500 mg three times a day for seven days; review if no better in 48 hours."
    vocab = llama_cpp.Llama(
        model_path=str(resolve_gguf("smollm2-135m-instruct", settings)), vocab_only=True, verbose=False
    )
    try:
        expected = len(vocab.tokenize(text.encode(), add_bos=False, special=False))
    finally:
        vocab.close()
    assert smollm2.count_tokens(text) == expected
