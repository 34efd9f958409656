import numpy as np
import pytest

import envs
from envs.mastermind import pegs
from envs.players import scripted_action, supports
from envs.wordle import consistent, marks


def play(name: str, skill: float, seed: int, rng: np.random.Generator):
    env = envs.make(name)
    env.reset(seed=seed)
    actions, done, info = [], False, {}
    while not done:
        action = scripted_action(env, skill, rng)
        actions.append(action)
        _, _, terminated, truncated, info = env.step(action)
        assert info["valid_action"], info["feedback"]
        done = terminated or truncated
    return env.unwrapped, actions, info


def test_wordle_expert_is_always_consistent_and_wins():
    rng = np.random.default_rng(0)
    wins = 0
    for seed in range(20):
        game, _, info = play("wordle", 1.0, seed, rng)
        guesses = [s.guess for s in game.scored]
        for n in range(1, len(guesses)):
            history = [(g, marks(g, game.secret)) for g in guesses[:n]]
            assert consistent(guesses[n], history)
        wins += info["success"]
    assert wins >= 18


def test_mastermind_expert_is_always_consistent():
    rng = np.random.default_rng(1)
    for seed in range(5):
        game, _, info = play("mastermind", 1.0, seed, rng)
        guesses = [s.guess for s in game.scored]
        for n in range(1, len(guesses)):
            assert all(pegs(g, guesses[n]) == pegs(g, game.secret) for g in guesses[:n])
        assert info["success"]


def test_random_player_rarely_wins_and_expert_beats_it():
    rng = np.random.default_rng(2)
    weak = sum(play("wordle", 0.0, s, rng)[2]["success"] for s in range(60))
    strong = sum(play("wordle", 1.0, s, rng)[2]["success"] for s in range(60))
    assert weak <= 6 and strong >= 55


def test_same_seed_same_actions_and_knob_checks():
    a = play("mastermind", 0.3, 7, np.random.default_rng(5))[1]
    b = play("mastermind", 0.3, 7, np.random.default_rng(5))[1]
    assert a == b
    env = envs.make("wordle")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="skill"):
        scripted_action(env, 1.5, np.random.default_rng(0))
    secret = envs.make("secret")
    secret.reset(seed=0)
    assert supports(env) and not supports(secret)
    with pytest.raises(ValueError, match="no scripted player"):
        scripted_action(secret, 0.5, np.random.default_rng(0))
