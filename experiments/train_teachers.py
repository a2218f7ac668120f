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
flags.DEFINE_string("benchmark", "mini", "Benchmark: A, B, mini or dmc.")
flags.DEFINE_string("tasks", "", "Comma-separated subset of the benchmark's tasks (default all).")
flags.DEFINE_integer("steps", None, "Env steps per task (default: 1000000 for A/B, "
                     "200000 at --scale=cpu, 100000 for mini).")
flags.DEFINE_integer("seed", 0, "Random seed.")
common.define_seeds_flag()
flags.DEFINE_string("run_dir", None, "Output directory, used exactly as given "
                    "(default runs/teachers/<benchmark>-seed<seed>-<time>).")
flags.DEFINE_string("backend", "mjx", "Physics backend: mjx, generalized, positional, spring.")
flags.DEFINE_string("hidden", None, "Hidden layer widths (default 400,400; mini and "
                    "--scale=cpu 256,256).")
flags.DEFINE_float("lr", None, "Adam learning rate, actor and critic (default 3e-4; mini and "
                   "--scale=cpu 1e-3, the original TD3 paper's rate, which learns faster).")
common.define_scale_flag()
common.define_tensorboard_flag()
common.define_video_flag()
common.define_process_flags()
flags.DEFINE_integer("batch_size", 256, "Minibatch size per task.")
flags.DEFINE_float("gamma", 0.99, "Discount.")
flags.DEFINE_float("tau", 0.005, "Soft target update rate.")
flags.DEFINE_float("expl_noise", 0.1, "Std of the Gaussian exploration noise.")
flags.DEFINE_float("policy_noise", 0.2, "Std of the target policy smoothing noise.")
flags.DEFINE_float("noise_clip", 0.5, "Clip of the target policy smoothing noise.")
flags.DEFINE_integer("policy_delay", 2, "Critic updates per actor update.")
flags.DEFINE_integer("start_steps", None, "Uniform-random start-up steps before learning "
                     "(default per task: 1000 for pendulums, 10000 for locomotion).")
flags.DEFINE_integer("capacity", 1_000_000, "Replay capacity per task (capped at --steps).")
flags.DEFINE_integer("eval_every", None, "Steps between evaluations (one epoch; default "
                     "10000, mini 5000).")
common.define_checkpoint_flag("step")
flags.DEFINE_integer("eval_episodes", 3, "Episodes per periodic evaluation.")
flags.DEFINE_integer("final_episodes", 10, "Episodes of the final evaluation.")
flags.DEFINE_integer("episode_length", None, "Steps per episode (default 500 for dmc, "
                     "MT30's protocol, else 1000).")


def resolve_config() -> stages.TeachersRun:
    common.check_benchmark(FLAGS.benchmark)
    scale = common.resolve_scale(FLAGS.benchmark, FLAGS.scale)
    defaults = config.teacher_defaults(FLAGS.benchmark, scale)
    cfg = {
        "benchmark": FLAGS.benchmark, "tasks": tuple(common.resolve_tasks(FLAGS.benchmark, FLAGS.tasks)),
        "steps": FLAGS.steps if FLAGS.steps is not None else defaults["steps"],
        "seed": FLAGS.seed, "seeds": common.require_seeds(FLAGS.seeds),
        "backend": FLAGS.backend, "tensorboard": FLAGS.tensorboard,
        "hidden": (common.parse_int_list(FLAGS.hidden, "hidden") if FLAGS.hidden
                   else defaults["hidden"]),
        "lr": FLAGS.lr if FLAGS.lr is not None else defaults["lr"],
        "batch_size": FLAGS.batch_size, "gamma": FLAGS.gamma,
        "tau": FLAGS.tau, "expl_noise": FLAGS.expl_noise, "policy_noise": FLAGS.policy_noise,
        "noise_clip": FLAGS.noise_clip, "policy_delay": FLAGS.policy_delay,
        "start_steps": FLAGS.start_steps, "capacity": FLAGS.capacity,
        "eval_every": FLAGS.eval_every or defaults["eval_every"],
        "eval_episodes": FLAGS.eval_episodes, "final_episodes": FLAGS.final_episodes,
        "episode_length": FLAGS.episode_length or envs.multitask.default_episode_length(
            envs.benchmark_tasks(FLAGS.benchmark)),
    }
    if scale:
        cfg["scale"] = scale
    for name in ("steps", "batch_size", "policy_delay", "capacity", "eval_every",
                 "eval_episodes", "final_episodes", "episode_length"):
        common.require(cfg[name] > 0, f"--{name}={cfg[name]} must be positive")
    cfg["checkpoint_every"] = common.resolve_checkpoint_every(
        FLAGS.checkpoint_every, cfg["eval_every"], cfg["benchmark"])
    common.require(cfg["lr"] > 0, f"--lr={cfg['lr']} must be positive")
    common.require(0 <= cfg["gamma"] <= 1, f"--gamma={cfg['gamma']} must be in [0, 1]")
    common.require(0 < cfg["tau"] <= 1, f"--tau={cfg['tau']} must be in (0, 1]")
    for name in ("expl_noise", "policy_noise", "noise_clip"):
        common.require(cfg[name] >= 0, f"--{name}={cfg[name]} must not be negative")
    common.require(cfg["start_steps"] is None or cfg["start_steps"] >= 0,
                   f"--start_steps={cfg['start_steps']} must not be negative")
    common.require_choice("backend", cfg["backend"], envs.BACKENDS)
    cfg["capacity"] = min(cfg["capacity"], cfg["steps"])
    common.require(cfg["batch_size"] <= cfg["capacity"],
                   f"--batch_size={cfg['batch_size']} is larger than the replay "
                   f"({cfg['capacity']} transitions per task); lower it or raise --steps")
    cfg["run_dir"] = FLAGS.run_dir or common.default_run_dir(
        "teachers", f"{cfg['benchmark']}-seed{cfg['seed']}")
    return stages.TeachersRun(**cfg, video=FLAGS.video)


def main(_):
    run = resolve_config()
    runs.check_run_dir(run.run_dir)
    stages.train_teachers(run)


if __name__ == "__main__":
    common.run(main)
