"""What a spec and a knob table declare: answer lengths, knob checks, storage and reports."""

from __future__ import annotations

import os
import warnings

import pytest

import envs
from envs import registry
from envs.base import Interval, Knob, Outcome, TextEnv
from envs.wordle import Wordle

ANSWER_TOKENS = {"secret": 8, "wordle": 16, "mastermind": 16, "tape": 320, "bouncing": 400}
ANSWER_TOKENS["xbrl"] = 160


@pytest.fixture(autouse=True)
def unsafe_sandbox_without_bubblewrap(monkeypatch):
    """Knob tables are about the environment API: where bubblewrap is missing, environments
    that run model code may start at the process level (as in test_contract)."""
    from envs.sandbox import UNSAFE_ENV_VAR, Isolation, isolation_level

    if isolation_level() == Isolation.PROCESS and not os.environ.get("RESD_REQUIRE_SANDBOX"):
        monkeypatch.setenv(UNSAFE_ENV_VAR, "1")


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the registry that a test may register into."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


class Echo(TextEnv):
    """A plugin-like environment that declares no answer length."""

    KNOBS = (Knob("words", 2, range(1, 5), "words to echo"),)

    def _new_task(self) -> int:
        return int(self.np_random.integers(10))

    def _intro(self) -> str:
        return "Say [hi]."

    def _play(self, action: str) -> Outcome:
        return Outcome("ok", True, success=True, progress=1.0)


# -- answer lengths -------------------------------------------------------------------------------
def test_every_built_in_declares_its_answer_length():
    assert {name: envs.get_spec(name).max_new_tokens for name in ANSWER_TOKENS} == ANSWER_TOKENS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert {n: envs.answer_tokens(n) for n in ANSWER_TOKENS} == ANSWER_TOKENS
        assert envs.answer_tokens("textarena/Sudoku-v0") == 64  # the adapter's family declares it


def test_an_undeclared_answer_length_gets_the_default_and_one_warning_line(scratch_registry):
    envs.register("echo", Echo)
    with pytest.warns(envs.UndeclaredAnswerLength) as caught:
        assert envs.answer_tokens("echo") == envs.DEFAULT_MAX_NEW_TOKENS
    message = str(caught[0].message)
    assert "'echo'" in message and "max_new_tokens" in message and "\n" not in message


def test_a_class_attribute_or_register_declares_it(scratch_registry):
    class LongEcho(Echo):
        max_new_tokens = 48

    envs.register("long-echo", LongEcho)
    envs.register("short-echo", Echo, max_new_tokens=12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert envs.answer_tokens("long-echo") == 48
        assert envs.answer_tokens("short-echo") == 12


def test_the_runner_reads_the_spec_and_an_explicit_cap_wins():
    from benchmarks.config import RunConfig

    assert RunConfig(env="xbrl").new_tokens() == 160
    assert RunConfig(env="tape", max_new_tokens=99).new_tokens() == 99


def test_prefix_families_resolve_knobs_like_any_environment():
    assert envs.resolve_knobs("textarena/Sudoku-v0", None, max_turns=5) == {"max_turns": 5}
    with pytest.raises(envs.KnobError, match="unknown preset 'easy' for textarena/Sudoku-v0"):
        envs.resolve_knobs("textarena/Sudoku-v0", "easy")


# -- knob tables ----------------------------------------------------------------------------------
TABLE_ENVS = sorted(n for n in envs.list() if getattr(envs.get_spec(n).load(), "KNOBS", ()))


def test_the_built_ins_all_have_tables():
    assert set(ANSWER_TOKENS) <= set(TABLE_ENVS)


@pytest.mark.parametrize("name", TABLE_ENVS)
def test_the_table_is_what_knobs_reports(name):
    env = envs.make(name)
    table = type(env).KNOBS
    assert list(env.knobs()) == [k.name for k in table]
    for knob in table:
        if knob.default is not None:
            preset = envs.get_spec(name).presets.get("default", {})
            assert env.knobs()[knob.name] == preset.get(knob.name, knob.default)
        assert knob.doc and "\n" not in knob.doc


@pytest.mark.parametrize("name", TABLE_ENVS)
def test_every_ranged_knob_refuses_its_first_value_past_the_range(name):
    for knob in envs.get_spec(name).load().KNOBS:
        allowed = knob.allowed
        if isinstance(allowed, range):
            bad = allowed.stop
        elif isinstance(allowed, Interval):
            bad = allowed.high + 0.5
        else:
            continue
        with pytest.raises(envs.KnobError, match=f"^knob {knob.name}={bad!r} is out of range"):
            envs.make(name, **{knob.name: bad})


def test_knob_checks():
    earlier = {"length": 4}
    pool = Knob("pool", 9, lambda k: range(1, k["length"] + 1), "depends on length")
    assert pool.check(4, earlier) == 4
    with pytest.raises(envs.KnobError, match=r"knob pool=5 is out of range: .*\[1, 4\]"):
        pool.check(5, earlier)
    share = Knob("share", 0.5, Interval(0.0, 1.0), "a real number")
    assert share.check(1, {}) == 1.0 and isinstance(share.check(1, {}), float)
    for bad in (True, float("nan"), "0.5"):
        with pytest.raises(envs.KnobError, match=r"expected a number in \[0, 1\]"):
            share.check(bad, {})
    derived = Knob("turns", None, range(1, 3), "None: derived")
    assert derived.check(None, {}) is None
    flag = Knob("flag", False, (False, True), "exact type")
    with pytest.raises(envs.KnobError, match="one of False, True"):
        flag.check(0, {})


def test_stored_under_its_attribute_and_derived_defaults():
    tape = envs.make("tape", turns=5)
    assert tape.max_turns == 5 and tape.knobs()["turns"] == 5
    wordle = Wordle(guesses=4)
    assert wordle.max_turns == 8 and wordle.knobs()["max_turns"] == 8  # 2 x guesses


def test_unknown_knobs_are_one_line_errors_on_direct_construction():
    with pytest.raises(envs.KnobError, match="^unknown knob.*lenght for Wordle; valid knobs: len"):
        Wordle(lenght=5)
