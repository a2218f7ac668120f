"""Compressing a multi-task agent (Kuzmenko & Shvai 2025): a compact student distilled from
a large one with the offline machinery of KTM-DRL.

The large agent (the source) is either a trained KTM student (`StudentSource`: one padded
actor and twin critic) or the K per-task teachers themselves (`TeachersSource`: the same
compact network trained directly by the KTM recipe, the baseline of the follow-up's "1M
trained directly"). Every round draws a batch from each task's shard of the source's noisy
rollouts and takes one Adam step per network of the compact student, on the mean over
tasks of:

- critic: `compact_critic_loss`, the compact twin critic regresses the source's (Eq. 1's
  form, with the source in the teacher's place);
- actor: `compact_actor_loss`, `q_weight` times the ascent of the source's Q1 at the compact
  actor's action (Eq. 2's form) plus `match_weight` times the squared distance to the
  source actor's action (the follow-up's distillation term, `extensions.actor_matching_loss`).

The compact student lives in the source's task layout (the same padded state, with or
without a task id, and the same slice f^k); it is a `td3.TD3State`, so it is saved,
resumed and evaluated like the other stages' students.
"""
import dataclasses
import math
import time
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp

from ktmjax import (extensions, ktm, layout, networks, optim, replay, sharding, td3,
                    teacher_store)
from ktmjax.envs import MultiTaskEnv
from ktmjax.metrics import TrainMetrics


@dataclasses.dataclass(frozen=True)
class CompressConfig:
    net: td3.TD3Config            # the compact networks (widths), Adam's rate, batch per task
    q_weight: float = 0.0         # ascent of the source's Q1 (Eq. 2's form)
    match_weight: float = 1.0     # matching the source actor's action

    def __post_init__(self):
        for name in ("q_weight", "match_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}={value} must be finite and not negative")
        if not (self.q_weight or self.match_weight):
            raise ValueError("q_weight and match_weight are both 0: the actor would not learn")


# ---- the losses, one task's batch each ------------------------------------------------------

def compact_critic_loss(compact_q, source_q):
    """The compact twin critic's Q1, Q2 [2, N] regress the source's [2, N] (Eq. 1's form)."""
    return ktm.critic_distillation_loss(compact_q, source_q)


def compact_actor_loss(source_q1, compact_action, source_action, q_weight: float,
                       match_weight: float):
    """q_weight * -mean(Q1_source(s, f^k(pi_c(ŝ)))) [Eq. 2's form, source_q1 [N]] plus
    match_weight * the squared distance of f^k(pi_c(ŝ)) to the source's action [N, a_k]."""
    return (q_weight * ktm.actor_distillation_loss(source_q1)
            + match_weight * extensions.actor_matching_loss(compact_action, source_action))


# ---- the large agent ------------------------------------------------------------------------

class StudentSource:
    """A trained KTM student as the source; its parameters per group: (actor, critic)."""

    def __init__(self, task_layout: layout.TaskLayout, groups, hidden: Sequence[int]):
        self.layout, self.groups = task_layout, groups
        net = td3.TD3Config(hidden=tuple(hidden))
        self.actor, self.critic = net.actor(task_layout.action_max), net.critic()

    def params(self, state: td3.TD3State) -> tuple:
        return ((state.actor_params, state.critic_params),) * len(self.groups)

    def _obs_hat(self, g, obs):
        return self.layout.student_obs(obs, self.groups[g].indices)

    def act(self, g, params, obs):
        """Deterministic actions [G, ..., a_g] on group g's raw states [G, ..., s_g]."""
        padded = self.actor.apply(params[0], self._obs_hat(g, obs))
        return layout.slice_action(padded, self.groups[g].action_size)

    def q(self, g, params, obs, action):
        """(Q1, Q2) [G, 2, N] of raw states [G, N, s_g] and sliced actions [G, N, a_g]."""
        action_hat = layout.pad_action(action, self.layout.action_max)   # g^k: zeros past a_k
        return jax.vmap(lambda o, a: self.critic.apply(params[1], o, a))(
            self._obs_hat(g, obs), action_hat)

    def q1(self, g, params, obs, action):
        action_hat = layout.pad_action(action, self.layout.action_max)
        return networks.q1(self.critic, params[1], self._obs_hat(g, obs), action_hat)


