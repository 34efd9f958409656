"""Typed records of a run directory: one dataclass per kind of line or file.

``to_json`` gives what is written; ``from_json(data, where)`` reads it back and checks every
field (type, range, finiteness), so a reader never meets a NaN score, a string where a count
goes, or a missing field: it gets a one-line ``RunDirError`` naming ``where`` and the field.
Each log record names its log (``LOG``) so ``RunDir.append`` knows where it goes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from rundir.errors import RunDirError
from rundir.layout import EPISODES, EVALS, UPDATES

TOKEN_KINDS = ("policy", "reflection", "curation", "eval")


def _get(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise RunDirError(f"{where}: lacks {key!r}")
    return data[key]


def read_int(data: Mapping[str, Any], key: str, where: str, low: int = 0) -> int:
    value = _get(data, key, where)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise RunDirError(f"{where}: {key}={value!r} is not an integer >= {low}")
    return value


def read_number(
    data: Mapping[str, Any], key: str, where: str, low: float = -math.inf, high: float = math.inf
) -> float:
    """A finite number in [low, high] (ints accepted)."""
    value = _get(data, key, where)
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise RunDirError(f"{where}: {key}={value!r} is not a finite number in [{low}, {high}]")
    return float(value)


def read_text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = _get(data, key, where)
    if not isinstance(value, str):
        raise RunDirError(f"{where}: {key}={value!r} is not a string")
    return value


def read_bool(data: Mapping[str, Any], key: str, where: str) -> bool:
    value = _get(data, key, where)
    if not isinstance(value, bool):
        raise RunDirError(f"{where}: {key}={value!r} is not true or false")
    return value


@dataclass(frozen=True)
class TurnRecord:
    """One action of an episode and the environment's answer to it."""

    action: str
    feedback: str
    valid: bool
    tokens: int
    finish: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> TurnRecord:
        return cls(
            action=read_text(data, "action", where),
            feedback=read_text(data, "feedback", where),
            valid=read_bool(data, "valid", where),
            tokens=read_int(data, "tokens", where),
            finish=read_text(data, "finish", where),
        )


@dataclass(frozen=True)
class EpisodeRecord:
    """A training episode (a line of episodes.jsonl): ``sample`` is its index in the run."""

    LOG: ClassVar[str] = EPISODES

    sample: int
    step: int
    task_id: str
    group_id: int
    seed: int
    success: bool
    progress: float
    reward: float
    truncated: bool
    task: str
    turns: tuple[TurnRecord, ...]
    hindsight: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> EpisodeRecord:
        turns = _get(data, "turns", where)
        hindsight = _get(data, "hindsight", where)
        if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
            raise RunDirError(f"{where}: turns is not a list of objects")
        if not isinstance(hindsight, list) or not all(isinstance(h, str) for h in hindsight):
            raise RunDirError(f"{where}: hindsight is not a list of strings")
        return cls(
            sample=read_int(data, "sample", where),
            step=read_int(data, "step", where),
            task_id=read_text(data, "task_id", where),
            group_id=read_int(data, "group_id", where),
            seed=read_int(data, "seed", where),
            success=read_bool(data, "success", where),
            progress=read_number(data, "progress", where, 0.0, 1.0),
            reward=read_number(data, "reward", where),
            truncated=read_bool(data, "truncated", where),
            task=read_text(data, "task", where),
            turns=tuple(TurnRecord.from_json(t, f"{where}: turn {n}") for n, t in enumerate(turns)),
            hindsight=tuple(hindsight),
        )


@dataclass(frozen=True)
class UpdateRecord:
    """One optimiser step (a line of updates.jsonl): the runner's fields and the learner's
    metrics, written flat (a metric may be NaN: a diverging loss is worth recording)."""

    LOG: ClassVar[str] = UPDATES
    FIELDS: ClassVar[tuple[str, ...]] = ("step", "samples", "train_success", "env_steps", "tokens")

    step: int
    samples: int  # training episodes drawn after this step
    train_success: float
    env_steps: int
    tokens: int
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**self.metrics, **{name: getattr(self, name) for name in self.FIELDS}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> UpdateRecord:
        return cls(
            step=read_int(data, "step", where),
            samples=read_int(data, "samples", where),
            train_success=read_number(data, "train_success", where, 0.0, 1.0),
            env_steps=read_int(data, "env_steps", where),
            tokens=read_int(data, "tokens", where),
            metrics={k: v for k, v in data.items() if k not in cls.FIELDS},
        )


@dataclass(frozen=True)
class EvalRecord:
    """One held-out evaluation (a line of evals.jsonl): mean@k, best@k, progress and the
    valid-answer rate over ``n_tasks`` tasks x ``k`` samples, after ``samples`` episodes."""

    LOG: ClassVar[str] = EVALS

    step: int
    samples: int
    success_mean: float
    success_best: float
    progress_mean: float
    valid_rate: float
    k: int
    n_tasks: int
    turns_mean: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.turns_mean is None:
            del data["turns_mean"]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> EvalRecord:
        return cls(
            step=read_int(data, "step", where),
            samples=read_int(data, "samples", where),
            success_mean=read_number(data, "success_mean", where, 0.0, 1.0),
            success_best=read_number(data, "success_best", where, 0.0, 1.0),
            progress_mean=read_number(data, "progress_mean", where, 0.0, 1.0),
            valid_rate=read_number(data, "valid_rate", where, 0.0, 1.0),
            k=read_int(data, "k", where, low=1),
            n_tasks=read_int(data, "n_tasks", where, low=1),
            turns_mean=read_number(data, "turns_mean", where, 0.0)
            if "turns_mean" in data
            else None,
        )


@dataclass(frozen=True)
class SummaryRecord:
    """summary.json, written once when a run finishes: what the leaderboard stores."""

    env: str
    learner: str
    model: str
    seed: int
    samples: int
    steps: int
    final_success: float
    initial_success: float
    tokens: dict[str, int]  # by kind: policy, reflection, curation, eval
    wall_seconds: float
    phases: dict[str, float]  # wall seconds by phase
    finished: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> SummaryRecord:
        tokens = _get(data, "tokens", where)
        phases = _get(data, "phases", where)
        if not isinstance(tokens, dict) or not isinstance(phases, dict):
            raise RunDirError(f"{where}: tokens and phases must be objects")
        return cls(
            env=read_text(data, "env", where),
            learner=read_text(data, "learner", where),
            model=read_text(data, "model", where),
            seed=read_int(data, "seed", where),
            samples=read_int(data, "samples", where),
            steps=read_int(data, "steps", where),
            final_success=read_number(data, "final_success", where, 0.0, 1.0),
            initial_success=read_number(data, "initial_success", where, 0.0, 1.0),
            tokens={k: read_int(tokens, k, f"{where}: tokens") for k in TOKEN_KINDS},
            wall_seconds=read_number(data, "wall_seconds", where, 0.0),
            phases={k: read_number(phases, k, f"{where}: phases", 0.0) for k in phases},
            finished=read_bool(data, "finished", where),
        )
