"""Held out means held out: training never poses an evaluation task, for any env or run seed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import envs
from envs.splits import (
    RUN_SEEDS,
    SplitError,
    eval_task_seed,
    sample_seed,
    split_of,
    train_task_seed,
)
from envs.wordle import Wordle, word_list

RUN_SEED_PROBES = (0, 1, 10, 999, RUN_SEEDS.stop - 1)
HELD_OUT = [name for name in envs.list() if envs.make(name).eval_share > 0]


def held_out_keys(env, n: int = 150) -> set[str]:
    keys = set()
    for i in range(n):
        env.reset(seed=eval_task_seed(i), options={"split": "eval"})
        keys.add(env.split_key(env._task))
    return keys


@pytest.mark.parametrize("name", HELD_OUT)
def test_training_never_poses_an_evaluation_task(name):
    env = envs.make(name)
    eval_keys = held_out_keys(env)
    assert eval_keys, "the evaluation split must hold tasks"
    for run_seed in RUN_SEED_PROBES:
        for i in range(60):
            env.reset(seed=train_task_seed(run_seed, i), options={"split": "train"})
            assert env.split_key(env._task) not in eval_keys
            # the evaluation seeds themselves, asked for training, give training tasks too
            env.reset(seed=eval_task_seed(i))
            assert env.split_key(env._task) not in eval_keys


@pytest.mark.parametrize("name", HELD_OUT)
def test_split_membership_is_the_hash_of_the_key(name):
    env = envs.make(name)
    for seed in range(40):
        for split in ("train", "eval"):
            env.reset(seed=seed, options={"split": split})
            assert split_of(env.split_key(env._task), env.eval_share) == split


def test_the_toy_secret_env_evaluates_on_its_training_tasks_on_purpose():
    env = envs.make("secret")
    assert env.eval_share == 0.0
    train = {env.reset(seed=s)[1]["task_id"] for s in range(50)}
    evals = {env.reset(seed=s, options={"split": "eval"})[1]["task_id"] for s in range(50)}
    assert train == evals


def secrets(env: Wordle, n: int) -> set[str]:
    out = set()
    for s in range(n):
        env.reset(seed=s, options={"split": "eval"})
        out.add(env.secret)
    return out


def test_wordle_holds_out_about_a_fifth_of_its_words_whatever_the_pool():
    words = word_list(5)[:2000]
    held = [w for w in words if split_of(w, 0.2) == "eval"]
    assert 0.17 < len(held) / len(words) < 0.23  # binomial: sd ~ 0.009
    small, large = Wordle(pool_size=100), Wordle(pool_size=500)
    small_eval, large_eval = secrets(small, 300), secrets(large, 600)
    assert small_eval <= set(held) and large_eval <= set(held)
    assert small_eval <= large_eval  # a word's split does not depend on the pool size


def test_unknown_split_is_a_one_line_error():
    env = envs.make("wordle")
    with pytest.raises(SplitError, match="'test' is not a split"):
        env.reset(seed=0, options={"split": "test"})


def test_a_split_with_no_task_is_a_clear_error():
    env = Wordle(pool_size=10)
    env.eval_share = 1e-9  # no word of ten is held out at this share
    with pytest.raises(SplitError, match="no 'eval' task"):
        env.reset(seed=0, options={"split": "eval"})


@given(
    st.integers(RUN_SEEDS.start, RUN_SEEDS.stop - 1),
    st.integers(0, 2**32 - 1),
    st.integers(RUN_SEEDS.start, RUN_SEEDS.stop - 1),
    st.integers(0, 2**32 - 1),
)
def test_seed_spaces_are_disjoint(run_a, index_a, run_b, index_b):
    a = train_task_seed(run_a, index_a)
    assert a != eval_task_seed(index_b)
    if (run_a, index_a) != (run_b, index_b):
        assert a != train_task_seed(run_b, index_b)


@given(st.integers(RUN_SEEDS.start, RUN_SEEDS.stop - 1), st.integers(0, 2**24 - 1))
def test_sampling_seeds_differ_by_purpose_and_fit_the_per_turn_seed(run_seed, step):
    train, evals = sample_seed(run_seed, step, "train"), sample_seed(run_seed, step, "eval")
    assert train != evals
    assert max(train, evals) * 1000 + 999 < 2**63


def test_out_of_range_run_seed_is_refused():
    with pytest.raises(SplitError, match="run seed"):
        train_task_seed(RUN_SEEDS.stop, 0)
