"""Environment registry: names, difficulty presets, Gymnasium ids and third-party plugins.

``make("wordle", preset="easy", length=4)`` builds an environment from a name, an optional
named preset of knobs, and knob overrides. Every built-in is also registered with Gymnasium as
``resd/<Name>-v0``. Third-party packages add environments without editing this repository by
declaring an entry point in the group ``resd_bench.envs``; its value is either an environment
class or a zero-argument function that calls ``register(...)`` itself.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from envs.base import KnobError, TextEnv

ENTRY_POINT_GROUP = "resd_bench.envs"
GYM_NAMESPACE = "resd"


class UnknownEnvironmentError(KeyError):
    """The requested environment name is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it one plain line
        return str(self.args[0])


@dataclass(frozen=True)
class EnvSpec:
    """How to build one named environment."""

    name: str
    entry_point: Callable[..., TextEnv] | str
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str = ""
    gym_id: str | None = None

    def load(self) -> Callable[..., TextEnv]:
        if callable(self.entry_point):
            return self.entry_point
        module, _, attr = self.entry_point.partition(":")
        return getattr(importlib.import_module(module), attr)


_REGISTRY: dict[str, EnvSpec] = {}
# Prefix factories build families of environments on demand, e.g. "textarena/<GameId>".
_PREFIXES: dict[str, Callable[..., TextEnv]] = {}
_plugins_loaded = False


def register(
    name: str,
    entry_point: Callable[..., TextEnv] | str,
    *,
    presets: dict[str, dict[str, Any]] | None = None,
    description: str = "",
    gym_id: str | None = None,
) -> EnvSpec:
    """Register an environment under ``name`` (and with Gymnasium when ``gym_id`` is given).

    ``presets`` maps preset names to knob dictionaries; ``"default"`` is used when ``make`` is
    called without a preset.
    """
    spec = EnvSpec(name, entry_point, dict(presets or {}), description, gym_id)
    _REGISTRY[name] = spec
    if gym_id is not None and gym_id not in gym.registry:
        defaults = spec.presets.get("default", {})
        gym.register(id=gym_id, entry_point=entry_point, kwargs=dict(defaults))
    return spec


def register_prefix(prefix: str, factory: Callable[..., TextEnv]) -> None:
    """Route every name starting with ``prefix`` to ``factory(rest_of_name, **knobs)``."""
    _PREFIXES[prefix] = factory


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        target = ep.load()
        if isinstance(target, type) and issubclass(target, TextEnv):
            if ep.name not in _REGISTRY:
                register(ep.name, target, description=(target.__doc__ or "").strip())
        else:
            target()


def list_envs() -> list[str]:
    """Names of all registered environments (built-ins and plugins), sorted."""
    _load_plugins()
    return sorted(_REGISTRY)


def get_spec(name: str) -> EnvSpec:
    _load_plugins()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownEnvironmentError(
            f"unknown environment {name!r}{hint}; valid names: {', '.join(list_envs())}"
            + "".join(f", {p}<GameId>" for p in _PREFIXES)
        )
    return _REGISTRY[name]


def resolve_knobs(name: str, preset: str | None = None, **knobs: Any) -> dict[str, Any]:
    """The knob dictionary ``make`` would use: preset values, then explicit overrides."""
    spec = get_spec(name)
    if preset is not None and preset not in spec.presets:
        valid = ", ".join(sorted(spec.presets)) or "(none)"
        raise KnobError(f"unknown preset {preset!r} for {name}; valid presets: {valid}")
    resolved = dict(spec.presets.get(preset or "default", {}))
    resolved.update(knobs)
    return resolved


def make(name: str, *, preset: str | None = None, **knobs: Any) -> TextEnv:
    """Build the environment ``name`` with a named preset and knob overrides."""
    for prefix, factory in _PREFIXES.items():
        if name.startswith(prefix):
            return factory(name[len(prefix) :], **knobs)
    spec = get_spec(name)
    resolved = resolve_knobs(name, preset, **knobs)
    constructor = spec.load()
    params = inspect.signature(constructor).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(resolved) - set(params))
        if unknown:
            valid = ", ".join(p for p in params if p != "render_mode")
            raise KnobError(
                f"unknown knob(s) {', '.join(unknown)} for {name}; valid knobs: {valid}"
            )
    env = constructor(**resolved)
    if spec.gym_id is not None:
        env.spec = gym.spec(spec.gym_id)
    return env
