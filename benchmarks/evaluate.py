"""Held-out evaluation: k sampled episodes on each of a fixed set of task seeds.

The seeds are ``EVAL_SEED_BASE + i``, disjoint from every training seed and the same for all
runs, so every learner is scored on the same tasks. Sampling is seeded too: two evaluations of
the same weights give the same numbers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from benchmarks.config import EVAL_SEED_BASE, RunConfig
from leaderboard.metrics import success_at_k
from learners.rollout import play_groups


def evaluate(
    policy: Any, make_env: Any, config: RunConfig, sampling: Any, context: str = ""
) -> tuple[dict[str, float], int]:
    """Returns the eval record (mean@k, best@k, progress, valid rate) and tokens generated."""
    seeds = [EVAL_SEED_BASE + i for i in range(config.eval_tasks)]
    params = replace(sampling, temperature=config.eval_temperature)
    groups, stats = play_groups(
        policy,
        make_env,
        seeds,
        config.eval_k,
        params,
        sample_seed=EVAL_SEED_BASE + config.seed,
        context=context,
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
