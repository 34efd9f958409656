"""Metrics against independent computations: by hand, a second formula, exact enumeration."""

import itertools
import math

import numpy as np
import pytest

from leaderboard.metrics import (
    MetricError,
    align_curves,
    auc,
    bootstrap_ci,
    median_samples,
    samples_to_threshold,
    success_at_k,
    wilson_ci,
)


def test_auc_by_hand():
    # trapezoids: 100 * (0 + .5)/2 + 200 * (.5 + 1)/2 = 25 + 150 = 175, over a span of 300
    assert auc([0, 100, 300], [0.0, 0.5, 1.0]) == pytest.approx(175 / 300, abs=1e-15)
    assert auc([0, 50, 100], [0.4, 0.4, 0.4]) == pytest.approx(0.4, abs=1e-15)
    # the span is normalised away: shifting and scaling the x axis does not change the average
    assert auc([1000, 1100, 1300], [0.0, 0.5, 1.0]) == pytest.approx(175 / 300, abs=1e-15)


def test_auc_matches_dense_average_of_the_interpolated_curve():
    rng = np.random.default_rng(3)
    for _ in range(5):
        x = np.cumsum(rng.integers(1, 50, size=8)).astype(float)
        y = rng.random(8)
        dense = np.linspace(x[0], x[-1], 400_001)
        assert auc(x, y) == pytest.approx(np.interp(dense, x, y).mean(), abs=1e-5)


def test_auc_single_point_and_zero_span():
    assert auc([0], [0.3]) == 0.3
    assert auc([5, 5], [0.2, 0.4]) == pytest.approx(0.3)
    with pytest.raises(MetricError):
        auc([], [])
    with pytest.raises(MetricError):
        auc([0, 10, 5], [0, 0, 0])  # unordered
    with pytest.raises(MetricError):
        auc([0, 1], [0.1])
    with pytest.raises(MetricError):
        auc([0, 1], [0.1, float("nan")])


def test_samples_to_threshold():
    x, y = [0, 8, 16, 24], [0.0, 0.25, 0.5, 0.4]
    assert samples_to_threshold(x, y, 0.5) == 16
    assert samples_to_threshold(x, y, 0.25) == 8  # "at or above"
    assert samples_to_threshold(x, y, 0.0) == 0
    assert samples_to_threshold(x, y, 0.6) is None
    # a mean that lands a rounding error below the threshold still reaches it
    assert samples_to_threshold([0, 4], [0.0, 0.1 + 0.2 - 1e-16 * 3], 0.3) == 4


def test_median_samples_counts_misses_as_infinite():
    assert median_samples([100, 200, None]) == 200
    assert median_samples([100, None, None]) is None
    assert median_samples([100, 300]) == 200
    assert median_samples([None]) is None
    with pytest.raises(MetricError):
        median_samples([])


def exact_bootstrap_quantiles(values, probs):
    """Quantiles of the exact bootstrap distribution of the mean (all n^n resamples)."""
    n = len(values)
    means = [sum(values[i] for i in idx) / n for idx in itertools.product(range(n), repeat=n)]
    means.sort()
    out = []
    for p in probs:  # smallest mean whose cumulative weight reaches p
        out.append(means[max(0, math.ceil(p * len(means)) - 1)])
    return out


def test_bootstrap_two_values_by_hand():
    # resampled means of {0, 1}: 0 w.p. 1/4, 1/2 w.p. 1/2, 1 w.p. 1/4 -> 95% CI is [0, 1]
    e = bootstrap_ci([0.0, 1.0], seed=1)
    assert (e.mean, e.low, e.high, e.n) == (0.5, 0.0, 1.0, 2)
    e80 = bootstrap_ci([0.0, 1.0], confidence=0.4, seed=1)  # 30% and 70% quantiles: both 1/2
    assert (e80.low, e80.high) == (0.5, 0.5)


def test_bootstrap_matches_exact_enumeration():
    values = [0.0, 0.2, 0.5, 0.9, 0.3]
    lo, hi = exact_bootstrap_quantiles(values, [0.025, 0.975])
    e = bootstrap_ci(values, n_resamples=50_000, seed=0)
    assert e.mean == pytest.approx(np.mean(values), abs=1e-15)
    assert e.low == pytest.approx(lo, abs=0.005)  # atoms are 0.02 apart
    assert e.high == pytest.approx(hi, abs=0.005)
    assert e.low < e.mean < e.high


def test_bootstrap_deterministic_and_one_seed():
    vals = np.random.default_rng(0).random(8).tolist()
    a = bootstrap_ci(vals, n_resamples=300, seed=7)
    assert a == bootstrap_ci(vals, n_resamples=300, seed=7)
    assert a != bootstrap_ci(vals, n_resamples=300, seed=8)  # the seed is really used
    assert bootstrap_ci([0.42]) == bootstrap_ci([0.42], seed=99)
    one = bootstrap_ci([0.42])
    assert (one.mean, one.low, one.high, one.n) == (0.42, 0.42, 0.42, 1)
    for bad in ([], [float("inf")]):
        with pytest.raises(MetricError):
            bootstrap_ci(bad)
    with pytest.raises(MetricError):
        bootstrap_ci([0.1, 0.2], confidence=1.0)


