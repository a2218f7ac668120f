"""The task axis split over devices gives the single-device results (two CPU devices)."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow   # runs the real commands


def test_split_task_axis_gives_the_single_device_results():
    """Teachers, offline and online stages on 2 forced host devices: the task-axis arrays
    are held by both devices, and the final parameters match those of the same steps on
    one device within float tolerance (the sharded student's mean over tasks is an
    all-reduce, which may sum in another order)."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    proc = subprocess.run([sys.executable, os.path.join("tests", "sharded_stages.py")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["devices"] == 2
    for stage in ("teachers", "offline", "online", "seeds"):
        assert report[stage]["task_axis_devices"] == 2, report
        assert report[stage]["task_axis_split"], report
        assert report[stage]["max_diff"] < 1e-4, report
