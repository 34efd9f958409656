"""Plots: PNG files written, per-seed bands computed as by hand."""

from dataclasses import replace

import numpy as np
import pytest

from benchmarks.plots import (
    learnability_note,
    plot_comparison,
    plot_run,
    run_figure,
    seed_band,
    success_band,
)
from rundir import EVALS, RunDirError, read_run
from tests.leaderboard.rundirs import write_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plot_run_writes_png_even_while_running(tmp_path):
    run = write_run(tmp_path / "r", finished=False)
    png = plot_run(run)
    assert png == run / "curves.png"
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000
    other = plot_run(run, tmp_path / "elsewhere" / "c.png")
    assert other.read_bytes().startswith(PNG_MAGIC)
    (run / EVALS).write_text("")
    with pytest.raises(RunDirError, match="no evaluation"):
        plot_run(run)


def test_seed_band_by_hand(tmp_path):
    a = write_run(tmp_path / "a", seed=0, curve=[(0, 0.0), (8, 0.5), (16, 1.0)])
    b = write_run(tmp_path / "b", seed=1, curve=[(0, 0.0), (8, 0.0), (16, 0.5)])
    grid, mean, low, high = seed_band([a, b])
    assert grid.tolist() == [0, 8, 16]
    assert np.allclose(mean, [0.0, 0.25, 0.75], atol=1e-15)
    # two seeds: resampled means are {x_a, (x_a+x_b)/2, x_b} w.p. 1/4, 1/2, 1/4 -> ends of 95% CI
    assert low.tolist() == [0.0, 0.0, 0.5] and high.tolist() == [0.0, 0.5, 1.0]
    grid, mean, low, high = seed_band([a], field="success_best")
    assert np.allclose(mean, [0.1, 0.6, 1.0]) and np.array_equal(low, mean)


def test_plot_comparison(tmp_path):
    groups = {
        "resd": [write_run(tmp_path / f"resd{s}", seed=s) for s in range(3)],
        "grpo": [write_run(tmp_path / "grpo0", learner="grpo", curve=[(0, 0.0), (16, 0.1)])],
    }
    png = plot_comparison(groups, tmp_path / "out" / "compare.png")
    assert png.read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(RunDirError):
        plot_comparison({"resd": []}, tmp_path / "x.png")


def test_success_band_is_a_wilson_interval_over_tasks(tmp_path):
    run = write_run(tmp_path / "r", curve=[(0, 0.0), (8, 0.5), (16, 1.0)])
    pts = read_run(run).evals
    low, high = success_band(pts)
    z2 = 1.959963984540054**2
    n = pts[0].n_tasks  # 4 tasks (x 2 samples): the tasks are the units, not the 8 attempts
    # closed forms of the Wilson ends at 0 and at n successes: z^2/(n+z^2) and n/(n+z^2)
    assert low[0] == 0.0 and high[0] == pytest.approx(z2 / (n + z2), abs=1e-12)
    assert high[2] == 1.0 and low[2] == pytest.approx(n / (n + z2), abs=1e-12)
    assert low[1] + high[1] == pytest.approx(1.0, abs=1e-12)  # symmetric around 1/2
    assert high[0] > 0.45  # 0 of 4 tasks says little: the band must show it


def test_learnability_note(tmp_path):
    learning = read_run(write_run(tmp_path / "a", model="smollm2-135m"))
    assert learnability_note(learning.config, learning.evals) is None
    random_model = read_run(write_run(tmp_path / "b", model="tiny-random"))
    assert "randomly initialised" in learnability_note(random_model.config, random_model.evals)
    zero = read_run(write_run(tmp_path / "c", model="smollm2-135m", curve=[(0, 0.0), (8, 0.0)]))
    # write_run's best@k is mean + 0.1: success is not 0 everywhere yet
    assert learnability_note(zero.config, zero.evals) is None
    flat = [replace(p, success_best=0.0) for p in zero.evals]
    assert "success is 0 at every evaluation" in learnability_note(zero.config, flat)


def test_run_figure_panels_band_and_note(tmp_path):
    rec = read_run(write_run(tmp_path / "r", model="tiny-random", curve=[(0, 0.0), (8, 0.25)]))
    fig = run_figure(rec)
    top, bottom = fig.axes
    assert len(top.collections) == 1  # the confidence band
    band = top.collections[0].get_paths()[0].vertices
    assert band[:, 1].max() == pytest.approx(max(success_band(rec.evals)[1]))
    assert bottom.get_ylabel() == "valid answers"
    assert bottom.lines[0].get_ydata().tolist() == [p.valid_rate for p in rec.evals]
    notes = [t for t in top.texts if t.get_gid() == "learnability-note"]
    assert len(notes) == 1 and "tiny-random" in notes[0].get_text()
    other = read_run(write_run(tmp_path / "s", model="smollm2-135m"))
    assert not [t for t in run_figure(other).axes[0].texts if t.get_gid()]
