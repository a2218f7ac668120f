"""What each stage is run with: its settings as a frozen dataclass, the named variants
(presets) of the student, and the sizes of each benchmark at each scale.

A run's settings are written to its config.json (`settings`) and read back from it
(`from_settings`); a run started with other settings is not resumed (`ktmjax.runs`).
Fields marked `OMIT_AT_DEFAULT` are written only when they differ from their default, so
runs started before such a setting existed still resume.
"""
import dataclasses
from typing import Optional

import jax

from ktmjax import extensions
from ktmjax.envs import benchmark_tasks
from ktmjax.envs.multitask import default_episode_length
from ktmjax.errors import BadInput

OMIT_AT_DEFAULT = {"omit_at_default": True}
NOT_A_SETTING = {"not_a_setting": True}   # changes no result: never in config.json
NOT_A_FLAG = {"not_a_flag": True}         # set by the stage's resolver, never by a flag


def omitted_at(value) -> dict:
    """Metadata of a setting written to config.json only when it is not `value` (a field
    whose flag default, None, means "resolve it")."""
    return {"omit_at_default": True, "omit_at": value}


def optional(default=None):
    return dataclasses.field(default=default, metadata=OMIT_AT_DEFAULT)


def settings(run) -> dict:
    """The settings of `run` (a stage's dataclass) as config.json holds them: lists for
    sequences, `from_run` as "from", optional fields only when set."""
    out = {}
    for f in dataclasses.fields(run):
        value = getattr(run, f.name)
        if f.metadata.get("not_a_setting"):
            continue
        if f.metadata.get("omit_at_default") and value == f.metadata.get("omit_at", f.default):
            continue
        out[_json_key(f.name)] = list(value) if isinstance(value, tuple) else value
    return out


def growable(run) -> dict:
    """The settings a started run of `run` may grow, each with the period its started
    value must be a multiple of (`runs.check_settings`): the length of a teacher or
    world-model run, in whole evaluation periods. Nothing else in those stages depends on
    their length (no schedule), so a run continued to more steps is the run started with
    them; a student's warm-up and schedules do, so its length may not grow."""
    return {"steps": run.eval_every} if isinstance(run, (TeachersRun, WorldModelRun)) else {}


def from_settings(cls, saved: dict, **extra):
    """The `cls` dataclass of a config.json's settings (`settings`' inverse); `extra`
    fills fields that are not settings (such as `video`)."""
    names = {_json_key(f.name): f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(saved) - set(names) - {"environment"})
    if unknown:
        raise BadInput(f"settings {', '.join(unknown)} are not settings of a {cls.__name__}")
    values = {names[k]: tuple(v) if isinstance(v, list) else v
              for k, v in saved.items() if k in names}
    omitted = {f.name: f.metadata["omit_at"] for f in dataclasses.fields(cls)
               if "omit_at" in f.metadata and f.name not in values}
    return cls(**omitted, **values, **extra)


def _json_key(name: str) -> str:
    return "from" if name == "from_run" else name


# The student's variants. paper: KTM-DRL's equations and inputs alone (where the paper is
# silent, what its public code does, but for the teacher critic: `teacher_critic`).
# robust: the terms ktmjax adds, which made mini's student reach and keep its teachers
# (docs/results.md): the critic-slope term in Eq. 1 (with rollout states), the action
# matching term in Eq. 2 and Eq. 5, a task id in the student's state.
# A preset names what it turns on; every other term's weight is 0, the task id off.
# paper updates in the paper's order (K Adam steps per round, one per task; on Benchmark A
# its online stage ends higher than with vmap: docs/benchmark_a.md); robust keeps vmap.
PRESETS = {
    "paper": dict(update="sequential"),
    "robust": dict(critic_grad=30.0, actor_match=1000.0, task_id=True, update="vmap"),
}
DEFAULT_PRESET = {"A": "paper", "B": "paper", "mini": "robust", "dmc": "paper"}


def student_terms(preset: str, stage: str) -> dict:
    """The `StudentConfig` fields that `preset` sets in `stage` ("offline" or "online"):
    the weight of each of the stage's `extensions.TERMS` and the task id."""
    check_preset(preset)
    return {**{t.name: PRESETS[preset].get(t.name, 0.0) for t in extensions.stage_terms(stage)},
            "task_id": PRESETS[preset].get("task_id", False)}


def preset_update(preset: str) -> str:
    """The update (`student.UPDATE_MODES`) of `preset`: what --update defaults to."""
    check_preset(preset)
    return PRESETS[preset]["update"]


def check_preset(preset: str) -> None:
    """BadInput for a preset that is not one of PRESETS."""
    if preset not in PRESETS:
        raise BadInput(f"unknown --preset={preset}; known: {', '.join(PRESETS)}")


def resolve_preset(benchmark: str, given, from_cfg=None) -> str:
    """The preset of a run: `given` (the flag), else the --from run's (`from_cfg`), else
    the benchmark's default."""
    preset = given or (from_cfg or {}).get("preset") or DEFAULT_PRESET[benchmark]
    check_preset(preset)
    return preset


def _resolved_terms(run, terms: dict) -> dict:
    """Each of `terms` as `run` gives it, else the preset's value in `terms`."""
    return {name: value if getattr(run, name) is None else getattr(run, name)
            for name, value in terms.items()}

