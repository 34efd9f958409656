"""Tape machines: language, interpreter, task generator, reference solver and feedback."""

import numpy as np
import pytest

import envs
from envs.tape import FAMILIES, make_task, parse, reference_program, run
from envs.tape.env import extract_program

BAD_INPUTS = [
    "",
    "   \n\t ",
    "x" * 100_000,
    "\x00\x07\x1b[2J",
    "Привет мир",
    "12345",
    "[crane] [slate]",
    "```\n```",
    "```python\nprint('hi')\n```",
]


def fenced(program: str) -> str:
    return f"Here is my machine:\n```\n{program}```\nDone."


@pytest.mark.parametrize("family", FAMILIES)
def test_reference_program_passes_its_own_tests_for_many_seeds(family):
    for seed in range(40):
        for colours in (2, 3, 4):
            rng = np.random.default_rng(seed)
            task = make_task(rng, family, colours, 1 + seed % 5, 16, 10)
            program, errors = parse(reference_program(task), task.alphabet)
            assert not errors, errors
            assert len(task.tests) == 16
            assert sum(ok for _, ok in task.tests) == 8  # balanced
            for tape, want in task.tests:
                assert set(tape) <= set(task.alphabet)
                assert task.accepts(tape) == want
                assert (run(program, tape).verdict == "accept") == want, (family, tape)


def test_reference_agrees_with_predicate_on_all_short_tapes():
    """Exhaustive check beyond the sampled tests: every tape up to length 7."""
    import itertools

    for family in FAMILIES:
        task = make_task(np.random.default_rng(7), family, 2, 3, 8, 10)
        program, _ = parse(reference_program(task), task.alphabet)
        for n in range(8):
            for tape in map("".join, itertools.product(task.alphabet, repeat=n)):
                assert (run(program, tape).verdict == "accept") == task.accepts(tape)


def test_interpreter_semantics():
    source = "state A\n  R: write B, goto A\n  B: goto C\nstate C\n end: accept\n"
    prog, errors = parse(source, "RB")
    assert not errors
    assert run(prog, "R").verdict == "accept"  # R consumed, B written to the back, B -> C, end
    res = run(prog, "RB")  # leaves one B on the tape when C is reached
    assert res.verdict == "reject" and res.reason == "state C has no rule for B"
    assert res.trace == (
        "A [RB] read R -> write B, goto A",
        "A [BB] read B -> goto C",
        "C [B] read B -> no rule: reject",
    )
    assert run(prog, "").verdict == "reject" and "no rule for end" in run(prog, "").reason
    loop, _ = parse("state A\n  *: write R, goto A\n  end: goto A\n", "RB")
    res = run(loop, "", step_limit=100)
    assert res.verdict == "loop" and res.steps == 100 and "100 steps" in res.reason
    grow, _ = parse("state A\n  *: write RR, goto A\n", "RB")
    assert run(grow, "R", tape_limit=50).verdict == "overflow"


def test_parse_errors_name_line_and_reason():
    text = "state A\n  R: goto Nowhere\n  G: accept\n  B: write Q, accept\n  B goto A\nstate A\n"
    program, errors = parse(text, "RB")
    assert program is None
    shown = [str(e) for e in errors]
    assert shown == [
        "line 2: goto NOWHERE: no such state (states: A)",
        "line 3: colour G is not used in this task (colours: R, B)",
        "line 4: write needs colours from R, B, got 'write Q'",
        "line 5: cannot read 'B goto A': expected 'state NAME' or a rule 'SYM: action' "
        "(put only the program inside the ``` block)",
        "line 6: state A is declared twice",
    ]


def test_extract_program_prefers_the_fenced_block_with_states():
    action = "```text\nnotes\n```\nthen\n```\nstate A\n  end: accept\n```\n```\nbye\n```"
    assert extract_program(action).startswith("state A")
    assert extract_program("state A\n end: accept") == "state A\n end: accept"


def test_env_reference_solves_and_wrong_programs_get_feedback():
    env = envs.make("tape")
    obs, info = env.reset(seed=5, options={"split": "eval"})  # "end with BRB" is held out
    assert "end with BRB" in obs and "```" in obs and info["valid_action"]
    # A machine that only looks at the last two symbols: misses the pattern.
    wrong = (
        "state A\n  R: goto B\n  B: goto A\n  end: reject\n"
        "state B\n  R: accept\n  B: goto A\n  end: reject\n"
    )
    obs, reward, term, trunc, info = env.step(fenced(wrong))
    assert reward == 0.0 and not term and not trunc and info["valid_action"]
    assert info["progress"] == pytest.approx(11 / 16)
    assert obs.startswith("Program parsed (2 states). Passed 11 of 16 tests.")
    assert "1. tape RR: expected reject, got accept (rule on line 6)" in obs
    assert "     B [R] read R -> accept" in obs
    notes = env.hindsight()
    assert notes[0] == "Task: accept exactly the tapes that end with BRB."
    assert any(n.startswith("Tape RR should be rejected") for n in notes)
    obs, reward, term, trunc, info = env.step(fenced(reference_program(env.task)))
    assert reward == 1.0 and term and info["success"] and info["progress"] == 1.0


def test_loops_are_reported_and_compressed():
    env = envs.make("tape")
    env.reset(seed=5, options={"split": "eval"})
    obs, *_, info = env.step(fenced("state A\n  *: write R, goto A\n  end: goto A\n"))
    assert info["valid_action"] and info["progress"] < 1
    assert "got loop (stopped after 1000 steps (an infinite loop?))" in obs
    assert "A [(empty)] end -> goto A   (x6)" in obs


def test_parse_error_feedback_is_invalid_and_turn_budget_truncates():
    env = envs.make("tape", turns=2)
    env.reset(seed=1)
    obs, _, term, trunc, info = env.step(fenced("state A\n  R: jump B\n"))
    assert not info["valid_action"] and not (term or trunc)
    assert "line 2: unknown action 'jump B'" in obs
    obs, _, term, trunc, info = env.step("no program here")
    assert trunc and not term and "A correct program:" in obs


@pytest.mark.parametrize("action", BAD_INPUTS)
def test_bad_inputs_are_feedback_not_errors(action):
    env = envs.make("tape")
    env.reset(seed=0)
    obs, reward, *_, info = env.step(action)
    assert info["valid_action"] is False and reward == 0.0 and obs and len(obs) < 3000


def test_determinism_and_variety():
    a, b = envs.make("tape"), envs.make("tape")
    assert a.reset(seed=11)[0] == b.reset(seed=11)[0]
    assert a._task == b._task and a.reset(seed=11)[1]["task_id"] == b.reset(seed=11)[1]["task_id"]
    intros = {envs.make("tape").reset(seed=s)[0] for s in range(12)}
    assert len(intros) >= 10


@pytest.mark.parametrize("preset", ["default", "easy", "hard"])
def test_presets_build_and_reference_solves(preset):
    env = envs.make("tape", preset=preset)
    for seed in range(5):
        env.reset(seed=seed)
        *_, info = env.step(fenced(reference_program(env.task)))
        assert info["success"]


def test_knobs_are_checked():
    with pytest.raises(envs.KnobError, match="colours=5"):
        envs.make("tape", colours=5)
    with pytest.raises(envs.KnobError, match="family='nope'"):
        envs.make("tape", family="nope")
