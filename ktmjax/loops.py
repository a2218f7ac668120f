"""The host loop shared by every long command: jitted epochs, evaluations, progress lines."""
import time
from typing import Callable

import jax
import numpy as np

from ktmjax import evaluation, runs


def run_epochs(state, *, total: int, epoch_size: int, epoch: Callable, evaluate: Callable,
               tasks, metrics: runs.MetricsLog, stage: str, prefix: str, unit: str = "round",
               rate_unit: str = "rounds", per_unit_work: int = 1):
    """Runs `epoch(state, n)` until `total` units are done, evaluating after each epoch.

    `evaluate(state, epoch_index) -> returns [K, episodes]`. Prints one progress line per
    epoch (throughput, elapsed, ETA, evaluation returns) and appends the evaluation to
    metrics.csv. The throughput is `per_unit_work` `rate_unit`s per `unit` (e.g. K env
    steps per training step).
    Returns the final state.
    """
    start = time.time()
    done, index = 0, 0
    while done < total:
        n = min(epoch_size, total - done)
        t0 = time.time()
        state = epoch(state, n)
        jax.block_until_ready(state)
        epoch_s = time.time() - t0
        done += n
        index += 1
        summary = evaluation.summarize(tasks, np.asarray(evaluate(state, index)))
        metrics.add(stage, done, summary)
        elapsed = time.time() - start
        eta = elapsed / done * (total - done)
        print(f"[{prefix}] {unit} {done}/{total} | {n * per_unit_work / epoch_s:,.0f} "
              f"{rate_unit}/s | elapsed "
              f"{runs.format_duration(elapsed)} ETA {runs.format_duration(eta)} | eval return: "
              + ", ".join(f"{t}={r['return_mean']:.0f}" for t, r in summary.items()), flush=True)
    return state
