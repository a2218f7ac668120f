import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ktmjax import networks, td3


def test_td_target_and_losses_by_hand():
    reward = jnp.array([1.0, 2.0])
    terminal = jnp.array([0.0, 1.0])
    next_q = jnp.array([[10.0, 5.0], [8.0, 7.0]])  # [2 heads, N]
    y = td3.td_target(reward, terminal, next_q, gamma=0.5)
    np.testing.assert_allclose(y, [1.0 + 0.5 * 8.0, 2.0])
    q = jnp.array([[4.0, 1.0], [6.0, 2.0]])
    # ((5-4)^2 + (5-6)^2 + (2-1)^2 + (2-2)^2) / 2
    assert float(td3.twin_regression_loss(q, y)) == pytest.approx(1.5)
    tgt = td3.soft_update({"w": jnp.array(1.0)}, {"w": jnp.array(3.0)}, 0.25)
    assert float(tgt["w"]) == pytest.approx(1.5)


def test_smoothed_target_action_is_clipped():
    a = td3.smoothed_target_action(jnp.full((1000, 2), 0.9), jax.random.PRNGKey(0), 0.2, 0.5)
    assert float(a.max()) <= 1.0 and float(a.min()) >= 0.4 - 1e-6
    noise = td3.smoothed_target_action(jnp.zeros((1000,)), jax.random.PRNGKey(1), 5.0, 0.3)
    assert float(jnp.abs(noise).max()) == pytest.approx(0.3)


def test_policy_delay_and_frozen_targets():
    config = td3.TD3Config(hidden=(8, 8), batch_size=4)
    state = jax.vmap(lambda k: td3.init(k, 3, 2, config))(jax.random.split(jax.random.PRNGKey(0), 2))
    batch = {"obs": jnp.ones((2, 4, 3)), "action": jnp.zeros((2, 4, 2)), "reward": jnp.ones((2, 4)),
             "next_obs": jnp.ones((2, 4, 3)), "terminal": jnp.zeros((2, 4))}
    update = jax.jit(lambda s, b: td3.update(s, b, config))
    leaf = lambda p: np.asarray(jax.tree.leaves(p)[0])
    s1, losses = update(state, batch)  # step 1: critic only
    assert losses.shape == (2, 2) and np.all(losses[0] > 0) and np.all(losses[1] == 0)
    np.testing.assert_array_equal(leaf(s1.actor_params), leaf(state.actor_params))
    np.testing.assert_array_equal(leaf(s1.target_critic_params), leaf(state.target_critic_params))
    assert not np.array_equal(leaf(s1.critic_params), leaf(state.critic_params))
    s2, _ = update(s1, batch)     # step 2: actor and targets too
    assert not np.array_equal(leaf(s2.actor_params), leaf(s1.actor_params))
    assert not np.array_equal(leaf(s2.target_critic_params), leaf(s1.target_critic_params))
    np.testing.assert_array_equal(s2.steps, [2, 2])


@pytest.mark.slow
def test_td3_solves_a_bandit_with_a_known_answer():
    """One-step task (every transition terminal): reward = -4 |a - target|^2, target = 0.5 on
    the first action and -0.3 on the second. The critic must learn Q = r and the actor the
    optimum a* = (0.5, -0.3)."""
    config = td3.TD3Config(hidden=(64, 64), batch_size=128)
    target = jnp.array([0.5, -0.3])
    state = jax.vmap(lambda k: td3.init(k, 3, 2, config))(jax.random.split(jax.random.PRNGKey(0), 1))

    def step(state, key):
        action = jax.random.uniform(key, (1, 128, 2), minval=-1, maxval=1)
        obs = jnp.ones((1, 128, 3))
        batch = {"obs": obs, "action": action, "next_obs": obs, "terminal": jnp.ones((1, 128)),
                 "reward": -4.0 * jnp.sum(jnp.square(action - target), -1)}
        return td3.update(state, batch, config)

    state, losses = jax.jit(lambda s, keys: jax.lax.scan(step, s, keys))(
        state, jax.random.split(jax.random.PRNGKey(1), 3000))
    one = jax.tree.map(lambda x: x[0], state)
    best = td3.policy(one.actor_params, jnp.ones((3,)), 2, config)
    # A ReLU critic is piecewise linear, so its argmax sits on a kink near the optimum.
    np.testing.assert_allclose(best, target, atol=0.1)
    q = networks.q1(config.critic(), one.critic_params, jnp.ones((1, 3)), target[None])
    assert abs(float(q[0])) < 0.1
    critic = losses[:, 0, 0]                            # losses [steps, critic/actor, task]
    assert float(critic[-100:].mean()) < 0.01 * float(critic[:100].mean())
    assert np.all(losses[0::2, 1] == 0) and np.all(losses[1::2, 1] != 0)   # actor every 2nd
