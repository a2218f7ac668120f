"""Diagnostics: can a teacher be distilled, can its critic guide a student, and does an
online student's own critic value every task?

- `robustness`: each teacher's return with a constant bias added to every action. A
  distilled student never acts exactly like its teacher; a small systematic error in its
  action is what Eq. 2 (and --actor_match) leave behind, so a teacher that loses much of
  its return at a bias of 0.01-0.02 is one a student can match only by luck
  (docs/results.md, "Teachers: which ones can be distilled").
- `consistency`: on states of a teacher (its replay, or its own noisy rollouts), the
  argmax of Q1 over a grid of actions against the teacher's action, and dQ1/da at that
  action, for the teacher's critics and the critics of students of its task. A critic
  whose argmax sits far from the actor, or whose action gradient does not follow the
  teacher's, is a poor guide for Eq. 2 and Eq. 5.
- `critic_bias`: an online student's critic on its online shards, per task: its Q1 against
  the teacher's, its TD target and error, and the gap between its two target critics (the
  gap clipped double-Q learning turns into a bias below the true values).

`python -m experiments.diagnose_teachers` prints each as a table.
"""
import os
from functools import partial
from typing import NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ktmjax import (checkpoint, envs, evaluation, layout, networks, replay, runs, td3,
                    teacher_data, teacher_store)
from ktmjax.envs.multitask import EPISODE_LENGTH
from ktmjax.errors import BadInput
from ktmjax.stages import config as stage_config, learn
from ktmjax.stages.config import task_layers
from ktmjax.student import batches

DEFAULT_BIASES = (-0.05, -0.02, -0.01, 0.0, 0.01, 0.02, 0.05)
NUM_STATES = 2048    # states the consistency scan draws
GRID_POINTS = 81     # actions of its grid over [-1, 1] (steps of 0.025)
ROLLOUT_NOISE = 0.1  # exploration noise of the teacher's rollouts (the offline stage's)


# ---- robustness to an action bias --------------------------------------------------------

class Robustness(NamedTuple):
    """Mean returns of biased teachers."""
    tasks: tuple          # task names, in registry (benchmark) order
    biases: tuple         # the constant biases, in the order of the columns of `returns`
    returns: np.ndarray   # [len(tasks), len(biases)]: mean return of the episodes
    saved: dict           # {task: the return stored with the teacher (teacher.json)}
    episodes: int


def teacher_tasks(teachers_dir: str) -> tuple:
    """The tasks (`envs.Task`, in registry order) that have a teacher in `teachers_dir`:
    a train_teachers run directory, its teachers/ folder, or a directory of exported
    teachers. BadInput when it is not a directory or holds no teacher."""
    if not os.path.isdir(teachers_dir):
        raise BadInput(f"teachers directory {teachers_dir} does not exist; give a "
                       "train_teachers run directory or a directory of exported teachers")
    root = teacher_store.teachers_root(teachers_dir)
    names = []
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry, teacher_store.TEACHER_FILE)
        if os.path.isfile(path):
            names.append(_read_meta(path).get("task", entry))
    if not names:
        raise BadInput(f"{teachers_dir} holds no teacher (no <Task>/teacher.json in it); give "
                       "a train_teachers run directory or a directory of exported teachers")
    unknown = [n for n in names if n not in envs.TASKS]
    if unknown:
        raise BadInput(f"{teachers_dir} holds teachers of unknown task(s) {', '.join(unknown)}; "
                       f"known tasks: {', '.join(envs.TASKS)}")
    return tuple(t for name, t in envs.TASKS.items() if name in names)


