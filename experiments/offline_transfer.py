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
from ktmjax import envs, runs, stages, student, teacher_data, teacher_store
from ktmjax.stages import config, output

FLAGS = flags.FLAGS
flags.DEFINE_string("benchmark", "mini", "Benchmark: A, B, mini or dmc.")
flags.DEFINE_string("teachers", None, "A train_teachers run directory (default: the latest "
                    "finished one for the benchmark under runs/teachers/).")
flags.DEFINE_integer("rounds", None, "Offline rounds (default 500000 for A/B, 40000 at "
                     "--scale=cpu, 10000 for mini).")
flags.DEFINE_integer("seed", 0, "Random seed.")
common.define_seeds_flag()
flags.DEFINE_string("run_dir", None, "Output directory, used exactly as given "
                    "(default runs/offline/<benchmark>-seed<seed>-<time>).")
flags.DEFINE_string("update", "vmap", "vmap: one optimiser step per round on the mean of the "
                    "K task losses; sequential: K steps per round, one per task (public code).")
flags.DEFINE_string("hidden", None, "Student hidden widths (default 400,400; mini and "
                    "--scale=cpu 256,256).")
flags.DEFINE_float("lr", None, "Adam learning rate of the student (default 3e-4, the "
                   "paper's; mini and --scale=cpu 1e-3).")
common.define_scale_flag()
common.define_preset_flag()
common.define_tensorboard_flag()
common.define_video_flag()
common.define_process_flags()
flags.DEFINE_integer("batch_size", 256, "Batch per task per round.")
flags.DEFINE_integer("offline_actor_delay", 1, "Rounds per actor update (public code: 1).")
flags.DEFINE_integer("eval_every", None, "Rounds between evaluations (default 10000; "
                     "--scale=cpu 5000; mini 2000).")
common.define_checkpoint_flag("round")
flags.DEFINE_integer("eval_episodes", 3, "Episodes per periodic evaluation.")
flags.DEFINE_integer("final_episodes", 10, "Episodes of the final evaluation.")
flags.DEFINE_string("backend", "mjx", "Physics backend of the evaluation envs.")
flags.DEFINE_string("data", None, "D_k: replay = each teacher's saved training replay (the "
                    "public code's source; default for A and B); rollouts = fresh teacher "
                    "rollouts with N(0, --rollout_noise^2) exploration noise (the default "
                    "with teachers that come without a replay, such as the shipped ones); "
                    "both = the two together (default for mini).")
flags.DEFINE_integer("rollout_steps", None, "Env steps per task of --data=rollouts|both "
                     "(default 100000; --scale=cpu 50000; mini 60000).")
flags.DEFINE_float("rollout_noise", None, "Std of the Gaussian noise on the teacher's "
                   "action in the rollouts of --data=rollouts|both, so that Eq. 1 and Eq. 2 "
                   "see actions around the teacher's own, as in a training replay (default: "
                   "0.3 with --data=rollouts, where the rollouts are all of D_k; 0.1 with "
                   "--data=both; docs/results.md).")
flags.DEFINE_float("critic_grad", None, "Not in the paper: weight of an action-gradient term "
                   "added to Eq. 1 (the student critic's dQ1/da regresses the teacher's at "
                   "the teacher's own action pi^k(s), on states of the teacher's rollouts, so "
                   "it needs --data=rollouts|both; see docs/results.md). Default: the --preset's "
                   "(paper: 0, the paper's Eq. 1; robust: 30), 0 with --data=replay.")
flags.DEFINE_float("actor_match", None, "Not in the paper: weight of a term added to Eq. 2 "
                   "that pulls the student's action f^k(pi(ŝ)) towards the teacher actor's "
                   "pi^k(s) on D_k's states (squared distance), for teachers whose critic's best "
                   "action is not their own (docs/results.md). Default: the --preset's (paper: "
                   "0, the paper's Eq. 2; robust: 1000).")
common.define_student_flags(teacher_critic_default="target")

