"""The teachers on disk: a train_teachers run's teachers (each one's whole TD3 state, its
replay D_k and teacher.json), exported teachers (actor and target critic in one msgpack
file, no replay) and the ones shipped with ktmjax; finding, loading, evaluating and
exporting them."""
import glob
import os
from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization, struct

from ktmjax import checkpoint, distributed, evaluation, replay, runs, td3
from ktmjax.envs import MultiTaskEnv, Task
from ktmjax.envs.multitask import EPISODE_LENGTH
from ktmjax.errors import BadInput

TEACHERS_DIR = "teachers"        # a train_teachers run's folder of <Task>/ directories
TEACHER_FILE = "teacher.json"    # each teacher's sizes, widths, steps and return
WEIGHTS_FILE = "weights.msgpack"  # an exported teacher's actor and target critic
STATE_DIR, REPLAY_DIR = "state", "replay"   # a trained teacher's orbax checkpoints


def save_teachers(run_dir: str, trainer, state, summary_tasks: dict, at_bound=()) -> None:
    """Writes run_dir/teachers/<Task>/{teacher.json, state/, replay/} for every task of
    `trainer` (a `teachers.TeacherTrainer`, `state` its state): the whole TD3 state and the
    task's replay (D_k for the offline stage), via orbax. `at_bound`: the tasks whose actor
    is stuck at an action bound (`actors_at_bound`), marked so in teacher.json. In a multi-process job every process calls it (the state is
    gathered to each one's host) and the writer process writes."""
    state = distributed.to_host(state)
    for i, task in enumerate(trainer.tasks):
        learner, buffer = trainer.task_slice(state, i)
        task_dir = os.path.join(run_dir, TEACHERS_DIR, task.name)
        os.makedirs(task_dir, exist_ok=True)
        checkpoint.save(os.path.join(task_dir, STATE_DIR), learner)
        checkpoint.save(os.path.join(task_dir, REPLAY_DIR), replay.chronological(buffer))
        runs.write_json(os.path.join(task_dir, TEACHER_FILE), {
            "task": task.name, "obs_size": task.obs_size, "action_size": task.action_size,
            "action_bound": task.action_bound, "hidden": list(trainer.config.hidden),
            "env_steps": int(state.step), "replay_size": int(buffer.size),
            "return_mean": summary_tasks[task.name]["return_mean"],
            "return_std": summary_tasks[task.name]["return_std"],
            "actor_at_bound": task.name in at_bound,
        })


@struct.dataclass
class TeacherGroup:
    """The frozen teachers of one task group, stacked on the task axis [G]."""
    actor_params: dict
    critic_params: dict     # the critic the student learns through (see load_teachers)
    data: Optional[replay.Replay]   # D_k of each task: the teacher's saved replay (None
                                    # for exported teachers until rollouts fill it)
    # The teacher's own rollouts (`rollout_data`; None without them): the states where the
    # offline --critic_grad term matches action slopes (the online stage's states).
    rollouts: Optional[replay.Replay] = None


def random_teachers(groups, config: td3.TD3Config, capacity: int, key) -> tuple:
    """Untrained teachers (random TD3 weights) with full shards of random transitions, one
    TeacherGroup per task group: stand-ins for benchmarks and tests, never for learning."""
    out = []
    for group in groups:
        key, k_init, k_data = jax.random.split(key, 3)
        states = jax.vmap(lambda k: td3.init(k, group.obs_size, group.action_size, config))(
            jax.random.split(k_init, group.size))
        data = replay.random_full(group.size, capacity, group.obs_size, group.action_size,
                                  k_data)
        out.append(TeacherGroup(states.actor_params, states.critic_params, data))
    return tuple(out)


def latest_run(benchmark: str, task_names, root: str = os.path.join("runs", "teachers")):
    """The newest finished train_teachers run under `root` for `benchmark` that has every
    task of `task_names`, or None."""
    best = None
    for summary_path in glob.glob(runs.RunDir(os.path.join(root, "*")).summary):
        try:
            summary = runs.read_json(summary_path)
        except (OSError, ValueError):
            continue
        if summary.get("benchmark") == benchmark and set(task_names) <= set(summary["tasks"]):
            if best is None or os.path.getmtime(summary_path) > os.path.getmtime(best):
                best = summary_path
    return os.path.dirname(best) if best else None


