"""The learner interface, its registry, and what every learner shares (optimiser, samples).

A learner owns the policy's optimisation; the runner owns the environments and the sample
budget. The contract:

    learner = learners.make("resd", policy, {"lr": 1e-4})
    learner.rollouts_per_task          # how many episodes per task the runner draws
    learner.student_context()          # text shown to the student before each task ("" usually)
    result = learner.step(groups)      # one optimiser step on the groups: a StepResult
    learner.state_dict() / learner.load_state_dict(state)   # everything needed to resume

Reflection is a peer component, not a learner's private part: a learner that reflects says so
(``reflection_request``), and whoever builds it (the runner, ``make``) builds the pipeline
(``reflection_pipeline``) and hands it over; the step's report comes back in its result.
"""

from __future__ import annotations

import copy
import dataclasses
import random
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from chat import Conversation
from learners import data_parallel
from learners.registry import (  # re-exported: the registry is light, this module is not
    ConfigError,
    build_config,  # noqa: F401
    default_config,
    learner_class,
    list_learners,  # noqa: F401
    register,  # noqa: F401
)
from learners.trajectory import Episode, Group, Turn

if TYPE_CHECKING:
    from reflection import ReflectionConfig, ReflectionPipeline, StepReport


@dataclass
class OptimConfig:
    """AdamW with linear warm-up, shared by all learners (paper: lr 1e-6, 10 warm-up steps)."""

    lr: float = 1e-6
    warmup_steps: int = 10
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    # samples (turns) per forward/backward, episodes kept whole; gradients are accumulated
    micro_batch: int = 16

    def validate(self) -> None:
        positive(self, "lr", "micro_batch")
        non_negative(self, "warmup_steps", "weight_decay", "grad_clip")


