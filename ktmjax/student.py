"""The KTM-DRL student: one padded actor and twin critic for all K tasks.

The student is a TD3 learner (`td3.TD3State`) in padded space (S_max states, A_max
actions). Every round draws one batch of N from each task's shard (hierarchical
replay) and updates the student on all K tasks:

- `--update=vmap`: the K per-task losses are computed under vmap over the shards and
  averaged into one optimiser step per network per round;
- `--update=sequential`: K optimiser steps per round, one per task in benchmark order
  (the public code's trajectory).

A round is pure and jittable; an epoch is one `lax.scan` over rounds.
"""
import dataclasses
import math
from functools import partial
from typing import Sequence

import jax
import jax.numpy as jnp
import optax
from flax import struct

from ktmjax import extensions, ktm, layout, networks, replay, sharding, td3
from ktmjax.envs import MultiTaskEnv

UPDATE_MODES = ("vmap", "sequential")


TARGET_NOISE_MODES = ("gaussian", "uniform")


@dataclasses.dataclass(frozen=True)
class StudentConfig:
    net: td3.TD3Config = td3.TD3Config()   # student networks and TD3 hyper-parameters
    update: str = "vmap"
    offline_actor_delay: int = 1            # the public code updates the actor every round
    alpha: float = 1.0                      # Eq. 5 weight of the teacher term
    beta: float = 1.0                       # Eq. 5 weight of the student's own Q1
    target_noise: str = "gaussian"          # paper: N(0, 0.2^2) clipped 0.5; public code: U[0, 0.1)
    her: bool = True                        # False: the "w/o HER" ablation (one task per episode)
    warmup_rounds: int = 10_000             # online rounds acting with the student before updates
    critic_grad_weight: float = 0.0         # offline: weight of dQ1/da matching at pi^k(s) (not the paper)
    actor_match_weight: float = 0.0         # matching pi^k(s) in Eq. 2 and in Eq. 5's alpha term
                                            # (not the paper)
    task_id: bool = False                   # a one-hot of the task in the student's state
                                            # (not the paper)

    def __post_init__(self):
        if self.update not in UPDATE_MODES:
            raise ValueError(f"unknown update mode {self.update!r}; known: {', '.join(UPDATE_MODES)}")
        for name in ("critic_grad_weight", "actor_match_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}={value} must be finite and not negative")
        if self.target_noise not in TARGET_NOISE_MODES:
            raise ValueError(f"unknown target noise {self.target_noise!r}; known: "
                             f"{', '.join(TARGET_NOISE_MODES)}")


@struct.dataclass
class OnlineState:
    """Everything the online stage carries from round to round."""
    learner: td3.TD3State
    buffers: tuple          # one Replay per task group: the online shards D'_k
    envs: tuple             # one EnvState per task group
    round: jax.Array
    key: jax.Array


def _weighted_task_mean(loss_one, params, weights, *batched):
    """(sum_k w_k * loss_k, sum_k w_k, the per-task losses) of loss_k = loss_one(params,
    *batch_k) over a leading task axis.

    The K per-task losses run under one vmap with the parameters shared, so the forward
    and backward passes of a shared network are single large matmuls over all K batches.
    Both update modes go through this one function (sequential mode with a task axis of
    one), so at K=1 they run the very same computation. Weights: all ones for the plain
    mean over tasks, one-hot for one task alone (w/o HER).
    """
    losses = jax.vmap(loss_one, in_axes=(None,) + (0,) * len(batched))(params, *batched)
    return jnp.sum(weights * losses), jnp.sum(weights), losses


def _adam_step(tx, params, opt_state, grads):
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def _critic_step(tx, state: td3.TD3State, grads) -> td3.TD3State:
    params, opt = _adam_step(tx, state.critic_params, state.critic_opt_state, grads)
    return state.replace(critic_params=params, critic_opt_state=opt)


def _actor_step(tx, state: td3.TD3State, grads) -> td3.TD3State:
    params, opt = _adam_step(tx, state.actor_params, state.actor_opt_state, grads)
    return state.replace(actor_params=params, actor_opt_state=opt)


