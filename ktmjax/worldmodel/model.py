"""TD-MPC2's multi-task world model in Flax: encoder, latent dynamics, reward, Q ensemble
and policy prior, each conditioned on a learned task embedding.

Observations are zero-padded to the largest task's size and actions to the largest
action size (KTM-DRL's padding); an action mask per task zeroes the unused action
entries in the policy prior and the planner. Latents are SimNorm'd: softmax over groups
of `simnorm_dim` entries.

Parameters are one dict with an entry per component (`encoder`, `dynamics`, `reward`,
`pi`, `qs`, `task_emb`), so each part can be optimised, copied (target Qs) or distilled
on its own. The functions below take that dict; nothing here holds state.
"""
import dataclasses
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ktmjax.worldmodel import twohot

LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0
LN_EPS = 1e-5    # PyTorch's LayerNorm epsilon, as TD-MPC2 (its checkpoints convert exactly)

# MT30's sizes (TD-MPC2: task_dim 96 at 1M and 317M, 64 between), and the two this CPU
# trains: a "large" teacher and a student about 9x smaller.
SIZES = {
    "1M": dict(enc_dim=256, mlp_dim=384, latent_dim=128, num_enc_layers=2, num_q=2, task_dim=96),
    "5M": dict(enc_dim=256, mlp_dim=512, latent_dim=512, num_enc_layers=2, num_q=5, task_dim=64),
    "19M": dict(enc_dim=1024, mlp_dim=1024, latent_dim=512, num_enc_layers=3, num_q=5,
                task_dim=64),
    "48M": dict(enc_dim=1792, mlp_dim=1792, latent_dim=768, num_enc_layers=4, num_q=5,
                task_dim=64),
    "317M": dict(enc_dim=4096, mlp_dim=4096, latent_dim=1376, num_enc_layers=5, num_q=8,
                 task_dim=96),
    "cpu-large": dict(enc_dim=256, mlp_dim=256, latent_dim=128, num_enc_layers=2, num_q=2,
                      task_dim=32),
    "cpu-small": dict(enc_dim=64, mlp_dim=64, latent_dim=64, num_enc_layers=2, num_q=2,
                      task_dim=16),
}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Shapes of one world model. `action_sizes` gives each task's own action size (the
    mask); `obs_size`/`action_size` are the padded widths."""
    obs_size: int
    action_size: int
    action_sizes: Sequence[int]
    enc_dim: int = 256
    mlp_dim: int = 384
    latent_dim: int = 128
    num_enc_layers: int = 2
    num_q: int = 2
    task_dim: int = 96
    simnorm_dim: int = 8
    dropout: float = 0.01

    @property
    def num_tasks(self) -> int:
        return len(self.action_sizes)

    @classmethod
    def of_size(cls, size: str, obs_size: int, action_size: int, action_sizes):
        if size not in SIZES:
            raise ValueError(f"unknown world-model size {size!r}; known: {', '.join(SIZES)}")
        return cls(obs_size, action_size, tuple(int(a) for a in action_sizes), **SIZES[size])

    def action_masks(self):
        """[K, A]: 1 where the task has that action entry."""
        return jnp.asarray(np.arange(self.action_size)[None, :]
                           < np.asarray(self.action_sizes)[:, None], jnp.float32)


def simnorm(x, group: int):
    """Softmax over consecutive groups of `group` entries of the last axis."""
    shape = x.shape
    return jax.nn.softmax(x.reshape(*shape[:-1], -1, group), -1).reshape(shape)


def mish(x):
    return x * jnp.tanh(jax.nn.softplus(x))


_weight_init = nn.initializers.truncated_normal(0.02)


class MLP(nn.Module):
    """Hidden layers Linear -> LayerNorm -> Mish (dropout after the first Linear when
    `dropout` > 0); the last layer plain Linear, or Linear -> LayerNorm -> SimNorm when
    `simnorm_dim` is set. `zero_last` zero-initialises the last layer's weights."""
    hidden: Sequence[int]
    out: int
    simnorm_dim: int = 0
    dropout: float = 0.0
    zero_last: bool = False

    @nn.compact
    def __call__(self, x, train: bool = False):
        for i, width in enumerate(self.hidden):
            x = nn.Dense(width, kernel_init=_weight_init)(x)
            if i == 0 and self.dropout > 0:
                x = nn.Dropout(self.dropout, deterministic=not train)(x)
            x = mish(nn.LayerNorm(epsilon=LN_EPS)(x))
        x = nn.Dense(self.out, kernel_init=nn.initializers.zeros if self.zero_last
                     else _weight_init)(x)
        if self.simnorm_dim:
            x = simnorm(nn.LayerNorm(epsilon=LN_EPS)(x), self.simnorm_dim)
        return x


