"""Plain Gymnasium text envs as plugins: wrapped into the contract, or refused by name."""

from __future__ import annotations

import pytest

import envs
from envs import registry
from envs.gym_adapter import MissingInfoKeys
from tests.envs.test_plugins import install_plugins

GUESS_PARITY = '''
import gymnasium as gym
from gymnasium import spaces


class GuessParity(gym.Env):
    """Say even or odd; the info dict has only its own keys."""

    max_new_tokens = 12

    def __init__(self, secret=0):
        self.observation_space = spaces.Text(200)
        self.action_space = spaces.Text(200)
        self.secret = secret

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.answer = ("even", "odd")[(int(self.np_random.integers(10)) + self.secret) % 2]
        return "Even or odd?", {"round": 0}

    def step(self, action):
        ok = self.answer in action
        return ("yes" if ok else f"no, {self.answer}"), float(ok), True, False, {"round": 1}
'''

PIXELS = """
import gymnasium as gym
from gymnasium import spaces


class Pixels(gym.Env):
    def __init__(self):
        self.observation_space = spaces.Box(0, 1, (2,))
        self.action_space = spaces.Discrete(2)
"""


def test_a_gym_text_env_is_wrapped_and_one_that_is_not_text_is_refused(tmp_path, monkeypatch):
    install_plugins(
        tmp_path,
        monkeypatch,
        {
            "parity": ("parity_pkg:GuessParity", GUESS_PARITY),
            "pixels": ("pixels_pkg:Pixels", PIXELS),
        },
    )
    with pytest.warns(registry.BrokenPlugin) as caught:
        names = envs.list()
    assert "parity" in names and "pixels" not in names
    (refusal,) = [str(w.message) for w in caught]
    assert refusal.startswith("environment plugin 'pixels' (pixels_pkg:Pixels) failed to load")
    assert "observation_space is Box, not gymnasium.spaces.Text" in refusal and "\n" not in refusal
    assert envs.answer_tokens("parity") == 12  # declared on the class, as a TextEnv would

    env = envs.make("parity", secret=1)
    with pytest.warns(MissingInfoKeys, match="'parity' leaves feedback, success, progress"):
        obs, info = env.reset(seed=3)
    assert obs == "Even or odd?" and info["task_id"] == "parity:3" and info["round"] == 0
    answer = env.unwrapped.answer
    *_, info = env.step(f"I say {answer}")
    assert info["success"] is True and info["progress"] == 1.0 and info["feedback"] == "yes"
    assert info["valid_action"] is True and env.hindsight() == []
