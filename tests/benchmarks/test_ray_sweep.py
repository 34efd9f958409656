"""benchmarks.compare --backend ray on a local 2-CPU Ray: the sequential backend's leaderboard,
a broken configuration reported while the others finish, an interrupted driver re-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.compare import main
from leaderboard.store import Store
from leaderboard.table import build_rows

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[2]
SPECS = ["sd:rollouts=4", "grpo:group_size=4"]
RUN = ["--model", "tiny-random", "--batch-tasks", "2", "--inner-steps", "1"]
RUN += ["--eval-tasks", "2", "--eval-k", "1", "--threads", "1"]


def sweep(out: Path, *options: str, specs=SPECS, seeds=("0", "1"), budget: int = 16) -> list[str]:
    """compare's arguments for ``specs`` x ``seeds`` of tiny runs into ``out``."""
    return [
        "--env",
        "secret",
        "--learners",
        *specs,
        "--seeds",
        *seeds,
        "--out",
        str(out),
        "--db",
        str(out / "board.sqlite"),
        *options,
        "--",
        *RUN,
        "--budget",
        str(budget),
        "--eval-every",
        str(budget),
    ]


def rows(db: Path) -> list[tuple]:
    """The leaderboard's rows, wall time apart (the one thing that differs run to run)."""
    with Store(db) as store:
        runs = store.runs()
    return [
        (r.env, r.model, r.learner, r.seeds, r.auc, r.final, r.tokens, r.budget)
        for r in build_rows(runs)
    ]


def episodes(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "episodes.jsonl").read_text().splitlines()]


def run_dirs(out: Path) -> list[Path]:
    return sorted(p.parent for p in out.glob("*/seed*/config.json"))


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray of 2 CPUs for the module (compare uses Ray already up in its process).
    Its workers run at the test's priority: Ray's default, 15 steps nicer, starves them on a
    busy machine."""
    niceness = os.environ.get("RAY_worker_niceness")
    os.environ["RAY_worker_niceness"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
    if niceness is None:
        os.environ.pop("RAY_worker_niceness")
    else:
        os.environ["RAY_worker_niceness"] = niceness


def test_ray_sweep_equals_the_sequential_one(tmp_path, local_ray, capsys):
    assert main(sweep(tmp_path / "seq")) == 0
    assert main(sweep(tmp_path / "ray", "--backend", "ray", "--cpus-per-run", "1")) == 0
    err = capsys.readouterr().err
    assert err.count("[compare] finished") == 8 and "4/4 runs (100%)" in err
    assert rows(tmp_path / "ray" / "board.sqlite") == rows(tmp_path / "seq" / "board.sqlite")
    seq, on_ray = run_dirs(tmp_path / "seq"), run_dirs(tmp_path / "ray")
    assert [p.relative_to(tmp_path / "seq") for p in seq] == [
        p.relative_to(tmp_path / "ray") for p in on_ray
    ]
    for a, b in zip(seq, on_ray, strict=True):
        assert episodes(a) == episodes(b), a.name
    assert sorted(p.name for p in (tmp_path / "ray" / "logs").iterdir()) == [
        "grpo_group_size=4-seed0.log",
        "grpo_group_size=4-seed1.log",
        "sd_rollouts=4-seed0.log",
        "sd_rollouts=4-seed1.log",
    ]


def test_a_broken_configuration_is_reported_and_the_others_complete(tmp_path, local_ray, capsys):
    specs = [*SPECS, "sd:rollouts=4,alpha=0", "grpo:group_size=4,eps_low=2"]
    assert main(sweep(tmp_path, "--backend", "ray", specs=specs, seeds=["0"])) == 1
    err = capsys.readouterr().err
    assert "error: grpo[group_size=4,eps_low=2] seed 0: eps_low=2 is invalid" in err
    assert err.count("[compare] finished") == 3
    with Store(tmp_path / "board.sqlite") as store:
        assert store.count() == 3


def test_an_interrupted_sweep_reruns_only_what_is_missing(tmp_path, local_ray, capsys):
    """Ctrl-C the driver while runs are under way (on the module's Ray, through --address),
    then run the same sweep again: finished runs are reused untouched, interrupted ones
    resume, the others start; every run ends with each of its samples logged once."""
    budget = 192  # 24 steps: a run caught in its first third is still running at the Ctrl-C
    argv = sweep(tmp_path, "--backend", "ray", "--address", local_ray, budget=budget)
    driver = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.compare", *argv],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 600  # (minutes only on a machine busy with other work)
        while time.time() < deadline:
            dirs = run_dirs(tmp_path)
            done = [d for d in dirs if (d / "summary.json").exists()]
            under_way = [
                d
                for d in dirs
                if d not in done
                and (d / "updates.jsonl").is_file()
                and 1 <= (d / "updates.jsonl").read_text().count("\n") <= 8
            ]
            if done and under_way:
                break
            time.sleep(0.05)
        driver.send_signal(signal.SIGINT)
        driver.wait(timeout=600)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    assert done and under_way, "the sweep ended before it could be interrupted mid-run"
    finished = {
        d: (d / "episodes.jsonl").stat().st_mtime_ns
        for d in run_dirs(tmp_path)
        if (d / "summary.json").exists()
    }
    interrupted = [d for d in run_dirs(tmp_path) if d not in finished]
    assert interrupted
    before = {p.name: p.stat().st_size for p in (tmp_path / "logs").iterdir()}
    capsys.readouterr()
    for _ in range(20):  # until the killed tasks' workers have let go of their run directories
        if main(sweep(tmp_path, "--backend", "ray", budget=budget)) == 0:
            break
        time.sleep(0.5)
    assert "4/4 runs (100%)" in capsys.readouterr().err
    # what the tasks said since the interruption: finished runs reused, never started again;
    # interrupted runs resumed; only the runs never begun started afresh
    said = "".join(
        p.read_bytes()[before.get(p.name, 0) :].decode() for p in (tmp_path / "logs").iterdir()
    )
    for d in finished:
        assert f"reused {d}" in said and f"-> {d}" not in said
    for d in interrupted:
        assert f"resuming the interrupted run {d}" in said and f"-> {d}" not in said
    started = [
        line for line in said.splitlines() if line.startswith("[compare]") and " -> " in line
    ]
    assert len(started) == 4 - len(finished) - len(interrupted), started
    for d, mtime in finished.items():
        assert (d / "episodes.jsonl").stat().st_mtime_ns == mtime, "a finished run ran again"
    all_dirs = run_dirs(tmp_path)
    assert len(all_dirs) == 4
    for d in all_dirs:
        assert (d / "summary.json").exists()
        assert [e["sample"] for e in episodes(d)] == list(range(budget)), d
    with Store(tmp_path / "board.sqlite") as store:
        assert store.count() == 4
