"""Terms ktmjax can add to the paper's losses (not in KTM-DRL, nor its public code).

Each is one named pure function, added to a paper equation with its own weight when the
student's losses are built (`--critic_grad` to Eq. 1; `--actor_match` to Eq. 2 and to
Eq. 5's teacher term). The paper's equations alone are in `ktmjax.ktm`.
"""
import jax.numpy as jnp


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
