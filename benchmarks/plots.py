"""PNG plots of eval curves: one run, or several learners pooled over seeds.

Built on matplotlib's ``Figure`` with the Agg canvas directly, not pyplot, so plotting never
touches a global backend or opens a window, and works the same on a headless machine.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from leaderboard.metrics import CONFIDENCE_DEFAULT, align_curves, bootstrap_ci, wilson_ci
from rundir import CURVES, EVALS, EvalRecord, RunDirError, RunRecord, read_evals, read_run
from rundir.errors import write_failure

# Model presets whose weights are random: a run of one shows the machinery, never learning.
RANDOM_MODELS = frozenset({"tiny-random"})


def _save(fig: Figure, out_png: Path) -> Path:
    FigureCanvasAgg(fig)
    try:
        out_png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_png, dpi=110)
    except OSError as err:
        raise write_failure(out_png, err) from None
    return out_png


def success_band(
    points: Sequence[EvalRecord], confidence: float = CONFIDENCE_DEFAULT
) -> tuple[list[float], list[float]]:
    """(low, high) of success mean@k at each evaluation: a Wilson interval over its tasks.

    The evaluation tasks are the independent units (the k attempts at one task are not), so n
    is ``n_tasks``; see ``wilson_ci`` for why that is conservative for a mean@k.
    """
    bands = [wilson_ci(p.success_mean, p.n_tasks, confidence) for p in points]
    return [b.low for b in bands], [b.high for b in bands]


def learnability_note(config: Mapping[str, Any], points: Sequence[EvalRecord]) -> str | None:
    """A warning for the figure when its curve cannot show learning; None when it can.

    A random model cannot improve on a real task in a CPU budget, and a curve at 0 everywhere
    gives a reader nothing to compare: both look like a broken learner unless the plot says so.
    """
    model = str(config.get("model", ""))
    if model in RANDOM_MODELS:
        return (
            f"{model} is a randomly initialised model: nothing can be learned here; "
            "this run shows the machinery, not learning"
        )
    if points and all(p.success_mean == 0.0 and p.success_best == 0.0 for p in points):
        return (
            "held-out success is 0 at every evaluation: no success to learn from yet "
            "(too hard for this model, or too small a budget)"
        )
    return None


def run_title(config: Mapping[str, Any]) -> str:
    c = config
    return (
        f"{c.get('env', '?')} / {c.get('learner', '?')} / {c.get('model', '?')} / "
        f"seed {c.get('seed', '?')}"
    )


def run_figure(rec: RunRecord) -> Figure:
    """Held-out success (mean@k with its CI over tasks, best@k, progress) above the
    valid-answer rate, against training samples; a note across it when nothing can be learned.
    """
    if not rec.evals:
        raise RunDirError(f"{rec.run_dir / EVALS}: no evaluation to plot")
    pts = rec.evals
    x = [p.samples for p in pts]
    k, n = pts[-1].k, pts[-1].n_tasks
    fig = Figure(figsize=(6.4, 5.2))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    line = top.plot(x, [p.success_mean for p in pts], marker="o", label=f"success mean@{k}")[0]
    low, high = success_band(pts)
    top.fill_between(
        x,
        low,
        high,
        color=line.get_color(),
        alpha=0.2,
        lw=0,
        label=f"{CONFIDENCE_DEFAULT:.0%} CI over {n} tasks (Wilson)",
    )
    top.plot(x, [p.success_best for p in pts], marker="^", label=f"success best@{k}")
    top.plot(x, [p.progress_mean for p in pts], ls="--", marker=".", label="progress")
    top.set_title(run_title(rec.config), fontsize=10)
    top.set_ylabel("held-out score")
    top.set_ylim(-0.02, 1.02)
    top.grid(alpha=0.3)
    top.legend(fontsize=7, loc="upper left")
    bottom.plot(x, [p.valid_rate for p in pts], marker="s", ms=4, color="tab:gray")
    bottom.set_ylabel("valid answers", fontsize=9)
    bottom.set_ylim(-0.05, 1.05)
    bottom.set_xlabel("training samples (rollouts)")
    bottom.grid(alpha=0.3)
    note = learnability_note(rec.config, pts)
    if note:
        top.text(
            0.5,
            0.55,
            textwrap.fill(note, 58),
            transform=top.transAxes,
            ha="center",
            va="center",
            fontsize=9,
            gid="learnability-note",
            bbox={"boxstyle": "round", "facecolor": "lightyellow", "edgecolor": "darkorange"},
        )
    fig.tight_layout()
    return fig


def plot_run(run_dir: str | Path, out_png: str | Path | None = None) -> Path:
    """The run's figure (``run_figure``) as a PNG; default RUN_DIR/curves.png.

    Needs only config.json and evals.jsonl, so it works on a run that is still going.
    """
    root = Path(run_dir)
    rec = read_run(root, live=True)
    if not rec.evals:
        raise RunDirError(f"{root / EVALS}: no evaluation to plot")
    return _save(run_figure(rec), Path(out_png) if out_png else root / CURVES)


def seed_band(
    run_dirs: Sequence[str | Path],
    field: str = "success_mean",
    confidence: float = CONFIDENCE_DEFAULT,
) -> tuple[np.ndarray, ...]:
    """(grid, mean, low, high) of one eval field over seeds, a bootstrap CI at each point."""
    curves = []
    for d in run_dirs:
        pts = read_evals(d)
        if not pts:
            raise RunDirError(f"{Path(d) / EVALS}: no evaluation to plot")
        curves.append(([p.samples for p in pts], [getattr(p, field) for p in pts]))
    grid, matrix = align_curves(curves)
    est = [bootstrap_ci(matrix[:, j], confidence) for j in range(len(grid))]
    return (
        grid,
        np.array([e.mean for e in est]),
        np.array([e.low for e in est]),
        np.array([e.high for e in est]),
    )


def plot_comparison(groups: Mapping[str, Sequence[str | Path]], out_png: str | Path) -> Path:
    """Per learner label: mean over seeds and a 95% bootstrap band, mean@k and best@k panels."""
    if not groups or not all(groups.values()):
        raise RunDirError("plot_comparison needs at least one run per label")
    fig = Figure(figsize=(11.0, 4.2))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, field, name in (
        (axes[0], "success_mean", "success mean@k"),
        (axes[1], "success_best", "success best@k"),
    ):
        for label, dirs in groups.items():
            grid, mean, low, high = seed_band(dirs, field)
            line = ax.plot(grid, mean, marker="o", ms=3, label=f"{label} (n={len(dirs)})")[0]
            ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2, lw=0)
        ax.set_title(f"{name}, mean over seeds and {CONFIDENCE_DEFAULT:.0%} CI", fontsize=10)
        ax.set_xlabel("training samples (rollouts)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("held-out success")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, Path(out_png))
