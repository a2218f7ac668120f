"""Online learning guided by the teachers (KTM-DRL Eq. 3-5).

    python -m experiments.online --benchmark=mini --alpha=1 --beta=1 --from=OFFLINE_RUN_DIR
    python -m experiments.online --benchmark=mini --alpha=1 --beta=1      # w/o Offline

Every round all K envs step once with the student's action plus N(0, 0.1^2) noise; the
transitions go to each task's online shard D'_k; then (after the warm-up) the student's
twin critic makes a TD3 step (Eq. 3-4, target actions masked by g^k) and every
--policy_delay rounds its actor ascends alpha * teacher Q1 + beta * own Q1 (Eq. 5),
followed by soft target updates. Without --from the student starts from scratch (the
paper's "w/o Offline" ablation). --algo=sac with --alpha=0 and no --from is the SAC-MT
baseline: a multi-task SAC student (`ktmjax.sac`) in the same loop.
"""

import dataclasses

from absl import flags

from experiments import common
from ktmjax import envs, stages, student
from ktmjax.stages import config

FLAGS = flags.FLAGS
common.define_flags_from(config.OnlineRun)
common.define_process_flags()


def resolve_config() -> stages.OnlineRun:
    """The run of the flags, checked (one-line errors); what the --from run and the
    teachers decide stays as given (the stage resolves it: `stages.learn.prepare`)."""
    common.check_benchmark(FLAGS.benchmark)
    common.require(FLAGS.alpha >= 0 and FLAGS.beta >= 0,
                   f"--alpha={FLAGS.alpha} and --beta={FLAGS.beta} must not be negative")
    if FLAGS.update is not None:
        common.require_choice("update", FLAGS.update, student.UPDATE_MODES)
    common.require_choice("target_noise", FLAGS.target_noise, student.TARGET_NOISE_MODES)
    common.require_choice("algo", FLAGS.algo, student.ALGOS)
    # the scale: the flag, else (in the stage) the --from run's, else the device's
    scale = common.resolve_scale(FLAGS.benchmark, FLAGS.scale) if FLAGS.scale else None
    given = common.run_from_flags(config.OnlineRun, "online", scale=scale)
    if not FLAGS.tasks:   # all of them, or (in the stage) the --from run's
        given = dataclasses.replace(given, tasks=())
    if given.preset is not None:
        common.require_choice("preset", given.preset, config.PRESETS)
    common.require_term_weights(given, "online")
    for name in ("rounds", "eval_every"):
        value = getattr(given, name)
        common.require(value is None or value > 0, f"--{name}={value} must be positive")
    for name in ("capacity", "batch_size", "eval_episodes", "final_episodes"):
        common.require(getattr(given, name) > 0, f"--{name}={getattr(given, name)} must be "
                       "positive")
    common.require(given.batch_size <= given.capacity,
                   f"--batch_size={given.batch_size} is larger than the online replay "
                   f"(--capacity={given.capacity}); lower it")
    common.require(given.policy_delay is None or given.policy_delay > 0,
                   f"--policy_delay={given.policy_delay} must be positive")
    common.require(given.warmup is None or given.warmup >= 0,
                   f"--warmup={given.warmup} must not be negative")
    common.require(given.lr > 0, f"--lr={given.lr} must be positive")
    if given.teacher_critic is not None:
        common.check_teacher_critic(given.teacher_critic)
    common.require_choice("backend", given.backend, envs.BACKENDS)
    return given


def main(_):
    stages.online(resolve_config())


if __name__ == "__main__":
    common.run(main)
