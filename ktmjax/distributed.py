"""Several processes running one job (a TPU pod's hosts, a multi-GPU cluster, or several
processes on one machine): `jax.distributed`, host reads of arrays that span processes,
and one writer.

Every process runs the same command. After `initialize`, `jax.devices()` lists the devices
of all processes, so `ktmjax.sharding`'s task-axis mesh spans them: each process steps and
updates the tasks its own devices hold, and XLA's collectives join the student's gradient.
Every process computes the same host-side figures (evaluation returns, training metrics:
`to_host` gathers them), but only process 0 writes the run directory's files (`is_writer`);
checkpoints go through orbax, where each process writes the array shards it holds. The run
directory must therefore be one directory that every process sees (one machine, or a
shared file system).
"""
import contextlib
import os

import jax
import numpy as np
from jax.experimental import multihost_utils

# The variables the processes are configured from when no flag gives a value.
ENV_COORDINATOR = "JAX_COORDINATOR_ADDRESS"
ENV_COUNT, ENV_ID = "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"


# The coordinator "auto": JAX finds the processes itself (a Cloud TPU pod's hosts, a SLURM
# or Open MPI job, ...: `jax.distributed.initialize()` without arguments).
AUTO = "auto"


def settings(coordinator=None, num_processes=None, process_id=None):
    """(coordinator address, process count, process id) from the arguments, else the
    environment variables ENV_COORDINATOR, ENV_COUNT, ENV_ID; (None, None, None) when none is
    set: a single-process run; (AUTO, count or None, id or None) for JAX's own detection.
    Raises ValueError, saying what to fix, on a partial or inconsistent setting."""
    coordinator = coordinator or os.environ.get(ENV_COORDINATOR) or None
    count = num_processes if num_processes is not None else _int_env(ENV_COUNT)
    index = process_id if process_id is not None else _int_env(ENV_ID)
    if coordinator is None and count is None and index is None:
        return None, None, None
    if coordinator == AUTO:
        return AUTO, count, index
    if coordinator is None or count is None or index is None:
        raise ValueError("a multi-process run needs the coordinator address, the process count "
                         "and this process's id (--coordinator, --num_processes, --process_id, "
                         f"or {ENV_COORDINATOR}, {ENV_COUNT}, {ENV_ID}); give all three")
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"process id {index} of {count} processes: give a count >= 1 and an "
                         f"id in 0..{count - 1}")
    return coordinator, count, index


def _int_env(name):
    text = os.environ.get(name)
    if text is None or not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}={text} is not an integer") from None


def initialize(coordinator=None, num_processes=None, process_id=None) -> bool:
    """Joins this process to a multi-process job when `settings` finds one (before anything
    runs on a device); on CPU the processes' collectives go through gloo. Returns whether it
    joined one. With the coordinator AUTO, JAX detects the job (on a TPU pod, every host
    runs the command with --coordinator=auto)."""
    coordinator, count, index = settings(coordinator, num_processes, process_id)
    if coordinator is None:
        return False
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if coordinator == AUTO:
        jax.distributed.initialize(num_processes=count, process_id=index)
    else:
        jax.distributed.initialize(coordinator, count, index)
    # The first collective sets up the CPU collectives (gloo), which wait only 30 s for the
    # other processes there (later collectives wait as long as it takes): set them up now,
    # while the processes start together, not after compiles that may take one of them
    # longer than the others.
    multihost_utils.sync_global_devices("ktmjax: processes joined")
    return True


def is_writer() -> bool:
    """Whether this process writes the run directory's files (process 0)."""
    return jax.process_index() == 0


def from_writer(values):
    """The writer process's `values` (a tuple of bools and ints), in every process (a
    collective: every process must call this at the same point)."""
    if jax.process_count() == 1:
        return values
    got = multihost_utils.broadcast_one_to_all(np.asarray(values, np.int64))
    return tuple(type(v)(x) for v, x in zip(values, np.asarray(got).tolist()))


def any_process(flag: bool) -> bool:
    """Whether `flag` is true in some process (a collective, like `from_writer`)."""
    if jax.process_count() == 1:
        return bool(flag)
    return bool(np.asarray(multihost_utils.process_allgather(np.asarray(bool(flag)))).any())


def to_host(tree):
    """`tree` as numpy arrays, read by every process: an array split over several processes'
    devices is gathered (a collective: every process must call this at the same point)."""
    def read(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable and not x.is_fully_replicated:
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(x)
    return jax.tree.map(read, tree)


@contextlib.contextmanager
def local_models():
    """MuJoCo MJX places a model it builds (and brax's environments build theirs through it)
    on `jax.devices()[0]`, which belongs to process 0 in a multi-process job, so the other
    processes could not read their own models. Within this context it places them on this
    process's first device."""
    if jax.process_count() == 1:
        yield
        return
    from mujoco import mjx   # only in multi-process jobs; its import prints a line about Warp
    put_model = mjx.put_model

    def put_locally(m, device=None, **kwargs):
        return put_model(m, device=device or jax.local_devices()[0], **kwargs)
    mjx.put_model = put_locally
    try:
        yield
    finally:
        mjx.put_model = put_model
