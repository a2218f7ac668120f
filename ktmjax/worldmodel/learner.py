"""One TD-MPC2 update: the model step (Adam, encoder lr x 0.3, gradient-norm clip 20),
then the policy prior's step (its own Adam, eps 1e-5), then the target Qs' Polyak step.
With a teacher, the follow-up's reward distillation term is added to the model loss."""
import dataclasses
from typing import Any, Optional

import jax
import jax.numpy as jnp
import optax
from flax import struct

from ktmjax import optim
from ktmjax.worldmodel import losses, model


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """TD-MPC2's optimiser settings."""
    lr: float = 3e-4
    enc_lr_scale: float = 0.3
    grad_clip_norm: float = 20.0
    pi_eps: float = 1e-5


@struct.dataclass
class TrainState:
    params: Any
    target_q: Any
    opt_state: Any
    pi_opt_state: Any
    scale: jax.Array          # running 5th-95th percentile range of Q (starts at 1)
    step: jax.Array


@dataclasses.dataclass(frozen=True)
class Teacher:
    """A frozen world model whose decoded reward the student regresses (weight alpha)."""
    cfg: model.ModelConfig
    params: Any
    alpha: float


def _model_optimizer(cfg: OptimConfig):
    """Adam on every component but the policy prior (the encoder at lr x enc_lr_scale)."""
    labels = lambda params: {k: ("encoder" if k == "encoder" else "pi" if k == "pi" else "rest")
                             for k in params}
    return optax.chain(
        optax.clip_by_global_norm(cfg.grad_clip_norm),
        optax.multi_transform({"encoder": optax.adam(cfg.lr * cfg.enc_lr_scale),
                               "rest": optax.adam(cfg.lr), "pi": optax.set_to_zero()},
                              labels))


def _pi_optimizer(cfg: OptimConfig):
    return optax.chain(optax.clip_by_global_norm(cfg.grad_clip_norm),
                       optax.adam(cfg.lr, eps=cfg.pi_eps))


class Learner:
    """TD-MPC2's learner for one world model (and, optionally, a distillation teacher)."""

    def __init__(self, mcfg: model.ModelConfig, discounts, loss: losses.LossConfig = losses.LossConfig(),
                 optim: OptimConfig = OptimConfig(), teacher: Optional[Teacher] = None):
        self.mcfg, self.loss, self.optim, self.teacher = mcfg, loss, optim, teacher
        self.discounts = jnp.asarray(discounts, jnp.float32)
        self.model_opt = _model_optimizer(optim)
        self.pi_opt = _pi_optimizer(optim)
        # One program for every seed's init: eager, its many small ops are slow.
        self._init_program = jax.jit(self._init)

    def init(self, key) -> TrainState:
        return self._init_program(key)

    def _init(self, key) -> TrainState:
        params = model.init(self.mcfg, key)
        return TrainState(params, jax.tree.map(jnp.copy, params["qs"]), self.model_opt.init(params),
                          self.pi_opt.init(params["pi"]), jnp.ones((), jnp.float32),
                          jnp.zeros((), jnp.int32))

    def _model_loss(self, params, target_q, batch, key):
        total, terms, zs = losses.world_model_loss(self.mcfg, self.loss, params, target_q,
                                                   batch, self.discounts, key)
        if self.teacher is not None:
            distill = losses.reward_distillation(self.mcfg, params, self.teacher.cfg,
                                                 self.teacher.params, batch)
            total = total + self.teacher.alpha * distill
            terms = dict(terms, distill=distill)
        return total, (terms, zs)

    def update(self, state: TrainState, batch, key):
        """One update on `batch`. Returns (new state, metrics dict of scalars)."""
        k_model, k_pi = jax.random.split(key)
        params, opt_state, (total, (terms, zs)), grad_norm = optim.step(
            self.model_opt, lambda p: self._model_loss(p, state.target_q, batch, k_model),
            state.params, state.opt_state, has_aux=True)
        params = model.project_task_embeddings(params)
        pi, pi_opt_state, (pi_loss, (scale, entropy)), _ = optim.step(
            self.pi_opt, lambda pi: losses.policy_loss(
                self.mcfg, self.loss, pi, params, jax.lax.stop_gradient(zs), batch["task"],
                state.scale, k_pi),
            params["pi"], state.pi_opt_state, has_aux=True)
        params = dict(params, pi=pi)
        target_q = optax.incremental_update(params["qs"], state.target_q, self.loss.tau)
        metrics = dict(terms, total=total, grad_norm=grad_norm, pi_loss=pi_loss,
                       pi_entropy=jnp.mean(entropy), q_scale=scale)
        return TrainState(params, target_q, opt_state, pi_opt_state, scale,
                          state.step + 1), metrics
