"""The offline stage: KTM-DRL's knowledge transfer from the teachers (Eq. 1-2)."""
import dataclasses

import jax

from ktmjax import (checkpoint, distributed, envs, evaluation, extensions, loops, runs, sharding,
                    student, td3, teacher_data, teacher_store)
from ktmjax.errors import BadInput
from ktmjax.seed_axis import SeedAxis
from ktmjax.stages import seeds as seed_runs
from ktmjax.stages import config
from ktmjax.stages.config import OfflineRun
from ktmjax.stages.output import SHARED_NOTE, scale_note, term_notes, warn_teachers_at_bound
from ktmjax.stages.train import train_teachers

STAGE = "offline_transfer"
STAGE_TERMS = "offline"   # the stage of `extensions.TERMS` this one is


def prepare(run: OfflineRun) -> OfflineRun:
    """`run` as the stage runs it: its teachers found where none are given (the newest
    finished train_teachers run under runs/teachers/ with every task, else the ones shipped;
    for mini, trained first), every field left None resolved (`config.resolve_offline_run`),
    and its run directory checked, a started run with other settings refused before any
    teacher is trained. BadInput without a run_dir or teachers."""
    if not run.run_dir:
        raise BadInput("an OfflineRun needs a run_dir: the directory its run is written to")
    given = run.teachers
    teachers = given or teacher_store.locate_teachers(run.benchmark, run.tasks, run.scale)
    if teachers and not given:
        print(f"[{STAGE}] teachers: {teachers}", flush=True)
    if not teachers and run.benchmark != "mini":
        raise BadInput(teacher_store.no_teachers(run.benchmark, run.tasks, run.scale))
    tasks = envs.benchmark_tasks(run.benchmark, run.tasks)
    run = config.resolve_offline_run(
        dataclasses.replace(run, teachers=teachers),
        teacher_store.has_replay(teachers, tasks) if teachers else True)
    runs.check_run_dir(run.run_dir)
    runs.check_settings(run.run_dir, config.settings(run), ignore=() if given else ("teachers",))
    if not run.teachers:
        print(f"[{STAGE}] no mini teachers under runs/teachers/ nor shipped for these tasks: "
              "training them first (15 to 25 minutes on a 2-core CPU)", flush=True)
        run_dir = runs.default_run_dir("teachers", f"mini-seed{run.seed}")
        train_teachers(config.default_teachers_run("mini", run.tasks, run.seed, run_dir))
        run = dataclasses.replace(run, teachers=run_dir)
    warn_teachers_at_bound(run.teachers, run.benchmark, run.tasks, STAGE)
    return run


def offline_transfer(run: OfflineRun) -> dict:
    """Distils the teachers in run.teachers into one student (or resumes): D_k is composed
    (`teacher_data.offline_data`), then run.rounds rounds of Eq. 1-2 on a batch of every task's
    D_k, evaluations every run.eval_every rounds. Writes config.json, metrics.csv,
    learning_curve.png, results.md, summary.json (each task's return and ratio to its
    teacher) and student/state (orbax) to run.run_dir (with run.seeds > 1: one such
    directory per seed, `stages.seeds`). Fields left None are resolved first (`prepare`).
    Returns the summary (the aggregate over seeds)."""
    run = prepare(run)
    axis = SeedAxis(run.seed, run.seeds)
    tasks = envs.benchmark_tasks(run.benchmark, run.tasks)
    env = envs.MultiTaskEnv(tasks, run.backend)
    sizes = [g.size for g in env.groups]
    loaded, teacher_configs, teacher_returns = teacher_store.load_teachers(
        run.teachers, env.groups, run.teacher_critic)
    if run.data != "replay":
        print(f"[{STAGE}] D_k: {run.rollout_steps} teacher rollout steps per task"
              + (" added to the teachers' replays" if run.data == "both" else "")
              + (f", for each of {axis.count} seeds" if axis.count > 1 else ""), flush=True)
    per_seed = [teacher_data.offline_data(
        env, loaded, teacher_configs, run.data, run.rollout_steps, jax.random.PRNGKey(s + 1),
        run.rollout_noise, keep_rollouts=bool(run.critic_grad)) for s in axis.seeds]
    smallest = min(int(t.data.size.min()) for t in per_seed[0])
    if smallest < run.batch_size:
        raise BadInput(f"the batch of {run.batch_size} transitions per task is larger than "
                       f"the smallest D_k ({smallest} transitions); lower it")
    net = td3.TD3Config(hidden=tuple(run.hidden), lr=run.lr, batch_size=run.batch_size,
                        task_layers=config.task_layers(run.shared_net, tasks))
    learner = student.Student(env, teacher_configs, student.StudentConfig(
        net=net, update=run.update, offline_actor_delay=run.offline_actor_delay,
        her=run.her, task_id=run.task_id, **extensions.weights(run, STAGE_TERMS)))
    info = runs.environment_info()
    out_dirs = seed_runs.output_dirs(run.run_dir, axis)
    seed_runs.claim_runs(run, axis, out_dirs, info)
    lay = learner.layout
    print(f"[{STAGE}] benchmark {run.benchmark}: {len(tasks)} tasks, padded to "
          f"{lay.obs_max} obs{' + a task id' if lay.task_id else ''} / {lay.action_max} "
          f"actions; teachers from {run.teachers} ({run.teacher_critic} critics); "
          f"{run.rounds} rounds{scale_note(run.scale)}, preset {run.preset}, "
          f"update={run.update}{'' if run.her else ', w/o HER'}, "
          f"student nets {list(run.hidden)}{SHARED_NOTE if run.shared_net else ''}, lr {run.lr:g}"
          + term_notes(run, STAGE_TERMS) + ", "
          + axis.start_note()
          + f"device {info['device']}{sharding.describe(sizes, axis.count)}; "
          f"run dir {run.run_dir}", flush=True)

    state = axis.combine([sharding.placed(learner.init(jax.random.PRNGKey(s)))
                          for s in axis.seeds])
    teacher_groups = sharding.groups(axis.combine(per_seed), sizes, axis.count)
    epoch = jax.jit(
        lambda s, t, n: axis.over(lambda s1, t1: learner.offline_epoch(s1, t1, n))(s, t),
        static_argnums=2, donate_argnums=0)
    periodic, final = evaluation.make_evaluators(env, learner.policy_apply, run.eval_episodes,
                                                 run.final_episodes)
    logs = seed_runs.metrics_logs(out_dirs, run.tensorboard)
    state = loops.run_epochs(
        state, total=run.rounds, epoch_size=run.eval_every,
        epoch=lambda s, n: epoch(sharding.replicate(s, axis.count), teacher_groups, n),
        evaluate=seed_runs.evaluator(periodic, learner.eval_params, axis),
        tasks=tasks, logs=logs, stage="offline",
        prefix=STAGE, checkpoints=checkpoint.RunCheckpoints(run.run_dir),
        checkpoint_every=run.checkpoint_every, params=lambda s: s, axis=axis)
    state = axis.over(learner.finish_offline)(state)

    returns = distributed.to_host(seed_runs.evaluator(final, learner.eval_params, axis)(state, 0))
    return seed_runs.write_runs(
        run, axis, out_dirs, stage="offline", prefix=STAGE,
        title=f"KTM-DRL offline transfer, benchmark {run.benchmark}, {{seeds}}, {run.rounds} "
              f"rounds, update={run.update}",
        students=state, returns=returns, wall_s=round(logs[0].elapsed(), 1), tasks=tasks,
        teacher_returns=teacher_returns, env=env, learner=learner)
