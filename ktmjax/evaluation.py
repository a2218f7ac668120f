"""Deterministic evaluation episodes of every task at once, and result tables."""
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ktmjax.envs import MultiTaskEnv


def make_evaluator(env: MultiTaskEnv, policy_apply: Callable, episodes: int):
    """A jitted function (params, key) -> returns [K, episodes] (task order of `env`).

    `policy_apply(group_index, group_params, obs[G, obs_size]) -> actions[G, action_size]`
    is the deterministic policy; `params` holds one entry per group and is passed as a jit
    argument, so new parameters never trigger a recompile. All episodes of all tasks run side by
    side for `episode_length` steps; rewards after an episode's end are not counted.
    """
    def run_group(g, group, params, key):
        keys = jax.random.split(key, episodes * group.size).reshape(episodes, group.size, -1)
        state = jax.vmap(group.reset)(keys)

        def body(carry, _):
            state, ret, active = carry
            action = jax.vmap(lambda o: policy_apply(g, params, o))(state.obs)
            state, transition, ended = jax.vmap(lambda s, a: group.step(s, a, False))(
                state, action)
            ret = ret + active * transition.reward
            return (state, ret, active * (1.0 - ended)), None

        zeros = jnp.zeros((episodes, group.size))
        (_, ret, _), _ = jax.lax.scan(body, (state, zeros, zeros + 1.0), None,
                                      length=group.episode_length)
        return ret  # [E, G]

    return over_groups(env, lambda g, group, params, key: run_group(g, group, params[g], key))


def over_groups(env: MultiTaskEnv, run_group: Callable):
    """A jitted (params, key) -> returns [K, episodes] in task order, from
    `run_group(g, group, params, key) -> returns [episodes, G]` of each task group (each
    with a key of its own)."""
    @jax.jit
    def evaluate(params, key):
        keys = jax.random.split(key, len(env.groups))
        returns = [None] * len(env.tasks)
        for g, group in enumerate(env.groups):
            ret = run_group(g, group, params, keys[g])
            for j, task_index in enumerate(group.indices):
                returns[task_index] = ret[:, j]
        return jnp.stack(returns)

    return evaluate


def summarize(tasks, returns: np.ndarray, teacher_returns=None) -> dict:
    """Per-task {return_mean, return_std, episodes[, teacher_return, ratio]}."""
    out = {}
    for i, task in enumerate(tasks):
        r = np.asarray(returns[i], np.float64)
        row = {"return_mean": float(r.mean()), "return_std": float(r.std()),
               "episodes": int(r.size)}
        if teacher_returns and task.name in teacher_returns:
            row["teacher_return"] = float(teacher_returns[task.name])
            row["ratio"] = row["return_mean"] / row["teacher_return"]
        out[task.name] = row
    return out


def markdown_table(summary_tasks: dict) -> str:
    """A Markdown table of per-task results."""
    has_teacher = any("teacher_return" in r for r in summary_tasks.values())
    head = "| task | return (mean ± std) | episodes |" + (" teacher | ratio |" if has_teacher else "")
    sep = "|---|---|---|" + ("---|---|" if has_teacher else "")
    lines = [head, sep]
    for name, r in summary_tasks.items():
        line = f"| {name} | {r['return_mean']:.1f} ± {r['return_std']:.1f} | {r['episodes']} |"
        if has_teacher:
            line += (f" {r['teacher_return']:.1f} | {r['ratio']:.3f} |" if "ratio" in r
                     else " n/a | n/a |")
        lines.append(line)
    return "\n".join(lines)


def make_evaluators(env, policy_apply, periodic_episodes: int, final_episodes: int):
    """(periodic, final) evaluators of a run: one function when the episode counts agree
    (each evaluator traces the physics again, which costs seconds on a CPU)."""
    periodic = make_evaluator(env, policy_apply, periodic_episodes)
    if final_episodes == periodic_episodes:
        return periodic, periodic
    return periodic, make_evaluator(env, policy_apply, final_episodes)
