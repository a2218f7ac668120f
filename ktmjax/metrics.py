"""What a training round reports per task: the metrics every learner returns and the host
loop (`ktmjax.loops`) logs. Pure data: no disk, no processes."""
from typing import NamedTuple

import jax
import jax.numpy as jnp


class TrainMetrics(NamedTuple):
    """What a training round reports per task ([K] arrays; an epoch stacks rounds first).

    critic, actor: {name: values}; every name starts with its role (critic_loss,
    critic_eq1, actor_at_bound, ...). A value counts only where its role's network was
    updated for that task (`critic_updated`, `actor_updated`: 1 or 0); elsewhere it is 0.
    """
    critic: dict
    actor: dict
    critic_updated: jax.Array
    actor_updated: jax.Array

    @staticmethod
    def zeros_like(shapes: "TrainMetrics") -> "TrainMetrics":
        """All zeros (nothing updated) with the structure of `shapes` (e.g. from
        `jax.eval_shape`), for a branch that trains nothing."""
        return jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), shapes)

    @staticmethod
    def from_losses(losses) -> "TrainMetrics":
        """Of the per-task (critic, actor) losses [..., 2, K] of a learner that reports only
        those, with 0 where its network did not step (a real loss is never exactly 0)."""
        critic, actor = losses[..., 0, :], losses[..., 1, :]
        return TrainMetrics({"critic_loss": critic}, {"actor_loss": actor},
                            (critic != 0).astype(jnp.float32), (actor != 0).astype(jnp.float32))

    def columns(self) -> dict:
        """{name: (values, updated)} of every metric."""
        return {**{n: (v, self.critic_updated) for n, v in self.critic.items()},
                **{n: (v, self.actor_updated) for n, v in self.actor.items()}}
