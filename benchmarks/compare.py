"""Compare learners on one environment: every (learner, seed) run, the leaderboard, one plot.

    python -m benchmarks.compare --env wordle --learners resd sd grpo --seeds 0 1 2
    python -m benchmarks.compare --env wordle --learners resd resd:use_reflection=false \\
        --seeds 0 1 -- --budget 256 --model tiny-random

A learner spec is ``NAME`` or ``NAME:KEY=VALUE,KEY=VALUE``; the settings are the learner's
(as ``--set KEY=VALUE``) and label the row, e.g. ``resd[use_reflection=false]``. Arguments
after ``--`` are ``benchmarks.run`` options for every run. Each (spec, seed) is resolved to a
configuration and run in this process through ``benchmarks.run.run_config`` (no command line
is re-entered): a spec that does not check out, or a run that fails, is reported in one line
and the sweep goes on. Runs land in ``OUT/<label>/seed<N>-<config key>``: a finished run of
the same configuration is reused (and said so), a changed configuration (another budget,
preset, model) runs again. Finished runs go to the leaderboard ``--db`` only (default
``$RESD_LEADERBOARD`` or runs/leaderboard.sqlite), labelled with their settings; then
``OUT/compare.png`` is drawn and the table for the env printed. A run interrupted in an earlier
sweep (its directory has a config.json but no summary) is resumed where it stopped.

``--backend ray`` runs each (spec, seed) as a Ray task instead (``benchmarks.ray_sweep``),
``--cpus-per-run`` and ``--gpus-per-run`` declared, on a local Ray started for the sweep or
the cluster at ``--address``; this process stays the only writer of the leaderboard.
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.config import RunConfig, parse_value, resolve
from benchmarks.progress import Progress
from leaderboard.store import ENV_VAR, RunRejected, Store, StoreError
from leaderboard.table import DEFAULT_THRESHOLD, FORMATS, table_text
from rundir import CONFIG, RunDirError, read_run
from rundir.hints import command

# compare sets these itself for every run; passing them after `--` would contradict it.
OWNED_OPTIONS = ("--env", "--learner", "--seed", "--out", "--set")


@dataclass(frozen=True)
class LearnerSpec:
    """A learner name with settings, e.g. ``resd:use_reflection=false``."""

    name: str
    settings: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        if not self.settings:
            return self.name
        return f"{self.name}[{','.join(f'{k}={v}' for k, v in self.settings)}]"

    @property
    def slug(self) -> str:
        """The label as a directory name."""
        return re.sub(r"[^A-Za-z0-9._=,-]+", "_", self.label).strip("_")


def parse_spec(text: str) -> LearnerSpec:
    """``NAME[:KEY=VALUE,...]`` -> LearnerSpec; ValueError with a one-line reason if malformed."""
    name, _, rest = text.partition(":")
    if not name.strip():
        raise ValueError(f"learner spec {text!r} has no learner name")
    settings = []
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"learner spec {text!r}: setting {item!r} is not KEY=VALUE")
        settings.append((key.strip(), value.strip()))
    return LearnerSpec(name.strip(), tuple(settings))


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    p = argparse.ArgumentParser(
        prog=command("benchmarks.compare"),
        description=__doc__.splitlines()[0],
        epilog="Arguments after `--` go to benchmarks.run unchanged.",
    )
    p.add_argument("--env", required=True)
    p.add_argument("--learners", nargs="+", required=True, metavar="SPEC")
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--out", type=Path, help="output folder (default runs/compare/ENV)")
    p.add_argument(
        "--db", help=f"leaderboard SQLite file (default ${ENV_VAR} or runs/leaderboard.sqlite)"
    )
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    p.add_argument("--format", choices=list(FORMATS), default="plain")
    p.add_argument(
        "--backend",
        choices=("sequential", "ray"),
        default="sequential",
        help="sequential: one run after another in this process; ray: each run a Ray task",
    )
    p.add_argument(
        "--address",
        help="ray: the cluster to use (e.g. ray://head:10001 or auto); default a local Ray "
        "started for the sweep",
    )
    p.add_argument("--cpus-per-run", type=float, default=1.0, help="ray: CPUs each run holds")
    p.add_argument("--gpus-per-run", type=float, default=0.0, help="ray: GPUs each run holds")
    args = p.parse_args(argv)
    try:
        args.specs = [parse_spec(s) for s in args.learners]
    except ValueError as err:
        p.error(str(err))
    slugs = [s.slug for s in args.specs]
    if len(set(slugs)) != len(slugs):
        p.error(f"learner specs repeat or collide as folder names: {', '.join(slugs)}")
    if len(set(args.seeds)) != len(args.seeds):
        p.error("--seeds repeats a seed")
    owned = [a for a in extra if a.split("=")[0] in OWNED_OPTIONS]
    if owned:
        p.error(f"{', '.join(owned)} after '--' is set by compare itself")
    if not 0.0 <= args.threshold <= 1.0:
        p.error(f"--threshold must be in [0, 1], got {args.threshold}")
    ray_only = [
        f
        for f, given in (
            ("--address", args.address is not None),
            ("--cpus-per-run", args.cpus_per_run != 1.0),
            ("--gpus-per-run", args.gpus_per_run != 0.0),
        )
        if given
    ]
    if ray_only and args.backend != "ray":
        p.error(f"{', '.join(ray_only)} needs --backend ray")
    if args.cpus_per_run < 0 or args.gpus_per_run < 0:
        p.error("--cpus-per-run and --gpus-per-run must be >= 0")
    args.out = args.out or Path("runs/compare") / args.env
    return args, extra


def finished_key(run_dir: Path) -> str | None:
    """The config key of the finished run in ``run_dir`` (None: no finished run there)."""
    try:
        record = read_run(run_dir, live=True)
    except RunDirError:
        return None
    return record.config.get("config_key", "") if record.finished else None


def configuration(run_args: argparse.Namespace, env: str, spec: LearnerSpec, seed: int) -> Any:
    """The resolved run config of one (spec, seed): the options after ``--``, then compare's."""
    from benchmarks import run as runner

    overrides = runner.cli_overrides(run_args)
    settings = {key: parse_value(value) for key, value in spec.settings}
    overrides.update(env=env, learner=spec.name, seed=seed, learner_set=settings or None)
    return resolve(run_args.preset, overrides)


