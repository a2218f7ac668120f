"""The student of K tasks: one padded actor and twin critic (S_max states, A_max actions),
taught by frozen TD3 teachers, one per task.

A round draws one batch from every task's shard (hierarchical replay) and makes the
optimiser steps of `update.round_steps` on the losses of `losses.offline` (Eq. 1-2) or
`losses.online` (Eq. 4-5); the online round first acts in every task once. A round is
pure and jittable; an epoch is one `lax.scan` over rounds and returns each round's
`metrics.TrainMetrics`.
"""
from typing import TYPE_CHECKING, Sequence

import jax
import jax.numpy as jnp
from flax import struct

from ktmjax import acting, layout, replay, sac, td3
from ktmjax.metrics import TrainMetrics
from ktmjax.student import batches, losses, update
from ktmjax.student.config import StudentConfig

if TYPE_CHECKING:   # the annotation only: the student imports no environment code
    from ktmjax.envs import MultiTaskEnv


@struct.dataclass
class OnlineState:
    """Everything the online stage carries from round to round."""
    learner: td3.TD3State
    buffers: tuple          # one Replay per task group: the online shards D'_k
    envs: tuple             # one EnvState per task group
    round: jax.Array
    key: jax.Array


class Student:
    """The student's networks, layout and losses for the tasks of `env`."""

    def __init__(self, env: "MultiTaskEnv", teacher_configs: Sequence[td3.TD3Config],
                 config: StudentConfig):
        self.env = env
        self.groups = env.groups
        self.config = config
        self.layout = layout.TaskLayout.from_tasks(env.tasks, config.task_id)
        self.actor = (sac.GaussianActor(tuple(config.net.hidden), self.layout.action_max,
                                        self.layout.num_tasks) if config.algo == "sac"
                      else config.net.actor(self.layout.action_max))
        self.critic = config.net.critic()
        self.tx = config.net.optimizer()
        self.teacher_configs = tuple(teacher_configs)
        self.teacher_critics = tuple(c.critic() for c in self.teacher_configs)
        # (task index, group, position in group) of every task, in benchmark order.
        self.task_order = sorted(
            ((i, g, j) for g, group in enumerate(self.groups) for j, i in enumerate(group.indices)))
        self.offline_losses = losses.offline(self)
        self.online_losses = (losses.sac_online(self) if config.algo == "sac"
                              else losses.online(self))

    @property
    def num_tasks(self) -> int:
        return len(self.env.tasks)

    def init(self, key) -> td3.TD3State:
        """Fresh networks and optimisers (the stages place them: `sharding.placed`)."""
        return jax.jit(td3.init_state, static_argnums=(1, 2, 3, 4, 5))(
            key, self.layout.student_obs_size, self.layout.action_max, self.actor, self.critic,
            self.tx)

    # ---- the student's view of a task -------------------------------------------------------

    def obs_hat(self, g, obs):
        """ŝ of group g's raw states [G, ..., s_g] (`layout.TaskLayout.student_obs`)."""
        return self.layout.student_obs(obs, self.groups[g].indices)

    def group_masks(self, g):
        """g^k of each of group g's tasks [G, A_max] (they share their action size)."""
        mask = jnp.asarray(self.layout.action_masks()[self.groups[g].indices[0]])
        return jnp.broadcast_to(mask, (self.groups[g].size, mask.shape[0]))

    def policy_apply(self, g, actor_params, obs):
        """Deterministic actions f^k(pi(ŝ)) for group g's raw states [G, ..., s_g]."""
        padded = self.actor.apply(actor_params, self.obs_hat(g, obs))
        return layout.slice_action(padded, self.groups[g].action_size)

    def eval_params(self, state: td3.TD3State) -> tuple:
        """What `evaluation.make_evaluator` passes to `policy_apply`, one entry per group."""
        return (state.actor_params,) * len(self.groups)

    # ---- offline knowledge transfer (Eq. 1-2) ---------------------------------------------

    def offline_round(self, state: td3.TD3State, teachers):
        """One round of offline transfer: a batch from every D_k, Eq. 1 then Eq. 2.
        `teachers`: one `teacher_store.TeacherGroup` per task group (frozen: never updated).
        Returns (state, `metrics.TrainMetrics`)."""
        key, batch_key = jax.random.split(state.key)
        steps = update.plan(self, batches.offline(self, teachers, batch_key), teachers)
        do_actor = state.steps % self.config.offline_actor_delay == 0
        state, metrics = update.round_steps(self, state, steps, self.offline_losses,
                                            update.active_task(self, state.steps), do_actor)
        return state.replace(steps=state.steps + 1, key=key), metrics

    def offline_epoch(self, state: td3.TD3State, teachers, num_rounds: int):
        """`num_rounds` offline rounds in one `lax.scan` (jit this with num_rounds static).
        Returns (state, metrics with a leading round axis)."""
        return jax.lax.scan(lambda s, _: self.offline_round(s, teachers), state, None,
                            length=num_rounds)

    @staticmethod
    def finish_offline(state: td3.TD3State) -> td3.TD3State:
        """End of the offline stage: hard copy of the online networks into the targets."""
        return td3.hard_targets(state)

    # ---- online learning guided by the teachers (Eq. 3-5) ----------------------------------

    def init_online(self, state: td3.TD3State, key, capacity: int,
                    fresh_optimizers: bool = True, prefill=None) -> OnlineState:
        """Starts the online stage from `state`. The online shards D'_k start empty (the
        public code), or, given `prefill` (one Replay per group, e.g. the teachers' D_k),
        holding its newest transitions."""
        if fresh_optimizers:  # the public code builds new Adam optimisers here
            state = state.replace(actor_opt_state=self.tx.init(state.actor_params),
                                  critic_opt_state=self.tx.init(state.critic_params))
        env_key, key = jax.random.split(key)
        buffers = tuple(replay.init(g.size, capacity, g.obs_size, g.action_size)
                        for g in self.groups)
        if prefill is not None:
            buffers = tuple(replay.prefill(b, d) for b, d in zip(buffers, prefill))
        return OnlineState(state, buffers, self.env.reset(env_key), jnp.zeros((), jnp.int32), key)

    def refill_starts(self, online: OnlineState) -> OnlineState:
        """New initial states for the envs' coming episodes (on the host, between epochs)."""
        return online.replace(envs=self.env.refill_starts(online.envs))

    def _explore(self, online: OnlineState, key) -> OnlineState:
        """Every task steps once with f^k(clip(pi(ŝ) + N(0, 0.1^2), -1, 1)) (SAC-MT: f^k of
        an action drawn from the policy) and stores the transition in its D'_k."""
        keys = jax.random.split(key, len(self.groups))
        actions = []
        for g, env_state in enumerate(online.envs):
            obs_hat = self.obs_hat(g, env_state.obs)
            noise = jax.random.normal(keys[g], obs_hat.shape[:-1] + (self.layout.action_max,))
            if self.config.algo == "sac":
                padded, _ = self.actor.apply(online.learner.actor_params, obs_hat, noise,
                                             method=sac.GaussianActor.sample)
            else:
                padded = jnp.clip(self.actor.apply(online.learner.actor_params, obs_hat)
                                  + self.config.net.expl_noise * noise, -1.0, 1.0)
            actions.append(layout.slice_action(padded, self.groups[g].action_size))
        envs, buffers = acting.step_and_store(self.groups, online.envs, online.buffers, actions)
        return online.replace(envs=envs, buffers=buffers)

    def _soft_targets(self, s: td3.TD3State) -> td3.TD3State:
        tau = self.config.net.tau
        return s.replace(
            target_actor_params=td3.soft_update(s.target_actor_params, s.actor_params, tau),
            target_critic_params=td3.soft_update(s.target_critic_params, s.critic_params, tau))

    def online_round(self, online: OnlineState, teachers):
        """One online round: all K envs step once, then (after the warm-up) Eq. 4 on every
        task's batch of D'_k and, every `policy_delay`-th update, Eq. 5 and soft targets.
        Returns (state, `metrics.TrainMetrics`; nothing updated during the warm-up)."""
        key, act_key, batch_key = jax.random.split(online.key, 3)
        online = self._explore(online, act_key).replace(key=key)

        def learn(learner):
            steps = update.plan(self, batches.online(self, learner, online.buffers, teachers,
                                                     batch_key), teachers)
            do_actor = (learner.steps + 1) % self.config.net.policy_delay == 0
            learner, metrics = update.round_steps(
                self, learner, steps, self.online_losses, update.active_task(self, online.round),
                do_actor, after_actor=self._soft_targets)
            return learner.replace(steps=learner.steps + 1), metrics

        def wait(learner):
            return learner, TrainMetrics.zeros_like(jax.eval_shape(learn, learner)[1])

        learner, metrics = jax.lax.cond(online.round >= self.config.warmup, learn, wait,
                                        online.learner)
        return online.replace(learner=learner, round=online.round + 1), metrics

    def online_epoch(self, online: OnlineState, teachers, num_rounds: int):
        """`num_rounds` online rounds in one `lax.scan` (jit with num_rounds static).
        Returns (state, metrics with a leading round axis)."""
        return jax.lax.scan(lambda s, _: self.online_round(s, teachers), online, None,
                            length=num_rounds)