def test_success_at_k_by_hand_and_via_pass_at_k():
    m = [[1, 0, 0], [0, 0, 0], [1, 1, 0], [0, 0, 1]]
    mean, best = success_at_k(m)
    assert mean == pytest.approx(4 / 12, abs=1e-15)
    assert best == pytest.approx(3 / 4, abs=1e-15)

    # best@k of 0/1 outcomes is the pass@k estimator 1 - C(n-c, k) / C(n, k) with n = k
    rng = np.random.default_rng(0)
    m = rng.random((20, 5)) < 0.2
    k = m.shape[1]
    passes = [1 - math.comb(k - int(row.sum()), k) / math.comb(k, k) for row in m]
    assert success_at_k(m) == pytest.approx((m.sum() / m.size, sum(passes) / len(passes)))
    # fractional outcomes: best is the per-task max
    assert success_at_k([[0.2, 0.6], [0.4, 0.0]]) == pytest.approx((0.3, 0.5))


def test_success_at_k_rejects_bad_matrices():
    for bad in ([], [[]], [0, 1], [[0.5, 1.5]], [[-0.1, 0.0]]):
        with pytest.raises(MetricError):
            success_at_k(bad)


def test_align_curves():
    grid, mat = align_curves([([0, 10, 20], [0.0, 0.2, 0.4]), ([0, 10, 20], [0.1, 0.1, 0.3])])
    assert grid.tolist() == [0, 10, 20]
    assert mat.tolist() == [[0.0, 0.2, 0.4], [0.1, 0.1, 0.3]]
    # different eval points: union grid inside the common range, linear interpolation
    grid, mat = align_curves([([0, 10, 20], [0.0, 1.0, 0.0]), ([0, 5, 15], [0.5, 0.5, 1.0])])
    assert grid.tolist() == [0, 5, 10, 15]
    assert mat[0].tolist() == [0.0, 0.5, 1.0, 0.5]
    assert mat[1].tolist() == [0.5, 0.5, 0.75, 1.0]
    with pytest.raises(MetricError):
        align_curves([([0, 1], [0, 0]), ([2, 3], [0, 0])])


# Newcombe (1998), Statistics in Medicine 17:857, table II, method 3 (Wilson score, 95%).
NEWCOMBE = [
    ((81, 263), (0.2553, 0.3662)),
    ((15, 148), (0.0624, 0.1605)),
    ((0, 20), (0.0, 0.1611)),
    ((1, 29), (0.0061, 0.1718)),
    ((29, 29), (0.8830, 1.0)),
]


@pytest.mark.parametrize(("counts", "published"), NEWCOMBE)
def test_wilson_matches_published_values(counts, published):
    k, n = counts
    e = wilson_ci(k / n, n)
    assert (e.low, e.high) == pytest.approx(published, abs=5e-5)
    assert e.mean == k / n and e.n == n


def _score_test_ends(share: float, n: int, z: float) -> tuple[float, float]:
    """The ends of {p : |share - p| <= z sqrt(p(1-p)/n)} by bisection, not by the formula."""

    def inside(p: float) -> bool:
        return abs(share - p) <= z * math.sqrt(p * (1 - p) / n)

    def edge(outside: float, within: float) -> float:
        for _ in range(200):
            mid = (outside + within) / 2
            outside, within = (outside, mid) if inside(mid) else (mid, within)
        return within

    low = 0.0 if inside(0.0) else edge(0.0, share)
    high = 1.0 if inside(1.0) else edge(1.0, share)
    return low, high


def test_wilson_is_the_score_test_inversion():
    z90 = 1.6448536269514722  # the 95% quantile of the standard normal
    for share, n in [(0.0, 4), (0.25, 4), (0.5, 8), (0.9, 32), (1.0, 3), (0.375, 16)]:
        e = wilson_ci(share, n, confidence=0.9)
        assert (e.low, e.high) == pytest.approx(_score_test_ends(share, n, z90), abs=1e-9)
        assert 0.0 <= e.low <= share <= e.high <= 1.0
    # more tasks, a narrower interval; zero successes still leave room above 0
    wide, narrow = wilson_ci(0.5, 10), wilson_ci(0.5, 100)
    assert narrow.high - narrow.low < wide.high - wide.low
    assert wilson_ci(0.0, 8).high > 0.2


@pytest.mark.parametrize(
    ("share", "n", "confidence"),
    [(-0.1, 4, 0.95), (1.5, 4, 0.95), (float("nan"), 4, 0.95), (0.5, 0, 0.95), (0.5, 4, 1.0)],
)
def test_wilson_refuses_bad_input(share, n, confidence):
    with pytest.raises(MetricError):
        wilson_ci(share, n, confidence)
