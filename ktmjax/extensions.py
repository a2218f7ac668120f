"""Terms ktmjax can add to the paper's losses (not in KTM-DRL, nor its public code).

Each is one named pure function, added to a paper equation with its own weight when the
student's losses are built (`--critic_grad` to Eq. 1; `--actor_match` to Eq. 2 and to
Eq. 5's teacher term), and logged under its own name. The paper's equations alone are in
`ktmjax.ktm`. `TERMS` names them: a term's weight is the `StudentConfig` field, the
command's flag (a field of the stage's run) and the config.json key of that name, and
the stages, presets, start lines and report read it from there.
"""
import dataclasses

import jax.numpy as jnp

from ktmjax import networks


@dataclasses.dataclass(frozen=True)
class Term:
    """A term's weight `name` and, per student stage ("offline", "online"), the paper
    equation it is added to there."""
    name: str
    equations: dict


TERMS = (Term("critic_grad", {"offline": "Eq. 1"}),
         Term("actor_match", {"offline": "Eq. 2", "online": "Eq. 5"}))


def stage_terms(stage: str) -> tuple:
    """The terms a student stage can add."""
    return tuple(t for t in TERMS if stage in t.equations)


def weights(run, stage: str) -> dict:
    """{name: weight} of the terms of `stage`, read from `run` (a stage's run or config)."""
    return {t.name: getattr(run, t.name) for t in stage_terms(stage)}


def critic_gradient_distillation_loss(student_dqda, teacher_dqda):
    """Not in the paper: mean over the batch of the squared distance between the student's
    and the teacher's dQ1/da, summed over the action entries.

    student_dqda, teacher_dqda: [N, A_max] (the teacher's padded with zeros), taken at the
    teacher's own action pi^k(s). Eq. 1 matches values only, and on the trained policy's
    states the action-dependent part of Q is too small for value regression to get its
    slope right; Eq. 5 follows exactly that slope of the student's Q1 near the policy's
    action (docs/results.md). Added to Eq. 1 with a weight.
    """
    return jnp.mean(jnp.sum(jnp.square(student_dqda - teacher_dqda), axis=-1))


def actor_matching_loss(student_action, teacher_action):
    """Not in the paper: mean over the batch of the squared distance between the student's
    sliced action f^k(pi(ŝ)) and the teacher actor's pi^k(s), summed over the action
    entries. student_action, teacher_action: [N, a_k].

    Eq. 2 moves the student actor towards the teacher critic's best action, which is the
    teacher's own action only where that critic agrees with its actor; with teachers
    trained briefly (e.g. a 60,000-step `mini` teacher) it may not (docs/results.md). Added to Eq. 2
    with a weight.
    """
    return jnp.mean(jnp.sum(jnp.square(student_action - teacher_action), axis=-1))


# ---- the layers: each term as the student's losses add it ----------------------------------
# A term is (name, fn); its value is already weighted and the student's loss adds it to the
# paper's equation and logs it under its name. No term is built at weight 0.

def critic_distillation_terms(config, critic) -> list:
    """Terms added to Eq. 1: fn(critic_params, DistillCriticBatch) -> weighted value."""
    terms = []
    if config.critic_grad:
        def critic_grad(params, b):
            dqda = networks.q1_action_grad(critic, params, b.slope.obs_hat,
                                           b.slope.teacher_action_hat)
            return config.critic_grad * critic_gradient_distillation_loss(
                dqda * b.slope.mask, b.slope.teacher_dqda)
        terms.append(("critic_grad", critic_grad))
    return terms


def actor_terms(config, scale: float = None) -> list:
    """Terms added to Eq. 2 (scale None) or to Eq. 5's teacher term (scale alpha):
    fn(student's sliced action f^k(pi(ŝ)), actor batch) -> weighted value."""
    terms = []
    if config.actor_match:
        def actor_match(action, b):
            value = config.actor_match * actor_matching_loss(action, b.teacher_action)
            return value if scale is None else scale * value
        terms.append(("actor_match", actor_match))
    return terms
