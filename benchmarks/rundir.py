"""A run's directory: append-only JSONL logs, atomic JSON files, and resumable checkpoints.

Crash safety: every log line is flushed as it is written, and a checkpoint records how many
complete lines each log held when it was taken. Resuming truncates each log back to that
count (dropping a torn last line too), so the episodes after the checkpoint are replayed, not
duplicated; sampling seeds are a function of the run seed and the step, so they come out the
same.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

LOGS = ("episodes.jsonl", "updates.jsonl", "evals.jsonl")
CHECKPOINT = "checkpoint.pt"


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def complete_lines(path: Path) -> int:
    """Number of newline-terminated lines (a torn last line does not count)."""
    if not path.is_file():
        return 0
    with open(path, "rb") as f:
        return f.read().count(b"\n")


def truncate_lines(path: Path, keep: int) -> None:
    """Keep the first ``keep`` complete lines of ``path``."""
    if not path.is_file():
        return
    data = path.read_bytes()
    end = 0
    for _ in range(keep):
        nxt = data.find(b"\n", end)
        if nxt < 0:
            break
        end = nxt + 1
    if end != len(data):
        with open(path, "r+b") as f:
            f.truncate(end)


class RunDir:
    """Files of one run; logs stay open in append mode for the run's lifetime."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, Any] = {}

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def append(self, log: str, record: dict[str, Any]) -> None:
        if log not in self._files:
            self._files[log] = open(self.path / log, "a", encoding="utf-8")  # noqa: SIM115
        f = self._files[log]
        f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        f.flush()

    def sync(self) -> None:
        for f in self._files.values():
            f.flush()
            os.fsync(f.fileno())

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Atomically write a checkpoint that remembers the current length of every log."""
        self.sync()
        state = {**state, "log_lines": {log: complete_lines(self.path / log) for log in LOGS}}
        tmp = self.path / (CHECKPOINT + ".tmp")
        torch.save(state, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.path / CHECKPOINT)

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The last checkpoint, with every log truncated back to its length at that time."""
        path = self.path / CHECKPOINT
        if not path.is_file():
            return None
        state = torch.load(path, weights_only=False)
        self.close()
        for log, lines in state["log_lines"].items():
            truncate_lines(self.path / log, lines)
        return state
