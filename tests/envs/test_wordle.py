from __future__ import annotations

import pytest

import envs
from envs.wordle import consistent, marks, violations, word_list

# (guess, secret, expected marks), written out by hand from the official rules.
REPEATED_LETTER_CASES = [
    ("crane", "crane", "GGGGG"),
    ("eerie", "ember", "GYYXX"),  # E green, second E yellow, R yellow, third E absent
    ("speed", "abide", "XXYXY"),  # D yellow; only one E in ABIDE: first E yellow
    ("geese", "eerie", "XGYXG"),  # green E first at 2 and 5, then one yellow
    ("llama", "hello", "YYXXX"),  # two L in HELLO, both out of place
    ("hello", "llama", "XXYYX"),  # HELLO vs LLAMA: both L yellow, O absent
    ("allee", "eagle", "YYXYG"),
    ("mamma", "maxim", "GGYXX"),  # three M guessed, two in secret (see below)
    ("sassy", "essay", "YYGXG"),
    ("robot", "motor", "YGXGY"),
    ("aaaaa", "abaca", "GXGXG"),
    ("abbey", "kebab", "YYGYX"),
]


@pytest.mark.parametrize(("guess", "secret", "expected"), REPEATED_LETTER_CASES)
def test_repeated_letter_marks(guess, secret, expected):
    assert marks(guess, secret) == expected


def test_mamma_vs_maxim_by_hand():
    # MAXIM has M at 1 and 5. MAMMA: M1 green, A2 green, M3 -> one unmatched M (pos 5) -> Y,
    # M4 -> no unmatched M left -> X, A5 -> A already used -> X.
    assert marks("mamma", "maxim") == "GGYXX"


def test_consistency_and_violation_reasons():
    history = [("crane", marks("crane", "claim"))]  # G X G X X
    assert consistent("claim", history)
    assert not consistent("slate", history)
    reasons = violations("slate", history)
    assert any("C must stay at position 1" in r for r in reasons)
    assert any("E is not in the word" in r for r in reasons)
    assert violations("claim", history) == []


def test_word_lists_are_frequency_ordered_and_clean():
    for length in (4, 5, 6):
        words = word_list(length)
        assert len(words) > 5000
        assert all(len(w) == length and w.isalpha() and w.islower() for w in words)
        assert len(set(words)) == len(words)
    assert word_list(5)[:3] == ("about", "their", "there")


def play(env, *actions):
    out = None
    for a in actions:
        out = env.step(a)
    return out


def test_win_and_progress():
    env = envs.make("wordle")
    env.reset(seed=0)
    secret = env.secret
    obs, reward, terminated, truncated, info = play(env, f"My guess is [{secret}].")
    assert reward == 1.0 and terminated and info["success"] and info["progress"] == 1.0
    assert "Solved in 1 guess" in obs


def test_loss_reveals_the_answer():
    env = envs.make("wordle", guesses=2)
    env.reset(seed=3)
    others = [w for w in word_list(5)[:50] if w != env.secret][:2]
    obs, reward, terminated, truncated, info = play(env, *(f"[{w}]" for w in others))
    assert terminated and reward == 0.0
    assert f"The word was [{env.secret}]." in obs
    assert 0.0 <= info["progress"] < 1.0


def test_invalid_reasons_and_policies():
    env = envs.make("wordle")
    env.reset(seed=0)
    assert "not in the word list" in env.step("[qzxvw]")[0]
    assert "has 4 letters" in env.step("[word]")[0]
    env.step("[about]")
    assert "already guessed" in env.step("[about]")[0]
    assert "single word" in env.step("[ab1cd]")[0]
    penalty = envs.make("wordle", invalid="penalty", guesses=2)
    penalty.reset(seed=0)
    assert "cost a guess: 1 left" in penalty.step("[qzxvw]")[0]
    end = envs.make("wordle", invalid="end")
    end.reset(seed=0)
    obs, _, terminated, *_ = end.step("[qzxvw]")
    assert terminated and "The word was" in obs


def test_hard_mode_rejects_guesses_that_drop_greens():
    env = envs.make("wordle", hard_mode=True)
    env.reset(seed=0)
    env._task = "claim"  # fix the secret for a hand-checked case
    env.step("[crane]")  # G X G X X
    obs, *_, info = env.step("[slate]")
    assert info["valid_action"] is False and "hard mode: C must stay at position 1" in obs
    obs, *_, info = env.step("[chalk]")
    assert info["valid_action"] is True


def test_turn_budget_truncates():
    env = envs.make("wordle", guesses=2, max_turns=3)
    env.reset(seed=0)
    play(env, "[qzxvw]", "[qzxvw]")
    obs, reward, terminated, truncated, info = env.step("[qzxvw]")
    assert truncated and not terminated and "Turn budget" in obs and "The word was" in obs


def test_lengths_and_pool():
    for length in (4, 5, 6):
        env = envs.make("wordle", length=length, pool_size=20)
        for seed in range(5):
            env.reset(seed=seed)
            assert env.secret in word_list(length)[:20]


def test_hindsight_names_ignored_feedback():
    env = envs.make("wordle")
    env.reset(seed=0)
    env._task = "claim"
    play(env, "[crane]", "[slate]")
    notes = env.hindsight()
    assert notes and "Guess 2 (SLATE) ignored feedback" in notes[0]
