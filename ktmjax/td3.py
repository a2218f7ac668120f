"""TD3 (Fujimoto et al. 2018): the pieces shared by teachers, the student and baselines,
and the single-task TD3 learner used to train the teachers.

Every function here handles one task; a group of same-sized tasks applies them under
`jax.vmap` over a leading task axis (see `update`).
"""
import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp
import optax
from flax import struct

from ktmjax import networks, optim


@dataclasses.dataclass(frozen=True)
class TD3Config:
    """Hyper-parameters; defaults are the paper's (and TD3's)."""
    hidden: Sequence[int] = (400, 400)
    lr: float = 3e-4
    batch_size: int = 256
    gamma: float = 0.99
    tau: float = 0.005
    expl_noise: float = 0.1
    policy_noise: float = 0.2
    noise_clip: float = 0.5
    policy_delay: int = 2
    task_layers: int = 0      # K > 0: SharedNet's networks (`networks.SharedMLP`)

    def actor(self, action_size: int) -> networks.Actor:
        return networks.Actor(tuple(self.hidden), action_size, self.task_layers)

    def critic(self) -> networks.TwinCritic:
        return networks.TwinCritic(tuple(self.hidden), self.task_layers)

    def optimizer(self) -> optax.GradientTransformation:
        return optax.adam(self.lr)


@struct.dataclass
class TD3State:
    """Everything a TD3 learner needs to continue, in one flat pytree (orbax saves it whole)."""
    actor_params: dict
    critic_params: dict
    target_actor_params: dict
    target_critic_params: dict
    actor_opt_state: optax.OptState
    critic_opt_state: optax.OptState
    steps: jax.Array          # critic updates done
    key: jax.Array


# ---- pieces shared with the KTM-DRL student ---------------------------------------------

def smoothed_target_action(next_action, key, noise_std: float, noise_clip: float):
    """TD3 target policy smoothing: clip(pi'(s') + clip(N(0, std^2), -c, c), -1, 1)."""
    noise = jnp.clip(noise_std * jax.random.normal(key, next_action.shape), -noise_clip, noise_clip)
    return jnp.clip(next_action + noise, -1.0, 1.0)


def td_target(reward, terminal, next_q, gamma: float):
    """Eq. 3: y = r + gamma * (1 - done) * min_j Q'_j(s', a'); next_q is [2, N]."""
    return jax.lax.stop_gradient(reward + gamma * (1.0 - terminal) * jnp.min(next_q, axis=0))


def twin_regression_loss(q, target):
    """Eq. 1 and Eq. 4: mean over the batch of (target_1 - Q1)^2 + (target_2 - Q2)^2.

    q is [2, N]; target is [N] (one TD target for both heads, Eq. 4) or [2, N] (a teacher's
    Q1 and Q2 for the student's Q1 and Q2, Eq. 1).
    """
    return jnp.mean(jnp.sum(jnp.square(q - target), axis=0))


def hard_targets(state: TD3State) -> TD3State:
    """The target networks as copies of the online ones (the end of an offline stage)."""
    return state.replace(target_actor_params=jax.tree.map(jnp.copy, state.actor_params),
                         target_critic_params=jax.tree.map(jnp.copy, state.critic_params))


def soft_update(target, online, tau: float):
    """theta' <- tau * theta + (1 - tau) * theta'."""
    return jax.tree.map(lambda t, o: tau * o + (1.0 - tau) * t, target, online)


# ---- the single-task TD3 learner (teachers) --------------------------------------------

def init(key, obs_size: int, action_size: int, config: TD3Config) -> TD3State:
    return init_state(key, obs_size, action_size, config.actor(action_size), config.critic(),
                      config.optimizer())


def state_shapes(obs_size: int, action_size: int, config: TD3Config) -> TD3State:
    """The shapes and dtypes of `init`'s state, nothing computed: the template a checkpoint
    or a weights file is read back into."""
    return jax.eval_shape(lambda: init(jax.random.PRNGKey(0), obs_size, action_size, config))


