"""bench/accelerator_check.sh --dry-run: the prepared accelerator check runs on this CPU."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow   # runs the real commands


def test_accelerator_check_dry_run(tmp_path):
    proc = subprocess.run(["bash", os.path.join("bench", "accelerator_check.sh"), "--dry-run",
                           f"--out={tmp_path}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=1200, env=dict(os.environ, PYTHON=sys.executable))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "accelerator_check.json").read_text())
    assert report["dry_run"] and report["teachers"]["env_steps_per_s"] > 0
    for update in ("sequential", "vmap"):      # both update orders, each projected
        for stage in ("offline", "online"):
            assert report["student"][update][stage]["rounds_per_s"] > 0
        hours = report["projected_hours"][update]
        # the schedule's 500,000 online rounds at the measured rate
        rate = report["student"][update]["online"]["rounds_per_s"]
        assert abs(hours["online"] - 500_000 / rate / 3600) < 0.01
    table = (tmp_path / "accelerator_check.md").read_text()
    assert "| offline rounds/s, sequential (K=1) |" in table
    assert "| online rounds/s, vmap (K=1) |" in table and "projected hours, vmap" in table
    world_model = report["world_model"]["cpu-small"]
    assert world_model["updates_per_s"] > 0 and world_model["actions_per_s"] > 0, world_model
    assert "| world model cpu-small" in table
