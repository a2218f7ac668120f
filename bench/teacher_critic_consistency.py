"""How far a trained teacher's actor is from the argmax of its own critics.

    python bench/teacher_critic_consistency.py runs/teachers/<run>/teachers/<Task>

For 2048 states of the teacher's replay, scans a grid of 81 actions per action dimension
(1-D actions only) and prints, for the online and the target critic, the mean distance
between the grid argmax of Q1 and the teacher's action, and the mean Q1 the actor leaves
on the table. A critic whose argmax sits far from the actor makes a poor guide for Eq. 2.
"""
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

from ktmjax import checkpoint, td3


def main(task_dir: str) -> None:
    meta = json.load(open(os.path.join(task_dir, "teacher.json")))
    if meta["action_size"] != 1:
        sys.exit("error: only teachers of 1-D actions are supported by this scan")
    config = td3.TD3Config(hidden=tuple(meta["hidden"]))
    like = td3.init(jax.random.PRNGKey(0), meta["obs_size"], 1, config)
    state = checkpoint.load(os.path.join(task_dir, "state"), like)
    data = checkpoint.load(os.path.join(task_dir, "replay"))
    rows = np.random.RandomState(0).randint(0, data["obs"].shape[0], 2048)
    obs = jnp.asarray(data["obs"][rows])
    grid = jnp.linspace(-1.0, 1.0, 81)
    critic, actor = config.critic(), config.actor(1)
    action = actor.apply(state.actor_params, obs)[:, 0]
    for name in ("critic_params", "target_critic_params"):
        params = getattr(state, name)
        q = jax.vmap(lambda a: critic.apply(params, obs, jnp.full((obs.shape[0], 1), a))[0])(grid)
        best = grid[jnp.argmax(q, axis=0)]
        q_actor = critic.apply(params, obs, action[:, None])[0]
        print(f"{meta['task']} {name}: mean |argmax Q1 - actor| = "
              f"{float(jnp.mean(jnp.abs(best - action))):.3f}, mean max Q1 - Q1(actor) = "
              f"{float(jnp.mean(q.max(axis=0) - q_actor)):.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
