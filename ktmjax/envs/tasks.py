"""The task registry: every task ktmjax knows, and the benchmarks that group them."""
import dataclasses

from ktmjax.envs import dmc, morphology


@dataclasses.dataclass(frozen=True)
class Task:
    """One continuous-control task.

    Attributes:
      name: the task's name, e.g. 'HalfCheetahBigFoot'.
      obs_size, action_size: sizes of the raw (unpadded) observation and action.
      action_bound: the actuator bound that a normalised action in [-1, 1] is scaled to
        when the env steps (Brax envs do that scaling themselves).
      family: the Brax robot the task's model derives from. Tasks of one family share one
        model topology; their physics models are stacked on a task axis and stepped
        under one vmap.
      start_steps: default number of uniform-random start-up steps of a TD3 teacher
        (TD3 used 1K for the pendulum tasks and 10K for locomotion).
    """
    name: str
    obs_size: int
    action_size: int
    action_bound: float
    family: str
    start_steps: int


def _halfcheetah(name):
    return Task(name, 17, 6, 1.0, "halfcheetah", 10_000)


_PENDULUM_TASKS = (
    Task("InvertedPendulum", 4, 1, 3.0, "inverted_pendulum", 1_000),
    Task("InvertedPendulumBigPole", 4, 1, 3.0, "inverted_pendulum", 1_000),
    Task("InvertedDoublePendulum", 8, 1, 1.0, "inverted_double_pendulum", 1_000),
)
_ROBOT_TASKS = (
    Task("Ant", 27, 8, 1.0, "ant", 10_000),
    Task("Hopper", 11, 3, 1.0, "hopper", 10_000),
    Task("Walker2d", 17, 6, 1.0, "walker2d", 10_000),
    _halfcheetah("HalfCheetah"),
)
# DM Control (MuJoCo Playground): actions already in [-1, 1]; 5K random start-up steps.
_DMC_TASKS = tuple(Task(name, obs, act, 1.0, dmc.FAMILY_PREFIX + name, 5_000)
                   for name, obs, act in dmc.MT30_TASKS)
TASKS = {t.name: t for t in (
    *_ROBOT_TASKS, *_PENDULUM_TASKS, *_DMC_TASKS,
    *(_halfcheetah(n) for n in morphology.BENCHMARK_A_ORDER))}

BENCHMARKS = {
    # Benchmark A: eight HalfCheetah morphologies (17 obs / 6 actions each).
    "A": morphology.BENCHMARK_A_ORDER,
    # Benchmark B: six different robots.
    "B": ("Ant", "Hopper", "Walker2d", "HalfCheetah", "InvertedPendulum",
          "InvertedDoublePendulum"),
    # CPU preset: cheap tasks, two observation sizes, one stacked pair.
    "mini": ("InvertedPendulum", "InvertedPendulumBigPole", "InvertedDoublePendulum"),
    # DM Control tasks of MT30 (MuJoCo Playground): six by default, --tasks any of the 19.
    "dmc": dmc.DEFAULT,
}

# Tasks a benchmark accepts in --tasks beyond its default set.
OPTIONAL_TASKS = {"dmc": tuple(name for name, _, _ in dmc.MT30_TASKS)}


def benchmark_tasks(name: str, tasks=None) -> tuple:
    """The tasks of a benchmark, in order; `tasks` (names) keeps a subset, in benchmark order.

    Raises ValueError naming the known benchmarks (or tasks) on an unknown name.
    """
    if name not in BENCHMARKS:
        raise ValueError(
            f"unknown benchmark {name!r}; known benchmarks: {', '.join(BENCHMARKS)}")
    names = BENCHMARKS[name]
    if tasks:
        allowed = OPTIONAL_TASKS.get(name, names)
        unknown = [t for t in tasks if t not in allowed]
        if unknown:
            raise ValueError(
                f"task(s) {', '.join(unknown)} not in benchmark {name}; "
                f"its tasks: {', '.join(allowed)}")
        if len(set(tasks)) != len(tasks):
            raise ValueError(f"task list {','.join(tasks)} names a task twice")
        names = [n for n in allowed if n in tasks]
    return tuple(TASKS[n] for n in names)
