"""Interaction-efficiency metrics: pure functions over eval curves and per-seed values.

A curve is a pair of sequences ``(samples, success)``: ``samples`` is the cumulative number of
training rollouts at each held-out evaluation (non-decreasing, the first one usually 0) and
``success`` the score measured there. Every function validates its input and raises
``MetricError`` (a ``ValueError``) with a one-line message instead of returning garbage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

# Scores are means of 0/1 outcomes; averaging them in a different order can land a hair below
# the threshold (0.30000000000000004 vs 0.3). A threshold is "reached" within this tolerance.
THRESHOLD_TOL = 1e-12
CONFIDENCE_DEFAULT = 0.95


class MetricError(ValueError):
    """Bad input to a metric (empty, ragged, non-finite, unordered)."""


@dataclass(frozen=True)
class Estimate:
    """A mean and its confidence interval: bootstrap over seeds, or Wilson over tasks."""

    mean: float
    low: float
    high: float
    n: int


def _curve(samples: Sequence[float], success: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(samples, dtype=np.float64)
    y = np.asarray(success, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1 or len(x) != len(y):
        raise MetricError(
            f"a curve needs two 1-D sequences of equal length, got {x.shape} and {y.shape}"
        )
    if len(x) == 0:
        raise MetricError("a curve needs at least one point")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise MetricError("a curve holds a non-finite value")
    if (np.diff(x) < 0).any():
        raise MetricError("curve samples must be non-decreasing")
    return x, y


def auc(samples: Sequence[float], success: Sequence[float]) -> float:
    """Area under the success-vs-samples curve divided by the sample span: an average success.

    Trapezoid rule over the eval points, so for scores in [0, 1] the result is in [0, 1] and
    runs with different eval spacing stay comparable. With one point (or all points at the same
    sample count) there is no span to average over: the result is the mean of the scores there,
    i.e. the curve's only level.
    """
    x, y = _curve(samples, success)
    span = x[-1] - x[0]
    if span == 0:
        return float(y.mean())
    area = np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0)
    return float(area / span)


def samples_to_threshold(
    samples: Sequence[float], success: Sequence[float], threshold: float
) -> int | None:
    """Samples at the first eval whose score is at or above ``threshold``; None if never."""
    x, y = _curve(samples, success)
    hits = np.flatnonzero(y >= threshold - THRESHOLD_TOL)
    return int(x[hits[0]]) if len(hits) else None


def median_samples(reached: Sequence[int | None]) -> float | None:
    """Median over seeds of samples-to-threshold; a seed that never reached counts as infinite.

    So the median is "not reached" (None) as soon as half or more of the seeds missed it.
    """
    if len(reached) == 0:
        raise MetricError("median over seeds needs at least one seed")
    values = np.array([np.inf if r is None else float(r) for r in reached])
    med = float(np.median(values))
    return None if np.isinf(med) else med


def bootstrap_ci(
    values: Sequence[float],
    confidence: float = CONFIDENCE_DEFAULT,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> Estimate:
    """Mean over seeds and a percentile-bootstrap confidence interval of that mean.

    Resamples the seeds with replacement ``n_resamples`` times and takes the
    ``(1-confidence)/2`` and ``(1+confidence)/2`` quantiles of the resampled means. Deterministic
    for a given ``seed``. With one seed every resample is that value: the interval collapses to it.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or len(v) == 0:
        raise MetricError("bootstrap needs a non-empty 1-D sequence of per-seed values")
    if not np.isfinite(v).all():
        raise MetricError("bootstrap got a non-finite value")
    if not 0.0 < confidence < 1.0:
        raise MetricError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise MetricError(f"n_resamples must be >= 1, got {n_resamples}")
    mean = float(v.mean())
    if len(v) == 1:
        return Estimate(mean, mean, mean, 1)
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_resamples, len(v)))].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return Estimate(mean, float(low), float(high), len(v))


def wilson_ci(share: float, n: int, confidence: float = CONFIDENCE_DEFAULT) -> Estimate:
    """Wilson score interval for a success share ``share`` measured on ``n`` tasks.

    The interval is every p the score test does not reject: ``|share - p| <= z * sqrt(p (1 - p)
    / n)``. Unlike the plain normal interval it stays inside [0, 1] and does not collapse at 0
    or 1 successes, which is where a held-out curve on a few dozen tasks usually starts. For a
    mean@k over ``n`` tasks (each task's mean of k attempts in [0, 1]) it is conservative: a
    variable in [0, 1] with mean p has variance at most p (1 - p), the 0/1 case's.
    """
    if not (math.isfinite(share) and 0.0 <= share <= 1.0):
        raise MetricError(f"a success share must be in [0, 1], got {share}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise MetricError(f"the Wilson interval needs n >= 1 tasks, got {n!r}")
    if not 0.0 < confidence < 1.0:
        raise MetricError(f"confidence must be in (0, 1), got {confidence}")
    z = NormalDist().inv_cdf((1.0 + confidence) / 2.0)
    z2n = z * z / n
    centre = (share + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(share * (1.0 - share) / n + z2n / (4.0 * n))
    return Estimate(share, max(0.0, centre - half), min(1.0, centre + half), n)


def success_at_k(matrix: Sequence[Sequence[float]]) -> tuple[float, float]:
    """(mean@k, best@k) from a tasks x k matrix of outcomes in [0, 1] (bools allowed).

    mean@k is the average over all tasks and attempts; best@k the average over tasks of the
    best of the k attempts (for 0/1 outcomes: the share of tasks solved at least once).
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] == 0 or m.shape[1] == 0:
        raise MetricError(f"success_at_k needs a non-empty tasks x k matrix, got shape {m.shape}")
    if not np.isfinite(m).all() or (m < 0).any() or (m > 1).any():
        raise MetricError("success_at_k needs outcomes in [0, 1]")
    return float(m.mean()), float(m.max(axis=1).mean())


def align_curves(
    curves: Sequence[tuple[Sequence[float], Sequence[float]]],
) -> tuple[np.ndarray, np.ndarray]:
    """Put several seeds' curves on one sample grid: (grid, seeds x grid matrix).

    The grid is the union of the eval points inside the range every curve covers, and each
    curve is linearly interpolated onto it (exact where seeds share their eval points, the
    usual case). Nothing is extrapolated past a curve's last eval.
    """
    if len(curves) == 0:
        raise MetricError("align_curves needs at least one curve")
    parsed = [_curve(x, y) for x, y in curves]
    start = max(x[0] for x, _ in parsed)
    end = min(x[-1] for x, _ in parsed)
    if start > end:
        raise MetricError("the curves share no sample range")
    grid = np.unique(np.concatenate([x for x, _ in parsed]))
    grid = grid[(grid >= start) & (grid <= end)]
    return grid, np.stack([np.interp(grid, x, y) for x, y in parsed])