class QEnsemble(nn.Module):
    """num_q Q-networks as one module (parameters stacked on a leading axis):
    returns logits [num_q, ..., NUM_BINS]."""
    hidden: Sequence[int]
    num_q: int
    dropout: float

    @nn.compact
    def __call__(self, x, train: bool = False):
        ensemble = nn.vmap(MLP, variable_axes={"params": 0},
                           split_rngs={"params": True, "dropout": True},
                           in_axes=(None, None), out_axes=0, axis_size=self.num_q)
        return ensemble(self.hidden, twohot.NUM_BINS, dropout=self.dropout,
                        zero_last=True, name="q")(x, train)


def modules(cfg: ModelConfig) -> dict:
    """The Flax module of each component."""
    return {
        "encoder": MLP((cfg.enc_dim,) * max(cfg.num_enc_layers - 1, 1), cfg.latent_dim,
                       simnorm_dim=cfg.simnorm_dim),
        "dynamics": MLP((cfg.mlp_dim,) * 2, cfg.latent_dim, simnorm_dim=cfg.simnorm_dim),
        "reward": MLP((cfg.mlp_dim,) * 2, twohot.NUM_BINS, zero_last=True),
        "pi": MLP((cfg.mlp_dim,) * 2, 2 * cfg.action_size),
        "qs": QEnsemble((cfg.mlp_dim,) * 2, cfg.num_q, cfg.dropout),
    }


def init(cfg: ModelConfig, key) -> dict:
    """Fresh parameters: {component: params}, with `task_emb` [K, task_dim] ~ U(-0.02, 0.02)."""
    mods = modules(cfg)
    z = jnp.zeros((1, cfg.latent_dim))
    za = jnp.zeros((1, cfg.latent_dim + cfg.task_dim + cfg.action_size))
    inputs = {"encoder": jnp.zeros((1, cfg.obs_size + cfg.task_dim)),
              "dynamics": za, "reward": za, "qs": za,
              "pi": jnp.zeros((1, z.shape[1] + cfg.task_dim))}
    keys = jax.random.split(key, len(mods) + 1)
    params = {name: mods[name].init(k, inputs[name])["params"]
              for k, name in zip(keys, sorted(mods))}
    params["task_emb"] = jax.random.uniform(keys[-1], (cfg.num_tasks, cfg.task_dim),
                                            minval=-0.02, maxval=0.02)
    return params


def check_params(cfg: ModelConfig, params) -> None:
    """Raises ValueError unless `params` has exactly the layout and shapes of a model of
    `cfg` (a converted checkpoint, a file read back)."""
    like = jax.eval_shape(lambda: init(cfg, jax.random.PRNGKey(0)))
    if jax.tree.structure(like) != jax.tree.structure(params):
        raise ValueError("the parameters do not have the world model's layout")
    for a, b in zip(jax.tree.leaves(like), jax.tree.leaves(params)):
        if a.shape != np.shape(b):
            raise ValueError(f"a parameter has shape {np.shape(b)}, the model {a.shape}")


def count_params(params) -> int:
    return int(sum(np.size(x) for x in jax.tree.leaves(params)))


def _max_norm_1(emb):
    """Rows of `emb` rescaled to norm at most 1."""
    norm = jnp.linalg.norm(emb, axis=-1, keepdims=True)
    return emb * jnp.minimum(1.0, 1.0 / jnp.maximum(norm, 1e-7))


def task_embedding(params, task):
    """The embedding of task ids `task` [...], renormalised to norm at most 1."""
    return _max_norm_1(params["task_emb"][task])