class TeachersSource:
    """The K teachers as the source; parameters per group: (stacked actors, stacked critics)."""

    def __init__(self, groups, configs: Sequence[td3.TD3Config]):
        self.groups, self.configs = groups, tuple(configs)
        self.critics = tuple(c.critic() for c in self.configs)
        self._actors = teacher_store.teachers_policy(groups, self.configs)

    @staticmethod
    def params(teacher_groups) -> tuple:
        return tuple((t.actor_params, t.critic_params) for t in teacher_groups)

    def act(self, g, params, obs):
        return self._actors(g, params[0], obs)

    def q(self, g, params, obs, action):
        return jax.vmap(self.critics[g].apply)(params[1], obs, action)

    def q1(self, g, params, obs, action):
        return jax.vmap(lambda p, o, a: networks.q1(self.critics[g], p, o, a))(params[1], obs,
                                                                               action)


# ---- the compact student ---------------------------------------------------------------------

class Batch(NamedTuple):
    """One group's batch: raw states [G, N, s_g], their student states ŝ [G, N, S], and
    the stored actions, raw [G, N, a_g] and padded â [G, N, A_max]."""
    obs: jax.Array
    obs_hat: jax.Array
    action: jax.Array
    action_hat: jax.Array


class Compressor:
    """Distils `source` into a compact student of `config.net.hidden` widths."""

    def __init__(self, env: MultiTaskEnv, task_layout: layout.TaskLayout, source,
                 config: CompressConfig):
        self.env, self.groups, self.layout = env, env.groups, task_layout
        self.source, self.config = source, config
        self.actor = config.net.actor(task_layout.action_max)
        self.critic = config.net.critic()
        self.tx = config.net.optimizer()

    def init(self, key) -> td3.TD3State:
        state = jax.jit(td3.init, static_argnums=(1, 2, 3))(
            key, self.layout.student_obs_size, self.layout.action_max, self.config.net)
        return sharding.placed(state)

    def policy_apply(self, g, actor_params, obs):
        """The compact student's deterministic actions (the evaluator's form)."""
        padded = self.actor.apply(actor_params, self.layout.student_obs(obs, self.groups[g].indices))
        return layout.slice_action(padded, self.groups[g].action_size)

    def eval_params(self, state: td3.TD3State) -> tuple:
        return (state.actor_params,) * len(self.groups)

    def _batch(self, g, data: replay.Replay, key) -> Batch:
        raw = replay.sample(data, key, self.config.net.batch_size)
        return Batch(raw["obs"], self.layout.student_obs(raw["obs"], self.groups[g].indices),
                     raw["action"], layout.pad_action(raw["action"], self.layout.action_max))

    def _batches(self, source_params, data, key):
        """Per group: the round's `Batch` and, frozen, the source's (Q1, Q2) [G, 2, N] at it
        and the source actor's actions [G, N, a_g] on its states."""
        keys = jax.random.split(key, len(self.groups))
        out = []
        for g in range(len(self.groups)):
            b = self._batch(g, data[g], keys[g])
            out.append((b, jax.lax.stop_gradient(self.source.q(g, source_params[g], b.obs, b.action)),
                        jax.lax.stop_gradient(self.source.act(g, source_params[g], b.obs))))
        return out

    def _in_task_order(self, per_group) -> jax.Array:
        """Per-group per-task values [G] -> [K] in benchmark order."""
        out = [None] * len(self.env.tasks)
        for group, values in zip(self.groups, per_group):
            for j, i in enumerate(group.indices):
                out[i] = values[j]
        return jnp.stack(out)

    def critic_losses(self, critic_params, batches):
        """`compact_critic_loss` of every task [K]."""
        return self._in_task_order([
            jax.vmap(lambda o, a, sq: compact_critic_loss(self.critic.apply(critic_params, o, a),
                                                          sq))(b.obs_hat, b.action_hat, source_q)
            for b, source_q, _ in batches])

    def actor_losses(self, actor_params, source_params, batches):
        """`compact_actor_loss` of every task [K]."""
        cfg, per_group = self.config, []
        for g, (b, _, source_action) in enumerate(batches):
            action = layout.slice_action(self.actor.apply(actor_params, b.obs_hat),
                                         self.groups[g].action_size)
            # At q_weight 0 the source critic is not run at all (nothing of it reaches the loss).
            source_q1 = (self.source.q1(g, source_params[g], b.obs, action) if cfg.q_weight
                         else jnp.zeros(action.shape[:-1]))
            per_group.append(jax.vmap(lambda q1, a, sa: compact_actor_loss(
                q1, a, sa, cfg.q_weight, cfg.match_weight))(source_q1, action, source_action))
        return self._in_task_order(per_group)

    def round(self, state: td3.TD3State, source_params, data):
        """One round (`optim.critic_then_actor`): one Adam step of the compact critic and one
        of the compact actor, each on the mean over tasks of its loss. Returns (state,
        `TrainMetrics`: each task's critic and actor loss)."""
        key, batch_key = jax.random.split(state.key)
        batches = self._batches(source_params, data, batch_key)

        def mean_over_tasks(each):
            return jnp.mean(each), each

        state, (critic_each, _), (actor_each, _) = optim.critic_then_actor(
            self.tx, state, lambda p: mean_over_tasks(self.critic_losses(p, batches)),
            lambda p, _: mean_over_tasks(self.actor_losses(p, source_params, batches)))
        state = state.replace(steps=state.steps + 1, key=key)
        every = jnp.ones(critic_each.shape)
        return state, TrainMetrics({"critic_loss": critic_each}, {"actor_loss": actor_each},
                                   every, every)

    def epoch(self, state: td3.TD3State, source_params, data, num_rounds: int):
        """`num_rounds` rounds in one `lax.scan` (jit with num_rounds static).
        Returns (state, metrics with a leading round axis)."""
        return jax.lax.scan(lambda s, _: self.round(s, source_params, data), state, None,
                            length=num_rounds)



