"""The readers of a run directory, for the plots, compare and the leaderboard.

Everything read is checked: JSON files must be UTF-8 objects, log lines must pass their
checksum, records their field checks, and the eval curve must not go back in samples. A
problem is a one-line ``RunDirError`` naming the file (and line).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rundir.errors import RunDirError, read_failure
from rundir.jsonl import iter_log
from rundir.layout import CONFIG, EVALS, SUMMARY
from rundir.records import EvalRecord, SummaryRecord


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from a UTF-8 file (config.json, summary.json, playbook.json)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RunDirError(f"{path}: missing") from None
    except OSError as err:
        raise read_failure(path, err) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise RunDirError(f"{path}: not UTF-8 (byte {err.start})") from None
    except (ValueError, RecursionError) as err:
        raise RunDirError(f"{path}: not valid JSON, torn or edited ({err})") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{path}: expected a JSON object")
    return data


def read_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    return read_json_object(Path(run_dir) / CONFIG)


def read_summary(run_dir: str | os.PathLike) -> SummaryRecord | None:
    """The summary of a finished run; None while the run is going (no summary.json yet)."""
    path = Path(run_dir) / SUMMARY
    if not path.exists():
        return None
    return SummaryRecord.from_json(read_json_object(path), str(path))


def read_evals(run_dir: str | os.PathLike, *, live: bool = False) -> list[EvalRecord]:
    """The eval curve in file order; its samples and steps never go back. ``live``: the run
    may be writing now, so an unfinished last line is not read (instead of refused)."""
    path = Path(run_dir) / EVALS
    points: list[EvalRecord] = []
    for number, data in iter_log(path, live=live):
        point = EvalRecord.from_json(data, f"{path}:{number}")
        if points and (point.samples < points[-1].samples or point.step < points[-1].step):
            raise RunDirError(
                f"{path}:{number}: the curve goes back (samples {points[-1].samples} -> "
                f"{point.samples}, step {points[-1].step} -> {point.step})"
            )
        points.append(point)
    return points


@dataclass
class RunRecord:
    """What a run directory holds, as far as the leaderboard and the plots need it."""

    run_dir: Path
    config: dict[str, Any]
    summary: SummaryRecord | None
    evals: list[EvalRecord]

    @property
    def finished(self) -> bool:
        return self.summary is not None and self.summary.finished


def read_run(run_dir: str | os.PathLike, *, live: bool = False) -> RunRecord:
    """Config, summary (None while the run is going) and eval curve of a run directory."""
    root = Path(run_dir)
    if not root.is_dir():
        raise RunDirError(f"{root}: not a directory")
    return RunRecord(root, read_config(root), read_summary(root), read_evals(root, live=live))
