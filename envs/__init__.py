"""Text environments with rich failure feedback and rare success.

    import envs
    env = envs.make("wordle", preset="easy")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("[crane]")

See ``envs.base`` for the contract and ``envs.registry`` for registration and plugins.
"""

from envs.base import INFO_KEYS, EnvUnavailable, Interval, Knob, KnobError, Outcome, TextEnv
from envs.registry import (
    DEFAULT_MAX_NEW_TOKENS,
    ENTRY_POINT_GROUP,
    EnvSpec,
    UndeclaredAnswerLength,
    UnknownEnvironmentError,
    answer_tokens,
    get_spec,
    list_envs,
    make,
    register,
    register_prefix,
    resolve_knobs,
)

list = list_envs  # noqa: A001 - the documented name is envs.list()

from envs import builtin as _builtin  # noqa: E402,F401  (registers the built-in environments)

__all__ = [
    "DEFAULT_MAX_NEW_TOKENS",
    "ENTRY_POINT_GROUP",
    "INFO_KEYS",
    "EnvSpec",
    "EnvUnavailable",
    "Interval",
    "Knob",
    "KnobError",
    "Outcome",
    "TextEnv",
    "UndeclaredAnswerLength",
    "UnknownEnvironmentError",
    "answer_tokens",
    "get_spec",
    "list_envs",
    "make",
    "register",
    "register_prefix",
    "resolve_knobs",
]
