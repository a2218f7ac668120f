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
import math
import os

from absl import flags

from experiments import common
from ktmjax import envs, policy, runs, stages, teacher_store
from ktmjax.stages import config

FLAGS = flags.FLAGS
flags.DEFINE_string("from", None, "A finished offline_transfer or online run: the student "
                    "to compress.")
flags.DEFINE_string("teachers", None, "Instead of --from: train the compact network directly "
                    "from these teachers (a train_teachers run or exported teachers) by the "
                    "same recipe, the baseline of a distilled student.")
flags.DEFINE_string("benchmark", None, "Benchmark of --teachers (A, B or mini; default mini). "
                    "With --from: the run's (giving another is an error).")
flags.DEFINE_string("tasks", "", "With --teachers: a comma-separated subset of the "
                    "benchmark's tasks (default all). With --from: the run's.")
flags.DEFINE_string("hidden", "64,64", "Widths of the compact student's hidden layers.")
flags.DEFINE_string("dtype", "float16", "The dtype of the deployed policy.msgpack: "
                    "float32, bfloat16, float16 or int8 (all four are evaluated).")
flags.DEFINE_integer("rounds", None, "Distillation rounds (default 10000 for mini; A/B: "
                     "40000 at --scale=cpu, 500000 at paper scale).")
flags.DEFINE_float("q_weight", 0.0, "Weight of the ascent of the large critic's Q1 at the "
                   "compact actor's action (Eq. 2's form). Default 0: on mini, matching alone "
                   "was as good or better in every comparison, and the ascent alone failed "
                   "(docs/compression.md).")
flags.DEFINE_float("match_weight", 1.0, "Weight of the squared distance between the "
                   "compact and the large actor's actions (the follow-up's distillation term).")
flags.DEFINE_float("lr", 1e-3, "Adam learning rate of the compact student.")
flags.DEFINE_integer("batch_size", 256, "Batch per task per round.")
flags.DEFINE_integer("rollout_steps", None, "Env steps per task of the large agent's noisy "
                     "rollouts, the states distilled on (default: mini 60000; A/B 50000 at "
                     "--scale=cpu, 100000 at paper scale).")
flags.DEFINE_float("rollout_noise", 0.1, "Std of the Gaussian noise on the large agent's "
                   "action in those rollouts (0.3 lost episodes of the fragile "
                   "InvertedPendulumBigPole on mini; docs/compression.md).")
flags.DEFINE_bool("task_id", None, "With --teachers: append a task one-hot to the student "
                  "state (default: the benchmark's preset; mini on, A/B off). With --from: "
                  "the run's.")
flags.DEFINE_string("teacher_critic", "target", "With --teachers: the teacher Q learnt from "
                    "(target or online; see offline_transfer --help).")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_string("run_dir", None, "Output directory, used exactly as given (default "
                    "runs/compress/<benchmark>-w<widths>-seed<seed>-<time>).")
flags.DEFINE_integer("eval_every", None, "Rounds between evaluations (default 2000 for "
                     "mini, 5000 at --scale=cpu, 10000 at paper scale).")
flags.DEFINE_integer("eval_episodes", 3, "Episodes per periodic evaluation.")
flags.DEFINE_integer("final_episodes", 10, "Episodes of each dtype's final evaluation.")
flags.DEFINE_string("backend", "mjx", "Physics backend of the envs.")
common.define_scale_flag()
common.define_checkpoint_flag("round")
common.define_tensorboard_flag()
common.define_video_flag()

