"""The task axis over every visible device: one program for 1 or N devices.

Arrays with a leading task axis [G] (a group's stacked teachers, their replay shards D_k,
the online shards D'_k, environment states) are split over a one-axis device mesh
("tasks"); everything else (the student's parameters and optimiser states, counters, keys)
is replicated. jit then partitions each program (GSPMD): a task's physics, replay sampling
and per-task losses run on the device that holds the task, and the student's mean over
tasks becomes XLA's all-reduce. On a TPU v2/v3-8 (8 cores) Benchmark A's 8 tasks sit one
per core.

A group whose size does not divide by the device count is replicated: every device runs
it whole (correct, no speed-up for that group); `describe` says so in each command's start
line. Several seeds in one program (`stages.seeds`) split their seed axis instead. On one device these functions return their input: the programs are those of a
single-device run. In a multi-process job (`ktmjax.distributed`) the mesh spans every
process's devices.
"""
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


AXIS = "tasks"
_chosen = None   # the devices to use (`use_devices`); None: all visible ones


def use_devices(devices=None) -> None:
    """Restricts the placement to `devices` (None: every visible device again)."""
    global _chosen
    _chosen = list(devices) if devices is not None else None


def devices() -> list:
    return _chosen if _chosen is not None else jax.devices()


def device_count() -> int:
    return len(devices())


def mesh() -> Mesh:
    return Mesh(np.asarray(devices()), (AXIS,))


def splits(size: int) -> bool:
    """Whether a task axis of `size` is split over the devices (several, dividing it)."""
    n = device_count()
    return n > 1 and size % n == 0


def _put_across_processes(x, placement):
    """`x` placed by `placement`, whose devices may belong to other processes. An array
    already spread over processes is moved by `jax.device_put`; any other value (a host
    array, an array on this process's devices) is the same in every process, since they
    run the same program from the same seed, so each process places its own part of it."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        return jax.device_put(x, placement)
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, placement, lambda index: host[index])


def _put(tree, spec: PartitionSpec):
    if device_count() == 1:   # committed already (`placed`, jit outputs): nothing to do
        return tree
    placement = NamedSharding(mesh(), spec)
    if jax.process_count() > 1:   # onto other processes' devices
        return jax.tree.map(lambda x: _put_across_processes(x, placement), tree)
    return jax.device_put(tree, placement)


def replicate(tree):
    """Every leaf on every device."""
    return _put(tree, PartitionSpec())


def tasks(tree, size: int):
    """Every leaf of `tree` has a leading task axis of `size`: split it over the devices
    where `splits(size)`, else replicate."""
    return _put(tree, PartitionSpec(AXIS) if splits(size) else PartitionSpec())


def seeds(tree, count: int):
    """Every leaf of `tree` has a leading seed axis of `count` (`stages.seeds`): split it
    over the devices as `tasks` splits a task axis. Each seed's run then sits whole on one
    device (its task axes not split), and the seeds run side by side without collectives."""
    return tasks(tree, count)


def groups(trees, sizes):
    """One tree per task group (leading axis: the group's tasks), each placed by `tasks`."""
    return tuple(tasks(t, s) for t, s in zip(trees, sizes))


def online(state, sizes):
    """The online stage's state (`student.OnlineState`; `sizes`: each task group's task
    count): the shards D'_k and the envs split over the devices by task, the learner, the
    round and the key replicated."""
    return state.replace(learner=replicate(state.learner), buffers=groups(state.buffers, sizes),
                         envs=groups(state.envs, sizes), round=replicate(state.round),
                         key=replicate(state.key))


def describe(sizes, seed_count: int = 1) -> str:
    """The start line's mention of the placement (empty on one device); with several
    seeds, that of their seed axis."""
    n = device_count()
    if n == 1:
        return ""
    if seed_count > 1:
        return (f", seed axis over {n} devices" if splits(seed_count) else
                f", seeds replicated on {n} devices ({seed_count} not divisible by {n})")
    whole = [s for s in sizes if not splits(s)]
    note = (f"; {len(whole)} group(s) of {', '.join(map(str, whole))} task(s) replicated "
            f"(not divisible by {n})" if whole else "")
    return f", task axis over {n} devices{note}"


def placed(tree):
    """Every leaf of `tree` in a buffer of its own, committed to the default device
    (replicated over every process's devices in a multi-process job).

    Own buffers: epochs donate their input state, and an init may return one array twice
    (targets start as the online networks). Committed: an epoch's outputs are, and jit keys
    its compiled programs on the inputs' placement, so a first state that was not would
    make the second epoch compile again.
    """
    tree = jax.tree.map(jnp.copy, tree)
    if jax.process_count() > 1:   # other processes' devices cannot be one's default device
        return replicate(tree)
    return jax.device_put(tree, jax.devices()[0])
