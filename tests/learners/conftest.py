from __future__ import annotations

import pytest

import envs
from learners.models import Policy, SamplingParams
from learners.rollout import play_groups


@pytest.fixture
def tiny_policy():
    return Policy.load("tiny-random")


@pytest.fixture
def secret_groups(tiny_policy):
    """Real episodes of the tiny random policy on the secret-word env: 3 tasks x 2 rollouts."""
    groups, _ = play_groups(
        tiny_policy,
        lambda: envs.make("secret"),
        [0, 1, 2],
        2,
        SamplingParams(max_new_tokens=6),
        sample_seed=0,
    )
    return groups
