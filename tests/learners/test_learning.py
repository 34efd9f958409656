"""Honest learning tests: each learner raises success on the secret-word env.

The tiny random model is first warm-started (supervised, ~1 minute) to copy a word that its
context reveals, the in-context ability self-distillation assumes, while its student answers
stay uniform over the candidate words (success 1/4). No task's answer is ever shown to the
student: the learners must move it from feedback (SD, RESD) or rewards (GRPO) into weights.
"""

from __future__ import annotations

import random

import pytest
import torch

import envs
import learners
from envs.secret import WORDS
from learners.models import Policy, SamplingParams
from learners.prompts import resd_teacher_task, sdpo_teacher_task
from learners.rollout import play_groups
from learners.sft import sft_step

pytestmark = pytest.mark.slow

SAMPLING = SamplingParams(temperature=1.0, max_new_tokens=6)


def warm_start_pairs(rng: random.Random, n: int) -> list:
    env = envs.make("secret")
    pairs = []
    for _ in range(n):
        env.reset(seed=rng.randrange(10**6))
        task, secret = env._intro(), env.answers[env._task]
        wrong = rng.choice([w for w in WORDS[:4] if w != secret])
        feedback = f"Turn 1: Wrong: the secret word is {secret}."
        kind = rng.random()
        if kind < 0.4:  # the student format: no way to know the answer, uniform guesses
            pairs.append(([{"role": "user", "content": task}], f"[{rng.choice(WORDS[:4])}]"))
            continue
        trial, solution = f"Turn 1: [{wrong}]", f"Turn 1: [{secret}]"
        if kind < 0.55:
            teacher = sdpo_teacher_task(task, feedback=feedback)
        elif kind < 0.7:
            teacher = sdpo_teacher_task(task, solution=solution)
        elif kind < 0.85:
            teacher = resd_teacher_task(task, previous_trial=trial, feedback=feedback)
        else:
            teacher = resd_teacher_task(task, previous_trial=trial, solution=solution)
        pairs.append(([{"role": "user", "content": teacher}], f"[{secret}]"))
    return pairs


@pytest.fixture(scope="module")
def warm_state():
    policy = Policy.load("tiny-random")
    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=3e-3)
    rng = random.Random(0)
    for _ in range(120):
        sft_step(policy, optimizer, warm_start_pairs(rng, 16))
    return {k: v.clone() for k, v in policy.state_dict().items()}


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


@pytest.mark.parametrize("name", ["grpo", "sd", "resd"])
def test_learner_raises_success(warm_state, name, capsys):
    policy = Policy.load("tiny-random")
    policy.load_state_dict(warm_state)
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
        print(f"\n{name}: success before {before:.2f}, after {after:.2f}")
    assert before < 0.45
    assert after > before + 0.3
