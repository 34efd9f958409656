"""The playbook's record inside a run directory (written through ``rundir.RunDir``).

* ``RUN_DIR/playbook.json``: the latest playbook (``Playbook.to_dict``), replaced atomically
  after every update step.
* ``RUN_DIR/playbook_history.jsonl``: one of the run's checksummed logs, one line per update
  step (``StepReport.to_record``): ``step``; ``added`` [{id, section, text}]; ``tags`` [[id,
  tag]]; ``updated`` [[id, new text]]; ``removed`` [[id, reason]]; ``reflections`` [{task_id,
  status, text}]; ``counts`` (failures, successes, reflections_ok/partial/dropped,
  tag_outputs_unparsed, invalid_tags, unknown_ids, curator_unparsed, ops_dropped,
  duplicates, tokens_reflect, tokens_curate, playbook_size); ``snapshot`` {id: [helpful,
  harmful]} after the step. Replaying ``added``/``updated`` texts with a step's ``snapshot``
  gives the playbook as it stood then (``playbook_at``). Like every log, the run directory
  cuts it back to the last checkpoint on resume.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reflection.pipeline import StepReport
from reflection.playbook import Bullet, Playbook
from rundir import PLAYBOOK, PLAYBOOK_HISTORY, RunDir, RunDirError, read_log


class PlaybookRecorder:
    """Call ``record(report, playbook)`` after each ``ReflectionPipeline.update``."""

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir

    def record(self, report: StepReport, playbook: Playbook) -> None:
        self.run_dir.append_json(PLAYBOOK_HISTORY, report.to_record())
        playbook.save(self.run_dir / PLAYBOOK)


def read_history(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The history records in order (none if there is no history). A bad line anywhere is a
    ``RunDirError``; an unfinished last line is a write in progress and is not read."""
    path = Path(run_dir) / PLAYBOOK_HISTORY
    records = read_log(path, live=True, missing_ok=True)
    for number, record in enumerate(records, start=1):
        if not isinstance(record.get("step"), int):
            raise RunDirError(f"{path}:{number}: lacks an integer step")
    return records


def playbook_at(run_dir: str | os.PathLike, step: int) -> Playbook | None:
    """The playbook as it stood after update ``step`` (None if no record of that step).
    Texts come from the history; bullets older than the history from playbook.json."""
    records = read_history(run_dir)
    latest_path = Path(run_dir) / PLAYBOOK
    latest = Playbook.load(latest_path) if latest_path.is_file() else Playbook()
    known: dict[str, tuple[str, str]] = {b.id: (b.section, b.text) for b in latest.bullets.values()}
    target = None
    replay: dict[str, tuple[str, str]] = {}
    for rec in records:
        if rec["step"] > step:
            break
        for a in rec.get("added", []):
            replay[a["id"]] = (a["section"], a["text"])
        for bid, text in rec.get("updated", []):
            section = replay.get(bid, known.get(bid, ("others", "")))[0]
            replay[bid] = (section, text)
        target = rec
    if target is None:
        return None
    pb = Playbook(sections=list(latest.sections))
    for bid, (helpful, harmful) in target.get("snapshot", {}).items():
        section, text = replay.get(bid) or known.get(bid) or ("others", "")
        if pb.resolve_section(section) is None:
            pb.add_section(section)
        pb.bullets[bid] = Bullet(bid, pb.resolve_section(section), text, helpful, harmful)
    return pb