def robustness(teachers_dir: str, biases: Sequence[float] = DEFAULT_BIASES,
               episodes: int = 10, tasks: Optional[Sequence[str]] = None,
               steps: int = EPISODE_LENGTH, seed: int = 0,
               backend: str = "mjx") -> Robustness:
    """The mean return of `episodes` deterministic episodes (`steps` steps each) of every
    teacher in `teachers_dir` (or of `tasks`, names, alone) acting with its action plus a
    constant bias, clipped to [-1, 1], for each of `biases`. Every bias sees the same
    initial states (`seed`): at bias 0 the returns are those of
    `teacher_store.evaluate_teachers`. One compiled evaluator serves every bias."""
    if episodes < 1 or steps < 1:
        raise BadInput(f"episodes ({episodes}) and steps ({steps}) must be positive")
    biases = tuple(float(b) for b in biases)
    if not biases:
        raise BadInput("give at least one bias")
    found = teacher_tasks(teachers_dir)
    if tasks:
        missing = [n for n in tasks if n not in {t.name for t in found}]
        if missing:
            raise BadInput(f"no teacher of {', '.join(missing)} in {teachers_dir}; its "
                           f"teachers: {', '.join(t.name for t in found)}")
        found = tuple(t for t in found if t.name in tasks)
    env = envs.MultiTaskEnv(found, backend, episode_length=steps)
    groups, configs, saved = teacher_store.load_teachers(teachers_dir, env.groups)
    act = teacher_store.teachers_policy(env.groups, configs)

    def policy(g, params, obs):
        actor_params, bias = params
        return jnp.clip(act(g, actor_params, obs) + bias, -1.0, 1.0)

    evaluate = evaluation.make_evaluator(env, policy, episodes)
    returns = np.zeros((len(found), len(biases)))
    for column, bias in enumerate(biases):
        params = tuple((g.actor_params, jnp.float32(bias)) for g in groups)
        returns[:, column] = np.asarray(evaluate(params, jax.random.PRNGKey(seed))).mean(axis=1)
    return Robustness(tuple(t.name for t in found), biases, returns,
                      {t.name: saved[t.name] for t in found}, episodes)


# ---- critic-actor consistency ------------------------------------------------------------

class CriticScan(NamedTuple):
    """One critic's Q1 on N states, each [N]."""
    argmax: np.ndarray    # the grid action of highest Q1
    gap: np.ndarray       # highest Q1 on the grid minus Q1 at the actor's action
    q_actor: np.ndarray   # Q1 at the actor's action
    dqda: np.ndarray      # dQ1/da (first action entry) at the actor's action


class Consistency(NamedTuple):
    """How one critic agrees with a teacher's actor, means over the states."""
    name: str
    argmax_distance: float   # mean |argmax of Q1 on the grid - the teacher's action|
    q_gap: float             # mean Q1 the teacher's actor leaves on the table
    dqda: float              # mean |dQ1/da| at the teacher's action
    grad_corr: float         # correlation over the states of dQ1/da with the reference's
    q_rmse: float            # root mean square of Q1(actor) minus the reference's
    student_distance: Optional[float] = None   # mean |student action - teacher action|


class ConsistencyReport(NamedTuple):
    task: str
    states: np.ndarray       # [N, obs_size]: the teacher's states scanned
    action: np.ndarray       # [N]: the teacher's action on them
    rows: tuple              # Consistency of each critic; the reference is "teacher target"


def action_grid(points: int = GRID_POINTS) -> np.ndarray:
    """`points` evenly spaced actions over [-1, 1]."""
    return np.linspace(-1.0, 1.0, points, dtype=np.float32)


