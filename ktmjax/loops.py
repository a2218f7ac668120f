"""The host loop shared by every long command: jitted epochs, evaluations, progress lines,
full-state checkpoints, resume, and a clean stop on SIGINT/SIGTERM."""
import contextlib
import signal
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ktmjax import distributed, evaluation, runs
from ktmjax.metrics import TrainMetrics
from ktmjax.seed_axis import SeedAxis


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


class NonFinite(Exception):
    """A run stopped because a loss or a parameter became NaN or infinite."""


@jax.jit
def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
              if jnp.issubdtype(x.dtype, jnp.floating)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def first_non_finite(metrics: TrainMetrics):
    """(row, metric name, task index) of the first non-finite value of an epoch's metrics
    (each [n, K]; earliest round first), or None when all are finite."""
    first = None
    for name, (values, _) in metrics.columns().items():
        bad = np.argwhere(~np.isfinite(np.asarray(values)))
        if bad.size and (first is None or tuple(bad[0]) < first[::2]):
            first = (int(bad[0][0]), name, int(bad[0][1]))
    return first


def epoch_means(metrics: TrainMetrics, tasks) -> dict:
    """{task name: {metric: mean}} of an epoch's metrics: each the mean over the rounds
    that updated its network for that task (none in the warm-up; the actor only every
    policy_delay-th), None where none did."""
    out = {task.name: {} for task in tasks}
    for name, (values, updated) in metrics.columns().items():
        values, updated = np.asarray(values), np.asarray(updated) > 0
        for k, task in enumerate(tasks):
            computed = values[updated[:, k], k]
            out[task.name][name] = float(computed.mean()) if computed.size else None
    return out


def run_epochs(state, *, total: int, epoch_size: int, epoch: Callable, evaluate: Callable,
               tasks, logs: list, stage: str, prefix: str, unit: str = "round",
               rate_unit: str = "rounds", per_unit_work: int = 1, checkpoints=None,
               checkpoint_every: int = None, params: Callable = None,
               axis: SeedAxis = SeedAxis()):
    """Runs `epoch(state, n) -> (state, TrainMetrics of each of the n units)` until `total`
    units are done, evaluating after each epoch.

    `state` holds the seeds of `axis` (`ktmjax.seed_axis`), `epoch` returns their metrics
    and `evaluate(state, epoch_index)` their returns [K, episodes] (each with the seed
    axis where `axis` has one); `logs` holds one `runs.MetricsLog` per seed. Prints one
    progress line per epoch (throughput, elapsed, ETA, evaluation returns, the mean over
    seeds) and appends each seed's evaluation, with the epoch's mean training metrics per
    task (`epoch_means`), to its metrics.csv. The throughput is `per_unit_work` `rate_unit`s per `unit` (e.g. K env
    steps per training step).
    With `checkpoints` (a `checkpoint.RunCheckpoints`), the whole state is saved every
    `checkpoint_every` units (a multiple of `epoch_size`; default every epoch), at the end,
    and when stopped; a run directory holding a checkpoint resumes from it. Either way the
    logs keep only what the starting state reached (`log.truncate`: metrics.csv rows and
    TensorBoard events past the checkpoint, or all of this stage's without one), so a
    resumed run ends exactly as an uninterrupted one. SIGINT/SIGTERM
    stop the run after the current epoch and its checkpoint (`Interrupted`).
    A non-finite metric, or a non-finite float in `params(state)`, stops the run before
    anything of that epoch is saved (`NonFinite`, naming the term, the stage, the unit and
    the task).
    Returns the final state.
    """
    assert len(logs) == axis.count, (len(logs), axis.count)
    checkpoint_every = checkpoint_every or epoch_size
    assert checkpoint_every % epoch_size == 0, (checkpoint_every, epoch_size)
    start = time.time()
    done, index, saved = 0, 0, None
    if checkpoints is not None and checkpoints.latest_step() is not None:
        done, state = checkpoints.restore(state, say=lambda m: print(f"[{prefix}] {m}", flush=True))
        saved = done
        index = -(-done // epoch_size)          # every epoch but the last one is full
        print(f"[{prefix}] resuming from the checkpoint at {unit} {done}/{total}", flush=True)
    for seed_log in logs:       # what an earlier process logged past the state: dropped
        seed_log.truncate(stage, done)
    first = done
    with _deferred_stop_signals() as stop:
        while done < total:
            n = min(epoch_size, total - done)
            t0 = time.time()
            state, metrics = epoch(state, n)
            metrics = distributed.to_host(metrics)
            epoch_s = time.time() - t0
            per_seed = axis.split(metrics)
            for seed, seed_metrics in zip(axis.seeds, per_seed):
                _check_finite(seed_metrics, n, state, params, tasks, stage, unit, done,
                              saved, axis.of(seed))
            done += n
            index += 1
            returns = distributed.to_host(evaluate(state, index))
            summaries = [evaluation.summarize(tasks, r) for r in axis.split(returns)]
            for seed_log, summary, seed_metrics in zip(logs, summaries, per_seed):
                seed_log.add(stage, done, summary, epoch_means(seed_metrics, tasks))
            # Read once (a later signal waits an epoch), and by every process of a job.
            stopping = distributed.any_process(bool(stop)) and done < total
            if checkpoints is not None and (done % checkpoint_every == 0 or done == total
                                            or stopping):
                checkpoints.save(done, state)
                saved = done
            elapsed = time.time() - start
            eta = elapsed / (done - first) * (total - done)
            print(f"[{prefix}] {unit} {done}/{total} | {n * per_unit_work / epoch_s:,.0f} "
                  f"{rate_unit}/s | elapsed {runs.format_duration(elapsed)} ETA "
                  f"{runs.format_duration(eta)} | eval return"
                  + (f" (mean of {axis.count} seeds)" if axis.count > 1 else "") + ": "
                  + ", ".join(f"{name}={np.mean([s[name]['return_mean'] for s in summaries]):.0f}"
                              for name in summaries[0]),
                  flush=True)
            if stopping:
                kept = "checkpoint saved" if checkpoints is not None else "nothing saved"
                signal_name = stop[0] if stop else "a stop signal (in another process)"
                raise Interrupted(f"{signal_name} received: stopped at {unit} {done}/{total} ({kept}); "
                                  "run the same command again to resume")
        return state


def _check_finite(metrics, n, state, params, tasks, stage, unit, done, saved, seed=""):
    """Raises NonFinite if a metric of this epoch's n units (its first row being `unit`
    done + 1) or a parameter after it is not finite."""
    bad = first_non_finite(metrics)
    if bad is not None:
        row, name, task = bad
        where = f"{name} at {stage} {unit} {done + row + 1}, task {tasks[task].name}{seed}"
    elif params is not None and not bool(_all_finite(params(state))):
        where = f"parameter after {stage} {unit} {done + n}"
    else:
        return
    kept = (f"the last good checkpoint ({unit} {saved}) is kept" if saved is not None
            else "no checkpoint was saved before it")
    raise NonFinite(f"non-finite {where}; stopped, {kept}; lower the learning rate or check the inputs")
