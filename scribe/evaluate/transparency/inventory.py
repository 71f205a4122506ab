"""The models this deployment uses: speech recognition and note drafting, described from the model catalogue."""

from __future__ import annotations

from scribe import catalogue
from scribe.config import Settings
from scribe.evaluate.transparency.deployment import host, llm_leaves_machine
from scribe.evaluate.transparency.schema import FileDigest, ModelInfo, todo

# What the providers say about models of the catalogue (their papers and model cards).
_PROVIDER_FACTS: dict[str, tuple[str, str]] = {
    "whisper": (
        "Whisper (OpenAI): an encoder-decoder transformer for speech recognition, converted to CTranslate2 "
        "(faster-whisper)",
        "OpenAI trained Whisper on 680,000 hours of audio paired with transcripts collected from the internet, "
        "about two thirds of it English (Radford et al., 'Robust Speech Recognition via Large-Scale Weak "
        "Supervision', 2022). It was not trained on clinical consultations, and scribe does not fine-tune it. "
        "OpenAI's model card reports that accuracy differs between languages, accents and speakers, and that the "
        "model can produce text that was not spoken.",
    ),
    "qwen2.5-coder": (
        "Qwen2.5-Coder-1.5B-Instruct (Alibaba Cloud, Qwen team): a decoder-only transformer of about 1.5 billion "
        "parameters, instruction-tuned; here quantised to 4 bits (Q4_K_M GGUF) and run by llama.cpp",
        "The Qwen team pretrained Qwen2.5-Coder on a large corpus, mostly source code with general text and "
        "mathematics, then instruction-tuned it (Qwen2.5-Coder Technical Report, 2024; see the upstream model "
        "card). It was not trained for clinical documentation, and scribe does not fine-tune it.",
    ),
    "smollm2": (
        "SmolLM2-135M-Instruct (Hugging Face): a decoder-only transformer of about 135 million parameters, "
        "Q4_1 GGUF run by llama.cpp",
        "Hugging Face trained SmolLM2 on web text, code, mathematics and instruction data (see the upstream model "
        "card). It is for software tests only: too small to draft clinical notes.",
    ),
}


def _facts(name: str) -> tuple[str, str] | None:
    return next((facts for key, facts in _PROVIDER_FACTS.items() if name.lower().startswith(key)), None)


def _asr_device(settings: Settings) -> str:
    where = {
        "auto": "on this machine: a CUDA GPU when one is present, otherwise the CPU",
        "cpu": "on this machine's CPU",
        "cuda": "on this machine's CUDA GPU",
    }[settings.device]
    precision = settings.compute_type or ("float16 on a GPU, int8 on the CPU" if settings.device == "auto" else "")
    if not precision:
        precision = "float16" if settings.device == "cuda" else "int8"
    return f"{where} (faster-whisper / CTranslate2, precision {precision})"


def _llm_device(settings: Settings) -> str:
    if settings.llm_backend == "openai":
        if not llm_leaves_machine(settings):
            return f"by the OpenAI-compatible server on this machine ({host(settings.openai_base_url)})"
        return (
            f"on the OpenAI-compatible server at {host(settings.openai_base_url)}, which the organisation runs or "
            "contracts: transcript text is sent there"
        )
    if settings.llm_backend == "transformers":
        return f"on this machine (Hugging Face transformers; device setting {settings.device})"
    layers = settings.llm_gpu_layers
    if settings.device == "cpu" or layers == 0:
        offload = "on the CPU"
    elif layers == -1:
        offload = "with every layer on a CUDA GPU when one is present, otherwise on the CPU"
    else:
        offload = f"with {layers} layers on a CUDA GPU when one is present, the rest on the CPU"
    return f"on this machine, by llama.cpp, {offload}"


def _from_entry(entry: catalogue.ModelEntry, role: str, runs_on: str) -> dict[str, object]:
    pins = list(dict.fromkeys(ref.pin for f in entry.files for ref in f.pieces))
    facts = _facts(entry.name)
    return {
        "role": role,
        "name": entry.name,
        "in_catalogue": True,
        "description": entry.description,
        "version": "packages " + ", ".join(pins),
        "files": [FileDigest(name=f.name, size=f.size, sha256=f.sha256) for f in entry.files],
        "licence": entry.licence,
        "upstream": entry.upstream,
        "runs_on": runs_on,
        "architecture": facts[0] if facts else entry.description,
        "training_data": facts[1]
        if facts
        else todo(f"the training data as the model provider documents it ({entry.upstream})"),
    }


def _outside(name: str, role: str, runs_on: str, what: str) -> dict[str, object]:
    return {
        "role": role,
        "name": name,
        "in_catalogue": False,
        "description": what,
        "version": "not in scribe's catalogue: scribe does not pin its version or checksum",
        "licence": todo("the model's licence"),
        "upstream": todo("where the model comes from"),
        "runs_on": runs_on,
        "architecture": todo("the model's architecture and size, as its provider documents them"),
        "training_data": todo("the model's training data, as its provider documents it"),
    }


def deployed_models(settings: Settings) -> list[ModelInfo]:
    """The speech-recognition and note-drafting models these settings use, described from the catalogue."""
    cat = catalogue.load_catalogue(catalogue.catalogue_path(settings))
    asr_role = {
        "task": "speech recognition: turns the consultation audio into timed text segments",
        "input": "16 kHz mono audio of the consultation",
        "output": "text segments with word timings and confidence, later attributed to clinician or patient",
    }
    entry = cat.get(settings.asr_model)
    asr = (
        _from_entry(entry, "speech recognition", _asr_device(settings))
        if entry
        else _outside(
            settings.asr_model, "speech recognition", _asr_device(settings), "a local CTranslate2 model folder"
        )
    )
    llm_role = {
        "task": "drafting: writes each note section, the structured lists and the letters from the transcript",
        "input": "the numbered transcript lines, the note template's instruction for one section, and fixed rules",
        "output": "JSON statements per section, each citing the transcript segments it rests on",
    }
    if settings.llm_backend == "openai":
        name = settings.openai_model or todo("the model name the OpenAI-compatible server serves")
        llm = _outside(name, "note drafting", _llm_device(settings), "a model served by an OpenAI-compatible server")
    else:
        entry = cat.get(settings.llm_model)
        llm = (
            _from_entry(entry, "note drafting", _llm_device(settings))
            if entry
            else _outside(settings.llm_model, "note drafting", _llm_device(settings), "a local model file or folder")
        )
    return [ModelInfo(**asr, **asr_role), ModelInfo(**llm, **llm_role)]
