"""Synthetic run directories in the runner's documented layout (test data, not results)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path


def write_run(
    run_dir: Path,
    *,
    env: str = "wordle",
    learner: str = "resd",
    model: str = "tiny-random",
    seed: int = 0,
    curve: Sequence[tuple[int, float]] = ((0, 0.0), (8, 0.25), (16, 0.5)),
    final_success: float | None = None,
    tokens: tuple[int, int, int] = (100, 20, 5),
    wall_seconds: float = 10.0,
    finished: bool = True,
    learner_config: dict | None = None,
) -> Path:
    """Write config.json, evals.jsonl (best@k = mean + 0.1, capped), updates/episodes, summary."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {
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
    }
    (run_dir / "config.json").write_text(json.dumps(config))
    evals = [
        {
            "step": i,
            "samples": s,
            "success_mean": y,
            "success_best": min(1.0, y + 0.1),
            "progress_mean": min(1.0, y + 0.2),
            "valid_rate": 1.0,
            "k": 2,
            "n_tasks": 4,
        }
        for i, (s, y) in enumerate(curve)
    ]
    (run_dir / "evals.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals))
    (run_dir / "updates.jsonl").write_text(
        "".join(
            json.dumps({"step": i, "samples": s, "loss": 0.1}) + "\n"
            for i, (s, _) in enumerate(curve[1:], 1)
        )
    )
    (run_dir / "episodes.jsonl").write_text(json.dumps({"success": False}) + "\n")
    if finished:
        summary = {
            "env": env,
            "learner": learner,
            "model": model,
            "seed": seed,
            "samples": curve[-1][0],
            "final_success": curve[-1][1] if final_success is None else final_success,
            "tokens": dict(zip(("policy", "reflection", "curation"), tokens, strict=True)),
            "wall_seconds": wall_seconds,
            "phases": {"rollout": wall_seconds},
            "finished": True,
        }
        (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir
