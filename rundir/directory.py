"""The writer of a run directory: locked, append-only logs, atomic files, safe checkpoints.

A ``RunDir`` holds the directory's lock for its lifetime (``create`` for a new run, ``open``
to resume one; ``close`` releases it). Crash safety: every log line is one unbuffered write of
a whole, checksummed line, and a checkpoint records how many lines each log held when it was
taken. Resuming reads the checkpoint (``read_checkpoint``: every line up to that length must
check, and nothing may be missing) and cuts the logs back to it (``rewind``), so the steps after
the checkpoint are replayed, not duplicated. Checkpoints are written by ``torch.save`` and read
with ``weights_only=True``: tensors and plain containers only, so loading one never runs code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rundir.atomic import write_atomic, write_json_atomic
from rundir.errors import RunDirError, first_line, write_failure
from rundir.jsonl import LogAppender, iter_log, truncate_lines
from rundir.layout import CHECKPOINT, CONFIG, LOGS
from rundir.lock import RunLock


class LogRecord(Protocol):
    """A typed record that knows its log (``EpisodeRecord``, ``UpdateRecord``, ...)."""

    LOG: str

    def to_json(self) -> dict[str, Any]: ...


@dataclass
class Checkpoint:
    """A checkpoint as read back: the writer's state, each log's length when it was taken,
    each log's last record within that length (None for an empty log) and the (checked)
    records each log holds beyond it: what the writer can compare with its own counters."""

    state: dict[str, Any]
    log_lines: dict[str, int]
    last: dict[str, dict[str, Any] | None]
    beyond: dict[str, list[dict[str, Any]]]


class RunDir:
    """The files of one run, written by this process alone while it holds the lock."""

    def __init__(self, path: Path, lock: RunLock, lines: dict[str, int]) -> None:
        """Use ``RunDir.create`` or ``RunDir.open``."""
        self.path = path
        self._lock = lock
        self._lines = dict(lines)
        self._logs: dict[str, LogAppender] = {}

    @classmethod
    def create(cls, path: str | os.PathLike) -> RunDir:
        """A new run's directory, made if needed and locked; refused if it holds a run. Logs
        left by a start that never wrote its config.json (so never ran) are emptied."""
        path = Path(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise RunDirError(f"{path} exists and is not a directory") from None
        except OSError as err:
            raise write_failure(path, err) from None
        lock = RunLock(path)
        try:
            if (path / CONFIG).exists():
                raise RunDirError(f"{path} already holds a run")
            for log in LOGS:
                truncate_lines(path / log, 0)
        except BaseException:
            lock.release()
            raise
        return cls(path, lock, dict.fromkeys(LOGS, 0))

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDir:
        """An existing run's directory, locked; nothing changes on disk until ``rewind``."""
        path = Path(path)
        if not (path / CONFIG).is_file():
            raise RunDirError(f"{path} holds no run to resume (no {CONFIG})")
        return cls(path, RunLock(path), {})

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # -- writing ---------------------------------------------------------------------------------
    def append(self, record: LogRecord) -> None:
        self.append_json(record.LOG, record.to_json())

    def append_json(self, log: str, data: dict[str, Any]) -> None:
        """Append one line to ``log`` (one of ``LOGS``)."""
        if log not in self._lines:
            raise RunDirError(f"{self.path / log}: not a log of this run, or not rewound yet")
        if log not in self._logs:
            self._logs[log] = LogAppender(self.path / log)
        self._logs[log].append(data)
        self._lines[log] += 1

    def write_json(self, name: str, data: Any) -> None:
        write_json_atomic(self.path / name, data)

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Atomically write ``state`` (tensors and plain containers) with every log's length,
        after making the logs durable, so the checkpoint never counts a line the disk lacks."""
        import torch

        for appender in self._logs.values():
            appender.sync()
        payload = {**state, "log_lines": dict(self._lines)}
        write_atomic(self.path / CHECKPOINT, lambda f: torch.save(payload, f))

    # -- resuming --------------------------------------------------------------------------------
    def read_checkpoint(self) -> Checkpoint:
        """The last checkpoint, checked against the logs; changes nothing on disk.

        Refused in one line when the checkpoint is missing, unreadable or unsafe, or when a
        log lost lines it counts or holds a bad line anywhere (only a torn last line, a write
        cut by a crash, is let through: ``rewind`` cuts it).
        """
        state = load_checkpoint(self.path / CHECKPOINT)
        log_lines = state.pop("log_lines")
        checkpoint = Checkpoint(state, log_lines, {}, {})
        for log in LOGS:
            checkpoint.last[log], checkpoint.beyond[log] = self._split(log, log_lines[log])
        return checkpoint

    def _split(self, log: str, counted: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """A log's last record within ``counted`` lines and its records after them."""
        path = self.path / log
        if not path.exists() and counted == 0:
            return None, []
        lines, last, beyond = 0, None, []
        for lines, record in iter_log(path, live=True):  # noqa: B007 (lines: the count)
            if lines <= counted:
                last = record
            else:
                beyond.append(record)
        if lines < counted:
            raise RunDirError(
                f"{path} holds {lines} complete lines but the checkpoint counts {counted}: "
                "lines were lost, so the run cannot resume"
            )
        return last, beyond

    def rewind(self, checkpoint: Checkpoint) -> None:
        """Cut every log back to its length at ``checkpoint``: the lines of the step it did
        not record (that step is replayed) and a torn last line go."""
        self._close_logs()
        for log in LOGS:
            truncate_lines(self.path / log, checkpoint.log_lines[log])
        self._lines = dict(checkpoint.log_lines)

    # -- the end ---------------------------------------------------------------------------------
    def _close_logs(self) -> None:
        for appender in self._logs.values():
            appender.close()
        self._logs.clear()

    def close(self) -> None:
        """Close the logs and release the lock (idempotent)."""
        self._close_logs()
        self._lock.release()


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint file's contents, loaded without running code (``weights_only=True``)."""
    if not path.is_file():
        raise RunDirError(
            f"{path}: missing, so the logs cannot be matched to a training state "
            "(starting over beside them would count samples twice)"
        )
    import torch

    try:
        state = torch.load(path, weights_only=True)
    except Exception as err:  # a corrupt, truncated or unsafe file raises any of many types
        raise RunDirError(f"{path}: unreadable checkpoint ({first_line(err)})") from None
    log_lines = state.get("log_lines") if isinstance(state, dict) else None
    if not isinstance(log_lines, dict) or not all(
        isinstance(log_lines.get(log), int) and log_lines[log] >= 0 for log in LOGS
    ):
        raise RunDirError(f"{path}: not a checkpoint of this version (no line count per log)")
    return state
