"""Bad input to the student commands: one line, non-zero exit, nothing written."""
import json

import pytest

from tests.conftest import run_module, snapshot, truncate_files
from tests.test_train_teachers import _assert_one_line_error


run = run_module


@pytest.mark.parametrize("module", ["offline_transfer", "online"])
@pytest.mark.parametrize("arg,words", [
    ("--benchmark=nope", ["nope", "A, B, mini"]),
    ("--tasks=InvertedPendulum,Ant", ["Ant not in benchmark mini", "InvertedDoublePendulum"]),
])
@pytest.mark.slow
def test_unknown_benchmark_or_task(module, arg, words, tmp_path):
    proc = run(module, arg, f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, *words)
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_missing_teachers_directory(tmp_path):
    proc = run("offline_transfer", f"--teachers={tmp_path / 'none'}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "does not exist", "train_teachers")
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_teachers_for_other_tasks(tmp_path):
    (tmp_path / "t" / "teachers" / "Ant").mkdir(parents=True)
    (tmp_path / "t" / "teachers" / "Ant" / "teacher.json").write_text("{}")
    proc = run("offline_transfer", f"--teachers={tmp_path / 't'}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "no teacher for task InvertedPendulum")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("args,words", [
    (["--alpha=-1"], ["--alpha=-1.0", "negative"]),
    (["--rounds=0"], ["--rounds=0", "positive"]),
    (["--update=parallel"], ["--update=parallel", "vmap, sequential"]),
    (["--actor_match=-1"], ["--actor_match=-1", "finite and not negative"]),
    (["--preset=fancy"], ["unknown --preset=fancy", "paper, robust"]),
    (["--seeds=0"], ["--seeds=0", "at least 1"]),
    (["--shared_net", "--notask_id"], ["--shared_net", "drop --notask_id"]),
    (["--algo=ppo"], ["unknown --algo=ppo", "td3, sac"]),
    (["--algo=sac", "--update=pcgrad"], ["SAC-MT baseline", "give --alpha=0; drop --update=pcgrad"]),
])
@pytest.mark.slow
def test_online_bad_flags(tmp_path, args, words):
    proc = run("online", *args, f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, *words)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("flag,value", [("critic_grad", "-1"), ("critic_grad", "inf"),
                                        ("actor_match", "-1")])
@pytest.mark.slow
def test_offline_bad_term_weights(tmp_path, flag, value):
    proc = run("offline_transfer", f"--{flag}={value}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, f"--{flag}=", "finite and not negative")
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_offline_critic_grad_needs_rollouts(tmp_path):
    none = f"--teachers={tmp_path / 'none'}"
    proc = run("offline_transfer", "--critic_grad=1", "--data=replay", none,
               f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "--critic_grad=1", "--data=both")
    # mini's default weight is turned off by --data=replay: the flags pass, the teachers not.
    proc = run("offline_transfer", "--data=replay", none, f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "does not exist")
    assert not (tmp_path / "r").exists()


def _fake_offline_run(path, benchmark, tasks, **cfg):
    """The files of a finished offline_transfer run (no real checkpoint in student/state)."""
    (path / "student" / "state").mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(
        {"benchmark": benchmark, "tasks": tasks, "hidden": [16], "teachers": "t", **cfg}))
    (path / "summary.json").write_text(json.dumps(
        {"stage": "offline", "tasks": {t: {} for t in tasks}}))
    return path


