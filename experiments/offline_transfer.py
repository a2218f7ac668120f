"""Offline knowledge transfer (KTM-DRL Eq. 1-2): distil K TD3 teachers into one student.

    python -m experiments.offline_transfer --benchmark=mini
    python -m experiments.offline_transfer --benchmark=A --teachers=runs/teachers/A-seed0-...

Every round draws a batch of --batch_size from each task's D_k (--data: the teacher's
training replay, teacher rollouts, or both); the student's twin critic regresses the
teacher's (Eq. 1) and its actor ascends the frozen teacher Q1 at its own sliced action
(Eq. 2), through the teacher's target critic by default (--teacher_critic). At the end the
targets are hard-copied. Writes config.json, metrics.csv, learning_curve.png,
results.md, summary.json (with each task's teacher return and ratio) and student/state
(orbax) to --run_dir.
"""
import dataclasses

from absl import flags

from experiments import common
from ktmjax import envs, stages, student, teacher_data
from ktmjax.stages import config

FLAGS = flags.FLAGS
common.define_flags_from(config.OfflineRun)
common.define_process_flags()


def resolve_config() -> stages.OfflineRun:
    """The run of the flags, checked (one-line errors); the teachers and the fields that
    depend on them stay as given (the stage resolves them: `stages.transfer.prepare`)."""
    common.check_benchmark(FLAGS.benchmark)
    if FLAGS.update is not None:
        common.require_choice("update", FLAGS.update, student.UPDATE_MODES)
    given = common.run_from_flags(config.OfflineRun, "offline")
    for name in ("rounds", "eval_every", "lr"):
        value = getattr(given, name)
        common.require(value is None or value > 0, f"--{name}={value} must be positive")
    for name in ("batch_size", "offline_actor_delay", "eval_episodes", "final_episodes"):
        common.require(getattr(given, name) > 0, f"--{name}={getattr(given, name)} must be "
                       "positive")
    common.require_term_weights(given, "offline")
    # resolved as far as the flags go: the teachers decide D_k (`resolve_offline_run`)
    sized = config.resolve_offline_run(dataclasses.replace(given, data="rollouts"), False)
    common.resolve_checkpoint_every(given.checkpoint_every, sized.eval_every, given.benchmark)
    common.check_teacher_critic(given.teacher_critic)
    common.require(sized.rollout_steps >= given.batch_size,
                   f"--rollout_steps={sized.rollout_steps} must be at least --batch_size")
    common.require(given.rollout_noise is None or given.rollout_noise >= 0,
                   f"--rollout_noise={given.rollout_noise} must not be negative")
    if given.data is not None:
        common.require_choice("data", given.data, teacher_data.DATA_SOURCES)
    if given.critic_grad is not None:   # the flags alone, before the teachers are looked for
        config.check_critic_grad_data(given.critic_grad, given.data)
    common.require_choice("backend", given.backend, envs.BACKENDS)
    return given


def main(_):
    stages.offline_transfer(resolve_config())


if __name__ == "__main__":
    common.run(main)
