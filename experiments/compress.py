"""Compress a trained multi-task student (Kuzmenko & Shvai 2025): distil it into a compact
student, quantise that student's actor, and measure return, size and speed.

    python -m experiments.compress --from=runs/offline/mini-seed0 --hidden=32,32
    python -m experiments.compress --teachers=ktmjax/shipped_teachers/mini --hidden=32,32

--from: a finished offline_transfer or online run; the compact student learns from that
student (its critic regresses the large critic; its actor matches the large actor's action
and, with --q_weight, ascends the large critic's Q1; ktmjax.compress) on states of the large
student's noisy rollouts. --teachers: the same compact network trained directly from the
per-task teachers by the same recipe (the baseline "trained directly").

Then the compact actor is evaluated in float32, bfloat16, float16 and int8 (each in the
dtype it computes in), and RUN_DIR/policy.msgpack holds it in --dtype (ktmjax.policy.load
reads it back). Writes config.json, metrics.csv, learning_curve.png, results.md (per-task
returns and ratios, and the size and speed table), summary.json, student/state (the
compact student, float32, orbax), policy.msgpack, checkpoints/ and, with --video, videos/
to --run_dir.
"""
import dataclasses
import math

from absl import flags

from experiments import common
from ktmjax import envs, policy, runs, stages
from ktmjax.stages import config

FLAGS = flags.FLAGS
common.define_flags_from(config.CompressRun)


def resolve_config() -> stages.CompressRun:
    """The run of the flags: checked (one-line errors), resolved from its source
    (`stages.compact.resolve`), with the default run directory where none is given."""
    common.require_choice("dtype", FLAGS.dtype, policy.DTYPES)
    for name in ("q_weight", "match_weight"):
        common.require_term_weight(name, getattr(FLAGS, name))
    common.require(FLAGS.q_weight or FLAGS.match_weight,
                   "--q_weight and --match_weight are both 0: the compact actor would not learn")
    if FLAGS.benchmark is not None:
        common.check_benchmark(FLAGS.benchmark)
    given = common.settings_from_flags(
        config.CompressRun, hidden=common.parse_int_list(",".join(FLAGS.hidden), "hidden"))
    for name in ("rounds", "eval_every"):
        value = getattr(given, name)
        common.require(value is None or value > 0, f"--{name}={value} must be positive")
    for name in ("batch_size", "eval_episodes", "final_episodes"):
        common.require(getattr(given, name) > 0, f"--{name}={getattr(given, name)} must be "
                       "positive")
    common.require(math.isfinite(given.lr) and given.lr > 0,
                   f"--lr={given.lr} must be finite and positive")
    common.require(math.isfinite(given.rollout_noise) and given.rollout_noise >= 0,
                   f"--rollout_noise={given.rollout_noise} must be finite and not negative")
    common.require_choice("backend", given.backend, envs.BACKENDS)
    if given.teachers:
        common.check_teacher_critic(given.teacher_critic)
    run = stages.compact.resolve(given)
    widths = "x".join(str(w) for w in run.hidden)
    return dataclasses.replace(run, run_dir=run.run_dir or runs.default_run_dir(
        "compress", f"{run.benchmark}-{run.source}-w{widths}-seed{run.seed}"))


def main(_):
    stages.compress(resolve_config())


if __name__ == "__main__":
    common.run(main)