@pytest.mark.slow
def test_online_from_a_run_of_another_benchmark(tmp_path):
    offline = _fake_offline_run(tmp_path / "off", "B", ["Hopper"])
    before = (offline / "config.json").read_bytes()
    proc = run("online", f"--from={offline}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "benchmark B, not mini")
    assert (offline / "config.json").read_bytes() == before
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_online_tasks_other_than_the_from_runs(tmp_path):
    offline = _fake_offline_run(tmp_path / "off", "mini", ["InvertedPendulum"])
    proc = run("online", f"--from={offline}", "--tasks=InvertedDoublePendulum",
               f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "--tasks=InvertedDoublePendulum", "(InvertedPendulum)")
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_online_task_id_other_than_the_from_runs(tmp_path):
    offline = _fake_offline_run(tmp_path / "off", "mini", ["InvertedPendulum"])
    proc = run("online", f"--from={offline}", "--task_id", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "--task_id differs", "trained without a task id")
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_throughput_prints_one_json_line():
    proc = run("throughput", "--benchmark=mini", "--stage=offline", "--hidden=16",
               "--batch_size=8", "--capacity=64", "--rounds=2", "--repeats=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["stage"] == "offline" and result["tasks"] == 3 and result["batch"] == 8
    assert result["rounds_per_s"] > 0 and result["gflop_per_round"] > 0
    assert result["gflops_matmul_peak"] > result["gflops_achieved"] > 0


@pytest.mark.slow
def test_throughput_bad_stage():
    _assert_one_line_error(run("throughput", "--stage=both"), "unknown --stage=both")
    _assert_one_line_error(run("throughput", "--algo=sac"), "only an online stage",
                           "--stage=online")


def _copy_teachers(src, dst):
    import shutil
    shutil.copytree(src / "teachers", dst / "teachers")
    return dst


@pytest.mark.slow
def test_offline_batch_larger_than_the_data(tiny_teachers, tmp_path):
    """Also: a teacher that train_teachers marked as stuck at an action bound is named in a
    warning before the transfer starts."""
    teachers_ = _copy_teachers(tiny_teachers, tmp_path / "t")
    meta_path = teachers_ / "teachers" / "InvertedDoublePendulum" / "teacher.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "actor_at_bound": True}))
    proc = run("offline_transfer", f"--teachers={teachers_}", "--data=replay",
               "--batch_size=5000", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "batch of 5000 transitions", "smallest D_k (600 transitions)")
    assert "warning: the InvertedDoublePendulum teacher" in proc.stdout
    assert "the InvertedPendulum teacher" not in proc.stdout
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_teachers_of_other_sizes(tiny_teachers, tmp_path):
    teachers_ = _copy_teachers(tiny_teachers, tmp_path / "t")
    meta_path = teachers_ / "teachers" / "InvertedDoublePendulum" / "teacher.json"
    meta = json.loads(meta_path.read_text())
    meta["obs_size"] = 5
    meta_path.write_text(json.dumps(meta))
    before = snapshot(teachers_)
    proc = run("offline_transfer", f"--teachers={teachers_}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "has 5 obs", "InvertedDoublePendulum has 8")
    assert not (tmp_path / "r").exists() and snapshot(teachers_) == before


@pytest.mark.slow
def test_truncated_teacher_checkpoint(tiny_teachers, tmp_path):
    teachers_ = _copy_teachers(tiny_teachers, tmp_path / "t")
    truncate_files(teachers_ / "teachers" / "InvertedPendulum" / "state")
    before = snapshot(teachers_)
    proc = run("offline_transfer", f"--teachers={teachers_}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "cannot read the teacher checkpoint of InvertedPendulum")
    assert not (tmp_path / "r").exists() and snapshot(teachers_) == before


@pytest.mark.slow
def test_run_dir_under_a_file_is_not_writable(tmp_path):
    (tmp_path / "file").write_text("keep me")
    proc = run("train_teachers", f"--run_dir={tmp_path / 'file' / 'run'}")
    _assert_one_line_error(proc, "is not writable")
    assert (tmp_path / "file").read_text() == "keep me"


@pytest.mark.slow
def test_offline_started_run_with_other_flags_is_refused_before_teachers_are_trained(tmp_path):
    """No --teachers and none on disk would train the mini teachers (17 minutes) first."""
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"benchmark": "mini", "seed": 7}))
    before = (run_dir / "config.json").read_bytes()
    proc = run("offline_transfer", f"--run_dir={run_dir}")
    _assert_one_line_error(proc, "started with other settings", "seed")
    assert (run_dir / "config.json").read_bytes() == before
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.json"]


@pytest.mark.slow
def test_exported_teachers_load_as_the_run_and_have_no_replay(tiny_teachers, tmp_path):
    """export_teachers writes each teacher's actor and target critic only: they load as the
    run's own (same arrays), with no D_k; the student commands then take D_k from rollouts
    and refuse, in one line, what needs the training replay or the online critic; the
    export refuses to overwrite."""
    import jax
    import numpy as np
    from ktmjax import envs, teacher_store
    out = tmp_path / "exported"
    proc = run("export_teachers", f"--teachers={tiny_teachers}", f"--out={out}")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (out / "InvertedPendulum").iterdir()) == [
        "teacher.json", "weights.msgpack"]
    env = envs.MultiTaskEnv(envs.benchmark_tasks("mini"))
    ours, _, returns = teacher_store.load_teachers(str(out), env.groups)
    theirs, _, their_returns = teacher_store.load_teachers(str(tiny_teachers), env.groups)
    assert returns == their_returns
    for a, b in zip(ours, theirs):
        assert a.data is None and b.data is not None
        for x, y in zip(jax.tree.leaves((a.actor_params, a.critic_params)),
                        jax.tree.leaves((b.actor_params, b.critic_params))):
            np.testing.assert_array_equal(x, y)
    assert not teacher_store.has_replay(str(out), envs.benchmark_tasks("mini"))
    before = snapshot(out)
    for module, args, words in (
            ("offline_transfer", ["--data=replay"], ["--data=replay needs", "--data=rollouts"]),
            ("offline_transfer", ["--teacher_critic=online"], ["target critic only"]),
            ("online", ["--noempty_buffers"], ["--noempty_buffers", "without them"]),
            ("export_teachers", [f"--teachers={tiny_teachers}", f"--out={out}"],
             ["already holds InvertedPendulum"])):
        student_flags = ([] if module == "export_teachers"
                         else [f"--teachers={out}", f"--run_dir={tmp_path / 'r'}"])
        proc = run(module, *student_flags, *args)
        _assert_one_line_error(proc, *words)
    assert not (tmp_path / "r").exists() and snapshot(out) == before
    (out / "InvertedPendulum" / "weights.msgpack").write_bytes(b"\x81\xa5actor\x80")
    with pytest.raises(ValueError, match="cannot read the teacher checkpoint of InvertedPendulum"):
        teacher_store.load_teachers(str(out), env.groups)


