"""The runner's configuration: defaults, TOML presets, command-line overrides, validation.

Resolution order (later wins): ``RunConfig`` defaults, the preset file (``--preset NAME`` is
``benchmarks/presets/NAME.toml``, or a path), then command-line options. A preset is a flat
table of ``RunConfig`` fields plus optional tables: ``[env]`` (knobs), ``[learner]`` (settings
of every learner) and ``[learner.NAME]`` (of one), and the run fields that hold for one
environment or one learner only, ``[per_env.NAME]`` and ``[per_learner.NAME]`` (a group of 8
rollouts per task needs another budget than a group of 1). Within the preset, ``per_env``
overrides the flat fields and ``per_learner`` overrides both. Every error names the field in
one line.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import envs

PRESET_DIR = Path(__file__).resolve().parent / "presets"
DEFAULT_PRESET = "cpu"
# model_options.autocast (--autocast): forward passes in that dtype over float32 master weights
# (learners.models.hf_engine.AUTOCAST_DTYPES; named here so checking a config imports no torch)
AUTOCAST = ("bf16", "fp16")


class RunConfigError(ValueError):
    """A run setting is unknown or invalid; the message names it."""


@dataclass
class RunConfig:
    env: str = "wordle"
    env_preset: str | None = None
    env_knobs: dict[str, Any] = field(default_factory=dict)
    learner: str = "resd"
    learner_set: dict[str, Any] = field(default_factory=dict)  # learner setting overrides
    model: str = "tiny-random"
    model_options: dict[str, Any] = field(default_factory=dict)  # Policy.load's keywords
    engine: str = "hf"  # what samples from the model: a registered engine (hf, vllm, ...)
    # vLLM past one GPU (engine vllm only; how a run is executed, so not in its config key):
    # GPUs one model is split over, and the share of each GPU's memory vLLM may take
    tensor_parallel_size: int | None = None
    gpu_memory_fraction: float | None = None
    # FSDP under torchrun (--fsdp): the trained model, its optimiser states and EMA teacher
    # sharded over the ranks (how a run is executed, so not in its config key)
    fsdp: bool = False
    seed: int = 0
    budget: int = 512  # training rollouts (episodes): the x-axis of every curve
    batch_tasks: int = 32  # tasks per batch (each drawn rollouts_per_task times)
    inner_steps: int = 4  # K: fresh rollouts + one optimiser step, per batch
    eval_every: int = 128  # samples between held-out evaluations
    eval_tasks: int = 32
    eval_k: int = 4
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int | None = None  # None: the environment's spec says
    eval_temperature: float = 1.0
    threads: int | None = None  # torch CPU threads (None: torch's default)
    preset: str | None = None

    def validate(self) -> None:
        for name in ("budget", "batch_tasks", "inner_steps", "eval_every", "eval_tasks", "eval_k"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RunConfigError(f"{name}={value!r} is invalid: expected an integer >= 1")
        if self.max_new_tokens is not None and (
            not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1
        ):
            raise RunConfigError(
                f"max_new_tokens={self.max_new_tokens!r} is invalid: expected >= 1"
            )
        if not isinstance(self.seed, int) or not 0 <= self.seed < 1000:
            raise RunConfigError(f"seed={self.seed!r} is invalid: expected an integer in [0, 999]")
        if not 0 < self.top_p <= 1:
            raise RunConfigError(f"top_p={self.top_p!r} is invalid: expected a number in (0, 1]")
        for name in ("temperature", "eval_temperature"):
            if getattr(self, name) < 0:
                raise RunConfigError(f"{name}={getattr(self, name)!r} is invalid: expected >= 0")
        self._validate_names()
        self._validate_engine()

    def _validate_names(self) -> None:
        """Environment and learner names, checked before anything heavy loads (a typo costs
        a second, not the model stack's import)."""
        from learners.registry import check_name

        if not isinstance(self.env, str) or not isinstance(self.learner, str):
            raise RunConfigError("env and learner must be names (strings)")
        envs.get_spec(self.env)
        check_name(self.learner)

    def _validate_engine(self) -> None:
        from learners.models import list_engines

        if self.engine not in list_engines():
            raise RunConfigError(
                f"engine={self.engine!r} is unknown: registered engines are "
                + ", ".join(list_engines())
            )
        if "engine" in self.model_options:
            raise RunConfigError(
                "model_options.engine is not a model option: set engine (--engine) instead"
            )
        autocast = self.model_options.get("autocast")
        if autocast is not None and autocast not in AUTOCAST:
            raise RunConfigError(
                f"model_options.autocast={autocast!r} is invalid: expected one of "
                f"{', '.join(AUTOCAST)} (or none)"
            )
        tp, memory = self.tensor_parallel_size, self.gpu_memory_fraction
        if tp is not None and (not isinstance(tp, int) or isinstance(tp, bool) or tp < 1):
            raise RunConfigError(
                f"tensor_parallel_size={tp!r} is invalid: expected an integer >= 1"
            )
        if memory is not None and (not isinstance(memory, int | float) or not 0 < memory <= 1):
            raise RunConfigError(
                f"gpu_memory_fraction={memory!r} is invalid: expected a number in (0, 1]"
            )
        if (tp is not None or memory is not None) and self.engine != "vllm":
            raise RunConfigError(
                "tensor_parallel_size and gpu_memory_fraction are vLLM settings: add --engine vllm"
            )
        self._validate_fsdp()

    def _validate_fsdp(self) -> None:
        """FSDP is wired for the hf engine and full fine-tuning only: vLLM samples from its
        own whole copy, and a LoRA adapter's shards are not handled."""
        if not isinstance(self.fsdp, bool):
            raise RunConfigError(f"fsdp={self.fsdp!r} is invalid: expected true or false")
        if self.fsdp and self.engine != "hf":
            raise RunConfigError(f"fsdp needs the hf engine, not engine={self.engine!r}")
        if self.fsdp and self.model_options.get("lora") is not None:
            raise RunConfigError("fsdp trains the whole model: it does not work with LoRA")

    def policy_options(self) -> dict[str, Any]:
        """``Policy.load``'s keywords: ``model_options``, with the vLLM settings given here in
        its ``engine_options`` (vLLM's own names: tensor_parallel_size, gpu_memory_utilization)."""
        vllm = {
            "tensor_parallel_size": self.tensor_parallel_size,
            "gpu_memory_utilization": self.gpu_memory_fraction,
        }
        vllm = {k: v for k, v in vllm.items() if v is not None}
        if not vllm:
            return dict(self.model_options)
        engine_options = {**self.model_options.get("engine_options", {}), **vllm}
        return {**self.model_options, "engine_options": engine_options}

    def new_tokens(self) -> int:
        """The completion cap per turn: ``max_new_tokens`` if given, else what the
        environment's spec declares (``envs.answer_tokens``)."""
        return self.max_new_tokens or envs.answer_tokens(self.env)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_value(text: str) -> Any:
    """A command-line value as TOML (numbers, booleans, arrays, tables), else the raw string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignments(items: list[str] | None, option: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RunConfigError(f"{option} {item!r} is invalid: expected KEY=VALUE")
        out[key.strip()] = parse_value(value.strip())
    return out


def load_preset(name: str) -> dict[str, Any]:
    path = Path(name) if name.endswith(".toml") else PRESET_DIR / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PRESET_DIR.glob("*.toml")))
        raise RunConfigError(f"preset {name!r} not found; presets: {known} (or a .toml path)")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise RunConfigError(f"preset {path}: {error}") from None
    data = dict(data)
    for table in ("per_env", "per_learner"):
        if not all(isinstance(v, dict) for v in data.get(table, {}).values()):
            raise RunConfigError(f"preset {path}: [{table}] holds tables, e.g. [{table}.NAME]")
    if "env" in data and isinstance(data["env"], dict):
        data["env_knobs"] = data.pop("env")
    if "learner" in data and isinstance(data["learner"], dict):
        data["learner_set"] = data.pop("learner")
    return data


def settings_for(learner: str, table: dict[str, Any]) -> dict[str, Any]:
    """Learner settings from a preset table: shared keys plus the ``[learner.NAME]`` table."""
    from learners import list_learners

    names = set(list_learners())
    shared = {k: v for k, v in table.items() if k not in names}
    specific = table.get(learner, {})
    return {**shared, **specific}


def merge_settings(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` over ``base``; a table setting (``reflection = {...}``) is merged key by key,
    so ``--set reflection={oracle=true}`` keeps the preset's other reflection settings."""
    out = dict(base)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def resolve(preset: str | None, overrides: dict[str, Any]) -> RunConfig:
    """Defaults <- preset <- overrides (``None`` values in overrides mean 'not given')."""
    values: dict[str, Any] = {}
    name = preset or DEFAULT_PRESET
    values.update(load_preset(name))
    values["preset"] = name
    per_env, per_learner = values.pop("per_env", {}), values.pop("per_learner", {})
    env = overrides.get("env") or values.get("env", RunConfig.env)
    learner = overrides.get("learner") or values.get("learner", RunConfig.learner)
    # learner settings: the preset's shared ones, then its [learner.NAME] table, then each
    # later layer (so a command-line --set always wins over the preset)
    values["learner_set"] = settings_for(learner, values.get("learner_set", {}))
    for layer in (per_env.get(env, {}), per_learner.get(learner, {}), overrides):
        for key, value in layer.items():
            if value is None:
                continue
            if key == "learner_set" and isinstance(value, dict):
                values[key] = merge_settings(values[key], settings_for(learner, value))
            elif key in ("env_knobs", "model_options") and isinstance(value, dict):
                values[key] = {**values.get(key, {}), **value}
            else:
                values[key] = value
    if values.get("model_options", {}).get("autocast", "") is None:  # --autocast none
        values["model_options"] = {
            k: v for k, v in values["model_options"].items() if k != "autocast"
        }
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise RunConfigError(
            f"unknown run setting(s) {', '.join(unknown)}; valid: " + ", ".join(sorted(fields))
        )
    config = RunConfig(**values)
    config.validate()
    return config
