"""The task layout of a multi-task student: padded sizes, the slice f^k and the mask g^k.

The student sees one fixed width: states zero-padded to S_max, actions to A_max.
f^k keeps the first |a_k| entries of a padded action (what task k's teacher critic and
env accept); g^k zeroes the entries past |a_k| (so the student critic's unused action
inputs stay exactly zero). Both depend only on sizes known before tracing: they are
static slices and constant masks, never data-dependent shapes.
"""
import dataclasses
from typing import Sequence

import jax.numpy as jnp
import numpy as np

from ktmjax.envs import Task


@dataclasses.dataclass(frozen=True)
class TaskLayout:
    obs_sizes: tuple
    action_sizes: tuple

    @classmethod
    def from_tasks(cls, tasks: Sequence[Task]) -> "TaskLayout":
        return cls(tuple(t.obs_size for t in tasks), tuple(t.action_size for t in tasks))

    @property
    def num_tasks(self) -> int:
        return len(self.obs_sizes)

    @property
    def obs_max(self) -> int:
        return max(self.obs_sizes)

    @property
    def action_max(self) -> int:
        return max(self.action_sizes)

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
