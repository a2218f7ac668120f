"""Throughput of ktmjax's real offline or online round: rounds per second, XLA's FLOP count
of a round, and the matmul peak of the device measured on the spot."""
import dataclasses
import time

import jax
import jax.numpy as jnp

from ktmjax import envs, replay, sharding, student, td3, teacher_store

STAGES = ("offline", "online")


def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of the best of `repeats` float32 [n, n] @ [n, n] matmuls on the default device."""
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    matmul = jax.jit(lambda x, y: x @ y)
    matmul(a, a).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        matmul(a, a).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def build(stage, update, benchmark, hidden, batch_size, capacity, tasks=None, algo="td3"):
    """The real round of `stage` at these sizes (the benchmark's tasks, or the named subset),
    with random teachers and full shards of random transitions; `algo` "sac" is SAC-MT's
    online round (no teachers, actor every round). Returns (env, teacher groups, state,
    round fn, epoch fn)."""
    env = envs.MultiTaskEnv(envs.benchmark_tasks(benchmark, tasks))
    net = td3.TD3Config(hidden=tuple(hidden), batch_size=batch_size)
    key = jax.random.PRNGKey(0)
    teacher_groups = teacher_store.random_teachers(env.groups, net, capacity, key)
    sac = dict(alpha=0.0, algo="sac") if algo == "sac" else {}
    learner = student.Student(env, (net,) * len(env.groups), student.StudentConfig(
        net=dataclasses.replace(net, policy_delay=1) if sac else net, update=update, warmup=0,
        **sac))
    state = sharding.placed(learner.init(jax.random.PRNGKey(1)))
    if stage == "offline":
        return env, teacher_groups, state, learner.offline_round, learner.offline_epoch
    state = sharding.placed(learner.init_online(state, jax.random.PRNGKey(2), capacity, prefill=tuple(
        replay.random_full(g.size, capacity, g.obs_size, g.action_size,
                           jax.random.PRNGKey(3 + i))
        for i, g in enumerate(env.groups))))
    state = sharding.online(state, [g.size for g in env.groups])
    return env, teacher_groups, state, learner.online_round, learner.online_epoch


def measure(stage, update, benchmark, rounds, repeats, hidden, batch_size, capacity,
            tasks=None, algo="td3") -> dict:
    env, teacher_groups, state, one_round, epoch_fn = build(
        stage, update, benchmark, hidden, batch_size, capacity, tasks, algo)

    # FLOPs of one round, as XLA counts them (a round alone, not inside a loop).
    flops = jax.jit(one_round).lower(state, teacher_groups).compile().cost_analysis()
    flops = (flops[0] if isinstance(flops, (list, tuple)) else flops).get("flops", 0.0)

    epoch = jax.jit(epoch_fn, static_argnums=2, donate_argnums=0)
    t0 = time.perf_counter()
    compiled = epoch.lower(state, teacher_groups, rounds).compile()
    compile_s = time.perf_counter() - t0
    state = jax.block_until_ready(compiled(state, teacher_groups))[0]       # warm-up epoch
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        state = jax.block_until_ready(compiled(state, teacher_groups))[0]
        best = min(best, time.perf_counter() - t0)
    rounds_per_s = rounds / best
    return {
        "stage": stage, "update": update, "algo": algo, "device": str(jax.devices()[0].device_kind),
        "tasks": len(env.tasks), "batch": batch_size, "hidden": list(hidden),
        "compile_s": round(compile_s, 2), "rounds_per_s": round(rounds_per_s, 3),
        "gflop_per_round": float(f"{flops / 1e9:.4g}"),
        "gflops_achieved": float(f"{flops / 1e9 * rounds_per_s:.4g}"),
        "gflops_matmul_peak": round(matmul_peak_gflops(), 2),
    }
