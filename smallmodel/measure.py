"""Measure whether a model has the abilities the suite's learners assume, on held-out tasks.

    python -m smallmodel.measure [--model resd-tiny] [--env wordle|xbrl] [--tasks 100]

Everything is played on the environment's evaluation split (tasks never in the build corpus)
with sampling at temperature 1, through the real rollout loop. Printed:

* student (the rollout's own conversation): valid-answer rate, success, and per-turn
  correctness (Wordle: valid guesses after the first that fit all earlier feedback; xbrl: the
  share of marked numbers tagged right);
* one row per kind of privileged context the learners build, each played as a fresh episode
  whose first message is that teacher context (the first message is all that differs), with
  the ratio of its success to the student's:
  Wordle: ``sdpo`` (the model's own lost game's feedback, which ends with the reveal),
  ``resd_solution`` (RESD's sections with a successful trial), ``resd_reflection`` (RESD's
  sections with feedback and a reflection); xbrl: ``sdpo`` (the lost attempt's feedback,
  which reveals the gold labels) and ``resd_playbook`` (a playbook whose lines state the rules
  of the sentence's cues among others, nothing else);
* ``swap``: the SDPO context with the revealed answer swapped for another one (Wordle: another
  answer word; xbrl: other labels); the share of first answers that follow the swap;
* RESD's reflection component run on the model itself over the failed episodes: the share of
  reflections and curator answers that the reflection parsers read.
"""

from __future__ import annotations

import argparse
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import envs
from envs.players import scripted_action
from envs.splits import eval_task_seed, sample_seed
from envs.wordle import Wordle, consistent, marks, reveal_line, word_list
from envs.xbrl.answers import render_answer
from envs.xbrl.env import XbrlTagging
from learners.models import Policy, SamplingParams
from learners.prompts import resd_teacher_task, sdpo_teacher_task
from learners.rollout import play_groups
from learners.trajectory import Episode
from reflection import (
    Attempt,
    CallableGenerator,
    OracleReflector,
    ReflectionConfig,
    ReflectionPipeline,
)
from smallmodel.corpus_xbrl import random_mapping, relabel, rule_playbook

CPU_PRESET = Path(__file__).resolve().parents[1] / "benchmarks" / "presets" / "cpu.toml"


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


def per_turn_correct(games: list[Any]) -> tuple[int, int]:
    """(right, judged): Wordle, valid guesses after the first that fit all earlier feedback;
    xbrl, marked numbers tagged right in the answers given."""
    ok = total = 0
    for game in games:
        g = game.unwrapped
        if isinstance(g, Wordle):
            guesses = [s.guess for s in g.scored]
            for n in range(1, len(guesses)):
                ok += consistent(guesses[n], [(x, marks(x, g.secret)) for x in guesses[:n]])
                total += 1
        elif isinstance(g, XbrlTagging):
            for action, _ in g.history:
                labels = g.parse(action).labels
                gold = g.gold
                ok += sum(a == b for a, b in zip(labels or (), gold, strict=False))
                total += len(gold)
    return ok, total


def play(
    policy: Policy,
    env_name: str,
    seeds: list[int],
    sample: int,
    firsts: list[str] | None = None,
    max_new_tokens: int = 24,
) -> tuple[list[Episode], list[Any], dict[str, float]]:
    made: list[Any] = []
    texts: Iterator[str] | None = iter(firsts) if firsts is not None else None

    def factory() -> Any:
        env = envs.make(env_name)
        env = env if texts is None else FirstMessage(env, next(texts))
        made.append(env)
        return env

    sampling = SamplingParams(temperature=1.0, max_new_tokens=max_new_tokens)
    groups, _ = play_groups(
        policy,
        factory,
        seeds,
        1,
        sampling,
        sample_seed=sample_seed(0, sample, "eval"),
        split="eval",
    )
    episodes = [g[0] for g in groups]
    turns = [t for e in episodes for t in e.turns]
    ok, judged = per_turn_correct(made)
    return (
        episodes,
        made,
        {
            "n": len(episodes),
            "valid": sum(t.valid_action for t in turns) / max(len(turns), 1),
            "success": sum(e.success for e in episodes) / max(len(episodes), 1),
            "per_turn": ok / judged if judged else float("nan"),
        },
    )


