"""Sweeps on Ray: each (learner spec, seed) of ``benchmarks.compare --backend ray`` is one Ray
task holding ``--cpus-per-run`` CPUs and ``--gpus-per-run`` GPUs.

Ray schedules the tasks; a task trains (or reuses, or resumes) its run exactly as the sequential
backend does (compare's ``sweep_one``, handed over as ``one``, so this module does not import
compare) and returns its directory or its error in one line, so the
driver stays the only writer of the leaderboard (SQLite wants one writer). A task's own output
goes to ``OUT/logs/<label>-seed<N>.log``, not to the driver's terminal. The driver starts a local
Ray for the sweep (stopped afterwards) unless Ray is already up in this process or ``--address``
names a cluster; there, every node needs this package installed and the driver's working
directory (where ``--out`` lives) at the same path on shared storage.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

RAY_MISSING = "--backend ray needs Ray: pip install 'resd-bench[ray]' (scripts/setup.sh does)"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SystemExit(f"error: {RAY_MISSING}") from None
    return ray


def run_task(
    one: Callable[..., Path],
    expected: tuple[type[Exception], ...],
    cwd: str,
    job: tuple[argparse.Namespace, argparse.Namespace, Any, int],
) -> tuple[str | None, str | None]:
    """One (spec, seed) in a Ray worker: (run directory, None) or (None, the error); errors of
    the ``expected`` kinds in one line, others with their traceback in the run's log."""
    args, run_args, spec, seed = job
    os.chdir(cwd)  # --out and preset paths are the driver's, relative to its directory
    log = Path(args.out) / "logs" / f"{spec.slug}-seed{seed}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(log, "a", buffering=1) as out,  # line by line: readable while the run goes on
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(out),
    ):
        try:
            return str(one(args, run_args, spec, seed)), None
        except expected as err:
            return None, str(err)
        except Exception:  # the traceback to the log, the driver gets where to read it
            traceback.print_exc()
            return None, f"crashed (traceback in {log})"


def ray_outcomes(
    args: argparse.Namespace,
    run_args: argparse.Namespace,
    jobs: list[tuple[Any, int]],
    one: Callable[..., Path],
    expected: tuple[type[Exception], ...],
) -> Iterator[tuple[Any, int, Path | None, str | None]]:
    """Every (spec, seed) of ``jobs`` as a Ray task running ``one``: (spec, seed, run directory,
    error), in the order the runs end."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=args.address, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(run_task).options(
            num_cpus=args.cpus_per_run, num_gpus=args.gpus_per_run, max_retries=0
        )
        cwd = os.getcwd()
        pending = {
            task.remote(one, expected, cwd, (args, run_args, spec, seed)): (spec, seed)
            for spec, seed in jobs
        }
        while pending:
            [ref], _ = ray.wait(list(pending), num_returns=1)
            spec, seed = pending.pop(ref)
            try:
                run_dir, error = ray.get(ref)
            except ray.exceptions.RayError as err:  # the worker died (out of memory, killed)
                run_dir, error = None, str(err).strip().splitlines()[0]
            yield spec, seed, None if run_dir is None else Path(run_dir), error
    finally:
        if started:  # also on Ctrl-C: the local Ray and its runs stop; a re-run resumes them
            ray.shutdown()
