"""Acting in every task at once: noisy rollouts of a multi-task policy into per-task replay.

A policy here is `policy_apply(group_index, group_params, obs[G, ..., s_g]) -> actions[G,
..., a_g]` with one entry of parameters per task group, the form the evaluator takes
(`evaluation.make_evaluator`): the K stacked teachers, a student, or a compact student.
"""
from typing import Callable

import jax
import jax.numpy as jnp

from ktmjax import replay
from ktmjax.envs import MultiTaskEnv


def noisy_rollouts(env: MultiTaskEnv, policy_apply: Callable, params, steps: int, key,
                   noise: float) -> tuple:
    """Every task acts for `steps` env steps with the policy's deterministic action plus
    N(0, noise^2), clipped to [-1, 1]; episodes restart themselves (one program, no refills:
    they cycle through each env's pool of initial states). Returns one `replay.Replay` per
    task group holding the `steps` transitions of each of its tasks."""
    def run(params, key):
        env_key, key = jax.random.split(key)
        states = env.reset(env_key)
        buffers = tuple(replay.init(g.size, steps, g.obs_size, g.action_size) for g in env.groups)

        def body(carry, step_key):
            states, buffers = carry
            keys = jax.random.split(step_key, len(env.groups))
            new_states, new_buffers = [], []
            for g, group in enumerate(env.groups):
                action = policy_apply(g, params[g], states[g].obs)
                action = jnp.clip(action + noise * jax.random.normal(keys[g], action.shape), -1, 1)
                state, transition, _ = group.step(states[g], action)
                new_states.append(state)
                new_buffers.append(replay.insert(buffers[g], transition))
            return (tuple(new_states), tuple(new_buffers)), None

        (_, buffers), _ = jax.lax.scan(body, (states, buffers), jax.random.split(key, steps))
        return buffers

    return jax.jit(run)(tuple(params), key)
