"""Acting in every task at once: noisy rollouts of a multi-task policy into per-task replay.

A policy here is `policy_apply(group_index, group_params, obs[G, ..., s_g]) -> actions[G,
..., a_g]` with one entry of parameters per task group, the form the evaluator takes
(`evaluation.make_evaluator`): the K stacked teachers, a student, or a compact student.
"""
from typing import TYPE_CHECKING, Callable

import jax
import jax.numpy as jnp

from ktmjax import replay

if TYPE_CHECKING:   # the annotation only
    from ktmjax.envs import MultiTaskEnv


def step_and_store(groups, states: tuple, buffers: tuple, actions) -> tuple:
    """Every group's envs step once with its actions [G, a_g]; each transition goes into
    its task's shard. Returns (states, buffers), one per group."""
    new_states, new_buffers = [], []
    for group, state, buffer, action in zip(groups, states, buffers, actions):
        state, transition, _ = group.step(state, action)
        new_states.append(state)
        new_buffers.append(replay.insert(buffer, transition))
    return tuple(new_states), tuple(new_buffers)


def noisy_rollouts(env: "MultiTaskEnv", policy_apply: Callable, params, steps: int, key,
                   noise: float, random_share: float = 0.0) -> tuple:
    """Every task acts for `steps` env steps with the policy's deterministic action plus
    N(0, noise^2), clipped to [-1, 1], or, at each step with probability `random_share`, a
    uniform random action instead; episodes restart themselves (one program, no refills:
    they cycle through each env's pool of initial states). Returns one `replay.Replay` per
    task group holding the `steps` transitions of each of its tasks."""
    return rollout_program(env, policy_apply, steps)(params, key, noise, random_share)


def rollout_program(env: "MultiTaskEnv", policy_apply: Callable, steps: int) -> Callable:
    """`noisy_rollouts` of `env`, `policy_apply` and `steps` as one jitted function of
    (params, key, noise, random_share): made once, it rolls out at several noise levels with
    one trace and one compile."""
    def run(params, key, noise, random_share):
        env_key, key = jax.random.split(key)
        states = env.reset(env_key)
        buffers = tuple(replay.init(g.size, steps, g.obs_size, g.action_size) for g in env.groups)

        def body(carry, step_key):
            states, buffers = carry
            keys = jax.random.split(step_key, len(env.groups))
            actions = []
            for g in range(len(env.groups)):
                action = policy_apply(g, params[g], states[g].obs)
                noisy = jnp.clip(action + noise * jax.random.normal(keys[g], action.shape), -1, 1)
                k_pick, k_random = jax.random.split(jax.random.fold_in(keys[g], 1))
                picked = jax.random.uniform(k_pick, action.shape[:-1] + (1,)) < random_share
                actions.append(jnp.where(picked, jax.random.uniform(
                    k_random, action.shape, minval=-1.0, maxval=1.0), noisy))
            return step_and_store(env.groups, states, buffers, actions), None

        (_, buffers), _ = jax.lax.scan(body, (states, buffers), jax.random.split(key, steps))
        return buffers

    program = jax.jit(run)   # the noise is an argument, not a constant: one program for all
    return lambda params, key, noise, random_share=0.0: program(
        tuple(params), key, jnp.float32(noise), jnp.float32(random_share))