def positive(config: Any, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{name}={value!r} is invalid: expected a number > 0")


def non_negative(config: Any, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{name}={value!r} is invalid: expected a number >= 0")


def in_range(config: Any, name: str, low: float, high: float) -> None:
    value = getattr(config, name)
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{name}={value!r} is invalid: expected a number in [{low}, {high}]")


def one_of(config: Any, name: str, choices: tuple[Any, ...]) -> None:
    value = getattr(config, name)
    if value not in choices:
        raise ConfigError(
            f"{name}={value!r} is invalid: expected one of {', '.join(map(str, choices))}"
        )


@dataclass
class Sample:
    """One training sample: a turn's completion in its context, with its episode."""

    messages: Conversation
    completion_ids: list[int]
    rollout_logprobs: list[float]
    episode: Episode
    turn: Turn


def samples_of(groups: list[Group]) -> list[Sample]:
    """Every turn with a non-empty completion becomes a sample (multi-turn: one per turn)."""
    return [
        Sample(t.messages, t.completion_ids, t.logprobs, ep, t)
        for group in groups
        for ep in group
        for t in ep.turns
        if t.completion_ids
    ]


class Padding(list):
    """A micro-batch that only keeps FSDP's ranks in lockstep: a real sample scored and
    backpropagated with weight zero, so every rank runs as many backward passes (each one
    a reduce-scatter) as the rank with the most; it adds to no loss, token or metric."""


def micro_batches(items: list[tuple[Sample, Any]], size: int) -> Iterator[list[Any]]:
    """Consecutive (sample, ...) tuples, up to ``size`` samples each, never splitting an episode.

    Kept whole, an episode's turns are scored as one row (``Policy.score`` nests each turn in
    the episode's last context); an episode longer than ``size`` is a micro-batch of its own.
    Under data parallelism (``learners.data_parallel``) only this rank's share of the episodes:
    the ranks' gradients are summed in ``Learner._optimizer_step``. Under FSDP the ranks with
    fewer micro-batches end with ``Padding`` ones, up to the most any rank has.
    """
    batches = list(own_micro_batches(items, size))
    if data_parallel.sharded() and items:
        missing = data_parallel.max_across(len(batches)) - len(batches)
        batches += [Padding(items[:1]) for _ in range(missing)]
    yield from batches


def own_micro_batches(items: list[tuple[Sample, Any]], size: int) -> Iterator[list[Any]]:
    """This rank's micro-batches of ``items`` (see ``micro_batches``)."""
    batch: list[Any] = []
    spans = episode_spans(items)
    for start, end in (spans[i] for i in data_parallel.shard(len(spans))):
        if batch and len(batch) + (end - start) > size:
            yield batch
            batch = []
        batch.extend(items[start:end])
    if batch:
        yield batch


def episode_spans(items: list[tuple[Sample, Any]]) -> list[tuple[int, int]]:
    """[start, end) index ranges of consecutive items from the same episode."""
    spans: list[tuple[int, int]] = []
    for i, (sample, *_) in enumerate(items):
        if spans and items[spans[-1][0]][0].episode is sample.episode:
            spans[-1] = (spans[-1][0], i + 1)
        else:
            spans.append((i, i + 1))
    return spans


@dataclass
class StepResult:
    """What one learner step did, typed so that the runner reads no metric names.

    ``metrics`` are logged as they are (names namespaced, e.g. ``reflection/failures``) and
    never steer anything. ``seconds`` is wall time spent inside the step on phases other than
    learning (``{"reflect": 1.2}``): the runner books it apart. ``tokens`` counts tokens the step
    generated, by source (``{"reflection": 120, "curation": 40}``), beside the rollouts'.
    ``reflection`` is the reflection pipeline's report of this step, when the learner reflects.
    """

    metrics: dict[str, float]
    seconds: dict[str, float] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    reflection: StepReport | None = None


@dataclass(frozen=True)
class ReflectionRequest:
    """What a reflecting learner asks of its reflection pipeline: the component's settings and
    the temperature its prompts are sampled at from the policy."""

    config: ReflectionConfig
    temperature: float = 1.0


class PolicyGenerator:
    """The policy as the reflection pipeline's text generator (``reflection.TextGenerator``).

    Sampled at ``temperature`` and seeded with the seed the pipeline passes (its update step),
    so a resumed run reflects exactly as an uninterrupted one."""

    def __init__(self, policy: Any, temperature: float = 1.0) -> None:
        self.policy = policy
        self.temperature = temperature
        self.tokens_generated = 0

    def generate(
        self,
        conversations: list[Conversation],
        max_new_tokens: int | None = None,
        seed: int | None = None,
    ) -> list[str]:
        from learners.models import SamplingParams

        params = SamplingParams(
            temperature=self.temperature, max_new_tokens=max_new_tokens or 512, seed=seed
        )
        completions = self.policy.generate([list(c) for c in conversations], params)
        self.tokens_generated += sum(len(c.token_ids) for c in completions)
        return [c.text for c in completions]


def reflection_pipeline(policy: Any, request: ReflectionRequest) -> ReflectionPipeline:
    """The standard pipeline for ``request``: the policy reflects and curates for itself."""
    from reflection import ReflectionPipeline

    return ReflectionPipeline(PolicyGenerator(policy, request.temperature), request.config)


class Learner(ABC):
    """Base class: owns the optimiser and scheduler, and the step counter.

    ``reflection`` is the pipeline a learner that asks for one (``reflection_request``) is
    given; it is ``None`` for the others."""

    name: ClassVar[str]
    config_class: ClassVar[type]

    def __init__(
        self, policy: Any, config: Any, reflection: ReflectionPipeline | None = None
    ) -> None:
        self.policy = policy
        self.config = config
        self.reflection = reflection
        self.steps = 0
        self.optimizer, self.scheduler = self._make_optimizer()

    def _make_optimizer(self) -> tuple[torch.optim.Optimizer, Any]:
        """AdamW on the policy's trainable parameters, and its warm-up schedule."""
        config = self.config
        optimizer = torch.optim.AdamW(
            self.policy.trainable_parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        warmup = max(config.warmup_steps, 0)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0
        )
        return optimizer, scheduler

    def fully_shard(self) -> None:
        """FSDP: shard the policy over the ranks (``Policy.fully_shard``), then rebuild what
        holds its parameters (optimiser, EMA teacher) on the shards, with the same state.
        Every rank, holding the same whole state (the runner sends rank 0's first)."""
        state = copy.deepcopy(self.state_dict())  # sharding re-homes the parameters' storage
        self.policy.fully_shard()
        self.optimizer, self.scheduler = self._make_optimizer()
        self.load_state_dict(state)

    @classmethod
    def reflection_request(cls, config: Any) -> ReflectionRequest | None:
        """The reflection pipeline this learner needs with ``config`` (None: it does not
        reflect). Asked before the learner is built, so the pipeline can be handed over."""
        return None

    @classmethod
    @abstractmethod
    def rollouts_for(cls, config: Any) -> int:
        """Episodes the runner draws per task (the group size) under ``config``: known before
        a model is loaded, so a budget smaller than one batch is refused first."""

    @property
    def rollouts_per_task(self) -> int:
        return self.rollouts_for(self.config)

    def student_context(self) -> str:
        """Extra text shown to the student before each task ('' except in ablations)."""
        return ""

    @abstractmethod
    def step(self, groups: list[Group]) -> StepResult:
        """One optimiser step on freshly drawn groups."""

    def _optimizer_step(self) -> float:
        """Sum the ranks' gradients (data parallelism; nothing in one process; FSDP has summed
        them), clip, step, schedule; returns the gradient norm before clipping (with FSDP's
        sharded gradients, clip_grad_norm_ reduces the norm over the ranks)."""
        self.policy.release()  # FSDP: the step updates the shards; gathered weights go stale
        data_parallel.sum_gradients(self.policy.trainable_parameters())
        params = [p for p in self.policy.trainable_parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip or float("inf"))
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.policy.sync_weights()
        return float(norm)

    def state_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "steps": self.steps,
            "config": dataclasses.asdict(self.config),
            "policy": self.policy.state_dict(),
            "optimizer": data_parallel.full(self.optimizer.state_dict()),
            "scheduler": self.scheduler.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "python": random.getstate()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ValueError(f"checkpoint is for learner {state.get('name')!r}, not {self.name!r}")
        self.steps = state["steps"]
        self.policy.load_state_dict(state["policy"])
        optimizer = state["optimizer"]
        if self.policy.sharded:
            optimizer = data_parallel.shard_optimizer_state(
                optimizer, self.policy.trainable_parameters()
            )
        self.optimizer.load_state_dict(optimizer)
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"]["torch"])
        random.setstate(state["rng"]["python"])
        self.policy.sync_weights()


def make(
    name: str,
    policy: Any,
    config: dict[str, Any] | Any | None = None,
    reflection: ReflectionPipeline | None = None,
    **extra: Any,
) -> Learner:
    """Build learner ``name`` on ``policy`` with settings (a dict of overrides or a config).

    A learner that asks for reflection gets ``reflection``, or, when none is given, the
    standard pipeline on ``policy`` (the runner builds its own and keeps it as a peer)."""
    cls = learner_class(name)
    resolved = default_config(name, config)
    request = cls.reflection_request(resolved)
    if request is None:
        reflection = None
    elif reflection is None:
        reflection = reflection_pipeline(policy, request)
    return cls(policy, resolved, reflection=reflection, **extra)
