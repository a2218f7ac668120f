"""Environments: the benchmark registry, MJCF variants, and K tasks stepped at once."""
from ktmjax.envs.morphology import halfcheetah_variant_xml
from ktmjax.envs.multitask import EnvState, MultiTaskEnv, TaskGroup, Transition, group_tasks
from ktmjax.envs.robots import BACKENDS, make_env
from ktmjax.envs.tasks import BENCHMARKS, TASKS, Task, benchmark_tasks

__all__ = ["BACKENDS", "BENCHMARKS", "EnvState", "MultiTaskEnv", "TASKS", "Task", "TaskGroup",
           "Transition", "benchmark_tasks", "group_tasks", "halfcheetah_variant_xml", "make_env"]
