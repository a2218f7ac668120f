"""Where the cold compile time of the online epoch goes, at Benchmark A sizes.

    python -m bench.compile_parts env|env_noreset|offline|online|online_noreset

Builds one program at the sizes of `experiments.throughput` (K=8 HalfCheetahs, 2x400 nets,
batch 256, 1e6-transition shards; 50 rounds per epoch) and prints the seconds of XLA
compilation (the persistent compilation cache is not used):
- env: 50 env steps of the 8 tasks with auto-reset (ended episodes restart from the
  envs' pools of initial states);
- env_noreset: the same without auto-reset;
- offline / online: the student's offline and online epoch functions;
- online_noreset: the online epoch with auto-reset switched off (a diagnostic only: the
  episodes would never end).
Run one part per process: jit caches would otherwise share work between parts.
"""
import json
import sys
import time

import jax
import jax.numpy as jnp

from ktmjax import envs, throughput
from ktmjax.envs import multitask

PARTS = ("env", "env_noreset", "offline", "online", "online_noreset")
ROUNDS = 50


def lowered(part: str):
    if part in ("env", "env_noreset"):
        env = envs.MultiTaskEnv(envs.benchmark_tasks("A"))
        states = env.reset(jax.random.PRNGKey(0))
        actions = tuple(jnp.zeros((g.size, g.action_size)) for g in env.groups)

        def epoch(s):
            step = lambda s, _: (env.step(s, actions, auto_reset=part == "env")[0], None)
            return jax.lax.scan(step, s, None, length=ROUNDS)[0]
        return jax.jit(epoch).lower(states)
    if part == "online_noreset":
        step = multitask.TaskGroup.step
        multitask.TaskGroup.step = lambda self, s, a, auto_reset=True: step(self, s, a, False)
    stage = "offline" if part == "offline" else "online"
    _, teacher_groups, state, _, epoch_fn = throughput.build(
        stage, "vmap", "A", (400, 400), 256, 1_000_000)
    return jax.jit(epoch_fn, static_argnums=2, donate_argnums=0).lower(
        state, teacher_groups, ROUNDS)


def main(part: str):
    if part not in PARTS:
        sys.exit(f"error: unknown part {part!r}; known: {', '.join(PARTS)}")
    program = lowered(part)
    t0 = time.perf_counter()
    program.compile()
    print(json.dumps({"part": part, "compile_s": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
