"""Experiment trackers (``--logger tensorboard``, ``--logger wandb``): the run's metrics where
the ecosystem looks for them, beside the run directory, which stays the record of the run.

A tracker gets every update and evaluation record as the runner writes it, under the names
the run directory uses: ``updates/<field>`` for a line of updates.jsonl, ``evals/<field>`` for
a line of evals.jsonl (``updates/train_success``, ``updates/loss``, ``evals/success_mean``,
...), each number of the line as it is, at step = the record's ``samples`` (training episodes
drawn, the x-axis of every curve; ``samples`` itself is the step, not a metric). TensorBoard
writes to ``RUN_DIR/tensorboard/``; Weights & Biases runs offline unless ``WANDB_MODE`` says
otherwise, in ``RUN_DIR/wandb/``. Trackers are flushed at every checkpoint, and a resumed run
continues the same steps: TensorBoard drops what it got from the checkpoint's step on
(``purge_step``) and the records at that step are handed over again from the rewound logs, so
its event files read back as exactly the run directory's records, after a Ctrl-C or a kill -9.
W&B continues the same run id (the run directory's name) in a new offline run.

This module is light (no torch, no tracker package at import): ``require`` checks the packages
at argument time, so a missing one is a one-line error before anything is loaded or written.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from rundir import EVALS, UPDATES, read_config, read_log
from rundir.directory import LogRecord
from rundir.errors import first_line

# logger name -> (the package it needs, the extra of this project that installs it)
PACKAGES: dict[str, tuple[str, str]] = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "wandb": ("wandb", "wandb"),
}
NAMES = tuple(PACKAGES)
TB_DIR = "tensorboard"
# the logs whose records trackers get, and the prefix of their metric names
TRACKED = {UPDATES: Path(UPDATES).stem, EVALS: Path(EVALS).stem}


class TrackerUnavailable(RuntimeError):
    """A tracker was asked for whose package is not installed (one line, naming the extra)."""


class TrackerError(RuntimeError):
    """A tracker did not start (W&B online without a login, say); one line."""


class Tracker(Protocol):
    """What the runner needs of a tracker: metrics at a step, a flush at each checkpoint (so a
    killed run loses nothing the checkpoint counts), and a close at the end."""

    def log(self, metrics: Mapping[str, float], step: int) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def logger_name(text: str) -> str:
    """``--logger``'s argument type: a known name. A comma list is refused with the spelling
    that works, so there is one way to ask for several."""
    if text in PACKAGES:
        return text
    if "," in text:
        names = [n.strip() for n in text.split(",") if n.strip()]
        hint = " ".join(f"--logger {n}" for n in names)
        raise argparse.ArgumentTypeError(f"one logger per --logger: {hint}")
    raise argparse.ArgumentTypeError(f"unknown logger {text!r}; loggers: {', '.join(NAMES)}")


def require(names: Iterable[str]) -> None:
    """Refuse, before anything heavy loads, a logger whose package is missing."""
    for name in dict.fromkeys(names):
        package, extra = PACKAGES[name]
        if importlib.util.find_spec(package) is None:
            raise TrackerUnavailable(
                f"--logger {name} needs the {package} package, which is not installed: "
                f"pip install -e '.[{extra}]' (or pip install {package})"
            )


def metrics(log: str, data: Mapping[str, Any]) -> dict[str, float]:
    """A log line's numbers under their run-directory names (``updates/loss``); the step
    (``samples``) and anything that is not a number are left out."""
    prefix = TRACKED[log]
    return {
        f"{prefix}/{key}": float(value)
        for key, value in data.items()
        if key != "samples" and isinstance(value, int | float) and not isinstance(value, bool)
    }


def after_existing_files(log_dir: Path) -> None:
    """Wait until a new event file sorts after the folder's existing ones. TensorBoard reads
    a folder's files in name order, and a name starts with the second it was opened in, then
    host and pid: a run resumed within the second its killed process opened its file could
    sort first, and the purge of the resumed file would then be read before the events it
    drops."""
    stamps = [int(f.name.split(".")[3]) for f in log_dir.glob("events.out.tfevents.*")]
    while stamps and int(time.time()) <= max(stamps):
        time.sleep(0.05)


class TensorBoardTracker:
    """Scalars in ``RUN_DIR/tensorboard`` (``tensorboard --logdir runs`` shows every run)."""

    def __init__(self, run_dir: Path, purge_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        after_existing_files(run_dir / TB_DIR)
        self.writer = SummaryWriter(log_dir=str(run_dir / TB_DIR), purge_step=purge_step)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, global_step=step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def wandb_id(run_dir: Path) -> str:
    """A stable W&B run id for a run directory (its name, in the characters W&B allows), so a
    resumed run continues the same W&B run."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_dir.resolve().name)[-64:]