def teachers_root(teachers_dir: str) -> str:
    """The folder of <Task>/ teacher directories: a train_teachers run's teachers/, else
    `teachers_dir` itself (exported teachers)."""
    root = os.path.join(teachers_dir, TEACHERS_DIR)
    return root if os.path.isdir(root) else teachers_dir


def find_teacher_dirs(teachers_dir: str, tasks: Sequence[Task]) -> dict:
    """task name -> its teacher directory, under a train_teachers run dir or its teachers/."""
    if not os.path.isdir(teachers_dir):
        raise BadInput(f"teachers directory {teachers_dir} does not exist; train teachers with "
                       "`python -m experiments.train_teachers --benchmark=...` and give its "
                       "run directory")
    root = teachers_root(teachers_dir)
    found = {}
    for task in tasks:
        path = os.path.join(root, task.name)
        if not os.path.isfile(os.path.join(path, TEACHER_FILE)):
            raise BadInput(f"no teacher for task {task.name} in {teachers_dir}; train it with "
                           f"`python -m experiments.train_teachers --tasks={task.name} ...`")
        found[task.name] = path
    return found


TEACHER_CRITICS = ("target", "online")


AT_BOUND_NOTE = ("its actor gives the same bound (+1 or -1) on every state of its replay: a "
                 "saturated tanh that TD3 seldom brings back, not an expert; train the "
                 "teachers again with another --seed")


def teachers_at_bound(teachers_dir: str, tasks: Sequence[Task]) -> list:
    """The tasks whose teacher in `teachers_dir` train_teachers marked as stuck at an action
    bound (`TeacherTrainer.actors_at_bound`)."""
    dirs = find_teacher_dirs(teachers_dir, tasks)
    return [t.name for t in tasks
            if runs.read_json(os.path.join(dirs[t.name], TEACHER_FILE)).get("actor_at_bound")]


def load_teachers(teachers_dir: str, groups, critic: str = "target") -> tuple:
    """Loads the teachers (and their replays, D_k) of every task of `groups` (TaskGroups).

    `teachers_dir`: a train_teachers run directory (each teacher's whole TD3 state and its
    replay), or a directory of exported teachers (`export_teachers`: actor and target
    critic only, no replay; e.g. the ones shipped with ktmjax, `shipped_teachers`).
    `critic` picks the Q-function the student learns through (Eq. 1, 2 and 5): "target",
    the teacher's Polyak-averaged target critic (the default: it agrees with the teacher's
    actor, see docs/results.md), or "online", the critic as last updated (the public code's
    choice; train_teachers runs only).

    Returns (tuple of TeacherGroup, tuple of per-group TD3Config, {task: teacher return}).
    A group's `data` is None where its teachers come without a replay.
    Teachers whose sizes do not match their task, or unreadable checkpoints, are a
    BadInput that says what is wrong.
    """
    if critic not in TEACHER_CRITICS:
        raise BadInput(f"unknown teacher critic {critic!r}; known: {', '.join(TEACHER_CRITICS)}")
    tasks = [t for g in groups for t in g.tasks]
    dirs = find_teacher_dirs(teachers_dir, tasks)
    loaded, configs, returns = [], [], {}
    for group in groups:
        metas = [runs.read_json(os.path.join(dirs[t.name], TEACHER_FILE)) for t in group.tasks]
        for task, meta in zip(group.tasks, metas):
            if (meta.get("obs_size"), meta.get("action_size")) != (task.obs_size, task.action_size):
                raise BadInput(
                    f"teacher in {dirs[task.name]} has {meta.get('obs_size')} obs / "
                    f"{meta.get('action_size')} actions, task {task.name} has {task.obs_size} / "
                    f"{task.action_size}; use teachers trained for this task")
            returns[task.name] = float(meta["return_mean"])
        hidden = {tuple(m["hidden"]) for m in metas}
        if len(hidden) != 1:
            raise BadInput(f"teachers of {', '.join(t.name for t in group.tasks)} differ in "
                           "network widths; train them together")
        config = td3.TD3Config(hidden=hidden.pop())
        like = td3.state_shapes(group.obs_size, group.action_size, config)
        actors, critics, datas = [], [], []
        for task in group.tasks:
            actor, task_critic, data = _load_one(dirs[task.name], task.name, like, critic)
            actors.append(actor)
            critics.append(task_critic)
            datas.append(data)
        stack = lambda trees: jax.tree.map(lambda *x: jnp.stack(x), *trees)
        data = None if any(d is None for d in datas) else _replay_from_arrays(datas)
        loaded.append(TeacherGroup(stack(actors), stack(critics), data))
        configs.append(config)
    return tuple(loaded), tuple(configs), returns


