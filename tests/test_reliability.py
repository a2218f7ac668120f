"""Runs that survive: a teacher run stopped by SIGTERM or killed by SIGKILL and re-run with
the same command ends exactly as the same run never interrupted."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.test_train_teachers import ROOT, _assert_one_line_error

ARGS = ["--benchmark=mini", "--tasks=InvertedPendulum", "--steps=3000", "--eval_every=1000",
        "--hidden=32,32", "--eval_episodes=1", "--final_episodes=2", "--start_steps=500"]


def _command(run_dir, *extra):
    return [sys.executable, "-m", "experiments.train_teachers", *ARGS, *extra,
            f"--run_dir={run_dir}"]


def _run(run_dir, *extra):
    return subprocess.run(_command(run_dir, *extra), cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def _interrupt(run_dir, sig):
    """Starts the run, sends `sig` once its first checkpoint exists, waits for the exit."""
    proc = subprocess.Popen(_command(run_dir), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not os.path.isdir(run_dir / "checkpoints" / "1000") and time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        time.sleep(0.2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("plain") / "run"
    proc = _run(run_dir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return run_dir


def _same_results(a, b):
    assert json.loads((a / "summary.json").read_text())["tasks"] == \
        json.loads((b / "summary.json").read_text())["tasks"]
    rows = lambda d: [r.split(",")[:6] for r in (d / "metrics.csv").read_text().splitlines()]
    assert rows(a) == rows(b)


# Each case costs about two minutes on the 2-core machine, which would take the suite past
# 15 minutes: they run with KTMJAX_SLOW_TESTS=1 (all passed there on 2026-11-21).
SLOW = pytest.mark.skipif(not os.environ.get("KTMJAX_SLOW_TESTS"),
                          reason="slow: set KTMJAX_SLOW_TESTS=1")


@SLOW
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_interrupted_run_resumes_to_the_same_result(uninterrupted, tmp_path, sig):
    run_dir = tmp_path / "run"
    code, _, err = _interrupt(run_dir, sig)
    if sig == signal.SIGTERM:
        assert code == 130 and "run the same command again to resume" in err, err
        assert "Traceback" not in err
    else:
        assert code == -signal.SIGKILL
    assert not (run_dir / "summary.json").exists()
    proc = _run(run_dir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "resuming from the checkpoint at step" in proc.stdout
    _same_results(uninterrupted, run_dir)


@SLOW
def test_started_run_with_other_flags_is_left_alone(tmp_path):
    run_dir = tmp_path / "run"
    code, _, _ = _interrupt(run_dir, signal.SIGTERM)
    assert code == 130
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    _assert_one_line_error(_run(run_dir, "--seed=1"), "started with other settings", "seed")
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before
