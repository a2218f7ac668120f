"""ktmjax.stats: interquartile mean and stratified-bootstrap intervals over seeds."""
import numpy as np
import pytest
from scipy import stats as scipy_stats

from ktmjax import stats


def test_iqm_drops_a_quarter_at_each_end():
    assert stats.iqm([1, 2, 3, 4]) == 2.5
    assert stats.iqm([[100, 1], [2, 3], [4, -50], [5, 6]]) == 3.5   # 2, 3, 4, 5 remain
    x = np.random.default_rng(0).normal(size=(5, 7))
    assert stats.iqm(x) == pytest.approx(scipy_stats.trim_mean(x.ravel(), 0.25))
    with pytest.raises(ValueError):
        stats.iqm([])


def test_bootstrap_interval_holds_the_statistic_and_narrows_with_agreement():
    rng = np.random.default_rng(1)
    spread = rng.normal(1.0, 0.3, size=(5, 8))
    tight = 1.0 + 0.01 * (spread - 1.0)
    lo, hi = stats.stratified_bootstrap_ci(spread, stats.mean)
    assert lo < stats.mean(spread) < hi
    tlo, thi = stats.stratified_bootstrap_ci(tight, stats.mean)
    assert thi - tlo < 0.05 * (hi - lo)
    # Resampling within tasks: scores that differ only between tasks have no spread.
    by_task = np.tile(np.arange(8.0), (5, 1))
    assert stats.stratified_bootstrap_ci(by_task, stats.mean) == (3.5, 3.5)


def test_aggregate():
    out = stats.aggregate(np.full((3, 4), 2.0))
    assert out == {"runs": 3, "mean": 2.0, "mean_ci95": [2.0, 2.0], "iqm": 2.0,
                   "iqm_ci95": [2.0, 2.0]}