def _load_one(task_dir: str, task_name: str, like: td3.TD3State, critic: str) -> tuple:
    """(actor params, critic params, replay arrays or None) of one teacher directory."""
    weights_path = os.path.join(task_dir, WEIGHTS_FILE)
    exported = os.path.isfile(weights_path)
    if exported and critic != "target":
        raise BadInput(f"the teacher in {task_dir} holds its target critic only; use "
                       "its target critic, or teachers of a train_teachers run")
    try:
        if exported:
            weights = read_weights(weights_path, like)
            return weights["actor"], weights["critic"], None
        state = checkpoint.load(os.path.join(task_dir, STATE_DIR), like)
        data = checkpoint.load(os.path.join(task_dir, REPLAY_DIR))
    except Exception as e:  # orbax and msgpack raise many kinds of errors on a broken file
        raise BadInput(f"cannot read the teacher checkpoint of {task_name} in {task_dir} "
                       f"({type(e).__name__}); retrain that teacher") from None
    return (state.actor_params,
            state.target_critic_params if critic == "target" else state.critic_params, data)


# ---- exported teachers: actor and target critic, no replay -------------------------------

SHIPPED_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shipped_teachers")


def shipped_teachers(benchmark: str, scale=None):
    """The directory of the teachers shipped with ktmjax for `benchmark` (at `scale` for A
    and B), or None where none ship."""
    path = os.path.join(SHIPPED_ROOT, benchmark if scale is None else f"{benchmark}-{scale}")
    return path if os.path.isdir(path) else None


def locate_teachers(benchmark: str, task_names, scale=None,
                    root: str = os.path.join("runs", "teachers")):
    """Teachers for a student run given no directory: the newest finished train_teachers
    run under `root` with every task (`latest_run`), else the shipped ones when they have
    every task, else None."""
    found = latest_run(benchmark, task_names, root)
    if found:
        return found
    shipped = shipped_teachers(benchmark, scale)
    if shipped and all(os.path.isfile(os.path.join(shipped, name, TEACHER_FILE))
                       for name in task_names):
        return shipped
    return None


def no_teachers(benchmark: str, task_names, scale) -> str:
    """The error line of a student command that found no teachers for every task: what
    ships for the benchmark (a partial set names its tasks) and how to get the rest."""
    shipped = shipped_teachers(benchmark, scale)
    have = [n for n in task_names if shipped and os.path.isfile(
        os.path.join(shipped, n, TEACHER_FILE))]
    at_scale = f" for the {scale} scale" if scale else ""
    note = (f"; the ones shipped{at_scale} cover {', '.join(have)} only (--tasks="
            f"{','.join(have)})" if have else f" and none shipped{at_scale}")
    return (f"no trained teachers of benchmark {benchmark} for all its tasks under "
            f"runs/teachers/{note}; train them with `python -m experiments.train_teachers "
            f"--benchmark={benchmark}` or pass --teachers=DIR")


def has_replay(teachers_dir: str, tasks: Sequence[Task]) -> bool:
    """Whether every teacher of `tasks` in `teachers_dir` comes with its training replay."""
    dirs = find_teacher_dirs(teachers_dir, tasks)
    return all(not os.path.isfile(os.path.join(d, WEIGHTS_FILE)) for d in dirs.values())


def read_weights(path: str, like: td3.TD3State) -> dict:
    """{"actor", "critic"} parameters from an exported teacher's weights file, shaped as
    `like`'s actor and target critic (msgpack: arrays only, nothing is executed)."""
    with open(path, "rb") as f:
        raw = serialization.msgpack_restore(f.read())
    template = {"actor": like.actor_params, "critic": like.target_critic_params}
    weights = serialization.from_state_dict(template, raw)
    for name in template:   # from_state_dict keeps the file's shapes: check them
        got = jax.tree.map(jnp.shape, weights[name])
        if got != jax.tree.map(jnp.shape, template[name]):
            raise ValueError(f"{name} weights of other shapes")
    return jax.tree.map(jnp.asarray, weights)


