"""The runner and its run directory under damage: every refusal is one line, nothing is lost.

A bad configuration leaves nothing on disk; ``--resume`` refuses a missing, corrupt or stale
checkpoint, damaged logs, a torn config.json and options that contradict the run; a second
process on one directory is refused by the lock; a full disk or a bad output path stops the
run with one line, and what was written resumes to the same result as an uninterrupted run.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from benchmarks import run as runner
from rundir import CHECKPOINT, CONFIG, EPISODES, EVALS, SUMMARY, RunDir, read_log

SMALL = [
    "--env",
    "secret",
    "--learner",
    "sd",
    "--set",
    "rollouts=2",
    "--set",
    "micro_batch=8",
    "--budget",
    "24",
    "--batch-tasks",
    "4",
    "--inner-steps",
    "1",
    "--eval-every",
    "8",
    "--eval-tasks",
    "2",
    "--eval-k",
    "2",
    "--seed",
    "5",
    "--no-leaderboard",
]


@pytest.fixture(autouse=True)
def leaderboard_db(tmp_path, monkeypatch):
    monkeypatch.setenv("RESD_LEADERBOARD", str(tmp_path / "board.sqlite"))


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """One small finished run (3 steps of 8 episodes, 4 evaluations); tests damage copies."""
    return runner.main([*SMALL, "--out", str(tmp_path_factory.mktemp("ref") / "run")])


def copy_of(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "copy", ignore=shutil.ignore_patterns(".lock")))


def refusal(argv: list[str]) -> str:
    """The runner's exit message for ``argv``, checked to be a single ``error:`` line."""
    with pytest.raises(SystemExit) as info:
        runner.main(argv)
    text = str(info.value.code)
    assert text.startswith("error: ") and "\n" not in text and "Traceback" not in text, text
    return text


def snapshot(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != ".lock"}


def episodes_and_evals(run: Path) -> tuple[list, list]:
    return read_log(run / EPISODES), read_log(run / EVALS)


# -- nothing on disk before the configuration is valid --------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["--env", "wordl"],
        ["--learner", "ppo"],
        ["--knob", "n_tasks=0"],
        ["--set", "alpah=1"],
        ["--budget", "4"],
        ["--model", "/no/such/model"],
    ],
)
def test_a_bad_configuration_creates_nothing(tmp_path, args):
    out = tmp_path / "deep" / "run"
    refusal([*SMALL, "--out", str(out), *args])
    assert not (tmp_path / "deep").exists()


