"""The world model learns: from a fresh clone's data set (the shipped CartpoleBalance
teacher's rollouts, near-expert to random), the small model's planner balances the pole.
In a file of its own so that it runs beside the other world-model tests."""
import json

import pytest

from tests.conftest import run_module

pytestmark = pytest.mark.slow   # runs the real command


# Random actions score about 333 on CartpoleBalance, no action about 700, the shipped
# teacher 998.6.
LEARNS_SCORE = 750


def test_the_world_model_learns_cartpole_balance_from_the_shipped_teacher(tmp_path):
    """From a fresh clone's data set (the shipped teacher's rollouts, near-expert to random),
    the small model's planner balances the pole: a return of at least LEARNS_SCORE."""
    run_dir = tmp_path / "run"
    proc = run_module("world_model", "--benchmark=dmc", "--tasks=CartpoleBalance",
                      "--rollout_steps=20000", "--steps=12000", "--batch_size=64",
                      "--eval_every=12000", "--checkpoint_every=12000", "--final_episodes=1",
                      "--num_samples=64", "--iterations=3", f"--run_dir={run_dir}", timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["tasks"]["CartpoleBalance"]["return_mean"] >= LEARNS_SCORE, summary["tasks"]
