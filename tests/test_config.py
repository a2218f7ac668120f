"""The settings spine: a stage's dataclass, its command's flags and its config.json keys are
one spelling, and runs started before a stage's flags were generated still resume."""
import dataclasses
import subprocess
import sys

import pytest

from ktmjax import envs, stages
from ktmjax.errors import BadInput
from ktmjax.stages import config
from tests.conftest import ROOT

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


# config.json settings of offline_transfer runs started before its flags were generated:
# `--benchmark=A --scale=cpu` with shipped teachers (no replay), and `--benchmark=mini`
# with the teachers of a train_teachers run (their replays).
A_TASKS = ["HalfCheetahSmallTorso", "HalfCheetahBigTorso", "HalfCheetahSmallThigh",
           "HalfCheetahBigThigh", "HalfCheetahSmallLeg", "HalfCheetahBigLeg",
           "HalfCheetahSmallFoot", "HalfCheetahBigFoot"]
COMMON_OFFLINE = {"backend": "mjx", "batch_size": 256, "eval_episodes": 3, "final_episodes": 10,
                  "her": True, "hidden": [256, 256], "lr": 0.001, "offline_actor_delay": 1,
                  "run_dir": "r", "seed": 0, "teacher_critic": "target", "teachers": "T",
                  "tensorboard": False}
STARTED_OFFLINE = [
    (stages.OfflineRun(benchmark="A", scale="cpu", teachers="T", run_dir="r"), False,
     {**COMMON_OFFLINE, "benchmark": "A", "checkpoint_every": 10000, "critic_grad": 0.0,
      "data": "rollouts", "eval_every": 5000, "preset": "paper", "rollout_noise": 0.3,
      "rollout_steps": 50000, "rounds": 40000, "scale": "cpu", "tasks": A_TASKS,
      "update": "sequential"}),
    (stages.OfflineRun(teachers="T", run_dir="r"), True,
     {**COMMON_OFFLINE, "actor_match": 1000.0, "benchmark": "mini", "checkpoint_every": 2000,
      "critic_grad": 30.0, "critic_grad_states": "rollouts", "data": "both", "eval_every": 2000,
      "preset": "robust", "rollout_steps": 60000, "rounds": 10000, "task_id": True,
      "update": "vmap",
      "tasks": ["InvertedPendulum", "InvertedPendulumBigPole", "InvertedDoublePendulum"]}),
]


@pytest.mark.parametrize("run, replay, started", STARTED_OFFLINE)
def test_an_offline_run_resolves_to_the_settings_of_a_run_started_before(run, replay, started):
    resolved = config.resolve_offline_run(run, replay)
    assert config.settings(resolved) == started
    assert config.from_settings(stages.OfflineRun, started) == resolved
    assert config.resolve_offline_run(resolved, replay) == resolved   # twice: no change


def test_offline_data_the_teachers_cannot_give_is_refused():
    with pytest.raises(BadInput, match="needs the teachers' training replay"):
        config.resolve_offline_run(stages.OfflineRun(data="replay", teachers="T"), False)
    with pytest.raises(BadInput, match="rollout states"):
        config.resolve_offline_run(stages.OfflineRun(data="replay", critic_grad=1.0), True)


CHECK_FLAGS = """
import dataclasses, importlib, sys
from absl import flags
from ktmjax import stages
module, cls = sys.argv[1], getattr(stages, sys.argv[2])
importlib.import_module("experiments." + module)   # defines the flags
for field in dataclasses.fields(cls):
    name = field.metadata.get("flag", field.name)
    if field.metadata.get("not_a_flag"):
        assert name not in flags.FLAGS, name
        continue
    default, want = flags.FLAGS[name].default, field.default
    if isinstance(default, list):   # a list flag holds strings
        default, want = tuple(default), tuple(str(x) for x in want)
    assert default == want, name
    assert flags.FLAGS[name].help == field.metadata["help"], name
print("ok")
"""


@pytest.mark.parametrize("module, cls", [("train_teachers", "TeachersRun"),
                                         ("offline_transfer", "OfflineRun"),
                                         ("online", "OnlineRun"),
                                         ("compress", "CompressRun")])
