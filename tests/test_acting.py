"""Noisy rollouts (ktmjax.acting): the policy's action plus Gaussian noise, or a uniform
random action at the share asked, on a real env."""
import jax.numpy as jnp
import numpy as np

from ktmjax import acting, envs

STEPS = 400


def _actions(noise, random_share):
    env = envs.MultiTaskEnv(envs.benchmark_tasks("mini", ["InvertedPendulum"]))
    zero = lambda g, params, obs: jnp.zeros(obs.shape[:-1] + (env.groups[g].action_size,))
    buffers = acting.noisy_rollouts(env, zero, [None], STEPS, np.uint32([0, 7]), noise,
                                    random_share)
    return np.asarray(buffers[0].action[0, :, 0])


def test_noise_and_random_share_of_the_rollouts():
    np.testing.assert_array_equal(_actions(0.0, 0.0), 0.0)      # the policy's own action
    gaussian = _actions(0.3, 0.0)
    assert 0.25 < gaussian.std() < 0.35 and np.all(np.abs(gaussian) <= 1)
    uniform = _actions(0.0, 1.0)          # all random: U(-1, 1), mean |a| 0.5
    assert 0.45 < np.abs(uniform).mean() < 0.55 and np.all(np.abs(uniform) <= 1)
    half = _actions(0.0, 0.5)             # the others stay the policy's (zero) action
    assert 0.4 < np.mean(half != 0.0) < 0.6
