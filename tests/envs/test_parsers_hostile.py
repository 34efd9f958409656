"""Every environment's action parser takes any string: no exception escapes, ever.

Properties over hypothesis strings (lone surrogates, control characters, deep nesting, runs of
a thousand brackets): the bracketed-answer extractor; Wordle, Mastermind, the secret word and
XBRL tagging through ``step``; the tape DSL parser and program extraction; the bouncing-balls
source extraction and check (its ``step`` runs the sandbox, so only the parsing is drawn here).
"""

from __future__ import annotations

import pytest
from hypothesis import example, given

import envs
from envs.base import echo, extract_bracketed
from envs.bouncing.env import check_source, extract_code
from envs.tape import dsl
from envs.tape.env import extract_program
from tests.hostile_text import FAST, hostile_text

DEEP = "[" * 10_000
SURROGATES = "[\ud800]\udfff [crane\ud83d]"


@FAST
@given(hostile_text)
@example(DEEP)
@example(SURROGATES)
def test_extract_bracketed_and_echo_take_any_string(text):
    answer, reason = extract_bracketed(text)
    assert (answer is None) != (reason == "")
    assert "\n" not in echo(text)


@pytest.fixture(scope="module")
def games():
    """One env per answer-in-text game; each example resets it, so state never leaks across."""
    return {name: envs.make(name) for name in ("wordle", "mastermind", "secret", "xbrl")}


@FAST
@given(hostile_text)
@example(DEEP)
@example(SURROGATES)
def test_text_games_step_on_any_string(games, text):
    for env in games.values():
        env.reset(seed=0)
        _, reward, terminated, truncated, info = env.step(text)
        assert isinstance(info["feedback"], str) and info["feedback"]
        assert isinstance(info["valid_action"], bool)
        assert 0.0 <= info["progress"] <= 1.0


@FAST
@given(hostile_text)
@example(DEEP)
@example("state A\n  R: " + "write R, " * 5000 + "accept")
@example("```\nstate \ud800\n  \udfff: accept\n```")
def test_tape_dsl_parses_any_string(text):
    program, errors = dsl.parse(text, "RB")
    assert (program is None) == bool(errors)
    assert all(isinstance(str(e), str) for e in errors)
    assert isinstance(extract_program(text), str)


@pytest.fixture(scope="module")
def tape_env():
    return envs.make("tape", tests=4, turns=1)


@FAST
@given(hostile_text)
@example("```\n" + DEEP + "\n```")
def test_tape_env_steps_on_any_string(tape_env, text):
    tape_env.reset(seed=0)
    *_, info = tape_env.step(text)
    assert isinstance(info["feedback"], str) and info["feedback"]


@FAST
@given(hostile_text)
@example("```python\n" + "(" * 10_000 + "\n```")
@example("```python\ndef predict(balls, width, height, t):\n    return '\ud800'\n```")
@example("def predict(" + "[" * 5000)
def test_bouncing_source_extraction_and_check_take_any_string(text):
    source = extract_code(text)
    assert isinstance(source, str)
    assert isinstance(check_source(source), str)
