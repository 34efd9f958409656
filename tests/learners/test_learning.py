"""Honest learning tests: each learner raises success on the secret-word env.

The model is ``tiny-copy`` (smallmodel/toy.py): the tiny random model warm-started to
copy a word that its context reveals, the in-context ability self-distillation assumes, while
its student answers stay uniform over the candidate words (success 1/4). No task's answer is
ever shown to the student: the learners must move it from feedback (SD, RESD) or rewards
(GRPO) into weights.
"""

from __future__ import annotations

import pytest

import envs
import learners
from learners.models import Policy, SamplingParams
from learners.rollout import play_groups
from smallmodel import toy as _toy  # noqa: F401  (registers tiny-copy)

pytestmark = pytest.mark.slow

SAMPLING = SamplingParams(temperature=1.0, max_new_tokens=6)


def success_rate(policy, seed: int) -> float:
    groups, _ = play_groups(
        policy, lambda: envs.make("secret"), list(range(32)), 4, SAMPLING, sample_seed=seed
    )
    episodes = [ep for g in groups for ep in g]
    return sum(ep.success for ep in episodes) / len(episodes)


SETTINGS = {
    "grpo": {"lr": 2e-3, "warmup_steps": 0, "group_size": 8},
    "sd": {"lr": 2e-3, "warmup_steps": 0, "rollouts": 4, "ema_rate": 0.0},
    "resd": {
        "lr": 2e-3,
        "warmup_steps": 0,
        "ema_rate": 0.0,
        "reflection": {"max_new_tokens_reflect": 8, "max_new_tokens_curate": 8},
    },
}


@pytest.mark.parametrize("autocast", [None, "bf16"], ids=["fp32", "bf16"])
@pytest.mark.parametrize("name", ["grpo", "sd", "resd"])
def test_learner_raises_success(name, autocast, capsys):
    """fp32, and bf16 autocast over float32 master weights (``--autocast bf16``)."""
    policy = Policy.load("tiny-copy", autocast=autocast)
    learner = learners.make(name, policy, SETTINGS[name])
    before = success_rate(policy, seed=10_000)
    for step in range(25):
        seeds = [step * 16 + i for i in range(16)]
        groups, _ = play_groups(
            policy,
            lambda: envs.make("secret"),
            seeds,
            learner.rollouts_per_task,
            SAMPLING,
            sample_seed=step,
        )
        learner.step(groups)
    after = success_rate(policy, seed=20_000)
    with capsys.disabled():
        print(f"\n{name} ({autocast or 'fp32'}): success before {before:.2f}, after {after:.2f}")
    assert before < 0.45
    assert after > before + 0.3