# Sizes of A and B: paper = the paper's networks, steps and rounds (a GPU/TPU job); cpu =
# smaller networks and budgets that a 2-core CPU carries in hours. mini has its own.
SCALES = ("cpu", "paper")


def default_scale() -> str:
    """The scale of A, B and dmc where none is given: paper on a GPU or TPU, cpu on a CPU."""
    return "paper" if jax.default_backend() in ("gpu", "tpu") else "cpu"


def scaled_defaults(defaults: dict, cpu_scale: dict, benchmark: str, scale) -> dict:
    """A stage's defaults for `benchmark`, with its cpu-scale values where scale is cpu."""
    return {**defaults[benchmark], **(cpu_scale if scale == "cpu" else {})}


def teacher_defaults(benchmark: str, scale) -> dict:
    """The teachers' defaults of `benchmark` at `scale` (dmc's cpu scale has its own steps)."""
    d = scaled_defaults(TEACHER_DEFAULTS, TEACHER_CPU_SCALE, benchmark, scale)
    if scale == "cpu" and benchmark in TEACHER_CPU_STEPS:
        d["steps"] = TEACHER_CPU_STEPS[benchmark]
    return d


# Rounds (or env steps) between checkpoints of A, B and dmc at least, by scale: at the cpu
# scale a student stage (40K-50K rounds) checkpoints several times before its end.
CHECKPOINT_AT_LEAST = {None: 50_000, "paper": 50_000, "cpu": 10_000}


