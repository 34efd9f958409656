"""Learners (GRPO, self-distillation, RESD) and the model layer they train.

import learners
learner = learners.make("resd", policy, {"lr": 1e-4})
learners.list()  # ['grpo', 'resd', 'sd']

Importing this package is light (no torch): the registry names each learner by module, and the
classes below load on first use, so a command line checks names and prints help at once.
"""

from __future__ import annotations

import importlib
from typing import Any

from learners.registry import (
    ConfigError,
    default_config,
    learner_class,
    list_learners,
    register,
)

register("grpo", "learners.grpo:GRPO")
register("sd", "learners.self_distillation:SelfDistillation")
register(
    "resd",
    "learners.self_distillation:RESD",
    {
        "rollouts": 1,
        "template": "resd",
        "use_reflection": True,
        "use_playbook": True,
        "use_buffer": True,
        "ema_rate": 1e-4,
    },
)

list = list_learners  # noqa: A001 - the documented name is learners.list()

# Names that bring in torch: loaded when first used (PEP 562).
_LAZY = {
    "GRPO": "learners.grpo",
    "GRPOConfig": "learners.grpo",
    "RESD": "learners.self_distillation",
    "SDConfig": "learners.self_distillation",
    "SelfDistillation": "learners.self_distillation",
    "Learner": "learners.base",
    "ReflectionRequest": "learners.base",
    "StepResult": "learners.base",
    "make": "learners.base",
    "reflection_pipeline": "learners.base",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'learners' has no attribute {name!r}")


__all__ = [
    "GRPO",
    "RESD",
    "ConfigError",
    "GRPOConfig",
    "Learner",
    "ReflectionRequest",
    "SDConfig",
    "SelfDistillation",
    "StepResult",
    "default_config",
    "learner_class",
    "list_learners",
    "make",
    "reflection_pipeline",
    "register",
]
