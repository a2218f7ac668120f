"""The typed batches the student's losses read, one task per leading row (a group's tasks,
stacked), and how a round draws them from the task shards.

Every batch has a critic part, in padded space only (so the parts of all task groups
concatenate into one task axis), and an actor part, which also holds the raw states the
group's teachers read.
"""
from functools import partial
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp

from ktmjax import layout, networks, replay, sac, td3


class SlopeBatch(NamedTuple):
    """For `extensions.critic_gradient_distillation_loss` (not in the paper): states of the
    teacher's rollouts and the teacher's own action and dQ1^k/da there."""
    obs_hat: jax.Array              # ŝ [N, S]
    teacher_action_hat: jax.Array   # pi^k(s) padded [N, A_max]
    teacher_dqda: jax.Array         # dQ1^k/da at pi^k(s), padded with zeros [N, A_max]
    mask: jax.Array                 # g^k [A_max]


class DistillCriticBatch(NamedTuple):
    """Eq. 1's inputs: a batch of D_k."""
    obs_hat: jax.Array              # ŝ [N, S]
    action_hat: jax.Array           # D_k's action, padded [N, A_max]
    teacher_q: jax.Array            # the teacher's (Q1, Q2)(s, a) [2, N]
    slope: Optional[SlopeBatch] = None


class DistillActorBatch(NamedTuple):
    """Eq. 2's inputs: the states of the same batch of D_k."""
    obs: jax.Array                  # raw s [N, s_k], what the teacher critic reads
    obs_hat: jax.Array              # ŝ [N, S]
    teacher_action: Optional[jax.Array] = None   # pi^k(s) [N, a_k], for `actor_match`


class TDCriticBatch(NamedTuple):
    """Eq. 4's inputs: a batch of D'_k and its Eq. 3 target."""
    obs_hat: jax.Array              # ŝ [N, S]
    action_hat: jax.Array           # D'_k's action, padded [N, A_max]
    y: jax.Array                    # the TD target [N]


class GuidedActorBatch(NamedTuple):
    """Eq. 5's inputs: the states of the same batch of D'_k."""
    obs: jax.Array                  # raw s [N, s_k]
    obs_hat: jax.Array              # ŝ [N, S]
    mask: jax.Array                 # g^k [A_max]
    teacher_action: Optional[jax.Array] = None   # pi^k(s) [N, a_k], for `actor_match`
    noise: Optional[jax.Array] = None    # SAC-MT: N(0, 1) of the policy's draw [N, A_max]
    task: Optional[jax.Array] = None     # SAC-MT: the task's benchmark index (its alpha_k)


class Batch(NamedTuple):
    critic: Any                     # DistillCriticBatch or TDCriticBatch
    actor: Any                      # DistillActorBatch or GuidedActorBatch


def _teacher_actions(s, g, teacher, obs):
    """pi^k(s) of group g's frozen teachers on raw states [G, N, s_k] -> [G, N, a_k]."""
    return jax.lax.stop_gradient(td3.stacked_policy(
        teacher.actor_params, obs, s.groups[g].action_size, s.teacher_configs[g]))


def offline(s, teachers, key) -> tuple:
    """One `Batch` per task group of student `s` (a `Student`): `batch_size` transitions of
    each task's D_k, the frozen teachers' values on them, and what the student's extension
    terms need (a batch of the teachers' rollouts for `critic_grad`)."""
    config = s.config
    keys = jax.random.split(key, len(s.groups))
    out = []
    for g, (teacher, k) in enumerate(zip(teachers, keys)):
        batch = replay.sample(teacher.data, k, config.net.batch_size)
        teacher_q = jax.vmap(s.teacher_critics[g].apply)(
            teacher.critic_params, batch["obs"], batch["action"])        # [G, 2, N]
        obs_hat = s.obs_hat(g, batch["obs"])
        slope = None
        if config.critic_grad:
            if teacher.rollouts is None:
                raise ValueError("critic_grad needs the teachers' rollouts "
                                 "(teacher_data.rollout_data) for its states")
            obs = replay.sample(teacher.rollouts, jax.random.fold_in(k, 1),
                                config.net.batch_size)["obs"]           # [G, N, s_k]
            action = _teacher_actions(s, g, teacher, obs)               # [G, N, a_k]
            dqda = jax.vmap(partial(networks.q1_action_grad, s.teacher_critics[g]))(
                teacher.critic_params, obs, action)
            pad = partial(layout.pad_action, action_max=s.layout.action_max)
            slope = SlopeBatch(s.obs_hat(g, obs), pad(action), jax.lax.stop_gradient(pad(dqda)),
                               s.group_masks(g))
        teacher_action = (_teacher_actions(s, g, teacher, batch["obs"])
                          if config.actor_match else None)
        out.append(Batch(
            DistillCriticBatch(obs_hat, layout.pad_action(batch["action"], s.layout.action_max),
                               jax.lax.stop_gradient(teacher_q), slope),
            DistillActorBatch(batch["obs"], obs_hat, teacher_action)))
    return tuple(out)


