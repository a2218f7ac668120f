"""The online stage: KTM-DRL's online learning guided by the teachers (Eq. 3-5)."""
import dataclasses

import jax

from ktmjax import (checkpoint, distributed, envs, evaluation, extensions, loops, runs, sharding,
                    student, td3, teacher_store)
from ktmjax.errors import BadInput
from ktmjax.stages import config
from ktmjax.seed_axis import SeedAxis
from ktmjax.stages import seeds as seed_runs
from ktmjax.stages.config import OnlineRun
from ktmjax.stages.output import SHARED_NOTE, scale_note, term_notes, warn_teachers_at_bound

STAGE = "online"
STAGE_TERMS = "online"   # the stage of `extensions.TERMS` this one is
# What the start line says when no --from run is given: the student starts from scratch.
FRESH_START = ("a fresh student, WITHOUT offline transfer (the paper's w/o Offline "
               "ablation; for KTM-DRL give --from=<an offline_transfer run directory>)")


def resolve(run: OnlineRun) -> OnlineRun:
    """`run` with its --from run read and checked (`runs.read_student_run`: a finished
    offline run of as many seeds as run.seeds, or one) and every field left None resolved
    (`config.resolve_online_run`); the scale, where None, is the --from run's, else the
    device's (`config.default_scale`). The teachers stay None when neither `run` nor the
    --from run names them."""
    config.check_sac(run)   # before reading --from: SAC-MT takes none
    from_cfg = None
    if run.from_run:
        starts = seed_runs.student_dirs(run.from_run)
        if len(starts) not in (1, run.seeds):
            raise BadInput(f"--from={run.from_run} holds {len(starts)} seeds and --seeds="
                           f"{run.seeds}; give --seeds={len(starts)}, or one of its seed "
                           "directories")
        try:
            from_cfg = runs.read_student_run(starts[0], ("offline",))
        except BadInput as e:
            raise BadInput(f"--from={e}") from None
    if run.scale is None and run.benchmark != "mini":
        run = dataclasses.replace(run, scale=(from_cfg or {}).get("scale")
                                  or config.default_scale())
    return config.resolve_online_run(run, from_cfg)


def prepare(run: OnlineRun) -> OnlineRun:
    """`run` as the stage runs it: resolved (`resolve`), its teachers found where neither it
    nor its --from run names them (the newest finished train_teachers run under
    runs/teachers/ with every task, else the ones shipped), and its run directory checked.
    BadInput without a run_dir or teachers, or with --noempty_buffers and teachers that
    come without their training replay."""
    if not run.run_dir:
        raise BadInput("an OnlineRun needs a run_dir: the directory its run is written to")
    run = resolve(run)
    if not run.teachers:
        teachers = teacher_store.locate_teachers(run.benchmark, run.tasks, run.scale)
        if not teachers:
            raise BadInput(teacher_store.no_teachers(run.benchmark, run.tasks, run.scale))
        run = dataclasses.replace(run, teachers=teachers)
    if not run.empty_buffers and not teacher_store.has_replay(
            run.teachers, envs.benchmark_tasks(run.benchmark, run.tasks)):
        raise BadInput(f"--noempty_buffers fills D'_k from the teachers' training replays, "
                       f"and the teachers in {run.teachers} come without them; drop the flag "
                       "or pass the teachers of a train_teachers run")
    runs.check_run_dir(run.run_dir)
    warn_teachers_at_bound(run.teachers, run.benchmark, run.tasks, STAGE)
    return run


def online_student(run: OnlineRun, env, teacher_configs) -> student.Student:
    """The student of the online run `run` on `env`, learning through teachers of
    `teacher_configs` (`teacher_store.load_teachers`)."""
    net = td3.TD3Config(hidden=tuple(run.hidden), lr=run.lr, batch_size=run.batch_size,
                        policy_delay=run.policy_delay,
                        task_layers=config.task_layers(run.shared_net, env.tasks))
    return student.Student(env, teacher_configs, student.StudentConfig(
        net=net, update=run.update, alpha=run.alpha, beta=run.beta,
        target_noise=run.target_noise, warmup=run.warmup, her=run.her,
        task_id=run.task_id, algo=run.algo, **extensions.weights(run, STAGE_TERMS)))


def online_prefill(run: OnlineRun, teacher_groups):
    """What the online shards D'_k start with: nothing (None), or, with
    --noempty_buffers, the teachers' D_k."""
    return None if run.empty_buffers else tuple(t.data for t in teacher_groups)


def online_capacity(run: OnlineRun, prefill) -> int:
    """Transitions each online shard holds: every round's, plus the prefill's."""
    fills = run.rounds + (max(int(d.size.max()) for d in prefill) if prefill else 0)
    return min(run.capacity, fills)


