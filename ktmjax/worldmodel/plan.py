"""TD-MPC2's planner: MPPI in the latent space, warm-started from the previous step's
plan, with a share of the samples drawn by rolling out the policy prior.

`plan` acts for one observation of one task; vmap it over a batch of envs."""
import dataclasses

import jax
import jax.numpy as jnp

from ktmjax.worldmodel import model


@dataclasses.dataclass(frozen=True)
class PlanConfig:
    horizon: int = 3
    iterations: int = 6
    num_samples: int = 512
    num_pi_trajs: int = 24
    num_elites: int = 64
    temperature: float = 0.5
    min_std: float = 0.05
    max_std: float = 2.0


def trajectory_values(mcfg, params, z, actions, task, gamma, key):
    """Value of each action sequence actions [H, N, A] from latent z [N, L]:
    sum_t gamma^t r_hat(z_t, a_t) + gamma^H Q_avg(z_H, pi(z_H)). Returns [N]."""
    def step(carry, a):
        z, ret, disc = carry
        ret = ret + disc * model.reward(mcfg, params, z, a, task)
        return (model.next_latent(mcfg, params, z, a, task), ret, disc * gamma), None

    zero = jnp.zeros(z.shape[0], z.dtype)
    (z, ret, disc), _ = jax.lax.scan(step, (z, zero, jnp.ones((), z.dtype)),
                                     actions.astype(z.dtype))
    k_pi, k_q = jax.random.split(key)
    _, a, _ = model.policy(mcfg, params, z, task, k_pi)
    return ret + disc * model.q_value(mcfg, params["qs"], params, z, a, task, k_q, "avg")


def policy_trajectories(mcfg, params, z, task, horizon, key):
    """Action sequences [H, N, A] from rolling the policy prior through the dynamics."""
    def step(z, k):
        _, a, _ = model.policy(mcfg, params, z, task, k)
        return model.next_latent(mcfg, params, z, a, task), a
    return jax.lax.scan(step, z, jax.random.split(key, horizon))[1]


def plan(mcfg, pcfg: PlanConfig, params, obs, task, prev_mean, first_step, gamma, key,
         explore):
    """One action for obs [S] of task `task` (scalar id).

    prev_mean [H, A] is the last plan's mean (used shifted by one step unless
    `first_step`). The action is an elite sequence's first action, drawn by score; with
    `explore` it also gets the planner's sampling noise (its final std), as TD-MPC2 acts
    while training (and as the follow-up evaluated). Returns (action [A], new mean [H, A]),
    both float32. The planner computes in the dtype of `params` (float32, or a half
    precision for acting in it: `compute_in`)."""
    dtype = jax.tree.leaves(params)[0].dtype
    obs, prev_mean, gamma = (jnp.asarray(x).astype(dtype) for x in (obs, prev_mean, gamma))
    H, N, P, A = pcfg.horizon, pcfg.num_samples, pcfg.num_pi_trajs, mcfg.action_size
    mask = mcfg.action_masks()[task].astype(dtype)
    k_pi, k_iter, k_pick, k_noise = jax.random.split(key, 4)
    z = model.encode(mcfg, params, obs, task)
    pi_actions = policy_trajectories(mcfg, params, jnp.broadcast_to(z, (P, z.shape[-1])), task,
                                     H, k_pi) if P > 0 else jnp.zeros((H, 0, A), dtype)
    shifted = jnp.concatenate([prev_mean[1:], jnp.zeros((1, A), dtype)], 0)
    mean = jnp.where(first_step, jnp.zeros((H, A), dtype), shifted)
    std = jnp.full((H, A), pcfg.max_std, dtype)
    zs = jnp.broadcast_to(z, (N, z.shape[-1]))

    def iteration(carry, key):
        mean, std, _, _ = carry
        k_sample, k_value = jax.random.split(key)
        noise = jax.random.normal(k_sample, (H, N - P, A), dtype)
        sampled = jnp.clip(mean[:, None] + std[:, None] * noise, -1.0, 1.0)
        actions = jnp.concatenate([pi_actions, sampled], 1) * mask
        value = jnp.nan_to_num(trajectory_values(mcfg, params, zs, actions, task, gamma,
                                                 k_value))
        elite_value, elite_idx = jax.lax.top_k(value, pcfg.num_elites)
        elites = actions[:, elite_idx]                                  # [H, E, A]
        score = jnp.exp(pcfg.temperature * (elite_value - elite_value.max()))
        score = score / score.sum()
        mean = jnp.sum(score[None, :, None] * elites, 1)
        std = jnp.sqrt(jnp.sum(score[None, :, None] * (elites - mean[:, None]) ** 2, 1))
        std = jnp.clip(std, pcfg.min_std, pcfg.max_std)
        return (mean * mask, std * mask, elites, score), None

    init = (mean, std, jnp.zeros((H, pcfg.num_elites, A), dtype),
            jnp.ones(pcfg.num_elites, dtype) / pcfg.num_elites)
    (mean, std, elites, score), _ = jax.lax.scan(iteration, init,
                                                jax.random.split(k_iter, pcfg.iterations))
    choice = jax.random.categorical(k_pick, jnp.log(score))
    action = elites[0, choice]
    noisy = action + std[0] * jax.random.normal(k_noise, (A,), dtype)
    action = jnp.where(explore, noisy, action)
    return ((jnp.clip(action, -1.0, 1.0) * mask).astype(jnp.float32),
            mean.astype(jnp.float32))


def compute_in(params, dtype: str):
    """`params` (numpy or jax arrays) as jax arrays of `dtype` (e.g. float16), so that
    `plan` computes in it."""
    return jax.tree.map(lambda x: jnp.asarray(x, dtype), params)
