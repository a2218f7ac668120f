"""The compression stage (Kuzmenko & Shvai 2025): a compact student distilled from a
trained student (or, as the baseline, from the teachers), its actor quantised, and each
dtype's return, size and speed measured."""
import dataclasses
import os
from typing import Any, NamedTuple, Optional

import jax

from ktmjax import (acting, checkpoint, distributed, envs, evaluation, layout, loops, policy,
                    runs, sharding, td3, teacher_data, teacher_store)
from ktmjax import compress as compression
from ktmjax.errors import BadInput
from ktmjax.stages import config
from ktmjax.stages.config import CompressRun, settings
from ktmjax.stages.output import scale_note, write_videos

STAGE = "compress"
SPEED_BATCHES = (1, 1024)   # batch sizes of the actions-per-second measurement


def resolve(run: CompressRun) -> CompressRun:
    """`run` with its source read and checked (exactly one of run.from_run, a finished
    offline_transfer or online run, and run.teachers) and every field left None set: the
    benchmark, tasks, task id, widths and teachers of the --from run (or, from teachers,
    the benchmark's tasks and its preset's task id), the scale (given, else the --from
    run's, else the device's) and the benchmark's sizes at it. BadInput, saying what is
    wrong, otherwise."""
    if run.source is None and bool(run.from_run) == bool(run.teachers):
        raise BadInput("give exactly one of --from=RUN (the student to compress) and "
                       "--teachers=DIR (train the compact network directly from the teachers)")
    source_cfg = None
    if run.from_run:
        try:
            source_cfg = runs.read_student_run(run.from_run, ("offline", "online"))
        except BadInput as e:
            raise BadInput(f"--from={e}") from None
        special = config.special_student(source_cfg)
        if special:
            raise BadInput(f"--from={run.from_run} holds {special}, which compress does not "
                           "distil; give a student of plain networks")
    benchmark = source_cfg["benchmark"] if source_cfg else (run.benchmark or "mini")
    if run.benchmark not in (None, benchmark):
        raise BadInput(f"--from={run.from_run} is a run of benchmark {benchmark}, not "
                       f"{run.benchmark}; drop --benchmark or give a run of it")
    scale = run.scale or (source_cfg or {}).get("scale")
    if benchmark == "mini":
        if run.scale is not None:
            raise BadInput(f"--scale={run.scale} applies to benchmarks A and B; mini has its "
                           "own CPU sizes: drop --scale")
        scale = None
    elif scale is None:
        scale = config.default_scale()
    elif scale not in config.SCALES:
        raise BadInput(f"unknown --scale={scale}; known: {', '.join(config.SCALES)}")
    d = config.scaled_defaults(config.COMPRESS_DEFAULTS, config.COMPRESS_CPU_SCALE,
                               benchmark, scale)
    pick = lambda name: d[name] if getattr(run, name) is None else getattr(run, name)
    eval_every, rollout_steps = pick("eval_every"), pick("rollout_steps")
    if rollout_steps < run.batch_size:
        raise BadInput(f"--rollout_steps={rollout_steps} must be at least --batch_size")
    checkpoint_every = run.checkpoint_every
    if checkpoint_every is None:
        checkpoint_every = config.default_checkpoint_every(eval_every, benchmark, scale)
    elif checkpoint_every <= 0 or checkpoint_every % eval_every:
        raise BadInput(f"--checkpoint_every={checkpoint_every} must be a positive multiple of "
                       f"--eval_every={eval_every}")
    if source_cfg:
        if run.source == "student":    # resolved before: its fields are the --from run's
            source = {}
        elif run.task_id is not None or run.tasks:
            raise BadInput("--task_id and --tasks are the --from run's; drop them")
        else:
            source = dict(tasks=tuple(source_cfg["tasks"]),
                          task_id=bool(source_cfg.get("task_id", False)),
                          source_hidden=tuple(source_cfg["hidden"]),
                          teachers=source_cfg["teachers"], teacher_critic=None)
    else:
        if not os.path.isdir(run.teachers):
            raise BadInput(f"--teachers={run.teachers} does not exist; give a train_teachers "
                           "run or exported teachers")
        try:
            tasks = envs.benchmark_tasks(benchmark, run.tasks or None)
            teacher_store.find_teacher_dirs(run.teachers, tasks)
        except ValueError as e:
            raise BadInput(str(e)) from None
        default_id = config.student_terms(config.DEFAULT_PRESET[benchmark], "offline")["task_id"]
        source = dict(tasks=tuple(t.name for t in tasks),
                      task_id=default_id if run.task_id is None else run.task_id)
    return dataclasses.replace(
        run, benchmark=benchmark, source="student" if run.from_run else "teachers",
        scale=scale, rounds=pick("rounds"), eval_every=eval_every, rollout_steps=rollout_steps,
        checkpoint_every=checkpoint_every, hidden=tuple(run.hidden), **source)


