"""Train a learner on an environment within a sample budget and record the run.

    python -m benchmarks.run --env wordle --learner resd
    python -m benchmarks.run --env mastermind --learner grpo --budget 1024 --set lr=1e-4
    python -m benchmarks.run --resume runs/wordle-resd-seed0-20261127-230000

The loop (RESD's streaming schedule, for every learner): draw a batch of ``batch_tasks`` fresh
tasks; ``inner_steps`` times, play ``rollouts_per_task`` episodes on each and take one learner
step. Every ``eval_every`` training samples, evaluate on the fixed held-out tasks. The x-axis of
every curve is the number of training episodes drawn ("samples"). After each step the run
directory gets the episodes, the update metrics and a checkpoint, so an interrupted run
(Ctrl-C, kill, power cut) resumes from its last step with no episode lost or counted twice.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

import envs
import learners
import smallmodel  # noqa: F401  (registers the presets it builds, such as tiny-copy)
from benchmarks.config import RunConfig, RunConfigError, parse_assignments, resolve
from benchmarks.evaluate import evaluate
from benchmarks.rundir import RunDir, write_json_atomic
from envs.sandbox import isolation_level
from envs.splits import sample_seed, train_task_seed
from learners.models import Policy, SamplingParams
from learners.rollout import play_groups

USER_ERRORS = (RunConfigError, learners.ConfigError, envs.KnobError, envs.UnknownEnvironmentError)


class RunError(RuntimeError):
    """A run cannot start as asked (one line, shown without a traceback)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Train a learner on a text environment and record its interaction-"
        "efficiency curve (held-out success against training rollouts).",
    )
    p.add_argument("--env", help=f"environment: {', '.join(envs.list())}, or textarena/<GameId>")
    p.add_argument("--env-preset", help="the environment's difficulty preset (e.g. easy, hard)")
    p.add_argument(
        "--knob",
        action="append",
        metavar="KEY=VALUE",
        help="an environment knob, e.g. --knob length=4 (repeatable)",
    )
    p.add_argument("--learner", help=f"learner: {', '.join(learners.list())}")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        dest="set_",
        help="a learner setting, e.g. --set lr=1e-4 --set use_reflection=false",
    )
    p.add_argument(
        "--model",
        help="model preset (tiny-random, smollm2-135m, ...), a local folder or a Hugging Face id",
    )
    p.add_argument("--budget", type=int, help="training rollouts (episodes) to draw in total")
    p.add_argument("--batch-tasks", type=int, help="tasks per batch")
    p.add_argument(
        "--inner-steps",
        type=int,
        help="K: fresh rollouts plus one optimiser step, per batch of tasks",
    )
    p.add_argument("--eval-every", type=int, help="training samples between evaluations")
    p.add_argument("--eval-tasks", type=int, help="held-out tasks per evaluation")
    p.add_argument("--eval-k", type=int, help="samples per held-out task (mean@k, best@k)")
    p.add_argument("--max-new-tokens", type=int, help="completion length cap per turn")
    p.add_argument("--temperature", type=float, help="sampling temperature for training")
    p.add_argument("--seed", type=int, help="run seed (training tasks and sampling)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument(
        "--preset",
        help="run preset: a name in benchmarks/presets (cpu, paper) or "
        "a .toml path; command-line options override it",
    )
    p.add_argument("--out", help="run directory (default runs/ENV-LEARNER-seedN-TIME)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    p.add_argument(
        "--no-leaderboard",
        action="store_true",
        help="do not add the finished run to the leaderboard",
    )
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    overrides = {
        "env": args.env,
        "env_preset": args.env_preset,
        "learner": args.learner,
        "model": args.model,
        "budget": args.budget,
        "batch_tasks": args.batch_tasks,
        "inner_steps": args.inner_steps,
        "eval_every": args.eval_every,
        "eval_tasks": args.eval_tasks,
        "eval_k": args.eval_k,
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "seed": args.seed,
        "threads": args.threads,
        "env_knobs": parse_assignments(args.knob, "--knob") or None,
        "learner_set": parse_assignments(args.set_, "--set") or None,
    }
    return resolve(args.preset, overrides)


