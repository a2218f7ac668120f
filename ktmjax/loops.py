"""The host loop shared by every long command: jitted epochs, evaluations, progress lines,
full-state checkpoints, resume, and a clean stop on SIGINT/SIGTERM."""
import contextlib
import signal
import time
from typing import Callable

import jax
import numpy as np

from ktmjax import evaluation, runs


class Interrupted(Exception):
    """A run stopped by SIGINT/SIGTERM after saving its checkpoint."""


@contextlib.contextmanager
def _deferred_stop_signals():
    """SIGINT/SIGTERM only set a flag (read between epochs) while the block runs."""
    received = []
    handler = lambda signum, _frame: received.append(signal.Signals(signum).name)
    try:
        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:      # not the main thread: signals stay as they are
        old = {}
    try:
        yield received
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_epochs(state, *, total: int, epoch_size: int, epoch: Callable, evaluate: Callable,
               tasks, metrics: runs.MetricsLog, stage: str, prefix: str, unit: str = "round",
               rate_unit: str = "rounds", per_unit_work: int = 1, checkpoints=None):
    """Runs `epoch(state, n)` until `total` units are done, evaluating after each epoch.

    `evaluate(state, epoch_index) -> returns [K, episodes]`. Prints one progress line per
    epoch (throughput, elapsed, ETA, evaluation returns) and appends the evaluation to
    metrics.csv. The throughput is `per_unit_work` `rate_unit`s per `unit` (e.g. K env
    steps per training step).
    With `checkpoints` (a `checkpoint.RunCheckpoints`), the whole state is saved after every
    epoch, and a run directory holding a checkpoint resumes from it (metrics.csv rows past it
    are dropped, so a resumed run ends exactly as an uninterrupted one). SIGINT/SIGTERM stop
    the run after the current epoch and its checkpoint (`Interrupted`).
    Returns the final state.
    """
    start = time.time()
    done, index = 0, 0
    if checkpoints is not None and checkpoints.latest_step() is not None:
        done, state = checkpoints.restore(state)
        index = -(-done // epoch_size)          # every epoch but the last one is full
        metrics.truncate(stage, done)
        print(f"[{prefix}] resuming from the checkpoint at {unit} {done}/{total}", flush=True)
    first = done
    with _deferred_stop_signals() as stop:
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
            if checkpoints is not None:
                checkpoints.save(done, state)
            elapsed = time.time() - start
            eta = elapsed / (done - first) * (total - done)
            print(f"[{prefix}] {unit} {done}/{total} | {n * per_unit_work / epoch_s:,.0f} "
                  f"{rate_unit}/s | elapsed "
                  f"{runs.format_duration(elapsed)} ETA {runs.format_duration(eta)} | eval return: "
                  + ", ".join(f"{t}={r['return_mean']:.0f}" for t, r in summary.items()), flush=True)
            if stop and done < total:
                saved = "checkpoint saved" if checkpoints is not None else "nothing saved"
                raise Interrupted(f"{stop[0]} received: stopped at {unit} {done}/{total} ({saved}); "
                                  "run the same command again to resume")
        return state
