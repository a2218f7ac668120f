"""Stepping the K tasks of a benchmark together, inside one jitted function.

Tasks are grouped by family (same model topology). A group's physics models are stacked
leaf by leaf on a leading task axis and its envs step under one vmap; groups of
different robots step side by side in the same traced function. Every group function
is pure: `reset(keys[G]) -> EnvState[G]`, `step(EnvState[G], actions[G, A]) ->
(EnvState[G], Transition[G])`, so an extra batch axis (e.g. evaluation episodes) is one
more `jax.vmap` away.

Episodes last `episode_length` steps and reset themselves (with a fresh random initial
state). A time-limit end is not a terminal state. Non-finite physics ends the episode:
its transition is stored as terminal with zero reward and the previous observation as
the next one, so a NaN never reaches the replay buffer.
"""
import contextlib
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ktmjax.envs.robots import make_env
from ktmjax.envs.tasks import Task

EPISODE_LENGTH = 1000


@struct.dataclass
class EnvState:
    """State of one task's env (leading task axis [G] inside a group)."""
    brax: Any                 # brax.envs.State
    t: jax.Array              # steps taken in the current episode
    episode_return: jax.Array  # return so far of the current episode
    last_return: jax.Array    # return of the last finished episode (NaN before the first)
    key: jax.Array            # PRNG key for the next reset

    @property
    def obs(self):
        return self.brax.obs


@struct.dataclass
class Transition:
    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminal: jax.Array       # 1.0 where the episode ended in a terminal state (no bootstrap)


def stack_pytrees(trees: Sequence[Any]):
    """Stacks pytrees that differ only in array leaves (not in static metadata).

    `jax.tree.map(jnp.stack, ...)` refuses trees whose static fields differ (e.g. the
    MuJoCo model's name buffers); flattening each tree, stacking leaf by leaf and
    unflattening with the first tree's structure does not.
    """
    flat = [jax.tree_util.tree_flatten(t) for t in trees]
    treedef = flat[0][1]
    for leaves, _ in flat[1:]:
        if len(leaves) != len(flat[0][0]):
            raise ValueError("models to stack differ in structure (not one topology)")
    # Stacked on the host: jnp.stack would compile one small program per leaf shape.
    stacked = [jnp.asarray(np.stack([np.asarray(leaves[i]) for leaves, _ in flat]))
               for i in range(len(flat[0][0]))]
    return jax.tree_util.tree_unflatten(treedef, stacked)


def _strongly_typed(tree):
    """`tree` with every leaf strongly typed. Brax returns some floats (`reward`, `done`,
    `info['time_out']`) weakly typed from a reset or a step and strongly typed from the
    other, and an epoch whose input state changes weak types traces and compiles again."""
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.asarray(x).dtype), tree)


@contextlib.contextmanager
def _using_sys(env, sys):
    """Temporarily points a Brax env at another (e.g. traced, per-task) system."""
    old = env.sys
    env.sys = sys
    try:
        yield env
    finally:
        env.sys = old