def default_checkpoint_every(eval_every: int, benchmark: str, scale=None) -> int:
    """Every evaluation for mini; for the other benchmarks the first multiple of
    `eval_every` at least `CHECKPOINT_AT_LEAST[scale]` (the student stages give their
    scale; the teachers, whose replays are large, checkpoint at the paper's spacing)."""
    if benchmark == "mini":
        return eval_every
    return -(-CHECKPOINT_AT_LEAST[scale] // eval_every) * eval_every


# The help of the settings every stage shares (their flags show it).
SCALE_HELP = ("Sizes of A and B: paper = the paper's networks, steps and rounds (a GPU/TPU "
              "job); cpu = smaller networks and budgets that this benchmark's 2-core CPU "
              "carries in hours (docs/getting_started.md). Default: paper on a GPU or TPU, "
              "cpu on a CPU. mini has its own sizes.")
SEEDS_HELP = ("Independent runs in one jitted program: seeds --seed, --seed+1, ... on a "
              "leading axis under vmap, each writing RUN_DIR/seed<seed>/ as a run of its own; "
              "RUN_DIR/summary.json holds the mean, interquartile mean and 95% bootstrap "
              "intervals over seeds.")
VIDEO_HELP = ("At the end, write RUN_DIR/videos/<task>.gif: one deterministic episode of each "
              "task (its first 400 steps), rendered headless by MuJoCo (EGL unless MUJOCO_GL "
              "says otherwise).")
TASKS_HELP = ("Comma-separated subset of the benchmark's tasks the student learns (default "
              "all; the online stage: the --from run's).")
PRESET_HELP = ("The student's variant: paper (KTM-DRL's equations and inputs alone) or robust "
               "(plus --critic_grad=30, --actor_match=1000 and a task id: not in the paper). "
               "Each term stays a flag. Default: paper for A and B, robust for mini; online: "
               "the --from run's.")
HER_HELP = ("Hierarchical replay: every round trains every task; --noher is the paper's "
            "\"w/o HER\" ablation (one task per episode, then the next; online, all envs "
            "still step every round).")
TASK_ID_HELP = ("Not in the paper: append a one-hot of the task to the student's padded "
                "state, so tasks whose states look alike (mini's two single pendulums share "
                "theirs) can get different actions and values (docs/results.md). Default: the "
                "--preset's (paper: off, the padded state alone; robust: on). The online stage "
                "takes the --from run's.")
UPDATE_HELP = ("vmap: one optimiser step per round on the mean of the K task losses; "
               "sequential: K steps per round, one per task (the public code's order); "
               "pcgrad: one step on the K task gradients after gradient surgery (PCGrad; "
               "with --alpha=0 online, the G-Surgery baseline). Default: the --preset's ("
               + "; ".join(f"{name}: {p['update']}" for name, p in PRESETS.items()) + ").")
SHARED_NET_HELP = ("The SharedNet baseline's networks (D'Eramo et al., ICLR 2020): the first and "
                   "the last layer of the student's actor and critics per task, the hidden "
                   "layers shared; turns on --task_id (its one-hot picks the task's layers). "
                   "With --alpha=0 online and no --from: the paper's SharedNet baseline. The "
                   "online stage takes the --from run's.")
TEACHER_CRITIC_HELP = ("The teacher Q the student learns through: target = the teacher's "
                       "Polyak-averaged target critic (it agrees with the teacher's actor; see "
                       "docs/results.md), online = its last critic (the public code).")


def checkpoint_help(unit: str) -> str:
    return (f"{unit.capitalize()}s between full-state checkpoints, a multiple of --eval_every "
            f"(default: every evaluation for mini; for A, B and dmc every 50000 {unit}s"
            + (", 10000 at --scale=cpu" if unit == "round" else "")
            + "). A run also saves at its end and when stopped by SIGINT/SIGTERM.")


TENSORBOARD_HELP = ("Also write the evaluation returns and training losses of metrics.csv to "
                    "TensorBoard event files in RUN_DIR/tensorboard (`tensorboard "
                    "--logdir=RUN_DIR`).")


def about(default, help: str, **metadata):
    """A settings field with its default and the one-line help its command flag shows
    (`kind`: the flag's type where the default is None)."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


@dataclasses.dataclass(frozen=True)
class TeachersRun:
    """One TD3 teacher per task, trained together (`stages.train_teachers`). The command's
    flags are generated from these fields (`experiments.train_teachers`); fields left None
    take the benchmark's value at its scale (`resolve_teachers_run`)."""
    benchmark: str = about("mini", "Benchmark: A, B, mini or dmc.")
    tasks: tuple = about((), "Comma-separated subset of the benchmark's tasks (default all).")
    steps: Optional[int] = about(None, "Env steps per task (default: 1000000 for A/B, 500000 for "
                                 "dmc; 200000 at --scale=cpu, dmc 100000; mini 100000).",
                                 kind="int")
    seed: int = about(0, "Random seed.")
    hidden: Optional[tuple] = about(None, "Hidden layer widths (default 400,400; mini, dmc and "
                                    "--scale=cpu 256,256).", kind="tuple")
    lr: Optional[float] = about(None, "Adam learning rate, actor and critic (default 3e-4; "
                                "mini, dmc and --scale=cpu 1e-3, the original TD3 paper's "
                                "rate, which learns faster).", kind="float")
    eval_every: Optional[int] = about(None, "Steps between evaluations (one epoch; default "
                                      "10000, mini 5000).", kind="int")
    checkpoint_every: Optional[int] = about(None, checkpoint_help("step"), kind="int")
    run_dir: str = about("", "Output directory, used exactly as given (default "
                         "runs/teachers/<benchmark>-seed<seed>-<time>).")
    backend: str = about("mjx", "Physics backend: mjx, generalized, positional, spring.")
    tensorboard: bool = about(False, TENSORBOARD_HELP)
    batch_size: int = about(256, "Minibatch size per task.")
    gamma: float = about(0.99, "Discount.")
    tau: float = about(0.005, "Soft target update rate.")
    expl_noise: float = about(0.1, "Std of the Gaussian exploration noise.")
    policy_noise: float = about(0.2, "Std of the target policy smoothing noise.")
    noise_clip: float = about(0.5, "Clip of the target policy smoothing noise.")
    policy_delay: int = about(2, "Critic updates per actor update.")
    start_steps: Optional[int] = about(None, "Uniform-random start-up steps before learning "
                                       "(default per task: 1000 for pendulums, 10000 for "
                                       "locomotion).", kind="int")
    capacity: int = about(1_000_000, "Replay capacity per task (capped at --steps).")
    eval_episodes: int = about(3, "Episodes per periodic evaluation.")
    final_episodes: int = about(10, "Episodes of the final evaluation.")
    episode_length: Optional[int] = about(None, "Steps per episode (default 500 for dmc, "
                                          "MT30's protocol, else 1000).", kind="int")
    scale: Optional[str] = about(None, SCALE_HELP, **OMIT_AT_DEFAULT)
    seeds: int = about(1, SEEDS_HELP, **OMIT_AT_DEFAULT)
    video: bool = about(False, VIDEO_HELP, **NOT_A_SETTING)


TEACHER_DEFAULTS = {
    "A": dict(steps=1_000_000, hidden=(400, 400), lr=3e-4, eval_every=10_000),
    "B": dict(steps=1_000_000, hidden=(400, 400), lr=3e-4, eval_every=10_000),
    "mini": dict(steps=100_000, hidden=(256, 256), lr=1e-3, eval_every=5_000),
    "dmc": dict(steps=500_000, hidden=(256, 256), lr=1e-3, eval_every=10_000),
}
# The eight A teachers train together in under two hours of a 2-core CPU (docs/benchmark_a.md).
TEACHER_CPU_SCALE = dict(steps=200_000, hidden=(256, 256), lr=1e-3, eval_every=10_000)
# DM Control teachers at the cpu scale: TD-MPC2's single-task reference point, 100K steps.
TEACHER_CPU_STEPS = {"dmc": 100_000}


def resolve_teachers_run(run: TeachersRun) -> TeachersRun:
    """`run` with every field left None (but start_steps, per task) set to the benchmark's
    value at run.scale, no tasks meaning all of the benchmark's, and the replay capacity
    capped at the steps. BadInput without a run_dir."""
    if not run.run_dir:
        raise BadInput("a TeachersRun needs a run_dir: the directory its run is written to")
    d = teacher_defaults(run.benchmark, run.scale)
    d.update(checkpoint_every=default_checkpoint_every(
                 d["eval_every"] if run.eval_every is None else run.eval_every, run.benchmark),
             episode_length=default_episode_length(benchmark_tasks(run.benchmark)))
    run = dataclasses.replace(run, **{k: v for k, v in d.items() if getattr(run, k) is None})
    tasks = tuple(run.tasks) or tuple(t.name for t in benchmark_tasks(run.benchmark))
    return dataclasses.replace(run, tasks=tasks, hidden=tuple(run.hidden),
                               capacity=min(run.capacity, run.steps))


def default_teachers_run(benchmark: str, tasks, seed: int, run_dir: str,
                         scale=None) -> TeachersRun:
    """The teachers a student stage trains when it finds none: the benchmark's defaults."""
    return resolve_teachers_run(TeachersRun(benchmark=benchmark, tasks=tuple(tasks), seed=seed,
                                            run_dir=run_dir, scale=scale))


@dataclasses.dataclass(frozen=True)
class StudentRun:
    """The settings both student stages (offline_transfer, online) share, each spelled
    once; `OfflineRun` and `OnlineRun` add their own."""
    benchmark: str = about("mini", "Benchmark: A, B, mini or dmc.")
    tasks: tuple = about((), TASKS_HELP)
    seed: int = about(0, "Random seed.")
    preset: Optional[str] = about(None, PRESET_HELP, kind="str")
    checkpoint_every: Optional[int] = about(None, checkpoint_help("round"), kind="int")
    batch_size: int = about(256, "Batch per task per round.")
    eval_episodes: int = about(3, "Episodes per periodic evaluation.")
    final_episodes: int = about(10, "Episodes of the final evaluation.")
    tensorboard: bool = about(False, TENSORBOARD_HELP)
    her: bool = about(True, HER_HELP)
    scale: Optional[str] = about(None, SCALE_HELP, **OMIT_AT_DEFAULT)
    task_id: Optional[bool] = about(None, TASK_ID_HELP, kind="bool", **omitted_at(False))
    shared_net: Optional[bool] = about(None, SHARED_NET_HELP, kind="bool", **omitted_at(False))
    seeds: int = about(1, SEEDS_HELP, **OMIT_AT_DEFAULT)
    video: bool = about(False, VIDEO_HELP, **NOT_A_SETTING)


@dataclasses.dataclass(frozen=True)
class OfflineRun(StudentRun):
    """Offline knowledge transfer, Eq. 1-2 (`stages.offline_transfer`). The command's flags
    are generated from these fields (`experiments.offline_transfer`); fields left None take
    the benchmark's value at its scale, the preset's, or (D_k's) what the teachers allow
    (`resolve_offline_run`)."""
    teachers: Optional[str] = about(None, "A train_teachers run directory (default: the latest "
                                    "finished one for the benchmark under runs/teachers/, "
                                    "else the ones shipped for it).", kind="str")
    rounds: Optional[int] = about(None, "Offline rounds (default 500000 for A/B, 40000 at "
                                  "--scale=cpu, 10000 for mini).", kind="int")
    hidden: Optional[tuple] = about(None, "Student hidden widths (default 400,400; mini and "
                                    "--scale=cpu 256,256).", kind="tuple")
    lr: Optional[float] = about(None, "Adam learning rate of the student (default 3e-4, the "
                                "paper's; mini and --scale=cpu 1e-3).", kind="float")
    eval_every: Optional[int] = about(None, "Rounds between evaluations (default 10000; "
                                      "--scale=cpu 5000; mini 2000).", kind="int")
    rollout_steps: Optional[int] = about(None, "Env steps per task of --data=rollouts|both "
                                         "(default 100000; --scale=cpu 50000; mini 60000).",
                                         kind="int")
    data: Optional[str] = about(
        None, "D_k: replay = each teacher's saved training replay (the public code's source; "
        "default for A and B); rollouts = fresh teacher rollouts with N(0, --rollout_noise^2) "
        "exploration noise (the default with teachers that come without a replay, such as the "
        "shipped ones); both = the two together (default for mini).", kind="str")
    critic_grad: Optional[float] = about(
        None, "Not in the paper: weight of an action-gradient term added to Eq. 1 (the student "
        "critic's dQ1/da regresses the teacher's at the teacher's own action pi^k(s), on "
        "states of the teacher's rollouts, so it needs --data=rollouts|both; see "
        "docs/results.md). Default: the --preset's (paper: 0, the paper's Eq. 1; robust: 30), "
        "0 with --data=replay.", kind="float")
    run_dir: str = about("", "Output directory, used exactly as given (default "
                         "runs/offline/<benchmark>-seed<seed>-<time>).")
    update: Optional[str] = about(None, UPDATE_HELP, kind="str")
    offline_actor_delay: int = about(1, "Rounds per actor update (public code: 1).")
    backend: str = about("mjx", "Physics backend of the evaluation envs.")
    teacher_critic: str = about("target", TEACHER_CRITIC_HELP)
    actor_match: Optional[float] = about(
        None, "Not in the paper: weight of a term added to Eq. 2 that pulls the student's "
        "action f^k(pi(ŝ)) towards the teacher actor's pi^k(s) on D_k's states (squared "
        "distance), for teachers whose critic's best action is not their own "
        "(docs/results.md). Default: the --preset's (paper: 0, the paper's Eq. 2; robust: "
        "1000).", kind="float", **omitted_at(0.0))
    rollout_noise: Optional[float] = about(
        None, "Std of the Gaussian noise on the teacher's action in the rollouts of "
        "--data=rollouts|both, so that Eq. 1 and Eq. 2 see actions around the teacher's own, "
        "as in a training replay (default: 0.3 with --data=rollouts, where the rollouts are "
        "all of D_k; 0.1 with --data=both; docs/results.md).", kind="float", **omitted_at(0.1))
    # "rollouts" when critic_grad is on: the slope term's states (set by the resolver)
    critic_grad_states: Optional[str] = about(None, "", **OMIT_AT_DEFAULT, **NOT_A_FLAG)


OFFLINE_DEFAULTS = {
    "A": dict(rounds=500_000, hidden=(400, 400), eval_every=10_000, data="replay",
              rollout_steps=100_000, lr=3e-4),
    "B": dict(rounds=500_000, hidden=(400, 400), eval_every=10_000, data="replay",
              rollout_steps=100_000, lr=3e-4),
    "mini": dict(rounds=10_000, hidden=(256, 256), eval_every=2_000, data="both",
                 rollout_steps=60_000, lr=1e-3),
    "dmc": dict(rounds=500_000, hidden=(400, 400), eval_every=10_000, data="replay",
                rollout_steps=100_000, lr=3e-4),
}
# A and B at the cpu scale: about 30 minutes of a 2-core CPU for Benchmark A.
OFFLINE_CPU_SCALE = dict(rounds=40_000, hidden=(256, 256), eval_every=5_000,
                         rollout_steps=50_000, lr=1e-3)
# Std of the noise on the teacher's action in its rollouts: beside a replay, and alone
# (with 0.1 alone, the mini student lost InvertedPendulumBigPole; docs/results.md).
ROLLOUT_NOISE, ROLLOUT_NOISE_ALONE = 0.1, 0.3


def resolve_offline_run(run: OfflineRun, teachers_have_replay: bool) -> OfflineRun:
    """`run` with every field left None set: sizes from the benchmark at run.scale, the
    terms from the preset, and D_k from what the teachers allow (exported and shipped
    teachers come without their training replay: D_k is then their rollouts). BadInput for
    a D_k the teachers cannot give, or the critic-slope term without rollout states."""
    d = scaled_defaults(OFFLINE_DEFAULTS, OFFLINE_CPU_SCALE, run.benchmark, run.scale)
    preset = resolve_preset(run.benchmark, run.preset)
    terms = _resolved_terms(run, student_terms(preset, "offline"))
    data = run.data or (d["data"] if teachers_have_replay else "rollouts")
    if not teachers_have_replay and data != "rollouts":
        raise BadInput(f"--data={data} needs the teachers' training replay, and the teachers "
                       f"in {run.teachers} come without one; use --data=rollouts or the "
                       "teachers of a train_teachers run")
    if run.critic_grad is None and data == "replay":   # the slope term needs rollout states
        terms["critic_grad"] = 0.0
    critic_grad = terms["critic_grad"]
    check_critic_grad_data(critic_grad, data)
    eval_every = d["eval_every"] if run.eval_every is None else run.eval_every
    pick = lambda name, default: default if getattr(run, name) is None else getattr(run, name)
    return dataclasses.replace(
        run, tasks=tuple(run.tasks) or tuple(t.name for t in benchmark_tasks(run.benchmark)),
        rounds=pick("rounds", d["rounds"]), hidden=tuple(pick("hidden", d["hidden"])),
        lr=pick("lr", d["lr"]), eval_every=eval_every,
        rollout_steps=pick("rollout_steps", d["rollout_steps"]), preset=preset,
        update=run.update or preset_update(preset),
        **{**terms, **shared_net_and_task_id(run, terms["task_id"])},
        checkpoint_every=pick("checkpoint_every",
                              default_checkpoint_every(eval_every, run.benchmark, run.scale)),
        data=data,
        # alone, the rollouts must also show the critics other actions
        rollout_noise=pick("rollout_noise", ROLLOUT_NOISE_ALONE if data == "rollouts"
                           else ROLLOUT_NOISE),
        critic_grad_states="rollouts" if critic_grad else None)


def task_layers(shared_net: bool, tasks) -> int:
    """`td3.TD3Config.task_layers` of a student: K with SharedNet's networks, else 0."""
    return len(tasks) if shared_net else 0


def special_student(cfg: dict) -> Optional[str]:
    """What a student run's config says its networks are where they are not the plain
    TD3 actor and twin critic ("a SharedNet student (...)", "a SAC-MT student (...)"), else
    None: what compress refuses to distil."""
    if cfg.get("shared_net"):
        return "a SharedNet student (per-task first and last layers)"
    if cfg.get("algo", "td3") != "td3":
        return "a SAC-MT student (a Gaussian actor)"
    return None


def shared_net_and_task_id(run, task_id) -> dict:
    """`shared_net` and `task_id` of a fresh student: SharedNet's networks need the task
    one-hot (BadInput for --shared_net with --notask_id)."""
    shared = bool(run.shared_net)
    if shared and run.task_id is False:
        raise BadInput("--shared_net picks each task's layers by the task one-hot; drop "
                       "--notask_id")
    return dict(shared_net=shared, task_id=shared or bool(task_id))


def check_critic_grad_data(critic_grad, data) -> None:
    """The critic-slope term matches slopes on the teachers' rollout states."""
    if critic_grad and data == "replay":
        raise BadInput(f"--critic_grad={critic_grad:g} matches slopes on the teachers' "
                       "rollout states; use it with --data=both or --data=rollouts")


@dataclasses.dataclass(frozen=True)
class OnlineRun(StudentRun):
    """Online learning guided by the teachers, Eq. 3-5 (`stages.online`). The command's
    flags are generated from these fields (`experiments.online`; `from_run` is `--from`);
    fields left None take the --from run's value, the benchmark's at its scale, or the
    preset's (`stages.learn.prepare`, `resolve_online_run`)."""
    alpha: float = about(1.0, "Eq. 5 weight of the teacher's Q1 (0: online without teacher).")
    beta: float = about(1.0, "Eq. 5 weight of the student's own Q1 (0: only the teacher).")
    from_run: Optional[str] = about(None, "An offline_transfer run directory to start from "
                                    "(default: a fresh student, the paper's 'w/o Offline').",
                                    kind="str", flag="from")
    rounds: Optional[int] = about(None, "Online rounds (default 500000 for A/B, 50000 at "
                                  "--scale=cpu, 10000 for mini).", kind="int")
    warmup: Optional[int] = about(None, "Rounds acting with the student before updates start "
                                  "(default 10000; --scale=cpu 5000; mini 1000).", kind="int")
    hidden: Optional[tuple] = about(None, "Student widths for a fresh student (default 400,400; "
                                    "mini and --scale=cpu 256,256); with --from the offline "
                                    "run's widths are used.", kind="tuple")
    eval_every: Optional[int] = about(None, "Rounds between evaluations (default 10000; "
                                      "--scale=cpu 5000; mini 1000).", kind="int")
    teachers: Optional[str] = about(None, "A train_teachers run directory (default: the one "
                                    "the --from run used, else the latest for the benchmark).",
                                    kind="str")
    run_dir: str = about("", "Output directory, used exactly as given (default "
                         "runs/online/<benchmark>-seed<seed>-<time>).")
    update: Optional[str] = about(None, UPDATE_HELP, kind="str")
    target_noise: str = about("gaussian", "gaussian: N(0, 0.2^2) clipped at 0.5 (paper); "
                              "uniform: U[0, 0.1) (the public code).")
    fresh_optimizers: bool = about(True, "Start the online stage with new Adam states.")
    empty_buffers: bool = about(True, "Start the online shards D'_k empty (the public code); "
                                "--noempty_buffers starts them with the newest transitions of "
                                "the teachers' replays D_k.")
    capacity: int = about(1_000_000, "Online replay capacity per task (capped at what the run "
                          "fills: --rounds, plus the teachers' replays with --noempty_buffers).")
    lr: float = about(3e-4, "Adam learning rate.")
    policy_delay: Optional[int] = about(None, "Critic updates per actor update (default 2, "
                                        "TD3's; 1 with --algo=sac, SAC's).", kind="int")
    backend: str = about("mjx", "Physics backend.")
    algo: str = about("td3", "td3: the student is TD3's (KTM-DRL); sac: the SAC-MT baseline, "
                      "a multi-task SAC student (tanh-Gaussian actor, one learnt temperature "
                      "per task, target entropy -|A_k|) without teachers: give --alpha=0 and "
                      "no --from.", **omitted_at("td3"))
    teacher_critic: Optional[str] = about(None, TEACHER_CRITIC_HELP, kind="str")
    actor_match: Optional[float] = about(
        None, "Not in the paper: weight of a term added to Eq. 5's teacher term (so also "
        "times --alpha) that pulls the student's action f^k(pi(ŝ)) towards the teacher "
        "actor's pi^k(s) on D'_k's states (squared distance), as offline_transfer "
        "--actor_match does for Eq. 2 (docs/results.md). Default: the --preset's (paper: 0, "
        "the paper's Eq. 5; robust: 1000).", kind="float", **omitted_at(0.0))


def resolve_online_run(run: OnlineRun, from_cfg: Optional[dict]) -> OnlineRun:
    """`run` with every field left None set from `from_cfg` (the config of the --from
    offline run, or None), the benchmark's values at run.scale, and the preset's terms; a
    student from --from keeps its tasks, widths and input (task id). BadInput where a
    given field contradicts the --from run. The teachers stay as given when --from names
    none (`stages.learn.prepare` finds them)."""
    start = from_cfg or {}
    if from_cfg is not None:
        if from_cfg.get("benchmark") != run.benchmark:
            raise BadInput(f"--from={run.from_run} is a run of benchmark "
                           f"{from_cfg.get('benchmark')}, not {run.benchmark}")
        if run.tasks and tuple(run.tasks) != tuple(from_cfg["tasks"]):
            raise BadInput(f"--tasks={','.join(run.tasks)} differs from the tasks of the --from "
                           f"run ({','.join(from_cfg['tasks'])}); drop --tasks or pick that run's")
        for name, what in (("task_id", "a task id"), ("shared_net", "SharedNet's networks")):
            trained = bool(from_cfg.get(name, False))
            if getattr(run, name) is not None and getattr(run, name) != trained:
                raise BadInput(f"--{'' if getattr(run, name) else 'no'}{name} differs from the "
                               f"--from run's student (trained with{'' if trained else 'out'} "
                               f"{what}); drop that flag")
    check_sac(run)
    d = scaled_defaults(ONLINE_DEFAULTS, ONLINE_CPU_SCALE, run.benchmark, run.scale)
    preset = resolve_preset(run.benchmark, run.preset, from_cfg)
    terms = _resolved_terms(run, student_terms(preset, "online"))
    if run.algo == "sac":   # SAC-MT learns without teachers: none of their terms
        terms.update({t.name: 0.0 for t in extensions.stage_terms("online")})
    pick = lambda name, default: default if getattr(run, name) is None else getattr(run, name)
    eval_every = pick("eval_every", d["eval_every"])
    tasks = (tuple(from_cfg["tasks"]) if from_cfg is not None else
             tuple(run.tasks) or tuple(t.name for t in benchmark_tasks(run.benchmark)))
    return dataclasses.replace(
        run, tasks=tasks, preset=preset, update=run.update or preset_update(preset),
        hidden=(tuple(from_cfg["hidden"]) if from_cfg is not None
                else tuple(pick("hidden", d["hidden"]))),
        rounds=pick("rounds", d["rounds"]), warmup=pick("warmup", d["warmup"]),
        eval_every=eval_every,
        checkpoint_every=pick("checkpoint_every",
                              default_checkpoint_every(eval_every, run.benchmark, run.scale)),
        policy_delay=pick("policy_delay", 1 if run.algo == "sac" else 2),
        teacher_critic=run.teacher_critic or start.get("teacher_critic") or "target",
        teachers=run.teachers or start.get("teachers"),
        **{**terms, **(dict(task_id=bool(start.get("task_id", False)),
                            shared_net=bool(start.get("shared_net", False)))
                       if from_cfg is not None else shared_net_and_task_id(run, terms["task_id"]))})


def check_sac(run: OnlineRun) -> None:
    """--algo=sac is the SAC-MT baseline: a fresh student learning without teachers (so
    without their terms or their replays), with HER, plain networks and the vmap or
    sequential update (BadInput otherwise, naming what to change)."""
    if run.algo != "sac":
        return
    change = [fix for fix, wrong in (
        ("give --alpha=0", run.alpha > 0), ("drop --from", run.from_run),
        ("drop --beta (SAC's actor loss has no Eq. 5 weights)", run.beta != 1.0),
        ("drop --target_noise (TD3's target smoothing)", run.target_noise != "gaussian"),
        ("drop --noher", not run.her), ("drop --noempty_buffers", not run.empty_buffers),
        ("drop --shared_net", run.shared_net),
        ("drop --update=pcgrad", run.update == "pcgrad"),
        *((f"drop --{t.name}", getattr(run, t.name))
          for t in extensions.stage_terms("online"))) if wrong]
    if change:
        raise BadInput("--algo=sac is the SAC-MT baseline (a fresh SAC student with HER, "
                       "without teachers, plain networks, vmap or sequential updates): "
                       + "; ".join(change))


ONLINE_DEFAULTS = {
    "A": dict(rounds=500_000, hidden=(400, 400), eval_every=10_000, warmup=10_000),
    "B": dict(rounds=500_000, hidden=(400, 400), eval_every=10_000, warmup=10_000),
    "mini": dict(rounds=10_000, hidden=(256, 256), eval_every=1_000, warmup=1_000),
    "dmc": dict(rounds=500_000, hidden=(400, 400), eval_every=10_000, warmup=10_000),
}
ONLINE_CPU_SCALE = dict(rounds=50_000, hidden=(256, 256), eval_every=5_000, warmup=5_000)


@dataclasses.dataclass(frozen=True)
class CompressRun:
    """A compact student distilled from a large one or from the teachers, then quantised
    (`stages.compress`). The command's flags are generated from these fields
    (`experiments.compress`; `from_run` is `--from`); fields left None take the source's
    or the benchmark's value (`stages.compact.resolve`)."""
    from_run: Optional[str] = about(None, "A finished offline_transfer or online run: the "
                                    "student to compress.", kind="str", flag="from")
    teachers: Optional[str] = about(None, "Instead of --from: train the compact network "
                                    "directly from these teachers (a train_teachers run or "
                                    "exported teachers) by the same recipe, the baseline of a "
                                    "distilled student.", kind="str")
    benchmark: Optional[str] = about(None, "Benchmark of --teachers (A, B or mini; default "
                                     "mini). With --from: the run's (giving another is an "
                                     "error).", kind="str")
    tasks: tuple = about((), "With --teachers: a comma-separated subset of the benchmark's "
                         "tasks (default all). With --from: the run's.")
    hidden: tuple = about((64, 64), "Widths of the compact student's hidden layers.")
    dtype: str = about("float16", "The dtype of the deployed policy.msgpack: float32, "
                       "bfloat16, float16 or int8 (all four are evaluated).")
    rounds: Optional[int] = about(None, "Distillation rounds (default 10000 for mini; A/B: "
                                  "40000 at --scale=cpu, 500000 at paper scale).", kind="int")
    q_weight: float = about(0.0, "Weight of the ascent of the large critic's Q1 at the compact "
                            "actor's action (Eq. 2's form). Default 0: on mini, matching alone "
                            "was as good or better in every comparison, and the ascent alone "
                            "failed (docs/compression.md).")
    match_weight: float = about(1.0, "Weight of the squared distance between the compact and "
                                "the large actor's actions (the follow-up's distillation "
                                "term).")
    lr: float = about(1e-3, "Adam learning rate of the compact student.")
    batch_size: int = about(256, "Batch per task per round.")
    rollout_steps: Optional[int] = about(None, "Env steps per task of the large agent's noisy "
                                         "rollouts, the states distilled on (default: mini "
                                         "60000; A/B 50000 at --scale=cpu, 100000 at paper "
                                         "scale).", kind="int")
    rollout_noise: float = about(0.1, "Std of the Gaussian noise on the large agent's action "
                                 "in those rollouts (0.3 lost episodes of the fragile "
                                 "InvertedPendulumBigPole on mini; docs/compression.md).")
    task_id: Optional[bool] = about(None, "With --teachers: append a task one-hot to the "
                                    "student state (default: the benchmark's preset; mini on, "
                                    "A/B off). With --from: the run's.", kind="bool")
    teacher_critic: Optional[str] = about("target", "With --teachers: the teacher Q learnt "
                                          "from (target or online; see offline_transfer "
                                          "--help).", kind="str", **omitted_at(None))
    seed: int = about(0, "Random seed.")
    run_dir: str = about("", "Output directory, used exactly as given (default runs/compress/"
                         "<benchmark>-w<widths>-seed<seed>-<time>).")
    eval_every: Optional[int] = about(None, "Rounds between evaluations (default 2000 for "
                                      "mini, 5000 at --scale=cpu, 10000 at paper scale).",
                                      kind="int")
    eval_episodes: int = about(3, "Episodes per periodic evaluation.")
    final_episodes: int = about(10, "Episodes of each dtype's final evaluation.")
    backend: str = about("mjx", "Physics backend of the envs.")
    scale: Optional[str] = about(None, SCALE_HELP, **OMIT_AT_DEFAULT)
    checkpoint_every: Optional[int] = about(None, checkpoint_help("round"), kind="int")
    tensorboard: bool = about(False, TENSORBOARD_HELP)
    video: bool = about(False, VIDEO_HELP, **NOT_A_SETTING)
    # set by the resolver: "student" (from_run) or "teachers", and the large student's widths
    source: Optional[str] = about(None, "", **NOT_A_FLAG)
    source_hidden: Optional[tuple] = about(None, "", **OMIT_AT_DEFAULT, **NOT_A_FLAG)


COMPRESS_DEFAULTS = {
    "mini": dict(rounds=10_000, eval_every=2_000, rollout_steps=60_000),
    "A": dict(rounds=500_000, eval_every=10_000, rollout_steps=100_000),
    "B": dict(rounds=500_000, eval_every=10_000, rollout_steps=100_000),
    "dmc": dict(rounds=500_000, eval_every=10_000, rollout_steps=100_000),
}
COMPRESS_CPU_SCALE = dict(rounds=40_000, eval_every=5_000, rollout_steps=50_000)


@dataclasses.dataclass(frozen=True)
class WorldModelRun:
    """A multi-task world model (TD-MPC2's design) trained offline on the teachers' data,
    optionally distilled from a frozen world model (`stages.world_model`). The command's
    flags are generated from these fields (`experiments.world_model`)."""
    data: tuple = about((), "Comma-separated train_teachers run directories whose teachers' "
                        "replays form the data set (the first holding a task is used), or "
                        "exported teachers, whose noisy rollouts form it (default: the "
                        "teachers shipped for the benchmark).")
    benchmark: str = about("dmc", "Benchmark: dmc (or A, B, mini).")
    tasks: tuple = about((), "Comma-separated subset of the benchmark's tasks (default its "
                         "default set; dmc: any of the 19 MT30 tasks Playground has).")
    run_dir: str = about("", "Output directory (default runs/world_model/<benchmark>-<size>-"
                         "seed<seed>-<time>).")
    size: str = about("cpu-small", "World-model size: 1M, 5M, 19M, 48M, 317M (MT30's) or "
                      "cpu-small, cpu-large.")
    rollout_steps: int = about(100_000, "Where a --data directory holds exported teachers "
                               "(no replay, e.g. the shipped ones): env steps per task of "
                               "their rollouts, split evenly over five levels from near-"
                               "expert to random (Gaussian noise 0.1, 0.3, 1.0; noise 0.3 "
                               "with half the actions random; all random).")
    steps: int = about(20_000, "Model updates.")
    batch_size: int = about(256, "Sub-trajectories per update, an equal share per task.")
    lr: float = about(3e-4, "Adam learning rate (the encoder's is 0.3x).")
    seed: int = about(0, "Random seed.")
    seeds: int = about(1, "Independent runs in one program (seeds seed..seed+N-1), each "
                       "writing RUN_DIR/seed<s>/; RUN_DIR holds the aggregate.")
    teacher: Optional[str] = about(None, "A finished world_model run of the same benchmark "
                                   "and tasks: the frozen teacher of the reward distillation.")
    alpha: float = about(0.45, "With --teacher: weight of the MSE between the student's and "
                         "the teacher's decoded rewards (0: trained without the teacher).")
    eval_every: int = about(2_000, "Updates between evaluations of the policy prior.")
    checkpoint_every: int = about(2_000, "Updates between full-state checkpoints (a multiple "
                                  "of --eval_every).")
    eval_episodes: int = about(3, "Episodes per task of each periodic evaluation.")
    final_episodes: int = about(10, "Episodes per task of the final evaluations.")
    num_samples: int = about(512, "MPPI action sequences sampled per planning step.")
    iterations: int = about(6, "MPPI iterations per planning step.")
    tensorboard: bool = about(False, TENSORBOARD_HELP)
    video: bool = about(False, VIDEO_HELP + " The world model acts by planning (MPPI from a "
                        "cold start at each step, its deterministic action).", **NOT_A_SETTING)
