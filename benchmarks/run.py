"""Train a learner on an environment within a sample budget and record the run.

    python -m benchmarks.run --env wordle --learner resd
    python -m benchmarks.run --env mastermind --learner grpo --budget 1024 --set lr=1e-4
    python -m benchmarks.run --resume runs/wordle-resd-seed0-20261127-230000

The loop (RESD's streaming schedule, for every learner): draw a batch of ``batch_tasks`` fresh
tasks; ``inner_steps`` times, play ``rollouts_per_task`` episodes on each and take one learner
step. Every ``eval_every`` training samples, evaluate on the fixed held-out tasks. The x-axis of
every curve is the number of training episodes drawn ("samples"). After each step the run
directory (``rundir``) gets the episodes, the update metrics and a checkpoint, so an interrupted
run (Ctrl-C, kill, power cut, a full disk) resumes from its last step with no episode lost or
counted twice. Everything is checked before anything is written: a bad setting, environment,
learner or model leaves no directory behind. ``--resume`` refuses, in one line, a checkpoint
that is missing, unreadable or disagrees with the logs, and options that contradict the run's
config.json; a second process on the same directory is refused by its lock.

Data parallel: ``torchrun --nproc-per-node N -m benchmarks.run ...`` starts N processes that
share each batch (``learners.data_parallel``): each plays its share of the batch's tasks, all
take the same learner step on the whole batch (each backpropagates its share, gradients are
summed), and rank 0 alone evaluates, reflects and writes the run directory. With ``--fsdp`` the
model, its optimiser states and EMA teacher are sharded over the ranks (FSDP2).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import platform
import subprocess
import sys
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import envs
import learners
from benchmarks.config import (
    AUTOCAST,
    RunConfig,
    RunConfigError,
    parse_assignments,
    resolve,
)
from benchmarks.progress import Progress
from benchmarks.trackers import (
    TrackerError,
    Trackers,
    TrackerUnavailable,
    logger_name,
    open_trackers,
    require,
)
from envs.sandbox import isolation_level
from envs.splits import sample_seed, train_task_seed
from learners.trajectory import Episode
from rundir import (
    CHECKPOINT,
    CONFIG,
    EPISODES,
    EVALS,
    PLAYBOOK_HISTORY,
    SUMMARY,
    UPDATES,
    Checkpoint,
    EpisodeRecord,
    EvalRecord,
    RunDir,
    RunDirError,
    SummaryRecord,
    TurnRecord,
    UpdateRecord,
    config_key,
    read_config,
    read_evals,
)
from rundir.errors import first_line
from rundir.hints import command

# Errors that are the user's to fix, shown as one line without a traceback: those raised while
# the configuration is checked (light: nothing of the model stack is loaded to name them) ...
CHECK_ERRORS = (
    RunConfigError,
    learners.ConfigError,
    envs.KnobError,
    envs.UnknownEnvironmentError,
    envs.EnvUnavailable,
    TrackerUnavailable,
)


def user_errors() -> tuple[type[Exception], ...]:
    """... and all of them, a model that cannot be had here included (a function: naming
    ``PresetUnavailable`` loads the model stack)."""
    from learners.models import PresetUnavailable

    return (*CHECK_ERRORS, PresetUnavailable)


class RunError(RuntimeError):
    """A run cannot start or resume as asked (one line, shown without a traceback)."""


# Checkpointed counters that must be integers (tokens, phases and wall are checked apart).
COUNTERS = ("samples", "step", "batch", "inner", "next_eval", "last_eval")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=command("benchmarks.run"),
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
    p.add_argument(
        "--engine",
        help="what samples from the model: a registered engine, such as hf or vllm "
        f"(default {RunConfig.engine})",
    )
    p.add_argument(
        "--tensor-parallel-size",
        type=int,
        help="engine vllm: GPUs the sampling copy of the model is split over (vLLM's "
        "tensor_parallel_size)",
    )
    p.add_argument(
        "--gpu-memory-fraction",
        type=float,
        help="engine vllm: share of each GPU's memory vLLM may take for weights and KV cache "
        "(vLLM's gpu_memory_utilization; default 0.35, leaving the rest to training)",
    )
    p.add_argument(
        "--fsdp",
        action="store_true",
        default=None,
        help="under torchrun: shard the trained model, its optimiser states and EMA teacher "
        "over the ranks with FSDP2 (hf engine, full fine-tuning); forward passes gather the "
        "whole weights",
    )
    p.add_argument(
        "--autocast",
        choices=[*AUTOCAST, "none"],
        help="run the model's forward passes in bf16 (or fp16) over float32 master weights "
        "(model_options.autocast; on a CPU with bf16 units about 1.5x faster training, log-probs "
        "move by ~0.1 nat); none: off, over a preset's setting. Default: off",
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
    p.add_argument(
        "--logger",
        action="append",
        type=logger_name,
        metavar="NAME",
        help="also log the metrics to an experiment tracker: tensorboard or wandb (offline "
        "unless WANDB_MODE says otherwise); repeat for several: --logger tensorboard "
        "--logger wandb",
    )
    return p.parse_args(argv)


def cli_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The run settings given on the command line (None: not given)."""
    return {
        "env": args.env,
        "env_preset": args.env_preset,
        "learner": args.learner,
        "model": args.model,
        "engine": args.engine,
        "tensor_parallel_size": args.tensor_parallel_size,
        "gpu_memory_fraction": args.gpu_memory_fraction,
        "fsdp": args.fsdp,
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
        "model_options": {"autocast": autocast_value(args.autocast)} if args.autocast else None,
    }