def run_dir_for(out: Path, spec: LearnerSpec, config: RunConfig) -> tuple[Path, str]:
    """Where the run of ``config`` lives, and its config key."""
    from benchmarks import run as runner

    key = runner.config_record(config)["config_key"]
    return out / spec.slug / f"seed{config.seed}-{key[:8]}", key


def sweep_one(
    args: argparse.Namespace, run_args: argparse.Namespace, spec: LearnerSpec, seed: int
) -> Path:
    """Run (or reuse) one (spec, seed); returns its finished directory. Problems raise."""
    from benchmarks import run as runner

    config = configuration(run_args, args.env, spec, seed)
    run_dir, key = run_dir_for(args.out, spec, config)
    say = f"[compare] {spec.label} seed {seed}"
    if finished_key(run_dir) == key:
        print(f"{say}: reused {run_dir} (same configuration, key {key[:8]})", file=sys.stderr)
        return run_dir
    if (run_dir / CONFIG).is_file():  # started by an earlier sweep and interrupted
        print(f"{say}: resuming the interrupted run {run_dir}", file=sys.stderr)
        return runner.resume_run(run_dir, leaderboard=False)
    older = [d for d in sorted(run_dir.parent.glob(f"seed{seed}-*")) if d != run_dir]
    changed = f" (the configuration changed since {older[-1]})" if older else ""
    print(f"{say} -> {run_dir}{changed}", file=sys.stderr)
    return runner.run_config(config, run_dir, leaderboard=False)


@dataclass(frozen=True)
class Outcome:
    """How one (spec, seed) of a sweep ended: its finished directory, or the error in one line."""

    spec: LearnerSpec
    seed: int
    run_dir: Path | None = None
    error: str | None = None


def expected_errors() -> tuple[type[Exception], ...]:
    """Problems reported in one line (the others with their traceback)."""
    from benchmarks import run as runner

    return runner.user_errors() + (runner.RunError, RunDirError)


def sequential(
    args: argparse.Namespace, run_args: argparse.Namespace, jobs: list[tuple[LearnerSpec, int]]
) -> Iterator[Outcome]:
    """Each (spec, seed) in this process, one after another."""
    for spec, seed in jobs:
        try:
            yield Outcome(spec, seed, run_dir=sweep_one(args, run_args, spec, seed))
        except expected_errors() as err:
            yield Outcome(spec, seed, error=str(err))
        except Exception:  # one crashed run must not lose the others of a sweep
            traceback.print_exc()
            yield Outcome(spec, seed, error="crashed (traceback above)")


def ray_backend(
    args: argparse.Namespace, run_args: argparse.Namespace, jobs: list[tuple[LearnerSpec, int]]
) -> Iterator[Outcome]:
    """Each (spec, seed) as a Ray task (``benchmarks.ray_sweep``), as the runs end."""
    from benchmarks.ray_sweep import ray_outcomes

    for spec, seed, run_dir, error in ray_outcomes(
        args, run_args, jobs, sweep_one, expected_errors()
    ):
        yield Outcome(spec, seed, run_dir, error)


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(argv)
    from benchmarks import run as runner  # the model stack: loaded once the arguments check out

    run_args = runner.parse_args(extra)
    if run_args.resume or run_args.no_leaderboard:
        sys.exit("error: --resume and --no-leaderboard are not options of a comparison")
    groups: dict[str, list[str]] = {}
    failed = 0
    try:
        store = Store(args.db)
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    jobs = [(spec, seed) for spec in args.specs for seed in args.seeds]
    outcomes = ray_backend if args.backend == "ray" else sequential
    bar = Progress(len(jobs), 0, "compare", every=0, unit="runs", rates=False)
    with store:
        try:
            for outcome in outcomes(args, run_args, jobs):
                failed += not record(store, outcome, groups, bar)
                bar.update(1)
        finally:
            bar.close()
        if groups:
            from benchmarks.plots import plot_comparison

            try:
                png = plot_comparison(groups, args.out / "compare.png")
                print(f"[compare] plot: {png}", file=sys.stderr)
            except ValueError as err:  # RunDirError, MetricError: e.g. no common sample range
                failed += 1
                print(f"error: no comparison plot: {err}", file=sys.stderr)
        print(table_text(store, env=args.env, threshold=args.threshold, fmt=args.format))
    return 1 if failed else 0


def record(store: Store, outcome: Outcome, groups: dict[str, list[str]], bar: Progress) -> bool:
    """Add a finished run to the leaderboard (this process is its only writer) and say how the
    run ended, in one line; False when it failed."""
    label, seed = outcome.spec.label, outcome.seed
    if outcome.run_dir is not None:
        try:
            store.add_run(outcome.run_dir, label=label)
        except (RunDirError, RunRejected, StoreError) as err:
            outcome = Outcome(outcome.spec, seed, error=str(err))
    if outcome.error is not None:
        print(f"error: {label} seed {seed}: {outcome.error}; going on", file=sys.stderr)
        return False
    groups.setdefault(label, []).append(str(outcome.run_dir))
    bar.write(f"[compare] finished {label} seed {seed}: {outcome.run_dir}", sys.stderr)
    return True


if __name__ == "__main__":
    sys.exit(main())
