"""Train the TD3 teachers of a benchmark (one per task), all in one jitted program.

    python -m experiments.train_teachers --benchmark=mini
    python -m experiments.train_teachers --benchmark=mini --tasks=InvertedPendulum --steps=30000

Writes to --run_dir: config.json, metrics.csv (periodic 3-episode evaluations),
summary.json (final 10-episode evaluation), results.md, and teachers/<Task>/ with each
teacher's orbax checkpoint and its replay buffer (D_k for the offline stage). With
--seeds=N, each seed writes RUN_DIR/seed<s>/ so; give a student stage one of them as
--teachers.
"""
from absl import flags

from experiments import common
from ktmjax import envs, runs, stages
from ktmjax.stages import config

FLAGS = flags.FLAGS
common.define_flags_from(config.TeachersRun)
common.define_process_flags()


def resolve_config() -> stages.TeachersRun:
    """The run of the flags: checked (one-line errors), then `config.resolve_teachers_run`
    fills what the flags leave to the benchmark and scale."""
    common.check_benchmark(FLAGS.benchmark)
    given = common.run_from_flags(config.TeachersRun, "teachers")
    for name in ("steps", "eval_every", "episode_length", "lr"):
        value = getattr(given, name)
        common.require(value is None or value > 0, f"--{name}={value} must be positive")
    run = config.resolve_teachers_run(given)
    for name in ("batch_size", "policy_delay", "capacity", "eval_episodes", "final_episodes"):
        common.require(getattr(run, name) > 0, f"--{name}={getattr(run, name)} must be positive")
    common.resolve_checkpoint_every(given.checkpoint_every, run.eval_every, run.benchmark)
    common.require(0 <= run.gamma <= 1, f"--gamma={run.gamma} must be in [0, 1]")
    common.require(0 < run.tau <= 1, f"--tau={run.tau} must be in (0, 1]")
    for name in ("expl_noise", "policy_noise", "noise_clip"):
        common.require(getattr(run, name) >= 0,
                       f"--{name}={getattr(run, name)} must not be negative")
    common.require(run.start_steps is None or run.start_steps >= 0,
                   f"--start_steps={run.start_steps} must not be negative")
    common.require_choice("backend", run.backend, envs.BACKENDS)
    common.require(run.batch_size <= run.capacity,
                   f"--batch_size={run.batch_size} is larger than the replay "
                   f"({run.capacity} transitions per task); lower it or raise --steps")
    return run


def main(_):
    run = resolve_config()
    runs.check_run_dir(run.run_dir, stages.settings(run), config.growable(run))
    stages.train_teachers(run)


if __name__ == "__main__":
    common.run(main)
