"""experiments.world_model end to end at tiny sizes, and its one-line errors."""
import json

import jax
import numpy as np
import pytest

from ktmjax import worldmodel
from ktmjax.stages.world import ROLLOUT_LEVELS
from tests.conftest import run_module, snapshot
from tests.test_distributed import TWO_DEVICES

pytestmark = pytest.mark.slow   # runs the real commands

TINY_DMC_TEACHER = ["--benchmark=dmc", "--tasks=CartpoleBalance",
                    "--steps=600", "--eval_every=300", "--hidden=16,16", "--batch_size=32",
                    "--start_steps=100", "--episode_length=100", "--eval_episodes=1",
                    "--final_episodes=1"]
TINY_WM = ["--size=cpu-small", "--steps=40",
           "--eval_every=20", "--checkpoint_every=20", "--batch_size=16", "--eval_episodes=1",
           "--final_episodes=1", "--num_samples=16", "--iterations=1"]


@pytest.fixture(scope="module")
def dmc_teachers(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("dmc_teachers") / "run"
    proc = run_module("train_teachers", *TINY_DMC_TEACHER, f"--run_dir={run_dir}", timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return run_dir


@pytest.fixture(scope="module")
def world_model_run(dmc_teachers, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("wm") / "large"
    proc = run_module("world_model", *TINY_WM, "--tasks=CartpoleBalance", f"--data={dmc_teachers}",
                      f"--run_dir={run_dir}", "--video", timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run_dir.parent / "stdout.txt").write_text(proc.stdout)
    return run_dir


def test_world_model_writes_its_run_and_files_that_plan(world_model_run):
    summary = json.loads((world_model_run / "summary.json").read_text())
    assert summary["stage"] == "world_model" and summary["updates"] == 40
    modes = set(summary["evaluations"])
    assert {"planner", "planner, sampling noise on", "policy prior",
            "planner, float16 weights", "planner, bfloat16 weights",
            "planner, float16 compute"} <= modes
    assert set(summary["normalised_score"]) == modes
    for mode, score in summary["normalised_score"].items():
        returns = [summary["evaluations"][mode][t]["return_mean"] for t in summary["tasks"]]
        assert score == pytest.approx(sum(r / 10 for r in returns) / len(returns))
    sizes = summary["bytes"]
    assert sizes["float16"]["file_bytes"] < 0.6 * sizes["float32"]["file_bytes"]
    assert sizes["float32"]["file_bytes_with_target_q"] > sizes["float32"]["file_bytes"]
    header = (world_model_run / "metrics.csv").read_text().splitlines()[0].split(",")
    for column in ("model_consistency", "model_reward", "model_value", "pi_loss"):
        assert column in header
    agent = worldmodel.load(str(world_model_run / "model-float16.msgpack"))
    assert agent.task_names == ("CartpoleBalance",)
    action, _ = agent.act([0.0] * 5, "CartpoleBalance", jax.random.PRNGKey(0))
    assert action.shape == (1,)


def test_a_distilled_student_and_its_bad_input(world_model_run, dmc_teachers, tmp_path):
    student = tmp_path / "student"
    common = [*TINY_WM, f"--data={dmc_teachers}"]
    proc = run_module("world_model", *common, "--tasks=CartpoleBalance",
                      f"--teacher={world_model_run}", "--alpha=0.45", "--steps=20",
                      f"--run_dir={student}", timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "model_distill" in (student / "metrics.csv").read_text().splitlines()[0]
    assert json.loads((student / "summary.json").read_text())["alpha"] == 0.45
    table = run_module("report", str(world_model_run), str(student))
    assert table.returncode == 0, table.stderr[-1000:]
    for row in ("| world model cpu-small alone | 1 |", "| world model cpu-small alone float16 | 1 |",
                "| world model cpu-small distilled, alpha 0.45 | 1 |"):
        assert row in table.stdout, table.stdout

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text((world_model_run / "config.json").read_text())
    (corrupt / "model-float32.msgpack").write_bytes(b"not a model")
    before = snapshot(world_model_run)
    bad = {   # what is wrong -> a word of its one-line error
        (f"--teacher={world_model_run}", "--alpha=-1", "--tasks=CartpoleBalance"): "--alpha",
        ("--data=/nonexistent/run", "--tasks=CartpoleBalance"): "does not exist",
        (f"--teacher={world_model_run}", "--tasks=CartpoleBalance,PendulumSwingup"): "tasks",
        (f"--teacher={corrupt}", "--tasks=CartpoleBalance"): "world-model file",
    }
    for i, (args, word) in enumerate(bad.items()):
        proc = run_module("world_model", *common, *args, f"--run_dir={tmp_path / f'bad{i}'}")
        assert proc.returncode == 2, (args, proc.stderr[-1000:])
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and word in lines[0] and "Traceback" not in proc.stderr, (args, lines)
        assert not (tmp_path / f"bad{i}").exists()
    assert snapshot(world_model_run) == before


def test_exported_teachers_give_a_data_set_of_their_noisy_rollouts_and_seeds_run_together(
        tmp_path):
    """Two seeds in one program, on two (forced host) devices: one seed on each."""
    run_dir = tmp_path / "run"
    proc = run_module("world_model", *TINY_WM, "--benchmark=mini", "--tasks=InvertedPendulum",
                      "--data=ktmjax/shipped_teachers/mini", "--rollout_steps=400", "--seeds=2",
                      f"--run_dir={run_dir}", timeout=900, env=TWO_DEVICES)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "seeds 0-1 in one program, device cpu, seed axis over 2 devices;" in proc.stdout
    seeds = [json.loads((run_dir / f"seed{s}" / "summary.json").read_text()) for s in (0, 1)]
    assert [s["seed"] for s in seeds] == [0, 1]
    aggregate = json.loads((run_dir / "summary.json").read_text())
    assert aggregate["seeds"] == [0, 1]
    assert aggregate["normalised_score"]["planner"] == pytest.approx(
        sum(s["normalised_score"]["planner"] for s in seeds) / 2)
    for noise, random_share in ROLLOUT_LEVELS:    # 400 steps, 80 at each of the five levels
        line = f"80 steps per task of the teachers in ktmjax/shipped_teachers/mini with noise {noise}"
        assert line + (f", {random_share:.0%} random actions\n" if random_share else "\n") \
            in proc.stdout
    assert "data 400 transitions" in proc.stdout


def test_video_of_the_planner(world_model_run):
    """--video wrote a GIF of the planner's episode: it decodes, holds many frames, and
    the cart moves."""
    from PIL import Image, ImageSequence
    out = (world_model_run.parent / "stdout.txt").read_text()
    if "no videos: MuJoCo cannot render" in out:
        pytest.skip("MuJoCo cannot render on this machine: " + out.split("no videos:")[1][:200])
    with Image.open(world_model_run / "videos" / "CartpoleBalance.gif") as gif:
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(gif)]
    assert len(frames) >= 100   # 400 agent steps, every 2nd drawn
    assert frames[0].shape == (240, 320, 3) and frames[0].std() > 0
    assert any(not np.array_equal(frames[0], f) for f in frames[1:])

