import jax
import jax.numpy as jnp
import numpy as np

from ktmjax import replay
from ktmjax.envs import Transition


def _transition(values):
    """One transition per task whose every field holds that task's value."""
    v = jnp.asarray(values, jnp.float32)
    return Transition(obs=v[:, None] * jnp.ones((1, 3)), action=v[:, None] * jnp.ones((1, 2)),
                      reward=v, next_obs=v[:, None] * jnp.ones((1, 3)) + 0.5, terminal=v * 0)


def test_ring_buffer_wraps_around_modulo_capacity():
    buf = replay.init(num_tasks=2, capacity=4, obs_size=3, action_size=2)
    insert = jax.jit(replay.insert)
    for i in range(6):
        buf = insert(buf, _transition([i, 100 + i]))
    # Slots 0 and 1 were overwritten by the 5th and 6th transitions; 2 and 3 still hold the 3rd, 4th.
    np.testing.assert_array_equal(buf.reward[0], [4, 5, 2, 3])
    np.testing.assert_array_equal(buf.reward[1], [104, 105, 102, 103])
    np.testing.assert_array_equal(buf.position, [2, 2])
    np.testing.assert_array_equal(buf.size, [4, 4])
    np.testing.assert_array_equal(buf.next_obs[0, :, 0], [4.5, 5.5, 2.5, 3.5])


def test_sampling_stays_inside_each_task_shard_and_its_filled_part():
    buf = replay.init(num_tasks=3, capacity=50, obs_size=3, action_size=2)
    for i in range(10):
        buf = replay.insert(buf, _transition([i, 1000 + i, 2000 + i]))
    batch = jax.jit(replay.sample, static_argnums=2)(buf, jax.random.PRNGKey(0), 500)
    assert batch["obs"].shape == (3, 500, 3) and batch["action"].shape == (3, 500, 2)
    for k, base in enumerate((0, 1000, 2000)):
        r = np.asarray(batch["reward"][k])
        assert r.min() >= base and r.max() <= base + 9  # never an empty slot, never another task
        assert len(np.unique(r)) == 10                 # uniform over all ten filled rows
        np.testing.assert_array_equal(batch["obs"][k][:, 0], r)  # fields stay aligned


def test_memory_estimate():
    assert replay.bytes_needed(8, 1_000_000, 17, 6) == 4 * 8 * 1_000_000 * (17 * 2 + 6 + 2)
    buf = replay.init(2, 10, 3, 2)
    fields = sum(getattr(buf, f).nbytes for f in replay.FIELDS)
    assert fields == replay.bytes_needed(2, 10, 3, 2)


def _filled(values_per_task, capacity):
    """A Replay whose task k holds values_per_task[k] (as rewards) in order."""
    buf = replay.init(num_tasks=len(values_per_task), capacity=capacity, obs_size=3, action_size=2)
    for step in range(max(len(v) for v in values_per_task)):
        # Tasks with fewer values keep their size: insert, then restore the old size/position.
        vals = [v[step] if step < len(v) else -1 for v in values_per_task]
        new = replay.insert(buf, _transition(vals))
        grow = jnp.asarray([step < len(v) for v in values_per_task])
        buf = new.replace(position=jnp.where(grow, new.position, buf.position),
                          size=jnp.where(grow, new.size, buf.size))
    return buf


def test_concat_keeps_each_tasks_filled_rows_in_order():
    a = _filled([[1, 2], [11, 12, 13]], capacity=4)
    b = _filled([[5, 6, 7], [15]], capacity=3)
    both = jax.jit(replay.concat)(a, b)
    assert both.capacity == 7
    np.testing.assert_array_equal(both.size, [5, 4])
    np.testing.assert_array_equal(both.reward[0, :5], [1, 2, 5, 6, 7])
    np.testing.assert_array_equal(both.reward[1, :4], [11, 12, 13, 15])
    np.testing.assert_array_equal(both.obs[1, :4, 0], [11, 12, 13, 15])
    # Sampling never reaches past a task's filled part.
    batch = replay.sample(both, jax.random.PRNGKey(0), 500)
    assert set(np.asarray(batch["reward"][1]).tolist()) == {11, 12, 13, 15}


def test_prefill_keeps_the_newest_transitions_that_fit():
    data = _filled([[1, 2, 3, 4, 5], [21, 22]], capacity=6)
    buf = jax.jit(replay.prefill)(replay.init(2, 3, 3, 2), data)
    np.testing.assert_array_equal(buf.size, [3, 2])
    np.testing.assert_array_equal(buf.position, [0, 2])
    np.testing.assert_array_equal(buf.reward[0], [3, 4, 5])
    np.testing.assert_array_equal(buf.reward[1, :2], [21, 22])
    # The next insert overwrites the oldest kept transition of a full shard.
    buf = replay.insert(buf, _transition([9, 23]))
    np.testing.assert_array_equal(buf.reward[0], [9, 4, 5])
    np.testing.assert_array_equal(buf.reward[1], [21, 22, 23])
