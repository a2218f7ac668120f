"""One round's optimiser steps: the only place that knows vmap vs sequential vs pcgrad
updates and hierarchical replay (HER) vs one task at a time (w/o HER).

- vmap (and w/o HER): one step per network on the mean over tasks of the per-task losses,
  computed under one vmap with the parameters shared (a shared network's forward and
  backward passes are single large matmuls over all K batches);
- sequential: K steps per network, one per task in benchmark order (the public code's
  trajectory), each through the very same functions with a task axis of one, so at K=1
  both modes agree exactly;
- pcgrad: one step per network, as vmap, on the sum of the K per-task gradients of that
  mean after gradient surgery (`ktmjax.surgery`; the G-Surgery baseline);
- w/o HER: only the round's active task weighs in the mean (a one-hot weight).
"""
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ktmjax import optim, surgery, td3
from ktmjax.metrics import TrainMetrics
from ktmjax.student.losses import Losses


class Part(NamedTuple):
    """Some tasks of one group, with a leading task axis."""
    group: int
    batch: Any                 # batches.Batch
    teacher_critic: Any        # the tasks' teacher critic parameters
    ids: jax.Array             # the tasks' benchmark indices


def plan(s, batches, teachers) -> list:
    """The steps of a round, each a list of `Part`s: one step holding every group in vmap
    and pcgrad modes (and w/o HER), else one step per task in benchmark order."""
    if s.config.update != "sequential" or not s.config.her:
        return [[Part(g, batches[g], teachers[g].critic_params, jnp.asarray(group.indices))
                 for g, group in enumerate(s.groups)]]
    row = lambda j: (lambda x: x[j:j + 1])
    return [[Part(g, jax.tree.map(row(j), batches[g]),
                  jax.tree.map(row(j), teachers[g].critic_params), jnp.asarray([i]))]
            for i, g, j in s.task_order]


def active_task(s, round_):
    """The task trained in `round_`: None (all of them) with HER; w/o HER one task for a
    whole episode, then the next."""
    if s.config.her:
        return None
    return (round_ // s.groups[0].episode_length) % s.num_tasks


def _weighted(loss_one, weights, in_axes, *args):
    """([w_k loss_k], sum_k w_k, per-task metrics with the loss) of loss_one(*args) under
    vmap over the task axis of the args whose `in_axes` is 0 (None: shared by all tasks)."""
    losses, metrics = jax.vmap(loss_one, in_axes=in_axes)(*args)
    return weights * losses, jnp.sum(weights), dict(metrics, loss=losses)


def _objective(s, weighted: list, norm):
    """What a step descends, from the `_weighted` terms of its parts: their weighted mean
    over tasks, or in pcgrad mode its per-task terms [K] (`surgery.value_and_grad`)."""
    if s.config.update == "pcgrad":
        return jnp.concatenate(weighted) / norm
    return sum(jnp.sum(w) for w in weighted) / norm


def _rows(stacked_params, start: int, count: int):
    """Rows start..start+count of parameters stacked one copy per task."""
    return jax.tree.map(lambda x: x[start:start + count], stacked_params)


def _gradients(s, state: td3.TD3State, num_tasks: int) -> tuple:
    """The (critic, actor) gradient functions of a round's step for
    `optim.critic_then_actor`: in pcgrad mode the losses then get the parameters stacked,
    one copy per task (`surgery.value_and_grad`), each network's order of the tasks drawn
    from the state's key and step count (the key itself is not consumed)."""
    if s.config.update != "pcgrad":
        return None, None
    critic_key, actor_key = jax.random.split(jax.random.fold_in(state.key, state.steps))
    return (lambda fn: surgery.value_and_grad(fn, critic_key, num_tasks),
            lambda fn: surgery.value_and_grad(fn, actor_key, num_tasks))


def _scatter(into: dict, ids, metrics: dict, role: str, grad_norm, num_tasks: int) -> dict:
    """Each of a step's per-task `metrics`, and its gradient norm, into its [K] row of
    `into` under role_name (the loss itself as role_loss, the norm as role_grad_norm; a
    term named after its role, such as critic_grad, as it is)."""
    out = dict(into)
    for name, values in dict(metrics, grad_norm=jnp.broadcast_to(grad_norm, ids.shape)).items():
        key = name if name.startswith(f"{role}_") else f"{role}_{name}"
        out[key] = out.get(key, jnp.zeros(num_tasks)).at[ids].set(values)
    return out


def round_steps(s, state: td3.TD3State, steps: list, losses: Losses, active, do_actor,
                after_actor: Callable = lambda st: st):
    """The optimiser steps of one round (`steps` from `plan`).

    Per step: the critic steps on the gradient of the weighted task mean of `losses.critic`;
    then, where `do_actor`, the actor on that of `losses.actors`, followed by `after_actor`
    (the online stage's soft target update). With an `active` task (w/o HER) only it counts.
    Returns (state, `TrainMetrics` of every task).
    """
    k = s.num_tasks
    critic, actor, critic_done, actor_done = {}, {}, jnp.zeros(k), jnp.zeros(k)
    # pcgrad: the losses get one copy of the parameters per task (`_gradients`).
    stacked = s.config.update == "pcgrad"
    axis = 0 if stacked else None
    for parts in steps:
        ids = jnp.concatenate([p.ids for p in parts])
        weights = [jnp.ones(p.ids.shape) if active is None
                   else (p.ids == active).astype(jnp.float32) for p in parts]
        # The critic reads padded inputs only: all parts in one task axis.
        critic_batch = jax.tree.map(lambda *x: jnp.concatenate(x), *[p.batch.critic for p in parts])

        starts = np.cumsum([0] + [len(p.ids) for p in parts])

        def critic_loss(params):
            weighted, norm, metrics = _weighted(losses.critic, jnp.concatenate(weights),
                                                (axis, 0), params, critic_batch)
            return _objective(s, [weighted], norm), metrics

        def actor_loss(params, st, parts=parts, weights=weights, starts=starts):
            # Each group's teachers differ: one vmap per group, then the mean of all.
            sums = [_weighted(losses.actors[p.group], w, (axis, 0, 0, None),
                              _rows(params, a, len(p.ids)) if stacked else params,
                              p.batch.actor, p.teacher_critic, st.critic_params)
                    for p, w, a in zip(parts, weights, starts)]
            total = _objective(s, [t for t, _, _ in sums], sum(n for _, n, _ in sums))
            return total, {name: jnp.concatenate([m[name] for _, _, m in sums])
                           for name in sums[0][2]}

        state, (metrics, critic_norm), (actor_metrics, norm) = optim.critic_then_actor(
            s.tx, state, critic_loss, actor_loss, do_actor, after_actor,
            _gradients(s, state, len(ids)))
        critic = _scatter(critic, ids, metrics, "critic", critic_norm, k)
        critic_done = critic_done.at[ids].set(jnp.concatenate(weights))
        actor = _scatter(actor, ids, actor_metrics, "actor", norm, k)
        actor_done = actor_done.at[ids].set(do_actor * jnp.concatenate(weights))
    return state, TrainMetrics(critic, actor, critic_done, actor_done)
