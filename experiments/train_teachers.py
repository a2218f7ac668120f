"""Train the TD3 teachers of a benchmark (one per task), all in one jitted program.

    python -m experiments.train_teachers --benchmark=mini
    python -m experiments.train_teachers --benchmark=mini --tasks=InvertedPendulum --steps=30000

Writes to --run_dir: config.json, metrics.csv (periodic 3-episode evaluations),
summary.json (final 10-episode evaluation), results.md, and teachers/<Task>/ with each
teacher's orbax checkpoint and its replay buffer (D_k for the offline stage).
"""
import os
import time

from absl import flags

from experiments import common

FLAGS = flags.FLAGS
flags.DEFINE_string("benchmark", "mini", "Benchmark: A, B or mini.")
flags.DEFINE_string("tasks", "", "Comma-separated subset of the benchmark's tasks (default all).")
flags.DEFINE_integer("steps", None, "Env steps per task (default: 1000000 for A/B, "
                     "200000 at --scale=cpu, 100000 for mini).")
flags.DEFINE_integer("seed", 0, "Random seed.")
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
flags.DEFINE_integer("episode_length", 1000, "Steps per episode.")

DEFAULTS = {
    "A": dict(steps=1_000_000, hidden="400,400", lr=3e-4, eval_every=10_000),
    "B": dict(steps=1_000_000, hidden="400,400", lr=3e-4, eval_every=10_000),
    "mini": dict(steps=100_000, hidden="256,256", lr=1e-3, eval_every=5_000),
}
# A and B at --scale=cpu: the eight A teachers train together in about 1.5 hours of a
# 2-core CPU (docs/teachers.md).
CPU_SCALE = dict(steps=200_000, hidden="256,256", lr=1e-3, eval_every=10_000)


