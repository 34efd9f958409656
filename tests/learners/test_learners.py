"""Learner interface: registry, settings, degenerate batches, resumable state."""

from __future__ import annotations

import copy
import math

import pytest
import torch

import envs
import learners
from learners.models import SamplingParams
from learners.rollout import play_groups

FAST = {"micro_batch": 4, "lr": 1e-3, "warmup_steps": 0}
RESD_FAST = {**FAST, "reflection": {"max_new_tokens_reflect": 8, "max_new_tokens_curate": 8}}
SETTINGS = {"grpo": FAST, "sd": FAST, "resd": RESD_FAST}


def test_registry_and_defaults():
    assert learners.list() == ["grpo", "resd", "sd"]
    resd = learners.default_config("resd")
    assert (resd.rollouts, resd.template, resd.ema_rate) == (1, "resd", 1e-4)
    assert resd.use_reflection and resd.use_playbook and resd.use_buffer
    assert learners.default_config("sd").rollouts == 8
    assert learners.default_config("grpo").group_size == 8


def test_config_errors_name_the_field():
    with pytest.raises(learners.ConfigError, match="unknown learner 'ppo'.*grpo, resd, sd"):
        learners.default_config("ppo")
    with pytest.raises(learners.ConfigError, match="unknown setting.*alpah"):
        learners.default_config("sd", {"alpah": 0.5})
    with pytest.raises(learners.ConfigError, match=r"alpha=2 .*\[0.0, 1.0\]"):
        learners.default_config("sd", {"alpha": 2})
    with pytest.raises(learners.ConfigError, match="aggregation='sum'"):
        learners.default_config("grpo", {"aggregation": "sum"})
    with pytest.raises(learners.ConfigError, match="lr=-1"):
        learners.default_config("resd", {"lr": -1})


def all_params_finite(policy):
    return all(torch.isfinite(p).all() for p in policy.trainable_parameters())


def set_outcomes(groups, success):
    out = copy.deepcopy(groups)
    for group in out:
        for ep in group:
            ep.success = success
            ep.reward = float(success)
    return out


@pytest.mark.parametrize("name", ["grpo", "sd", "resd"])
@pytest.mark.parametrize("case", ["all_success", "all_failure", "empty_feedback", "one_token"])
def test_step_never_produces_nan(tiny_policy, secret_groups, name, case):
    groups = set_outcomes(secret_groups, case == "all_success")
    if case == "empty_feedback":
        for group in groups:
            for ep in group:
                for turn in ep.turns:
                    turn.feedback = ""
    if case == "one_token":
        for group in groups:
            for ep in group:
                for turn in ep.turns:
                    turn.completion_ids, turn.logprobs = turn.completion_ids[:1], turn.logprobs[:1]
    learner = learners.make(
        name,
        tiny_policy,
        {**SETTINGS[name], "distill_successes": True} if name != "grpo" else SETTINGS[name],
    )
    metrics = learner.step(groups).metrics
    assert all(math.isfinite(v) for v in metrics.values()), metrics
    assert all_params_finite(tiny_policy)


def test_grpo_trains_only_on_groups_with_signal(tiny_policy, secret_groups):
    learner = learners.make("grpo", tiny_policy, FAST)
    before = [p.detach().clone() for p in tiny_policy.trainable_parameters()]
    metrics = learner.step(set_outcomes(secret_groups, False)).metrics
    assert metrics["skipped"] == 1.0
    assert all(
        torch.equal(a, b) for a, b in zip(before, tiny_policy.trainable_parameters(), strict=True)
    )
    mixed = set_outcomes(secret_groups, False)
    mixed[0][0].success, mixed[0][0].reward = True, 1.0
    metrics = learner.step(mixed).metrics
    assert metrics["skipped"] == 0.0 and metrics["signal_groups"] == 1.0
    assert any(
        not torch.equal(a, b)
        for a, b in zip(before, tiny_policy.trainable_parameters(), strict=True)
    )


def test_sd_uses_peer_solution_and_buffer(tiny_policy, secret_groups):
    learner = learners.make("sd", tiny_policy, FAST)
    groups = set_outcomes(secret_groups, False)
    groups[0][0].success = True
    metrics = learner.step(groups).metrics
    # the successful episode's peer and any episode of the same task (buffer) get its solution;
    # the success itself is not distilled
    solved = groups[0][0].task_id
    expected = sum(ep.task_id == solved for g in groups for ep in g) - 1
    assert expected >= 1 and metrics["with_solution"] == expected
    assert learner.solutions[groups[0][0].task_id] == groups[0][0].answer()
    task = learner._teacher_task(groups[0][1], groups[0][0].answer(), None, None)
    assert "Correct solution:" in task and "unsuccessful" not in task


