"""The settings spine: a stage's dataclass, its command's flags and its config.json keys are
one spelling, and runs started before a stage's flags were generated still resume."""
import dataclasses
import importlib

import pytest
from absl import flags

from ktmjax import envs, stages
from ktmjax.errors import BadInput
from ktmjax.stages import config

# config.json of a B teacher run started with
# `train_teachers --benchmark=B --scale=cpu --seed=0 --tasks=Hopper --steps=300000
#  --run_dir=runs/teachers/B-cpu-Hopper-seed0` before the flags were generated.
STARTED_TEACHERS = {
    "benchmark": "B", "tasks": ["Hopper"], "steps": 300000, "seed": 0, "hidden": [256, 256],
    "lr": 0.001, "eval_every": 10000, "checkpoint_every": 50000,
    "run_dir": "runs/teachers/B-cpu-Hopper-seed0", "backend": "mjx", "tensorboard": False,
    "batch_size": 256, "gamma": 0.99, "tau": 0.005, "expl_noise": 0.1, "policy_noise": 0.2,
    "noise_clip": 0.5, "policy_delay": 2, "start_steps": None, "capacity": 300000,
    "eval_episodes": 3, "final_episodes": 10, "episode_length": 1000, "scale": "cpu"}


def test_a_teachers_run_resolves_to_the_settings_of_a_run_started_before():
    run = config.resolve_teachers_run(stages.TeachersRun(
        benchmark="B", tasks=("Hopper",), steps=300_000, scale="cpu",
        run_dir="runs/teachers/B-cpu-Hopper-seed0"))
    assert config.settings(run) == STARTED_TEACHERS
    assert config.from_settings(stages.TeachersRun, STARTED_TEACHERS) == run


@pytest.mark.parametrize("name, scale, steps, hidden, episode_length", [
    ("mini", None, 100_000, (256, 256), 1000), ("A", "paper", 1_000_000, (400, 400), 1000),
    ("dmc", "cpu", 100_000, (256, 256), 500)])
def test_fields_left_none_take_the_benchmarks_values(name, scale, steps, hidden,
                                                     episode_length):
    run = config.resolve_teachers_run(stages.TeachersRun(benchmark=name, scale=scale,
                                                         run_dir="r"))
    assert run.tasks == tuple(t.name for t in envs.benchmark_tasks(name))
    assert (run.steps, run.hidden, run.episode_length) == (steps, hidden, episode_length)
    assert run.capacity == min(1_000_000, steps) and run.checkpoint_every % run.eval_every == 0
    given = config.resolve_teachers_run(dataclasses.replace(run, steps=5_000, hidden=(8,)))
    assert (given.steps, given.hidden, given.capacity) == (5_000, (8,), 5_000)
    assert config.resolve_teachers_run(given) == given        # resolving twice changes nothing
    with pytest.raises(BadInput, match="run_dir"):
        config.resolve_teachers_run(dataclasses.replace(given, run_dir=""))


def test_the_teachers_flags_are_the_fields_of_its_run():
    importlib.import_module("experiments.train_teachers")   # defines the flags
    for field in dataclasses.fields(stages.TeachersRun):
        default = flags.FLAGS[field.name].default
        assert (tuple(default) if isinstance(default, list) else default) == field.default
        assert flags.FLAGS[field.name].help == field.metadata["help"]
