"""Learners (GRPO, self-distillation, RESD) and the model layer they train.

import learners
learner = learners.make("resd", policy, {"lr": 1e-4})
learners.list()  # ['grpo', 'resd', 'sd']
"""

from learners.base import (
    ConfigError,
    Learner,
    ReflectionRequest,
    StepResult,
    default_config,
    learner_class,
    list_learners,
    make,
    reflection_pipeline,
    register,
)
from learners.grpo import GRPO, GRPOConfig
from learners.self_distillation import RESD, SDConfig, SelfDistillation

register("grpo", GRPO)
register("sd", SelfDistillation)
register(
    "resd",
    RESD,
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
