"""Train a multi-task world model (TD-MPC2's design) offline on the teachers' replays, and
distil a small one from a large one through its reward head (Kuzmenko & Shvai 2025).

    python -m experiments.world_model --benchmark=dmc --size=cpu-large --data=RUN[,RUN...]
    python -m experiments.world_model --benchmark=dmc --size=cpu-small --data=... \\
        --teacher=runs/world_model/<the large run> --alpha=0.45

--data: train_teachers run directories (`train_teachers --benchmark=dmc --scale=cpu`)
whose replays form the data set, or exported teachers (no replay), whose noisy rollouts
(--rollout_steps per task, from near-expert to random) form it; by default the teachers that
ship with ktmjax for the benchmark. --teacher: a finished world_model run whose decoded
rewards the student regresses at the first step of each sampled sub-trajectory, weight
--alpha (--alpha=0: the same student trained without the teacher).

Writes config.json, metrics.csv (every loss term; the policy prior's periodic returns),
checkpoints/, model-{float32,float16,bfloat16}.msgpack (`ktmjax.worldmodel.load`),
summary.json and results.md (the planner's returns deterministic and with its sampling
noise, the prior's, each dtype's, MT30's normalised score, parameters and bytes).
"""
from absl import flags

from experiments import common
from ktmjax import runs, stages, teacher_store
from ktmjax.stages import config
from ktmjax.worldmodel import model

FLAGS = flags.FLAGS
common.define_flags_from(config.WorldModelRun)


def resolve_config() -> config.WorldModelRun:
    common.check_benchmark(FLAGS.benchmark)
    tasks = tuple(common.resolve_tasks(FLAGS.benchmark, ",".join(FLAGS.tasks)))
    common.require_choice("size", FLAGS.size, model.SIZES)
    data = tuple(FLAGS.data)
    if not data:
        shipped = teacher_store.shipped_teachers(FLAGS.benchmark, "cpu")
        common.require(shipped is not None, f"no teachers ship for benchmark {FLAGS.benchmark}: "
                       "give --data=<train_teachers run directories> (`python -m experiments."
                       f"train_teachers --benchmark={FLAGS.benchmark} --scale=cpu`)")
        data = (shipped,)
    common.require(FLAGS.rollout_steps >= 100, f"--rollout_steps={FLAGS.rollout_steps}: at "
                   "least 100")
    for name in ("steps", "seeds", "batch_size", "eval_every", "checkpoint_every", "eval_episodes",
                 "final_episodes", "num_samples", "iterations"):
        common.require(getattr(FLAGS, name) > 0, f"--{name}={getattr(FLAGS, name)} must be positive")
    common.require(FLAGS.lr > 0, f"--lr={FLAGS.lr} must be positive")
    common.require(FLAGS.alpha >= 0, f"--alpha={FLAGS.alpha} must not be negative")
    common.require(FLAGS.checkpoint_every % FLAGS.eval_every == 0,
                   f"--checkpoint_every={FLAGS.checkpoint_every} must be a multiple of "
                   f"--eval_every={FLAGS.eval_every}")
    common.require(FLAGS.batch_size >= len(tasks), f"--batch_size={FLAGS.batch_size} is "
                   f"smaller than the {len(tasks)} tasks (each update takes an equal share)")
    common.require(FLAGS.num_samples >= 8, f"--num_samples={FLAGS.num_samples}: at least 8")
    run_dir = FLAGS.run_dir or runs.default_run_dir(
        "world_model", f"{FLAGS.benchmark}-{FLAGS.size}-seed{FLAGS.seed}")
    return common.settings_from_flags(config.WorldModelRun, tasks=tasks, run_dir=run_dir,
                                      data=data, alpha=FLAGS.alpha if FLAGS.teacher else 0.0)


def main(_):
    run = resolve_config()
    runs.check_run_dir(run.run_dir, stages.settings(run), config.growable(run))
    stages.world_model(run)


if __name__ == "__main__":
    common.run(main)
