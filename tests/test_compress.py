"""Compression (ktmjax.compress, experiments.compress): the losses, a compact student that
learns a real task from the shipped teachers, its deployed policy file, and bad input."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ktmjax import compress, extensions, ktm
from tests.conftest import ROOT, run_module, snapshot
from tests.test_train_teachers import _assert_one_line_error

SHIPPED_MINI = f"{ROOT}/ktmjax/shipped_teachers/mini"


def test_compact_actor_loss_weighs_its_two_terms():
    q1 = jnp.asarray([1.0, 3.0])
    action = jnp.asarray([[0.5], [-0.5]])
    target = jnp.asarray([[0.0], [0.0]])
    ascent = float(ktm.actor_distillation_loss(q1))
    match = float(extensions.actor_matching_loss(action, target))
    assert (ascent, match) == (-2.0, 0.25)
    assert float(compress.compact_actor_loss(q1, action, target, 1.0, 0.0)) == ascent
    assert float(compress.compact_actor_loss(q1, action, target, 0.0, 4.0)) == 4 * match
    assert float(compress.compact_actor_loss(q1, action, target, 2.0, 4.0)) == \
        pytest.approx(2 * ascent + 4 * match)


@pytest.mark.slow
def test_both_weights_zero_is_refused():
    from ktmjax import td3
    with pytest.raises(ValueError, match="both 0"):
        compress.CompressConfig(net=td3.TD3Config(), q_weight=0.0, match_weight=0.0)


@pytest.fixture(scope="module")
def compact_run(tmp_path_factory):
    """A compact 16x16 student of InvertedPendulum trained directly from the shipped mini
    teacher, deployed as int8, with --video."""
    run_dir = tmp_path_factory.mktemp("compress") / "run"
    proc = run_module("compress", f"--teachers={SHIPPED_MINI}", "--tasks=InvertedPendulum",
                      "--hidden=16,16", "--rounds=1500", "--eval_every=750",
                      "--rollout_steps=5000", "--eval_episodes=1", "--final_episodes=3",
                      "--dtype=int8", "--video", f"--run_dir={run_dir}", timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir / "stdout.txt").write_text(proc.stdout)
    return run_dir


@pytest.mark.slow
def test_a_compact_student_learns_a_real_task_in_every_dtype(compact_run):
    summary = json.loads((compact_run / "summary.json").read_text())
    assert summary["stage"] == "compress" and summary["dtype"] == "int8"
    for dtype, info in summary["dtypes"].items():
        # the shipped teacher balances the pole for all 1000 steps
        assert info["tasks"]["InvertedPendulum"]["return_mean"] >= 900, (dtype, info)
    sizes = {d: summary["dtypes"][d]["actor_bytes"] for d in summary["dtypes"]}
    assert sizes["float16"] * 2 == sizes["bfloat16"] * 2 == sizes["float32"] > sizes["int8"]
    results = (compact_run / "results.md").read_text()
    assert "| compact 16x16 | int8 |" in results


@pytest.mark.slow
def test_the_deployed_file_acts_as_in_the_runs_own_evaluation(compact_run):
    """policy.msgpack, loaded alone, gets the run's final int8 returns with the run's key."""
    from ktmjax import envs, evaluation, policy
    cfg = json.loads((compact_run / "config.json").read_text())
    summary = json.loads((compact_run / "summary.json").read_text())
    pi = policy.load(str(compact_run / "policy.msgpack"))
    assert pi.dtype == "int8" and pi.task_names == ("InvertedPendulum",)
    env = envs.MultiTaskEnv(envs.benchmark_tasks("mini", ["InvertedPendulum"]))
    final = evaluation.make_evaluator(env, policy.group_apply(pi.dtype, pi.layout, env.groups),
                                      cfg["final_episodes"])
    returns = np.asarray(final((pi.layers,), jax.random.fold_in(
        jax.random.PRNGKey(cfg["seed"] + 100), 0)))
    want = summary["dtypes"]["int8"]["tasks"]["InvertedPendulum"]
    assert float(returns.mean()) == pytest.approx(want["return_mean"], rel=1e-6)


@pytest.mark.slow
def test_a_compress_run_is_no_student_to_compress(compact_run, tmp_path):
    before = snapshot(compact_run)
    proc = run_module("compress", f"--from={compact_run}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "is a compress run, not a student")
    assert not (tmp_path / "r").exists() and snapshot(compact_run) == before


def _fake_student_run(root, benchmark="mini", broken_state=False):
    """A directory that looks like a finished offline run (a broken checkpoint inside)."""
    root.mkdir()
    (root / "config.json").write_text(json.dumps({
        "benchmark": benchmark, "tasks": ["InvertedPendulum"], "hidden": [8, 8],
        "teachers": SHIPPED_MINI}))
    (root / "summary.json").write_text(json.dumps(
        {"stage": "offline", "tasks": {"InvertedPendulum": {"return_mean": 1000.0}}}))
    (root / "student" / "state").mkdir(parents=True)
    if broken_state:
        (root / "student" / "state" / "checkpoint").write_bytes(b"\x00" * 10)
    return root


@pytest.mark.parametrize("args,words", [
    ([], ["exactly one of --from=RUN", "--teachers=DIR"]),
    (["--from=/nonexistent/run"], ["--from=/nonexistent/run is not a directory"]),
    ([f"--teachers={SHIPPED_MINI}", "--lr=inf"], ["--lr=inf", "finite"]),
    ([f"--teachers={SHIPPED_MINI}", "--dtype=float8"], ["unknown --dtype=float8",
                                                        "float32, bfloat16, float16, int8"]),
    ([f"--teachers={SHIPPED_MINI}", "--hidden=32,x"], ["--hidden=32,x", "integers"]),
    ([f"--teachers={SHIPPED_MINI}", "--hidden=0"], ["--hidden=0", "positive"]),
    ([f"--teachers={SHIPPED_MINI}", "--q_weight=0", "--match_weight=0"], ["both 0"]),
    ([f"--teachers={SHIPPED_MINI}", "--benchmark=A"], ["no teacher for task"]),
])
@pytest.mark.slow
def test_bad_flags(args, words, tmp_path):
    proc = run_module("compress", *args, f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, *words)
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_bad_from_runs(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = run_module("compress", f"--from={plain}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "is not a finished student run")
    other = _fake_student_run(tmp_path / "mini_run")
    proc = run_module("compress", f"--from={other}", "--benchmark=A", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "is a run of benchmark mini, not A")
    shared = _fake_student_run(tmp_path / "shared")
    cfg = json.loads((shared / "config.json").read_text())
    (shared / "config.json").write_text(json.dumps(dict(cfg, shared_net=True, task_id=True)))
    proc = run_module("compress", f"--from={shared}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "holds a SharedNet student", "plain networks")
    (shared / "config.json").write_text(json.dumps(dict(cfg, algo="sac")))
    proc = run_module("compress", f"--from={shared}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "holds a SAC-MT student", "plain networks")
    odd = _fake_student_run(tmp_path / "odd")
    (odd / "config.json").write_text(json.dumps({"benchmark": "mini", "tasks": ["Ant"],
                                                 "hidden": [8], "teachers": SHIPPED_MINI}))
    proc = run_module("compress", f"--from={odd}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "Ant not in benchmark mini")
    (odd / "summary.json").write_text("[]")
    proc = run_module("compress", f"--from={odd}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "not a student run")
    broken = _fake_student_run(tmp_path / "broken", broken_state=True)
    before = snapshot(broken)
    proc = run_module("compress", f"--from={broken}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "cannot read the student checkpoint")
    assert not (tmp_path / "r").exists() and snapshot(broken) == before


@pytest.mark.slow
def test_video_of_the_deployed_policy(compact_run):
    """--video wrote a GIF of the task: it decodes, holds many frames, and they move."""
    from PIL import Image, ImageSequence
    out = (compact_run / "stdout.txt").read_text()
    if "no videos: MuJoCo cannot render" in out:
        pytest.skip("MuJoCo cannot render on this machine: " + out.split("no videos:")[1][:200])
    with Image.open(compact_run / "videos" / "InvertedPendulum.gif") as gif:
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(gif)]
    assert len(frames) >= 100   # 400 steps of the balanced pole, every 2nd drawn
    assert frames[0].shape == (240, 320, 3) and frames[0].std() > 0
    assert any(not np.array_equal(frames[0], f) for f in frames[1:])
