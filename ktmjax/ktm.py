"""The KTM-DRL losses (Xu et al. 2020, Eq. 1, 2 and 5), each one named pure function.

Eq. 3 (the TD target) and Eq. 4 (the twin critic regression) are TD3's own and live in
`ktmjax.td3` (`td_target`, `twin_regression_loss`); the student reuses them.
"""
import jax.numpy as jnp

from ktmjax import td3


def critic_distillation_loss(student_q, teacher_q):
    """Eq. 1: mean((Q1^k(s,a) - Q1(ŝ,â))^2 + (Q2^k(s,a) - Q2(ŝ,â))^2).

    student_q, teacher_q: [2, N] (Q1 row 0, Q2 row 1). No bootstrapping, no targets.
    """
    return td3.twin_regression_loss(student_q, teacher_q)


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


def actor_distillation_loss(teacher_q1):
    """Eq. 2, as a loss to minimise: -mean(Q1^k(s, f^k(pi(ŝ)))).

    teacher_q1 [N] is the frozen teacher critic at the student's sliced action; the
    gradient flows through it into the student actor only.
    """
    return -jnp.mean(teacher_q1)


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


def guided_actor_loss(teacher_q1, student_q1, alpha: float, beta: float):
    """Eq. 5, as a loss to minimise: -mean(alpha * Q1^k(s, f^k(pi(ŝ))) + beta * Q1(ŝ, g^k(pi(ŝ)))).

    The first term keeps learning from the teacher; the second is ordinary TD3.
    """
    return -jnp.mean(alpha * teacher_q1 + beta * student_q1)
