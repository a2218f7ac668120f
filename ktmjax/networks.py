"""Flax networks: the actor and the twin critic (one vmapped Q-network module)."""
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

# PyTorch's default Linear weight init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as TD3 used.
_kernel_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
_task_kernel_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform",
                                                     batch_axis=(0,))   # one per task


class MLP(nn.Module):
    hidden: Sequence[int]
    out: int

    @nn.compact
    def __call__(self, x):
        for width in self.hidden:
            x = nn.relu(nn.Dense(width, kernel_init=_kernel_init)(x))
        return nn.Dense(self.out, kernel_init=_kernel_init)(x)


class TaskDense(nn.Module):
    """A dense layer with its own weights per task: row k of `one_hot` picks task k's."""
    features: int
    num_tasks: int

    @nn.compact
    def __call__(self, x, one_hot):
        kernel = self.param("kernel", _task_kernel_init,
                            (self.num_tasks, x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.num_tasks, self.features))
        every_task = jnp.einsum("...i,kio->...ko", x, kernel) + bias
        return jnp.einsum("...ko,...k->...o", every_task, one_hot)


class SharedMLP(nn.Module):
    """SharedNet's network (D'Eramo et al., ICLR 2020; a baseline of KTM-DRL): the first
    and the last layer per task, the hidden layers between them shared by all tasks."""
    hidden: Sequence[int]
    out: int
    num_tasks: int

    @nn.compact
    def __call__(self, x, one_hot):
        x = nn.relu(TaskDense(self.hidden[0], self.num_tasks)(x, one_hot))
        for width in self.hidden[1:]:
            x = nn.relu(nn.Dense(width, kernel_init=_kernel_init)(x))
        return TaskDense(self.out, self.num_tasks)(x, one_hot)


def _body(hidden, out: int, task_layers: int, x, one_hot):
    """An MLP's output, or with `task_layers` (K > 0) a `SharedMLP`'s."""
    if task_layers:
        return SharedMLP(hidden, out, task_layers)(x, one_hot)
    return MLP(hidden, out)(x)


def split_task(obs, task_layers: int) -> tuple:
    """(the state without the task one-hot, the one-hot) of a student's state whose last
    `task_layers` entries are the task's one-hot (`layout.TaskLayout` with a task id);
    (obs, None) where there are no task layers."""
    if not task_layers:
        return obs, None
    return obs[..., :-task_layers], obs[..., -task_layers:]


class Actor(nn.Module):
    """Deterministic policy: observation -> action in [-1, 1] (tanh output). With
    `task_layers` = K > 0 the network is SharedNet's (`SharedMLP`), its first and last
    layers picked by the task one-hot at the end of the observation."""
    hidden: Sequence[int]
    action_size: int
    task_layers: int = 0

    @nn.compact
    def __call__(self, obs):
        x, one_hot = split_task(obs, self.task_layers)
        return jnp.tanh(_body(self.hidden, self.action_size, self.task_layers, x, one_hot))


class QNetwork(nn.Module):
    hidden: Sequence[int]
    task_layers: int = 0

    @nn.compact
    def __call__(self, obs, action):
        x, one_hot = split_task(obs, self.task_layers)
        x = jnp.concatenate([x, action], -1)
        return _body(self.hidden, 1, self.task_layers, x, one_hot)[..., 0]


class TwinCritic(nn.Module):
    """Two independent Q-networks as one module, parameters stacked on a leading axis of 2.

    Returns an array [2, ...]: Q1 at index 0, Q2 at index 1.
    """
    hidden: Sequence[int]
    task_layers: int = 0     # SharedNet's per-task first and last layers (see Actor)

    @nn.compact
    def __call__(self, obs, action):
        twin = nn.vmap(QNetwork, variable_axes={"params": 0}, split_rngs={"params": True},
                       in_axes=None, out_axes=0, axis_size=2)
        return twin(self.hidden, self.task_layers, name="twin")(obs, action)


def q1_action_grad(critic: TwinCritic, params, obs, action):
    """dQ1/da [N, A]: each sample's gradient with respect to its own action (a sample's Q1
    depends on its own action only, so the gradient of the batch sum is every sample's)."""
    return jax.grad(lambda a: jnp.sum(q1(critic, params, obs, a)))(action)


def q1(critic: TwinCritic, params, obs, action):
    """Q1 alone (what the TD3 actor loss needs), without computing Q2."""
    first = jax.tree.map(lambda x: x[0], params["params"]["twin"])
    return QNetwork(critic.hidden, critic.task_layers).apply({"params": first}, obs, action)