class WandbTracker:
    """A W&B run named after the run directory, its config the resolved run config; offline
    (no account, nothing sent: ``wandb sync`` uploads it later) unless ``WANDB_MODE`` is set."""

    def __init__(self, run_dir: Path, config: Mapping[str, Any], resume: bool = False) -> None:
        import wandb

        options: dict[str, Any] = {}
        if "WANDB_MODE" not in os.environ:
            options["mode"] = "offline"
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "resd-bench"),
            name=run_dir.name,
            id=wandb_id(run_dir),
            resume="allow" if resume else None,
            config=dict(config),
            dir=str(run_dir),
            **options,
        )

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.run.log(dict(metrics), step=step)

    def flush(self) -> None:
        """Nothing to do: W&B's service process writes what it gets as it gets it."""

    def close(self) -> None:
        self.run.finish()


class Trackers:
    """The trackers of one run, fed the records the runner writes (none: a no-op)."""

    def __init__(self, trackers: Sequence[Tracker] = ()) -> None:
        self.trackers = list(trackers)

    def record(self, record: LogRecord) -> None:
        """Hand a record the runner has just written to its log to every tracker."""
        if self.trackers:
            self.line(record.LOG, record.to_json())

    def line(self, log: str, data: Mapping[str, Any]) -> None:
        """Hand one line of ``log``, as written, to every tracker."""
        if log not in TRACKED:
            return
        values = metrics(log, data)
        step = int(data["samples"])
        for tracker in self.trackers:
            tracker.log(values, step)

    def flush(self) -> None:
        """Put on disk what the trackers hold, at each checkpoint: a run killed after it
        resumes from it, and drops from the trackers only what came later."""
        for tracker in self.trackers:
            tracker.flush()

    def close(self) -> None:
        """Close every tracker; one that fails to is a one-line warning, since the run and
        its directory are complete without it."""
        for tracker in self.trackers:
            try:
                tracker.close()
            except Exception as err:
                warnings.warn(f"a tracker did not close cleanly: {first_line(err)}", stacklevel=2)
        self.trackers = []


def open_trackers(names: Sequence[str], run_dir: Path, resume_at: int | None = None) -> Trackers:
    """The trackers ``names`` for the run in ``run_dir`` (its config.json written). With
    ``resume_at`` (the samples of the checkpoint a resumed run starts from, its logs rewound to
    it), what was logged from that step on is dropped and the records at it are logged again,
    so a tracker holds exactly what the run directory holds."""
    opened: list[Tracker] = []
    name = ""
    try:
        for name in dict.fromkeys(names):
            if name == "tensorboard":
                opened.append(TensorBoardTracker(run_dir, purge_step=resume_at))
            elif name == "wandb":
                opened.append(WandbTracker(run_dir, read_config(run_dir), resume_at is not None))
    except Exception as err:
        Trackers(opened).close()
        raise TrackerError(f"--logger {name} did not start: {first_line(err)}") from err
    except BaseException:
        Trackers(opened).close()
        raise
    trackers = Trackers(opened)
    if resume_at is not None:
        for log in TRACKED:
            for data in read_log(run_dir / log, missing_ok=True):
                if data.get("samples") == resume_at:
                    trackers.line(log, data)
    return trackers
