"""Inspect a run's playbook: ``python -m reflection.show RUN_DIR [--step N] [--no-steps]``.

Prints the playbook with its counters (the latest, or as it stood after step N), then for
each update step what it added, tagged, updated and removed, and what could not be parsed.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from reflection.pipeline import PROBLEM_COUNTS
from reflection.playbook import Playbook
from reflection.recorder import playbook_at, read_history
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
    lines += [f"  + [{a['id']}] {a['text']}" for a in rec.get("added", [])]
    lines += [f"  ~ [{bid}] {text}" for bid, text in rec.get("updated", [])]
    lines += [f"  - [{bid}] ({why})" for bid, why in rec.get("removed", [])]
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
        print(f"\n== {len(records)} update steps ==")
        for rec in records:
            if args.step is None or rec["step"] <= args.step:
                print("\n".join(step_lines(rec)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
