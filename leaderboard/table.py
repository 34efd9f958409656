"""The comparison table: one row per (env, model, learner config), pooled over seeds.

Only runs of one configuration pool (the same ``config_key``: everything but the seed and
provenance), and each seed counts once: of two runs of one seed, the later stored counts and
the row says how many repeats it left out. The budget and preset the runs were made with are
columns, so rows that differ in them show why.

Columns: area under the success-vs-samples curve (mean over seeds with a 95% bootstrap CI),
samples to reach the success threshold (median over seeds, a seed that never reached it counts
as infinite; with how many seeds reached it), final success (mean, 95% bootstrap CI), tokens
(policy + reflection + curation, mean over seeds), wall time (mean) and the number of seeds.
Rows are sorted by env, model, then AUC descending. Bootstrap seeds are fixed: the same store
always prints the same table.

The default threshold is 0.5 mean@k ("solves half of the held-out tasks"): absolute, so a row
does not change when other runs are added (a threshold relative to the best run would), and
far enough above the rare-success start of the default presets that eval noise on a few dozen
tasks does not cross it by chance, which a low threshold like 0.1 would.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from tabulate import tabulate

from leaderboard.metrics import (
    CONFIDENCE_DEFAULT,
    Estimate,
    auc,
    bootstrap_ci,
    median_samples,
    samples_to_threshold,
)
from leaderboard.store import UNPRINTABLE, Store, StoredRun
from rundir.hints import command

FORMATS = {"plain": "simple", "github": "github", "html": "html"}
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Row:
    """One leaderboard line."""

    env: str
    model: str
    learner: str
    seeds: int
    auc: Estimate
    reach_median: float | None
    reached: int
    final: Estimate
    tokens: float
    wall_seconds: float
    budget: int | None = None
    preset: str | None = None
    repeats: int = 0  # runs left out because a later run of the same seed counts


def one_per_seed(members: Sequence[StoredRun]) -> list[StoredRun]:
    """The last stored run of each seed, in seed order."""
    latest: dict[int, StoredRun] = {}
    for run in sorted(members, key=lambda r: (r.added_at, r.run_dir)):
        latest[run.seed] = run
    return [latest[seed] for seed in sorted(latest)]


def group_runs(runs: Sequence[StoredRun]) -> dict[tuple[str, str, str], list[StoredRun]]:
    """The runs of each row, keyed (env, model, shown learner label), repeats included: runs
    pool only when their configs differ by seed alone."""
    groups: dict[tuple[str, str, str, str], list[StoredRun]] = defaultdict(list)
    for run in runs:
        groups[(run.env, run.model, run.label, run.config_key)].append(run)
    keys_per_label: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for env, model, label, key in groups:
        keys_per_label[(env, model, label)].add(key)
    shown = {}
    for (env, model, label, key), runs_of_key in groups.items():
        if len(keys_per_label[(env, model, label)]) > 1:
            label = f"{label}#{key[:6]}"  # same learner, other settings: keep the rows apart
        shown[(env, model, label)] = runs_of_key
    return shown


def build_rows(runs: Sequence[StoredRun], threshold: float = DEFAULT_THRESHOLD) -> list[Row]:
    """Pool runs whose configs differ only by seed into rows, sorted for display."""
    rows = []
    for (env, model, label), runs_of_key in group_runs(runs).items():
        members = one_per_seed(runs_of_key)
        curves = [
            ([p.samples for p in r.curve], [p.success_mean for p in r.curve]) for r in members
        ]
        reach = [samples_to_threshold(x, y, threshold) for x, y in curves]
        rows.append(
            Row(
                env=env,
                model=model,
                learner=label,
                seeds=len(members),
                auc=bootstrap_ci([auc(x, y) for x, y in curves], CONFIDENCE_DEFAULT),
                reach_median=median_samples(reach),
                reached=sum(r is not None for r in reach),
                final=bootstrap_ci([r.final_success for r in members], CONFIDENCE_DEFAULT),
                tokens=sum(r.tokens for r in members) / len(members),
                wall_seconds=sum(r.wall_seconds for r in members) / len(members),
                budget=members[-1].budget,
                preset=members[-1].preset,
                repeats=len(runs_of_key) - len(members),
            )
        )
    rows.sort(key=lambda r: (r.env, r.model, -r.auc.mean, r.learner))
    return rows


def visible(text: str) -> str:
    """``text`` with every unprintable character (newline, ANSI escape, bidi override, lone
    surrogate) written as a Python escape, so a name can neither break a row nor drive the
    terminal."""
    return "".join(
        ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        if unicodedata.category(ch) in UNPRINTABLE
        else ch
        for ch in text
    )


def cell(text: str, fmt: str) -> str:
    """A name as a table cell in ``fmt``: unprintables escaped, and for Markdown the column
    separator too (html is escaped by tabulate)."""
    text = visible(text)
    return text.replace("|", "\\|") if fmt == "github" else text


def fmt_estimate(e: Estimate) -> str:
    return f"{e.mean:.3f}" if e.n == 1 else f"{e.mean:.3f} [{e.low:.3f}, {e.high:.3f}]"


def fmt_count(n: float) -> str:
    """Compact counts: 950, 12.3k, 4.56M."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.0f}"


def fmt_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def fmt_reach(row: Row) -> str:
    if row.reach_median is None:
        return f"not reached ({row.reached}/{row.seeds})"
    return f"{row.reach_median:.0f} ({row.reached}/{row.seeds})"


def column_headers(threshold: float) -> list[str]:
    """The leaderboard's columns, the same in every format (plain, github, html, the page)."""
    ci = f"{CONFIDENCE_DEFAULT:.0%} CI"
    return [
        "env",
        "model",
        "learner",
        "seeds",
        f"AUC [{ci}]",
        f"samples to {threshold:g}",
        f"final success [{ci}]",
        "tokens",
        "wall",
        "budget",
        "preset",
    ]


def render(rows: Sequence[Row], fmt: str = "plain", threshold: float = DEFAULT_THRESHOLD) -> str:
    """The rows as a plain / github / html table."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    headers = column_headers(threshold)
    body = [
        [
            cell(r.env, fmt),
            cell(r.model, fmt),
            cell(r.learner, fmt),
            f"{r.seeds} (+{r.repeats} repeated)" if r.repeats else r.seeds,
            fmt_estimate(r.auc),
            fmt_reach(r),
            fmt_estimate(r.final),
            fmt_count(r.tokens),
            fmt_seconds(r.wall_seconds),
            "?" if r.budget is None else r.budget,
            cell(r.preset or "?", fmt),
        ]
        for r in rows
    ]
    return tabulate(body, headers=headers, tablefmt=FORMATS[fmt], disable_numparse=True)


def table_text(
    store: Store,
    env: str | None = None,
    model: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    fmt: str = "plain",
) -> str:
    """The table for the filters, or a one-line hint when nothing matches."""
    runs = store.runs(env=env, model=model)
    if runs:
        return render(build_rows(runs, threshold), fmt, threshold)
    total = store.count()
    if total == 0:
        return (
            f"no runs in {store.path}; add finished runs with "
            f"`{command('leaderboard')} --add RUN_DIR ...`"
        )
    filters = ", ".join(f"{k}={visible(v)}" for k, v in (("env", env), ("model", model)) if v)
    return f"no runs match {filters} ({total} runs in {store.path})"
