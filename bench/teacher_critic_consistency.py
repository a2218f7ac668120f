"""How well a critic can guide an actor: the argmax of Q1 and its action gradient.

    python bench/teacher_critic_consistency.py runs/teachers/<run>/teachers/<Task> [--last=N] [RUN_DIR ...]

For 2048 states of the teacher's replay (with --last=N, of its newest N transitions only:
the trained teacher's own states, where the online stage acts), scans a grid of 81 actions (1-D actions only) and
prints, for the teacher's online and target critics and for the critic of each student
RUN_DIR (an offline_transfer or online run whose student has the teacher's sizes: on
`mini`, InvertedDoublePendulum's), one row:
- `|argmax-actor|`: mean distance between the grid argmax of Q1 and the teacher's action;
- `max-Q(actor)`: mean Q1 the teacher's actor leaves on the table;
- `dQ/da` and `corr`: mean |dQ1/da| at the teacher's action, and its correlation over the
  states with the teacher target critic's (the critic the student distils);
- `Q rmse`: root mean square of Q1(actor) minus the target critic's.
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

from ktmjax import checkpoint, networks, td3  # noqa: E402


def main(task_dir: str, *args: str) -> None:
    options = [a for a in args if a.startswith("--")]
    run_dirs = [a for a in args if not a.startswith("--")]
    last = [a.split("=", 1)[1] for a in options if a.startswith("--last=")]
    if len(options) != len(last) or len(last) > 1 or not all(n.isdigit() and int(n) > 0
                                                               for n in last):
        sys.exit(f"error: options {' '.join(options)}: the one option is --last=N, N > 0")
    last = [int(n) for n in last]
    meta = json.load(open(os.path.join(task_dir, "teacher.json")))
    if meta["action_size"] != 1:
        sys.exit("error: only teachers of 1-D actions are supported by this scan")
    config = td3.TD3Config(hidden=tuple(meta["hidden"]))
    like = td3.init(jax.random.PRNGKey(0), meta["obs_size"], 1, config)
    state = checkpoint.load(os.path.join(task_dir, "state"), like)
    data = checkpoint.load(os.path.join(task_dir, "replay"))
    size = data["obs"].shape[0]
    rows = np.random.RandomState(0).randint(size - min(last + [size]), size, 2048)
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
        sizes = json.load(open(os.path.join(run, "config.json"))).get("hidden")
        if tuple(sizes or ()) != config.hidden:
            sys.exit(f"error: the student of {run} has hidden sizes {sizes}, the teacher "
                     f"{list(config.hidden)}; compare students of the teacher's sizes")
        student = checkpoint.load(os.path.join(run, "student", "state"), like)
        critics.append((f"student {run}", student.critic_params))
    _, _, ref_q, ref_grad = measures(state.target_critic_params)
    for name, params in critics:
        best, gap, q_actor, grad = measures(params)
        print(f"{meta['task']} {name}: |argmax-actor| {float(jnp.mean(jnp.abs(best - action[:, 0]))):.3f}"
              f", max-Q(actor) {float(jnp.mean(gap)):.3f}, dQ/da {float(jnp.mean(jnp.abs(grad))):.3f}"
              f", corr {float(jnp.corrcoef(grad, ref_grad)[0, 1]):.3f}"
              f", Q rmse {float(jnp.sqrt(jnp.mean(jnp.square(q_actor - ref_q)))):.2f}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(*sys.argv[1:])
