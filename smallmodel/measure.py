"""Measure whether a model has the abilities the suite's learners assume, on held-out seeds.

    python -m smallmodel.measure [--model resd-tiny] [--env wordle] [--tasks 100]

Prints, for the environment's default settings (seeds below the build corpus' first seed):

* student (the rollout's own conversation): valid-answer rate, success, and the share of
  valid guesses after the first that are consistent with all earlier feedback;
* teacher format (the first message replaced by ``sdpo_teacher_task`` / ``resd_teacher_task``
  built from the model's own failed student episode on the same task, as the learner builds
  it): the same figures on a fresh episode, and the ratio to the student's success;
* RESD's reflection component run on the model itself (``ReflectionPipeline`` over the failed
  episodes): share of reflections and curator answers that the reflection parsers read.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from typing import Any

import gymnasium as gym
import torch

import envs
from envs.mastermind import Mastermind, pegs
from envs.wordle import Wordle, consistent, marks
from learners.models import Policy, SamplingParams
from learners.prompts import resd_teacher_task, sdpo_teacher_task
from learners.rollout import play_groups
from learners.trajectory import Episode
from reflection import Attempt, CallableGenerator, OracleReflector, ReflectionPipeline


class FirstMessage(gym.Wrapper):
    """Replaces the first observation (the task) with a given text: how a teacher context is
    played as a fresh episode through the real rollout loop."""

    def __init__(self, env: gym.Env, text: str) -> None:
        super().__init__(env)
        self.text = text

    def reset(self, **kwargs):
        _, info = self.env.reset(**kwargs)
        return self.text, info

    def hindsight(self) -> list[str]:
        return self.env.unwrapped.hindsight()


def consistent_share(games: list[Any]) -> tuple[int, int]:
    """(consistent, judged): valid guesses after the first that fit all earlier feedback."""
    ok = total = 0
    for game in games:
        g = game.unwrapped
        guesses = [s.guess for s in g.scored]
        for n in range(1, len(guesses)):
            if isinstance(g, Wordle):
                fits = consistent(guesses[n], [(x, marks(x, g.secret)) for x in guesses[:n]])
            elif isinstance(g, Mastermind):
                fits = all(pegs(x, guesses[n]) == pegs(x, g.secret) for x in guesses[:n])
            else:
                continue
            ok += fits
            total += 1
    return ok, total


def play(
    policy: Policy,
    make_env: Callable[[], Any],
    seeds: list[int],
    sample_seed: int,
    firsts: list[str] | None = None,
) -> tuple[list[Episode], dict[str, float]]:
    made: list[Any] = []
    texts: Iterator[str] | None = iter(firsts) if firsts is not None else None

    def factory() -> Any:
        env = make_env() if texts is None else FirstMessage(make_env(), next(texts))
        made.append(env)
        return env

    sampling = SamplingParams(temperature=1.0, max_new_tokens=24)
    groups, _ = play_groups(policy, factory, seeds, 1, sampling, sample_seed=sample_seed)
    episodes = [g[0] for g in groups]
    turns = [t for e in episodes for t in e.turns]
    ok, judged = consistent_share(made)
    return episodes, {
        "valid": sum(t.valid_action for t in turns) / max(len(turns), 1),
        "success": sum(e.success for e in episodes) / max(len(episodes), 1),
        "consistent": ok / judged if judged else float("nan"),
    }


def teacher_messages(episodes: list[Episode], template: str) -> list[str]:
    out = []
    for e in episodes:
        if template == "sdpo":
            out.append(sdpo_teacher_task(e.task, feedback=e.feedback()))
        else:
            reflection = OracleReflector.reflect(e.hindsight).as_text() or None
            out.append(
                resd_teacher_task(
                    e.task, previous_trial=e.answer(), feedback=e.feedback(), reflection=reflection
                )
            )
    return out


def reflection_parse_rates(
    policy: Policy, episodes: list[Episode], batch: int = 16, seed: int = 0
) -> dict[str, float]:
    """Run the real reflection pipeline on the policy over failed episodes."""

    def generate(conversations: list, max_new_tokens: int | None) -> list:
        params = SamplingParams(temperature=1.0, max_new_tokens=max_new_tokens or 512, seed=seed)
        return policy.generate(conversations, params)

    pipeline = ReflectionPipeline(CallableGenerator(generate, pass_max_new_tokens=True))
    totals: dict[str, int] = {}
    failed = [e for e in episodes if not e.success]
    for step, start in enumerate(range(0, len(failed), batch)):
        attempts = [
            Attempt(e.task, e.answer(), e.feedback(), e.success, e.task_id, e.hindsight)
            for e in failed[start : start + batch]
        ]
        counts = pipeline.update(step, attempts).counts
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v
    reflections = totals.get("failures", 0)
    usable = totals.get("reflections_ok", 0) + totals.get("reflections_partial", 0)
    curations = usable
    return {
        "reflections": reflections,
        "reflection_parsed": usable / reflections if reflections else float("nan"),
        "reflection_complete": totals.get("reflections_ok", 0) / max(reflections, 1),
        "curations": curations,
        "curator_parsed": 1 - totals.get("curator_unparsed", 0) / curations
        if curations
        else float("nan"),
        "playbook_size": len(pipeline.playbook),
    }


def measure(
    model: str, env: str, tasks: int, first_seed: int = 0, reflect_tasks: int = 32
) -> dict[str, Any]:
    policy = Policy.load(model, device="cpu", batch_size=32)
    seeds = list(range(first_seed, first_seed + tasks))

    def make_env() -> Any:
        return envs.make(env)

    student, s_stats = play(policy, make_env, seeds, sample_seed=1)
    failed = [e for e in student if not e.success]
    report: dict[str, Any] = {"student": s_stats}
    for template in ("sdpo", "resd"):
        _, t_stats = play(
            policy,
            make_env,
            [e.seed for e in failed],
            sample_seed=2,
            firsts=teacher_messages(failed, template),
        )
        report[f"teacher_{template}"] = t_stats
    report["reflection"] = reflection_parse_rates(policy, failed[:reflect_tasks])
    return report


def targets(report: dict[str, Any]) -> dict[str, bool]:
    """The abilities the suite's default model must have (see the module docstring)."""
    s, f = report["student"], report["reflection"]
    teacher = max(report["teacher_sdpo"]["success"], report["teacher_resd"]["success"])
    return {
        "valid >= 90%": s["valid"] >= 0.9,
        "student success 1-15%": 0.01 <= s["success"] <= 0.15,
        "teacher success >= 3x student": teacher >= 3 * s["success"] and teacher > 0,
        "reflections parsed >= 90%": f["reflection_parsed"] >= 0.9,
        "curator answers parsed >= 90%": f["curator_parsed"] >= 0.9,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="resd-tiny")
    ap.add_argument("--env", default="wordle")
    ap.add_argument("--tasks", type=int, default=100)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--reflect-tasks", type=int, default=32)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    r = measure(args.model, args.env, args.tasks, args.first_seed, args.reflect_tasks)
    s = r["student"]
    print(
        f"model {args.model}, env {args.env} (default settings), held-out seeds "
        f"{args.first_seed}..{args.first_seed + args.tasks - 1}, temperature 1"
    )
    print(f"{'who':<14}{'valid':>8}{'success':>9}{'consistent':>12}{'x student':>11}")
    for name in ("student", "teacher_sdpo", "teacher_resd"):
        x = r[name]
        ratio = x["success"] / s["success"] if s["success"] else float("inf")
        print(
            f"{name:<14}{x['valid']:>8.1%}{x['success']:>9.1%}{x['consistent']:>12.1%}"
            f"{ratio:>11.1f}"
        )
    f = r["reflection"]
    print(
        f"reflections parsed {f['reflection_parsed']:.1%} of {f['reflections']} "
        f"(all fields: {f['reflection_complete']:.1%}); curator answers parsed "
        f"{f['curator_parsed']:.1%} of {f['curations']}; playbook {f['playbook_size']} bullets"
    )
    checks = targets(r)
    print("targets: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in checks.items()))
    print("ALL TARGETS REACHED" if all(checks.values()) else "targets not reached")


if __name__ == "__main__":
    main()
