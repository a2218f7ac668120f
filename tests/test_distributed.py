"""Several processes running one job (`ktmjax.distributed`): two CPU processes on this
machine, one device each, joined by jax.distributed (gloo collectives). The stages' steps
in two processes: tests/test_sharding.py."""
import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from ktmjax import distributed
from tests.conftest import ROOT

ONE_DEVICE = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1")
TWO_DEVICES = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def start(command, env):
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def start_processes(command, count=2):
    """`command` (a list) as `count` processes of one job; returns their Popen objects."""
    coordinator = f"localhost:{free_port()}"
    return [start(command + [f"--coordinator={coordinator}", f"--num_processes={count}",
                             f"--process_id={i}"], ONE_DEVICE) for i in range(count)]


def finish(proc, timeout=1200):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out


def restore(path):
    return jax.tree.leaves(ocp.StandardCheckpointer().restore(str(path)))


def rows_without_time(path):
    lines = path.read_text().splitlines()
    wall = lines[0].split(",").index("wall_s")
    return [[c for i, c in enumerate(line.split(",")) if i != wall] for line in lines]


@pytest.mark.slow
def test_offline_transfer_in_two_processes_writes_the_single_process_run(tmp_path):
    """The same offline_transfer command as two processes (one device each) and as one
    process (two devices): the same metrics, summary and student; process 0 alone prints
    and writes the files, and each process writes its own shards of the checkpoints."""
    args = [sys.executable, "-m", "experiments.offline_transfer", "--benchmark=mini",
            "--tasks=InvertedPendulum,InvertedPendulumBigPole", "--rounds=40",
            "--eval_every=20", "--rollout_steps=400", "--batch_size=16", "--hidden=32,32",
            "--eval_episodes=1", "--final_episodes=1"]
    procs = start_processes(args + [f"--run_dir={tmp_path / 'two'}"])
    single = start(args + [f"--run_dir={tmp_path / 'one'}"], TWO_DEVICES)
    outs = [finish(p) for p in procs]
    finish(single)
    assert "round 40/40" in outs[0] and "round" not in outs[1], outs[1][-2000:]
    one, two = tmp_path / "one", tmp_path / "two"
    assert rows_without_time(one / "metrics.csv") == rows_without_time(two / "metrics.csv")
    summaries = [json.loads((d / "summary.json").read_text())["tasks"] for d in (one, two)]
    assert summaries[0] == summaries[1]
    for a, b in zip(restore(one / "student" / "state"), restore(two / "student" / "state")):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    shards = two / "checkpoints" / "40" / "default"
    assert (shards / "ocdbt.process_0").is_dir() and (shards / "ocdbt.process_1").is_dir()


def test_process_settings_from_flags_or_environment(monkeypatch):
    for name in (distributed.ENV_COORDINATOR, distributed.ENV_COUNT, distributed.ENV_ID):
        monkeypatch.delenv(name, raising=False)
    assert distributed.settings() == (None, None, None)
    assert distributed.settings("h:1", 2, 1) == ("h:1", 2, 1)
    monkeypatch.setenv(distributed.ENV_COORDINATOR, "h:2")
    monkeypatch.setenv(distributed.ENV_COUNT, "4")
    monkeypatch.setenv(distributed.ENV_ID, "3")
    assert distributed.settings() == ("h:2", 4, 3)
    assert distributed.settings(process_id=0) == ("h:2", 4, 0)
    assert distributed.settings("auto") == ("auto", 4, 3)
    monkeypatch.delenv(distributed.ENV_ID)
    with pytest.raises(ValueError, match="give all three"):
        distributed.settings()
    assert distributed.settings("auto") == ("auto", 4, None)
    with pytest.raises(ValueError, match="an id in 0..3"):
        distributed.settings(process_id=4)
    monkeypatch.setenv(distributed.ENV_COUNT, "two")
    with pytest.raises(ValueError, match="not an integer"):
        distributed.settings(process_id=0)


@pytest.mark.slow
def test_incomplete_process_flags_are_one_line_errors(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.online", "--num_processes=2",
                           f"--run_dir={tmp_path / 'r'}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={
                              k: v for k, v in os.environ.items()
                              if k not in (distributed.ENV_COORDINATOR, distributed.ENV_ID)})
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "give all three" in proc.stderr
    assert not (tmp_path / "r").exists()
