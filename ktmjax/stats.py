"""Aggregates over seeds (Agarwal et al. 2021, "Deep RL at the edge of the statistical
precipice"): the interquartile mean and stratified-bootstrap confidence intervals.

`scores` is [runs, tasks] (one row per seed, e.g. each task's ratio to its teacher). The
interquartile mean drops the lowest and highest quarter of all runs x tasks scores and
averages the middle half. The stratified bootstrap resamples the runs of each task
independently, with replacement, and takes the percentile interval of the statistic.
"""
import numpy as np


def iqm(scores) -> float:
    """Interquartile mean of every score in `scores` (any shape): the mean of what is left
    after dropping floor(n / 4) scores at each end (rliable's definition, through
    scipy.stats.trim_mean(x, 0.25))."""
    x = np.sort(np.asarray(scores, np.float64).ravel())
    if x.size == 0:
        raise ValueError("no scores")
    cut = x.size // 4
    return float(np.mean(x[cut: x.size - cut]))


def mean(scores) -> float:
    return float(np.mean(np.asarray(scores, np.float64)))


def stratified_bootstrap_ci(scores, statistic=iqm, repetitions: int = 2000,
                            confidence: float = 0.95, seed: int = 0) -> tuple:
    """(low, high) percentile interval of `statistic` over `repetitions` resamples of
    `scores` [runs, tasks], each task's runs drawn with replacement on their own."""
    x = np.asarray(scores, np.float64)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"scores must be [runs, tasks], got shape {x.shape}")
    rng = np.random.default_rng(seed)
    runs, tasks = x.shape
    picks = rng.integers(0, runs, size=(repetitions, runs, tasks))
    resampled = x[picks, np.arange(tasks)[None, None, :]]       # [repetitions, runs, tasks]
    values = np.array([statistic(r) for r in resampled])
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def aggregate(scores, repetitions: int = 2000, seed: int = 0) -> dict:
    """Mean and IQM of `scores` [runs, tasks], each with its 95% stratified-bootstrap
    interval."""
    out = {"runs": int(np.asarray(scores).shape[0])}
    for name, fn in (("mean", mean), ("iqm", iqm)):
        out[name] = fn(scores)
        out[f"{name}_ci95"] = list(stratified_bootstrap_ci(scores, fn, repetitions, seed=seed))
    return out
