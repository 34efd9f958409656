"""A run's report as one self-contained HTML page: ``python -m benchmarks.report RUN_DIR``.

What a person wants at a glance, from the run directory alone (it works while the run is
going): the curves (held-out success with its confidence band over tasks, the valid-answer
rate), a warning when nothing can be learned, the evaluations and time by phase as sortable
tables, and for reflection learners the lessons with their tags and the latest reflections.
The page (default ``RUN_DIR/report.html``) has inline CSS, inline PNGs and a few lines of
inline JavaScript, nothing external; see ``leaderboard.html``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.plots import learnability_note, run_figure, run_title, success_band
from leaderboard.html import (
    Cell,
    esc,
    figure_html,
    figure_png,
    num,
    page,
    sortable_table,
    write_page,
)
from leaderboard.metrics import CONFIDENCE_DEFAULT
from reflection.playbook import Playbook
from reflection.recorder import read_history, tally_lessons
from reflection.show import shorten
from rundir import PLAYBOOK, PLAYBOOK_HISTORY, RunDirError, RunRecord, read_run
from rundir.hints import command

REPORT = "report.html"
RECENT_REFLECTIONS = 12  # the last ones written; the full list is python -m reflection.show
TEXT_CHARS = 400


def facts_html(rec: RunRecord) -> str:
    """The headline numbers as boxes: success before and after, valid answers, budget, cost."""
    first, last = rec.evals[0], rec.evals[-1]
    low, high = success_band([last])
    items = [
        ("held-out success mean@k", f"{first.success_mean:.3f} &rarr; {last.success_mean:.3f}"),
        (
            f"final {CONFIDENCE_DEFAULT:.0%} CI ({last.n_tasks} tasks)",
            f"{low[0]:.2f}-{high[0]:.2f}",
        ),
        (f"final best@{last.k}", f"{last.success_best:.3f}"),
        ("final valid answers", f"{last.valid_rate:.0%}"),
        ("training samples", f"{last.samples}"),
    ]
    if rec.summary is not None:
        s = rec.summary
        tokens = sum(s.tokens.get(k, 0) for k in ("policy", "reflection", "curation"))
        items += [("tokens (train)", f"{tokens:,}"), ("wall time", f"{s.wall_seconds:.0f} s")]
    boxes = "".join(f'<div class="fact">{esc(k)}<b>{v}</b></div>' for k, v in items)
    return f'<div class="facts">{boxes}</div>'


def evals_table(rec: RunRecord) -> str:
    low, high = success_band(rec.evals)
    rows = [
        [
            num(p.step, str(p.step)),
            num(p.samples, str(p.samples)),
            num(p.success_mean),
            num(lo, f"{lo:.3f}-{hi:.3f}"),
            num(p.success_best),
            num(p.progress_mean),
            num(p.valid_rate),
            num(p.turns_mean, None if p.turns_mean is None else f"{p.turns_mean:.2f}", 2),
            num(p.n_tasks * p.k, f"{p.n_tasks} x {p.k}"),
        ]
        for p, lo, hi in zip(rec.evals, low, high, strict=True)
    ]
    headers = [
        "step",
        "samples",
        "success mean@k",
        f"{CONFIDENCE_DEFAULT:.0%} CI (Wilson, tasks)",
        "best@k",
        "progress",
        "valid answers",
        "turns",
        "tasks x k",
    ]
    return sortable_table("evals", headers, rows)


def phases_table(rec: RunRecord) -> str:
    if rec.summary is None or not rec.summary.phases:
        return ""
    total = sum(rec.summary.phases.values()) or 1.0
    rows = [
        [Cell(name), num(secs, f"{secs:.1f} s"), num(secs / total, f"{secs / total:.0%}")]
        for name, secs in sorted(rec.summary.phases.items(), key=lambda kv: -kv[1])
    ]
    return "<h2>Time by phase</h2>" + sortable_table("phases", ["phase", "wall", "share"], rows)


def reflection_html(run: Path, records: Sequence[dict[str, Any]]) -> str:
    """Steps, lessons with their tags over the run, and the latest reflections."""
    latest = Playbook.load(run / PLAYBOOK) if (run / PLAYBOOK).is_file() else None
    parts = ["<h2>Reflection</h2>"]
    step_rows = []
    for r in records:
        c, tags = r.get("counts", {}), [t for _, t in r.get("tags", [])]
        step_rows.append(
            [
                num(r["step"], str(r["step"])),
                num(c.get("failures", 0), str(c.get("failures", 0))),
                num(c.get("successes", 0), str(c.get("successes", 0))),
                num(c.get("reflections_ok", 0), str(c.get("reflections_ok", 0))),
                num(c.get("reflections_partial", 0), str(c.get("reflections_partial", 0))),
                num(c.get("reflections_dropped", 0), str(c.get("reflections_dropped", 0))),
                num(len(r.get("added", [])), str(len(r.get("added", [])))),
                num(len(r.get("updated", [])), str(len(r.get("updated", [])))),
                num(len(r.get("removed", [])), str(len(r.get("removed", [])))),
                num(tags.count("helpful"), str(tags.count("helpful"))),
                num(tags.count("harmful"), str(tags.count("harmful"))),
                num(c.get("playbook_size", 0), str(c.get("playbook_size", 0))),
            ]
        )
    headers = ["step", "failures", "successes", "reflections ok", "partial", "dropped"]
    headers += ["lessons added", "updated", "removed", "tags helpful", "harmful", "playbook"]
    parts.append(f"<p>{len(records)} update steps.</p>")
    parts.append(sortable_table("steps", headers, step_rows))

    tallies = tally_lessons(records, latest)
    parts.append(f"<h2>Lessons ({len(tallies)})</h2>")
    if tallies:
        lesson_rows = [
            [
                Cell(t.id),
                Cell(t.section),
                num(t.helpful, str(t.helpful)),
                num(t.harmful, str(t.harmful)),
                num(t.neutral, str(t.neutral)),
                num(t.added_step, None if t.added_step is None else str(t.added_step)),
                Cell("removed, " + t.removed if t.removed else "in the playbook"),
                Cell(shorten(t.text, TEXT_CHARS)),
            ]
            for t in tallies
        ]
        parts.append(
            sortable_table(
                "lessons",
                [
                    "id",
                    "section",
                    "helpful",
                    "harmful",
                    "neutral",
                    "added at step",
                    "state",
                    "text",
                ],
                lesson_rows,
            )
        )
    else:
        parts.append('<p class="muted">No lesson was added.</p>')

    recent = [(r["step"], ref) for r in records for ref in r.get("reflections", [])]
    recent = recent[-RECENT_REFLECTIONS:]
    parts.append(f"<h2>Latest reflections ({len(recent)})</h2>")
    ref_rows = []
    for step, ref in recent:
        parsed, raw = ref.get("text", ""), ref.get("raw")
        text = parsed or (f"model wrote: {raw}" if raw is not None else "(no text kept)")
        ref_rows.append(
            [
                num(step, str(step)),
                Cell(str(ref.get("task_id", "?"))),
                Cell(str(ref.get("status", "?"))),
                Cell(shorten(text, TEXT_CHARS)),
            ]
        )
    if ref_rows:
        parts.append(sortable_table("reflections", ["step", "task", "status", "text"], ref_rows))
    parts.append(
        f'<p class="muted">All of them: <code>{esc(command("reflection.show"))} '
        f"{esc(run)} --reflections -1</code></p>"
    )
    return "\n".join(parts)


def run_report_html(run_dir: str | Path) -> str:
    """The report page of one run directory; a ``RunDirError`` when it has no evaluation."""
    run = Path(run_dir)
    rec = read_run(run, live=True)
    if not rec.evals:
        raise RunDirError(f"{run}: no evaluation yet, nothing to report")
    state = "finished" if rec.finished else "in progress (or stopped before it finished)"
    title = run_title(rec.config)
    parts = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="sub">{esc(run)}: {esc(state)}; git {esc(rec.config.get("git_commit"))}</p>',
    ]
    note = learnability_note(rec.config, rec.evals)
    if note:
        parts.append(f'<p class="note" id="learnability-note">{esc(note)}</p>')
    parts.append(facts_html(rec))
    parts.append(figure_html(figure_png(run_figure(rec)), f"curves of {title}"))
    parts.append("<h2>Held-out evaluations</h2>" + evals_table(rec))
    parts.append(phases_table(rec))
    if (run / PLAYBOOK_HISTORY).exists() or (run / PLAYBOOK).exists():
        parts.append(reflection_html(run, read_history(run)))
    config = json.dumps(rec.config, indent=2, sort_keys=True, default=str)
    parts.append(f"<details><summary>config.json</summary><pre>{esc(config)}</pre></details>")
    return page(f"resd-bench run: {title}", "\n".join(p for p in parts if p))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog=command("benchmarks.report"),
        description="Write a run's self-contained HTML report (curves, tables, reflection).",
    )
    ap.add_argument("run_dir")
    ap.add_argument("--out", help=f"the HTML file (default RUN_DIR/{REPORT})")
    args = ap.parse_args(argv)
    try:
        text = run_report_html(args.run_dir)
        path = write_page(Path(args.out) if args.out else Path(args.run_dir) / REPORT, text)
    except RunDirError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (KeyError, TypeError, ValueError) as err:  # a playbook record of the wrong shape
        print(f"error: {args.run_dir}: a reflection record is unreadable: {err!r}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