def test_bad_output_paths_are_one_line(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    assert "exists and is not a directory" in refusal([*SMALL, "--out", str(tmp_path / "file")])
    text = refusal([*SMALL, "--out", str(tmp_path / "file" / "run")])
    assert re.search(r"cannot write .*file/run: Not a directory", text), text

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(Path, "mkdir", read_only)
    text = refusal([*SMALL, "--out", str(tmp_path / "ro")])
    assert "ro: Read-only file system" in text


# -- resume refusals ----------------------------------------------------------------------------
def test_a_missing_checkpoint_is_refused_and_the_logs_are_untouched(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    (run / CHECKPOINT).unlink()
    before = snapshot(run)
    assert "checkpoint.pt: missing" in refusal(["--resume", str(run)])
    assert snapshot(run) == before


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_corrupt_checkpoint_is_refused(finished, tmp_path, damage):
    run = copy_of(finished, tmp_path)
    data = (run / CHECKPOINT).read_bytes()
    broken = {"truncated": data[: len(data) // 3], "garbage": os.urandom(4096), "empty": b""}
    (run / CHECKPOINT).write_bytes(broken[damage])
    before = snapshot(run)
    assert "unreadable checkpoint" in refusal(["--resume", str(run)])
    assert snapshot(run) == before


def test_a_stale_checkpoint_is_refused(finished, tmp_path, monkeypatch):
    cut = tmp_path / "cut"
    original = runner.Run.log_step
    calls = {"n": 0}

    def interrupt_on_second(self, *args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(runner.Run, "log_step", interrupt_on_second)
    with pytest.raises(SystemExit, match="interrupted at 8 samples"):
        runner.main([*SMALL, "--out", str(cut)])
    monkeypatch.setattr(runner.Run, "log_step", original)
    stale = (cut / CHECKPOINT).read_bytes()
    runner.main(["--resume", str(cut)])
    (cut / CHECKPOINT).write_bytes(stale)  # an old copy put back over a run that went on
    text = refusal(["--resume", str(cut)])
    assert "disagrees with the logs" in text and "more than one step" in text


def test_damaged_logs_are_refused_with_file_and_line(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    lines = (run / EPISODES).read_bytes().splitlines(keepends=True)
    edited = lines[2].replace(b'"sample":2,', b'"sample":7,')
    (run / EPISODES).write_bytes(b"".join([*lines[:2], edited, *lines[3:]]))
    assert re.search(
        r"episodes.jsonl:3: (checksum mismatch|no checksum)", refusal(["--resume", str(run)])
    )
    (run / EPISODES).write_bytes(b"".join(lines[:-4]))  # lost lines: the checkpoint counts 24
    text = refusal(["--resume", str(run)])
    assert "episodes.jsonl holds 20 complete lines but the checkpoint counts 24" in text


def test_a_torn_or_foreign_config_is_refused(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    config = (run / CONFIG).read_text()
    (run / CONFIG).write_text(config[: len(config) // 2])
    assert "config.json: not valid JSON" in refusal(["--resume", str(run)])
    (run / CONFIG).write_bytes(b'{"env": "\xff"}')
    assert "config.json: not UTF-8" in refusal(["--resume", str(run)])
    (run / CONFIG).write_text(json.dumps({**json.loads(config), "budget": "lots"}))
    assert "config.json: budget='lots' is invalid" in refusal(["--resume", str(run)])


def test_options_that_contradict_the_run_are_refused(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    text = refusal(["--resume", str(run), "--learner", "grpo", "--env", "wordle"])
    assert "--learner 'grpo' (the run has 'sd')" in text
    assert "--env 'wordle' (the run has 'secret')" in text
    text = refusal(["--resume", str(run), "--set", "rollouts=4", "--budget", "48"])
    assert "--set rollouts=4 (the run has 2)" in text and "--budget 48 (the run has 24)" in text
    assert "--out" in refusal(["--resume", str(run), "--out", str(tmp_path / "elsewhere")])
    # repeating the run's own settings is no contradiction
    assert runner.main(["--resume", str(run), "--learner", "sd", "--set", "rollouts=2"]) == run


# -- the lock -------------------------------------------------------------------------------------
def test_a_second_process_on_one_directory_is_refused(finished, tmp_path):
    run = copy_of(finished, tmp_path)
    holder = RunDir.open(run)
    try:
        assert f"in use by another run (pid {os.getpid()})" in refusal(["--resume", str(run)])
    finally:
        holder.close()
    starting = RunDir.create(tmp_path / "new")  # another run starting there, no config yet
    try:
        assert "in use by another run" in refusal([*SMALL, "--out", str(tmp_path / "new")])
    finally:
        starting.close()


# -- a full disk mid-run --------------------------------------------------------------------------
def test_a_full_disk_stops_in_one_line_and_resumes_to_the_same_result(
    finished, tmp_path, monkeypatch
):
    real_write, calls = os.write, {"n": 0}

    def fills_up(fd, data):
        calls["n"] += 1
        if calls["n"] == 14:  # mid-way through the second step's episodes
            real_write(fd, bytes(data[:25]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", fills_up)
    out = tmp_path / "full"
    text = refusal([*SMALL, "--out", str(out)])
    monkeypatch.undo()
    assert re.search(r"cannot write .*episodes.jsonl: No space left on device", text), text
    assert f"resume it with {runner.command('benchmarks.run')} --resume {out}" in text
    assert not (out / SUMMARY).exists()
    resumed = runner.main(["--resume", str(out)])
    assert episodes_and_evals(resumed) == episodes_and_evals(finished)
