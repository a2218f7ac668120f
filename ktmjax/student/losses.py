"""The student's losses, built once per student: the paper's equations (`ktmjax.ktm`) with
the extension terms its config turns on (`ktmjax.extensions`) added as layers.

`offline(s)` (Eq. 1, Eq. 2), `online(s)` (Eq. 4, Eq. 5) and `sac_online(s)` (the SAC-MT
baseline's, `ktmjax.sac`; its metrics add the temperature, sac_alpha, and the policy's
entropy) return `Losses`: one critic loss, shared by every task (the student's critic
reads padded inputs only), and one actor loss per task group (each reads its own
teachers' critic). Each loss is one task's batch
-> (loss, metrics): the metrics hold each term under its own name (eq1, critic_grad, ...)
and a diagnostic (the critic's mean Q1; the fraction of the actor's action entries at the
bound, |a| > `AT_BOUND`).
"""
from typing import Callable, NamedTuple

import jax.numpy as jnp

from ktmjax import extensions, ktm, layout, networks, sac, td3

AT_BOUND = 0.99


class Losses(NamedTuple):
    critic: Callable   # (critic_params, critic batch) -> (loss, metrics)
    actors: tuple      # per group: (actor_params, actor batch, teacher critic params,
                       #             student critic params) -> (loss, metrics)


def _summed(terms: dict, **diagnostics):
    """(the sum of the terms, the terms and the diagnostics)."""
    return sum(terms.values()), {**terms, **diagnostics}


def _at_bound(action):
    return jnp.mean((jnp.abs(action) > AT_BOUND).astype(jnp.float32))


def offline(s) -> Losses:
    """Eq. 1 and Eq. 2 of student `s` (a `Student`), with its extension terms."""
    critic_terms = extensions.critic_distillation_terms(s.config, s.critic)
    actor_terms = extensions.actor_terms(s.config)

    def critic(params, b):
        """Eq. 1: the student's (Q1, Q2)(ŝ, â) regress the teacher's (Q1, Q2)(s, a)."""
        q = s.critic.apply(params, b.obs_hat, b.action_hat)
        terms = {"eq1": ktm.critic_distillation_loss(q, b.teacher_q)}
        terms.update((name, fn(params, b)) for name, fn in critic_terms)
        return _summed(terms, q1_mean=jnp.mean(q[0]))

    def actor_of(g):
        def actor(params, b, teacher_critic_params, critic_params=None):
            """Eq. 2: the student's sliced action f^k(pi(ŝ)) ascends the teacher's Q1."""
            action = layout.slice_action(s.actor.apply(params, b.obs_hat), s.groups[g].action_size)
            terms = {"eq2": ktm.actor_distillation_loss(
                networks.q1(s.teacher_critics[g], teacher_critic_params, b.obs, action))}
            terms.update((name, fn(action, b)) for name, fn in actor_terms)
            return _summed(terms, at_bound=_at_bound(action))
        return actor

    return Losses(critic, tuple(actor_of(g) for g in range(len(s.groups))))


def _td_critic(s) -> Callable:
    """Eq. 4 of student `s`: its twin critic's regression on the batch's TD target (Eq. 3's,
    or SAC's for SAC-MT)."""
    def critic(params, b):
        q = s.critic.apply(params, b.obs_hat, b.action_hat)
        return _summed({"eq4": td3.twin_regression_loss(q, b.y)}, q1_mean=jnp.mean(q[0]))
    return critic


def online(s) -> Losses:
    """Eq. 4 and Eq. 5 of student `s`, with its extension terms (those of Eq. 5 in the
    teacher term, so weighted by alpha too)."""
    actor_terms = extensions.actor_terms(s.config, scale=s.config.alpha)

    def actor_of(g):
        def actor(params, b, teacher_critic_params, critic_params):
            """Eq. 5: alpha * the teacher's Q1 at f^k(pi(ŝ)) + beta * the student's own Q1
            at g^k(pi(ŝ))."""
            padded = s.actor.apply(params, b.obs_hat)
            action = layout.slice_action(padded, s.groups[g].action_size)
            teacher_q1 = networks.q1(s.teacher_critics[g], teacher_critic_params, b.obs, action)
            own_q1 = networks.q1(s.critic, critic_params, b.obs_hat,
                                 layout.mask_action(padded, b.mask))
            terms = {"eq5": ktm.guided_actor_loss(teacher_q1, own_q1, s.config.alpha,
                                                  s.config.beta)}
            terms.update((name, fn(action, b)) for name, fn in actor_terms)
            return _summed(terms, at_bound=_at_bound(action))
        return actor

    return Losses(_td_critic(s), tuple(actor_of(g) for g in range(len(s.groups))))


def sac_online(s) -> Losses:
    """SAC-MT's losses (no teachers): Eq. 4's twin regression on SAC's target
    (`batches`), and per group the SAC actor's loss plus its temperature's."""
    def actor_of(g):
        def actor(params, b, teacher_critic_params, critic_params):
            """mean(alpha_k log pi(a|ŝ) - min_j Q_j(ŝ, g^k(a))) and alpha_k's loss, a drawn
            from the student's policy with the batch's noise."""
            padded, entries = s.actor.apply(params, b.obs_hat, b.noise,
                                            method=sac.GaussianActor.sample)
            log_prob = sac.masked_log_prob(entries, b.mask)
            q = jnp.min(s.critic.apply(critic_params, b.obs_hat,
                                       layout.mask_action(padded, b.mask)), axis=0)
            log_alpha = s.actor.apply(params, method=sac.GaussianActor.temperatures)[b.task]
            terms = {"policy": sac.policy_loss(q, log_prob, jnp.exp(log_alpha)),
                     "temperature": sac.temperature_loss(log_alpha, log_prob,
                                                         sac.target_entropy(b.mask))}
            action = layout.slice_action(padded, s.groups[g].action_size)
            return _summed(terms, sac_alpha=jnp.exp(log_alpha), entropy=-jnp.mean(log_prob),
                           at_bound=_at_bound(action))
        return actor

    return Losses(_td_critic(s), tuple(actor_of(g) for g in range(len(s.groups))))
