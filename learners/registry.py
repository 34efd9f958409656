"""The learners' registry and settings checks: light (no torch), so a command line can list
and check learner names, and print its help, before the model stack loads.

A learner is registered as ``"module:Class"`` (or the class itself); its module is imported
the first time it is needed (its settings resolved, or the learner built).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any


class ConfigError(ValueError):
    """A learner setting is unknown or has a bad value; the message names the field."""


_LEARNERS: dict[str, tuple[type | str, dict[str, Any]]] = {}


def register(name: str, cls: type | str, defaults: dict[str, Any] | None = None) -> None:
    """Register ``cls`` (a class or ``"module:Class"``) under ``name``; ``defaults`` override
    its config's field defaults."""
    _LEARNERS[name] = (cls, dict(defaults or {}))


def list_learners() -> list[str]:
    return sorted(_LEARNERS)


def check_name(name: str) -> None:
    if name not in _LEARNERS:
        raise ConfigError(f"unknown learner {name!r}; valid learners: {', '.join(list_learners())}")


def learner_class(name: str) -> Any:
    """The class registered as ``name`` (its module imported on first use)."""
    check_name(name)
    target, defaults = _LEARNERS[name]
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
        _LEARNERS[name] = (target, defaults)
    return target


def build_config(cls: type, values: dict[str, Any] | Any | None) -> Any:
    """A config dataclass from a dict, naming any unknown field in a one-line error."""
    if values is None:
        config = cls()
    elif isinstance(values, cls):
        config = values
    else:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ConfigError(
                f"unknown setting(s) {', '.join(unknown)} for {cls.__name__}; valid: "
                + ", ".join(sorted(fields))
            )
        config = cls(**values)
    config.validate()
    return config


def default_config(name: str, overrides: dict[str, Any] | None = None) -> Any:
    """The resolved config of learner ``name``: class defaults, registry defaults, overrides."""
    cls = learner_class(name)
    defaults = _LEARNERS[name][1]
    if overrides is not None and not isinstance(overrides, dict):
        return build_config(cls.config_class, overrides)
    return build_config(cls.config_class, {**defaults, **(overrides or {})})
