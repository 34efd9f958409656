"""Held-out evaluation: k sampled episodes on each of a fixed set of task seeds.

Tasks come from the environment's evaluation split (never posed in training, see
``envs.splits``) on the fixed seeds ``eval_task_seed(i)``, the same for all runs, so every
learner is scored on the same tasks. Sampling is seeded too: two evaluations of
the same weights give the same numbers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from benchmarks.config import RunConfig
from envs.splits import eval_task_seed, sample_seed
from leaderboard.metrics import success_at_k
from learners.rollout import play_groups


def evaluate(
    policy: Any, make_env: Any, config: RunConfig, sampling: Any, context: str = ""
) -> tuple[dict[str, float], int]:
    """Returns the eval record (mean@k, best@k, progress, valid rate) and tokens generated."""
    seeds = [eval_task_seed(i) for i in range(config.eval_tasks)]
    params = replace(sampling, temperature=config.eval_temperature)
    groups, stats = play_groups(
        policy,
        make_env,
        seeds,
        config.eval_k,
        params,
        sample_seed=sample_seed(config.seed, 0, "eval"),
        context=context,
        split="eval",
    )
    mean, best = success_at_k([[float(ep.success) for ep in g] for g in groups])
    episodes = [ep for g in groups for ep in g]
    turns = [t for ep in episodes for t in ep.turns]
    record = {
        "success_mean": mean,
        "success_best": best,
        "progress_mean": sum(ep.progress for ep in episodes) / len(episodes),
        "valid_rate": sum(t.valid_action for t in turns) / max(len(turns), 1),
        "turns_mean": len(turns) / len(episodes),
        "k": config.eval_k,
        "n_tasks": config.eval_tasks,
    }
    return record, stats.generated_tokens
