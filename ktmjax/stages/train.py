"""The teachers' stage: one TD3 teacher per task, all trained in one jitted program."""
import os
import time

import jax
import numpy as np

from ktmjax import checkpoint, envs, evaluation, loops, runs, sharding, td3, teachers
from ktmjax.stages.config import TeachersRun, settings
from ktmjax.stages.output import scale_note, write_videos

STAGE = "train_teachers"


def td3_config(run: TeachersRun) -> td3.TD3Config:
    """The teachers' TD3 hyper-parameters."""
    return td3.TD3Config(
        hidden=tuple(run.hidden), learning_rate=run.lr, batch_size=run.batch_size,
        gamma=run.gamma, tau=run.tau, exploration_noise=run.expl_noise,
        policy_noise=run.policy_noise, noise_clip=run.noise_clip,
        policy_delay=run.policy_delay)


def train_teachers(run: TeachersRun) -> dict:
    """Trains (or resumes) the teachers of `run` in run.run_dir: config.json, metrics.csv,
    summary.json, results.md and teachers/<Task>/ (each teacher's orbax checkpoint and its
    replay, D_k of the offline stage). Returns the summary."""
    tasks = envs.benchmark_tasks(run.benchmark, run.tasks)
    trainer = teachers.TeacherTrainer(tasks, td3_config(run), run.capacity, run.backend,
                                      run.start_steps, run.episode_length)
    info = runs.environment_info()
    runs.claim_run(run.run_dir, settings(run), info)
    print(f"[{STAGE}] benchmark {run.benchmark}: {len(tasks)} task(s) in "
          f"{len(trainer.env.groups)} group(s): "
          + "; ".join(",".join(t.name for t in g.tasks) for g in trainer.env.groups), flush=True)
    print(f"[{STAGE}] {run.steps} env steps per task{scale_note(run.scale)}, "
          f"nets {list(run.hidden)}, lr {run.lr:g}, "
          f"replay {run.capacity} per task = {trainer.replay_bytes() / 2**20:.1f} MiB, "
          f"device {info['device']} ({info['platform']})"
          f"{sharding.describe([g.size for g in trainer.env.groups])}, run dir {run.run_dir}",
          flush=True)

    state = trainer.init(jax.random.PRNGKey(run.seed))
    eval_key = jax.random.PRNGKey(run.seed + 100)  # the public code seeds eval envs seed+100
    periodic, final = evaluation.make_evaluators(trainer.env, trainer.policy_apply,
                                                 run.eval_episodes, run.final_episodes)
    start = time.time()
    warned = set()

    def epoch(s, n):   # the epoch, then a warning for each actor newly stuck at a bound
        s, losses = trainer.epoch(s, n)
        for name in sorted(set(trainer.actors_at_bound(s)) - warned):
            print(f"[{STAGE}] warning: {name}: {teachers.AT_BOUND_NOTE}", flush=True)
            warned.add(name)
        return s, losses

    state = loops.run_epochs(
        state, total=run.steps, epoch_size=run.eval_every, epoch=epoch,
        evaluate=lambda s, i: periodic(trainer.actor_params(s), jax.random.fold_in(eval_key, i)),
        tasks=tasks, log=runs.MetricsLog(run.run_dir, run.tensorboard),
        stage="teachers", prefix=STAGE, checkpoints=checkpoint.RunCheckpoints(run.run_dir),
        checkpoint_every=run.checkpoint_every, params=lambda s: [g.learner for g in s.groups],
        unit="step", rate_unit="env steps", per_unit_work=len(tasks))

    returns = np.asarray(final(trainer.actor_params(state), jax.random.fold_in(eval_key, 0)))
    if run.video:
        write_videos(trainer.env, trainer.policy_apply, trainer.actor_params(state), run.seed,
                     run.run_dir, STAGE)
    summary_tasks = evaluation.summarize(tasks, returns)
    at_bound = trainer.actors_at_bound(state)
    teachers.save_teachers(run.run_dir, trainer, state, summary_tasks, at_bound)
    summary = {"benchmark": run.benchmark, "stage": "teachers", "seed": run.seed,
               "wall_s": round(time.time() - start, 1), "env_steps": run.steps,
               "tasks": summary_tasks}
    runs.write_results(run.run_dir, summary,
                       f"TD3 teachers, benchmark {run.benchmark}, seed {run.seed}, "
                       f"{run.steps} env steps per task, {run.final_episodes} "
                       "deterministic episodes each")
    print(f"teachers saved in {os.path.join(run.run_dir, 'teachers')}", flush=True)
    for name in at_bound:
        print(f"warning: the {name} teacher is not usable: {teachers.AT_BOUND_NOTE}", flush=True)
    return summary