def online(run: OnlineRun) -> dict:
    """Runs (or resumes) the online stage of `run` in run.run_dir: every round all K envs
    step once with the student's noisy action into D'_k, then (after the warm-up) one
    update of Eq. 3-5. Starts from the student of run.from_run, or from a fresh one (the
    paper's w/o Offline). Writes config.json, metrics.csv, learning_curve.png, results.md,
    summary.json and student/state (orbax); with run.seeds > 1 one such directory per seed
    (`stages.seeds`), each seed starting from its own seed of a multi-seed run.from_run.
    Fields left None are resolved first (`prepare`). Returns the summary (the aggregate
    over seeds)."""
    run = prepare(run)
    axis = SeedAxis(run.seed, run.seeds)
    tasks = envs.benchmark_tasks(run.benchmark, run.tasks)
    env = envs.MultiTaskEnv(tasks, run.backend)
    sizes = [g.size for g in env.groups]
    teacher_groups, teacher_configs, teacher_returns = teacher_store.load_teachers(
        run.teachers, env.groups, run.teacher_critic)
    learner = online_student(run, env, teacher_configs)
    starts = seed_runs.start_dirs(run.from_run, axis.count) if run.from_run else None
    prefill = online_prefill(run, teacher_groups)
    states = []
    for i, s in enumerate(axis.seeds):
        init_key, online_key = jax.random.split(jax.random.PRNGKey(s))
        state = sharding.placed(learner.init(init_key))
        if starts:
            state = checkpoint.load_student(starts[i], state)
        states.append(sharding.placed(learner.init_online(
            state, online_key, online_capacity(run, prefill), run.fresh_optimizers,
            prefill=prefill)))
    state = axis.combine(states)
    info = runs.environment_info()
    out_dirs = seed_runs.output_dirs(run.run_dir, axis)
    seed_runs.claim_runs(run, axis, out_dirs, info)
    print(f"[{STAGE}] benchmark {run.benchmark}: {len(tasks)} tasks, preset "
          f"{run.preset}, alpha={run.alpha} beta={run.beta}"
          + term_notes(run, STAGE_TERMS)
          + (", a task id in the student's state" if run.task_id else "")
          + (SHARED_NOTE if run.shared_net else "")
          + (", SAC-MT's student (algo=sac)" if run.algo == "sac" else "") + ", start: "
          f"{run.from_run or FRESH_START}; "
          f"teachers from {run.teachers} ({run.teacher_critic} critics); "
          f"{run.rounds} rounds (warm-up {run.warmup}){scale_note(run.scale)}, "
          f"update={run.update}{'' if run.her else ', w/o HER'}, "
          + axis.start_note()
          + f"device {info['device']}{sharding.describe(sizes, axis.count)}; "
          f"run dir {run.run_dir}", flush=True)

    # The teachers, shared by the seeds, have no seed axis.
    epoch = jax.jit(lambda s, t, n: axis.over(lambda s1: learner.online_epoch(s1, t, n))(s),
                    static_argnums=2, donate_argnums=0)
    teacher_groups = sharding.groups(teacher_groups, sizes, axis.count, seeded=False)
    place = lambda s: sharding.online(axis.over(learner.refill_starts)(s), sizes, axis.count)
    periodic, final = evaluation.make_evaluators(env, learner.policy_apply, run.eval_episodes,
                                                 run.final_episodes)
    params_of = lambda s: learner.eval_params(s.learner)
    logs = seed_runs.metrics_logs(out_dirs, run.tensorboard)
    state = loops.run_epochs(
        state, total=run.rounds, epoch_size=run.eval_every,
        epoch=lambda s, n: epoch(place(s), teacher_groups, n),
        evaluate=seed_runs.evaluator(periodic, params_of, axis),
        tasks=tasks, logs=logs, stage="online",
        prefix=STAGE, checkpoints=checkpoint.RunCheckpoints(run.run_dir),
        checkpoint_every=run.checkpoint_every, params=lambda s: s.learner, axis=axis)

    returns = distributed.to_host(seed_runs.evaluator(final, params_of, axis)(state, 0))
    return seed_runs.write_runs(
        run, axis, out_dirs, stage="online", prefix=STAGE,
        title=f"{'SAC-MT' if run.algo == 'sac' else 'KTM-DRL'} online, "
              f"benchmark {run.benchmark}, {{seeds}}, alpha={run.alpha} "
              f"beta={run.beta}, {run.rounds} rounds, update={run.update}",
        students=state.learner, returns=returns, wall_s=round(logs[0].elapsed(), 1),
        tasks=tasks, teacher_returns=teacher_returns, env=env, learner=learner,
        extra={"alpha": run.alpha, "beta": run.beta, "from": run.from_run})
