"""How well a critic can guide an actor: the argmax of Q1 and its action gradient.

    python bench/teacher_critic_consistency.py runs/teachers/<run>/teachers/<Task> [--last=N | --rollouts=N] [RUN_DIR ...]

For 2048 states of the teacher's replay (with --last=N, of its newest N transitions only;
with --rollouts=N, of N steps of fresh rollouts of the finished teacher with N(0, 0.1^2)
exploration noise: the states where the online stage acts, as the offline
student starts out as the teacher), scans a grid of 81 actions (1-D actions only) and
prints, for the teacher's online and target critics and for the critic of each student
RUN_DIR (an offline_transfer or online run whose student has the teacher's sizes: on
`mini`, InvertedDoublePendulum's), one row:
- `|argmax-actor|`: mean distance between the grid argmax of Q1 and the teacher's action;
- `max-Q(actor)`: mean Q1 the teacher's actor leaves on the table;
- `dQ/da` and `corr`: mean |dQ1/da| at the teacher's action, and its correlation over the
  states with the teacher target critic's (the critic the student distils);
- `Q rmse`: root mean square of Q1(actor) minus the target critic's;
- for a student, `|student-actor|`: the mean distance between its own action and the
  teacher's on those states (what --actor_match pulls down).
A critic whose argmax sits far from the actor, or whose action gradient does not follow
the teacher's, makes a poor guide for Eq. 2 and Eq. 5.
"""
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ktmjax import checkpoint, networks, runs, td3  # noqa: E402


def _rollout_states(task_dir: str, task: str, steps: int) -> dict:
    """{"obs": [steps, s]}: the states of `steps` env steps of the finished teacher acting
    with N(0, 0.1^2) exploration noise (teachers.rollout_data, as offline --data=both)."""
    from ktmjax import envs, runs, teachers
    runs.enable_compilation_cache()
    teachers_dir = os.path.dirname(os.path.dirname(os.path.abspath(task_dir)))
    benchmark = json.load(open(os.path.join(teachers_dir, "config.json")))["benchmark"]
    env = envs.MultiTaskEnv(envs.benchmark_tasks(benchmark, [task]))
    groups, configs, _ = teachers.load_teachers(teachers_dir, env.groups)
    rolled = teachers.rollout_data(env, groups, configs, steps, jax.random.PRNGKey(12345))
    return {"obs": np.asarray(rolled[0].rollouts.obs[0])}


def main(task_dir: str, *args: str) -> None:
    options = [a for a in args if a.startswith("--")]
    run_dirs = [a for a in args if not a.startswith("--")]
    values = [a.split("=", 1) for a in options]
    if (len(values) > 1 or any(len(v) != 2 or v[0] not in ("--last", "--rollouts")
                               or not v[1].isdigit() or int(v[1]) < 1 for v in values)):
        sys.exit(f"error: options {' '.join(options)}: one of --last=N or --rollouts=N, "
                 "N > 0")
    option, count = (values[0][0], int(values[0][1])) if values else (None, 0)
    meta = json.load(open(os.path.join(task_dir, "teacher.json")))
    if meta["action_size"] != 1:
        sys.exit("error: only teachers of 1-D actions are supported by this scan")
    config = td3.TD3Config(hidden=tuple(meta["hidden"]))
    like = td3.init(jax.random.PRNGKey(0), meta["obs_size"], 1, config)
    state = checkpoint.load(os.path.join(task_dir, "state"), like)
    if option == "--rollouts":
        data = _rollout_states(task_dir, meta["task"], count)
    else:
        data = checkpoint.load(os.path.join(task_dir, "replay"))
    size = data["obs"].shape[0]
    first = size - count if option == "--last" else 0
    rows = np.random.RandomState(0).randint(max(first, 0), size, 2048)
    obs = jnp.asarray(data["obs"][rows])
    grid = jnp.linspace(-1.0, 1.0, 81)
    critic, actor = config.critic(), config.actor(1)
    action = actor.apply(state.actor_params, obs)

    def measures(params):
        q = jax.vmap(lambda a: critic.apply(params, obs, jnp.full((obs.shape[0], 1), a))[0])(grid)
        q_actor = networks.q1(critic, params, obs, action)
        dqda = networks.q1_action_grad(critic, params, obs, action)
        return grid[jnp.argmax(q, axis=0)], q.max(axis=0) - q_actor, q_actor, dqda[:, 0]

    critics = [("teacher online", state.critic_params),
               ("teacher target", state.target_critic_params)]
    for run in run_dirs:
        run_cfg = json.load(open(os.path.join(run, "config.json")))
        refusal = runs.task_id_refusal(run_cfg, run, "the teacher's states do not hold")
        if refusal:
            sys.exit(refusal)
        sizes = run_cfg.get("hidden")
        if tuple(sizes or ()) != config.hidden:
            sys.exit(f"error: the student of {run} has hidden sizes {sizes}, the teacher "
                     f"{list(config.hidden)}; compare students of the teacher's sizes")
        student = checkpoint.load(os.path.join(run, "student", "state"), like)
        own = actor.apply(student.actor_params, obs)
        critics.append((f"student {run}", student.critic_params,
                        f", |student-actor| {float(jnp.mean(jnp.abs(own - action))):.4f}"))
    _, _, ref_q, ref_grad = measures(state.target_critic_params)
    for name, params, *extra in critics:
        best, gap, q_actor, grad = measures(params)
        print(f"{meta['task']} {name}: |argmax-actor| {float(jnp.mean(jnp.abs(best - action[:, 0]))):.3f}"
              f", max-Q(actor) {float(jnp.mean(gap)):.3f}, dQ/da {float(jnp.mean(jnp.abs(grad))):.3f}"
              f", corr {float(jnp.corrcoef(grad, ref_grad)[0, 1]):.3f}"
              f", Q rmse {float(jnp.sqrt(jnp.mean(jnp.square(q_actor - ref_q)))):.2f}"
              + "".join(extra), flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(*sys.argv[1:])
