"""TD-MPC2's losses, and the follow-up's reward-head distillation term.

A batch holds B sub-trajectories of H+1 steps: obs [H+1, B, S], action [H, B, A],
reward [H, B], task [B] (task ids). Step t is weighted rho^t.
"""
import dataclasses

import jax
import jax.numpy as jnp

from ktmjax.worldmodel import model, twohot


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """TD-MPC2's loss weights and settings."""
    horizon: int = 3
    rho: float = 0.5
    consistency_coef: float = 20.0
    reward_coef: float = 0.1
    value_coef: float = 0.1
    entropy_coef: float = 1e-4
    tau: float = 0.01             # target-Q Polyak rate, and the Q scale's EMA rate


def rho_weights(cfg: LossConfig, steps: int):
    return cfg.rho ** jnp.arange(steps, dtype=jnp.float32)


def td_targets(mcfg, params, target_q, next_z, reward, task, discounts, key):
    """r + gamma_task * min of two target Qs at (z', a' ~ pi(z')): [H, B], no gradient."""
    k_pi, k_q = jax.random.split(key)
    _, action, _ = model.policy(mcfg, params, next_z, task, k_pi)
    q = model.q_value(mcfg, target_q, params, next_z, action, task, k_q, "min")
    return jax.lax.stop_gradient(reward + discounts[task] * q)


def rollout(mcfg, params, z0, actions, task):
    """The latents the dynamics predicts from z0 under actions [H, B, A]: [H, B, L]."""
    def step(z, a):
        z = model.next_latent(mcfg, params, z, a, task)
        return z, z
    return jax.lax.scan(step, z0, actions)[1]


def world_model_loss(mcfg, cfg: LossConfig, params, target_q, batch, discounts, key):
    """TD-MPC2's model loss: 20 * consistency + 0.1 * reward + 0.1 * value, each averaged
    over the horizon (and the Q ensemble) with weights rho^t.

    Returns (total, terms dict, zs [H+1, B, L]: the encoded then rolled-out latents)."""
    obs, action, reward, task = batch["obs"], batch["action"], batch["reward"], batch["task"]
    k_target, k_dropout = jax.random.split(key)
    next_z = jax.lax.stop_gradient(model.encode(mcfg, params, obs[1:], task))
    targets = td_targets(mcfg, params, target_q, next_z, reward, task, discounts, k_target)
    z0 = model.encode(mcfg, params, obs[0], task)
    predicted = rollout(mcfg, params, z0, action, task)
    zs = jnp.concatenate([z0[None], predicted], 0)
    w = rho_weights(cfg, cfg.horizon)
    consistency = jnp.sum(w * jnp.mean((predicted - next_z) ** 2, axis=(1, 2))) / cfg.horizon
    reward_ce = twohot.soft_ce(model.reward_logits(mcfg, params, zs[:-1], action, task), reward)
    reward_loss = jnp.sum(w * jnp.mean(reward_ce, 1)) / cfg.horizon
    q = model.q_logits(mcfg, params["qs"], params, zs[:-1], action, task, train=True,
                       rng=k_dropout)
    value_ce = twohot.soft_ce(q, targets[None])                  # [num_q, H, B]
    value_loss = jnp.sum(w * jnp.mean(value_ce, 2).sum(0)) / (cfg.horizon * mcfg.num_q)
    total = (cfg.consistency_coef * consistency + cfg.reward_coef * reward_loss
             + cfg.value_coef * value_loss)
    terms = {"consistency": consistency, "reward": reward_loss, "value": value_loss}
    return total, terms, zs


def reward_distillation(mcfg, params, teacher_cfg, teacher_params, batch):
    """The follow-up's term: MSE between the student's and the frozen teacher's decoded
    rewards at the first step of each sub-trajectory, each model encoding the observation
    itself. Gradients reach the student's encoder, reward head and task embedding only."""
    obs, action, task = batch["obs"][0], batch["action"][0], batch["task"]
    student = model.reward(mcfg, params, model.encode(mcfg, params, obs, task), action, task)
    teacher_z = model.encode(teacher_cfg, teacher_params, obs, task)
    teacher = jax.lax.stop_gradient(
        model.reward(teacher_cfg, teacher_params, teacher_z, action, task))
    return jnp.mean((student - teacher) ** 2)


def percentile_range(q):
    """95th minus 5th percentile of q over its batch (at least 1): the Q scale's target."""
    low, high = jnp.percentile(q, jnp.array([5.0, 95.0]))
    return jnp.maximum(high - low, 1.0)


def policy_loss(mcfg, cfg: LossConfig, pi_params, params, zs, task, scale, key):
    """TD-MPC2's policy prior loss over the (detached) latents zs [H+1, B, L]:
    -(entropy_coef * scaled entropy + Q_avg / scale), weighted rho^t, averaged.

    The entropy's Gaussian part is scaled by the task's number of action entries; the Qs (parameters of
    `params`) get no gradient. `scale` is the running Q scale before this batch: it moves
    by `tau` towards this batch's 5th-95th percentile range of Q at t=0, and the new value
    divides the Qs. Returns (loss, (new scale, entropy [H+1, B]))."""
    k_pi, k_q = jax.random.split(key)
    frozen = jax.lax.stop_gradient(params)
    _, action, log_prob = model.policy(mcfg, dict(frozen, pi=pi_params), zs, task, k_pi,
                                       scale_by_dims=True)
    q = model.q_value(mcfg, frozen["qs"], frozen, zs, action, task, k_q, "avg")
    scale = scale + cfg.tau * (percentile_range(jax.lax.stop_gradient(q[0])) - scale)
    entropy = -log_prob
    objective = cfg.entropy_coef * entropy + q / scale
    w = rho_weights(cfg, zs.shape[0])
    loss = -jnp.mean(w * jnp.mean(objective, 1))
    return loss, (scale, entropy)
