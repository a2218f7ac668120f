"""The offline stage: KTM-DRL's knowledge transfer from the teachers (Eq. 1-2)."""
import os
import time

import jax
import numpy as np

from ktmjax import checkpoint, envs, evaluation, loops, runs, sharding, student, td3, teachers
from ktmjax.errors import BadInput
from ktmjax.stages.config import OfflineRun, settings
from ktmjax.stages.output import scale_note, term_note, write_videos

STAGE = "offline_transfer"


def offline_transfer(run: OfflineRun) -> dict:
    """Distils the teachers in run.teachers into one student (or resumes): D_k is composed
    (`teachers.offline_data`), then run.rounds rounds of Eq. 1-2 on a batch of every task's
    D_k, evaluations every run.eval_every rounds. Writes config.json, metrics.csv,
    learning_curve.png, results.md, summary.json (each task's return and ratio to its
    teacher) and student/state (orbax) to run.run_dir. Returns the summary."""
    tasks = envs.benchmark_tasks(run.benchmark, run.tasks)
    env = envs.MultiTaskEnv(tasks, run.backend)
    teacher_groups, teacher_configs, teacher_returns = teachers.load_teachers(
        run.teachers, env.groups, run.teacher_critic)
    if run.data != "replay":
        print(f"[{STAGE}] D_k: {run.rollout_steps} teacher rollout steps per task"
              + (" added to the teachers' replays" if run.data == "both" else ""), flush=True)
    teacher_groups = teachers.offline_data(
        env, teacher_groups, teacher_configs, run.data, run.rollout_steps,
        jax.random.PRNGKey(run.seed + 1), run.rollout_noise, keep_rollouts=bool(run.critic_grad))
    smallest = min(int(t.data.size.min()) for t in teacher_groups)
    if smallest < run.batch_size:
        raise BadInput(f"the batch of {run.batch_size} transitions per task is larger than "
                       f"the smallest D_k ({smallest} transitions); lower it")
    net = td3.TD3Config(hidden=tuple(run.hidden), learning_rate=run.lr,
                        batch_size=run.batch_size)
    learner = student.Student(env, teacher_configs, student.StudentConfig(
        net=net, update=run.update, offline_actor_delay=run.offline_actor_delay,
        her=run.her, critic_grad_weight=run.critic_grad, actor_match_weight=run.actor_match,
        task_id=run.task_id))
    info = runs.environment_info()
    runs.claim_run(run.run_dir, settings(run), info)
    lay = learner.layout
    print(f"[{STAGE}] benchmark {run.benchmark}: {len(tasks)} tasks, padded to "
          f"{lay.obs_max} obs{' + a task id' if lay.task_id else ''} / {lay.action_max} "
          f"actions; teachers from {run.teachers} ({run.teacher_critic} critics); "
          f"{run.rounds} rounds{scale_note(run.scale)}, preset {run.preset}, "
          f"update={run.update}{'' if run.her else ', w/o HER'}, "
          f"student nets {list(run.hidden)}, lr {run.lr:g}"
          + term_note("critic_grad", run.critic_grad, "Eq. 1")
          + term_note("actor_match", run.actor_match, "Eq. 2") + ", "
          f"device {info['device']}{sharding.describe([g.size for g in env.groups])}; "
          f"run dir {run.run_dir}", flush=True)

    state = learner.init(jax.random.PRNGKey(run.seed))
    teacher_groups = learner.place_teachers(teacher_groups)
    epoch = jax.jit(learner.offline_epoch, static_argnums=2, donate_argnums=0)
    eval_key = jax.random.PRNGKey(run.seed + 100)
    periodic, final = evaluation.make_evaluators(env, learner.policy_apply, run.eval_episodes,
                                                 run.final_episodes)
    start = time.time()
    state = loops.run_epochs(
        state, total=run.rounds, epoch_size=run.eval_every,
        epoch=lambda s, n: epoch(sharding.replicate(s), teacher_groups, n),
        evaluate=lambda s, i: periodic(learner.eval_params(s), jax.random.fold_in(eval_key, i)),
        tasks=tasks, log=runs.MetricsLog(run.run_dir, run.tensorboard), stage="offline",
        prefix=STAGE, checkpoints=checkpoint.RunCheckpoints(run.run_dir),
        checkpoint_every=run.checkpoint_every, params=lambda s: s)
    state = learner.finish_offline(state)

    returns = np.asarray(final(learner.eval_params(state), jax.random.fold_in(eval_key, 0)))
    if run.video:
        write_videos(env, learner.policy_apply, learner.eval_params(state), run.seed,
                     run.run_dir, STAGE)
    checkpoint.save(os.path.join(run.run_dir, "student", "state"), state)
    summary = {"benchmark": run.benchmark, "stage": "offline", "seed": run.seed,
               "wall_s": round(time.time() - start, 1), "rounds": run.rounds,
               "update": run.update, "teachers": run.teachers,
               "tasks": evaluation.summarize(tasks, returns, teacher_returns)}
    runs.write_results(run.run_dir, summary,
                       f"KTM-DRL offline transfer, benchmark {run.benchmark}, seed "
                       f"{run.seed}, {run.rounds} rounds, update={run.update}, "
                       f"{run.final_episodes} deterministic episodes per task")
    print(f"student saved in {os.path.join(run.run_dir, 'student')}", flush=True)
    return summary
