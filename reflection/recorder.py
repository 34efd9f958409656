"""The playbook's record inside a run directory.

Layout (both files written only by ``PlaybookRecorder``):

* ``RUN_DIR/playbook.json``: the latest playbook (``Playbook.to_dict``), replaced atomically
  after every update step.
* ``RUN_DIR/playbook_history.jsonl``: append-only, one JSON object per update step
  (``StepReport.to_record``): ``step``; ``added`` [{id, section, text}]; ``tags`` [[id, tag]];
  ``updated`` [[id, new text]]; ``removed`` [[id, reason]]; ``reflections`` [{task_id,
  status, text}]; ``counts`` (failures, successes, reflections_ok/partial/dropped,
  tag_outputs_unparsed, invalid_tags, unknown_ids, curator_unparsed, ops_dropped,
  duplicates, tokens_reflect, tokens_curate, playbook_size); ``snapshot`` {id: [helpful,
  harmful]} after the step. Replaying ``added``/``updated`` texts with a step's ``snapshot``
  gives the playbook as it stood then (``playbook_at``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reflection.pipeline import StepReport
from reflection.playbook import Bullet, Playbook, atomic_write_text

PLAYBOOK_FILE = "playbook.json"
HISTORY_FILE = "playbook_history.jsonl"


class PlaybookRecorder:
    """Call ``record(report, playbook)`` after each ``ReflectionPipeline.update``."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def record(self, report: StepReport, playbook: Playbook) -> None:
        playbook.save(self.run_dir / PLAYBOOK_FILE)
        line = json.dumps(report.to_record(), ensure_ascii=False)
        with open(self.run_dir / HISTORY_FILE, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def truncate_after(self, step: int) -> None:
        """On resume from a checkpoint at ``step``: forget history lines of later steps
        (and a torn last line), so the resumed run does not record them twice."""
        records, _ = read_history(self.run_dir)
        kept = [json.dumps(r, ensure_ascii=False) for r in records if r["step"] <= step]
        atomic_write_text(self.run_dir / HISTORY_FILE, "".join(k + "\n" for k in kept))


def read_history(run_dir: str | os.PathLike) -> tuple[list[dict[str, Any]], int]:
    """The history records in order, and the number of unreadable lines skipped."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.is_file():
        return [], 0
    records, bad = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(rec, dict) and isinstance(rec.get("step"), int):
            records.append(rec)
        else:
            bad += 1
    return records, bad


def playbook_at(run_dir: str | os.PathLike, step: int) -> Playbook | None:
    """The playbook as it stood after update ``step`` (None if no record of that step).
    Texts come from the history; bullets older than the history from playbook.json."""
    records, _ = read_history(run_dir)
    latest_path = Path(run_dir) / PLAYBOOK_FILE
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
