"""Every learner on every built-in environment runs from the defaults (the cpu preset, its
per-learner and per-environment settings). In the default suite with a budget of one batch,
one held-out task, one-turn episodes and short answers, so the grid of 18 runs stays fast;
``-m slow`` runs each pair with the defaults' episodes and answer lengths."""

from __future__ import annotations

import json

import pytest

import learners
from benchmarks import run as runner

# One action per episode: the knob that sets each built-in's turn budget.
ONE_TURN = {
    "wordle": "guesses=1",
    "mastermind": "guesses=1",
    "tape": "turns=1",
    "bouncing": "turns=1",
    "xbrl": "max_turns=1",
    "secret": None,
}
SHORT = ["--max-new-tokens", "8"]


def one_batch(env: str, learner: str, tmp_path, short: bool) -> None:
    rollouts = learners.learner_class(learner).rollouts_for(learners.default_config(learner))
    argv = ["--env", env, "--learner", learner, "--model", "tiny-random"]
    argv += ["--budget", str(rollouts), "--batch-tasks", "1", "--inner-steps", "1"]
    argv += ["--eval-tasks", "1", "--eval-k", "1", "--no-leaderboard"]
    if short:
        argv += SHORT + (["--knob", ONE_TURN[env]] if ONE_TURN[env] else [])
    out = runner.main([*argv, "--out", str(tmp_path / "run")])
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["env"], summary["learner"], summary["samples"]) == (env, learner, rollouts)
    config = json.loads((out / "config.json").read_text())
    assert config["preset"] == "cpu"


@pytest.mark.parametrize("learner", learners.list())
@pytest.mark.parametrize("env", list(ONE_TURN))
def test_every_pair_runs_from_the_defaults(env, learner, tmp_path):
    one_batch(env, learner, tmp_path, short=True)


@pytest.mark.slow
@pytest.mark.parametrize("learner", learners.list())
@pytest.mark.parametrize("env", list(ONE_TURN))
def test_every_pair_runs_with_default_episodes(env, learner, tmp_path):
    one_batch(env, learner, tmp_path, short=False)


@pytest.mark.parametrize("learner", ["sd", "grpo"])
def test_the_default_budget_fits_a_batch_of_every_learner(learner):
    from benchmarks.config import resolve

    config = resolve(None, {"learner": learner})
    rollouts = learners.learner_class(learner).rollouts_for(learners.default_config(learner))
    assert rollouts == 8 and config.budget >= config.batch_tasks * rollouts
    runner.check_batches(config, rollouts)  # raises if not