def test_state_dict_round_trip_resumes_identically(secret_groups):
    from learners.models import Policy

    def fresh():
        return learners.make("resd", Policy.load("tiny-random"), RESD_FAST)

    a = fresh()
    a.step(secret_groups)
    state = copy.deepcopy(a.state_dict())
    a.step(secret_groups)
    b = fresh()
    b.load_state_dict(state)
    b.step(secret_groups)
    for pa, pb in zip(
        a.policy.trainable_parameters(), b.policy.trainable_parameters(), strict=True
    ):
        assert torch.equal(pa, pb)
    assert a.steps == b.steps == 2
    assert torch.equal(
        next(iter(a.teacher.weights.values())), next(iter(b.teacher.weights.values()))
    )


def test_rollouts_are_deterministic(tiny_policy):
    def play():
        groups, stats = play_groups(
            tiny_policy,
            lambda: envs.make("wordle"),
            [3, 4],
            2,
            SamplingParams(max_new_tokens=8),
            sample_seed=7,
        )
        return [[(t.text, t.feedback) for ep in g for t in ep.turns] for g in groups], stats

    (first, stats), (again, _) = play(), play()
    assert first == again
    assert stats.episodes == 4 and stats.env_steps == sum(len(g) for g in first)


def test_micro_batches_keep_episodes_whole():
    from learners.base import Sample, micro_batches
    from learners.trajectory import Episode

    episodes = [Episode(f"t{i}", 0, 0, "task") for i in range(3)]
    turns = [0, 0, 0, 1, 2, 2, 2, 2, 2]  # episode of each sample, in order: 3, 1 and 5 turns
    items = [(Sample([], [1], [0.0], episodes[e], None), n) for n, e in enumerate(turns)]
    batches = [[n for _, n in b] for b in micro_batches(items, 4)]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7, 8]]  # the 5-turn episode alone, unsplit
    assert [[n for _, n in b] for b in micro_batches(items, 2)] == [[0, 1, 2], [3], [4, 5, 6, 7, 8]]
    assert list(micro_batches([], 4)) == []


def test_an_episodes_turns_nest_in_its_last_context(tiny_policy):
    """The rollout keeps each completion's sampled ids, so every turn's (prompt + completion)
    is a prefix of the episode's last context: one scored row per episode."""
    from learners.models.packing import nest_prefixes

    sampling = SamplingParams(temperature=1.0, max_new_tokens=8)
    groups, _ = play_groups(
        tiny_policy, lambda: envs.make("wordle", guesses=3), [0], 2, sampling, sample_seed=0
    )
    episodes = groups[0]
    turns = [t for ep in episodes for t in ep.turns]
    assert all(len(ep.turns) > 1 for ep in episodes)
    for ep in episodes:
        for before, after in zip(ep.turns, ep.turns[1:], strict=False):
            assert after.messages[-2]["token_ids"] == before.completion_ids
    prompts = [tiny_policy.render(t.messages) for t in turns]
    rows, _ = nest_prefixes(
        [p + t.completion_ids for p, t in zip(prompts, turns, strict=True)], list(map(len, prompts))
    )
    assert len(rows) == len(episodes)


def test_a_step_returns_a_typed_result_and_reflection_is_handed_over(tiny_policy, secret_groups):
    """The pipeline a reflecting learner asks for is built outside it and handed over; the
    step's time, tokens and report come back typed, not as metric names to pop."""
    from reflection import ReflectionPipeline, ScriptedGenerator

    config = learners.default_config("resd", RESD_FAST)
    request = learners.learner_class("resd").reflection_request(config)
    assert request is not None and request.config.max_new_tokens_reflect == 8
    assert learners.learner_class("sd").reflection_request(learners.default_config("sd")) is None
    scripted = ScriptedGenerator(lambda conv: '{"diagnosis": "too short", "lesson": "longer"}')
    pipeline = ReflectionPipeline(scripted, request.config)
    learner = learners.make("resd", tiny_policy, config, reflection=pipeline)
    assert learner.reflection is pipeline
    groups = set_outcomes(secret_groups, False)
    result = learner.step(groups)
    assert isinstance(result, learners.StepResult)
    assert result.reflection is not None and result.reflection.counts["failures"] == 6
    assert scripted.calls, "the handed-over pipeline's generator did the reflecting"
    assert result.seconds["reflect"] > 0
    assert result.tokens == {
        "reflection": result.reflection.counts["tokens_reflect"],
        "curation": result.reflection.counts["tokens_curate"],
    }
    assert not [k for k in result.metrics if k.startswith("time/")]
    plain = learners.make("sd", tiny_policy, FAST).step(groups)
    assert plain.reflection is None and plain.seconds == {} and plain.tokens == {}
