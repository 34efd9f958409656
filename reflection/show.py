"""Inspect a run's reflection: ``python -m reflection.show RUN_DIR [--step N] [--no-steps]``.

Prints the playbook with its counters (the latest, or as it stood after step N); then for each
update step what it added, tagged, updated and removed, what could not be parsed, and the
reflections the model wrote (a few per step, each cut to one line); then every lesson with how
often it was tagged helpful / harmful / neutral over the run.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections import Counter
from pathlib import Path

from reflection.pipeline import PROBLEM_COUNTS
from reflection.playbook import Playbook
from reflection.recorder import LessonTally, playbook_at, read_history, tally_lessons
from rundir import PLAYBOOK, RunDirError
from rundir.hints import command


def step_lines(rec: dict) -> list[str]:
    c = rec.get("counts", {})
    tags = Counter(t for _, t in rec.get("tags", []))
    head = (
        f"step {rec['step']}: {c.get('failures', 0)} failures, {c.get('successes', 0)} "
        f"successes; +{len(rec.get('added', []))} added, {len(rec.get('removed', []))} removed, "
        f"tags {tags.get('helpful', 0)} helpful / {tags.get('harmful', 0)} harmful / "
        f"{tags.get('neutral', 0)} neutral; size {c.get('playbook_size', '?')}"
    )
    problems = {k: c.get(k, 0) for k in PROBLEM_COUNTS}
    lines = [head]
    if any(problems.values()):
        lines.append("  dropped: " + ", ".join(f"{k}={v}" for k, v in problems.items() if v))
    if c.get("tokens_reflect") or c.get("tokens_curate"):
        lines.append(
            f"  tokens: reflect {c.get('tokens_reflect', 0)}, curate {c.get('tokens_curate', 0)}"
        )
    lines += [f"  + [{a['id']}] {printable(a['text'])}" for a in rec.get("added", [])]
    lines += [f"  ~ [{bid}] {printable(text)}" for bid, text in rec.get("updated", [])]
    lines += [f"  - [{bid}] ({printable(why)})" for bid, why in rec.get("removed", [])]
    by_id: dict[str, list[str]] = {}
    for bid, tag in rec.get("tags", []):
        by_id.setdefault(bid, []).append(tag)
    if by_id:
        lines.append(
            "  tagged: "
            + ", ".join(
                f"{bid} " + "/".join(f"{t}x{n}" if n > 1 else t for t, n in Counter(ts).items())
                for bid, ts in by_id.items()
            )
        )
    return lines


# Unicode categories written as escapes: control (ANSI, bell), format (bidi overrides), lone
# surrogates (unprintable, and unencodable on stdout), line and paragraph separators.
_ESCAPED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def printable(text: str) -> str:
    """Model output made safe for a terminal: what could drive it or break a line, escaped."""
    return "".join(
        ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        if unicodedata.category(ch) in _ESCAPED
        else ch
        for ch in text
    )


def shorten(text: str, width: int) -> str:
    """``text`` on one printable line, cut to ``width`` characters with a note of what was cut
    (0: the whole text): a reflection can be a page, the listing stays one line each."""
    flat = printable(" ".join(str(text).split()))
    if width <= 0 or len(flat) <= width:
        return flat
    keep = max(1, width - len("...") - len(f" [+{len(flat)} chars]"))
    return f"{flat[:keep]}... [+{len(flat) - keep} chars]"


def reflection_lines(rec: dict, limit: int, width: int) -> list[str]:
    """The step's reflections: the parsed diagnosis, else what the model wrote (``raw``);
    at most ``limit`` of them (negative: all), each one line."""
    refs = rec.get("reflections", [])
    if limit == 0 or not refs:
        return []
    shown = refs if limit < 0 else refs[:limit]
    lines = []
    for r in shown:
        parsed, raw = r.get("text", ""), r.get("raw")
        if parsed:
            body = shorten(parsed, width)
        elif raw is not None:
            body = "model wrote: " + (f'"{shorten(raw, width)}"' if raw.strip() else "(nothing)")
        else:
            body = "(nothing parsed; this run kept no raw text)"
        lines.append(f"  > [{r.get('status', '?')}] {r.get('task_id', '?')}: {body}")
    if len(shown) < len(refs):
        lines.append(f"  > ... {len(refs) - len(shown)} more reflections (--reflections -1)")
    return lines


def tally_lines(tallies: list[LessonTally], width: int) -> list[str]:
    """One line per lesson: its tag counts over the run, where it came from, its text."""
    lines = []
    for t in tallies:
        origin = "before the history" if t.added_step is None else f"added step {t.added_step}"
        if t.updated_steps:
            origin += ", updated step " + "/".join(str(s) for s in t.updated_steps)
        if t.removed:
            origin += f", removed ({t.removed})"
        lines.append(
            f"  [{t.id}] helpful {t.helpful}, harmful {t.harmful}, neutral {t.neutral}; "
            f"{origin} :: {shorten(t.text, width) or '(text not in the history)'}"
        )
    return lines


def chosen_playbook(run: Path, step: int | None) -> tuple[Playbook, str]:
    """The playbook to show and its title; a one-line ``RunDirError`` when there is none."""
    if step is not None:
        pb = playbook_at(run, step)
        if pb is None:
            raise RunDirError(f"no history record at or before step {step}")
        return pb, f"playbook after step {step}"
    if not (run / PLAYBOOK).is_file():
        raise RunDirError(f"no {PLAYBOOK} in {run}")
    return Playbook.load(run / PLAYBOOK), "playbook (latest)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=command("reflection.show"), description=__doc__)
    ap.add_argument("run_dir")
    ap.add_argument("--step", type=int, default=None, help="show the playbook after this step")
    ap.add_argument("--no-steps", action="store_true", help="only the playbook")
    ap.add_argument(
        "--reflections",
        type=int,
        default=3,
        metavar="N",
        help="reflections shown per step (default 3; 0 none, -1 all)",
    )
    ap.add_argument(
        "--width", type=int, default=160, help="cut each text to this many characters (0: no cut)"
    )
    args = ap.parse_args(argv)
    run = Path(args.run_dir)
    if not run.is_dir():
        print(f"error: {run} is not a directory", file=sys.stderr)
        return 2
    try:
        records = read_history(run)
        pb, title = chosen_playbook(run, args.step)
    except RunDirError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (KeyError, TypeError, ValueError) as e:  # a playbook.json of the wrong shape
        print(f"error: {run / PLAYBOOK} is unreadable: {e}", file=sys.stderr)
        return 2
    print(f"== {title}: {len(pb)} bullets ==")
    print(pb.render() or "(empty)")
    if not args.no_steps:
        shown = [r for r in records if args.step is None or r["step"] <= args.step]
        print(f"\n== {len(records)} update steps ==")
        for rec in shown:
            print("\n".join(step_lines(rec) + reflection_lines(rec, args.reflections, args.width)))
        latest = pb if args.step is None else None
        tallies = tally_lessons(shown, latest)
        print(f"\n== {len(tallies)} lessons, tags over the run (most tagged first) ==")
        print("\n".join(tally_lines(tallies, args.width)) or "(none)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
