"""The task axis split over devices gives the single-device results: two devices of one
process (forced host devices), and two processes of one device each joined by
jax.distributed (gloo collectives). Both compare with one single-device run of the same
steps (`tests/sharded_stages.py`)."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.test_distributed import ONE_DEVICE, TWO_DEVICES, finish, free_port, start

pytestmark = pytest.mark.slow   # runs the real stages

STAGES = ("teachers", "offline", "online", "seeds")
SCRIPT = os.path.join("tests", "sharded_stages.py")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The final parameters of every stage run on one device."""
    path = tmp_path_factory.mktemp("sharded") / "reference.npz"
    finish(start([sys.executable, SCRIPT, "reference", str(path)], ONE_DEVICE))
    return path


def _assert_split_like_the_reference(report):
    for stage in STAGES:
        assert report[stage]["task_axis_devices"] == 2, report
        assert report[stage]["task_axis_split"], report
        assert report[stage]["max_diff"] < 1e-4, report
    # Two devices: a seed axis of 2 takes both; one seed or 3 leave them to the tasks.
    assert report["meshes"] == {"1": [1, 2], "2": [2, 1], "3": [1, 2]}, report


def test_split_task_axis_gives_the_single_device_results(reference):
    """Teachers, offline and online stages on 2 forced host devices: the task-axis arrays
    are held by both devices, and the final parameters match those of the same steps on
    one device within float tolerance (the sharded student's mean over tasks is an
    all-reduce, which may sum in another order)."""
    proc = subprocess.run([sys.executable, SCRIPT, "split", str(reference)], cwd=ROOT,
                          env=TWO_DEVICES, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["devices"] == 2
    _assert_split_like_the_reference(report)


def test_two_processes_give_the_single_device_results(reference):
    """Teachers, offline and online steps (and two teacher seeds) with the task (seed) axis
    over the two processes' devices: the final parameters match those of the same steps on
    one device."""
    coordinator = f"localhost:{free_port()}"
    procs = [start([sys.executable, SCRIPT, "split", str(reference), coordinator, "2", str(i)],
                   ONE_DEVICE) for i in range(2)]
    reports = [json.loads(finish(proc).strip().splitlines()[-1]) for proc in procs]
    for report in reports:
        assert (report["devices"], report["processes"]) == (2, 2), report
    _assert_split_like_the_reference(reports[0])    # process 0 compares
