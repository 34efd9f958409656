from __future__ import annotations

import itertools

import pytest

import envs
from envs.mastermind import pegs


def pegs_by_elimination(guess, secret):
    """Independent count: mark exact pegs, then pair remaining pegs greedily."""
    exact = [g == s for g, s in zip(guess, secret, strict=False)]
    rest_secret = [s for s, e in zip(secret, exact, strict=False) if not e]
    colour = 0
    for g, e in zip(guess, exact, strict=False):
        if not e and g in rest_secret:
            rest_secret.remove(g)
            colour += 1
    return sum(exact), colour


def test_pegs_against_independent_count():
    for guess in itertools.product(range(1, 4), repeat=4):
        for secret in [(1, 1, 2, 2), (3, 2, 1, 1), (2, 2, 2, 3)]:
            assert pegs(guess, secret) == pegs_by_elimination(guess, secret)


@pytest.mark.parametrize(
    ("guess", "secret", "expected"),
    [
        ((1, 2, 3, 4), (1, 2, 3, 4), (4, 0)),
        ((1, 1, 2, 2), (2, 2, 1, 1), (0, 4)),
        ((1, 1, 1, 1), (1, 2, 3, 4), (1, 0)),
        ((5, 6, 5, 6), (6, 5, 1, 1), (0, 2)),
    ],
)
def test_pegs_by_hand(guess, secret, expected):
    assert pegs(guess, secret) == expected


def test_play_parse_and_win():
    env = envs.make("mastermind")
    env.reset(seed=4)
    code = env.secret
    obs, *_, info = env.step("[" + ",".join(map(str, code)) + "]")
    assert info["success"] and "Solved" in obs
    env.reset(seed=4)
    obs, *_, info = env.step("[1 2 3]")
    assert not info["valid_action"] and "has 4 pegs" in obs
    obs, *_, info = env.step("[7 1 1 1]")
    assert not info["valid_action"] and "from 1 to 6" in obs


def test_no_repeats_knob():
    env = envs.make("mastermind", repeats=False)
    for seed in range(10):
        env.reset(seed=seed)
        assert len(set(env.secret)) == 4
    obs, *_, info = env.step("[1 1 2 3]")
    assert not info["valid_action"] and "may not repeat" in obs
    with pytest.raises(ValueError, match="colours=3"):
        envs.make("mastermind", repeats=False, colours=3)


def test_feedback_explains_counts_and_loss_reveals_code():
    env = envs.make("mastermind", guesses=1)
    env.reset(seed=0)
    guess = tuple(c % 6 + 1 for c in env.secret)  # every peg wrong in place
    obs, reward, terminated, *_ = env.step("[" + " ".join(map(str, guess)) + "]")
    assert "exact=0" in obs and "right colour in the wrong place" in obs
    assert terminated and reward == 0.0 and "The code was" in obs
