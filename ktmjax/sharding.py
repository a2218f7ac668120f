"""The seed and task axes over every visible device: one program for 1 or N devices.

The devices form a two-axis mesh ("seeds", "tasks"). Arrays with a task axis [G] (a
group's stacked teachers, their replay shards D_k, the online shards D'_k, environment
states) are split over the "tasks" mesh axis; everything else (the student's parameters
and optimiser states, counters, keys) is replicated over it. jit then partitions each
program (GSPMD): a task's physics, replay sampling and per-task losses run on the device
that holds the task, and the student's mean over tasks becomes XLA's all-reduce. On a TPU
v2/v3-8 (8 cores) Benchmark A's 8 tasks sit one per core.

Several seeds in one program (`ktmjax.seed_axis`) stack their states on a leading seed
axis, split over the "seeds" mesh axis: the largest number of devices that divides both
the device count and the seed count (1 for one seed), so each seed's run sits on its
own row of devices and the seeds run side by side without collectives; the rest of the
devices split the task axes. Every placement takes the program's seed count (`seeds`):
an array gets a seed dimension in its spec only where several seeds stack one.

A group whose size does not divide by the "tasks" axis is replicated over it: every
device of a row runs it whole (correct, no speed-up for that group); `describe` says so
in each command's start line. On one device these functions return their input: the
programs are those of a single-device run. In a multi-process job
(`ktmjax.distributed`) the mesh spans every process's devices.
"""
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


SEEDS, TASKS = "seeds", "tasks"
_chosen = None   # the devices to use (`use_devices`); None: all visible ones


def use_devices(devices=None) -> None:
    """Restricts the placement to `devices` (None: every visible device again)."""
    global _chosen
    _chosen = list(devices) if devices is not None else None


def devices() -> list:
    return _chosen if _chosen is not None else jax.devices()


def device_count() -> int:
    return len(devices())


def seed_devices(seeds: int = 1) -> int:
    """The size of the mesh's "seeds" axis: the largest divisor of the device count that
    also divides `seeds`."""
    n = device_count()
    return max(d for d in range(1, n + 1) if n % d == 0 and seeds % d == 0)


def mesh(seeds: int = 1) -> Mesh:
    d = seed_devices(seeds)
    return Mesh(np.asarray(devices()).reshape(d, -1), (SEEDS, TASKS))


def splits(size: int, seeds: int = 1) -> bool:
    """Whether a task axis of `size` is split over the "tasks" mesh axis (of several
    devices, dividing it)."""
    n = device_count() // seed_devices(seeds)
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


def _spec(seeds: int, task_size: int = None, seeded: bool = True) -> PartitionSpec:
    """The placement of an array with a seed axis (where `seeded` and `seeds` > 1) and
    then, where `task_size` is given, a task axis of that size."""
    lead = (SEEDS,) if seeded and seeds > 1 else ()
    if task_size is None:
        return PartitionSpec(*lead)
    return PartitionSpec(*lead, TASKS if splits(task_size, seeds) else None)


def _put(tree, spec: PartitionSpec, seeds: int):
    if device_count() == 1:   # committed already (`placed`, jit outputs): nothing to do
        return tree
    placement = NamedSharding(mesh(seeds), spec)
    if jax.process_count() > 1:   # onto other processes' devices
        return jax.tree.map(lambda x: _put_across_processes(x, placement), tree)
    return jax.device_put(tree, placement)


def replicate(tree, seeds: int = 1):
    """Every leaf whole on every device of its seed's row (on every device for one seed)."""
    return _put(tree, _spec(seeds), seeds)


def tasks(tree, size: int, seeds: int = 1, seeded: bool = True):
    """Every leaf of `tree` has a task axis of `size` (after the seed axis, where `seeded`
    and `seeds` > 1): split it over the "tasks" mesh axis where `splits(size, seeds)`,
    else replicate it over that axis."""
    return _put(tree, _spec(seeds, size, seeded), seeds)


def groups(trees, sizes, seeds: int = 1, seeded: bool = True):
    """One tree per task group (axes: the seeds where `seeded`, then the group's tasks),
    each placed by `tasks`."""
    return tuple(tasks(t, s, seeds, seeded) for t, s in zip(trees, sizes))


def online(state, sizes, seeds: int = 1):
    """The online stage's state (`student.OnlineState`; `sizes`: each task group's task
    count): the shards D'_k and the envs split by task, the learner, the round and the
    key replicated over the task axis."""
    return state.replace(learner=replicate(state.learner, seeds),
                         buffers=groups(state.buffers, sizes, seeds),
                         envs=groups(state.envs, sizes, seeds),
                         round=replicate(state.round, seeds), key=replicate(state.key, seeds))


def describe(sizes, seeds: int = 1) -> str:
    """The start line's mention of the placement (empty on one device); `sizes`: each task
    group's task count (none for a program without task axes)."""
    n = device_count()
    if n == 1:
        return ""
    d = seed_devices(seeds)
    note = f", seed axis over {d} devices" if d > 1 else ""
    if n // d == 1 or not sizes:     # no task axis to split
        return note
    whole = [s for s in sizes if not splits(s, seeds)]
    return (note + f", task axis over {n // d} devices" + (
        f"; {len(whole)} group(s) of {', '.join(map(str, whole))} task(s) replicated "
        f"(not divisible by {n // d})" if whole else ""))


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
