"""Experiment trackers: what TensorBoard and W&B get is what the run directory holds, read back
from their own files; several loggers at once; a missing package is one line before torch."""

from __future__ import annotations

import importlib.util
import math
import os
import signal
import struct
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from benchmarks import run as runner
from benchmarks import trackers
from rundir import EVALS, UPDATES, read_config, read_log
from tests.benchmarks.test_run import FAST as RUN_FAST

ROOT = Path(__file__).resolve().parents[2]
FAST = [*RUN_FAST, "--no-leaderboard"]  # the runner tests' small run
HAS_TB = importlib.util.find_spec("tensorboard") is not None
HAS_WANDB = importlib.util.find_spec("wandb") is not None
needs_tb = pytest.mark.skipif(
    not HAS_TB, reason="tensorboard is not installed: pip install -e '.[tensorboard]'"
)
needs_wandb = pytest.mark.skipif(
    not HAS_WANDB, reason="wandb is not installed: pip install -e '.[wandb]'"
)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No leaderboard, and W&B offline with its own files in tmp (never the user's)."""
    monkeypatch.setenv("RESD_LEADERBOARD", str(tmp_path / "board.sqlite"))
    for name in ("WANDB_MODE", "WANDB_PROJECT", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        (tmp_path / name).mkdir()
        monkeypatch.setenv(name, str(tmp_path / name))
    monkeypatch.setenv("WANDB_SILENT", "true")


def expected(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Every metric of the run directory's update and eval lines: name -> [(step, value)]."""
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for log in (UPDATES, EVALS):
        for data in read_log(run / log):
            for name, value in trackers.metrics(log, data).items():
                series[name].append((data["samples"], value))
    return dict(series)


def tensorboard_scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    """The scalars TensorBoard itself reads from the run's event files (purges applied)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / trackers.TB_DIR), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for name, points in want.items():
        assert [s for s, _ in got[name]] == [s for s, _ in points], name
        for (_, a), (_, b) in zip(got[name], points, strict=True):
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-6), name


# -- the command line -----------------------------------------------------------------------------
def test_several_loggers_are_one_flag_each():
    args = runner.parse_args(["--logger", "tensorboard", "--logger", "wandb"])
    assert args.logger == ["tensorboard", "wandb"]
    assert runner.parse_args([]).logger is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("tensorboard,wandb", "one logger per --logger: --logger tensorboard --logger wandb"),
        ("mlflow", "unknown logger 'mlflow'; loggers: tensorboard, wandb"),
    ],
)
def test_a_bad_logger_is_refused_by_the_parser(value, message, capsys):
    with pytest.raises(SystemExit):
        runner.parse_args(["--logger", value])
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("name", ["tensorboard", "wandb"])
def test_a_missing_package_is_one_line_naming_the_extra(name, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        trackers.importlib.util, "find_spec", lambda m, *a: None if m == name else real(m, *a)
    )
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        runner.main([*FAST, "--out", str(out), "--logger", name])
    assert str(info.value.code) == (
        f"error: --logger {name} needs the {name} package, which is not installed: "
        f"pip install -e '.[{name}]' (or pip install {name})"
    )
    assert not out.exists()


def test_a_missing_package_is_refused_before_torch(tmp_path):
    """In a fresh interpreter where wandb cannot be found: the error comes before torch."""
    out = tmp_path / "run"
    code = (
        "import sys; sys.modules['wandb'] = None\n"  # find_spec('wandb') is None now
        "from benchmarks.run import main\n"
        f"try:\n    main(['--out', {str(out)!r}, '--logger', 'wandb'])\n"
        "finally:\n    print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 1 and "pip install -e '.[wandb]'" in proc.stderr
    assert proc.stdout.strip() == "[]" and not out.exists()


# -- TensorBoard, read back -----------------------------------------------------------------------
@needs_tb
def test_tensorboard_holds_the_run_directory_metrics(tmp_path):
    run = runner.main([*FAST, "--out", str(tmp_path / "run"), "--logger", "tensorboard"])
    got, want = tensorboard_scalars(run), expected(run)
    assert {"updates/train_success", "updates/loss", "evals/success_mean"} <= set(want)
    assert [s for s, _ in want["evals/success_mean"]] == [0, 16, 32]
    same(got, want)


@needs_tb
@pytest.mark.parametrize(
    ("stop_at", "samples"),
    [(4, 16), (5, 16)],
    ids=["update-not-checkpointed", "eval-not-checkpointed"],
)
def test_a_resumed_run_continues_the_same_steps(stop_at, samples, tmp_path, monkeypatch):
    """Stopped after a record reached TensorBoard but before its checkpoint (the 4th
    checkpoint follows the update at 16 samples, the 5th the evaluation at 16): the resumed
    run's TensorBoard holds each record once, as the run directory does."""
    original = runner.Run.checkpoint
    calls = {"n": 0}

    def interrupt(self):
        calls["n"] += 1
        if calls["n"] == stop_at:
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(runner.Run, "checkpoint", interrupt)
    out = tmp_path / "cut"
    with pytest.raises(SystemExit, match=f"interrupted at {samples} samples"):
        runner.main([*FAST, "--out", str(out), "--logger", "tensorboard"])
    monkeypatch.setattr(runner.Run, "checkpoint", original)
    assert tensorboard_scalars(out)["updates/step"][-1] == (16, 1.0)  # logged, not checkpointed
    runner.main(["--resume", str(out), "--logger", "tensorboard"])
    same(tensorboard_scalars(out), expected(out))


@needs_tb
def test_kill_9_then_resume_leaves_tensorboard_as_the_run_directory(tmp_path):
    """Killed without a chance to close the writer: what reached TensorBoard up to the last
    checkpoint is on disk (flushed there), and the resume drops what came after it."""
    out = tmp_path / "killed"
    argv = [*FAST, "--out", str(out), "--budget", "64", "--eval-every", "32"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.run", *argv, "--logger", "tensorboard"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    updates = out / UPDATES
    while time.time() < deadline and proc.poll() is None:
        if updates.is_file() and updates.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    runner.main(["--resume", str(out), "--logger", "tensorboard"])
    want = expected(out)
    assert [s for s, _ in want["updates/step"]] == [8 * (n + 1) for n in range(8)]
    same(tensorboard_scalars(out), want)


# -- W&B offline, read back -----------------------------------------------------------------------
def wandb_records(run: Path) -> list:
    """The records of the run's offline W&B file (``run-ID.wandb``: a header, then LevelDB
    log blocks of protobuf ``Record``s), read without W&B's service."""
    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = (run / "wandb").glob("offline-run-*/run-*.wandb")
    raw, block, pos, parts, records = path.read_bytes(), 32768, 7, b"", []
    assert raw[:4] == b":W&B"
    while pos + 7 <= len(raw):
        left = block - pos % block
        if left < 7:  # a block's tail too short for a header is padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", raw[pos : pos + 7])
        if (length, kind) == (0, 0):
            pos += left
            continue
        data, pos = raw[pos + 7 : pos + 7 + length], pos + 7 + length
        parts = data if kind in (1, 2) else parts + data  # full / first, middle / last
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(parts)
            records.append(record)
    return records


@needs_wandb
@needs_tb
def test_wandb_offline_and_tensorboard_at_once(tmp_path):
    import json

    run = runner.main(
        [*FAST, "--out", str(tmp_path / "run"), "--logger", "wandb", "--logger", "tensorboard"]
    )
    want = expected(run)
    same(tensorboard_scalars(run), want)
    records = wandb_records(run)
    (header,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert (header.run_id, header.display_name, header.project) == ("run", "run", "resd-bench")
    config = {u.key: json.loads(u.value_json) for u in header.config.update}
    assert config["config_key"] == read_config(run)["config_key"] and config["learner"] == "sd"
    rows: dict[int, dict[str, float]] = defaultdict(dict)  # W&B merges one step's logs a row
    for r in records:
        if r.WhichOneof("record_type") == "history":
            for item in r.history.item:  # a key is a path: ["updates/loss"]
                name = item.key or ".".join(item.nested_key)
                if not name.startswith("_"):  # _step, _runtime, _timestamp: W&B's own
                    rows[r.history.step.num][name] = json.loads(item.value_json)
    got: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for step in sorted(rows):
        for name, value in rows[step].items():
            got[name].append((step, value))
    same(dict(got), want)