def provenance() -> dict[str, Any]:
    import transformers

    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                cwd=Path(__file__).parent,
                timeout=10,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "git_commit": commit,
    }


class Run:
    """One training run: everything the loop needs, built from a resolved config."""

    def __init__(self, config: RunConfig, run_dir: RunDir) -> None:
        self.config = config
        self.dir = run_dir
        if config.threads:
            torch.set_num_threads(config.threads)
        knobs = (
            envs.resolve_knobs(config.env, config.env_preset, **config.env_knobs)
            if not config.env.startswith("textarena/")
            else dict(config.env_knobs)
        )
        envs.make(config.env, **knobs)  # fail fast on a bad knob, before loading a model
        self.make_env = lambda: envs.make(config.env, **knobs)
        self.learner_config = learners.default_config(config.learner, config.learner_set)
        self.policy = Policy.load(config.model, **config.model_options)
        self.learner = learners.make(config.learner, self.policy, self.learner_config)
        self.per_batch = config.batch_tasks * self.learner.rollouts_per_task
        if config.budget < self.per_batch:
            raise RunConfigError(
                f"budget={config.budget} is smaller than one batch: batch_tasks "
                f"{config.batch_tasks} x {self.learner.rollouts_per_task} rollouts per task = "
                f"{self.per_batch}"
            )
        self.sampling = SamplingParams(
            temperature=config.temperature, top_p=config.top_p, max_new_tokens=config.new_tokens()
        )
        self.recorder = None
        if getattr(self.learner, "pipeline", None) is not None:
            from reflection import PlaybookRecorder

            self.recorder = PlaybookRecorder(run_dir.path)
        # progress counters (all part of the checkpoint)
        self.samples = 0
        self.step = 0
        self.batch = 0
        self.inner = 0
        self.next_eval = 0
        self.last_eval = -1
        self.tokens: dict[str, int] = defaultdict(int)
        self.phases: dict[str, float] = defaultdict(float)
        self.wall_before = 0.0

    # -- checkpoints ----------------------------------------------------------------------------
    def counters(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "step": self.step,
            "batch": self.batch,
            "inner": self.inner,
            "next_eval": self.next_eval,
            "last_eval": self.last_eval,
            "tokens": dict(self.tokens),
            "phases": dict(self.phases),
            "wall": self.wall_before + self.elapsed(),
        }

    def checkpoint(self) -> None:
        t0 = time.perf_counter()
        self.dir.save_checkpoint(
            {"counters": self.counters(), "learner": self.learner.state_dict()}
        )
        self.phases["checkpoint"] += time.perf_counter() - t0

    def restore(self, state: dict[str, Any]) -> None:
        c = state["counters"]
        self.samples, self.step, self.batch, self.inner = (
            c["samples"],
            c["step"],
            c["batch"],
            c["inner"],
        )
        self.next_eval, self.last_eval = c["next_eval"], c["last_eval"]
        self.tokens = defaultdict(int, c["tokens"])
        self.phases = defaultdict(float, c["phases"])
        self.wall_before = c["wall"]
        self.learner.load_state_dict(state["learner"])
        if self.recorder is not None:
            self.recorder.truncate_after(self.step - 1)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t_start

    # -- the loop ------------------------------------------------------------------------------
    def train(self) -> None:
        cfg = self.config
        self.t_start = time.perf_counter()
        bar = tqdm(
            total=cfg.budget,
            initial=self.samples,
            unit="ep",
            desc=f"{cfg.env}/{cfg.learner}",
            dynamic_ncols=True,
            disable=None,
        )
        while True:
            final = self.samples >= cfg.budget
            if self.samples >= self.next_eval or (final and self.last_eval != self.samples):
                self.evaluate(bar)
                while self.next_eval <= self.samples:
                    self.next_eval += cfg.eval_every
                self.checkpoint()
            if final:
                break
            first = self.batch * cfg.batch_tasks
            seeds = [train_task_seed(cfg.seed, first + i) for i in range(cfg.batch_tasks)]
            groups, stats = play_groups(
                self.policy,
                self.make_env,
                seeds,
                self.learner.rollouts_per_task,
                self.sampling,
                sample_seed=sample_seed(cfg.seed, self.step),
                context=self.learner.student_context(),
                first_group_id=self.batch * cfg.batch_tasks,
            )
            self.phases["generate"] += stats.generate_seconds
            self.phases["env"] += stats.env_seconds
            self.tokens["policy"] += stats.generated_tokens
            t0 = time.perf_counter()
            metrics = self.learner.step(groups)
            learn_seconds = time.perf_counter() - t0
            reflect_seconds = metrics.pop("time/reflection", 0.0)
            self.phases["reflect"] += reflect_seconds
            self.phases["learn"] += learn_seconds - reflect_seconds
            self.tokens["reflection"] += int(metrics.get("reflection/tokens_reflect", 0))
            self.tokens["curation"] += int(metrics.get("reflection/tokens_curate", 0))
            self.log_step(groups, stats, metrics)
            self.samples += stats.episodes
            self.step += 1
            self.inner += 1
            if self.inner == cfg.inner_steps:
                self.inner, self.batch = 0, self.batch + 1
            bar.update(stats.episodes)
            rate = self.tokens["policy"] / max(self.phases["generate"], 1e-9)
            bar.set_postfix(
                train_success=f"{metrics.get('success_rate', 0):.2f}", tok_s=f"{rate:.0f}"
            )
            self.checkpoint()
        bar.close()

    def log_step(self, groups: list, stats: Any, metrics: dict[str, float]) -> None:
        t0 = time.perf_counter()
        episodes = [ep for g in groups for ep in g]
        for n, ep in enumerate(episodes):
            self.dir.append(
                "episodes.jsonl",
                {
                    "sample": self.samples + n,
                    "step": self.step,
                    "task_id": ep.task_id,
                    "group_id": ep.group_id,
                    "seed": ep.seed,
                    "success": ep.success,
                    "progress": ep.progress,
                    "reward": ep.reward,
                    "truncated": ep.truncated,
                    "task": ep.task,
                    "turns": [
                        {
                            "action": t.text,
                            "feedback": t.feedback,
                            "valid": t.valid_action,
                            "tokens": len(t.completion_ids),
                            "finish": t.finish_reason,
                        }
                        for t in ep.turns
                    ],
                    "hindsight": ep.hindsight,
                },
            )
        success = sum(ep.success for ep in episodes) / len(episodes)
        self.dir.append(
            "updates.jsonl",
            {
                **metrics,  # the learner's; the runner's own keys below take precedence
                "step": self.step,
                "samples": self.samples + stats.episodes,
                "train_success": success,
                "env_steps": stats.env_steps,
                "tokens": stats.generated_tokens,
            },
        )
        report = getattr(self.learner, "last_report", None)
        if self.recorder is not None and report is not None:
            self.recorder.record(report, self.learner.pipeline.playbook)
        self.phases["log"] += time.perf_counter() - t0

    def evaluate(self, bar: Any) -> None:
        t0 = time.perf_counter()
        record, tokens = evaluate(
            self.policy,
            self.make_env,
            self.config,
            self.sampling,
            context=self.learner.student_context(),
        )
        self.tokens["eval"] += tokens
        self.phases["eval"] += time.perf_counter() - t0
        self.dir.append("evals.jsonl", {"step": self.step, "samples": self.samples, **record})
        self.last_eval = self.samples
        bar.write(
            f"eval at {self.samples:>6} samples: success mean@{record['k']} "
            f"{record['success_mean']:.3f}, best@{record['k']} {record['success_best']:.3f}, "
            f"progress {record['progress_mean']:.3f}, valid {record['valid_rate']:.2f}"
        )

    def summary(self) -> dict[str, Any]:
        from leaderboard.store import read_evals

        evals = read_evals(self.dir.path)
        wall = self.wall_before + self.elapsed()
        phases = dict(self.phases)
        phases["runner_overhead"] = max(0.0, wall - sum(phases.values()))
        return {
            "env": self.config.env,
            "learner": self.config.learner,
            "model": self.config.model,
            "seed": self.config.seed,
            "samples": self.samples,
            "steps": self.step,
            "final_success": evals[-1].success_mean if evals else None,
            "initial_success": evals[0].success_mean if evals else None,
            "tokens": {
                k: self.tokens.get(k, 0) for k in ("policy", "reflection", "curation", "eval")
            },
            "wall_seconds": wall,
            "phases": phases,
            "finished": True,
        }


