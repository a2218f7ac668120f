"""The KTM-DRL losses (Xu et al. 2020, Eq. 1, 2 and 5), each one named pure function.

Eq. 3 (the TD target) and Eq. 4 (the twin critic regression) are TD3's own and live in
`ktmjax.td3` (`td_target`, `twin_regression_loss`); the student reuses them. Terms that
are not in the paper live in `ktmjax.extensions`.
"""
import jax.numpy as jnp

from ktmjax import td3


def critic_distillation_loss(student_q, teacher_q):
    """Eq. 1: mean((Q1^k(s,a) - Q1(ŝ,â))^2 + (Q2^k(s,a) - Q2(ŝ,â))^2).

    student_q, teacher_q: [2, N] (Q1 row 0, Q2 row 1). No bootstrapping, no targets.
    """
    return td3.twin_regression_loss(student_q, teacher_q)


def actor_distillation_loss(teacher_q1):
    """Eq. 2, as a loss to minimise: -mean(Q1^k(s, f^k(pi(ŝ)))).

    teacher_q1 [N] is the frozen teacher critic at the student's sliced action; the
    gradient flows through it into the student actor only.
    """
    return -jnp.mean(teacher_q1)


def guided_actor_loss(teacher_q1, student_q1, alpha: float, beta: float):
    """Eq. 5, as a loss to minimise: -mean(alpha * Q1^k(s, f^k(pi(ŝ))) + beta * Q1(ŝ, g^k(pi(ŝ)))).

    The first term keeps learning from the teacher; the second is ordinary TD3.
    """
    return -jnp.mean(alpha * teacher_q1 + beta * student_q1)
