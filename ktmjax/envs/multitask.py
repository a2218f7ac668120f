"""Stepping the K tasks of a benchmark together, inside one jitted function.

Tasks are grouped by family (same model topology). A group's physics models are stacked
leaf by leaf on a leading task axis and its envs step under one vmap; groups of
different robots step side by side in the same traced function. Every group function
is pure: `reset(keys[G]) -> EnvState[G]`, `step(EnvState[G], actions[G, A]) ->
(EnvState[G], Transition[G])`, so an extra batch axis (e.g. evaluation episodes) is one
more `jax.vmap` away.

Episodes last `episode_length` steps and restart themselves. A new episode starts from
the next of `start_pool` random initial states that every env carries (drawn at reset,
used in turn, cycling if a stretch of steps ends more episodes than that); the host
draws new ones between epochs with `MultiTaskEnv.refill_starts`. So a program that steps
the envs never holds the reset physics (Brax's reset runs a full `mjx.forward`, about 15 s
of XLA compile per program on a CPU). A time-limit end is not a terminal state. Non-finite physics ends the episode:
its transition is stored as terminal with zero reward and the previous observation as
the next one, so a NaN never reaches the replay buffer.
"""
import contextlib
from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ktmjax import distributed
from ktmjax.envs import dmc
from ktmjax.envs.robots import make_env
from ktmjax.envs.tasks import Task

EPISODE_LENGTH = 1000
START_POOL = 16


def default_episode_length(tasks: Sequence[Task]) -> int:
    """Steps per episode unless told: 500 agent steps for DM Control (MT30), else 1000."""
    return dmc.EPISODE_LENGTH if dmc.is_dmc(tasks[0]) else EPISODE_LENGTH


@struct.dataclass
class EnvState:
    """State of one task's env (leading task axis [G] inside a group)."""
    brax: Any                 # brax.envs.State
    t: jax.Array              # steps taken in the current episode
    episode_return: jax.Array  # return so far of the current episode
    last_return: jax.Array    # return of the last finished episode (NaN before the first)
    starts: Any               # brax.envs.State [P]: initial states of the next episodes
    next_start: jax.Array     # episodes started from `starts` so far
    key: jax.Array            # PRNG key for the next draw of `starts`

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
                 episode_length: Optional[int] = None, start_pool: int = START_POOL):
        self.tasks = tuple(tasks)
        self.indices = tuple(indices)      # positions of these tasks in the benchmark
        self.obs_size = tasks[0].obs_size
        self.action_size = tasks[0].action_size
        self.episode_length = episode_length or default_episode_length(tasks)
        if start_pool < 1:
            raise ValueError(f"start_pool={start_pool}: an env needs at least one initial state")
        self.start_pool = start_pool
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
        """A first episode and `start_pool` initial states for the next ones, all random."""
        key, *reset_keys = jax.random.split(key, self.start_pool + 2)
        with _using_sys(self.env, sys) as env:
            # lax.map, not vmap: Python traces Brax's reset once, unbatched (a vmap of it
            # traces several seconds longer on a CPU); resets are rare, so sequential is fine.
            braxes = _strongly_typed(jax.lax.map(env.reset, jnp.stack(reset_keys)))
        first = jax.tree.map(lambda x: x[0], braxes)
        starts = jax.tree.map(lambda x: x[1:], braxes)
        zero = jnp.zeros((), jnp.float32)
        nan = jnp.full((), jnp.nan, jnp.float32)
        return EnvState(first, jnp.zeros((), jnp.int32), zero, nan, starts,
                        jnp.zeros((), jnp.int32), key)

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
        new = state.replace(brax=stepped, t=t, episode_return=episode_return,
                            last_return=jnp.where(ended, episode_return, state.last_return))
        return new, transition, ended

    @staticmethod
    def _restart_if_ended(state: EnvState, ended):
        """Where `ended`, a new episode from the next initial state of the pool."""
        start = jax.tree.map(lambda x: x[state.next_start % x.shape[0]], state.starts)
        pick = lambda new, old: jnp.where(ended, new, old)
        return state.replace(brax=jax.tree.map(pick, start, state.brax),
                             t=pick(0, state.t), episode_return=pick(0.0, state.episode_return),
                             next_start=pick(state.next_start + 1, state.next_start))

    def reset(self, keys) -> EnvState:
        """keys: [G] PRNG keys -> EnvState with leading axis G."""
        return jax.vmap(self._reset_one)(self.sys, keys)

    def step(self, state: EnvState, actions, auto_reset: bool = True):
        """One step of every task of the group: actions [G, action_size] in [-1, 1].

        Returns (next EnvState, Transition, episode-ended flags [G]). With `auto_reset`,
        ended episodes start again from their pool of initial states (a `lax.cond`: only in
        the steps where some episode of the group ended).
        """
        new, transition, ended = jax.vmap(self._step_one)(self.sys, state, actions)
        if auto_reset:
            new = jax.lax.cond(jnp.any(ended), jax.vmap(self._restart_if_ended),
                               lambda s, e: s, new, ended)
        return new, transition, ended


