"""The playbook's record inside a run directory (written through ``rundir.RunDir``).

* ``RUN_DIR/playbook.json``: the latest playbook (``Playbook.to_dict``), replaced atomically
  after every update step.
* ``RUN_DIR/playbook_history.jsonl``: one of the run's checksummed logs, one line per update
  step (``StepReport.to_record``): ``step``; ``added`` [{id, section, text}]; ``tags`` [[id,
  tag]]; ``updated`` [[id, new text]]; ``removed`` [[id, reason]]; ``reflections`` [{task_id,
  status, text, raw}] (``text``: the parsed diagnosis; ``raw``: what the model wrote, clipped,
  absent for oracle diagnoses and in older runs); ``counts`` (failures, successes,
  reflections_ok/partial/dropped, tag_outputs_unparsed, invalid_tags, unknown_ids,
  curator_unparsed, ops_dropped, duplicates, tokens_reflect, tokens_curate, playbook_size);
  ``snapshot`` {id: [helpful, harmful]} after the step. Replaying ``added``/``updated`` texts
  with a step's ``snapshot`` gives the playbook as it stood then (``playbook_at``);
  ``tally_lessons`` sums each lesson's tags over the run. Like every log, the run directory
  cuts it back to the last checkpoint on resume.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class LessonTally:
    """One lesson over a whole run: where it came from, what became of it, how it was tagged.

    The counts are the tags the history recorded (each failure's reflection and each success's
    tagging answer can tag it once per step), so they answer "did the model find this lesson
    useful" without trusting the playbook's own counters, which concise may have removed.
    """

    id: str
    section: str
    text: str
    added_step: int | None  # None: older than the history
    updated_steps: tuple[int, ...]
    removed: str | None  # why it left the playbook; None while it is in
    helpful: int
    harmful: int
    neutral: int

    @property
    def tagged(self) -> int:
        return self.helpful + self.harmful + self.neutral


def tally_lessons(
    records: Sequence[dict[str, Any]], latest: Playbook | None = None
) -> list[LessonTally]:
    """Every lesson the history or the latest playbook knows, most tagged first, then by id."""
    text: dict[str, tuple[str, str]] = {}
    if latest is not None:
        text.update({b.id: (b.section, b.text) for b in latest.bullets.values()})
    added: dict[str, int] = {}
    updated: dict[str, list[int]] = {}
    removed: dict[str, str] = {}
    tags: dict[str, dict[str, int]] = {}
    for rec in records:
        step = rec["step"]
        for a in rec.get("added", []):
            text[a["id"]] = (a["section"], a["text"])
            added[a["id"]] = step
            removed.pop(a["id"], None)
        for bid, new_text in rec.get("updated", []):
            text[bid] = (text.get(bid, ("others", ""))[0], new_text)
            updated.setdefault(bid, []).append(step)
        for bid, why in rec.get("removed", []):
            removed[bid] = f"step {step}: {why}"
        for bid, tag in rec.get("tags", []):
            counts = tags.setdefault(bid, {})
            counts[tag] = counts.get(tag, 0) + 1
    ids = set(text) | set(tags)
    out = [
        LessonTally(
            id=bid,
            section=text.get(bid, ("?", ""))[0],
            text=text.get(bid, ("?", ""))[1],
            added_step=added.get(bid),
            updated_steps=tuple(updated.get(bid, ())),
            removed=removed.get(bid),
            helpful=tags.get(bid, {}).get("helpful", 0),
            harmful=tags.get(bid, {}).get("harmful", 0),
            neutral=tags.get(bid, {}).get("neutral", 0),
        )
        for bid in ids
    ]
    out.sort(key=lambda t: (-t.tagged, t.id))
    return out
