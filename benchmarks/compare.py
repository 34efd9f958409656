"""Compare learners on one environment: every (learner, seed) run, the leaderboard, one plot.

    python -m benchmarks.compare --env wordle --learners resd sd grpo --seeds 0 1 2
    python -m benchmarks.compare --env wordle --learners resd resd:use_reflection=false \\
        --seeds 0 1 -- --budget 256 --model tiny-random

A learner spec is ``NAME`` or ``NAME:KEY=VALUE,KEY=VALUE``; the settings go to the runner as
``--set KEY=VALUE`` and label the row, e.g. ``resd[use_reflection=false]``. Arguments after
``--`` go to ``benchmarks.run`` unchanged. Runs land in ``OUT/<label>/seed<N>``; a run that is
already finished there is not run again, so an interrupted comparison picks up where it
stopped. Each finished run is added to the leaderboard; then ``OUT/compare.png`` is drawn and
the table for the env printed.
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from benchmarks.plots import plot_comparison
from leaderboard.store import ENV_VAR, RunRejected, Store, StoreError
from leaderboard.table import DEFAULT_THRESHOLD, FORMATS, table_text
from rundir import RunDirError, read_run

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

    def run_args(self) -> list[str]:
        args = ["--learner", self.name]
        for key, value in self.settings:
            args += ["--set", f"{key}={value}"]
        return args


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
        prog="python -m benchmarks.compare",
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
    args.out = args.out or Path("runs/compare") / args.env
    return args, extra


def _finished(run_dir: Path) -> bool:
    try:
        return read_run(run_dir, live=True).finished
    except RunDirError:
        return False


def run_one(env: str, spec: LearnerSpec, seed: int, run_dir: Path, extra: list[str]) -> Path:
    """One training run through the runner (looked up at call time, so tests can replace it)."""
    from benchmarks import run as runner

    argv = [*extra, "--env", env, *spec.run_args(), "--seed", str(seed), "--out", str(run_dir)]
    result = runner.main(argv)
    return Path(result) if result is not None else run_dir


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(argv)
    groups: dict[str, list[str]] = {}
    failed = 0
    try:
        store = Store(args.db)
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    with store:
        for spec in args.specs:
            for seed in args.seeds:
                run_dir = args.out / spec.slug / f"seed{seed}"
                try:
                    if _finished(run_dir):
                        print(
                            f"[compare] {spec.label} seed {seed}: finished in {run_dir}",
                            file=sys.stderr,
                        )
                    else:
                        print(f"[compare] {spec.label} seed {seed} -> {run_dir}", file=sys.stderr)
                        run_dir = run_one(args.env, spec, seed, run_dir, extra)
                    store.add_run(run_dir, label=spec.label)
                    groups.setdefault(spec.label, []).append(str(run_dir))
                except (RunDirError, RunRejected, StoreError) as err:
                    failed += 1
                    print(f"error: {err}", file=sys.stderr)
                except Exception:  # one crashed run must not lose the others of a sweep
                    failed += 1
                    traceback.print_exc()
                    print(f"error: {spec.label} seed {seed} crashed; going on", file=sys.stderr)
        if groups:
            try:
                png = plot_comparison(groups, args.out / "compare.png")
                print(f"[compare] plot: {png}", file=sys.stderr)
            except ValueError as err:  # RunDirError, MetricError: e.g. no common sample range
                failed += 1
                print(f"error: no comparison plot: {err}", file=sys.stderr)
        print(table_text(store, env=args.env, threshold=args.threshold, fmt=args.format))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
