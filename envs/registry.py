"""Environment registry: names, difficulty presets, Gymnasium ids and third-party plugins.

``make("wordle", preset="easy", length=4)`` builds an environment from a name, an optional
named preset of knobs, and knob overrides. Every built-in is also registered with Gymnasium as
``resd/<Name>-v0``. Third-party packages add environments without editing this repository by
declaring an entry point in the group ``resd_bench.envs``; its value is either an environment
class or a zero-argument function that calls ``register(...)`` itself.

A spec carries, besides how to build the environment, what a run needs to know about it
(Gymnasium keeps ``max_episode_steps`` on its spec the same way): ``max_new_tokens``, the
longest answer a model may write per turn, in tokens. An environment declares it in
``register(..., max_new_tokens=N)`` or as a class attribute ``max_new_tokens = N`` (how an
entry-point class says it); one that declares nothing gets ``DEFAULT_MAX_NEW_TOKENS`` and a
one-line warning.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import gymnasium as gym

from envs.base import KnobError, TextEnv, unknown_knobs

ENTRY_POINT_GROUP = "resd_bench.envs"
GYM_NAMESPACE = "resd"
# The answer length of an environment that declares none (a plugin's omission, warned about).
DEFAULT_MAX_NEW_TOKENS = 64


class UnknownEnvironmentError(KeyError):
    """The requested environment name is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it one plain line
        return str(self.args[0])


class UndeclaredAnswerLength(UserWarning):
    """An environment does not say how long its answers are (it gets the default)."""


class BrokenPlugin(UserWarning):
    """A third-party environment plugin failed to load and was skipped."""


@dataclass(frozen=True)
class EnvSpec:
    """How to build one named environment, and what a run needs to know about it.

    ``max_new_tokens``: the longest answer a model may write per turn, in tokens (fits the
    answer format of the default preset; the runner's ``--max-new-tokens`` overrides it).
    ``None`` means undeclared: ``answer_tokens()`` then reads the class attribute of the same
    name, else falls back to ``DEFAULT_MAX_NEW_TOKENS`` with a warning.
    """

    name: str
    entry_point: Callable[..., TextEnv] | str
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str = ""
    gym_id: str | None = None
    max_new_tokens: int | None = None

    def load(self) -> Callable[..., TextEnv]:
        if callable(self.entry_point):
            return self.entry_point
        module, _, attr = self.entry_point.partition(":")
        return getattr(importlib.import_module(module), attr)

    def answer_tokens(self) -> int:
        """The per-turn answer length this environment declares (see the class docstring)."""
        if self.max_new_tokens is not None:
            return self.max_new_tokens
        declared = getattr(self.load(), "max_new_tokens", None)
        if isinstance(declared, int) and declared > 0:
            return declared
        warnings.warn(
            f"environment {self.name!r} declares no max_new_tokens; answers are capped at "
            f"{DEFAULT_MAX_NEW_TOKENS} tokens (declare it in register() or on the class)",
            UndeclaredAnswerLength,
            stacklevel=2,
        )
        return DEFAULT_MAX_NEW_TOKENS


_REGISTRY: dict[str, EnvSpec] = {}
# Families of environments built on demand, e.g. "textarena/<GameId>": the prefix's spec, whose
# entry point takes the rest of the name as its first argument.
_PREFIXES: dict[str, EnvSpec] = {}
_plugins_loaded = False


def register(
    name: str,
    entry_point: Callable[..., TextEnv] | str,
    *,
    presets: dict[str, dict[str, Any]] | None = None,
    description: str = "",
    gym_id: str | None = None,
    max_new_tokens: int | None = None,
) -> EnvSpec:
    """Register an environment under ``name`` (and with Gymnasium when ``gym_id`` is given).

    ``presets`` maps preset names to knob dictionaries; ``"default"`` is used when ``make`` is
    called without a preset. ``max_new_tokens`` is the per-turn answer length (see ``EnvSpec``).
    """
    spec = EnvSpec(name, entry_point, dict(presets or {}), description, gym_id, max_new_tokens)
    _REGISTRY[name] = spec
    if gym_id is not None and gym_id not in gym.registry:
        defaults = spec.presets.get("default", {})
        gym.register(id=gym_id, entry_point=entry_point, kwargs=dict(defaults))
    return spec