def wordle_contexts(
    failed: list[Episode], games: list[Any], rng: np.random.Generator
) -> dict[str, list[str]]:
    """The teacher first messages of each kind for the failed episodes (see the docstring)."""
    pool = list(word_list(5)[: games[0].unwrapped.pool_size])
    out: dict[str, list[str]] = {"sdpo": [], "resd_solution": [], "resd_reflection": []}
    out["swap"], answers = [], []
    for e, game in zip(failed, games, strict=True):
        g = game.unwrapped
        out["sdpo"].append(sdpo_teacher_task(e.task, feedback=e.feedback()))
        expert = Wordle(pool_size=g.pool_size)
        expert.reset(seed=e.seed, options={"split": "eval"})
        turns = []
        while not expert.history or not (expert.history[-1][1].success or len(turns) >= 6):
            turns.append(scripted_action(expert, 1.0, rng))
            expert.step(turns[-1])
        solution = "\n".join(f"Turn {n}: {a}" for n, a in enumerate(turns, 1))
        out["resd_solution"].append(
            resd_teacher_task(e.task, previous_trial=e.answer(), solution=solution)
        )
        reflection = OracleReflector.reflect(e.hindsight).as_text() or None
        out["resd_reflection"].append(
            resd_teacher_task(
                e.task, previous_trial=e.answer(), feedback=e.feedback(), reflection=reflection
            )
        )
        other = pool[int(rng.integers(len(pool)))]
        swapped = e.feedback().replace(reveal_line(g.secret), reveal_line(other))
        out["swap"].append(sdpo_teacher_task(e.task, feedback=swapped))
        answers.append(f"[{other}]")
    out["swap_answers"] = answers
    return out


def xbrl_contexts(
    failed: list[Episode], games: list[Any], rng: np.random.Generator
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"sdpo": [], "resd_playbook": [], "swap": [], "swap_answers": []}
    for e, game in zip(failed, games, strict=True):
        g = game.unwrapped
        out["sdpo"].append(sdpo_teacher_task(e.task, feedback=e.feedback()))
        playbook = rule_playbook(g, rng, list(zip(g.cues, g.gold, strict=True)))
        out["resd_playbook"].append(resd_teacher_task(e.task, playbook=playbook.render()))
        mapping = random_mapping(list(g.gold), g.label_set.names, rng)
        out["swap"].append(sdpo_teacher_task(e.task, feedback=relabel(e.feedback(), mapping)))
        out["swap_answers"].append(render_answer([mapping[x] for x in g.gold]))
    return out


def main_job_reflection_config() -> ReflectionConfig:
    """RESD's reflection settings in the default (cpu) preset, so the parse rates are those
    of the main job (the preset file is read as data: this layer sits below benchmarks)."""
    table = tomllib.loads(CPU_PRESET.read_text()).get("learner", {})
    return ReflectionConfig(**{**table.get("reflection", {}), **table["resd"]["reflection"]})


def reflection_parse_rates(
    policy: Policy, episodes: list[Episode], batch: int = 16, seed: int = 0
) -> dict[str, float]:
    """Run the real reflection pipeline on the policy over failed episodes."""

    def generate(conversations: list, max_new_tokens: int | None) -> list:
        params = SamplingParams(temperature=1.0, max_new_tokens=max_new_tokens or 512, seed=seed)
        return policy.generate(conversations, params)

    pipeline = ReflectionPipeline(
        CallableGenerator(generate, pass_max_new_tokens=True), main_job_reflection_config()
    )
    totals: dict[str, int] = {}
    for step, start in enumerate(range(0, len(episodes), batch)):
        attempts = [
            Attempt(e.task, e.answer(), e.feedback(), e.success, e.task_id, e.hindsight)
            for e in episodes[start : start + batch]
        ]
        for k, v in pipeline.update(step, attempts).counts.items():
            totals[k] = totals.get(k, 0) + v
    reflections = totals.get("failures", 0)
    usable = totals.get("reflections_ok", 0) + totals.get("reflections_partial", 0)
    return {
        "reflections": reflections,
        "reflection_parsed": usable / reflections if reflections else float("nan"),
        "reflection_complete": totals.get("reflections_ok", 0) / max(reflections, 1),
        "curations": usable,
        "curator_parsed": 1 - totals.get("curator_unparsed", 0) / usable
        if usable
        else float("nan"),
        "playbook_size": len(pipeline.playbook),
    }


