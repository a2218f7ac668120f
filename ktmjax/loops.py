"""The host loop shared by every long command: jitted epochs, evaluations, progress lines,
full-state checkpoints, resume, and a clean stop on SIGINT/SIGTERM."""
import contextlib
import signal
import time
from typing import Callable

import jax
import jax.numpy as jnp
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


class NonFinite(Exception):
    """A run stopped because a loss or a parameter became NaN or infinite."""


LOSS_NAMES = ("critic", "actor")


@jax.jit
def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
              if jnp.issubdtype(x.dtype, jnp.floating)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def first_non_finite(losses: np.ndarray):
    """(row, loss name, task index) of the first non-finite entry of losses [n, 2, K], or
    None when all are finite."""
    bad = ~np.isfinite(losses)
    if not bad.any():
        return None
    row, which, task = np.argwhere(bad)[0]
    return int(row), LOSS_NAMES[which], int(task)


def epoch_losses(losses: np.ndarray, tasks) -> dict:
    """{task name: (critic loss, actor loss)} of an epoch's losses [n, 2, K]: each the mean
    over the rounds that computed it (a loss is 0 where no update ran: the warm-up, the
    actor between delayed updates), None where none did."""
    out = {}
    for k, task in enumerate(tasks):
        means = []
        for which in range(losses.shape[1]):
            values = losses[:, which, k]
            computed = values[values != 0]
            means.append(float(computed.mean()) if computed.size else None)
        out[task.name] = tuple(means)
    return out


def run_epochs(state, *, total: int, epoch_size: int, epoch: Callable, evaluate: Callable,
               tasks, metrics: runs.MetricsLog, stage: str, prefix: str, unit: str = "round",
               rate_unit: str = "rounds", per_unit_work: int = 1, checkpoints=None,
               checkpoint_every: int = None, params: Callable = None):
    """Runs `epoch(state, n) -> (state, losses [n, 2, K])` until `total` units are done,
    evaluating after each epoch.

    `evaluate(state, epoch_index) -> returns [K, episodes]`. Prints one progress line per
    epoch (throughput, elapsed, ETA, evaluation returns) and appends the evaluation, with
    the epoch's mean losses per task (`epoch_losses`), to metrics.csv. The throughput is `per_unit_work` `rate_unit`s per `unit` (e.g. K env
    steps per training step).
    With `checkpoints` (a `checkpoint.RunCheckpoints`), the whole state is saved every
    `checkpoint_every` units (a multiple of `epoch_size`; default every epoch), at the end,
    and when stopped; a run directory holding a checkpoint resumes from it (metrics.csv rows
    past it are dropped, so a resumed run ends exactly as an uninterrupted one). SIGINT/SIGTERM
    stop the run after the current epoch and its checkpoint (`Interrupted`).
    A non-finite loss, or a non-finite float in `params(state)`, stops the run before
    anything of that epoch is saved (`NonFinite`, naming the stage, the unit and the task).
    Returns the final state.
    """
    checkpoint_every = checkpoint_every or epoch_size
    assert checkpoint_every % epoch_size == 0, (checkpoint_every, epoch_size)
    start = time.time()
    done, index, saved = 0, 0, None
    if checkpoints is not None and checkpoints.latest_step() is not None:
        done, state = checkpoints.restore(state, say=lambda m: print(f"[{prefix}] {m}", flush=True))
        saved = done
        index = -(-done // epoch_size)          # every epoch but the last one is full
        metrics.truncate(stage, done)
        print(f"[{prefix}] resuming from the checkpoint at {unit} {done}/{total}", flush=True)
    first = done
    with _deferred_stop_signals() as stop:
        while done < total:
            n = min(epoch_size, total - done)
            t0 = time.time()
            state, losses = epoch(state, n)
            losses = np.asarray(losses)
            epoch_s = time.time() - t0
            _check_finite(losses, state, params, tasks, stage, unit, done, saved)
            done += n
            index += 1
            summary = evaluation.summarize(tasks, np.asarray(evaluate(state, index)))
            metrics.add(stage, done, summary, epoch_losses(losses, tasks))
            stopping = bool(stop) and done < total   # read once: a later signal waits an epoch
            if checkpoints is not None and (done % checkpoint_every == 0 or done == total
                                            or stopping):
                checkpoints.save(done, state)
                saved = done
            elapsed = time.time() - start
            eta = elapsed / (done - first) * (total - done)
            print(f"[{prefix}] {unit} {done}/{total} | {n * per_unit_work / epoch_s:,.0f} "
                  f"{rate_unit}/s | elapsed {runs.format_duration(elapsed)} ETA "
                  f"{runs.format_duration(eta)} | eval return: "
                  + ", ".join(f"{t}={r['return_mean']:.0f}" for t, r in summary.items()),
                  flush=True)
            if stopping:
                kept = "checkpoint saved" if checkpoints is not None else "nothing saved"
                raise Interrupted(f"{stop[0]} received: stopped at {unit} {done}/{total} ({kept}); "
                                  "run the same command again to resume")
        return state


def _check_finite(losses, state, params, tasks, stage, unit, done, saved):
    """Raises NonFinite if a loss of this epoch (losses [n, 2, K], its first row being
    `unit` done + 1) or a parameter after it is not finite."""
    bad = first_non_finite(losses)
    if bad is not None:
        row, which, task = bad
        where = f"{which} loss at {stage} {unit} {done + row + 1}, task {tasks[task].name}"
    elif params is not None and not bool(_all_finite(params(state))):
        where = f"parameter after {stage} {unit} {done + losses.shape[0]}"
    else:
        return
    kept = (f"the last good checkpoint ({unit} {saved}) is kept" if saved is not None
            else "no checkpoint was saved before it")
    raise NonFinite(f"non-finite {where}; stopped, {kept}; lower --lr or check the inputs")
