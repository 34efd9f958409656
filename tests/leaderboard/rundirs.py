"""Synthetic run directories written through ``rundir`` (test data, not results)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from rundir import CONFIG, SUMMARY, EvalRecord, RunDir, SummaryRecord, UpdateRecord


def write_run(
    run_dir: Path,
    *,
    env: str = "wordle",
    learner: str = "resd",
    model: str = "tiny-random",
    seed: int = 0,
    curve: Sequence[tuple[int, float]] = ((0, 0.0), (8, 0.25), (16, 0.5)),
    tokens: tuple[int, int, int] = (100, 20, 5),
    wall_seconds: float = 10.0,
    finished: bool = True,
    learner_config: dict | None = None,
    config: dict | None = None,
) -> Path:
    """A fresh run directory (anything there before is replaced): config.json, evals.jsonl
    (best@k = mean + 0.1, capped), updates.jsonl and, when finished, summary.json. ``config``
    adds or replaces config.json entries (a budget, a preset, a config_key)."""
    shutil.rmtree(run_dir, ignore_errors=True)
    settings = {
        "env": env,
        "env_knobs": {},
        "learner": learner,
        "learner_config": learner_config or {"lr": 1e-5},
        "model": model,
        "seed": seed,
        "budget": curve[-1][0],
        "batch_tasks": 2,
        "inner_steps": 1,
        "eval_every": 8,
        "eval_tasks": 4,
        "eval_k": 2,
        "versions": {"python": "3.11", "torch": "2.13", "transformers": "5.24"},
        "git_commit": f"commit-of-seed-{seed}",
        **(config or {}),
    }
    out = RunDir.create(run_dir)
    try:
        out.write_json(CONFIG, settings)
        for i, (samples, success) in enumerate(curve):
            out.append(
                EvalRecord(
                    step=i,
                    samples=samples,
                    success_mean=success,
                    success_best=min(1.0, success + 0.1),
                    progress_mean=min(1.0, success + 0.2),
                    valid_rate=1.0,
                    k=2,
                    n_tasks=4,
                )
            )
        for i, (samples, _) in enumerate(curve[1:]):
            out.append(UpdateRecord(i, samples, 0.0, samples, 10, {"loss": 0.1}))
        if finished:
            summary = SummaryRecord(
                env=env,
                learner=learner,
                model=model,
                seed=seed,
                samples=curve[-1][0],
                steps=len(curve) - 1,
                final_success=curve[-1][1],
                initial_success=curve[0][1],
                tokens=dict(zip(("policy", "reflection", "curation"), tokens, strict=True), eval=0),
                wall_seconds=wall_seconds,
                phases={"generate": wall_seconds},
            )
            out.write_json(SUMMARY, summary.to_json())
    finally:
        out.close()
    return run_dir
