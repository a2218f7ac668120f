"""A pure-functional ring buffer with a leading task axis: arrays of shape [K, capacity, ...].

Each task's shard has its own write position and fill level. `insert` writes one
transition per task at its position (modulo capacity: nothing is shifted), and `sample`
draws N transitions uniformly from each task's filled part with one `randint` per task.
"""
import jax
import jax.numpy as jnp
from flax import struct

DEFAULT_CAPACITY = 1_000_000
FIELDS = ("obs", "action", "reward", "next_obs", "terminal")


@struct.dataclass
class Replay:
    obs: jax.Array        # [K, C, obs_size]
    action: jax.Array     # [K, C, action_size]
    reward: jax.Array     # [K, C]
    next_obs: jax.Array   # [K, C, obs_size]
    terminal: jax.Array   # [K, C]
    position: jax.Array   # [K] next write index
    size: jax.Array       # [K] number of valid transitions

    @property
    def capacity(self) -> int:
        return self.reward.shape[1]

    @property
    def num_tasks(self) -> int:
        return self.reward.shape[0]


def bytes_needed(num_tasks: int, capacity: int, obs_size: int, action_size: int) -> int:
    """Bytes of float32 storage for a Replay of these sizes."""
    return 4 * num_tasks * capacity * (2 * obs_size + action_size + 2)


def init(num_tasks: int, capacity: int, obs_size: int, action_size: int) -> Replay:
    z = lambda *shape: jnp.zeros((num_tasks, capacity, *shape), jnp.float32)
    return Replay(obs=z(obs_size), action=z(action_size), reward=z(), next_obs=z(obs_size),
                  terminal=z(), position=jnp.zeros((num_tasks,), jnp.int32),
                  size=jnp.zeros((num_tasks,), jnp.int32))


def insert(buffer: Replay, transition) -> Replay:
    """Writes one transition per task; `transition` has fields shaped [K, ...]."""
    def put(shard, pos, value):
        return jax.lax.dynamic_update_index_in_dim(shard, value.astype(shard.dtype), pos, 0)

    new = {f: jax.vmap(put)(getattr(buffer, f), buffer.position, getattr(transition, f))
           for f in FIELDS}
    return buffer.replace(**new, position=(buffer.position + 1) % buffer.capacity,
                          size=jnp.minimum(buffer.size + 1, buffer.capacity))


def sample(buffer: Replay, key, batch_size: int) -> dict:
    """N transitions drawn uniformly from each task's shard: dict of [K, N, ...] arrays.

    Sampling an empty shard returns its (zero) first row; callers start updates only
    once the shards hold data.
    """
    keys = jax.random.split(key, buffer.num_tasks)
    idx = jax.vmap(lambda k, n: jax.random.randint(k, (batch_size,), 0, jnp.maximum(n, 1)))(
        keys, buffer.size)
    take = jax.vmap(lambda shard, i: jnp.take(shard, i, axis=0))
    return {f: take(getattr(buffer, f), idx) for f in FIELDS}



def concat(first: Replay, second: Replay) -> Replay:
    """One Replay holding, for every task, the filled part of `first` then that of `second`
    (capacity: the sum of theirs)."""
    capacity = first.capacity + second.capacity
    rows = jnp.arange(capacity)

    def merge(a, b, n):
        from_b = jnp.clip(rows - n, 0, second.capacity - 1)
        pick = (rows < n).reshape((-1,) + (1,) * (a.ndim - 1))
        return jnp.where(pick, jnp.take(a, jnp.minimum(rows, first.capacity - 1), axis=0),
                         jnp.take(b, from_b, axis=0))

    size = first.size + second.size
    return Replay(**{f: jax.vmap(merge)(getattr(first, f), getattr(second, f), first.size)
                     for f in FIELDS}, position=size % capacity, size=size)


def prefill(buffer: Replay, data: Replay) -> Replay:
    """`buffer` (empty) holding, for every task, the newest transitions of `data` that fit
    (data's filled part is taken as chronological, oldest first)."""
    rows = jnp.arange(buffer.capacity)
    kept = jnp.minimum(data.size, buffer.capacity)

    def fill(dst, src, n, m):
        src_rows = jnp.clip(rows + n - m, 0, data.capacity - 1)
        pick = (rows < m).reshape((-1,) + (1,) * (dst.ndim - 1))
        return jnp.where(pick, jnp.take(src, src_rows, axis=0).astype(dst.dtype), dst)

    return Replay(**{f: jax.vmap(fill)(getattr(buffer, f), getattr(data, f), data.size, kept)
                     for f in FIELDS}, position=kept % buffer.capacity, size=kept)


def random_full(num_tasks: int, capacity: int, obs_size: int, action_size: int, key) -> Replay:
    """A full Replay of random transitions (normal observations and rewards, uniform
    actions in [-1, 1], no terminals): stand-in data for benchmarks and tests."""
    buf = init(num_tasks, capacity, obs_size, action_size)
    keys = jax.random.split(key, 4)
    return buf.replace(
        obs=jax.random.normal(keys[0], buf.obs.shape),
        next_obs=jax.random.normal(keys[1], buf.next_obs.shape),
        action=jax.random.uniform(keys[2], buf.action.shape, minval=-1.0, maxval=1.0),
        reward=jax.random.normal(keys[3], buf.reward.shape),
        size=jnp.full((num_tasks,), capacity, jnp.int32))


def chronological(buffer: Replay) -> dict:
    """The filled part of a single-task Replay (no task axis), oldest transition first."""
    size, position, capacity = int(buffer.size), int(buffer.position), buffer.reward.shape[0]
    order = (jnp.arange(size) + (position if size == capacity else 0)) % capacity
    return {f: jnp.take(getattr(buffer, f), order, axis=0) for f in FIELDS}
