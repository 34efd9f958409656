"""Plugins that are plain Gymnasium text environments, not subclasses of ``envs.base.TextEnv``.

A ``gymnasium.Env`` declared in the ``resd_bench.envs`` entry-point group is accepted when its
observation and action spaces are text (``gymnasium.spaces.Text``): it is wrapped so that it
keeps the suite's contract. What its ``info`` lacks of the contract's keys is filled in, with
one warning line naming the plugin and the keys: ``feedback`` (the observation), ``success``
(a positive reward), ``progress`` (1.0 on success, else 0.0), ``valid_action`` (True),
``task_id`` (the plugin's name and the seed). An env whose spaces are not text is refused by
name in one line (the registry's ``BrokenPlugin`` warning). Its answer length, and any other
run-time need the suite reads from a spec, may be declared as a class attribute
(``max_new_tokens = 32``), as on a ``TextEnv``.
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from envs.base import INFO_KEYS


class MissingInfoKeys(UserWarning):
    """A wrapped plugin's ``info`` lacks some of the contract's keys; defaults stand in."""


def check_text_spaces(env: gym.Env, name: str) -> None:
    """Refuse (TypeError, one line) an env whose observation or action space is not text."""
    for which in ("observation_space", "action_space"):
        space = getattr(env, which, None)
        if not isinstance(space, spaces.Text):
            raise TypeError(
                f"{name}: {which} is {type(space).__name__}, not gymnasium.spaces.Text; "
                "only text environments can be played by a language model"
            )


class GymTextEnv(gym.Wrapper):
    """A Gymnasium text env with the suite's ``info`` contract and ``hindsight()``."""

    def __init__(self, env: gym.Env, name: str) -> None:
        check_text_spaces(env, name)
        super().__init__(env)
        self.name = name
        self.task_id = name
        self.warned = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self.task_id = str(info.get("task_id", f"{self.name}:{seed}"))
        return obs, self.complete(info, obs, 0.0, reset=True)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, self.complete(info, obs, float(reward))

    def complete(
        self, info: dict[str, Any], obs: str, reward: float, reset: bool = False
    ) -> dict[str, Any]:
        """``info`` with the contract's missing keys filled in (warned about once)."""
        missing = [k for k in INFO_KEYS if k not in info]
        if missing and not self.warned:
            self.warned = True
            warnings.warn(
                f"environment plugin {self.name!r} leaves {', '.join(missing)} out of its "
                "info; defaults stand in (see envs/gym_adapter.py)",
                MissingInfoKeys,
                stacklevel=3,
            )
        success = bool(info.get("success", reward > 0 and not reset))
        return {
            "feedback": "" if reset else obs,
            "success": success,
            "progress": 1.0 if success else 0.0,
            "valid_action": True,
            "task_id": self.task_id,
            **info,
        }

    def hindsight(self) -> list[str]:
        notes = getattr(self.env.unwrapped, "hindsight", None)
        return list(notes()) if callable(notes) else []


def wrap_plugin(cls: type[gym.Env], name: str) -> Any:
    """A factory for the registry: ``cls(**knobs)`` wrapped, refused at once (TypeError) if
    its spaces are not text (it is built once here, to check)."""
    probe = cls()
    try:
        check_text_spaces(probe, name)
    finally:
        probe.close()

    def make(**knobs: Any) -> GymTextEnv:
        return GymTextEnv(cls(**knobs), name)

    make.__doc__ = cls.__doc__
    make.max_new_tokens = getattr(cls, "max_new_tokens", None)  # type: ignore[attr-defined]
    return make
