"""Discrete regression of rewards and values (TD-MPC2): symlog, two-hot targets, soft
cross-entropy, and the decoded scalar.

A scalar y is encoded as a distribution over NUM_BINS evenly spaced bins on
[V_MIN, V_MAX] in symlog space: the two bins around symlog(y) share the mass in
proportion to their closeness. A network predicts logits over the bins; the decoded
scalar is symexp(softmax(logits) . bins).
"""
import jax
import jax.numpy as jnp
import numpy as np

NUM_BINS = 101
V_MIN, V_MAX = -10.0, 10.0
BIN_SIZE = (V_MAX - V_MIN) / (NUM_BINS - 1)
# numpy, not jax: a jax array made at import would start JAX's backend before a
# multi-process job could join (jax.distributed.initialize must come first).
BINS = np.linspace(V_MIN, V_MAX, NUM_BINS, dtype=np.float32)


def symlog(x):
    return jnp.sign(x) * jnp.log1p(jnp.abs(x))


def symexp(x):
    return jnp.sign(x) * jnp.expm1(jnp.abs(x))


def two_hot(y):
    """y [...] -> [..., NUM_BINS]: the soft two-hot encoding of symlog(y), clamped to the
    bins' range."""
    x = jnp.clip(symlog(y), V_MIN, V_MAX)
    position = (x - V_MIN) / BIN_SIZE
    low = jnp.clip(jnp.floor(position), 0, NUM_BINS - 1)
    upper_weight = position - low
    low = low.astype(jnp.int32)
    high = jnp.minimum(low + 1, NUM_BINS - 1)
    return (jax.nn.one_hot(low, NUM_BINS) * (1.0 - upper_weight)[..., None]
            + jax.nn.one_hot(high, NUM_BINS) * upper_weight[..., None])


def decode(logits):
    """logits [..., NUM_BINS] -> the scalar they predict [...]."""
    return symexp(jax.nn.softmax(logits, -1) @ BINS.astype(logits.dtype))


def soft_ce(logits, y):
    """Cross-entropy of the predicted bins `logits` [..., NUM_BINS] against the two-hot
    encoding of the scalar targets y [...]: [...]."""
    return -jnp.sum(two_hot(y) * jax.nn.log_softmax(logits, -1), -1)
