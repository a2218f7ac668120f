"""How fast a world model updates and plans on the default device: model updates per
second (TD-MPC2's whole update at batch B, random data) and planner actions per second
(one MPPI action for one observation)."""
import time

import jax
import jax.numpy as jnp

from ktmjax.worldmodel import learner, model, plan

# MT30's shapes: 30 tasks, observations padded to 24 entries, actions to 6.
MT30_SHAPES = dict(obs_size=24, action_size=6, action_sizes=(6,) * 30)


def _best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return best


def rates(size: str, batch: int = 256, updates: int = 20, actions: int = 20,
          repeats: int = 3, pcfg: plan.PlanConfig = plan.PlanConfig(), shapes=None) -> dict:
    """{params, updates_per_s, actions_per_s, compile_s} of the `size` model on MT30's
    shapes (or `shapes`), timing `updates` updates and `actions` planned actions in one
    jitted loop each (the best of `repeats`)."""
    shapes = shapes or MT30_SHAPES
    cfg = model.ModelConfig.of_size(size, shapes["obs_size"], shapes["action_size"],
                                    shapes["action_sizes"])
    trainer = learner.Learner(cfg, [0.99] * cfg.num_tasks)
    state = trainer.init(jax.random.PRNGKey(0))
    H = pcfg.horizon
    k = jax.random.split(jax.random.PRNGKey(1), 3)
    batch_data = {"obs": jax.random.normal(k[0], (H + 1, batch, cfg.obs_size)),
                  "action": jax.random.uniform(k[1], (H, batch, cfg.action_size), minval=-1),
                  "reward": jax.random.uniform(k[2], (H, batch)),
                  "task": jnp.arange(batch, dtype=jnp.int32) % cfg.num_tasks}

    @jax.jit
    def train(state):
        return jax.lax.scan(lambda s, key: trainer.update(s, batch_data, key), state,
                            jax.random.split(jax.random.PRNGKey(2), updates))[0]

    @jax.jit
    def act(params):
        def one(prev, key):
            a, mean = plan.plan(cfg, pcfg, params, batch_data["obs"][0, 0], jnp.int32(0), prev,
                                jnp.bool_(False), 0.99, key, jnp.bool_(False))
            return mean, a
        return jax.lax.scan(one, jnp.zeros((H, cfg.action_size)),
                            jax.random.split(jax.random.PRNGKey(3), actions))[1]

    t0 = time.perf_counter()
    state = jax.block_until_ready(train(state))
    jax.block_until_ready(act(state.params))
    compile_s = time.perf_counter() - t0
    return {"size": size, "params": model.count_params(state.params), "batch": batch,
            "updates_per_s": round(updates / _best_time(lambda: train(state), repeats), 2),
            "actions_per_s": round(actions / _best_time(lambda: act(state.params), repeats), 2),
            "compile_s": round(compile_s, 1)}
