"""Online learning guided by the teachers (KTM-DRL Eq. 3-5).

    python -m experiments.online --benchmark=mini --alpha=1 --beta=1 --from=OFFLINE_RUN_DIR
    python -m experiments.online --benchmark=mini --alpha=1 --beta=1      # w/o Offline

Every round all K envs step once with the student's action plus N(0, 0.1^2) noise; the
transitions go to each task's online shard D'_k; then (after the warm-up) the student's
twin critic makes a TD3 step (Eq. 3-4, target actions masked by g^k) and every
--policy_delay rounds its actor ascends alpha * teacher Q1 + beta * own Q1 (Eq. 5),
followed by soft target updates. Without --from the student starts from scratch (the
paper's "w/o Offline" ablation).
"""

from absl import flags

from experiments import common
from ktmjax import envs, runs, stages, student, teacher_store
from ktmjax.stages import config, output
from ktmjax.stages import seeds as seed_axis

FLAGS = flags.FLAGS
flags.DEFINE_string("benchmark", "mini", "Benchmark: A, B, mini or dmc.")
flags.DEFINE_float("alpha", 1.0, "Eq. 5 weight of the teacher's Q1 (0: online without teacher).")
flags.DEFINE_float("beta", 1.0, "Eq. 5 weight of the student's own Q1 (0: only the teacher).")
flags.DEFINE_string("from", None, "An offline_transfer run directory to start from "
                    "(default: a fresh student, the paper's 'w/o Offline').")
flags.DEFINE_string("teachers", None, "A train_teachers run directory (default: the one the "
                    "--from run used, else the latest for the benchmark).")
flags.DEFINE_integer("rounds", None, "Online rounds (default 500000 for A/B, 50000 at "
                     "--scale=cpu, 10000 for mini).")
common.define_scale_flag()
common.define_preset_flag()
common.define_tensorboard_flag()
common.define_video_flag()
common.define_process_flags()
flags.DEFINE_integer("seed", 0, "Random seed.")
common.define_seeds_flag()
flags.DEFINE_string("run_dir", None, "Output directory, used exactly as given "
                    "(default runs/online/<benchmark>-seed<seed>-<time>).")
flags.DEFINE_string("update", "vmap", "vmap or sequential (see offline_transfer --help).")
flags.DEFINE_string("target_noise", "gaussian", "gaussian: N(0, 0.2^2) clipped at 0.5 (paper); "
                    "uniform: U[0, 0.1) (the public code).")
flags.DEFINE_bool("fresh_optimizers", True, "Start the online stage with new Adam states.")
flags.DEFINE_bool("empty_buffers", True, "Start the online shards D'_k empty (the public code); "
                  "--noempty_buffers starts them with the newest transitions of the teachers' "
                  "replays D_k.")
flags.DEFINE_integer("warmup", None, "Rounds acting with the student before updates start "
                     "(default 10000; --scale=cpu 5000; mini 1000).")
common.define_student_flags(teacher_critic_default=None)
flags.DEFINE_float("actor_match", None, "Not in the paper: weight of a term added to Eq. 5's "
                   "teacher term (so also times --alpha) that pulls the student's action "
                   "f^k(pi(ŝ)) towards the teacher actor's pi^k(s) on D'_k's states (squared "
                   "distance), as offline_transfer --actor_match does for Eq. 2 "
                   "(docs/results.md). Default: the --preset's (paper: 0, the paper's Eq. 5; "
                   "robust: 1000).")
flags.DEFINE_integer("capacity", 1_000_000, "Online replay capacity per task (capped at what the run "
                     "fills: --rounds, plus the teachers' replays with --noempty_buffers).")
flags.DEFINE_string("hidden", None, "Student widths for a fresh student (default 400,400; "
                    "mini and --scale=cpu 256,256); with --from the offline run's widths are "
                    "used.")
flags.DEFINE_float("lr", 3e-4, "Adam learning rate.")
flags.DEFINE_integer("batch_size", 256, "Batch per task per round.")
flags.DEFINE_integer("policy_delay", 2, "Critic updates per actor update.")
flags.DEFINE_integer("eval_every", None, "Rounds between evaluations (default 10000; "
                     "--scale=cpu 5000; mini 1000).")
common.define_checkpoint_flag("round")
flags.DEFINE_integer("eval_episodes", 3, "Episodes per periodic evaluation.")
flags.DEFINE_integer("final_episodes", 10, "Episodes of the final evaluation.")
flags.DEFINE_string("backend", "mjx", "Physics backend.")