def _with_task(params, x, task):
    emb = jnp.broadcast_to(task_embedding(params, task), (*x.shape[:-1], params["task_emb"].shape[1]))
    return jnp.concatenate([x, emb], -1)


def encode(cfg: ModelConfig, params, obs, task):
    """obs [..., obs_size] (padded), task [...] -> latent z [..., latent_dim]."""
    return modules(cfg)["encoder"].apply({"params": params["encoder"]},
                                         _with_task(params, obs, task))


def next_latent(cfg: ModelConfig, params, z, action, task):
    """The latent dynamics: (z, a) -> the predicted next latent."""
    x = jnp.concatenate([_with_task(params, z, task), action], -1)
    return modules(cfg)["dynamics"].apply({"params": params["dynamics"]}, x)


def reward_logits(cfg: ModelConfig, params, z, action, task):
    x = jnp.concatenate([_with_task(params, z, task), action], -1)
    return modules(cfg)["reward"].apply({"params": params["reward"]}, x)


def reward(cfg: ModelConfig, params, z, action, task):
    """The decoded scalar reward of (z, a)."""
    return twohot.decode(reward_logits(cfg, params, z, action, task))


def q_logits(cfg: ModelConfig, q_params, params, z, action, task, *, train=False, rng=None):
    """Every Q's logits [num_q, ..., NUM_BINS]; `q_params` are the online or target Qs'
    parameters (the task embedding comes from `params`)."""
    x = jnp.concatenate([_with_task(params, z, task), action], -1)
    rngs = {"dropout": rng} if train else {}
    return modules(cfg)["qs"].apply({"params": q_params}, x, train, rngs=rngs)


def q_value(cfg: ModelConfig, q_params, params, z, action, task, key, reduce: str):
    """Two Qs drawn at random from the ensemble, decoded; `reduce` 'min' or 'avg'."""
    logits = q_logits(cfg, q_params, params, z, action, task)
    pick = jax.random.choice(key, cfg.num_q, (2,), replace=False)
    q = twohot.decode(logits[pick])
    return jnp.min(q, 0) if reduce == "min" else jnp.mean(q, 0)


def policy(cfg: ModelConfig, params, z, task, key, scale_by_dims: bool = False):
    """The policy prior: a tanh-squashed Gaussian with the task's unused action entries
    masked to zero. Returns (mean action, sampled action, log-prob of the sample over the
    task's own action entries), actions [..., action_size].

    With `scale_by_dims` the Gaussian part of the log-prob is multiplied by the task's
    number of action entries before the tanh correction is subtracted (TD-MPC2's scaled
    entropy, as the follow-up's code computes it)."""
    out = modules(cfg)["pi"].apply({"params": params["pi"]}, _with_task(params, z, task))
    mean, log_std = jnp.split(out, 2, -1)
    log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(log_std) + 1.0)
    mask = cfg.action_masks()[task].astype(mean.dtype)
    eps = jax.random.normal(key, mean.shape, mean.dtype) * mask
    mean, log_std = mean * mask, log_std * mask
    gaussian = jnp.sum((-0.5 * eps ** 2 - log_std - 0.5 * np.log(2 * np.pi)) * mask, -1)
    if scale_by_dims:
        gaussian = gaussian * jnp.asarray(cfg.action_sizes, mean.dtype)[task]
    sample = jnp.tanh(mean + eps * jnp.exp(log_std))
    log_prob = gaussian - jnp.sum(jnp.log(jax.nn.relu(1.0 - sample ** 2) + 1e-6) * mask, -1)
    return jnp.tanh(mean), sample, log_prob


def discount(episode_length: int) -> float:
    """TD-MPC2's discount for an episode length: (L/5 - 1) / (L/5), within [0.95, 0.995]."""
    frac = episode_length / 5
    return float(min(max((frac - 1) / frac, 0.95), 0.995))


def project_task_embeddings(params):
    """`params` with every task embedding rescaled to norm at most 1, as PyTorch's
    `Embedding(max_norm=1)` rescales the stored rows (no gradient) when it looks them up."""
    return dict(params, task_emb=_max_norm_1(params["task_emb"]))
