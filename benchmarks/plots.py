"""PNG plots of eval curves: one run, or several learners pooled over seeds.

Built on matplotlib's ``Figure`` with the Agg canvas directly, not pyplot, so plotting never
touches a global backend or opens a window, and works the same on a headless machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from leaderboard.metrics import CONFIDENCE_DEFAULT, align_curves, bootstrap_ci
from rundir import CURVES, EVALS, RunDirError, read_evals, read_run
from rundir.errors import write_failure


def _save(fig: Figure, out_png: Path) -> Path:
    FigureCanvasAgg(fig)
    try:
        out_png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_png, dpi=110)
    except OSError as err:
        raise write_failure(out_png, err) from None
    return out_png


def plot_run(run_dir: str | Path, out_png: str | Path | None = None) -> Path:
    """Success mean@k, best@k and progress against training samples; default RUN_DIR/curves.png.

    Needs only config.json and evals.jsonl, so it works on a run that is still going.
    """
    root = Path(run_dir)
    rec = read_run(root, live=True)
    if not rec.evals:
        raise RunDirError(f"{root / EVALS}: no evaluation to plot")
    x = [p.samples for p in rec.evals]
    k = rec.evals[-1].k
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    ax.plot(x, [p.success_mean for p in rec.evals], marker="o", label=f"success mean@{k}")
    ax.plot(x, [p.success_best for p in rec.evals], marker="^", label=f"success best@{k}")
    ax.plot(x, [p.progress_mean for p in rec.evals], ls="--", marker=".", label="progress")
    c = rec.config
    ax.set_title(
        f"{c.get('env', '?')} / {c.get('learner', '?')} / {c.get('model', '?')} / "
        f"seed {c.get('seed', '?')}",
        fontsize=10,
    )
    ax.set_xlabel("training samples (rollouts)")
    ax.set_ylabel("held-out score")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, Path(out_png) if out_png else root / CURVES)


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
