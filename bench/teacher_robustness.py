"""How much error a trained teacher's policy tolerates: its return with a constant bias
added to every action.

    python bench/teacher_robustness.py TEACHERS_RUN_DIR [BIAS,BIAS,...]
    python bench/teacher_robustness.py runs/teachers/mini-seed0-20261202-044834

A distilled student never acts exactly like its teacher; a small systematic error in its
action is what Eq. 2 (and --actor_match) leave behind. This evaluates every teacher of a
`train_teachers` run with its deterministic action plus a constant bias (clipped to the
action bound; default biases -0.05, -0.02, -0.01, 0, 0.01, 0.02, 0.05), 10 episodes each,
and prints one row per task: the mean return at each bias. A teacher that loses much of
its return at a bias of 0.01-0.02 is one a student can match only by luck
(docs/results.md).
"""
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ktmjax import envs, evaluation, runs, td3, teachers  # noqa: E402

DEFAULT_BIASES = (-0.05, -0.02, -0.01, 0.0, 0.01, 0.02, 0.05)
EPISODES = 10


def main(run_dir: str, biases_text: str = "") -> None:
    try:
        biases = (tuple(float(b) for b in biases_text.split(",") if b.strip())
                  or DEFAULT_BIASES)
    except ValueError:
        sys.exit(f"error: biases {biases_text!r}: give numbers, e.g. -0.02,0,0.02")
    config_path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(config_path):
        sys.exit(f"error: {run_dir} is not a train_teachers run (no config.json)")
    runs.enable_compilation_cache()
    cfg = runs.read_json(config_path)
    tasks = envs.benchmark_tasks(cfg["benchmark"], cfg["tasks"])
    env = envs.MultiTaskEnv(tasks)
    try:
        groups, configs, returns = teachers.load_teachers(run_dir, env.groups)
    except runs.BadInput as e:
        sys.exit(f"error: {e}")

    def policy(g, params, obs):
        actor_params, bias = params
        action = td3.stacked_policy(actor_params, obs, env.groups[g].action_size, configs[g])
        return jnp.clip(action + bias, -1.0, 1.0)

    evaluate = evaluation.make_evaluator(env, policy, EPISODES)
    table = np.zeros((len(tasks), len(biases)))
    for column, bias in enumerate(biases):
        params = tuple((g.actor_params, jnp.float32(bias)) for g in groups)
        table[:, column] = np.asarray(evaluate(params, jax.random.PRNGKey(0))).mean(axis=1)
    print(f"teachers of {run_dir}: mean return of {EPISODES} episodes with a constant bias "
          "added to every action")
    print("| task | saved return | " + " | ".join(f"bias {b:+g}" for b in biases) + " |")
    print("|---|---|" + "---|" * len(biases))
    for i, task in enumerate(tasks):
        print(f"| {task.name} | {returns[task.name]:.1f} | "
              + " | ".join(f"{r:.0f}" for r in table[i]) + " |")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(*sys.argv[1:])