def init_state(key, obs_size: int, action_size: int, actor, critic, tx) -> TD3State:
    """Fresh parameters of the networks `actor` and `critic`, optimiser states of `tx`."""
    actor_key, critic_key, key = jax.random.split(key, 3)
    obs = jnp.zeros((1, obs_size))
    action = jnp.zeros((1, action_size))
    actor_params = actor.init(actor_key, obs)
    critic_params = critic.init(critic_key, obs, action)
    return TD3State(actor_params, critic_params, actor_params, critic_params,
                    tx.init(actor_params), tx.init(critic_params),
                    jnp.zeros((), jnp.int32), key)


def policy(actor_params, obs, action_size: int, config: TD3Config):
    """Deterministic action of an actor."""
    return config.actor(action_size).apply(actor_params, obs)


def stacked_policy(actor_params, obs, action_size: int, config: TD3Config):
    """Deterministic actions of actors stacked on a leading task axis [G]: params [G, ...],
    obs [G, ..., obs_size] -> actions [G, ..., action_size]."""
    return jax.vmap(lambda p, o: policy(p, o, action_size, config))(actor_params, obs)


def critic_update(state: TD3State, batch: dict, config: TD3Config):
    """One critic step on Eq. 3-4 (TD3 with target policy smoothing)."""
    actor, critic, tx = config.actor(batch["action"].shape[-1]), config.critic(), config.optimizer()
    key, noise_key = jax.random.split(state.key)
    next_action = smoothed_target_action(
        actor.apply(state.target_actor_params, batch["next_obs"]), noise_key,
        config.policy_noise, config.noise_clip)
    next_q = critic.apply(state.target_critic_params, batch["next_obs"], next_action)
    y = td_target(batch["reward"], batch["terminal"], next_q, config.gamma)

    def loss_fn(params):
        return twin_regression_loss(critic.apply(params, batch["obs"], batch["action"]), y)

    params, opt_state, loss, _ = optim.step(tx, loss_fn, state.critic_params,
                                            state.critic_opt_state)
    return state.replace(critic_params=params, critic_opt_state=opt_state,
                         steps=state.steps + 1, key=key), loss


def actor_update(state: TD3State, batch: dict, config: TD3Config):
    """One actor step (maximise Q1(s, pi(s))), then soft target updates; returns (state,
    actor loss)."""
    actor, critic, tx = config.actor(batch["action"].shape[-1]), config.critic(), config.optimizer()

    def loss_fn(params):
        return -jnp.mean(networks.q1(critic, state.critic_params, batch["obs"],
                                     actor.apply(params, batch["obs"])))

    actor_params, opt_state, loss, _ = optim.step(tx, loss_fn, state.actor_params,
                                                  state.actor_opt_state)
    return state.replace(
        actor_params=actor_params, actor_opt_state=opt_state,
        target_actor_params=soft_update(state.target_actor_params, actor_params, config.tau),
        target_critic_params=soft_update(state.target_critic_params, state.critic_params,
                                         config.tau)), loss


def update(state: TD3State, batch: dict, config: TD3Config):
    """One TD3 update of a group of tasks: state and batch have a leading task axis [G].

    The critic steps every call; the actor and the targets every `policy_delay`-th call,
    as a `lax.cond` on the step counter (all tasks of a group are in phase, so the
    predicate is one scalar and the skipped branch costs nothing).
    Returns (state, per-task losses [2, G]: critic, and actor or 0 where it did not step).
    """
    state, critic_loss = jax.vmap(lambda s, b: critic_update(s, b, config))(state, batch)
    do_actor = state.steps[0] % config.policy_delay == 0
    state, actor_loss = jax.lax.cond(do_actor,
                                     jax.vmap(lambda s, b: actor_update(s, b, config)),
                                     lambda s, b: (s, jnp.zeros_like(critic_loss)), state, batch)
    return state, jnp.stack([critic_loss, actor_loss])
