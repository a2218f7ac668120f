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
