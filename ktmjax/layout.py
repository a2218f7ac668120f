"""The task layout of a multi-task student: padded sizes, the slice f^k and the mask g^k.

The student sees one fixed width: states zero-padded to S_max, actions to A_max.
f^k keeps the first |a_k| entries of a padded action (what task k's teacher critic and
env accept); g^k zeroes the entries past |a_k| (so the student critic's unused action
inputs stay exactly zero). Both depend only on sizes known before tracing: they are
static slices and constant masks, never data-dependent shapes.

With `task_id` (not in the paper, nor its code), the student's state also carries a one-hot
of the task after the S_max padded entries, so tasks whose states look alike (the `mini`
pendulums share their 4 numbers) can get different actions and values.
"""
import dataclasses
from typing import TYPE_CHECKING, Sequence

import jax.numpy as jnp
import numpy as np

if TYPE_CHECKING:   # a deployed policy (`ktmjax.policy`) reads the layout without the envs
    from ktmjax.envs import Task


@dataclasses.dataclass(frozen=True)
class TaskLayout:
    obs_sizes: tuple
    action_sizes: tuple
    task_id: bool = False   # a one-hot of the task after the padded state

    @classmethod
    def from_tasks(cls, tasks: Sequence["Task"], task_id: bool = False) -> "TaskLayout":
        return cls(tuple(t.obs_size for t in tasks), tuple(t.action_size for t in tasks),
                   task_id)

    @property
    def num_tasks(self) -> int:
        return len(self.obs_sizes)

    @property
    def obs_max(self) -> int:
        return max(self.obs_sizes)

    @property
    def action_max(self) -> int:
        return max(self.action_sizes)

    @property
    def student_obs_size(self) -> int:
        """Width of the student's state ŝ: S_max, plus K with a task id."""
        return self.obs_max + (self.num_tasks if self.task_id else 0)

    def student_obs(self, obs, task_indices):
        """ŝ of raw states [G, ..., s_k] of the tasks `task_indices` (G of them, a static
        tuple, on the leading axis): zero-padded to S_max, then, with a task id, each task's
        one-hot of K entries."""
        padded = pad_obs(obs, self.obs_max)
        if not self.task_id:
            return padded
        one_hot = np.eye(self.num_tasks, dtype=np.float32)[np.asarray(task_indices)]
        one_hot = one_hot.reshape((len(task_indices),) + (1,) * (obs.ndim - 2) + (-1,))
        return jnp.concatenate(
            [padded, jnp.broadcast_to(one_hot, padded.shape[:-1] + (self.num_tasks,))], -1)

    def action_masks(self) -> np.ndarray:
        """g^k for every task as a constant [K, A_max] array of 0/1."""
        return (np.arange(self.action_max)[None, :]
                < np.asarray(self.action_sizes)[:, None]).astype(np.float32)


def pad_obs(obs, obs_max: int):
    """Zero-pads the last axis of raw states to S_max."""
    return _pad_last(obs, obs_max)


def pad_action(action, action_max: int):
    """Zero-pads the last axis of raw actions to A_max."""
    return _pad_last(action, action_max)


def slice_action(padded_action, action_size: int):
    """f^k: the first |a_k| entries of a padded action (a static slice)."""
    return padded_action[..., :action_size]


def mask_action(padded_action, mask):
    """g^k: zeroes the entries of a padded action past |a_k| (mask from `action_masks`)."""
    return padded_action * mask


def _pad_last(x, width: int):
    extra = width - x.shape[-1]
    if extra < 0:
        raise ValueError(f"cannot pad width {x.shape[-1]} down to {width}")
    if extra == 0:
        return x
    return jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, extra)])