def resolve_config() -> dict:
    from ktmjax import envs
    common.check_benchmark(FLAGS.benchmark)
    scale = common.resolve_scale(FLAGS.benchmark, FLAGS.scale)
    defaults = common.scaled_defaults(DEFAULTS, CPU_SCALE, FLAGS.benchmark, scale)
    cfg = {
        "benchmark": FLAGS.benchmark, "tasks": common.resolve_tasks(FLAGS.benchmark, FLAGS.tasks),
        "steps": FLAGS.steps if FLAGS.steps is not None else defaults["steps"],
        "seed": FLAGS.seed, "backend": FLAGS.backend, "tensorboard": FLAGS.tensorboard,
        "hidden": list(common.parse_int_list(FLAGS.hidden or defaults["hidden"], "hidden")),
        "lr": FLAGS.lr if FLAGS.lr is not None else defaults["lr"], "batch_size": FLAGS.batch_size, "gamma": FLAGS.gamma,
        "tau": FLAGS.tau, "expl_noise": FLAGS.expl_noise, "policy_noise": FLAGS.policy_noise,
        "noise_clip": FLAGS.noise_clip, "policy_delay": FLAGS.policy_delay,
        "start_steps": FLAGS.start_steps, "capacity": FLAGS.capacity,
        "eval_every": FLAGS.eval_every or defaults["eval_every"],
        "eval_episodes": FLAGS.eval_episodes, "final_episodes": FLAGS.final_episodes,
        "episode_length": FLAGS.episode_length,
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
    cfg["run_dir"] = FLAGS.run_dir or os.path.join(
        "runs", "teachers", f"{cfg['benchmark']}-seed{cfg['seed']}-{time.strftime('%Y%m%d-%H%M%S')}")
    return cfg


def main(_):
    cfg = resolve_config()
    from ktmjax import runs
    runs.check_run_dir(cfg["run_dir"])
    train(cfg)


def td3_config(cfg: dict):
    """The teachers' TD3 hyper-parameters from a run's settings (its config.json)."""
    from ktmjax import td3
    return td3.TD3Config(
        hidden=tuple(cfg["hidden"]), learning_rate=cfg["lr"], batch_size=cfg["batch_size"],
        gamma=cfg["gamma"], tau=cfg["tau"], exploration_noise=cfg["expl_noise"],
        policy_noise=cfg["policy_noise"], noise_clip=cfg["noise_clip"],
        policy_delay=cfg["policy_delay"])


def train(cfg: dict) -> dict:
    import jax
    import numpy as np
    from ktmjax import checkpoint, envs, evaluation, loops, runs, sharding, teachers

    run_dir = cfg["run_dir"]
    tasks = envs.benchmark_tasks(cfg["benchmark"], cfg["tasks"])
    trainer = teachers.TeacherTrainer(tasks, td3_config(cfg), cfg["capacity"], cfg["backend"],
                                      cfg["start_steps"], cfg["episode_length"])
    info = runs.environment_info()
    runs.claim_run(run_dir, cfg, info)
    print(f"[train_teachers] benchmark {cfg['benchmark']}: {len(tasks)} task(s) in "
          f"{len(trainer.env.groups)} group(s): "
          + "; ".join(",".join(t.name for t in g.tasks) for g in trainer.env.groups), flush=True)
    print(f"[train_teachers] {cfg['steps']} env steps per task{common.scale_note(cfg)}, "
          f"nets {cfg['hidden']}, lr {cfg['lr']:g}, "
          f"replay {cfg['capacity']} per task = {trainer.replay_bytes() / 2**20:.1f} MiB, "
          f"device {info['device']} ({info['platform']})"
          f"{sharding.describe([g.size for g in trainer.env.groups])}, run dir {run_dir}",
          flush=True)

    state = trainer.init(jax.random.PRNGKey(cfg["seed"]))
    eval_key = jax.random.PRNGKey(cfg["seed"] + 100)  # the public code seeds eval envs seed+100
    periodic, final = evaluation.make_evaluators(trainer.env, trainer.policy_apply,
                                                 cfg["eval_episodes"], cfg["final_episodes"])
    start = time.time()
    warned = set()

    def epoch(s, n):   # the epoch, then a warning for each actor newly stuck at a bound
        s, losses = trainer.epoch(s, n)
        for name in sorted(set(trainer.actors_at_bound(s)) - warned):
            print(f"[train_teachers] warning: {name}: {teachers.AT_BOUND_NOTE}", flush=True)
            warned.add(name)
        return s, losses

    state = loops.run_epochs(
        state, total=cfg["steps"], epoch_size=cfg["eval_every"], epoch=epoch,
        evaluate=lambda s, i: periodic(trainer.actor_params(s), jax.random.fold_in(eval_key, i)),
        tasks=tasks, log=runs.MetricsLog(run_dir, cfg["tensorboard"]),
        stage="teachers", prefix="train_teachers",
        checkpoints=checkpoint.RunCheckpoints(run_dir),
        checkpoint_every=cfg["checkpoint_every"], params=lambda s: [g.learner for g in s.groups],
        unit="step", rate_unit="env steps", per_unit_work=len(tasks))
    done_steps = cfg["steps"]

    returns = np.asarray(final(trainer.actor_params(state), jax.random.fold_in(eval_key, 0)))
    if FLAGS.video:
        common.write_videos(trainer.env, trainer.policy_apply, trainer.actor_params(state),
                            cfg["seed"], run_dir, "train_teachers")
    summary_tasks = evaluation.summarize(tasks, returns)
    at_bound = trainer.actors_at_bound(state)
    teachers.save_teachers(run_dir, trainer, state, summary_tasks, at_bound)
    summary = {"benchmark": cfg["benchmark"], "stage": "teachers", "seed": cfg["seed"],
               "wall_s": round(time.time() - start, 1), "env_steps": done_steps,
               "tasks": summary_tasks}
    runs.write_results(run_dir, summary,
                       f"TD3 teachers, benchmark {cfg['benchmark']}, seed {cfg['seed']}, "
                       f"{done_steps} env steps per task, {cfg['final_episodes']} "
                       "deterministic episodes each")
    print(f"teachers saved in {os.path.join(run_dir, 'teachers')}", flush=True)
    for name in at_bound:
        print(f"warning: the {name} teacher is not usable: {teachers.AT_BOUND_NOTE}", flush=True)
    return summary


if __name__ == "__main__":
    common.run(main)