def scan_q1(critic: networks.TwinCritic, params, obs, action, grid) -> CriticScan:
    """Q1 of `critic` on states obs [N, s] with the first entry of the actions [N, A] set
    to each value of `grid` (the other entries kept: zeros past a task's action size for
    a student), and at `action` itself."""
    obs, action, grid = jnp.asarray(obs), jnp.asarray(action), jnp.asarray(grid)
    q = jax.vmap(lambda a: networks.q1(critic, params, obs, action.at[:, 0].set(a)))(grid)
    q_actor = networks.q1(critic, params, obs, action)
    dqda = networks.q1_action_grad(critic, params, obs, action)[:, 0]
    return CriticScan(np.asarray(grid[jnp.argmax(q, axis=0)]),
                      np.asarray(q.max(axis=0) - q_actor), np.asarray(q_actor),
                      np.asarray(dqda))


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def compare(name: str, scan: CriticScan, action, reference: CriticScan,
            student_action=None) -> Consistency:
    """The means of `scan` against the teacher's 1-D action [N] and the reference critic's
    scan; `student_action` [N]: a student's own action on the same states."""
    action = np.asarray(action, np.float64)
    distance = (None if student_action is None else
                float(np.mean(np.abs(np.asarray(student_action, np.float64) - action))))
    return Consistency(
        name, float(np.mean(np.abs(scan.argmax - action))), float(np.mean(scan.gap)),
        float(np.mean(np.abs(scan.dqda))), _correlation(scan.dqda, reference.dqda),
        float(np.sqrt(np.mean(np.square(np.asarray(scan.q_actor, np.float64)
                                        - reference.q_actor)))),
        distance)


def _read_meta(path: str) -> dict:
    try:
        meta = runs.read_json(path)
    except (OSError, ValueError):
        raise BadInput(f"{path} is unreadable; train or export that teacher again") from None
    if not isinstance(meta, dict):
        raise BadInput(f"{path} is not a teacher's description; train or export it again")
    return meta


def _teacher_task(task_dir: str) -> envs.Task:
    path = os.path.join(task_dir, teacher_store.TEACHER_FILE)
    if not os.path.isfile(path):
        raise BadInput(f"{task_dir} holds no teacher (no teacher.json); give one teacher's "
                       "directory: teachers/<Task> of a train_teachers run, or <Task> of "
                       "exported teachers")
    name = _read_meta(path).get("task")
    if name not in envs.TASKS:
        raise BadInput(f"the teacher in {task_dir} is of an unknown task {name!r}")
    task = envs.TASKS[name]
    if task.action_size != 1:
        raise BadInput(f"the teacher in {task_dir} has {task.action_size} action entries; the "
                       "action grid covers teachers of 1-D actions only")
    return task


def _student_config(run_dir: str, task: envs.Task) -> dict:
    """The config of the finished student run `run_dir`, which must have learnt `task`."""
    cfg = runs.read_student_run(run_dir)
    if task.name not in cfg["tasks"]:
        raise BadInput(f"the student of {run_dir} did not learn {task.name} (its tasks: "
                       f"{', '.join(cfg['tasks'])}); give a student of that task")
    if cfg.get("algo", "td3") != "td3":
        raise BadInput(f"{run_dir} holds a SAC-MT student (a Gaussian actor); the scan reads "
                       "the students of KTM-DRL's TD3 networks: give one of those")
    return cfg


def _student_row(run_dir: str, cfg: dict, task: envs.Task, obs, action, grid,
                 reference: CriticScan) -> Consistency:
    """The critic of the student run `run_dir` (its config `cfg`) on the teacher's states,
    seen as the student sees them (padded, with its task id if it has one)."""
    lay = layout.TaskLayout.from_tasks(envs.benchmark_tasks(cfg["benchmark"], cfg["tasks"]),
                                       bool(cfg.get("task_id")))
    net = td3.TD3Config(hidden=tuple(cfg["hidden"]),
                        task_layers=task_layers(bool(cfg.get("shared_net")), cfg["tasks"]))
    like = td3.state_shapes(lay.student_obs_size, lay.action_max, net)
    student = checkpoint.load_student(run_dir, like)
    s_obs = lay.student_obs(jnp.asarray(obs)[None], (list(cfg["tasks"]).index(task.name),))[0]
    own = layout.slice_action(net.actor(lay.action_max).apply(student.actor_params, s_obs), 1)
    scan = scan_q1(net.critic(), student.critic_params, s_obs,
                   layout.pad_action(jnp.asarray(action)[:, None], lay.action_max), grid)
    return compare(f"student {run_dir}", scan, action, reference, np.asarray(own)[:, 0])