class Student:
    """The student of K tasks, taught by frozen teachers (one TD3 teacher per task)."""

    def __init__(self, env: MultiTaskEnv, teacher_configs: Sequence[td3.TD3Config],
                 config: StudentConfig):
        self.env = env
        self.groups = env.groups
        self.config = config
        self.layout = layout.TaskLayout.from_tasks(env.tasks, config.task_id)
        self.actor = config.net.actor(self.layout.action_max)
        self.critic = config.net.critic()
        self.tx = config.net.optimizer()
        self.teacher_configs = tuple(teacher_configs)
        self.teacher_critics = tuple(c.critic() for c in self.teacher_configs)
        # (group, position in group) of every task, in benchmark order.
        self.task_order = sorted(
            ((i, g, j) for g, group in enumerate(self.groups) for j, i in enumerate(group.indices)))

    @property
    def num_tasks(self) -> int:
        return len(self.env.tasks)

    def init(self, key) -> td3.TD3State:
        state = jax.jit(td3.init, static_argnums=(1, 2, 3))(
            key, self.layout.student_obs_size, self.layout.action_max, self.config.net)
        return td3.placed(state)

    # ---- acting -------------------------------------------------------------------------

    def policy_apply(self, g, actor_params, obs):
        """Deterministic actions for group g's raw observations [G, ..., s_g] -> [G, ..., a_g]
        (the leading axis: the group's tasks, in group order)."""
        padded = self.actor.apply(actor_params, self._obs_hat(g, obs))
        return layout.slice_action(padded, self.groups[g].action_size)

    def _obs_hat(self, g, obs):
        """ŝ of group g's raw states [G, ..., s_g] (`layout.TaskLayout.student_obs`)."""
        return self.layout.student_obs(obs, self.groups[g].indices)

    def eval_params(self, state: td3.TD3State) -> tuple:
        """What `evaluation.make_evaluator` passes to `policy_apply`, one entry per group."""
        return (state.actor_params,) * len(self.groups)

    def _group_mask(self, g):
        """g^k of group g's tasks (they share their action size): [A_max] and [G, A_max]."""
        mask = jnp.asarray(self.layout.action_masks()[self.groups[g].indices[0]])
        return mask, jnp.broadcast_to(mask, (self.groups[g].size, mask.shape[0]))

    # ---- per-task losses ----------------------------------------------------------------

    def _critic_distillation_one(self, critic_params, obs_hat, action_hat, teacher_q,
                                 slope_obs_hat=None, teacher_action_hat=None, teacher_dqda=None,
                                 mask=None):
        """Eq. 1 for one task's batch (student Q1, Q2 regress teacher Q1, Q2); with a
        `critic_grad_weight`, plus that weight times the matching of dQ1/da at the teacher's
        own action (`teacher_action_hat`, padded) on states of the teacher's rollouts
        (`slope_obs_hat`, padded), on the task's action entries (`mask`, g^k)."""
        loss = ktm.critic_distillation_loss(
            self.critic.apply(critic_params, obs_hat, action_hat), teacher_q)
        weight = self.config.critic_grad_weight
        if not weight:
            return loss
        dqda = networks.q1_action_grad(self.critic, critic_params, slope_obs_hat,
                                       teacher_action_hat)
        return loss + weight * extensions.critic_gradient_distillation_loss(dqda * mask, teacher_dqda)

    def _actor_distillation_one(self, g, actor_params, obs_hat, obs, *rest):
        """Eq. 2 for one task's batch: through the frozen teacher Q1 at f^k(pi(ŝ)); with an
        `actor_match_weight`, plus that weight times the matching of the teacher's own
        action there. `rest`: ([teacher_action,] teacher critic params)."""
        *teacher_action, teacher_critic_params = rest
        action = layout.slice_action(self.actor.apply(actor_params, obs_hat),
                                     self.groups[g].action_size)
        loss = ktm.actor_distillation_loss(
            networks.q1(self.teacher_critics[g], teacher_critic_params, obs, action))
        return loss + self._actor_matching(action, teacher_action)

    def _actor_matching(self, action, teacher_action):
        """`actor_match_weight` times the matching of the teacher actor's action (0 when the
        weight is 0: `teacher_action` is then an empty list, else [pi^k(s)])."""
        if not self.config.actor_match_weight:
            return 0.0
        return self.config.actor_match_weight * extensions.actor_matching_loss(action, teacher_action[0])

    def _matching_fields(self) -> tuple:
        """The batch field the actor losses take for `_actor_matching`, if any."""
        return ("teacher_action",) if self.config.actor_match_weight else ()

    def _teacher_actions(self, g, teacher, obs):
        """pi^k(s) of group g's frozen teachers on raw states [G, N, s_k] -> [G, N, a_k]."""
        return jax.lax.stop_gradient(td3.stacked_policy(
            teacher.actor_params, obs, self.groups[g].action_size, self.teacher_configs[g]))

    # ---- offline knowledge transfer (Eq. 1-2) ---------------------------------------------

    def _offline_batches(self, teachers, key):
        """Per group: raw batch from D_k, padded ŝ and â, the teacher's (Q1, Q2) and, with
        a `critic_grad_weight`, a batch of states from the teacher's rollouts (padded), the
        teacher's own action pi^k(s) there and its dQ1^k/da at it, both padded to A_max,
        and g^k."""
        keys = jax.random.split(key, len(self.groups))
        out = []
        for g, (teacher, k) in enumerate(zip(teachers, keys)):
            batch = replay.sample(teacher.data, k, self.config.net.batch_size)
            teacher_q = jax.vmap(self.teacher_critics[g].apply)(
                teacher.critic_params, batch["obs"], batch["action"])        # [G, 2, N]
            out.append(dict(obs=batch["obs"],
                            obs_hat=self._obs_hat(g, batch["obs"]),
                            action_hat=layout.pad_action(batch["action"], self.layout.action_max),
                            teacher_q=jax.lax.stop_gradient(teacher_q)))
            if self.config.actor_match_weight:
                out[-1]["teacher_action"] = self._teacher_actions(g, teacher, batch["obs"])
            if self.config.critic_grad_weight:
                if teacher.rollouts is None:
                    raise ValueError("critic_grad_weight needs the teachers' rollouts "
                                     "(teachers.rollout_data) for its states")
                obs = replay.sample(teacher.rollouts, jax.random.fold_in(k, 1),
                                    self.config.net.batch_size)["obs"]       # [G, N, s_k]
                action = self._teacher_actions(g, teacher, obs)             # [G, N, a_k]
                dqda = jax.vmap(partial(networks.q1_action_grad, self.teacher_critics[g]))(
                    teacher.critic_params, obs, action)
                pad = partial(layout.pad_action, action_max=self.layout.action_max)
                out[-1].update(slope_obs_hat=self._obs_hat(g, obs),
                               teacher_action_hat=pad(action),
                               teacher_dqda=jax.lax.stop_gradient(pad(dqda)),
                               mask=self._group_mask(g)[1])
        return out

    def _update_parts(self, batches, teachers):
        """How a round's K task batches become optimiser steps.

        Returns a list of steps; each step is a list of (group, batch, teacher critic params,
        task indices) with a leading task axis. vmap mode (and w/o HER): one step holding
        every group (all K tasks); sequential mode: K steps holding one task each (a task
        axis of one), in benchmark order. Both modes then run the very same per-task
        functions, so at K=1 they agree exactly.
        """
        if self.config.update == "vmap" or not self.config.her:
            return [[(g, batches[g], teachers[g].critic_params, jnp.asarray(group.indices))
                     for g, group in enumerate(self.groups)]]
        one = lambda j: (lambda x: x[j:j + 1])
        return [[(g, jax.tree.map(one(j), batches[g]),
                  jax.tree.map(one(j), teachers[g].critic_params), jnp.asarray([i]))]
                for i, g, j in self.task_order]

    def _active_task(self, round_):
        """The task trained in `round_`: None (all of them) with hierarchical replay; w/o HER,
        one task for a whole episode, then the next."""
        if self.config.her:
            return None
        return (round_ // self.groups[0].episode_length) % self.num_tasks

    def _optimizer_steps(self, state: td3.TD3State, parts, active, do_actor, critic_one,
                         critic_fields, actor_one, actor_fields, after_actor=lambda s: s):
        """The optimiser steps of one round, shared by both stages.

        For each step of `parts` (see `_update_parts`): the critic steps on the gradient of
        the mean over tasks of `critic_one(params, *batch[critic_fields])`; then, where
        `do_actor`, the actor steps on that of `actor_one(group, state)(params,
        *batch[actor_fields], teacher_critic)`, followed by `after_actor`. With an `active`
        task (w/o HER) only that task's loss counts.
        Returns (state, losses [2, K]): each task's critic and actor loss (0 where the actor
        did not step), in benchmark order.
        """
        losses = jnp.zeros((2, self.num_tasks))
        for part in parts:
            cat = lambda name: jnp.concatenate([b[name] for _, b, _, _ in part])
            ids = jnp.concatenate([i for _, _, _, i in part])
            weights = [jnp.ones(i.shape) if active is None else (i == active).astype(
                jnp.float32) for _, _, _, i in part]

            def critic_loss(params, weights=weights):
                total, norm, each = _weighted_task_mean(
                    critic_one, params, jnp.concatenate(weights), *(cat(f) for f in critic_fields))
                return total / norm, each

            grads, each = jax.grad(critic_loss, has_aux=True)(state.critic_params)
            state = _critic_step(self.tx, state, grads)
            losses = losses.at[0, ids].set(each)

            def actor_step(s, part=part, weights=weights):
                def actor_loss(params):
                    sums = [_weighted_task_mean(actor_one(g, s), params, w,
                                                *(b[f] for f in actor_fields), tc)
                            for (g, b, tc, _), w in zip(part, weights)]
                    total = sum(t for t, _, _ in sums) / sum(n for _, n, _ in sums)
                    return total, jnp.concatenate([e for _, _, e in sums])
                grads, each = jax.grad(actor_loss, has_aux=True)(s.actor_params)
                return after_actor(_actor_step(self.tx, s, grads)), each

            state, each = jax.lax.cond(do_actor, actor_step,
                                       lambda s: (s, jnp.zeros(ids.shape)), state)
            losses = losses.at[1, ids].set(each)
        return state, losses

    def offline_round(self, state: td3.TD3State, teachers):
        """One round of offline transfer: a batch from every D_k, Eq. 1 then Eq. 2.

        `teachers`: one `teachers.TeacherGroup` per task group (frozen: never updated).
        Returns (state, per-task losses [2, K]: Eq. 1 and Eq. 2).
        """
        key, batch_key = jax.random.split(state.key)
        batches = self._offline_batches(teachers, batch_key)
        do_actor = state.steps % self.config.offline_actor_delay == 0
        state, losses = self._optimizer_steps(
            state, self._update_parts(batches, teachers), self._active_task(state.steps), do_actor,
            self._critic_distillation_one, ("obs_hat", "action_hat", "teacher_q")
            + (("slope_obs_hat", "teacher_action_hat", "teacher_dqda", "mask")
               if self.config.critic_grad_weight else ()),
            lambda g, s: partial(self._actor_distillation_one, g),
            ("obs_hat", "obs") + self._matching_fields())
        return state.replace(steps=state.steps + 1, key=key), losses

    def offline_epoch(self, state: td3.TD3State, teachers, num_rounds: int):
        """`num_rounds` offline rounds in one `lax.scan` (jit this with num_rounds static).
        Returns (state, losses [num_rounds, 2, K])."""
        return jax.lax.scan(lambda s, _: self.offline_round(s, teachers), state, None,
                            length=num_rounds)

    @staticmethod
    def finish_offline(state: td3.TD3State) -> td3.TD3State:
        """End of the offline stage: hard copy of the online networks into the targets."""
        return td3.hard_targets(state)

    # ---- online learning guided by the teachers (Eq. 3-5) ----------------------------------

    def init_online(self, state: td3.TD3State, key, capacity: int,
                    fresh_optimizers: bool = True, prefill=None) -> OnlineState:
        """Starts the online stage from `state`.

        The online shards D'_k start empty (the public code), or, given `prefill` (one
        Replay per group, e.g. the teachers' D_k), holding its newest transitions.
        """
        if fresh_optimizers:  # the public code builds new Adam optimisers here
            state = state.replace(actor_opt_state=self.tx.init(state.actor_params),
                                  critic_opt_state=self.tx.init(state.critic_params))
        env_key, key = jax.random.split(key)
        buffers = tuple(replay.init(g.size, capacity, g.obs_size, g.action_size)
                        for g in self.groups)
        if prefill is not None:
            buffers = tuple(replay.prefill(b, d) for b, d in zip(buffers, prefill))
        online = OnlineState(state, buffers, self.env.reset(env_key),
                             jnp.zeros((), jnp.int32), key)
        return self.place_online(td3.placed(online))

    def place_teachers(self, teacher_groups) -> tuple:
        """The teachers and their D_k with each group's task axis split over the devices
        (`sharding`)."""
        return sharding.groups(teacher_groups, [g.size for g in self.groups])

    def place_online(self, online: OnlineState) -> OnlineState:
        """The online shards D'_k and the envs split over the devices by task, the learner
        replicated (`sharding`)."""
        sizes = [g.size for g in self.groups]
        return OnlineState(sharding.replicate(online.learner), sharding.groups(online.buffers, sizes),
                           sharding.groups(online.envs, sizes), sharding.replicate(online.round),
                           sharding.replicate(online.key))

    def refill_starts(self, online: OnlineState) -> OnlineState:
        """New initial states for the envs' coming episodes (on the host, between epochs)."""
        return online.replace(envs=self.env.refill_starts(online.envs))

    def _act_and_store(self, online: OnlineState, key):
        """Every task steps once with pi(ŝ) + N(0, 0.1^2), clipped, sliced by f^k."""
        keys = jax.random.split(key, len(self.groups))
        envs_out, buffers = [], []
        for g, group in enumerate(self.groups):
            env_state = online.envs[g]
            padded = self.actor.apply(online.learner.actor_params,
                                      self._obs_hat(g, env_state.obs))
            noisy = padded + self.config.net.exploration_noise * jax.random.normal(
                keys[g], padded.shape)
            action = layout.slice_action(jnp.clip(noisy, -1.0, 1.0), group.action_size)
            env_state, transition, _ = group.step(env_state, action)
            envs_out.append(env_state)
            buffers.append(replay.insert(online.buffers[g], transition))
        return tuple(envs_out), tuple(buffers)

    def _target_noise(self, key, shape):
        if self.config.target_noise == "uniform":   # the public code's rand_like
            return 0.1 * jax.random.uniform(key, shape)
        net = self.config.net
        return jnp.clip(net.policy_noise * jax.random.normal(key, shape),
                        -net.noise_clip, net.noise_clip)

    def _online_batches(self, online: OnlineState, teachers, key):
        """Per group: padded ŝ, â, raw s, g^k, the Eq. 3 TD target y and, with an
        `actor_match_weight`, the teacher actor's pi^k(s)."""
        keys = jax.random.split(key, 2 * len(self.groups))
        out = []
        for g, (group, teacher) in enumerate(zip(self.groups, teachers)):
            batch = replay.sample(online.buffers[g], keys[2 * g], self.config.net.batch_size)
            obs_hat = self._obs_hat(g, batch["obs"])
            next_hat = self._obs_hat(g, batch["next_obs"])
            mask, group_masks = self._group_mask(g)
            next_action = self.actor.apply(online.learner.target_actor_params, next_hat)
            next_action = jnp.clip(next_action + self._target_noise(keys[2 * g + 1],
                                                                     next_action.shape), -1.0, 1.0)
            next_q = jax.vmap(lambda o, a: self.critic.apply(
                online.learner.target_critic_params, o, a), out_axes=0)(
                next_hat, layout.mask_action(next_action, mask))                 # [G, 2, N]
            y = jax.vmap(lambda r, d, q: td3.td_target(r, d, q, self.config.net.gamma))(
                batch["reward"], batch["terminal"], next_q)                      # [G, N]
            out.append(dict(obs=batch["obs"], obs_hat=obs_hat, y=y,
                            action_hat=layout.pad_action(batch["action"], self.layout.action_max),
                            mask=group_masks))
            if self.config.actor_match_weight:
                out[-1]["teacher_action"] = self._teacher_actions(g, teacher, batch["obs"])
        return out

    def _td_critic_one(self, critic_params, obs_hat, action_hat, y):
        """Eq. 4 for one task's batch."""
        return td3.twin_regression_loss(self.critic.apply(critic_params, obs_hat, action_hat), y)

    def _guided_actor_one(self, g, critic_params, actor_params, obs_hat, obs, mask, *rest):
        """Eq. 5 for one task's batch: alpha * teacher Q1^k + beta * own Q1 (masked by g^k);
        with an `actor_match_weight`, the teacher term also holds the matching of the teacher's
        own action (weighted by alpha too). `rest`: ([teacher_action,] teacher critic params)."""
        *teacher_action, teacher_critic_params = rest
        padded = self.actor.apply(actor_params, obs_hat)
        action = layout.slice_action(padded, self.groups[g].action_size)
        teacher_q1 = networks.q1(self.teacher_critics[g], teacher_critic_params, obs, action)
        own_q1 = networks.q1(self.critic, critic_params, obs_hat, layout.mask_action(padded, mask))
        return (ktm.guided_actor_loss(teacher_q1, own_q1, self.config.alpha, self.config.beta)
                + self.config.alpha * self._actor_matching(action, teacher_action))

    def _online_update(self, learner: td3.TD3State, teachers, batches, round_):
        """Eq. 4 on every task's batch; every `policy_delay`-th round Eq. 5 and soft targets.
        Returns (learner, per-task losses [2, K]: Eq. 4 and Eq. 5)."""
        do_actor = (learner.steps + 1) % self.config.net.policy_delay == 0
        learner, losses = self._optimizer_steps(
            learner, self._update_parts(batches, teachers), self._active_task(round_), do_actor,
            self._td_critic_one, ("obs_hat", "action_hat", "y"),
            lambda g, s: partial(self._guided_actor_one, g, s.critic_params),
            ("obs_hat", "obs", "mask") + self._matching_fields(), after_actor=self._soft_targets)
        return learner.replace(steps=learner.steps + 1), losses

    def _soft_targets(self, s: td3.TD3State) -> td3.TD3State:
        tau = self.config.net.tau
        return s.replace(
            target_actor_params=td3.soft_update(s.target_actor_params, s.actor_params, tau),
            target_critic_params=td3.soft_update(s.target_critic_params, s.critic_params, tau))

    def online_round(self, online: OnlineState, teachers):
        """One online round: all K envs step once, then (after warm-up) one update.
        Returns (state, per-task losses [2, K], zeros during the warm-up)."""
        key, act_key, batch_key = jax.random.split(online.key, 3)
        envs_out, buffers = self._act_and_store(online, act_key)
        online = online.replace(envs=envs_out, buffers=buffers, key=key)

        def update(learner):
            batches = self._online_batches(online, teachers, batch_key)
            return self._online_update(learner, teachers, batches, online.round)

        learner, losses = jax.lax.cond(
            online.round >= self.config.warmup_rounds, update,
            lambda l: (l, jnp.zeros((2, self.num_tasks))), online.learner)
        return online.replace(learner=learner, round=online.round + 1), losses

    def online_epoch(self, online: OnlineState, teachers, num_rounds: int):
        """`num_rounds` online rounds in one `lax.scan` (jit with num_rounds static).
        Returns (state, losses [num_rounds, 2, K])."""
        return jax.lax.scan(lambda s, _: self.online_round(s, teachers), online, None,
                            length=num_rounds)
