"""The runner end to end on the toy env: files, errors, Ctrl-C and kill -9 with resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import run as runner

ROOT = Path(__file__).resolve().parents[2]
FAST = [
    "--env",
    "secret",
    "--learner",
    "sd",
    "--set",
    "rollouts=2",
    "--set",
    "micro_batch=8",
    "--budget",
    "32",
    "--batch-tasks",
    "4",
    "--inner-steps",
    "2",
    "--eval-every",
    "16",
    "--eval-tasks",
    "4",
    "--eval-k",
    "2",
    "--seed",
    "3",
]


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


@pytest.fixture(autouse=True)
def leaderboard_db(tmp_path, monkeypatch):
    monkeypatch.setenv("RESD_LEADERBOARD", str(tmp_path / "board.sqlite"))


def test_run_writes_a_complete_directory(tmp_path):
    out = runner.main(FAST + ["--out", str(tmp_path / "run")])
    for name in (
        "config.json",
        "episodes.jsonl",
        "updates.jsonl",
        "evals.jsonl",
        "summary.json",
        "curves.png",
        "checkpoint.pt",
    ):
        assert (out / name).is_file(), name
    episodes = lines(out / "episodes.jsonl")
    assert [e["sample"] for e in episodes] == list(range(32))
    evals = lines(out / "evals.jsonl")
    assert [e["samples"] for e in evals] == [0, 16, 32]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] and summary["samples"] == 32 and summary["steps"] == 4
    assert summary["tokens"]["policy"] == sum(t["tokens"] for e in episodes for t in e["turns"])
    config = json.loads((out / "config.json").read_text())
    assert config["learner_config"]["rollouts"] == 2 and config["git_commit"]
    # the run's identity: a hash of the resolved config, provenance and seed apart
    from rundir import config_key

    assert (
        config["config_key"]
        == config_key(config)
        == runner.config_record(runner.saved_config(out))["config_key"]
    )
    from leaderboard.store import Store

    with Store() as store:
        assert store.count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "wordl"], "unknown environment 'wordl'.*valid names"),
        (["--learner", "ppo"], "unknown learner 'ppo'.*valid learners: grpo, resd, sd"),
        (["--knob", "length=9"], "length=9 is out of range"),
        (["--set", "alpah=1"], "unknown setting.*alpah"),
        (["--budget", "4"], "budget=4 is smaller than one batch"),
        (["--preset", "nope"], "preset 'nope' not found; presets: cpu, paper"),
    ],
)
def test_user_errors_are_one_line(tmp_path, args, message, capsys):
    base = ["--env", "wordle", "--learner", "sd", "--out", str(tmp_path / "x")]
    with pytest.raises(SystemExit) as exit_info:
        runner.main(base + args)
    text = str(exit_info.value.code)
    assert text.startswith("error: ") and "\n" not in text
    import re

    assert re.search(message, text), text


def test_refuses_a_directory_holding_another_run(tmp_path):
    out = runner.main(FAST + ["--out", str(tmp_path / "run"), "--no-leaderboard"])
    with pytest.raises(SystemExit, match="already holds a run"):
        runner.main(FAST + ["--out", str(out)])


def test_ctrl_c_then_resume_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    reference = runner.main(FAST + ["--out", str(tmp_path / "ref"), "--no-leaderboard"])
    original = runner.Run.log_step
    calls = {"n": 0}

    def interrupt_on_third(self, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(runner.Run, "log_step", interrupt_on_third)
    with pytest.raises(SystemExit, match="interrupted at 16 samples"):
        runner.main(FAST + ["--out", str(tmp_path / "cut"), "--no-leaderboard"])
    monkeypatch.setattr(runner.Run, "log_step", original)
    resumed = runner.main(["--resume", str(tmp_path / "cut"), "--no-leaderboard"])
    for log in ("episodes.jsonl", "evals.jsonl"):
        assert lines(resumed / log) == lines(reference / log), log


def test_kill_9_mid_run_then_resume_loses_and_repeats_nothing(tmp_path):
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            *FAST,
            "--out",
            str(out),
            "--no-leaderboard",
            "--budget",
            "96",
            "--eval-every",
            "48",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while time.time() < deadline:
        updates = out / "updates.jsonl"
        if updates.is_file() and updates.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    resumed = runner.main(["--resume", str(out), "--no-leaderboard"])
    samples = [e["sample"] for e in lines(resumed / "episodes.jsonl")]
    assert samples == list(range(96))
    updates = lines(resumed / "updates.jsonl")
    assert [u["samples"] for u in updates] == [8 * (n + 1) for n in range(12)]
    steps = [u["step"] for u in updates]
    assert steps == list(range(12))
