"""python -m leaderboard: add finished runs and print the comparison table.

python -m leaderboard                               # the whole table
python -m leaderboard --env wordle --format github  # one env, as Markdown
python -m leaderboard --add runs/wordle-resd-s0 runs/wordle-grpo-s0
python -m leaderboard --html leaderboard.html       # a self-contained page: table and curves
"""

from __future__ import annotations

import argparse
import sys

from leaderboard.store import ENV_VAR, RunRejected, Store, StoreError
from leaderboard.table import DEFAULT_THRESHOLD, FORMATS, table_text
from rundir import RunDirError
from rundir.hints import command


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=command("leaderboard"), description="Comparison table of finished benchmark runs."
    )
    p.add_argument("--db", help=f"SQLite file (default ${ENV_VAR} or runs/leaderboard.sqlite)")
    p.add_argument(
        "--add",
        nargs="+",
        metavar="RUN_DIR",
        default=[],
        help="add (or update) finished runs first",
    )
    p.add_argument("--env", help="only this environment")
    p.add_argument("--model", help="only this model")
    p.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="success mean@k for the samples-to-threshold column (default 0.5)",
    )
    p.add_argument("--format", choices=list(FORMATS), default="plain")
    p.add_argument(
        "--html",
        metavar="FILE",
        help="write a self-contained HTML page (sortable table, curves) instead of printing",
    )
    args = p.parse_args(argv)
    if not 0.0 <= args.threshold <= 1.0:
        p.error(f"--threshold must be in [0, 1], got {args.threshold}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    failed = 0
    try:
        with Store(args.db) as store:
            for run_dir in args.add:
                try:
                    row = store.add_run(run_dir)
                    print(
                        f"added {row.run_dir} ({row.env}/{row.label}/seed {row.seed})",
                        file=sys.stderr,
                    )
                except (RunDirError, RunRejected, StoreError) as err:
                    failed += 1
                    print(f"error: {err}", file=sys.stderr)
            if args.html:
                from leaderboard.html import leaderboard_html, write_page

                page = leaderboard_html(store, args.env, args.model, args.threshold)
                print(f"wrote {write_page(args.html, page)}")
            else:
                print(table_text(store, args.env, args.model, args.threshold, args.format))
    except RunDirError as err:  # the page could not be written
        print(f"error: {err}", file=sys.stderr)
        return 1
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
