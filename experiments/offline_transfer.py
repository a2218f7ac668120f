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
import os
import subprocess
import sys
import time

from absl import flags

from experiments import common

FLAGS = flags.FLAGS
flags.DEFINE_string("benchmark", "mini", "Benchmark: A, B or mini.")
flags.DEFINE_string("teachers", None, "A train_teachers run directory (default: the latest "
                    "finished one for the benchmark under runs/teachers/).")
flags.DEFINE_integer("rounds", None, "Offline rounds (default 500000 for A/B, 40000 at "
                     "--scale=cpu, 10000 for mini).")
flags.DEFINE_integer("seed", 0, "Random seed.")
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

# Std of the noise on the teacher's action in its rollouts: beside a replay, and alone
# (with 0.1 alone, the mini student lost InvertedPendulumBigPole; docs/results.md).
ROLLOUT_NOISE, ROLLOUT_NOISE_ALONE = 0.1, 0.3
# A and B at --scale=cpu: about 30 minutes of a 2-core CPU for Benchmark A.
CPU_SCALE = dict(rounds=40_000, hidden="256,256", eval_every=5_000, rollout_steps=50_000,
                 lr=1e-3)
DEFAULTS = {
    "A": dict(rounds=500_000, hidden="400,400", eval_every=10_000, data="replay",
              rollout_steps=100_000, lr=3e-4),
    "B": dict(rounds=500_000, hidden="400,400", eval_every=10_000, data="replay",
              rollout_steps=100_000, lr=3e-4),
    "mini": dict(rounds=10_000, hidden="256,256", eval_every=2_000, data="both",
                 rollout_steps=60_000, lr=1e-3),
}