# ---- measuring a compressed policy -----------------------------------------------------------

def actions_per_second(pi, batch: int, seconds: float = 0.5) -> float:
    """Actions per second of `pi.act` (a `policy.Policy`) on the first task at batch size
    `batch`, on the default device, timed for at least `seconds` after a compile."""
    obs = jnp.zeros((batch, pi.layout.obs_sizes[0]), jnp.float32)
    pi.act(obs, 0).block_until_ready()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        pi.act(obs, 0).block_until_ready()
        calls += 1
    return calls * batch / (time.perf_counter() - start)


def mean_ratio(returns: dict, reference: dict) -> float:
    """Mean over tasks of return / reference return ({task: return} each)."""
    return sum(returns[n] / reference[n] for n in returns) / len(returns)


def size_table(summary: dict) -> str:
    """The Markdown table of a compress run's summary: per agent and dtype, the actor's
    parameters and bytes (and with the float32 critic), actions per second at the measured
    batch sizes, and the mean over tasks of the return's ratio to the teacher and to the
    large agent."""
    source = summary["source_agent"]
    batches = sorted(next(iter(summary["dtypes"].values()))["actions_per_s"], key=int)
    head = ("| agent | dtype | actor params | actor bytes | with critic | "
            + " | ".join(f"actions/s, batch {b}" for b in batches)
            + " | mean ratio to teacher | mean ratio to large |")
    lines = [head, "|" + "---|" * (7 + len(batches))]
    teacher = {n: r["teacher_return"] for n, r in summary["tasks"].items()}

    def row(agent, dtype, info, returns):
        speeds = " | ".join(f"{info['actions_per_s'][b]:,.0f}" for b in batches)
        return (f"| {agent} | {dtype} | {info['actor_params']:,} | {info['actor_bytes']:,} | "
                f"{info['actor_bytes'] + info['critic_bytes']:,} | {speeds} | "
                f"{mean_ratio(returns, teacher):.3f} | {mean_ratio(returns, source['tasks']):.3f} |")

    if "actor_params" in source:
        lines.append(row("large student", "float32", source, source["tasks"]))
    widths = "x".join(str(w) for w in summary["hidden"])
    for dtype, info in summary["dtypes"].items():
        returns = {n: r["return_mean"] for n, r in info["tasks"].items()}
        lines.append(row(f"compact {widths}", dtype, info, returns))
    return "\n".join(lines)