def consistency(task_dir: str, last: Optional[int] = None, rollouts: Optional[int] = None,
                students: Sequence[str] = (), num_states: int = NUM_STATES,
                grid_points: int = GRID_POINTS, seed: int = 0,
                backend: str = "mjx") -> ConsistencyReport:
    """Scans the critics of the teacher in `task_dir` (one teacher of 1-D actions:
    teachers/<Task> of a train_teachers run, or <Task> of exported teachers) and of the
    finished student runs `students` (offline_transfer or online runs of that task) on
    `num_states` states drawn from the teacher's replay (all of it, or its newest `last`
    transitions), or, with `rollouts`, from that many env steps of the teacher's own
    rollouts with N(0, 0.1^2) exploration noise (where the online stage acts, as the
    offline student starts out as the teacher; exported teachers have no replay, so
    they need these).

    Rows: "teacher online" (train_teachers runs only), "teacher target" (the reference:
    the critic the student distils), then one per student. BadInput for a directory
    without a teacher, a multi-dimensional action, a student of other tasks."""
    if last is not None and rollouts is not None:
        raise BadInput("give either a number of newest replay transitions or a number of "
                       "rollout steps, not both")
    for what, value in (("newest transitions", last), ("rollout steps", rollouts),
                        ("states", num_states), ("grid points", grid_points)):
        if value is not None and value < 1:
            raise BadInput(f"the number of {what} ({value}) must be positive")
    task = _teacher_task(task_dir)
    student_configs = [_student_config(run, task) for run in students]
    root = os.path.dirname(os.path.abspath(task_dir))
    with_replay = teacher_store.has_replay(root, [task])
    if rollouts is None and not with_replay:
        raise BadInput(f"the teacher in {task_dir} comes without its replay (an exported "
                       "teacher); scan the states of its own rollouts instead")
    env = envs.MultiTaskEnv([task], backend)
    groups, configs, _ = teacher_store.load_teachers(root, env.groups)
    pick = np.random.RandomState(seed)
    if rollouts is not None:
        rolled = teacher_data.rollout_data(env, groups, configs, rollouts,
                                       jax.random.PRNGKey(12345 + seed), ROLLOUT_NOISE)
        pool = np.asarray(rolled[0].rollouts.obs[0])
        rows = pick.randint(0, pool.shape[0], num_states)
    else:
        size = int(groups[0].data.size[0])
        pool = np.asarray(groups[0].data.obs[0, :size])   # oldest first
        rows = pick.randint(max(size - last, 0) if last else 0, size, num_states)
    obs = jnp.asarray(pool[rows])
    config = configs[0]
    first = lambda tree: jax.tree.map(lambda x: x[0], tree)   # the group's only task
    action = config.actor(1).apply(first(groups[0].actor_params), obs)   # [N, 1]
    grid = action_grid(grid_points)
    critics = [("teacher target", first(groups[0].critic_params))]
    if with_replay:
        online, _, _ = teacher_store.load_teachers(root, env.groups, critic="online")
        critics.insert(0, ("teacher online", first(online[0].critic_params)))
    critic = config.critic()
    scans = {name: scan_q1(critic, params, obs, action, grid) for name, params in critics}
    reference = scans["teacher target"]
    teacher_action = np.asarray(action)[:, 0]
    rows_out = [compare(name, scans[name], teacher_action, reference) for name, _ in critics]
    rows_out += [_student_row(run, cfg, task, obs, teacher_action, grid, reference)
                 for run, cfg in zip(students, student_configs)]
    return ConsistencyReport(task.name, np.asarray(obs), teacher_action, tuple(rows_out))


# ---- the online student's critic against its teachers' ------------------------------------

class CriticBiasRow(NamedTuple):
    """One task of `critic_bias`: means over the transitions drawn from its online shard."""
    task: str
    transitions: int    # held by the shard D'_k
    reward: float
    student_q1: float   # the student's Q1(ŝ, â)
    teacher_q1: float   # the task teacher's Q1^k(s, a), the critic Eq. 5 follows
    td_target: float    # Eq. 3's y, with the target critics and target actor
    td_error: float     # |Q1(ŝ, â) - y|
    twin_gap: float     # |Q1' - Q2'| of the target critics at Eq. 3's target action