CHECK_STEPS = 200   # the length of the check episode stored with exported teachers


def evaluate_teachers(teachers_dir: str, tasks: Sequence[Task], episodes: int,
                      steps: int = EPISODE_LENGTH, seed: int = 0,
                      backend: str = "mjx") -> np.ndarray:
    """Returns [K, episodes] of deterministic episodes of `steps` steps of each teacher in
    `teachers_dir` (its actor alone, as the student commands load it)."""
    env = MultiTaskEnv(tasks, backend, episode_length=steps)
    groups, configs, _ = load_teachers(teachers_dir, env.groups)

    evaluate = evaluation.make_evaluator(env, teachers_policy(env.groups, configs), episodes)
    return np.asarray(evaluate(tuple(t.actor_params for t in groups), jax.random.PRNGKey(seed)))


def short_episode_returns(teachers_dir: str, tasks: Sequence[Task],
                          steps: int = CHECK_STEPS) -> dict:
    """{task: return} of one deterministic episode of `steps` steps (seed 0) per teacher."""
    returns = evaluate_teachers(teachers_dir, tasks, 1, steps)
    return {task.name: float(returns[i, 0]) for i, task in enumerate(tasks)}


def export_teachers(teachers_dir: str, tasks: Sequence[Task], out_dir: str) -> dict:
    """Writes out_dir/<Task>/{teacher.json, weights.msgpack} for every task of a
    train_teachers run: the actor and the target critic (the critic students learn
    through by default), no replay and no optimiser state; teacher.json's `check_episode`
    holds the return of one short deterministic episode (`short_episode_returns`).
    Returns {task: bytes written}."""
    dirs = find_teacher_dirs(teachers_dir, tasks)
    written = {}
    for task in tasks:
        meta = runs.read_json(os.path.join(dirs[task.name], TEACHER_FILE))
        config = td3.TD3Config(hidden=tuple(meta["hidden"]))
        like = td3.state_shapes(task.obs_size, task.action_size, config)
        state = checkpoint.load(os.path.join(dirs[task.name], STATE_DIR), like)
        weights = jax.device_get({"actor": state.actor_params,
                                  "critic": state.target_critic_params})
        data = serialization.msgpack_serialize(serialization.to_state_dict(weights))
        task_dir = os.path.join(out_dir, task.name)
        os.makedirs(task_dir, exist_ok=True)
        with open(os.path.join(task_dir, WEIGHTS_FILE), "wb") as f:
            f.write(data)
        runs.write_json(os.path.join(task_dir, TEACHER_FILE), {
            **{k: meta[k] for k in ("task", "obs_size", "action_size", "action_bound", "hidden",
                                    "env_steps", "return_mean", "return_std", "actor_at_bound")
               if k in meta},
            "critic": "target", "trained_by": os.path.basename(os.path.normpath(teachers_dir))})
        written[task.name] = len(data)
    # A short episode of each exported teacher, stored as the return it must reach again.
    check = short_episode_returns(out_dir, tasks)
    for task in tasks:
        path = os.path.join(out_dir, task.name, TEACHER_FILE)
        runs.write_json(path, {**runs.read_json(path), "check_episode": {
            "steps": CHECK_STEPS, "seed": 0, "return": round(check[task.name], 3)}})
    return written


def _replay_from_arrays(datas: Sequence[dict]) -> replay.Replay:
    """A Replay holding each task's saved transitions (shards padded to the longest)."""
    sizes = [int(d["reward"].shape[0]) for d in datas]
    capacity = max(sizes)

    def field(name):
        return jnp.stack([jnp.pad(jnp.asarray(d[name], jnp.float32),
                                  [(0, capacity - n)] + [(0, 0)] * (d[name].ndim - 1))
                          for d, n in zip(datas, sizes)])

    n = jnp.asarray(sizes, jnp.int32)
    return replay.Replay(**{f: field(f) for f in replay.FIELDS}, position=n % capacity, size=n)


def teachers_policy(groups, configs: Sequence[td3.TD3Config]):
    """The K teachers as one multi-task policy (`acting`'s and the evaluator's form): task
    group g's stacked actors on its states."""
    def policy(g, actor_params, obs):
        return td3.stacked_policy(actor_params, obs, groups[g].action_size, configs[g])
    return policy