class TaskGroup:
    """Tasks of one family, stepped under one vmap over their stacked physics models."""

    def __init__(self, tasks: Sequence[Task], indices: Sequence[int], backend: str,
                 episode_length: int = EPISODE_LENGTH):
        self.tasks = tuple(tasks)
        self.indices = tuple(indices)      # positions of these tasks in the benchmark
        self.obs_size = tasks[0].obs_size
        self.action_size = tasks[0].action_size
        self.episode_length = episode_length
        envs = [make_env(t, backend) for t in tasks]
        self.env = envs[0]
        self.sys = stack_pytrees([e.sys for e in envs])
        # One env's physics, jitted: traced once per process (the MJX trace is the slow part
        # of start-up on a CPU) and reused by every program that steps or resets this group.
        self._step_one = jax.jit(self._step_one)
        self._reset_one = jax.jit(self._reset_one)

    @property
    def size(self) -> int:
        return len(self.tasks)

    def _reset_one(self, sys, key):
        key, reset_key = jax.random.split(key)
        with _using_sys(self.env, sys) as env:
            brax_state = env.reset(reset_key)
        brax_state = _strongly_typed(brax_state)
        zero = jnp.zeros((), jnp.float32)
        nan = jnp.full((), jnp.nan, jnp.float32)
        return EnvState(brax_state, jnp.zeros((), jnp.int32), zero, nan, key)

    def _step_one(self, sys, state: EnvState, action):
        action = jnp.clip(action, -1.0, 1.0)
        with _using_sys(self.env, sys) as env:
            stepped = _strongly_typed(env.step(state.brax, action))
        finite = jnp.all(jnp.isfinite(stepped.obs)) & jnp.isfinite(stepped.reward)
        reward = jnp.where(finite, stepped.reward, 0.0)
        next_obs = jnp.where(finite, stepped.obs, state.brax.obs)
        terminal = jnp.where(finite, stepped.done > 0, True)
        t = state.t + 1
        episode_return = state.episode_return + reward
        ended = terminal | (t >= self.episode_length)
        transition = Transition(state.brax.obs, action, reward, next_obs,
                                terminal.astype(jnp.float32))
        new = EnvState(stepped, t, episode_return,
                       jnp.where(ended, episode_return, state.last_return), state.key)
        return new, transition, ended

    def _reset_if_ended(self, sys, state: EnvState, ended):
        """A fresh episode (new random initial state) where `ended`, else `state`."""
        fresh = self._reset_one(sys, state.key).replace(last_return=state.last_return)
        return jax.tree.map(lambda a, b: jnp.where(ended, a, b), fresh, state)

    def reset(self, keys) -> EnvState:
        """keys: [G] PRNG keys -> EnvState with leading axis G."""
        return jax.vmap(self._reset_one)(self.sys, keys)

    def step(self, state: EnvState, actions, auto_reset: bool = True):
        """One step of every task of the group: actions [G, action_size] in [-1, 1].

        Returns (next EnvState, Transition, episode-ended flags [G]). With `auto_reset`,
        ended episodes start again; the reset physics runs only in the steps where some
        episode of the group ended (a `lax.cond`: episodes last hundreds of steps).
        """
        new, transition, ended = jax.vmap(self._step_one)(self.sys, state, actions)
        if auto_reset:
            new = jax.lax.cond(jnp.any(ended), jax.vmap(self._reset_if_ended),
                               lambda sys, s, e: s, self.sys, new, ended)
        return new, transition, ended


def group_tasks(tasks: Sequence[Task], backend: str = "mjx",
                episode_length: int = EPISODE_LENGTH):
    """Splits a benchmark's tasks into TaskGroups by family (first-seen order)."""
    order = []
    members = {}
    for i, task in enumerate(tasks):
        key = (task.family, task.obs_size, task.action_size)
        if key not in members:
            order.append(key)
            members[key] = []
        members[key].append(i)
    return [TaskGroup([tasks[i] for i in members[k]], members[k], backend, episode_length)
            for k in order]


class MultiTaskEnv:
    """All K tasks of a benchmark; `step` advances each of them once."""

    def __init__(self, tasks: Sequence[Task], backend: str = "mjx",
                 episode_length: int = EPISODE_LENGTH):
        self.tasks = tuple(tasks)
        self.groups = group_tasks(tasks, backend, episode_length)
        # Jitted: run eagerly, an MJX reset dispatches hundreds of tiny programs (a minute
        # of start-up on a CPU); inside other jitted code this costs nothing.
        self.reset = jax.jit(self._reset)

    def _reset(self, key):
        """One EnvState per group (leading task axis), every task reset with its own key."""
        keys = jax.random.split(key, len(self.tasks))
        return tuple(g.reset(keys[jnp.asarray(g.indices)]) for g in self.groups)

    def step(self, states, actions, auto_reset: bool = True):
        """states/actions: one entry per group. Returns (states, transitions, ended)."""
        out = [g.step(s, a, auto_reset) for g, s, a in zip(self.groups, states, actions)]
        return tuple(o[0] for o in out), tuple(o[1] for o in out), tuple(o[2] for o in out)