def _target_noise(config, key, shape):
    if config.target_noise == "uniform":   # the public code's rand_like
        return 0.1 * jax.random.uniform(key, shape)
    return jnp.clip(config.net.policy_noise * jax.random.normal(key, shape),
                    -config.net.noise_clip, config.net.noise_clip)


def online(s, learner: td3.TD3State, buffers, teachers, key) -> tuple:
    """One `Batch` per task group: `batch_size` transitions of each task's online shard D'_k
    with their Eq. 3 target y = r + gamma (1 - d) min_j Q'_j(ŝ', g^k(pi'(ŝ') + noise)), and
    the teachers' actions for `actor_match`."""
    config = s.config
    keys = jax.random.split(key, 2 * len(s.groups))
    out = []
    for g, teacher in enumerate(teachers):
        batch = replay.sample(buffers[g], keys[2 * g], config.net.batch_size)
        obs_hat = s.obs_hat(g, batch["obs"])
        next_hat = s.obs_hat(g, batch["next_obs"])
        masks = s.group_masks(g)
        if config.algo == "sac":
            y, sac_inputs = _sac_target(s, g, learner, batch, next_hat, masks, keys[2 * g + 1])
        else:
            y, _ = td_targets(s, learner, batch, next_hat, masks[0], keys[2 * g + 1])
            sac_inputs = {}
        teacher_action = (_teacher_actions(s, g, teacher, batch["obs"])
                          if config.actor_match else None)
        out.append(Batch(
            TDCriticBatch(obs_hat, layout.pad_action(batch["action"], s.layout.action_max), y),
            GuidedActorBatch(batch["obs"], obs_hat, masks, teacher_action, **sac_inputs)))
    return tuple(out)


def td_targets(s, learner: td3.TD3State, batch, next_hat, mask, key) -> tuple:
    """Eq. 3 of a group's batch (`replay.sample`'s dict, its next states ŝ' [G, N, ...] and
    the group's action mask g^k): (y [G, N], the target critics' (Q1', Q2') [G, 2, N] at
    the smoothed target action g^k(pi'(ŝ') + noise))."""
    next_action = s.actor.apply(learner.target_actor_params, next_hat)
    next_action = jnp.clip(next_action + _target_noise(s.config, key, next_action.shape),
                           -1.0, 1.0)
    next_q = _target_q(s, learner, next_hat, next_action, mask)
    y = jax.vmap(lambda r, d, q: td3.td_target(r, d, q, s.config.net.gamma))(
        batch["reward"], batch["terminal"], next_q)
    return y, next_q


def _sac_target(s, g, learner: td3.TD3State, batch, next_hat, masks, key) -> tuple:
    """SAC-MT's TD target of group g's batch (`sac.soft_td_target`, a' drawn from the
    current policy, alpha_k of each task) [G, N], and the noise and task indices of the
    actor's batch."""
    next_key, actor_key = jax.random.split(key)
    shape = next_hat.shape[:-1] + (s.layout.action_max,)
    next_action, log_prob = s.actor.apply(learner.actor_params, next_hat,
                                          jax.random.normal(next_key, shape),
                                          method=sac.GaussianActor.sample)
    next_log_prob = sac.masked_log_prob(log_prob, masks[:, None])                   # [G, N]
    task = jnp.asarray(s.groups[g].indices)
    alpha = jnp.exp(s.actor.apply(learner.actor_params,
                                  method=sac.GaussianActor.temperatures))[task]     # [G]
    next_q = _target_q(s, learner, next_hat, next_action, masks[0])             # [G, 2, N]
    y = jax.vmap(lambda r, d, q, lp, al: sac.soft_td_target(r, d, q, lp, al, s.config.net.gamma))(
        batch["reward"], batch["terminal"], next_q, next_log_prob, alpha)
    return y, dict(noise=jax.random.normal(actor_key, shape), task=task)


def _target_q(s, learner: td3.TD3State, next_hat, next_action, mask):
    """The target critics' (Q1', Q2')(ŝ', g^k(a')) of a group's next states and actions
    [G, N, ...] -> [G, 2, N]."""
    return jax.vmap(lambda o, a: s.critic.apply(learner.target_critic_params, o, a))(
        next_hat, layout.mask_action(next_action, mask))
