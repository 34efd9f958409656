"""benchmarks.run under torchrun with two CPU processes (gloo): one run directory, written by
rank 0, holding every episode of every batch once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from envs.splits import train_task_seed

ROOT = Path(__file__).resolve().parents[2]
BUDGET, TASKS, ROLLOUTS, INNER = 40, 5, 2, 2  # 5 tasks: the ranks' shares are 3 and 2


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_a_two_rank_run_holds_every_episode_once(tmp_path):
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "-m",
        "benchmarks.run",
        "--env",
        "secret",
        "--learner",
        "sd",
        "--model",
        "tiny-random",
        "--set",
        f"rollouts={ROLLOUTS}",
        "--set",
        "micro_batch=4",
        "--budget",
        str(BUDGET),
        "--batch-tasks",
        str(TASKS),
        "--inner-steps",
        str(INNER),
        "--eval-every",
        "20",
        "--eval-tasks",
        "2",
        "--eval-k",
        "1",
        "--seed",
        "3",
        "--out",
        str(out),
        "--no-leaderboard",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("run directory:") == 1  # rank 0 alone says and writes it
    episodes = lines(out / "episodes.jsonl")
    assert [e["sample"] for e in episodes] == list(range(BUDGET))
    per_step = TASKS * ROLLOUTS
    for step, updates in enumerate(lines(out / "updates.jsonl")):
        assert updates["samples"] == per_step * (step + 1)
        mine = [e for e in episodes if e["step"] == step]
        batch = step // INNER
        seeds = [train_task_seed(3, batch * TASKS + i) for i in range(TASKS)]
        assert Counter(e["seed"] for e in mine) == {s: ROLLOUTS for s in seeds}
        assert [e["group_id"] for e in mine] == [
            batch * TASKS + i for i in range(TASKS) for _ in range(ROLLOUTS)
        ]
    assert [e["samples"] for e in lines(out / "evals.jsonl")] == [0, 20, 40]
    assert json.loads((out / "summary.json").read_text())["samples"] == BUDGET
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no stray directories
