"""The rollout loop: play groups of episodes with the policy, all episodes batched per turn.

A group is ``per_task`` episodes on one task (envs reset with the same seed). Every turn, the
conversations of all unfinished episodes go to one batched ``policy.generate`` call, then each
environment steps on its completion's text. Sampling is seeded per turn from ``sample_seed``,
so the same policy, seeds and settings give the same episodes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from chat import Conversation
from learners.prompts import student_task
from learners.trajectory import Episode, Group, Turn


@dataclass
class RolloutStats:
    episodes: int = 0
    env_steps: int = 0
    generated_tokens: int = 0
    generate_seconds: float = 0.0
    env_seconds: float = 0.0


def play_groups(
    policy: Any,
    make_env: Callable[[], Any],
    seeds: list[int],
    per_task: int,
    sampling: Any,
    *,
    sample_seed: int,
    context: str = "",
    first_group_id: int = 0,
    split: str = "train",
) -> tuple[list[Group], RolloutStats]:
    """Play ``per_task`` episodes on each task seed of ``split`` ("train" or "eval", see
    ``envs.splits``); return groups in seed order and stats."""
    stats = RolloutStats()
    episodes: list[Episode] = []
    envs: list[Any] = []
    conversations: list[Conversation] = []
    t0 = time.perf_counter()
    for g, seed in enumerate(seeds):
        for _ in range(per_task):
            env = make_env()
            obs, info = env.reset(seed=seed, options={"split": split})
            envs.append(env)
            episodes.append(Episode(info["task_id"], first_group_id + g, seed, obs))
            conversations.append([{"role": "user", "content": student_task(obs, context)}])
    stats.env_seconds += time.perf_counter() - t0
    active = list(range(len(episodes)))
    turn = 0
    while active:
        t0 = time.perf_counter()
        params = replace(sampling, seed=sample_seed * 1000 + turn)
        completions = policy.generate([conversations[i] for i in active], params)
        stats.generate_seconds += time.perf_counter() - t0
        t0 = time.perf_counter()
        still_active = []
        for i, completion in zip(active, completions, strict=True):
            obs, reward, terminated, truncated, info = envs[i].step(completion.text)
            episode = episodes[i]
            episode.turns.append(
                Turn(
                    messages=[dict(m) for m in conversations[i]],
                    completion_ids=list(completion.token_ids),
                    logprobs=list(completion.logprobs),
                    text=completion.text,
                    feedback=info["feedback"],
                    reward=float(reward),
                    valid_action=bool(info["valid_action"]),
                    finish_reason=completion.finish_reason,
                )
            )
            episode.reward += float(reward)
            episode.success = episode.success or bool(info["success"])
            episode.progress = max(episode.progress, float(info["progress"]))
            stats.env_steps += 1
            stats.generated_tokens += len(completion.token_ids)
            if terminated or truncated:
                episode.truncated = bool(truncated)
                episode.hindsight = list(envs[i].hindsight())
            else:
                conversations[i].append(
                    {
                        "role": "assistant",
                        "content": completion.text,
                        "token_ids": list(completion.token_ids),  # kept verbatim by render
                    }
                )
                conversations[i].append({"role": "user", "content": obs})
                still_active.append(i)
        stats.env_seconds += time.perf_counter() - t0
        active = still_active
        turn += 1
    stats.episodes = len(episodes)
    groups = [episodes[g * per_task : (g + 1) * per_task] for g in range(len(seeds))]
    return groups, stats
