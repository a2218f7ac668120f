"""Start-up cost of a run on this machine: building the tiny 3-task mini teacher trainer,
its `init` (env reset and networks), the first evaluation and the first 150-step epoch.
Run it twice: the second run reads the persistent compilation cache.

    python bench/startup.py
"""
import time

import jax

from ktmjax import envs, evaluation, td3, teachers
from ktmjax.runs import enable_compilation_cache


def timed(name, fn):
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    print(f"{name}: {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def main():
    enable_compilation_cache()
    config = td3.TD3Config(hidden=(16, 16), batch_size=32)
    trainer = timed("trainer", lambda: teachers.TeacherTrainer(
        envs.benchmark_tasks("mini"), config, 600, "mjx", 100, 100))
    state = timed("init", lambda: trainer.init(jax.random.PRNGKey(0)))
    evaluate = evaluation.make_evaluator(trainer.env, trainer.policy_apply, 1)
    timed("first evaluation", lambda: evaluate(trainer.actor_params(state), jax.random.PRNGKey(1)))
    timed("first epoch", lambda: trainer.epoch(state, 150))


if __name__ == "__main__":
    main()
