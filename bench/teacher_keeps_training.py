"""Does a trained teacher keep its return when TD3 simply goes on training it?

    python bench/teacher_keeps_training.py runs/teachers/mini-seed0-20261121-092000 [STEPS] [EVERY]

Loads every teacher of a finished train_teachers run (its whole TD3 state: actor, critics,
targets, Adam states) and its replay, and continues the teacher trainer's own TD3 epochs
with the run's settings for STEPS more env steps (default 10000), from fresh episodes.
Prints the 3-episode evaluation return of every task every EVERY steps (default 2000).
This separates TD3's own behaviour on a task from what the KTM-DRL online stage adds.
"""
import os
import sys

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments import train_teachers  # noqa: E402
from ktmjax import checkpoint, envs, evaluation, runs, td3, teachers  # noqa: E402


def main(run_dir, steps=10_000, every=2_000):
    runs.enable_compilation_cache()
    cfg = runs.read_json(os.path.join(run_dir, "config.json"))
    config = train_teachers.td3_config(cfg)
    tasks = envs.benchmark_tasks(cfg["benchmark"], cfg["tasks"])
    trainer = teachers.TeacherTrainer(tasks, config, cfg["capacity"], cfg["backend"],
                                      start_steps=0, episode_length=cfg["episode_length"])
    state = trainer.init(jax.random.PRNGKey(cfg["seed"] + 1))
    dirs = teachers.find_teacher_dirs(run_dir, tasks)
    groups = []
    for group, gs in zip(trainer.env.groups, state.groups):
        like = td3.init(jax.random.PRNGKey(0), group.obs_size, group.action_size, config)
        learners = [checkpoint.load(os.path.join(dirs[t.name], "state"), like) for t in group.tasks]
        datas = [checkpoint.load(os.path.join(dirs[t.name], "replay")) for t in group.tasks]
        groups.append(gs.replace(learner=jax.tree.map(lambda *x: jnp.stack(x), *learners),
                                 replay=teachers._replay_from_arrays(datas)))
    state = td3.placed(state.replace(groups=tuple(groups), step=jnp.asarray(cfg["steps"])))
    evaluate = evaluation.make_evaluator(trainer.env, trainer.policy_apply, 3)
    key = jax.random.PRNGKey(100)

    def report(done):
        returns = evaluate(trainer.actor_params(state), key).mean(axis=1)
        print(f"+{done} steps: " + ", ".join(f"{t.name}={float(r):.1f}"
                                            for t, r in zip(tasks, returns)), flush=True)

    report(0)
    for done in range(every, steps + 1, every):
        state, _ = trainer.epoch(state, every)
        report(done)


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:]))
