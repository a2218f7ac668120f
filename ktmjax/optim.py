"""The one optimiser step every learner takes (the student, the compressor, the TD3
teachers, the world model), and the critic-then-actor round of the actor-critic learners
(the student and the compressor)."""
from typing import Callable

import jax
import jax.numpy as jnp
import optax


def apply_gradients(tx: optax.GradientTransformation, params, opt_state, grads):
    """One step of `tx` on `grads`. Returns (new params, new optimiser state)."""
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def step(tx: optax.GradientTransformation, loss_fn: Callable, params, opt_state,
         has_aux: bool = False, gradient: Callable = None):
    """One step of `tx` down the gradient of `loss_fn(params)` (a scalar, or (scalar, aux)
    with `has_aux`). `gradient(loss_fn)` replaces `jax.value_and_grad(loss_fn, has_aux)`
    where given (`surgery.value_and_grad`). Returns (new params, new optimiser state, what
    `loss_fn` returned, the gradient's global norm)."""
    gradient = gradient or (lambda fn: jax.value_and_grad(fn, has_aux=has_aux))
    out, grads = gradient(loss_fn)(params)
    params, opt_state = apply_gradients(tx, params, opt_state, grads)
    return params, opt_state, out, optax.tree.norm(grads)


def critic_then_actor(tx: optax.GradientTransformation, state, critic_loss: Callable,
                      actor_loss: Callable, do_actor=True,
                      after_actor: Callable = lambda state: state,
                      gradients: tuple = (None, None)):
    """One round of an actor-critic learner (a `td3.TD3State`): a step of the critic on
    `critic_loss(params)`, then, where `do_actor` (a traced bool, or True), a step of the
    actor on `actor_loss(params, state)` (the state after the critic's step), followed by
    `after_actor(state)`. Both losses return (scalar, aux); `gradients` (critic, actor)
    replace their `jax.value_and_grad` where given (`step`). Where the actor does not step
    its aux and gradient norm are zeros. Returns (state, (critic aux, critic gradient
    norm), (actor aux, actor gradient norm))."""
    params, opt, (_, critic_aux), critic_norm = step(
        tx, critic_loss, state.critic_params, state.critic_opt_state, has_aux=True,
        gradient=gradients[0])
    state = state.replace(critic_params=params, critic_opt_state=opt)

    def actor_step(st):
        params, opt, (_, aux), norm = step(
            tx, lambda p: actor_loss(p, st), st.actor_params, st.actor_opt_state, has_aux=True,
            gradient=gradients[1])
        return after_actor(st.replace(actor_params=params, actor_opt_state=opt)), aux, norm

    if do_actor is True:
        state, actor_aux, actor_norm = actor_step(state)
    else:
        def no_actor_step(st):
            _, aux, norm = jax.eval_shape(actor_step, st)
            zeros = lambda x: jnp.zeros(x.shape, x.dtype)
            return st, jax.tree.map(zeros, aux), zeros(norm)
        state, actor_aux, actor_norm = jax.lax.cond(do_actor, actor_step, no_actor_step, state)
    return state, (critic_aux, critic_norm), (actor_aux, actor_norm)
