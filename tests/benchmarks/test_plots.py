"""Plots: PNG files written, per-seed bands computed as by hand."""

import numpy as np
import pytest

from benchmarks.plots import plot_comparison, plot_run, seed_band
from rundir import EVALS, RunDirError
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