def register_prefix(
    prefix: str,
    factory: Callable[..., TextEnv],
    *,
    description: str = "",
    max_new_tokens: int | None = None,
) -> None:
    """Route every name starting with ``prefix`` to ``factory(rest_of_name, **knobs)``; the
    family's ``max_new_tokens`` holds for each of its environments."""
    _PREFIXES[prefix] = EnvSpec(
        prefix, factory, description=description, max_new_tokens=max_new_tokens
    )


def _load_plugins() -> None:
    """Register every ``resd_bench.envs`` entry point, once per process. A plugin that fails
    (its import, a wrong object, its own registration raising) is skipped with a one-line
    ``BrokenPlugin`` warning naming it, and whatever it registered is taken back: one broken
    package never breaks the suite's own environments."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        before = set(_REGISTRY)
        try:
            _load_plugin(ep)
        except (Exception, SystemExit) as err:  # anything third-party code may raise
            for name in set(_REGISTRY) - before:
                del _REGISTRY[name]
            text = " ".join(str(err).split())[:200]
            warnings.warn(
                f"environment plugin {ep.name!r} ({ep.value}) failed to load and is skipped: "
                f"{type(err).__name__}" + (f": {text}" if text else ""),
                BrokenPlugin,
                stacklevel=3,
            )


def _load_plugin(ep: importlib.metadata.EntryPoint) -> None:
    target = ep.load()
    if isinstance(target, type) and issubclass(target, TextEnv):
        if ep.name not in _REGISTRY:
            register(ep.name, target, description=(target.__doc__ or "").strip())
    elif isinstance(target, type) and issubclass(target, gym.Env):
        if ep.name not in _REGISTRY:  # a plain Gymnasium env: wrapped if its spaces are text
            from envs.gym_adapter import wrap_plugin

            register(
                ep.name, wrap_plugin(target, ep.name), description=(target.__doc__ or "").strip()
            )
    elif callable(target) and not isinstance(target, type):
        target()
    else:
        raise TypeError(
            "neither a TextEnv subclass, a Gymnasium text env, nor a function that registers "
            "environments"
        )


def list_envs() -> list[str]:
    """Names of all registered environments (built-ins and plugins), sorted."""
    _load_plugins()
    return sorted(_REGISTRY)


def get_spec(name: str) -> EnvSpec:
    """The spec of a registered name, or of one member of a prefix family (built on the fly)."""
    for prefix, family in _PREFIXES.items():
        if name.startswith(prefix):
            factory = functools.partial(family.load(), name[len(prefix) :])
            return replace(family, name=name, entry_point=factory)
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


def answer_tokens(name: str) -> int:
    """The per-turn answer length environment ``name`` declares (see ``EnvSpec``)."""
    return get_spec(name).answer_tokens()


def knob_names(constructor: Callable[..., TextEnv]) -> list[str] | None:
    """The knobs a constructor takes: its ``KNOBS`` table, else its keyword parameters
    (``None`` when it takes any keyword, as a prefix family's factory does)."""
    table = getattr(constructor, "KNOBS", ())
    if isinstance(constructor, type) and table:
        return [k.name for k in table]
    params = inspect.signature(constructor).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return [p for p in params if p != "render_mode"]


def make(name: str, *, preset: str | None = None, **knobs: Any) -> TextEnv:
    """Build the environment ``name`` with a named preset and knob overrides."""
    spec = get_spec(name)
    resolved = resolve_knobs(name, preset, **knobs)
    constructor = spec.load()
    valid = knob_names(constructor)
    error = None if valid is None else unknown_knobs(name, resolved, valid)
    if error is not None:
        raise error
    env = constructor(**resolved)
    if spec.gym_id is not None:
        env.spec = gym.spec(spec.gym_id)
    return env
