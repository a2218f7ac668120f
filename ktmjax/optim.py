"""The one optimiser step every learner takes (the student, the compressor, the TD3
teachers, the world model): gradients in, new parameters and optimiser state out."""
import optax


def apply_gradients(tx: optax.GradientTransformation, params, opt_state, grads):
    """One step of `tx` on `grads`. Returns (new params, new optimiser state)."""
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state