def resolve_config() -> stages.OnlineRun:
    common.check_benchmark(FLAGS.benchmark)
    common.require(FLAGS.alpha >= 0 and FLAGS.beta >= 0,
                   f"--alpha={FLAGS.alpha} and --beta={FLAGS.beta} must not be negative")
    common.require_choice("update", FLAGS.update, student.UPDATE_MODES)
    common.require_choice("target_noise", FLAGS.target_noise, student.TARGET_NOISE_MODES)
    tasks = tuple(common.resolve_tasks(FLAGS.benchmark, FLAGS.tasks))
    start_from = getattr(FLAGS, "from")
    offline_cfg = None
    seeds = common.require_seeds(FLAGS.seeds)
    if start_from:
        starts = seed_axis.student_dirs(start_from)
        common.require(len(starts) in (1, seeds),
                       f"--from={start_from} holds {len(starts)} seeds and --seeds={seeds}; "
                       f"give --seeds={len(starts)}, or one of its seed directories")
        offline_cfg = common.read_from_run(starts[0], ("offline",))
        common.require(offline_cfg.get("benchmark") == FLAGS.benchmark,
                       f"--from={start_from} is a run of benchmark "
                       f"{offline_cfg.get('benchmark')}, not {FLAGS.benchmark}")
        common.require(not FLAGS.tasks or tasks == offline_cfg["tasks"],
                       f"--tasks={FLAGS.tasks} differs from the tasks of the --from run "
                       f"({','.join(offline_cfg['tasks'])}); drop --tasks or pick that run's")
        tasks = tuple(offline_cfg["tasks"])
    # The scale: the flag, else the --from run's, else the device's.
    scale = common.resolve_scale(FLAGS.benchmark,
                                 FLAGS.scale or (offline_cfg or {}).get("scale"))
    defaults = config.scaled_defaults(config.ONLINE_DEFAULTS, config.ONLINE_CPU_SCALE,
                                      FLAGS.benchmark, scale)
    hidden = (tuple(offline_cfg["hidden"]) if offline_cfg else
              common.parse_int_list(FLAGS.hidden, "hidden") if FLAGS.hidden
              else defaults["hidden"])
    cfg = {
        "benchmark": FLAGS.benchmark, "tasks": tasks, "alpha": FLAGS.alpha, "beta": FLAGS.beta,
        "from_run": start_from, "seed": FLAGS.seed, "seeds": seeds,
        "rounds": FLAGS.rounds if FLAGS.rounds is not None else defaults["rounds"],
        "update": FLAGS.update, "target_noise": FLAGS.target_noise,
        "fresh_optimizers": FLAGS.fresh_optimizers, "empty_buffers": FLAGS.empty_buffers,
        "her": FLAGS.her,
        "warmup": FLAGS.warmup if FLAGS.warmup is not None else defaults["warmup"],
        "capacity": FLAGS.capacity, "hidden": hidden, "lr": FLAGS.lr,
        "batch_size": FLAGS.batch_size, "policy_delay": FLAGS.policy_delay,
        "eval_every": FLAGS.eval_every if FLAGS.eval_every is not None else defaults["eval_every"],
        "eval_episodes": FLAGS.eval_episodes, "final_episodes": FLAGS.final_episodes,
        "backend": FLAGS.backend, "tensorboard": FLAGS.tensorboard,
        "teacher_critic": (FLAGS.teacher_critic or (offline_cfg or {}).get("teacher_critic")
                           or "target"),
    }
    if scale:
        cfg["scale"] = scale
    cfg["preset"] = common.resolve_preset(FLAGS.benchmark, FLAGS.preset, offline_cfg)
    terms = config.PRESETS[cfg["preset"]]
    common.resolve_optional_term(cfg, "actor_match", FLAGS.actor_match, terms["actor_match"])
    common.resolve_task_id(cfg, FLAGS.task_id, terms["task_id"], offline_cfg)
    for name in ("rounds", "capacity", "batch_size", "policy_delay", "eval_every",
                 "eval_episodes", "final_episodes"):
        common.require(cfg[name] > 0, f"--{name}={cfg[name]} must be positive")
    cfg["checkpoint_every"] = common.resolve_checkpoint_every(
        FLAGS.checkpoint_every, cfg["eval_every"], cfg["benchmark"])
    common.require(cfg["batch_size"] <= cfg["capacity"],
                   f"--batch_size={cfg['batch_size']} is larger than the online replay "
                   f"(--capacity={cfg['capacity']}); lower it")
    common.require(cfg["warmup"] >= 0, f"--warmup={cfg['warmup']} must not be negative")
    common.require(cfg["lr"] > 0, f"--lr={cfg['lr']} must be positive")
    common.check_teacher_critic(cfg["teacher_critic"])
    # Teachers last: every flag is checked before the disk is searched.
    cfg["teachers"] = (FLAGS.teachers or (offline_cfg or {}).get("teachers")
                       or teacher_store.locate_teachers(FLAGS.benchmark, tasks, scale))
    common.require(cfg["teachers"] is not None,
                   teacher_store.no_teachers(FLAGS.benchmark, tasks, cfg.get("scale")))
    cfg["run_dir"] = FLAGS.run_dir or runs.default_run_dir(
        "online", f"{cfg['benchmark']}-seed{cfg['seed']}")
    return stages.OnlineRun(**cfg, video=FLAGS.video)


def main(_):
    run = resolve_config()
    has_replay = teacher_store.has_replay(run.teachers, envs.benchmark_tasks(run.benchmark, run.tasks))
    common.require(run.empty_buffers or has_replay,
                   f"--noempty_buffers fills D'_k from the teachers' training replays, and the "
                   f"teachers in {run.teachers} come without them; drop the flag or pass "
                   "the teachers of a train_teachers run")
    runs.check_run_dir(run.run_dir)
    output.warn_teachers_at_bound(run.teachers, run.benchmark, run.tasks, "online")
    stages.online(run)


if __name__ == "__main__":
    common.run(main)
