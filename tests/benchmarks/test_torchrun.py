"""benchmarks.run under torchrun with two CPU processes (gloo): one run directory, written by
rank 0, holding every episode of every batch once; with --fsdp too, killed and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from envs.splits import train_task_seed

ROOT = Path(__file__).resolve().parents[2]
BUDGET, TASKS, ROLLOUTS, INNER = 40, 5, 2, 2  # 5 tasks: the ranks' shares are 3 and 2


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def torchrun(out: Path, *options: str, budget: int = BUDGET) -> list[str]:
    """The 2-rank command line of a tiny SD run into ``out`` (plus ``options``)."""
    return [
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
        str(budget),
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
        *options,
    ]


ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def check_run(out: Path, budget: int = BUDGET) -> None:
    """Every episode of every batch once, in order, with the updates and evaluations."""
    episodes = lines(out / "episodes.jsonl")
    assert [e["sample"] for e in episodes] == list(range(budget))
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
    assert [e["samples"] for e in lines(out / "evals.jsonl")] == list(range(0, budget + 1, 20))
    assert json.loads((out / "summary.json").read_text())["samples"] == budget


@pytest.mark.parametrize("options", [(), ("--fsdp",)], ids=["replicated", "fsdp"])
def test_a_two_rank_run_holds_every_episode_once(tmp_path, options):
    out = tmp_path / "run"
    done = subprocess.run(
        torchrun(out, *options), cwd=tmp_path, env=ENV, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("run directory:") == 1  # rank 0 alone says and writes it
    check_run(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no stray directories


@pytest.mark.slow
def test_a_sharded_run_killed_then_resumed_holds_every_episode_once(tmp_path):
    """--fsdp: killed (every process) after its second step, resumed by torchrun."""
    out, budget = tmp_path / "run", 60
    proc = subprocess.Popen(
        torchrun(out, "--fsdp", budget=budget),
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes the ranks too
    )
    deadline = time.time() + 300
    updates = out / "updates.jsonl"
    while time.time() < deadline and proc.poll() is None:
        if updates.is_file() and updates.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    command = torchrun(out, budget=budget)
    command[command.index("--env") :] = ["--resume", str(out), "--no-leaderboard"]
    done = subprocess.run(command, cwd=tmp_path, env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    check_run(out, budget)
    assert json.loads((out / "config.json").read_text())["fsdp"] is True
