"""Training the K TD3 teachers of a benchmark together, in one jitted program.

A training epoch is one `lax.scan` over steps; each step, every task acts (uniformly at
random during its start-up steps, then with its actor plus Gaussian exploration noise),
its env steps once, the transition goes to its replay shard, and, once past start-up,
its TD3 learner makes one update. Tasks of one group (same robot topology) share one
vmapped update; groups run side by side in the same program. The host runs between
epochs only.
"""
from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ktmjax import distributed, loops, replay, sharding, td3
from ktmjax.envs import EnvState, MultiTaskEnv, Task
from ktmjax.envs.multitask import EPISODE_LENGTH
from ktmjax.seed_axis import SeedAxis


@struct.dataclass
class GroupState:
    learner: td3.TD3State   # leading task axis [G]
    replay: replay.Replay   # [G, capacity, ...]
    env: EnvState           # [G]


@struct.dataclass
class TeacherTrainState:
    groups: tuple           # one GroupState per task group
    step: jax.Array         # env steps taken by every task
    key: jax.Array


class TeacherTrainer:
    """TD3 teachers for `tasks`, trained side by side."""

    def __init__(self, tasks: Sequence[Task], config: td3.TD3Config, capacity: int,
                 backend: str = "mjx", start_steps: Optional[int] = None,
                 episode_length: int = EPISODE_LENGTH, axis: SeedAxis = SeedAxis()):
        self.tasks = tuple(tasks)
        self.config = config
        self.capacity = capacity
        self.env = MultiTaskEnv(tasks, backend, episode_length)
        # Random-action start-up steps per group (tasks of a group share their defaults).
        self.start_steps = tuple(
            start_steps if start_steps is not None else max(t.start_steps for t in g.tasks)
            for g in self.env.groups)
        # The state of `epoch` is that of the seeds of `axis` (`axis.combine` of `init` of
        # each seed's key).
        self.axis = axis
        self._epoch = jax.jit(axis.over(self._epoch_impl, (0, None)), static_argnums=1,
                              donate_argnums=0)
        self._init = jax.jit(self._init_impl)

    def replay_bytes(self) -> int:
        return sum(replay.bytes_needed(g.size, self.capacity, g.obs_size, g.action_size)
                   for g in self.env.groups)

    def init(self, key) -> TeacherTrainState:
        # The envs are reset outside `_init`: the reset program is then the one that every
        # epoch's `refill_starts` runs, compiled once.
        key, env_key = jax.random.split(key)
        return sharding.placed(self._init(key, self.env.reset(env_key)))

    def place(self, state: TeacherTrainState) -> TeacherTrainState:
        """Each group's task axis split over the devices, the rest replicated (`sharding`);
        the seed axis, where there is one, over the seeds' devices."""
        n = self.axis.count
        return TeacherTrainState(
            sharding.groups(state.groups, [g.size for g in self.env.groups], n),
            sharding.replicate(state.step, n), sharding.replicate(state.key, n))

    def _init_impl(self, key, env_states) -> TeacherTrainState:
        groups = []
        for group, env_state in zip(self.env.groups, env_states):
            key, init_key = jax.random.split(key)
            learners = jax.vmap(lambda k: td3.init(k, group.obs_size, group.action_size,
                                                   self.config))(
                jax.random.split(init_key, group.size))
            buffers = replay.init(group.size, self.capacity, group.obs_size, group.action_size)
            groups.append(GroupState(learners, buffers, env_state))
        return TeacherTrainState(tuple(groups), jnp.zeros((), jnp.int32), key)

    def _group_step(self, group, start_steps, gs: GroupState, step, key):
        act_key, random_key, sample_key = jax.random.split(key, 3)
        shape = (group.size, group.action_size)
        policy_action = td3.stacked_policy(gs.learner.actor_params, gs.env.obs,
                                           group.action_size, self.config)
        noisy = policy_action + self.config.expl_noise * jax.random.normal(act_key, shape)
        random_action = jax.random.uniform(random_key, shape, minval=-1.0, maxval=1.0)
        action = jnp.clip(jnp.where(step < start_steps, random_action, noisy), -1.0, 1.0)
        env_state, transition, _ = group.step(gs.env, action)
        buffers = replay.insert(gs.replay, transition)

        def learn(learner):
            batch = replay.sample(buffers, sample_key, self.config.batch_size)
            return td3.update(learner, batch, self.config)

        learner, losses = jax.lax.cond(step >= start_steps, learn,
                                       lambda l: (l, jnp.zeros((2, group.size))), gs.learner)
        return GroupState(learner, buffers, env_state), losses

    def _train_step(self, state: TeacherTrainState, _):
        key, *group_keys = jax.random.split(state.key, len(self.env.groups) + 1)
        groups, losses = [], jnp.zeros((2, len(self.tasks)))
        for group, start, gs, k in zip(self.env.groups, self.start_steps, state.groups,
                                       group_keys):
            gs, group_losses = self._group_step(group, start, gs, state.step, k)
            groups.append(gs)
            losses = losses.at[:, jnp.asarray(group.indices)].set(group_losses)
        return TeacherTrainState(tuple(groups), state.step + 1, key), losses

    def _epoch_impl(self, state: TeacherTrainState, num_steps: int):
        return jax.lax.scan(self._train_step, state, None, length=num_steps)

    def epoch(self, state: TeacherTrainState, num_steps: int):
        """`num_steps` training steps of every task (the input state is donated), the envs
        first drawing new initial states for the epoch's episodes. Returns (state,
        `loops.TrainMetrics` of each step: each task's critic and actor loss)."""
        envs = self.axis.over(self.env.refill_starts)(tuple(gs.env for gs in state.groups))
        state = state.replace(groups=tuple(gs.replace(env=e) for gs, e in zip(state.groups, envs)))
        state, losses = self._epoch(self.place(state), num_steps)
        return state, loops.TrainMetrics.from_losses(losses)

    def policy_apply(self, g, actor_params, obs):
        """Deterministic actions of group g's teachers (for evaluation)."""
        return td3.stacked_policy(actor_params, obs, self.env.groups[g].action_size,
                                  self.config)

    def actors_at_bound(self, state: TeacherTrainState, num_states: int = 1000) -> list:
        """Names of the tasks whose actor gives one bound (+1 or -1) in some action entry on
        every one of `num_states` states drawn from its replay: its tanh has saturated, its
        gradient has (nearly) vanished, and TD3 seldom brings such an actor back."""
        stuck = []
        for g, (group, gs) in enumerate(zip(self.env.groups, state.groups)):
            obs = replay.sample(gs.replay, jax.random.PRNGKey(g), num_states)["obs"]
            action = distributed.to_host(   # [G, N, a]
                self.policy_apply(g, gs.learner.actor_params, obs))
            at_bound = np.all(action > 0.999, axis=1) | np.all(action < -0.999, axis=1)
            stuck += [t.name for t, s in zip(group.tasks, at_bound.any(axis=-1)) if s]
        return stuck

    @staticmethod
    def actor_params(state: TeacherTrainState) -> tuple:
        return tuple(gs.learner.actor_params for gs in state.groups)

    def task_slice(self, state: TeacherTrainState, task_index: int):
        """(TD3State, Replay of one task) cut out of the stacked group state."""
        for group, gs in zip(self.env.groups, state.groups):
            if task_index in group.indices:
                j = group.indices.index(task_index)
                take = lambda x: x[j]
                return jax.tree.map(take, gs.learner), jax.tree.map(take, gs.replay)
        raise IndexError(task_index)