def group_tasks(tasks: Sequence[Task], backend: str = "mjx",
                episode_length: Optional[int] = None, start_pool: int = START_POOL):
    """Splits a benchmark's tasks into TaskGroups by family (first-seen order)."""
    order = []
    members = {}
    for i, task in enumerate(tasks):
        key = (task.family, task.obs_size, task.action_size)
        if key not in members:
            order.append(key)
            members[key] = []
        members[key].append(i)
    return [TaskGroup([tasks[i] for i in members[k]], members[k], backend, episode_length,
                      start_pool) for k in order]


class MultiTaskEnv:
    """All K tasks of a benchmark; `step` advances each of them once."""

    def __init__(self, tasks: Sequence[Task], backend: str = "mjx",
                 episode_length: Optional[int] = None, start_pool: int = START_POOL):
        self.tasks = tuple(tasks)
        self.groups = group_tasks(tasks, backend, episode_length, start_pool)
        # The reset of every group as one jitted program: run eagerly, an MJX reset
        # dispatches hundreds of tiny programs (a minute of start-up on a CPU); inside
        # other jitted code this costs nothing. `reset` and `refill_starts` share it.
        self.reset_program = jax.jit(
            lambda keys: tuple(g.reset(k) for g, k in zip(self.groups, keys)))

    def reset(self, key):
        """One EnvState per group (leading task axis), every task reset with its own key."""
        keys = jax.random.split(key, len(self.tasks))
        return self._reset_on_device(tuple(keys[jnp.asarray(g.indices)] for g in self.groups))

    def _reset_on_device(self, keys):
        # Committed to the device, as the keys of a stepped state are: jit compiles a program
        # per argument placement, and `refill_starts` must reuse the program of `reset`. Read
        # to the host first: split over several processes' devices, they cannot move at once.
        # (Traced inside another program, they are placed with it.)
        if not isinstance(keys[0], jax.core.Tracer):
            keys = jax.device_put(distributed.to_host(keys), jax.local_devices()[0])
        return self.reset_program(keys)

    def refill_starts(self, states):
        """`states` with new random initial states for their coming episodes, drawn with
        each env's own key. Run it on the host between epochs: the epochs then never
        compile the reset physics."""
        fresh = self._reset_on_device(tuple(s.key for s in states))
        return tuple(s.replace(starts=f.starts, next_start=f.next_start, key=f.key)
                     for s, f in zip(states, fresh))

    def step(self, states, actions, auto_reset: bool = True):
        """states/actions: one entry per group. Returns (states, transitions, ended)."""
        out = [g.step(s, a, auto_reset) for g, s, a in zip(self.groups, states, actions)]
        return tuple(o[0] for o in out), tuple(o[1] for o in out), tuple(o[2] for o in out)