@pytest.mark.parametrize("module,args,words", [
    ("train_teachers", ["--benchmark=mini", "--scale=cpu"],
     ["--scale=cpu applies to benchmarks A and B"]),
    ("offline_transfer", ["--benchmark=A", "--scale=tiny"], ["unknown --scale=tiny", "cpu, paper"]),
    ("online", ["--benchmark=mini", "--scale=paper"], ["--scale=paper applies to benchmarks A"]),
])
@pytest.mark.slow
def test_scale_flag(module, args, words, tmp_path):
    proc = run(module, *args, f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, *words)
    assert not (tmp_path / "r").exists()


def test_presets():
    """paper: none of the terms ktmjax adds; robust: all of them; the default by benchmark,
    the --from run's for the online stage (older runs: the benchmark's), the flag first."""
    from experiments import common
    from ktmjax.stages import config
    assert config.student_terms("paper", "offline") == {
        "critic_grad": 0.0, "actor_match": 0.0, "task_id": False}
    assert config.student_terms("paper", "online") == {"actor_match": 0.0, "task_id": False}
    assert all(config.student_terms("robust", "offline").values())
    with pytest.raises(common.UsageError, match="unknown --preset=x"):
        config.student_terms("x", "online")
    assert [config.resolve_preset(b, None) for b in ("A", "B", "mini")] == [
        "paper", "paper", "robust"]
    assert config.resolve_preset("mini", None, {"preset": "paper"}) == "paper"
    assert config.resolve_preset("mini", None, {}) == "robust"
    assert config.resolve_preset("A", "robust", {"preset": "paper"}) == "robust"
    with pytest.raises(common.UsageError, match="unknown --preset=x"):
        config.resolve_preset("A", "x")
