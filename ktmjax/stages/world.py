"""The world-model stage (Kuzmenko & Shvai 2025 on TD-MPC2): a multi-task world model
trained offline on the teachers' replays, optionally distilled from a frozen world model
through its reward head, then evaluated with MPPI planning and stored in float32, float16
and bfloat16."""
import os

import jax
import jax.numpy as jnp
import numpy as np

from ktmjax import acting, checkpoint, envs, evaluation, loops, runs, sharding, teacher_store
from ktmjax.metrics import TrainMetrics
from ktmjax.envs import dmc
from ktmjax.errors import BadInput
from ktmjax.seed_axis import SeedAxis
from ktmjax.stages import seeds as seed_runs
from ktmjax.stages.config import WorldModelRun
from ktmjax.stages.output import write_videos
from ktmjax.worldmodel import data as wm_data
from ktmjax.worldmodel import learner as wm_learner
from ktmjax.worldmodel import model, plan, store

STAGE = "world_model"
MODEL_FILE = "model-{dtype}.msgpack"
DTYPES = store.DTYPES


# The levels of the regenerated data set, each (Gaussian noise, share of uniform random
# actions) with an equal share of the steps: from near-expert to random, so that the data
# holds failing states and the ways back from them, as a single-task agent's replay does.
ROLLOUT_LEVELS = ((0.1, 0.0), (0.3, 0.0), (1.0, 0.0), (0.3, 0.5), (0.0, 1.0))


def _replay_source(path: str, task) -> str:
    """The replay of `task` in the train_teachers run `path`, or None."""
    candidate = os.path.join(teacher_store.teachers_root(path), task.name,
                             teacher_store.REPLAY_DIR)
    return candidate if os.path.isdir(candidate) else None


def _exported_source(path: str, task) -> bool:
    """Whether `path` holds an exported teacher of `task` (weights, no replay)."""
    return os.path.isfile(os.path.join(teacher_store.teachers_root(path), task.name,
                                       teacher_store.WEIGHTS_FILE))


def rollout_transitions(path: str, tasks, steps: int, seed: int) -> dict:
    """{task name: time-ordered transitions} of the exported teachers in `path` acting at
    each level of ROLLOUT_LEVELS (an equal share of `steps` env steps per level)."""
    env = envs.MultiTaskEnv(tasks)
    loaded, configs, _ = teacher_store.load_teachers(path, env.groups)
    policy = teacher_store.teachers_policy(env.groups, configs)
    per_level = steps // len(ROLLOUT_LEVELS)
    rollouts = acting.rollout_program(env, policy, per_level)
    out = {t.name: [] for t in tasks}
    for i, (noise, random_share) in enumerate(ROLLOUT_LEVELS):
        print(f"[{STAGE}] data: {per_level} steps per task of the teachers in {path} with "
              f"noise {noise}" + (f", {random_share:.0%} random actions" if random_share else ""),
              flush=True)
        buffers = rollouts([t.actor_params for t in loaded], jax.random.PRNGKey(seed * 100 + i),
                           noise, random_share)
        for group, buffer in zip(env.groups, buffers):
            for j, task in enumerate(group.tasks):
                out[task.name].append({f: np.asarray(getattr(buffer, f)[j])
                                       for f in ("obs", "next_obs", "action", "reward")})
    return {name: {f: np.concatenate([part[f] for part in parts]) for f in parts[0]}
            for name, parts in out.items()}