def start(config: RunConfig, out: Path | None) -> tuple[Run, dict[str, Any] | None]:
    """A new run in ``out`` (refusing a directory that holds another run)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = (
        out
        or Path("runs")
        / f"{config.env.replace('/', '_')}-{config.learner}-seed{config.seed}-{stamp}"
    )
    if (path / "config.json").exists():
        raise RunError(
            f"{path} already holds a run: resume it with --resume {path}, or choose another --out"
        )
    run = Run(config, RunDir(path))
    write_json_atomic(
        path / "config.json",
        {
            **config.to_json(),
            "learner_config": dataclasses.asdict(run.learner_config),
            "env_knobs": config.env_knobs,
            "sandbox_isolation": isolation_level().value,  # how model-written code is contained
            **provenance(),
        },
    )
    return run, None


def resume(path: Path) -> tuple[Run, dict[str, Any] | None]:
    config_path = path / "config.json"
    if not config_path.is_file():
        raise RunError(f"{path} holds no run to resume (no config.json)")
    saved = json.loads(config_path.read_text())
    fields = {f for f in RunConfig.__dataclass_fields__}
    config = RunConfig(**{k: v for k, v in saved.items() if k in fields})
    config.validate()
    run = Run(config, RunDir(path))
    state = run.dir.load_checkpoint()
    if state is not None:
        run.restore(state)
    return run, state


def main(argv: list[str] | None = None) -> Path:
    """Run (or resume) one training run; returns its directory."""
    args = parse_args(argv)
    try:
        if args.resume:
            run, state = resume(Path(args.resume))
            done = "from scratch" if state is None else f"at {run.samples} samples"
            print(f"resuming {args.resume} {done}")
        else:
            run, _ = start(config_from_args(args), Path(args.out) if args.out else None)
    except USER_ERRORS + (RunError,) as error:
        sys.exit(f"error: {error}")
    print(f"run directory: {run.dir.path}")
    try:
        run.train()
    except KeyboardInterrupt:
        run.dir.close()
        sys.exit(
            f"\ninterrupted at {run.samples} samples; logs are intact. Resume with:\n"
            f"  python -m benchmarks.run --resume {run.dir.path}"
        )
    summary = run.summary()
    write_json_atomic(run.dir / "summary.json", summary)
    run.dir.close()
    finish(run.dir.path, summary, add_to_leaderboard=not args.no_leaderboard)
    return run.dir.path


def finish(path: Path, summary: dict[str, Any], add_to_leaderboard: bool) -> None:
    from benchmarks.plots import plot_run

    png = plot_run(path)
    print(
        f"\nsuccess mean@k: {summary['initial_success']:.3f} -> {summary['final_success']:.3f} "
        f"after {summary['samples']} samples; curves: {png}"
    )
    wall = summary["wall_seconds"]
    print(
        "wall time by phase: "
        + ", ".join(f"{k} {v:.1f}s ({100 * v / wall:.1f}%)" for k, v in summary["phases"].items())
    )
    if add_to_leaderboard:
        from leaderboard.store import add_run

        add_run(path)
        print("added to the leaderboard: python -m leaderboard")


if __name__ == "__main__":
    main()