class Distillation(NamedTuple):
    """What the compact student learns from, and what it is measured against."""
    env: envs.MultiTaskEnv
    compressor: compression.Compressor
    source_params: Any             # the large student's or the stacked teachers' parameters
    data: tuple                    # per group: the source's noisy rollouts (the states)
    teacher_returns: dict
    source_returns: dict
    source_policy: Optional[policy.Policy]   # the large student's float32 actor
    source_critic_bytes: Optional[int]


def tree_bytes(tree) -> int:
    return int(sum(x.nbytes for x in jax.tree.leaves(tree)))


def distillation(run: CompressRun) -> Distillation:
    """The source of `run` (the student of run.from_run, or the teachers), its rollouts and
    the compact student's `Compressor`."""
    tasks = envs.benchmark_tasks(run.benchmark, run.tasks)
    env = envs.MultiTaskEnv(tasks, run.backend)
    lay = layout.TaskLayout.from_tasks(tasks, run.task_id)
    net = td3.TD3Config(hidden=tuple(run.hidden), lr=run.lr,
                        batch_size=run.batch_size)
    rollout_key = jax.random.PRNGKey(run.seed + 1)
    if run.source == "student":
        _, _, teacher_returns = teacher_store.load_teachers(run.teachers, env.groups)
        source = compression.StudentSource(lay, env.groups, run.source_hidden)
        like = td3.state_shapes(lay.student_obs_size, lay.action_max,
                                td3.TD3Config(hidden=tuple(run.source_hidden)))
        large = checkpoint.load_student(run.from_run, like)
        source_params = source.params(large)
        print(f"[{STAGE}] D: {run.rollout_steps} steps per task of the large student's "
              f"rollouts (noise {run.rollout_noise:g})", flush=True)
        data = acting.noisy_rollouts(env, source.act, source_params, run.rollout_steps,
                                     rollout_key, run.rollout_noise)
        summary = runs.read_json(runs.RunDir(run.from_run).summary)
        source_returns = {n: r["return_mean"] for n, r in summary["tasks"].items()}
        source_policy = policy.from_actor(large.actor_params, lay, list(run.tasks))
        source_critic_bytes = tree_bytes(large.critic_params)
    else:
        groups, configs, teacher_returns = teacher_store.load_teachers(
            run.teachers, env.groups, run.teacher_critic)
        source = compression.TeachersSource(env.groups, configs)
        source_params = source.params(groups)
        print(f"[{STAGE}] D: {run.rollout_steps} steps per task of the teachers' "
              f"rollouts (noise {run.rollout_noise:g})", flush=True)
        data = tuple(g.data for g in teacher_data.rollout_data(
            env, groups, configs, run.rollout_steps, rollout_key, run.rollout_noise))
        source_returns, source_policy, source_critic_bytes = dict(teacher_returns), None, None
    compressor = compression.Compressor(env, lay, source, compression.CompressConfig(
        net=net, q_weight=run.q_weight, match_weight=run.match_weight))
    return Distillation(env, compressor, source_params, data, teacher_returns,
                        source_returns, source_policy, source_critic_bytes)