def load_dataset(run: WorldModelRun, tasks, horizon: int):
    """The data set of `run`: for each task, the replay of the first --data run directory
    that holds one; tasks found only as exported teachers (e.g. the shipped ones) get their
    teachers' noisy rollouts (`rollout_transitions`). BadInput when a task has neither."""
    per_task, rollouts = {}, {}
    for path in run.data:
        if not os.path.isdir(path):
            raise BadInput(f"data directory {path} does not exist; give train_teachers run "
                           "directories (with their replays) or exported teachers in --data")
    for task in tasks:
        for path in run.data:
            source = _replay_source(path, task)
            if source:
                try:
                    per_task[task.name] = {k: np.asarray(v)
                                           for k, v in checkpoint.load(source).items()}
                except Exception as e:  # orbax raises many kinds of errors on a broken file
                    raise BadInput(f"cannot read the replay {source} ({type(e).__name__}); "
                                   "train that teacher again") from None
                break
            if _exported_source(path, task):
                rollouts.setdefault(path, []).append(task)
                break
        else:
            raise BadInput(f"no replay or teacher of task {task.name} in --data="
                           f"{','.join(run.data)}; train its teacher with `python -m "
                           f"experiments.train_teachers --benchmark={run.benchmark} "
                           f"--tasks={task.name}` and add its run directory to --data")
    for path, path_tasks in rollouts.items():
        per_task.update(rollout_transitions(path, path_tasks, run.rollout_steps, run.seed))
    ordered = [per_task[t.name] for t in tasks]
    obs_size = max(t.obs_size for t in tasks)
    action_size = max(t.action_size for t in tasks)
    try:
        dataset = wm_data.from_transitions(ordered, obs_size, action_size, horizon)
    except ValueError as e:
        raise BadInput(f"the data set is too small: {e}") from None
    return dataset, [len(t["reward"]) for t in ordered]


def model_config(size: str, tasks) -> model.ModelConfig:
    return model.ModelConfig.of_size(size, max(t.obs_size for t in tasks),
                                     max(t.action_size for t in tasks),
                                     [t.action_size for t in tasks])


def load_teacher(run: WorldModelRun, tasks) -> wm_learner.Teacher:
    """The frozen world model of run.teacher (a finished world_model run of the same
    benchmark and tasks); BadInput otherwise."""
    path = os.path.join(run.teacher, MODEL_FILE.format(dtype="float32"))
    cfg_path = runs.RunDir(run.teacher).config
    if not os.path.isfile(path) or not os.path.isfile(cfg_path):
        raise BadInput(f"--teacher={run.teacher} is not a finished world_model run or seed directory (no "
                       f"{os.path.basename(path)}); train it with `python -m "
                       "experiments.world_model` first")
    saved = runs.read_json(cfg_path)
    names = [t.name for t in tasks]
    try:
        agent = store.load(path)
    except ValueError as e:
        raise BadInput(f"--teacher: {e}") from None
    if saved.get("benchmark") != run.benchmark or list(agent.task_names) != names:
        raise BadInput(f"--teacher={run.teacher} was trained on benchmark "
                       f"{saved.get('benchmark')} with tasks {','.join(agent.task_names)}; "
                       f"this run has benchmark {run.benchmark} with tasks {','.join(names)}")
    return wm_learner.Teacher(agent.cfg, agent.params, run.alpha)


def prior_policy(mcfg: model.ModelConfig, groups):
    """The policy prior's mean action as `evaluation`'s policy_apply(g, params, obs)."""
    def apply(g, params, obs):
        group = groups[g]
        padded = jnp.pad(obs, [(0, 0), (0, mcfg.obs_size - obs.shape[-1])])
        task = jnp.asarray(group.indices, jnp.int32)
        z = model.encode(mcfg, params, padded, task)
        mean, _, _ = model.policy(mcfg, params, z, task, jax.random.PRNGKey(0))
        return mean[:, :group.action_size]
    return apply


def _planned_action(mcfg, pcfg: plan.PlanConfig, params, group, obs, task, gamma, prev,
                    first, key, explore):
    """One MPPI action for one raw state of `group`'s task: (the action sliced to the
    task's size, the plan's mean to carry to the next step)."""
    padded = jnp.pad(obs, (0, mcfg.obs_size - obs.shape[-1]))
    action, mean = plan.plan(mcfg, pcfg, params, padded, task, prev, first, gamma, key, explore)
    return action[:group.action_size], mean


def planner_policy(mcfg, pcfg: plan.PlanConfig, groups, discounts):
    """The planner as `evaluation`'s policy_apply(g, params, obs), for videos: MPPI from a
    cold start at every step (no previous plan to carry), its deterministic action."""
    def apply(g, params, obs):
        group = groups[g]
        task = jnp.asarray(group.indices, jnp.int32)
        gamma = jnp.asarray(discounts, jnp.float32)[task]
        prev = jnp.zeros((pcfg.horizon, mcfg.action_size))
        return jax.vmap(lambda o, t, d: _planned_action(
            mcfg, pcfg, params, group, o, t, d, prev, jnp.bool_(True), jax.random.PRNGKey(0),
            False)[0])(obs, task, gamma)
    return apply


