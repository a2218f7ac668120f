"""Gradient surgery (PCGrad: Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS
2020), the update of KTM-DRL's G-Surgery baseline: each task's gradient loses its
component along every other task's gradient it conflicts with (a negative inner
product), the others taken in a random order, and the step follows the sum of what is
left. Where no two task gradients conflict the step is the plain sum's.
"""
from typing import Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree


def project_conflicting(grads: jax.Array, order: jax.Array) -> jax.Array:
    """PCGrad's projection of per-task flat gradients `grads` [K, P]: task i's gradient, in
    turn for each task j of `order[i]` (a permutation of the K tasks; i itself is
    skipped), where it has a negative inner product with task j's original gradient g_j,
    loses its component along g_j. Returns the projected gradients [K, P]. A zero gradient
    (a task that does not weigh in) neither projects nor is projected on."""
    sq_norms = jnp.sum(grads * grads, axis=1)

    def one_task(i, g):
        def project(g, j):
            dot = g @ grads[j]
            conflict = (dot < 0) & (j != i)
            safe = jnp.where(sq_norms[j] > 0, sq_norms[j], 1.0)
            return jnp.where(conflict, g - (dot / safe) * grads[j], g), None
        return jax.lax.scan(project, g, order[i])[0]

    return jax.vmap(one_task)(jnp.arange(grads.shape[0]), grads)


def value_and_grad(loss_fn: Callable, key: jax.Array, num_tasks: int) -> Callable:
    """Like `jax.value_and_grad(fn, has_aux=True)` for a multi-task loss given as
    `loss_fn(stacked)` -> (per-task losses [K], aux), where `stacked` holds one copy of
    the parameters per task on a leading axis of K and task k's loss reads copy k only:
    one backward pass then gives every task's own gradient. The value is (the sum of the
    losses, aux), the gradient the sum of the per-task gradients after
    `project_conflicting`, each task's order of the others drawn from `key`."""
    def fn(params):
        stacked = jax.tree.map(lambda x: jnp.broadcast_to(x, (num_tasks,) + x.shape), params)
        total = lambda p: (lambda losses, aux: (jnp.sum(losses), aux))(*loss_fn(p))
        out, per_task = jax.value_and_grad(total, has_aux=True)(stacked)
        _, unravel = ravel_pytree(params)
        flat = jax.vmap(lambda tree: ravel_pytree(tree)[0])(per_task)
        order = jax.vmap(lambda kk: jax.random.permutation(kk, num_tasks))(
            jax.random.split(key, num_tasks))
        return out, unravel(jnp.sum(project_conflicting(flat, order), axis=0))
    return fn
