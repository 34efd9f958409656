"""The environment contract, checked on every registered environment."""

from __future__ import annotations

import os
import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.base import INFO_KEYS

ALL = envs.list()


@pytest.fixture(autouse=True)
def unsafe_sandbox_without_bubblewrap(monkeypatch):
    """The contract is about the environment API, not isolation: where bubblewrap is missing,
    let environments that run model code start at the process level (CI sets
    RESD_REQUIRE_SANDBOX=1 and installs bubblewrap, so there they run isolated)."""
    from envs.sandbox import UNSAFE_ENV_VAR, Isolation, isolation_level

    if isolation_level() == Isolation.PROCESS and not os.environ.get("RESD_REQUIRE_SANDBOX"):
        monkeypatch.setenv(UNSAFE_ENV_VAR, "1")


BAD_ACTIONS = {
    "empty": "",
    "whitespace": "   \n\t  ",
    "100kB": "a" * 100_000,
    "100kB-brackets": "[" + "b" * 100_000 + "]",
    "control": "\x00\x01\x07\x1b[31m\x7f",
    "other-scripts": "[日本語] [слово]",
    "numbers": "[12345678901234567890]",
    "several-bracketed": "[about] [there] [which]",
    "wrong-length": "[ab]",
    "unbalanced": "[[[ ]]] [",
    "emoji": "🙂🙂🙂",
}


@pytest.mark.parametrize("name", ALL)
def test_check_env(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker reports problems as warnings
        check_env(envs.make(name), skip_render_check=True)


@pytest.mark.parametrize("name", ALL)
def test_info_keys_on_reset_and_step(name):
    env = envs.make(name)
    obs, info = env.reset(seed=0)
    assert isinstance(obs, str) and obs
    assert set(INFO_KEYS) <= set(info)
    obs, reward, terminated, truncated, info = env.step("[anything]")
    assert set(INFO_KEYS) <= set(info)
    assert isinstance(info["feedback"], str) and info["feedback"]
    assert 0.0 <= info["progress"] <= 1.0
    assert isinstance(info["success"], bool) and isinstance(info["valid_action"], bool)


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_task_different_seeds_differ(name):
    first = [envs.make(name).reset(seed=s) for s in range(12)]
    again = [envs.make(name).reset(seed=s) for s in range(12)]
    assert [i["task_id"] for _, i in first] == [i["task_id"] for _, i in again]
    assert [o for o, _ in first] == [o for o, _ in again]
    assert len({i["task_id"] for _, i in first}) >= 3  # different seeds, different tasks


@pytest.mark.parametrize("name", ALL)
def test_seeding_leaves_global_random_state_alone(name):
    import random

    import numpy as np

    random.seed(123)
    np.random.seed(123)
    expected = (random.random(), np.random.random())
    random.seed(123)
    np.random.seed(123)
    env = envs.make(name)
    env.reset(seed=5)
    env.step("[guess]")
    assert (random.random(), np.random.random()) == expected


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("kind", sorted(BAD_ACTIONS))
def test_bad_actions_are_feedback(name, kind):
    env = envs.make(name)
    env.reset(seed=1)
    obs, reward, terminated, truncated, info = env.step(BAD_ACTIONS[kind])
    assert info["valid_action"] is False
    assert reward == 0.0 and info["success"] is False
    assert obs == info["feedback"] and 0 < len(obs) < 5_000


@pytest.mark.parametrize("name", ALL)
def test_episode_ends_within_turn_budget(name):
    env = envs.make(name)
    env.reset(seed=2)
    for _ in range(env.max_turns):
        *_, terminated, truncated, _ = env.step("nonsense answer")
        if terminated or truncated:
            break
    assert terminated or truncated
    obs, reward, *_, info = env.step("[after the end]")
    assert reward == 0.0 and info["valid_action"] is False


def test_unknown_env_lists_valid_names():
    with pytest.raises(envs.UnknownEnvironmentError, match="valid names: .*wordle"):
        envs.make("wordl")


def test_bad_knobs_name_the_knob_and_range():
    with pytest.raises(envs.KnobError, match=r"length=9 .*\[4, 6\]"):
        envs.make("wordle", length=9)
    with pytest.raises(envs.KnobError, match="unknown knob.*lenght.*valid knobs: length"):
        envs.make("wordle", lenght=5)
    with pytest.raises(envs.KnobError, match="unknown preset 'nope'.*easy"):
        envs.make("mastermind", preset="nope")
    with pytest.raises(envs.KnobError, match="hard_mode"):
        envs.make("wordle", hard_mode="yes")


def test_gymnasium_ids_are_registered():
    env = gym.make("resd/Wordle-v0")
    obs, info = env.reset(seed=0)
    assert info["task_id"].startswith("resd/Wordle-v0:")
    assert "resd/Mastermind-v0" in gym.registry
