"""The teachers' stage: one TD3 teacher per task, all trained in one jitted program."""
import dataclasses
import os

import jax

from ktmjax import (checkpoint, distributed, envs, evaluation, loops, runs, sharding, td3,
                    teacher_store, teachers)
from ktmjax.seed_axis import SeedAxis
from ktmjax.stages import seeds as seed_runs
from ktmjax.stages import config
from ktmjax.stages.config import TeachersRun
from ktmjax.stages.output import scale_note, write_videos

STAGE = "train_teachers"


def td3_config(run: TeachersRun) -> td3.TD3Config:
    """The teachers' TD3 hyper-parameters: every `TD3Config` field, from the `TeachersRun`
    field of the same name (a teacher is one task: no SharedNet task layers)."""
    values = {f.name: getattr(run, f.name) for f in dataclasses.fields(td3.TD3Config)
              if f.name != "task_layers"}
    return td3.TD3Config(**dict(values, hidden=tuple(run.hidden)))


def train_teachers(run: TeachersRun) -> dict:
    """Trains (or resumes) the teachers of `run` in run.run_dir: config.json, metrics.csv,
    summary.json, results.md and teachers/<Task>/ (each teacher's orbax checkpoint and its
    replay, D_k of the offline stage). With run.seeds > 1, the seeds train in one program
    and each writes RUN_DIR/seed<s>/ as such a run (`stages.seeds`); RUN_DIR holds the
    aggregate summary. Fields left None take the benchmark's values
    (`config.resolve_teachers_run`). Returns the summary."""
    run = config.resolve_teachers_run(run)
    tasks = envs.benchmark_tasks(run.benchmark, run.tasks)
    axis = SeedAxis(run.seed, run.seeds)
    trainer = teachers.TeacherTrainer(tasks, td3_config(run), run.capacity, run.backend,
                                      run.start_steps, run.episode_length, axis)
    info = runs.environment_info()
    out_dirs = seed_runs.output_dirs(run.run_dir, axis)
    seed_runs.claim_runs(run, axis, out_dirs, info)
    print(f"[{STAGE}] benchmark {run.benchmark}: {len(tasks)} task(s) in "
          f"{len(trainer.env.groups)} group(s): "
          + "; ".join(",".join(t.name for t in g.tasks) for g in trainer.env.groups), flush=True)
    print(f"[{STAGE}] {run.steps} env steps per task{scale_note(run.scale)}, "
          f"nets {list(run.hidden)}, lr {run.lr:g}, "
          f"replay {run.capacity} per task = {trainer.replay_bytes() / 2**20:.1f} MiB, "
          + axis.start_note()
          + f"device {info['device']} ({info['platform']})"
          f"{sharding.describe([g.size for g in trainer.env.groups], axis.count)}, "
          f"run dir {run.run_dir}",
          flush=True)

    state = axis.combine([trainer.init(jax.random.PRNGKey(s)) for s in axis.seeds])
    periodic, final = evaluation.make_evaluators(trainer.env, trainer.policy_apply,
                                                 run.eval_episodes, run.final_episodes)
    # Each seed's evaluations use the keys of that seed alone (the public code seeds its
    # evaluation envs with seed + 100).
    periodic, final = (seed_runs.evaluator(e, trainer.actor_params, axis)
                       for e in (periodic, final))
    logs = seed_runs.metrics_logs(out_dirs, run.tensorboard)
    warned = set()

    def epoch(s, n):   # the epoch, then a warning for each actor newly stuck at a bound
        s, losses = trainer.epoch(s, n)
        for seed, seed_state in zip(axis.seeds, axis.split(s)):
            for name in sorted(set(trainer.actors_at_bound(seed_state)) - warned):
                print(f"[{STAGE}] warning: {name}{axis.of(seed)}: {teacher_store.AT_BOUND_NOTE}",
                      flush=True)
                warned.add(name)
        return s, losses

    state = loops.run_epochs(
        state, total=run.steps, epoch_size=run.eval_every, epoch=epoch, evaluate=periodic,
        tasks=tasks, logs=logs,
        stage="teachers", prefix=STAGE, checkpoints=checkpoint.RunCheckpoints(run.run_dir),
        checkpoint_every=run.checkpoint_every, params=lambda s: [g.learner for g in s.groups],
        unit="step", rate_unit="env steps", per_unit_work=len(tasks), axis=axis)

    returns = distributed.to_host(final(state, 0))
    wall_s = round(logs[0].elapsed(), 1)
    return seed_runs.write_each(
        run.run_dir, axis, out_dirs, state, returns,
        lambda seed, out, seed_state, seed_returns: write_teachers(
            run, seed, out, trainer, seed_state, seed_returns, wall_s),
        title(run, axis.span), run.final_episodes)


def title(run: TeachersRun, seeds: str) -> str:
    return f"TD3 teachers, benchmark {run.benchmark}, {seeds}, {run.steps} env steps per task"


def write_teachers(run: TeachersRun, seed: int, out: str, trainer, state, returns,
                   wall_s: float) -> dict:
    """One seed's end of the stage in `out`: videos (with run.video), teachers/<Task>/,
    summary.json and results.md. Returns the summary."""
    if run.video:
        write_videos(trainer.env, trainer.policy_apply, trainer.actor_params(state), seed, out,
                     STAGE)
    summary_tasks = evaluation.summarize(trainer.tasks, returns)
    at_bound = trainer.actors_at_bound(state)
    teacher_store.save_teachers(out, trainer, state, summary_tasks, at_bound)
    summary = {"benchmark": run.benchmark, "stage": "teachers", "seed": seed,
               "wall_s": wall_s, "env_steps": run.steps, "tasks": summary_tasks}
    runs.write_results(out, summary, title(run, f"seed {seed}"), run.final_episodes)
    print(f"teachers saved in {os.path.join(out, 'teachers')}", flush=True)
    for name in at_bound:
        print(f"warning: the {name} teacher is not usable: {teacher_store.AT_BOUND_NOTE}", flush=True)
    return summary