def resolve_config() -> dict:
    """The run's settings from the flags, but for D_k's (`resolve_data`, once the teachers
    are known)."""
    common.check_benchmark(FLAGS.benchmark)
    common.require_choice("update", FLAGS.update, student.UPDATE_MODES)
    scale = common.resolve_scale(FLAGS.benchmark, FLAGS.scale)
    defaults = config.scaled_defaults(config.OFFLINE_DEFAULTS, config.OFFLINE_CPU_SCALE,
                                      FLAGS.benchmark, scale)
    cfg = {
        "benchmark": FLAGS.benchmark,
        "tasks": tuple(common.resolve_tasks(FLAGS.benchmark, FLAGS.tasks)),
        "teachers": FLAGS.teachers, "seed": FLAGS.seed,
        "seeds": common.require_seeds(FLAGS.seeds), "update": FLAGS.update,
        "rounds": FLAGS.rounds if FLAGS.rounds is not None else defaults["rounds"],
        "hidden": (common.parse_int_list(FLAGS.hidden, "hidden") if FLAGS.hidden
                   else defaults["hidden"]),
        "lr": FLAGS.lr if FLAGS.lr is not None else defaults["lr"],
        "batch_size": FLAGS.batch_size,
        "offline_actor_delay": FLAGS.offline_actor_delay,
        "eval_every": FLAGS.eval_every if FLAGS.eval_every is not None else defaults["eval_every"],
        "eval_episodes": FLAGS.eval_episodes, "final_episodes": FLAGS.final_episodes,
        "backend": FLAGS.backend, "tensorboard": FLAGS.tensorboard,
        "rollout_steps": (FLAGS.rollout_steps if FLAGS.rollout_steps is not None
                          else defaults["rollout_steps"]),
        "teacher_critic": FLAGS.teacher_critic, "her": FLAGS.her,
    }
    if scale:
        cfg["scale"] = scale
    cfg["preset"] = common.resolve_preset(FLAGS.benchmark, FLAGS.preset)
    terms = config.PRESETS[cfg["preset"]]
    common.resolve_optional_term(cfg, "actor_match", FLAGS.actor_match, terms["actor_match"])
    common.resolve_task_id(cfg, FLAGS.task_id, terms["task_id"])
    for name in ("rounds", "batch_size", "offline_actor_delay", "eval_every", "eval_episodes",
                 "final_episodes"):
        common.require(cfg[name] > 0, f"--{name}={cfg[name]} must be positive")
    cfg["checkpoint_every"] = common.resolve_checkpoint_every(
        FLAGS.checkpoint_every, cfg["eval_every"], cfg["benchmark"])
    common.require(cfg["lr"] > 0, f"--lr={cfg['lr']} must be positive")
    common.check_teacher_critic(cfg["teacher_critic"])
    common.require(cfg["rollout_steps"] >= cfg["batch_size"],
                   f"--rollout_steps={cfg['rollout_steps']} must be at least --batch_size")
    common.require(FLAGS.rollout_noise is None or FLAGS.rollout_noise >= 0,
                   f"--rollout_noise={FLAGS.rollout_noise} must not be negative")
    if FLAGS.data is not None:
        common.require_choice("data", FLAGS.data, teacher_data.DATA_SOURCES)
    if FLAGS.critic_grad is not None:
        common.require_term_weight("critic_grad", FLAGS.critic_grad)
        check_critic_grad_data(FLAGS.critic_grad, FLAGS.data)   # the flags alone, before the
                                                               # teachers are looked for
    common.require_choice("backend", cfg["backend"], envs.BACKENDS)
    cfg["run_dir"] = FLAGS.run_dir or common.default_run_dir(
        "offline", f"{cfg['benchmark']}-seed{cfg['seed']}")
    return cfg


def check_critic_grad_data(critic_grad, data) -> None:
    common.require(not critic_grad or data != "replay",
                   f"--critic_grad={critic_grad:g} matches slopes on the teachers' rollout "
                   "states; use it with --data=both or --data=rollouts")


def resolve_data(cfg: dict, teachers_have_replay: bool) -> None:
    """--data and --critic_grad, once it is known whether the teachers come with their
    training replay (exported and shipped teachers do not: D_k is then their rollouts)."""
    data = FLAGS.data or (config.OFFLINE_DEFAULTS[cfg["benchmark"]]["data"]
                          if teachers_have_replay else "rollouts")
    common.require(teachers_have_replay or data == "rollouts",
                   f"--data={data} needs the teachers' training replay, and the teachers in "
                   f"{cfg['teachers']} come without one; use --data=rollouts or the teachers "
                   "of a train_teachers run")
    critic_grad = FLAGS.critic_grad
    if critic_grad is None:   # the slope term needs rollout states: off on replay alone
        critic_grad = (config.PRESETS[cfg["preset"]]["critic_grad"] if data != "replay"
                       else 0.0)
    check_critic_grad_data(critic_grad, data)
    cfg["data"], cfg["critic_grad"] = data, critic_grad
    noise = FLAGS.rollout_noise
    if noise is None:   # alone, the rollouts must also show the critics other actions
        noise = config.ROLLOUT_NOISE_ALONE if data == "rollouts" else config.ROLLOUT_NOISE
    cfg["rollout_noise"] = noise
    if critic_grad:   # the slope term's states are the rollouts' (D_k's batch in older
        cfg["critic_grad_states"] = "rollouts"   # runs, which are not resumed)


def train_mini_teachers(cfg: dict) -> str:
    """Trains the mini teachers of the run's tasks (the defaults of train_teachers)."""
    print("[offline_transfer] no mini teachers under runs/teachers/ nor shipped for these "
          "tasks: training them first (15 to 25 minutes on a 2-core CPU)", flush=True)
    run_dir = common.default_run_dir("teachers", f"mini-seed{cfg['seed']}")
    stages.train_teachers(config.default_teachers_run("mini", cfg["tasks"], cfg["seed"], run_dir))
    return run_dir


def main(_):
    cfg = resolve_config()
    given = cfg["teachers"]
    if not given:
        cfg["teachers"] = teacher_store.locate_teachers(cfg["benchmark"], cfg["tasks"],
                                                   cfg.get("scale"))
        if cfg["teachers"]:
            print(f"[offline_transfer] teachers: {cfg['teachers']}", flush=True)
    common.require(cfg["teachers"] or cfg["benchmark"] == "mini",
                   common.no_teachers(cfg["benchmark"], cfg["tasks"], cfg.get("scale")))
    # Check the teachers before anything is written.
    tasks = envs.benchmark_tasks(cfg["benchmark"], cfg["tasks"])
    resolve_data(cfg, teacher_store.has_replay(cfg["teachers"], tasks) if cfg["teachers"] else True)
    run = stages.OfflineRun(**cfg, video=FLAGS.video)
    runs.check_run_dir(run.run_dir)
    # A started run with other flags is refused before any teachers are trained.
    runs.check_settings(run.run_dir, stages.settings(run), ignore=() if given else ("teachers",))
    if not run.teachers:
        run = dataclasses.replace(run, teachers=train_mini_teachers(cfg))
    output.warn_teachers_at_bound(run.teachers, run.benchmark, run.tasks, "offline_transfer")
    stages.offline_transfer(run)


if __name__ == "__main__":
    common.run(main)