def resolve_config() -> dict:
    from ktmjax import envs, student, teachers
    common.check_benchmark(FLAGS.benchmark)
    common.require_choice("update", FLAGS.update, student.UPDATE_MODES)
    scale = common.resolve_scale(FLAGS.benchmark, FLAGS.scale)
    defaults = common.scaled_defaults(DEFAULTS, CPU_SCALE, FLAGS.benchmark, scale)
    cfg = {
        "benchmark": FLAGS.benchmark,
        "tasks": common.resolve_tasks(FLAGS.benchmark, FLAGS.tasks),
        "teachers": FLAGS.teachers, "seed": FLAGS.seed, "update": FLAGS.update,
        "rounds": FLAGS.rounds if FLAGS.rounds is not None else defaults["rounds"],
        "hidden": list(common.parse_int_list(FLAGS.hidden or defaults["hidden"], "hidden")),
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
    terms = common.PRESETS[cfg["preset"]]
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
        common.require_choice("data", FLAGS.data, teachers.DATA_SOURCES)
    if FLAGS.critic_grad is not None:
        common.require_term_weight("critic_grad", FLAGS.critic_grad)
        check_critic_grad_data(FLAGS.critic_grad, FLAGS.data)   # the flags alone, before the
                                                               # teachers are looked for
    common.require_choice("backend", cfg["backend"], envs.BACKENDS)
    cfg["run_dir"] = FLAGS.run_dir or os.path.join(
        "runs", "offline", f"{cfg['benchmark']}-seed{cfg['seed']}-{time.strftime('%Y%m%d-%H%M%S')}")
    return cfg


def check_critic_grad_data(critic_grad, data) -> None:
    common.require(not critic_grad or data != "replay",
                   f"--critic_grad={critic_grad:g} matches slopes on the teachers' rollout "
                   "states; use it with --data=both or --data=rollouts")


def resolve_data(cfg: dict, teachers_have_replay: bool) -> None:
    """--data and --critic_grad, once it is known whether the teachers come with their
    training replay (exported and shipped teachers do not: D_k is then their rollouts)."""
    data = FLAGS.data or (DEFAULTS[cfg["benchmark"]]["data"] if teachers_have_replay
                          else "rollouts")
    common.require(teachers_have_replay or data == "rollouts",
                   f"--data={data} needs the teachers' training replay, and the teachers in "
                   f"{cfg['teachers']} come without one; use --data=rollouts or the teachers "
                   "of a train_teachers run")
    critic_grad = FLAGS.critic_grad
    if critic_grad is None:   # the slope term needs rollout states: off on replay alone
        critic_grad = (common.PRESETS[cfg["preset"]]["critic_grad"] if data != "replay"
                       else 0.0)
    check_critic_grad_data(critic_grad, data)
    cfg["data"], cfg["critic_grad"] = data, critic_grad
    noise = FLAGS.rollout_noise
    if noise is None:   # alone, the rollouts must also show the critics other actions
        noise = ROLLOUT_NOISE_ALONE if data == "rollouts" else ROLLOUT_NOISE
    if noise != ROLLOUT_NOISE:   # stored when not the first default: older runs resume
        cfg["rollout_noise"] = noise
    if critic_grad:   # the slope term's states are the rollouts' (D_k's batch in older
        cfg["critic_grad_states"] = "rollouts"   # runs, which are not resumed)


def train_mini_teachers(cfg: dict) -> str:
    """Trains the mini teachers of the run's tasks in a train_teachers subprocess."""
    print("[offline_transfer] no mini teachers under runs/teachers/ nor shipped for these "
          "tasks: training them first (15 to 25 minutes on a 2-core CPU)", flush=True)
    run_dir = os.path.join("runs", "teachers",
                           f"mini-seed{cfg['seed']}-{time.strftime('%Y%m%d-%H%M%S')}")
    proc = subprocess.run([sys.executable, "-m", "experiments.train_teachers", "--benchmark=mini",
                           f"--tasks={','.join(cfg['tasks'])}", f"--seed={cfg['seed']}",
                           f"--run_dir={run_dir}"])
    if proc.returncode != 0:
        raise common.UsageError(f"training the mini teachers into {run_dir} failed "
                                f"(exit {proc.returncode})")
    return run_dir


def main(_):
    cfg = resolve_config()
    from ktmjax import envs, runs, teachers
    tasks = envs.benchmark_tasks(cfg["benchmark"], cfg["tasks"])
    given = cfg["teachers"]
    if not given:
        cfg["teachers"] = teachers.locate_teachers(cfg["benchmark"], cfg["tasks"],
                                                   cfg.get("scale"))
        if cfg["teachers"]:
            print(f"[offline_transfer] teachers: {cfg['teachers']}", flush=True)
    common.require(cfg["teachers"] or cfg["benchmark"] == "mini",
                   f"no trained teachers of benchmark {cfg['benchmark']} under runs/teachers/ "
                   f"and none shipped{common.shipped_note(cfg.get('scale'))}; train them with `python -m "
                   f"experiments.train_teachers --benchmark={cfg['benchmark']}` or pass "
                   "--teachers=DIR")
    # Check the teachers before anything is written.
    resolve_data(cfg, teachers.has_replay(cfg["teachers"], tasks) if cfg["teachers"] else True)
    runs.check_run_dir(cfg["run_dir"])
    # A started run with other flags is refused before any teachers are trained.
    runs.check_settings(cfg["run_dir"], cfg, ignore=() if given else ("teachers",))
    cfg["teachers"] = cfg["teachers"] or train_mini_teachers(cfg)
    common.warn_teachers_at_bound(cfg, "offline_transfer")
    transfer(cfg)


def transfer(cfg: dict) -> dict:
    import jax
    import numpy as np
    from ktmjax import checkpoint, envs, evaluation, loops, runs, sharding, student, td3, teachers

    run_dir = cfg["run_dir"]
    tasks = envs.benchmark_tasks(cfg["benchmark"], cfg["tasks"])
    env = envs.MultiTaskEnv(tasks, cfg["backend"])
    teacher_groups, teacher_configs, teacher_returns = teachers.load_teachers(
        cfg["teachers"], env.groups, cfg["teacher_critic"])
    if cfg["data"] != "replay":
        print(f"[offline_transfer] D_k: {cfg['rollout_steps']} teacher rollout steps per task"
              + (" added to the teachers' replays" if cfg["data"] == "both" else ""), flush=True)
    teacher_groups = teachers.offline_data(
        env, teacher_groups, teacher_configs, cfg["data"], cfg["rollout_steps"],
        jax.random.PRNGKey(cfg["seed"] + 1), cfg.get("rollout_noise", ROLLOUT_NOISE),
        keep_rollouts=bool(cfg["critic_grad"]))
    smallest = min(int(t.data.size.min()) for t in teacher_groups)
    if smallest < cfg["batch_size"]:
        raise common.UsageError(f"--batch_size={cfg['batch_size']} is larger than the smallest "
                                f"D_k ({smallest} transitions); lower it")
    net = td3.TD3Config(hidden=tuple(cfg["hidden"]), learning_rate=cfg["lr"],
                        batch_size=cfg["batch_size"])
    learner = student.Student(env, teacher_configs, student.StudentConfig(
        net=net, update=cfg["update"], offline_actor_delay=cfg["offline_actor_delay"],
        her=cfg["her"], critic_grad_weight=cfg["critic_grad"],
        actor_match_weight=cfg.get("actor_match", 0.0), task_id=cfg.get("task_id", False)))
    info = runs.environment_info()
    runs.claim_run(run_dir, cfg, info)
    lay = learner.layout
    print(f"[offline_transfer] benchmark {cfg['benchmark']}: {len(tasks)} tasks, padded to "
          f"{lay.obs_max} obs{' + a task id' if lay.task_id else ''} / {lay.action_max} "
          f"actions; teachers from {cfg['teachers']} "
          f"({cfg['teacher_critic']} critics); "
          f"{cfg['rounds']} rounds{common.scale_note(cfg)}, preset {cfg['preset']}, "
          f"update={cfg['update']}{'' if cfg['her'] else ', w/o HER'}, "
          f"student nets {cfg['hidden']}, lr {cfg['lr']:g}"
          + common.optional_term_note(cfg, "critic_grad", "Eq. 1")
          + common.optional_term_note(cfg, "actor_match", "Eq. 2") + ", "
          f"device {info['device']}{sharding.describe([g.size for g in env.groups])}; "
          f"run dir {run_dir}", flush=True)

    state = learner.init(jax.random.PRNGKey(cfg["seed"]))
    teacher_groups = learner.place_teachers(teacher_groups)
    epoch = jax.jit(learner.offline_epoch, static_argnums=2, donate_argnums=0)
    eval_key = jax.random.PRNGKey(cfg["seed"] + 100)
    periodic, final = evaluation.make_evaluators(env, learner.policy_apply, cfg["eval_episodes"],
                                                 cfg["final_episodes"])
    start = time.time()
    state = loops.run_epochs(
        state, total=cfg["rounds"], epoch_size=cfg["eval_every"],
        epoch=lambda s, n: epoch(sharding.replicate(s), teacher_groups, n),
        evaluate=lambda s, i: periodic(learner.eval_params(s), jax.random.fold_in(eval_key, i)),
        tasks=tasks, log=runs.MetricsLog(run_dir, cfg["tensorboard"]),
        stage="offline",
        prefix="offline_transfer", checkpoints=checkpoint.RunCheckpoints(run_dir),
        checkpoint_every=cfg["checkpoint_every"], params=lambda s: s)
    state = learner.finish_offline(state)

    returns = np.asarray(final(learner.eval_params(state), jax.random.fold_in(eval_key, 0)))
    if FLAGS.video:
        common.write_videos(env, learner.policy_apply, learner.eval_params(state), cfg["seed"],
                            run_dir, "offline_transfer")
    checkpoint.save(os.path.join(run_dir, "student", "state"), state)
    summary = {"benchmark": cfg["benchmark"], "stage": "offline", "seed": cfg["seed"],
               "wall_s": round(time.time() - start, 1), "rounds": cfg["rounds"],
               "update": cfg["update"], "teachers": cfg["teachers"],
               "tasks": evaluation.summarize(tasks, returns, teacher_returns)}
    runs.write_results(run_dir, summary,
                       f"KTM-DRL offline transfer, benchmark {cfg['benchmark']}, seed "
                       f"{cfg['seed']}, {cfg['rounds']} rounds, update={cfg['update']}, "
                       f"{cfg['final_episodes']} deterministic episodes per task")
    print(f"student saved in {os.path.join(run_dir, 'student')}", flush=True)
    return summary


if __name__ == "__main__":
    common.run(main)