def compress(run: CompressRun) -> dict:
    """Distils and quantises (or resumes) the compact student of `run` in run.run_dir:
    config.json, metrics.csv, learning_curve.png, results.md (per-task returns and ratios,
    the size and speed table), summary.json, student/state (float32, orbax) and
    policy.msgpack (the actor in run.dtype). Fields left None are resolved first
    (`resolve`); a run directory holding a finished run, or a started one with other
    settings, is refused. Returns the summary."""
    if not run.run_dir:
        raise BadInput("a CompressRun needs a run_dir: the directory its run is written to")
    run = resolve(run)
    runs.check_run_dir(run.run_dir)
    runs.check_settings(run.run_dir, settings(run))
    d = distillation(run)
    env, compressor = d.env, d.compressor
    tasks = envs.benchmark_tasks(run.benchmark, run.tasks)
    info = runs.environment_info()
    runs.claim_run(run.run_dir, settings(run), info)
    origin = (f"the student of {run.from_run}" if run.from_run
              else f"the teachers in {run.teachers}")
    print(f"[{STAGE}] benchmark {run.benchmark}: {len(tasks)} tasks; source: {origin}"
          f"; compact student {list(run.hidden)}, {run.rounds} rounds{scale_note(run.scale)}, "
          f"q_weight {run.q_weight:g}, match_weight {run.match_weight:g}, lr {run.lr:g}, "
          f"deployed as {run.dtype}, device {info['device']}"
          f"{sharding.describe([g.size for g in env.groups])}; run dir {run.run_dir}", flush=True)

    state = compressor.init(jax.random.PRNGKey(run.seed))
    sizes = [g.size for g in env.groups]
    data = sharding.groups(d.data, sizes)
    source_params = (sharding.groups(d.source_params, sizes) if run.source == "teachers"
                     else sharding.replicate(d.source_params))
    epoch = jax.jit(compressor.epoch, static_argnums=3, donate_argnums=0)
    eval_key = jax.random.PRNGKey(run.seed + 100)
    periodic = evaluation.make_evaluator(env, compressor.policy_apply, run.eval_episodes)
    logs = [runs.MetricsLog(run.run_dir, run.tensorboard)]
    state = loops.run_epochs(
        state, total=run.rounds, epoch_size=run.eval_every,
        epoch=lambda s, n: epoch(sharding.replicate(s), source_params, data, n),
        evaluate=lambda s, i: periodic(compressor.eval_params(s), jax.random.fold_in(eval_key, i)),
        tasks=tasks, logs=logs, stage="compress",
        prefix=STAGE, checkpoints=checkpoint.RunCheckpoints(run.run_dir),
        checkpoint_every=run.checkpoint_every, params=lambda s: s)
    state = td3.hard_targets(state)
    checkpoint.save(runs.RunDir(run.run_dir).student_state, state)

    critic_bytes = tree_bytes(state.critic_params)
    per_dtype = {}
    for dtype in policy.DTYPES:
        deployed = policy.from_actor(state.actor_params, compressor.layout, list(run.tasks),
                                     dtype)
        apply = policy.group_apply(dtype, compressor.layout, env.groups)
        params = (deployed.layers,) * len(env.groups)
        final = evaluation.make_evaluator(env, apply, run.final_episodes)
        returns = distributed.to_host(final(params, jax.random.fold_in(eval_key, 0)))
        per_dtype[dtype] = {
            "tasks": evaluation.summarize(tasks, returns, d.teacher_returns),
            "actor_params": deployed.num_params, "actor_bytes": deployed.nbytes,
            "critic_bytes": critic_bytes,
            "actions_per_s": {str(b): compression.actions_per_second(deployed, b)
                              for b in SPEED_BATCHES}}
        print(f"[{STAGE}] {dtype}: " + ", ".join(
            f"{n}={r['return_mean']:.0f}" for n, r in per_dtype[dtype]["tasks"].items())
              + f" | actor {deployed.nbytes:,} bytes", flush=True)
        if dtype == run.dtype:
            policy.save(deployed, os.path.join(run.run_dir, "policy.msgpack"))
            if run.video:
                write_videos(env, apply, params, run.seed, run.run_dir, STAGE)

    source = {"tasks": d.source_returns}
    if d.source_policy is not None:
        source.update(actor_params=d.source_policy.num_params,
                      actor_bytes=d.source_policy.nbytes, critic_bytes=d.source_critic_bytes,
                      actions_per_s={str(b): compression.actions_per_second(d.source_policy, b)
                                     for b in SPEED_BATCHES})
    chosen = per_dtype[run.dtype]["tasks"]
    for name, row in chosen.items():
        row["source_return"] = float(d.source_returns[name])
        row["source_ratio"] = row["return_mean"] / row["source_return"]
    summary = {"benchmark": run.benchmark, "stage": "compress", "seed": run.seed,
               "wall_s": round(logs[0].elapsed(), 1), "rounds": run.rounds,
               "source": run.source, "from": run.from_run, "teachers": run.teachers,
               "hidden": list(run.hidden), "dtype": run.dtype, "q_weight": run.q_weight,
               "match_weight": run.match_weight, "rollout_noise": run.rollout_noise,
               "tasks": chosen, "dtypes": per_dtype, "source_agent": source}
    runs.write_results(run.run_dir, summary,
                       f"Compact student {list(run.hidden)} ({run.dtype}) of benchmark "
                       f"{run.benchmark}, distilled from "
                       f"{'the student of ' + run.from_run if run.from_run else 'the teachers'}, "
                       f"seed {run.seed}, {run.rounds} rounds", run.final_episodes,
                       extra=compression.size_table(summary))
    print(f"policy saved in {os.path.join(run.run_dir, 'policy.msgpack')}", flush=True)
    return summary
