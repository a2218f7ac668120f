"""Flax networks: the actor and the twin critic (one vmapped Q-network module)."""
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

# PyTorch's default Linear weight init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as TD3 used.
_kernel_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


class MLP(nn.Module):
    hidden: Sequence[int]
    out: int

    @nn.compact
    def __call__(self, x):
        for width in self.hidden:
            x = nn.relu(nn.Dense(width, kernel_init=_kernel_init)(x))
        return nn.Dense(self.out, kernel_init=_kernel_init)(x)


class Actor(nn.Module):
    """Deterministic policy: observation -> action in [-1, 1] (tanh output)."""
    hidden: Sequence[int]
    action_size: int

    @nn.compact
    def __call__(self, obs):
        return jnp.tanh(MLP(self.hidden, self.action_size)(obs))


class QNetwork(nn.Module):
    hidden: Sequence[int]

    @nn.compact
    def __call__(self, obs, action):
        return MLP(self.hidden, 1)(jnp.concatenate([obs, action], -1))[..., 0]


class TwinCritic(nn.Module):
    """Two independent Q-networks as one module, parameters stacked on a leading axis of 2.

    Returns an array [2, ...]: Q1 at index 0, Q2 at index 1.
    """
    hidden: Sequence[int]

    @nn.compact
    def __call__(self, obs, action):
        twin = nn.vmap(QNetwork, variable_axes={"params": 0}, split_rngs={"params": True},
                       in_axes=None, out_axes=0, axis_size=2)
        return twin(self.hidden, name="twin")(obs, action)


def q1_action_grad(critic: TwinCritic, params, obs, action):
    """dQ1/da [N, A]: each sample's gradient with respect to its own action (a sample's Q1
    depends on its own action only, so the gradient of the batch sum is every sample's)."""
    return jax.grad(lambda a: jnp.sum(q1(critic, params, obs, a)))(action)


def q1(critic: TwinCritic, params, obs, action):
    """Q1 alone (what the TD3 actor loss needs), without computing Q2."""
    first = jax.tree.map(lambda x: x[0], params["params"]["twin"])
    return QNetwork(critic.hidden).apply({"params": first}, obs, action)
