"""The online stage: KTM-DRL's online learning guided by the teachers (Eq. 3-5)."""
import os
import time

import jax
import numpy as np

from ktmjax import checkpoint, envs, evaluation, loops, runs, sharding, student, td3, teachers
from ktmjax.stages.config import OnlineRun, settings
from ktmjax.stages.output import scale_note, term_note, write_videos

STAGE = "online"


def online(run: OnlineRun) -> dict:
    """Runs (or resumes) the online stage of `run` in run.run_dir: every round all K envs
    step once with the student's noisy action into D'_k, then (after the warm-up) one
    update of Eq. 3-5. Starts from the student of run.from_run, or from a fresh one (the
    paper's w/o Offline). Writes config.json, metrics.csv, learning_curve.png, results.md,
    summary.json and student/state (orbax). Returns the summary."""
    tasks = envs.benchmark_tasks(run.benchmark, run.tasks)
    env = envs.MultiTaskEnv(tasks, run.backend)
    teacher_groups, teacher_configs, teacher_returns = teachers.load_teachers(
        run.teachers, env.groups, run.teacher_critic)
    net = td3.TD3Config(hidden=tuple(run.hidden), learning_rate=run.lr,
                        batch_size=run.batch_size, policy_delay=run.policy_delay)
    learner = student.Student(env, teacher_configs, student.StudentConfig(
        net=net, update=run.update, alpha=run.alpha, beta=run.beta,
        target_noise=run.target_noise, warmup_rounds=run.warmup, her=run.her,
        actor_match_weight=run.actor_match, task_id=run.task_id))
    init_key, online_key = jax.random.split(jax.random.PRNGKey(run.seed))
    state = learner.init(init_key)
    if run.from_run:
        state = checkpoint.load_student(run.from_run, state)
    prefill = None if run.empty_buffers else tuple(t.data for t in teacher_groups)
    fills = run.rounds + (max(int(d.size.max()) for d in prefill) if prefill else 0)
    state = learner.init_online(state, online_key, min(run.capacity, fills),
                                run.fresh_optimizers, prefill=prefill)
    info = runs.environment_info()
    runs.claim_run(run.run_dir, settings(run), info)
    print(f"[{STAGE}] benchmark {run.benchmark}: {len(tasks)} tasks, preset "
          f"{run.preset}, alpha={run.alpha} beta={run.beta}"
          + term_note("actor_match", run.actor_match, "Eq. 5")
          + (", a task id in the student's state" if run.task_id else "") + ", start: "
          f"{run.from_run or 'fresh student (w/o Offline)'}; "
          f"teachers from {run.teachers} ({run.teacher_critic} critics); "
          f"{run.rounds} rounds (warm-up {run.warmup}){scale_note(run.scale)}, "
          f"update={run.update}{'' if run.her else ', w/o HER'}, device {info['device']}"
          f"{sharding.describe([g.size for g in env.groups])}; run dir {run.run_dir}",
          flush=True)

    teacher_groups = learner.place_teachers(teacher_groups)
    epoch = jax.jit(learner.online_epoch, static_argnums=2, donate_argnums=0)
    eval_key = jax.random.PRNGKey(run.seed + 100)
    periodic, final = evaluation.make_evaluators(env, learner.policy_apply, run.eval_episodes,
                                                 run.final_episodes)
    start = time.time()
    state = loops.run_epochs(
        state, total=run.rounds, epoch_size=run.eval_every,
        epoch=lambda s, n: epoch(learner.place_online(learner.refill_starts(s)),
                                 teacher_groups, n),
        evaluate=lambda s, i: periodic(learner.eval_params(s.learner),
                                       jax.random.fold_in(eval_key, i)),
        tasks=tasks, log=runs.MetricsLog(run.run_dir, run.tensorboard), stage="online",
        prefix=STAGE, checkpoints=checkpoint.RunCheckpoints(run.run_dir),
        checkpoint_every=run.checkpoint_every, params=lambda s: s.learner)

    params = learner.eval_params(state.learner)
    returns = np.asarray(final(params, jax.random.fold_in(eval_key, 0)))
    if run.video:
        write_videos(env, learner.policy_apply, params, run.seed, run.run_dir, STAGE)
    checkpoint.save(os.path.join(run.run_dir, "student", "state"), state.learner)
    summary = {"benchmark": run.benchmark, "stage": "online", "seed": run.seed,
               "wall_s": round(time.time() - start, 1), "rounds": run.rounds,
               "alpha": run.alpha, "beta": run.beta, "from": run.from_run,
               "update": run.update, "teachers": run.teachers,
               "tasks": evaluation.summarize(tasks, returns, teacher_returns)}
    runs.write_results(run.run_dir, summary,
                       f"KTM-DRL online, benchmark {run.benchmark}, seed {run.seed}, "
                       f"alpha={run.alpha} beta={run.beta}, {run.rounds} rounds, "
                       f"update={run.update}, {run.final_episodes} deterministic "
                       "episodes per task")
    print(f"student saved in {os.path.join(run.run_dir, 'student')}", flush=True)
    return summary