def test_a_commands_flags_are_the_fields_of_its_run(module, cls):
    # one process per command: two commands define flags of the same names
    proc = subprocess.run([sys.executable, "-c", CHECK_FLAGS, module, cls], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_an_online_run_takes_the_from_runs_student_and_refuses_what_contradicts_it():
    offline = config.settings(config.resolve_offline_run(
        stages.OfflineRun(teachers="T", run_dir="r"), True))
    run = config.resolve_online_run(stages.OnlineRun(from_run="F", run_dir="o"), offline)
    assert (run.tasks, list(run.hidden), run.task_id, run.preset, run.teachers) == (
        tuple(offline["tasks"]), offline["hidden"], True, "robust", "T")
    assert run.actor_match == 1000.0 and run.checkpoint_every % run.eval_every == 0
    assert config.resolve_online_run(run, offline) == run        # twice: no change
    for given, words in ((dict(task_id=False), "--notask_id differs"),
                         (dict(tasks=("InvertedPendulum",)), "differs from the tasks"),
                         (dict(benchmark="A"), "is a run of benchmark mini")):
        with pytest.raises(BadInput, match=words):
            config.resolve_online_run(stages.OnlineRun(from_run="F", **given), offline)


def test_shared_net_turns_on_the_task_id_and_an_online_run_keeps_the_from_runs_networks():
    offline = config.resolve_offline_run(stages.OfflineRun(
        benchmark="A", scale="cpu", teachers="T", run_dir="r", shared_net=True), True)
    assert (offline.shared_net, offline.task_id, offline.preset) == (True, True, "paper")
    assert config.task_layers(offline.shared_net, offline.tasks) == 8
    plain = config.resolve_offline_run(stages.OfflineRun(
        benchmark="A", scale="cpu", teachers="T", run_dir="r"), True)
    assert (plain.shared_net, plain.task_id, config.task_layers(False, plain.tasks)) == (
        False, False, 0)
    assert "shared_net" not in config.settings(plain)     # runs started before still resume
    with pytest.raises(BadInput, match="drop --notask_id"):
        config.resolve_offline_run(stages.OfflineRun(
            benchmark="A", scale="cpu", teachers="T", shared_net=True, task_id=False), True)
    started = config.settings(offline)
    run = config.resolve_online_run(stages.OnlineRun(
        benchmark="A", scale="cpu", from_run="F", run_dir="o"), started)
    assert (run.shared_net, run.task_id) == (True, True)
    with pytest.raises(BadInput, match="--noshared_net differs"):
        config.resolve_online_run(stages.OnlineRun(
            benchmark="A", scale="cpu", from_run="F", shared_net=False), started)
    fresh = config.resolve_online_run(stages.OnlineRun(
        benchmark="A", scale="cpu", alpha=0.0, shared_net=True, run_dir="o"), None)
    assert (fresh.shared_net, fresh.task_id) == (True, True)


def test_sac_mt_resolves_its_policy_delay_and_refuses_what_brings_teachers_back():
    base = stages.OnlineRun(benchmark="mini", teachers="T", run_dir="r", alpha=0.0, algo="sac")
    sac = config.resolve_online_run(base, None)
    assert sac.policy_delay == 1 and sac.actor_match == 0.0   # mini's robust preset: 1000
    assert config.resolve_online_run(dataclasses.replace(base, algo="td3"), None).policy_delay == 2
    assert config.resolve_online_run(dataclasses.replace(base, policy_delay=3),
                                     None).policy_delay == 3
    for change, words in [(dict(alpha=1.0), "give --alpha=0"), (dict(from_run="x"), "drop --from"),
                          (dict(her=False), "drop --noher"), (dict(beta=0.0), "drop --beta"),
                          (dict(target_noise="uniform"), "drop --target_noise"),
                          (dict(empty_buffers=False), "drop --noempty_buffers"),
                          (dict(actor_match=5.0), "drop --actor_match"),
                          (dict(shared_net=True), "drop --shared_net")]:
        with pytest.raises(BadInput, match=words):
            config.resolve_online_run(dataclasses.replace(base, **change), None)