def resolve_config() -> stages.CompressRun:
    start_from, given_teachers = getattr(FLAGS, "from"), FLAGS.teachers
    common.require(bool(start_from) != bool(given_teachers),
                   "give exactly one of --from=RUN (the student to compress) and "
                   "--teachers=DIR (train the compact network directly from the teachers)")
    hidden = common.parse_int_list(FLAGS.hidden, "hidden")
    common.require_choice("dtype", FLAGS.dtype, policy.DTYPES)
    for name in ("q_weight", "match_weight"):
        common.require_term_weight(name, getattr(FLAGS, name))
    common.require(FLAGS.q_weight or FLAGS.match_weight,
                   "--q_weight and --match_weight are both 0: the compact actor would not learn")
    if FLAGS.benchmark is not None:
        common.check_benchmark(FLAGS.benchmark)
    source_cfg = common.read_from_run(start_from, ("offline", "online")) if start_from else None
    benchmark = source_cfg["benchmark"] if source_cfg else (FLAGS.benchmark or "mini")
    common.require(FLAGS.benchmark in (None, benchmark),
                   f"--from={start_from} is a run of benchmark {benchmark}, not "
                   f"{FLAGS.benchmark}; drop --benchmark or give a run of it")
    scale = common.resolve_scale(benchmark, FLAGS.scale or (source_cfg or {}).get("scale"))
    defaults = config.scaled_defaults(config.COMPRESS_DEFAULTS, config.COMPRESS_CPU_SCALE,
                                      benchmark, scale)
    pick = lambda name: getattr(FLAGS, name) if getattr(FLAGS, name) is not None else defaults[name]
    cfg = {"benchmark": benchmark, "source": "student" if start_from else "teachers",
           "from_run": start_from, "hidden": hidden, "dtype": FLAGS.dtype,
           "rounds": pick("rounds"), "q_weight": FLAGS.q_weight,
           "match_weight": FLAGS.match_weight, "lr": FLAGS.lr, "batch_size": FLAGS.batch_size,
           "rollout_steps": pick("rollout_steps"), "rollout_noise": FLAGS.rollout_noise,
           "seed": FLAGS.seed, "eval_every": pick("eval_every"),
           "eval_episodes": FLAGS.eval_episodes, "final_episodes": FLAGS.final_episodes,
           "backend": FLAGS.backend, "tensorboard": FLAGS.tensorboard}
    if scale:
        cfg["scale"] = scale
    for name in ("rounds", "batch_size", "eval_every", "eval_episodes", "final_episodes"):
        common.require(cfg[name] > 0, f"--{name}={cfg[name]} must be positive")
    common.require(math.isfinite(cfg["lr"]) and cfg["lr"] > 0,
                   f"--lr={cfg['lr']} must be finite and positive")
    common.require(math.isfinite(cfg["rollout_noise"]) and cfg["rollout_noise"] >= 0,
                   f"--rollout_noise={cfg['rollout_noise']} must be finite and not negative")
    common.require(cfg["rollout_steps"] >= cfg["batch_size"],
                   f"--rollout_steps={cfg['rollout_steps']} must be at least --batch_size")
    common.require_choice("backend", cfg["backend"], envs.BACKENDS)
    cfg["checkpoint_every"] = common.resolve_checkpoint_every(
        FLAGS.checkpoint_every, cfg["eval_every"], benchmark)
    if source_cfg:
        common.require(FLAGS.task_id is None and not FLAGS.tasks,
                       "--task_id and --tasks are the --from run's; drop them")
        cfg.update(tasks=tuple(source_cfg["tasks"]),
                   task_id=bool(source_cfg.get("task_id", False)),
                   source_hidden=tuple(source_cfg["hidden"]), teachers=source_cfg["teachers"])
    else:
        common.check_teacher_critic(FLAGS.teacher_critic)
        default_id = config.PRESETS[config.DEFAULT_PRESET[benchmark]]["task_id"]
        cfg.update(tasks=tuple(common.resolve_tasks(benchmark, FLAGS.tasks)),
                   task_id=default_id if FLAGS.task_id is None else FLAGS.task_id,
                   teachers=given_teachers, teacher_critic=FLAGS.teacher_critic)
        common.require(os.path.isdir(given_teachers), f"--teachers={given_teachers} does not "
                       "exist; give a train_teachers run or exported teachers")
        try:
            teacher_store.find_teacher_dirs(given_teachers, envs.benchmark_tasks(benchmark, cfg["tasks"]))
        except ValueError as e:
            raise common.UsageError(str(e)) from None
    widths = "x".join(str(w) for w in hidden)
    cfg["run_dir"] = FLAGS.run_dir or runs.default_run_dir(
        "compress", f"{benchmark}-{cfg['source']}-w{widths}-seed{cfg['seed']}")
    return stages.CompressRun(**cfg, video=FLAGS.video)


def main(_):
    run = resolve_config()
    runs.check_run_dir(run.run_dir)
    runs.check_settings(run.run_dir, stages.settings(run))
    stages.compress(run)


if __name__ == "__main__":
    common.run(main)
