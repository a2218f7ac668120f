"""The offline data set of the world model: each task's transitions in time order, and
batches of sub-trajectories (H+1 observations, H actions and rewards) drawn from them.

A sub-trajectory never crosses an episode's end: a start t is kept only where every
step's next observation is the following step's observation. Batches take an equal share
of sub-trajectories from every task (B / K each), so every task is trained every update.
Observations and actions are zero-padded to the widest task."""
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@struct.dataclass
class Dataset:
    obs: jax.Array        # [K, N, S]   padded, each task's transitions in time order
    next_obs: jax.Array   # [K, N, S]
    action: jax.Array     # [K, N, A]
    reward: jax.Array     # [K, N]
    starts: jax.Array     # [K, M]      valid sub-trajectory starts (padded by repetition)
    num_starts: jax.Array  # [K]
    horizon: int = struct.field(pytree_node=False)

    @property
    def num_tasks(self) -> int:
        return self.reward.shape[0]


def valid_starts(obs: np.ndarray, next_obs: np.ndarray, horizon: int) -> np.ndarray:
    """Indices t such that t..t+horizon lie in one episode (continuity of observations)."""
    n = obs.shape[0]
    if n <= horizon:
        return np.zeros((0,), np.int64)
    linked = np.all(next_obs[:-1] == obs[1:], axis=-1)       # step t continues into t+1
    ok = np.ones(n - horizon, bool)
    for i in range(horizon):
        ok &= linked[i:n - horizon + i]
    return np.nonzero(ok)[0]


def from_transitions(tasks: Sequence[dict], obs_size: int, action_size: int,
                     horizon: int) -> Dataset:
    """`tasks`: one dict per task of time-ordered arrays obs, next_obs, action, reward.

    Raises ValueError when a task holds no sub-trajectory of horizon+1 steps."""
    n_max = max(len(t["reward"]) for t in tasks)
    starts = [valid_starts(np.asarray(t["obs"]), np.asarray(t["next_obs"]), horizon)
              for t in tasks]
    for i, s in enumerate(starts):
        if len(s) == 0:
            raise ValueError(f"task {i} holds no run of {horizon + 1} consecutive steps")
    m_max = max(len(s) for s in starts)

    def stack(name, width=None):
        out = np.zeros((len(tasks), n_max) + ((width,) if width else ()), np.float32)
        for k, t in enumerate(tasks):
            x = np.asarray(t[name], np.float32)
            if width:
                out[k, :len(x), :x.shape[1]] = x
            else:
                out[k, :len(x)] = x
        return jnp.asarray(out)

    return Dataset(obs=stack("obs", obs_size), next_obs=stack("next_obs", obs_size),
                   action=stack("action", action_size), reward=stack("reward"),
                   starts=jnp.asarray(np.stack([np.resize(s, m_max) for s in starts]), jnp.int32),
                   num_starts=jnp.asarray([len(s) for s in starts], jnp.int32),
                   horizon=horizon)


def sample(data: Dataset, key, batch_size: int) -> dict:
    """B sub-trajectories, B / K per task: obs [H+1, B, S], action [H, B, A],
    reward [H, B], task [B]."""
    K, H = data.num_tasks, data.horizon
    per_task = batch_size // K
    picks = jax.random.randint(key, (K, per_task), 0, data.num_starts[:, None])
    t0 = jnp.take_along_axis(data.starts, picks, 1)                   # [K, n]
    steps = t0[..., None] + jnp.arange(H + 1)                          # [K, n, H+1]
    take = lambda x, idx: jax.vmap(lambda xk, ik: xk[ik])(x, idx)      # per task
    obs = take(data.obs, steps)                                        # [K, n, H+1, S]
    flat = lambda x: jnp.moveaxis(x.reshape(K * per_task, *x.shape[2:]), 1, 0)
    return {"obs": flat(obs), "action": flat(take(data.action, steps[..., :H])),
            "reward": flat(take(data.reward, steps[..., :H])),
            "task": jnp.repeat(jnp.arange(K, dtype=jnp.int32), per_task)}