def measure(model: str, env: str, tasks: int, reflect_tasks: int = 32) -> dict[str, Any]:
    policy = Policy.load(model, device="cpu", batch_size=32)
    tokens = 160 if env == "xbrl" else 24
    seeds = [eval_task_seed(i) for i in range(tasks)]
    student, games, report = play(policy, env, seeds, 1, max_new_tokens=tokens)
    out: dict[str, Any] = {"student": report}
    pairs = [(e, g) for e, g in zip(student, games, strict=True) if not e.success]
    failed, failed_games = [p[0] for p in pairs], [p[1] for p in pairs]
    rng = np.random.default_rng(0)
    build = wordle_contexts if env == "wordle" else xbrl_contexts
    contexts = build(failed, failed_games, rng)
    answers = contexts.pop("swap_answers")
    seeds = [e.seed for e in failed]
    for n, (kind, firsts) in enumerate(contexts.items(), start=2):
        episodes, _, stats = play(policy, env, seeds, n, firsts, max_new_tokens=tokens)
        if kind == "swap":
            follows = [e.turns[0].text.strip() == a for e, a in zip(episodes, answers, strict=True)]
            stats = {"n": len(follows), "follows": sum(follows) / max(len(follows), 1)}
        out[f"teacher_{kind}"] = stats
    out["reflection"] = reflection_parse_rates(policy, failed[:reflect_tasks])
    return out


def targets(report: dict[str, Any]) -> dict[str, bool]:
    """The abilities the suite's default model must have (see the module docstring)."""
    s, f = report["student"], report["reflection"]
    key = "success" if "teacher_resd_solution" in report else "per_turn"
    teachers = {
        k: v[key] for k, v in report.items() if k.startswith("teacher_") and k != "teacher_swap"
    }
    base = s[key]
    checks = {"valid >= 90%": s["valid"] >= 0.9}
    if key == "success":
        checks["student success 1-15%"] = 0.01 <= s["success"] <= 0.15
    for name, value in teachers.items():
        checks[f"{name} {key} >= 3x student"] = value >= 3 * base and value > 0
    checks["swap followed >= 80%"] = report["teacher_swap"]["follows"] >= 0.8
    checks["reflections parsed >= 90%"] = f["reflection_parsed"] >= 0.9
    checks["curator answers parsed >= 90%"] = f["curator_parsed"] >= 0.9
    return checks


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="resd-tiny")
    ap.add_argument("--env", default="wordle", choices=("wordle", "xbrl"))
    ap.add_argument("--tasks", type=int, default=100)
    ap.add_argument("--reflect-tasks", type=int, default=32)
    ap.add_argument("--json", help="also write the report to this file")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    r = measure(args.model, args.env, args.tasks, args.reflect_tasks)
    print(
        f"model {args.model}, env {args.env} (default settings), {args.tasks} held-out tasks "
        "(evaluation split), temperature 1"
    )
    s = r["student"]
    print(f"{'who':<26}{'n':>5}{'valid':>8}{'success':>9}{'per-turn':>10}{'x student':>11}")
    for name, x in r.items():
        if name in ("reflection", "teacher_swap"):
            continue
        key = "per_turn" if args.env == "xbrl" else "success"
        ratio = x[key] / s[key] if s[key] else float("inf")
        print(
            f"{name:<26}{x['n']:>5}{x['valid']:>8.1%}{x['success']:>9.1%}{x['per_turn']:>10.1%}"
            f"{ratio:>11.1f}"
        )
    w = r["teacher_swap"]
    print(f"swapped reveal followed: {w['follows']:.1%} of {w['n']}")
    f = r["reflection"]
    print(
        f"reflections parsed {f['reflection_parsed']:.1%} of {f['reflections']} "
        f"(all fields: {f['reflection_complete']:.1%}); curator answers parsed "
        f"{f['curator_parsed']:.1%} of {f['curations']}; playbook {f['playbook_size']} bullets"
    )
    checks = targets(r)
    print("targets: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in checks.items()))
    print("ALL TARGETS REACHED" if all(checks.values()) else "targets not reached")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"report": r, "targets": checks}, fh, indent=1)


if __name__ == "__main__":
    main()
