"""TextArena adapter: round trips on three games, isolated seeding, one-line failures."""

import random

import numpy as np
import pytest

import envs

pytest.importorskip("textarena", reason="textarena is not installed (extra: textarena)")

HANOI = ["[A C]", "[A B]", "[C B]", "[A C]", "[B A]", "[B C]", "[A C]"]


def test_mastermind_round_trip_and_win():
    env = envs.make("textarena/Mastermind-v0")
    obs, info = env.reset(seed=3)
    assert obs.startswith("You are playing Mastermind.") and "[GAME]" not in obs
    assert set(envs.INFO_KEYS) <= set(info) and info["task_id"].startswith("textarena/Mastermind")
    obs, reward, term, trunc, info = env.step("[1 2 3 4]")
    assert obs.startswith("Submitted [1 2 3 4]. Feedback:") and "You are playing" not in obs
    assert info["valid_action"] and reward == 0.0 and not (term or trunc)
    obs, *_, info = env.step("no guess here")
    assert not info["valid_action"] and "invalid move" in obs
    secret = " ".join(map(str, env._base.state.game_state["secret_code"]))
    obs, reward, term, trunc, info = env.step(f"[{secret}]")
    assert reward == 1.0 and term and info["success"] and info["progress"] == 1.0
    assert "Game over: You have cracked the code" in obs


def test_guess_the_number_binary_search_wins():
    env = envs.make("textarena/GuessTheNumber-v0")
    env.reset(seed=7)
    lo, hi = 1, 20
    for _ in range(10):
        mid = (lo + hi) // 2
        obs, reward, term, _, info = env.step(f"[{mid}]")
        if term:
            break
        assert info["valid_action"]
        if "higher" in obs:
            lo = mid + 1
        else:
            assert "lower" in obs
            hi = mid - 1
    assert term and info["success"] and reward == 1.0


def test_tower_of_hanoi_solution_wins_and_observations_are_new_only():
    env = envs.make("textarena/TowerOfHanoi-v0")
    env.reset(seed=0)
    for move in HANOI:
        obs, reward, term, trunc, info = env.step(move)
        assert info["valid_action"] and obs.count("Current Board") <= 1
    assert term and info["success"]


def test_seeding_is_isolated_and_deterministic():
    random.seed(123)
    np.random.seed(5)
    before, np_before = random.getstate(), np.random.get_state()[1].copy()
    a, b = envs.make("textarena/Mastermind-v0"), envs.make("textarena/Mastermind-v0")
    a.reset(seed=11)
    b.reset(seed=11)
    # Interleaved steps of two envs on the same task give the same feedback.
    for guess in ["[1 2 3 4]", "[2 3 4 5]", "[6 5 4 3]"]:
        assert a.step(guess)[0] == b.step(guess)[0]
    assert a._base.state.game_state["secret_code"] == b._base.state.game_state["secret_code"]
    assert random.getstate() == before and (np.random.get_state()[1] == np_before).all()
    codes = set()
    for seed in range(8):
        a.reset(seed=seed)
        codes.add(tuple(a._base.state.game_state["secret_code"]))
    assert len(codes) >= 6


@pytest.mark.parametrize(
    "game, message",
    [
        ("Wordle-v0", "textarena/Wordle-v0 needs NLTK data 'words', which is not downloaded"),
        ("Chess-v0", "textarena/Chess-v0 its code needs a newer Python (SyntaxError"),
        ("TwentyQuestions-v0", "textarena/TwentyQuestions-v0 needs an API key"),
        ("TicTacToe-v0", "textarena/TicTacToe-v0 is not a single-player game"),
    ],
)
def test_unavailable_games_fail_at_make_with_one_line(game, message):
    with pytest.raises(envs.EnvUnavailable) as err:
        envs.make(f"textarena/{game}")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_unknown_game_and_bad_knob():
    with pytest.raises(envs.KnobError, match="did you mean textarena/Mastermind-v0"):
        envs.make("textarena/Mastermind-v9")
    with pytest.raises(envs.KnobError, match="bad knob"):
        envs.make("textarena/Mastermind-v0", colour_count=3)
    env = envs.make("textarena/Mastermind-v0", code_length=3)
    assert "3 digits long" in env.reset(seed=0)[0]


def test_textarena_games_are_not_listed():
    assert not any(name.startswith("textarena/") for name in envs.list())
