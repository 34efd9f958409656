"""The engine contract and registry: what samples completions from a ``Policy``'s model.

An engine owns generation: prompt token ids in, ``Completion`` records out, with the
conventions of ``types.Completion`` (untempered log-probs, text cut before a stop string,
"stop" / "length" finish reasons). It takes the trainer's weights after every optimiser step
(``sync_weights``; a no-op for an engine that samples from the trainer's own tensors). It may
also offer no-grad scoring of its own (``scoring``, e.g. vLLM's prompt log-probs); where it
offers none, or a call needs gradients, substituted weights or gathered ids, ``Policy`` scores
with the trainer's forward pass (``hf_scoring``). Learners never see which engine runs.

    register_engine("my-engine", factory)   # factory(EngineSetup) -> Engine
    list_engines()                          # ['hf', 'vllm', ...]
    Policy.load(model, engine="my-engine")  # the runner: --engine my-engine

Built-ins: ``hf`` (transformers, CPU or GPU; the default) and ``vllm`` (the optional extra,
imported only when chosen).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch

from learners.models.hf_engine import HFEngine
from learners.models.types import Completion, SamplingParams, TokenScores


class UnknownEngineError(ValueError):
    """The requested engine name is not registered (the message lists those that are)."""


class EngineScoring(Protocol):
    """No-grad scoring an engine offers in place of the trainer's forward pass."""

    def can_score(self, top_k: int) -> bool:
        """Whether this call can be served (e.g. ``top_k`` within the engine's limit)."""
        ...

    def score(
        self, prompts: list[list[int]], completions: list[list[int]], top_k: int
    ) -> list[TokenScores]:
        """Per-token scores of each completion after its prompt, as ``Policy.score``."""
        ...


@runtime_checkable
class Engine(Protocol):
    """What ``Policy`` needs from an engine (see the module docstring)."""

    scoring: EngineScoring | None

    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Completion]:
        """One completion per prompt, in order."""
        ...

    def sync_weights(self, model: torch.nn.Module) -> None:
        """Take the trainer's current weights (called after parameters change)."""
        ...


@dataclass(frozen=True)
class EngineSetup:
    """What an engine is built from: the trainer's model and what ``Policy`` knows about it.

    ``path`` is the model's folder for engines that load their own copy (``None`` for an
    in-memory model); ``options`` are the engine's own settings (``engine_options``).
    """

    model: torch.nn.Module
    tokenizer: Any
    eos_ids: set[int]
    pad_id: int
    batch_size: int
    path: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


EngineFactory = Callable[[EngineSetup], Engine]

_ENGINES: dict[str, EngineFactory] = {}


def register_engine(name: str, factory: EngineFactory) -> None:
    """Make ``factory`` the engine called ``name`` (replacing any of the same name)."""
    _ENGINES[name] = factory


def list_engines() -> list[str]:
    """Names of the registered engines, sorted."""
    return sorted(_ENGINES)


def check_engine(name: str) -> None:
    """Raise a one-line ``UnknownEngineError`` unless ``name`` is registered."""
    if name not in _ENGINES:
        raise UnknownEngineError(
            f"unknown engine {name!r}; registered engines: {', '.join(list_engines())}"
        )


def make_engine(name: str, setup: EngineSetup) -> Engine:
    """Build the engine ``name`` over ``setup``."""
    check_engine(name)
    return _ENGINES[name](setup)


def _hf_engine(setup: EngineSetup) -> Engine:
    # rows that decode together come from a memory budget, not the scorer's batch size;
    # engine_options {"batch_size": n} or {"memory_budget_mb": m} set them
    return HFEngine(setup.model, setup.tokenizer, setup.eos_ids, setup.pad_id, **setup.options)


def _vllm_engine(setup: EngineSetup) -> Engine:
    from learners.models.vllm_engine import VllmEngine  # the optional extra: only when chosen

    return VllmEngine(setup.model, setup.tokenizer, setup.path, **setup.options)


register_engine("hf", _hf_engine)
register_engine("vllm", _vllm_engine)