def make_planner_evaluator(env, mcfg, pcfg: plan.PlanConfig, discounts, episodes: int):
    """A jitted ((params, explore), key) -> returns [K, episodes]: every task's episodes side
    by side, each action planned by MPPI (with the planner's sampling noise where `explore`,
    a bool array: one program for both)."""
    def run_group(group, params_explore, key):
        params, explore = params_explore
        k_reset, k_act = jax.random.split(key)
        keys = jax.random.split(k_reset, episodes * group.size).reshape(episodes, group.size, -1)
        state = jax.vmap(group.reset)(keys)
        task = jnp.broadcast_to(jnp.asarray(group.indices, jnp.int32), (episodes, group.size))
        gamma = jnp.asarray(discounts, jnp.float32)[task]

        act_all = jax.vmap(jax.vmap(
            lambda obs, task, gamma, prev, first, key: _planned_action(
                mcfg, pcfg, params, group, obs, task, gamma, prev, first, key, explore)))

        def body(carry, key):
            state, prev, ret, active, first = carry
            keys = jax.random.split(key, episodes * group.size).reshape(episodes, group.size, -1)
            action, prev = act_all(state.obs, task, gamma, prev, jnp.broadcast_to(first, task.shape),
                                   keys)
            state, transition, ended = jax.vmap(lambda s, a: group.step(s, a, False))(state, action)
            ret = ret + active * transition.reward
            return (state, prev, ret, active * (1.0 - ended), jnp.bool_(False)), None

        zeros = jnp.zeros((episodes, group.size))
        prev = jnp.zeros((episodes, group.size, pcfg.horizon, mcfg.action_size))
        (_, _, ret, _, _), _ = jax.lax.scan(
            body, (state, prev, zeros, zeros + 1.0, jnp.bool_(True)),
            jax.random.split(k_act, group.episode_length))
        return ret

    return evaluation.over_groups(env, lambda g, group, params, key: run_group(group, params, key))


def _train_metrics(metrics: dict, num_tasks: int) -> TrainMetrics:
    """The learner's model-wide metrics [n] as loops' per-task columns [n, K]."""
    wide = lambda v: jnp.broadcast_to(v[:, None], (v.shape[0], num_tasks))
    critic = {f"model_{k}": wide(v) for k, v in metrics.items() if not k.startswith(("pi_", "q_"))}
    actor = {k if k.startswith("pi_") else f"pi_{k}": wide(v) for k, v in metrics.items()
             if k.startswith(("pi_", "q_"))}
    ones = jnp.ones((next(iter(metrics.values())).shape[0], num_tasks))
    return TrainMetrics(critic, actor, ones, ones)


def score_table(evaluations: dict) -> str:
    """Markdown: each evaluation mode's return per task and normalised score."""
    modes = list(evaluations)
    tasks = list(evaluations[modes[0]])
    lines = ["| evaluation | " + " | ".join(tasks) + " | normalised score |",
             "|---" * (len(tasks) + 2) + "|"]
    for mode in modes:
        ev = evaluations[mode]
        score = dmc.normalised_score(ev[t]["return_mean"] for t in tasks)
        lines.append(f"| {mode} | " + " | ".join(f"{ev[t]['return_mean']:.1f}" for t in tasks)
                     + f" | {score:.2f} |")
    return "\n".join(lines)