def autocast_value(name: str) -> str | None:
    return None if name == "none" else name


def config_from_args(args: argparse.Namespace) -> RunConfig:
    return resolve(args.preset, cli_overrides(args))


def provenance() -> dict[str, Any]:
    import torch
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


# What a slow model load is, said when a load takes more than a few seconds.
MODEL_NOTE = (
    "a preset built or converted on first use takes a while once (tiny-copy: warm-started, "
    "about a minute on 2 cores; smollm2-135m: converted from GGUF, about a minute), then it "
    "loads from the cache in seconds"
)


@contextlib.contextmanager
def announced(what: str, note: str, after: float = 3.0) -> Iterator[None]:
    """Say on stderr what is happening when ``what`` takes longer than ``after`` seconds
    (a one-time model build), so a run never sits silent for minutes; quiet otherwise."""
    t0 = time.perf_counter()
    timer = threading.Timer(after, lambda: print(f"{what}: {note} ...", file=sys.stderr))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if time.perf_counter() - t0 > after:
            print(f"{what}: done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


class Run:
    """One training run: everything the loop needs, built from a resolved config (which checks
    it all: environment, knobs, learner, model, budget) before ``attach`` gives it a directory."""

    def __init__(self, config: RunConfig) -> None:
        import torch

        import smallmodel  # noqa: F401  (registers the presets it builds, such as tiny-copy)
        from learners.models import Policy, SamplingParams

        self.config = config
        self.dir: RunDir | None = None
        if config.threads:
            torch.set_num_threads(config.threads)
        knobs = envs.resolve_knobs(config.env, config.env_preset, **config.env_knobs)
        envs.make(config.env, **knobs)  # fail fast on a bad knob, before loading a model
        self.make_env = lambda: envs.make(config.env, **knobs)
        self.learner_config = learners.default_config(config.learner, config.learner_set)
        wants = learners.learner_class(config.learner).reflection_request(self.learner_config)
        with announced(f"loading model {config.model}", MODEL_NOTE):
            self.policy = Policy.load(config.model, engine=config.engine, **config.policy_options())
        # reflection is a peer of the learner: built here, handed to the learner that asks
        self.reflection = wants and learners.reflection_pipeline(self.policy, wants)
        self.learner = learners.make(
            config.learner, self.policy, self.learner_config, reflection=self.reflection
        )
        self.per_batch = config.batch_tasks * self.learner.rollouts_per_task
        self.sampling = SamplingParams(
            temperature=config.temperature, top_p=config.top_p, max_new_tokens=config.new_tokens()
        )
        self.recorder = None
        self.trackers = Trackers()  # --logger: given the update and eval records as written
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
        self.t_start = time.perf_counter()

    def attach(self, run_dir: RunDir) -> None:
        """Write into ``run_dir`` (locked by this process) from now on."""
        self.dir = run_dir
        if self.reflection is not None:
            from reflection import PlaybookRecorder

            self.recorder = PlaybookRecorder(run_dir)

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
        """Save the counters and the learner's state (rank 0). Under FSDP every rank calls
        this: gathering the sharded state whole is a collective."""
        from learners import data_parallel

        if self.dir is None and not data_parallel.sharded():
            return
        t0 = time.perf_counter()
        state = self.learner.state_dict()
        if self.dir is None:  # a rank other than 0
            return
        self.trackers.flush()
        self.dir.save_checkpoint({"counters": self.counters(), "learner": state})
        self.phases["checkpoint"] += time.perf_counter() - t0

    def shard(self) -> None:
        """FSDP (``--fsdp`` under torchrun): shard the learner's model over the ranks, once
        every rank holds the same whole state (a resumed run's included)."""
        from learners import data_parallel

        if self.config.fsdp and data_parallel.active():
            self.learner.fully_shard()

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from ``checkpoint``: refused in one line unless it fits this run and its
        logs; then the state is loaded and the logs are cut back to it."""
        where = self.dir / CHECKPOINT
        c = read_counters(checkpoint.state, where)
        problem = log_disagreement(c, checkpoint, self.per_batch)
        if problem:
            raise RunError(f"{where} disagrees with the logs: {problem}; the run cannot resume")
        try:
            self.learner.load_state_dict(checkpoint.state["learner"])
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise RunError(
                f"{where} does not fit this run's learner and model ({first_line(err)})"
            ) from None
        self.set_counters(c)
        self.dir.rewind(checkpoint)

    def set_counters(self, c: dict[str, Any]) -> None:
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

    def elapsed(self) -> float:
        return time.perf_counter() - self.t_start

    # -- the loop ------------------------------------------------------------------------------
    def train(self) -> None:
        from learners import data_parallel

        cfg = self.config
        main = data_parallel.is_main()  # data parallel: the other ranks keep no records
        self.t_start = time.perf_counter()
        bar = Progress(cfg.budget, self.samples, f"{cfg.env}/{cfg.learner}", quiet=not main)
        try:
            while True:
                final = self.samples >= cfg.budget
                if self.samples >= self.next_eval or (final and self.last_eval != self.samples):
                    self.policy.gather()  # FSDP: every rank, for rank 0's evaluation
                    if main:
                        self.evaluate(bar)
                    while self.next_eval <= self.samples:
                        self.next_eval += cfg.eval_every
                    self.checkpoint()
                if final:
                    break
                first = self.batch * cfg.batch_tasks
                mine = data_parallel.shard(cfg.batch_tasks)  # this rank's tasks of the batch
                seeds = [train_task_seed(cfg.seed, first + i) for i in mine]
                from learners.rollout import play_groups

                self.policy.gather()  # FSDP: the whole weights, for rollouts and the step
                bar.phase = "generating"
                groups, stats = play_groups(
                    self.policy,
                    self.make_env,
                    seeds,
                    self.learner.rollouts_per_task,
                    self.sampling,
                    sample_seed=sample_seed(cfg.seed, self.step, shard=data_parallel.rank()),
                    context=self.learner.student_context(),
                    first_group_id=first + mine.start,
                )
                t0 = time.perf_counter()
                groups, stats = gather_rollouts(groups, stats)
                if data_parallel.active():  # waiting for the slowest rank, and the exchange
                    self.phases["sync"] += time.perf_counter() - t0
                self.phases["generate"] += stats.generate_seconds
                self.phases["env"] += stats.env_seconds
                self.tokens["policy"] += stats.generated_tokens
                t0 = time.perf_counter()
                bar.phase = "learning"
                result = self.learner.step(groups)
                learn_seconds = time.perf_counter() - t0
                for phase, seconds in result.seconds.items():
                    self.phases[phase] += seconds
                self.phases["learn"] += learn_seconds - sum(result.seconds.values())
                for source, count in result.tokens.items():
                    self.tokens[source] += count
                if main:
                    self.log_step(groups, stats, result)
                self.samples += stats.episodes
                self.step += 1
                self.inner += 1
                if self.inner == cfg.inner_steps:
                    self.inner, self.batch = 0, self.batch + 1
                rate = self.tokens["policy"] / max(self.phases["generate"], 1e-9)
                success = sum(ep.success for g in groups for ep in g) / max(stats.episodes, 1)
                bar.update(stats.episodes, success, rate)
                self.checkpoint()
        finally:
            bar.close()

    def start_state(self) -> dict[str, Any]:
        """What the other ranks of a data-parallel run take from rank 0 before the first step
        (a resumed run's counters and learner included): the checkpoint's content."""
        return {
            "config": self.config,
            "counters": self.counters(),
            "learner": self.learner.state_dict(),
        }

    def log_step(self, groups: list, stats: Any, result: learners.StepResult) -> None:
        t0 = time.perf_counter()
        episodes = [ep for g in groups for ep in g]
        for n, ep in enumerate(episodes):
            self.dir.append(episode_record(ep, self.samples + n, self.step))
        update = UpdateRecord(
            step=self.step,
            samples=self.samples + stats.episodes,
            train_success=sum(ep.success for ep in episodes) / len(episodes),
            env_steps=stats.env_steps,
            tokens=stats.generated_tokens,
            metrics=result.metrics,
        )
        self.dir.append(update)
        self.trackers.record(update)
        if self.recorder is not None and result.reflection is not None:
            self.recorder.record(result.reflection, self.reflection.playbook)
        self.phases["log"] += time.perf_counter() - t0

    def evaluate(self, bar: Progress) -> None:
        from benchmarks.evaluate import evaluate

        t0 = time.perf_counter()
        bar.phase = "evaluating"
        record, tokens = evaluate(
            self.policy,
            self.make_env,
            self.config,
            self.sampling,
            context=self.learner.student_context(),
        )
        self.tokens["eval"] += tokens
        self.phases["eval"] += time.perf_counter() - t0
        point = EvalRecord(step=self.step, samples=self.samples, **record)
        self.dir.append(point)
        self.trackers.record(point)
        self.last_eval = self.samples
        bar.write(
            f"eval at {self.samples:>6} samples: success mean@{record['k']} "
            f"{record['success_mean']:.3f}, best@{record['k']} {record['success_best']:.3f}, "
            f"progress {record['progress_mean']:.3f}, valid {record['valid_rate']:.2f}"
        )

    def summary(self) -> SummaryRecord:
        evals = read_evals(self.dir.path)
        wall = self.wall_before + self.elapsed()
        phases = dict(self.phases)
        phases["runner_overhead"] = max(0.0, wall - sum(phases.values()))
        return SummaryRecord(
            env=self.config.env,
            learner=self.config.learner,
            model=self.config.model,
            seed=self.config.seed,
            samples=self.samples,
            steps=self.step,
            final_success=evals[-1].success_mean,
            initial_success=evals[0].success_mean,
            tokens={k: self.tokens.get(k, 0) for k in ("policy", "reflection", "curation", "eval")},
            wall_seconds=wall,
            phases=phases,
        )


def gather_rollouts(groups: list, stats: Any) -> tuple[list, Any]:
    """Data parallel: every rank's groups, in task order (rank order), and their stats (counts
    summed, seconds the slowest rank's); unchanged in one process."""
    from learners import data_parallel

    shares = data_parallel.all_gather_objects((groups, stats))
    if len(shares) == 1:
        return groups, stats
    merged = dataclasses.replace(
        stats,
        **{
            f.name: (max if f.name.endswith("seconds") else sum)(
                getattr(s, f.name) for _, s in shares
            )
            for f in dataclasses.fields(stats)
        },
    )
    return [g for share, _ in shares for g in share], merged


def episode_record(ep: Episode, sample: int, step: int) -> EpisodeRecord:
    """The log line of one training episode: its transcript, without token ids or log-probs."""
    return EpisodeRecord(
        sample=sample,
        step=step,
        task_id=ep.task_id,
        group_id=ep.group_id,
        seed=ep.seed,
        success=ep.success,
        progress=ep.progress,
        reward=ep.reward,
        truncated=ep.truncated,
        task=ep.task,
        turns=tuple(
            TurnRecord(
                action=t.text,
                feedback=t.feedback,
                valid=t.valid_action,
                tokens=len(t.completion_ids),
                finish=t.finish_reason,
            )
            for t in ep.turns
        ),
        hindsight=tuple(ep.hindsight),
    )


def read_counters(state: dict[str, Any], where: Any) -> dict[str, Any]:
    """The runner's counters from a checkpoint, refused in one line if malformed."""
    c = state.get("counters")
    well_formed = (
        isinstance(c, dict)
        and "learner" in state
        and all(isinstance(c.get(k), int) for k in COUNTERS)
        and isinstance(c.get("tokens"), dict)
        and isinstance(c.get("phases"), dict)
        and isinstance(c.get("wall"), int | float)
    )
    if not well_formed:
        raise RunError(f"{where}: not a checkpoint of this runner (counters missing or malformed)")
    return c


def log_disagreement(c: dict[str, Any], checkpoint: Checkpoint, per_batch: int) -> str:
    """Why the logs cannot belong to a run at these counters ("" when they can).

    At a checkpoint the logs hold one episode line per sample and one update line per step,
    ending with that step's update; after it, at most the one step the checkpoint did not
    record (its episodes, update and playbook line) or the one evaluation before it."""
    lines, last, beyond = checkpoint.log_lines, checkpoint.last, checkpoint.beyond
    if lines[EPISODES] != c["samples"] or lines[UPDATES] != c["step"]:
        return (
            f"it counts {c['samples']} samples and {c['step']} steps but "
            f"{lines[EPISODES]} episode and {lines[UPDATES]} update lines"
        )
    update = last[UPDATES]
    if update is not None and (update.get("step"), update.get("samples")) != (
        c["step"] - 1,
        c["samples"],
    ):
        return (
            f"{UPDATES} line {lines[UPDATES]} is step {update.get('step')!r} at "
            f"{update.get('samples')!r} samples, not step {c['step'] - 1} at {c['samples']}"
        )
    extra_steps = {ep.get("step") for ep in beyond[EPISODES]} - {c["step"]}
    if (
        len(beyond[EPISODES]) > per_batch
        or extra_steps
        or max(len(beyond[log]) for log in (UPDATES, EVALS, PLAYBOOK_HISTORY)) > 1
    ):
        return "the logs run on past it by more than one step (is the checkpoint an old copy?)"
    return ""


def config_record(config: RunConfig) -> dict[str, Any]:
    """What config.json records of a run's configuration (provenance apart), resolved: the
    learner's settings in full, not only the overrides. Cheap: no model is loaded."""
    learner_config = learners.default_config(config.learner, config.learner_set)
    check_batches(config, learners.learner_class(config.learner).rollouts_for(learner_config))
    record = {
        **config.to_json(),
        "learner_config": dataclasses.asdict(learner_config),
        "env_knobs": config.env_knobs,
    }
    return {**record, "config_key": config_key(record)}


def check_batches(config: RunConfig, rollouts: int) -> None:
    """Refuse, with the flags that fix it, a budget that cannot pay for one batch."""
    per_batch = config.batch_tasks * rollouts
    if config.budget >= per_batch:
        return
    fixes = [f"--budget {per_batch}"]
    if config.budget >= rollouts:
        fixes.append(f"--batch-tasks {config.budget // rollouts}")
    raise RunConfigError(
        f"budget={config.budget} is smaller than one batch of {config.learner}: batch_tasks "
        f"{config.batch_tasks} x {rollouts} rollouts per task = {per_batch} episodes; "
        f"use {' or '.join(fixes)}"
    )


def default_path(config: RunConfig, key: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{config.env.replace('/', '_')}-{config.learner}-seed{config.seed}-{key[:8]}-{stamp}"
    return Path("runs") / name


def start(config: RunConfig, out: Path | None) -> Run:
    """A new run in ``out``. Everything is built and checked first, so a bad setting leaves
    nothing on disk; then the directory is made and locked, gets a first checkpoint and, last,
    its config.json: a directory with a config.json always has a checkpoint to resume from."""
    record = config_record(config)
    path = out or default_path(config, record["config_key"])
    if (path / CONFIG).exists():
        raise RunError(
            f"{path} already holds a run: resume it with --resume {path}, or choose another --out"
        )
    if path.exists() and not path.is_dir():
        raise RunError(f"--out {path} exists and is not a directory")
    run = Run(config)
    run.attach(RunDir.create(path))
    try:
        run.checkpoint()
        run.dir.write_json(
            CONFIG,
            {
                **record,
                "sandbox_isolation": isolation_level().value,  # how model-written code is contained
                **provenance(),
            },
        )
    except BaseException:
        run.dir.close()
        raise
    return run


def saved_config(path: Path) -> RunConfig:
    """The config a run was started with, from its config.json, checked like a new one."""
    saved = read_config(path)
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    config = RunConfig(**{k: v for k, v in saved.items() if k in fields})
    try:
        if not all(isinstance(getattr(config, k), str) for k in ("env", "learner", "model")):
            raise TypeError("env, learner and model must be strings")
        config.validate()
    except (TypeError, RunConfigError) as err:
        raise RunDirError(f"{path / CONFIG}: {err}") from None
    return config


def contradictions(args: argparse.Namespace, config: RunConfig, path: Path) -> list[str]:
    """Options given with --resume that differ from the run's config ("--learner 'grpo' (the
    run has 'resd')"); repeating a setting is fine, changing one is not."""
    saved = config.to_json()
    found = []
    for key, value in cli_overrides(args).items():
        if value is None:
            continue
        if key in ("env_knobs", "learner_set"):
            flag = "--knob" if key == "env_knobs" else "--set"
            found += [
                f"{flag} {k}={v!r} (the run has {saved[key].get(k)!r})"
                for k, v in value.items()
                if saved[key].get(k) != v
            ]
        elif saved[key] != value:
            found.append(f"--{key.replace('_', '-')} {value!r} (the run has {saved[key]!r})")
    if args.preset is not None and args.preset != config.preset:
        found.append(f"--preset {args.preset!r} (the run has {config.preset!r})")
    if args.out is not None and Path(args.out).resolve() != path.resolve():
        found.append(f"--out {args.out!r} (the run is {str(path)!r})")
    return found


def resume(path: Path, args: argparse.Namespace) -> Run:
    """Continue the run in ``path`` from its checkpoint, under its lock."""
    run_dir = RunDir.open(path)
    try:
        config = saved_config(path)
        clash = contradictions(args, config, path)
        if clash:
            raise RunError(
                f"--resume takes its settings from {path / CONFIG}; these options contradict "
                f"it: {', '.join(clash)}"
            )
        checkpoint = run_dir.read_checkpoint()  # before loading a model: refusals come fast
        run = Run(config)
        run.attach(run_dir)
        run.restore(checkpoint)
    except BaseException:
        run_dir.close()
        raise
    return run


def show_one_line(message: Warning | str, *_: Any, **__: Any) -> None:
    """Warnings as the command line shows them (a skipped plugin, say): one line, no source."""
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> Path | None:
    """Run (or resume) one training run; returns its directory (None on the ranks other than 0
    of a data-parallel run)."""
    with warnings.catch_warnings():  # restores the caller's warning display afterwards
        warnings.showwarning = show_one_line
        return run_command(argv)


def complete(run: Run) -> SummaryRecord:
    """Train ``run`` to its budget and write its summary; its directory is closed either way."""
    try:
        run.train()
        summary = run.summary()
        run.dir.write_json(SUMMARY, summary.to_json())
    finally:
        run.trackers.close()
        run.dir.close()
    return summary


def run_config(config: RunConfig, out: Path | None = None, leaderboard: bool = True) -> Path:
    """Start one run of ``config`` and see it through; returns its directory. For callers such
    as ``benchmarks.compare``: a problem is an exception (``user_errors()``, ``RunError``,
    ``RunDirError``, ``KeyboardInterrupt``), never ``SystemExit``."""
    run = start(config, out)
    print(f"run directory: {run.dir.path}")
    summary = complete(run)
    finish(run.dir.path, summary, add_to_leaderboard=leaderboard)
    return run.dir.path


def resume_run(path: Path, leaderboard: bool = True) -> Path:
    """``run_config``'s sibling: resume the interrupted run in ``path`` and see it through."""
    run = resume(path, parse_args(["--resume", str(path)]))
    print(f"resuming {path} at {run.samples} samples")
    summary = complete(run)
    finish(run.dir.path, summary, add_to_leaderboard=leaderboard)
    return run.dir.path


def follow() -> None:
    """A rank other than 0 of a data-parallel run: rank 0's configuration and state (a resumed
    run's too), then the same loop on its share of each batch, with no directory of its own."""
    from learners import data_parallel

    state = data_parallel.from_main(lambda: None)
    run = Run(state["config"])
    run.learner.load_state_dict(state["learner"])
    run.set_counters(state["counters"])
    run.shard()
    run.train()


def run_command(argv: list[str] | None) -> Path | None:
    args = parse_args(argv)
    parallel = int(os.environ.get("WORLD_SIZE", "1")) > 1  # started by torchrun with N > 1
    if parallel:
        from learners import data_parallel

        data_parallel.init_from_env()
        if not data_parallel.is_main():
            return follow()  # (if rank 0 stops on an error, torchrun stops this rank too)
    try:
        require(args.logger or ())  # a missing tracker package: one line, before torch
        if args.resume:
            run = resume(Path(args.resume), args)
            print(f"resuming {args.resume} at {run.samples} samples")
        else:
            run = start(config_from_args(args), Path(args.out) if args.out else None)
    except CHECK_ERRORS + (RunError, RunDirError) as error:  # a typo exits before torch loads
        sys.exit(f"error: {error}")
    except user_errors() as error:
        sys.exit(f"error: {error}")
    path = run.dir.path
    print(f"run directory: {path}")
    try:
        run.trackers = open_trackers(args.logger or (), path, run.samples if args.resume else None)
    except TrackerError as error:
        run.dir.close()
        sys.exit(f"error: {error}; resume with {command('benchmarks.run')} --resume {path}")
    if parallel:
        data_parallel.from_main(run.start_state)
        run.shard()
    try:
        summary = complete(run)
    except KeyboardInterrupt:
        sys.exit(
            f"\ninterrupted at {run.samples} samples; logs are intact. Resume with:\n"
            f"  {command('benchmarks.run')} --resume {path}"
        )
    except RunDirError as error:  # disk full, read-only: what was written stays resumable
        sys.exit(
            f"error: {error}; the run stopped at {run.samples} samples, resume it with "
            f"{command('benchmarks.run')} --resume {path}"
        )
    finish(path, summary, add_to_leaderboard=not args.no_leaderboard)
    return path


def finish(path: Path, summary: SummaryRecord, add_to_leaderboard: bool) -> None:
    """Plot the curves and add the run to the leaderboard; the run is complete either way,
    so a failure here is a one-line warning."""
    from benchmarks.plots import plot_run
    from leaderboard.store import RunRejected, StoreError, add_run

    try:
        curves = plot_run(path)
    except RunDirError as err:
        curves = f"not drawn ({err})"
    print(
        f"\nsuccess mean@k: {summary.initial_success:.3f} -> {summary.final_success:.3f} "
        f"after {summary.samples} samples; curves: {curves}"
    )
    wall = summary.wall_seconds
    print(
        "wall time by phase: "
        + ", ".join(f"{k} {v:.1f}s ({100 * v / wall:.1f}%)" for k, v in summary.phases.items())
    )
    if add_to_leaderboard:
        try:
            add_run(path)
            print(f"added to the leaderboard: {command('leaderboard')}")
        except (RunDirError, RunRejected, StoreError) as err:
            print(f"warning: not added to the leaderboard: {err}", file=sys.stderr)


if __name__ == "__main__":
    main()