class CriticBias(NamedTuple):
    run_dir: str
    round: int          # the checkpoint read
    rows: tuple         # CriticBiasRow per task, in benchmark order


def critic_bias(run_dir: str, num_states: int = NUM_STATES, seed: int = 0) -> CriticBias:
    """The critic of the online run `run_dir` (TD3 student, one seed; its newest checkpoint,
    finished or running: nothing on disk changes) on `num_states` transitions of each
    task's online shard: its Q1 against the teacher's Q1 on the same transitions, its Eq. 3
    target and TD error, and the gap between its two target critics. Clipped double-Q
    learning takes the smaller target critic, which at its fixed point holds a critic
    gamma / (1 - gamma) times that gap below its true values; where the gap is large next
    to a task's values, the student's Q of that task sits far below its teacher's
    (docs/benchmark_b.md). BadInput for a directory that is not
    such a run or has no readable checkpoint."""
    config_path = runs.RunDir(run_dir).config
    if not os.path.isfile(config_path):
        raise BadInput(f"{run_dir} holds no config.json; give the directory of an online run")
    try:
        run = stage_config.from_settings(stage_config.OnlineRun, runs.read_json(config_path))
    except (BadInput, TypeError, ValueError):
        raise BadInput(f"{run_dir} is not an online run; give the directory of an online "
                       "run") from None
    if run.seeds != 1 or run.algo != "td3":
        raise BadInput(f"{run_dir} is a run of {run.seeds} seeds / algo {run.algo}; give an "
                       "online run of one seed with the TD3 student")
    if not os.path.isdir(runs.RunDir(run_dir).checkpoints):
        raise BadInput(f"{run_dir} holds no checkpoints; give a run that has saved one")
    env = envs.MultiTaskEnv(envs.benchmark_tasks(run.benchmark, run.tasks), run.backend)
    groups, configs, _ = teacher_store.load_teachers(run.teachers, env.groups, run.teacher_critic)
    student = learn.online_student(run, env, configs)
    prefill = learn.online_prefill(run, groups)
    like = jax.eval_shape(lambda: student.init_online(
        student.init(jax.random.PRNGKey(0)), jax.random.PRNGKey(0),
        learn.online_capacity(run, prefill), run.fresh_optimizers, prefill))
    step, state, _ = checkpoint.RunCheckpoints(run_dir, read_only=True).newest(like)
    learner, keys = state.learner, jax.random.split(jax.random.PRNGKey(seed), 2 * len(env.groups))
    rows = {}
    for g, (group, teacher) in enumerate(zip(env.groups, groups)):
        batch = replay.sample(state.buffers[g], keys[2 * g], num_states)
        next_hat = student.obs_hat(g, batch["next_obs"])
        y, next_q = batches.td_targets(student, learner, batch, next_hat,
                                       student.group_masks(g)[0], keys[2 * g + 1])
        action_hat = layout.pad_action(batch["action"], student.layout.action_max)
        q1 = jax.vmap(lambda o, a: networks.q1(student.critic, learner.critic_params, o, a))(
            student.obs_hat(g, batch["obs"]), action_hat)
        teacher_q1 = jax.vmap(partial(networks.q1, student.teacher_critics[g]))(
            teacher.critic_params, batch["obs"], batch["action"])
        for j, task in enumerate(group.tasks):
            mean = lambda x: float(jnp.mean(x[j]))
            rows[task.name] = CriticBiasRow(
                task.name, int(state.buffers[g].size[j]), mean(batch["reward"]), mean(q1),
                mean(teacher_q1), mean(y), mean(jnp.abs(q1 - y)),
                mean(jnp.abs(next_q[:, 0] - next_q[:, 1])))
    return CriticBias(run_dir, int(step), tuple(rows[t.name] for t in env.tasks))