def world_model(run: WorldModelRun) -> dict:
    """Trains (or resumes) the world model of `run` in run.run_dir and evaluates it.

    Writes config.json, metrics.csv (every loss term, the policy prior's periodic
    evaluations), checkpoints/, model-{float32,float16,bfloat16}.msgpack (the acting files,
    `worldmodel.load`), summary.json and results.md (the planner's returns, deterministic
    and with its sampling noise, the prior's, each dtype's, the normalised score, sizes).
    Returns the summary."""
    tasks = envs.benchmark_tasks(run.benchmark, run.tasks)
    names = [t.name for t in tasks]
    mcfg = model_config(run.size, tasks)
    teacher = load_teacher(run, tasks) if run.teacher else None
    if teacher is not None and run.alpha == 0:
        teacher = None     # checked, but a zero-weight term would only cost time
    loss_cfg = wm_learner.losses.LossConfig()
    dataset, sizes = load_dataset(run, tasks, loss_cfg.horizon)
    env = envs.MultiTaskEnv(tasks)
    lengths = {t.name: g.episode_length for g in env.groups for t in g.tasks}
    discounts = [model.discount(lengths[name]) for name in names]
    learner = wm_learner.Learner(mcfg, discounts, loss_cfg, wm_learner.OptimConfig(lr=run.lr),
                                 teacher)
    info = runs.environment_info()
    axis = SeedAxis(run.seed, run.seeds)
    out_dirs = seed_runs.output_dirs(run.run_dir, axis)
    seed_runs.claim_runs(run, axis, out_dirs, info)
    state = axis.combine([learner.init(jax.random.PRNGKey(s)) for s in axis.seeds])
    num_params = model.count_params(jax.eval_shape(lambda: model.init(mcfg, jax.random.PRNGKey(0))))
    print(f"[{STAGE}] benchmark {run.benchmark}: {len(tasks)} tasks ({', '.join(names)}), "
          f"padded to {mcfg.obs_size} obs / {mcfg.action_size} actions; data "
          f"{sum(sizes):,} transitions ({', '.join(f'{n:,}' for n in sizes)}); size {run.size} "
          f"({num_params:,} parameters), {run.steps} updates of batch {run.batch_size}, "
          + (f"distilled from {run.teacher} ({model.count_params(teacher.params):,} "
             f"parameters) with alpha {run.alpha:g}, " if teacher else "no teacher, ")
          + axis.start_note()
          + f"device {info['device']}{sharding.describe([], axis.count)}; run dir {run.run_dir}",
          flush=True)

    # Each seed's batches and updates use the keys of a run of that seed alone.
    base_keys = sharding.replicate(axis.keys(1), axis.count)

    def epoch_impl(state, base_key, n):
        def one(state, key):
            k_batch, k_update = jax.random.split(key)
            batch = wm_data.sample(dataset, k_batch, run.batch_size)
            return learner.update(state, batch, k_update)
        keys = jax.random.split(jax.random.fold_in(base_key, state.step), n)
        state, metrics = jax.lax.scan(one, state, keys)
        return state, _train_metrics(metrics, len(tasks))

    epoch = jax.jit(lambda s, k, n: axis.over(lambda s1, k1: epoch_impl(s1, k1, n))(s, k),
                    static_argnums=2, donate_argnums=0)
    groups = env.groups
    periodic = evaluation.make_evaluator(env, prior_policy(mcfg, groups), run.eval_episodes)
    logs = seed_runs.metrics_logs(out_dirs, run.tensorboard)
    state = loops.run_epochs(
        state, total=run.steps, epoch_size=run.eval_every,
        epoch=lambda s, n: epoch(sharding.replicate(s, axis.count), base_keys, n),
        evaluate=seed_runs.evaluator(periodic, lambda s: tuple(s.params for _ in groups), axis),
        tasks=tasks, logs=logs, stage="world_model",
        prefix=STAGE, unit="update", rate_unit="updates",
        checkpoints=checkpoint.RunCheckpoints(run.run_dir),
        checkpoint_every=run.checkpoint_every, params=lambda s: s.params, axis=axis)
    train_s = logs[0].elapsed()

    print(f"[{STAGE}] final evaluation: {run.final_episodes} episodes per task, planning "
          f"with {run.num_samples} samples x {run.iterations} iterations", flush=True)
    pcfg = plan.PlanConfig(num_samples=run.num_samples, iterations=run.iterations,
                           num_pi_trajs=min(plan.PlanConfig.num_pi_trajs, run.num_samples // 2),
                           num_elites=min(plan.PlanConfig.num_elites, run.num_samples // 4))
    prior = evaluation.make_evaluator(env, prior_policy(mcfg, groups), run.final_episodes)
    planner = make_planner_evaluator(env, mcfg, pcfg, discounts, run.final_episodes)
    evaluators = {   # each (params, key) -> returns [K, episodes]
        "planner": lambda params, key: planner((params, jnp.bool_(False)), key),
        "planner, sampling noise on": lambda params, key: planner((params, jnp.bool_(True)), key),
        "policy prior": lambda params, key: prior(tuple(params for _ in groups), key)}
    title = (f"World model {run.size}, benchmark {run.benchmark}, {{seeds}}, {run.steps} "
             "updates" + (f", distilled (alpha {run.alpha:g})" if teacher else ", no teacher"))
    summaries = [
        write_world_model(run, seed, out, seed_state, tasks, mcfg, discounts, evaluators,
                          num_params, train_s, logs[0].elapsed(), title.format(seeds=f"seed {seed}"),
                          (env, planner_policy(mcfg, pcfg, groups, discounts)) if run.video else None)
        for seed, out, seed_state in zip(axis.seeds, out_dirs, axis.split(state))]
    modes = summaries[0]["normalised_score"]
    mean_scores = {m: float(np.mean([s["normalised_score"][m] for s in summaries])) for m in modes}
    return seed_runs.finish(run.run_dir, summaries,
                            title.format(seeds=axis.span), run.final_episodes,
                            extra={"normalised_score": mean_scores})


def write_world_model(run: WorldModelRun, seed: int, out: str, state, tasks, mcfg, discounts,
                      evaluators: dict, num_params: int, train_s: float, wall_s: float,
                      title: str, video=None) -> dict:
    """One seed's end of the stage in `out`: the final evaluations (`evaluators`: the
    planner, deterministic and with its sampling noise, and the policy prior; then the
    planner with each half-precision file's weights), the videos (`video`: the env and the
    planner's policy, with --video), the three model files, summary.json and results.md."""
    names = [t.name for t in tasks]
    key = jax.random.PRNGKey(seed + 1000)
    summarize = lambda r: evaluation.summarize(tasks, np.asarray(r))
    evaluations = {mode: summarize(fn(state.params, key)) for mode, fn in evaluators.items()}
    if video is not None:   # (env, its planner policy)
        write_videos(video[0], video[1], tuple(state.params for _ in video[0].groups), seed,
                     out, STAGE)
    sizes_bytes = {}
    for dtype in DTYPES:
        path = os.path.join(out, MODEL_FILE.format(dtype=dtype))
        acting_bytes = store.save(path, mcfg, state.params, names, discounts, dtype)
        full = len(store.to_bytes(mcfg, state.params, names, discounts, dtype, state.target_q))
        sizes_bytes[dtype] = {"file_bytes": acting_bytes, "file_bytes_with_target_q": full}
        if dtype != "float32":
            rounded = store.load(path).params      # the stored weights, back in float32
            evaluations[f"planner, {dtype} weights"] = summarize(
                evaluators["planner"](rounded, key))
        if dtype == "float16":     # acting in it (bfloat16 is emulated on most CPUs)
            evaluations[f"planner, {dtype} compute"] = summarize(   # the stored weights
                evaluators["planner"](plan.compute_in(rounded, dtype), key))
    summary = {"benchmark": run.benchmark, "stage": "world_model", "seed": seed,
               "wall_s": round(wall_s, 1), "train_s": round(train_s, 1),
               "size": run.size, "params": num_params,
               "params_with_target_q": num_params + model.count_params(state.target_q),
               "teacher": run.teacher, "alpha": run.alpha if run.teacher else 0.0,
               "updates": run.steps, "tasks": evaluations["planner"],
               "normalised_score": {m: dmc.normalised_score(e[t]["return_mean"] for t in names)
                                    for m, e in evaluations.items()},
               "evaluations": evaluations, "bytes": sizes_bytes}
    sizes_md = "\n".join(f"- {d}: {b['file_bytes']:,} bytes ({b['file_bytes_with_target_q']:,} "
                         "with target Qs)" for d, b in sizes_bytes.items())
    runs.write_results(out, summary, title, run.final_episodes,
                       extra=f"{score_table(evaluations)}\n\nParameters: {num_params:,} "
                             f"({summary['params_with_target_q']:,} with target Qs)\n\n{sizes_md}")
    return summary
