"""Runs that survive: a teacher run killed by SIGKILL at a random moment, and an online
student run stopped by SIGTERM and then killed by SIGKILL at a random moment, each time
re-run with the same command, end exactly as the same runs never interrupted; unreadable
checkpoints are skipped or refused without touching the run; a non-finite loss stops a run
and keeps its last good checkpoint.

Tiny sizes (16-wide nets, 100-step teacher episodes, a few hundred rounds) keep each command
to seconds once compiled; the compiled functions come from the persistent cache after the
first process.
"""
import json
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, TINY_TEACHER_ARGS as TEACHER_ARGS, snapshot, truncate_files
from tests.test_train_teachers import _assert_one_line_error

pytestmark = pytest.mark.slow   # runs the real commands

ONLINE_ARGS = ["--benchmark=mini", "--rounds=600", "--eval_every=150", "--warmup=100",
               "--hidden=16,16", "--batch_size=32", "--eval_episodes=1", "--final_episodes=1"]


def _command(module, run_dir, *args):
    return [sys.executable, "-m", f"experiments.{module}", *args, f"--run_dir={run_dir}"]


def _run(module, run_dir, *args):
    return subprocess.run(_command(module, run_dir, *args), cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def _interrupt(module, run_dir, args, sig, after_checkpoint, delay):
    """Starts the run; once checkpoints/<after_checkpoint> exists, waits `delay` seconds,
    sends `sig` and waits for the exit. Returns (exit code, stderr)."""
    proc = subprocess.Popen(_command(module, run_dir, *args), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while not (run_dir / "checkpoints" / str(after_checkpoint)).is_dir():
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            assert time.time() < deadline
            time.sleep(0.05)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=300)
        return proc.returncode, err
    finally:
        if proc.poll() is None:     # a failed check above: leave no process behind
            proc.kill()
            proc.wait()


def _same_results(a, b):
    assert json.loads((a / "summary.json").read_text())["tasks"] == \
        json.loads((b / "summary.json").read_text())["tasks"]
    rows = lambda d: [r.split(",")[:6] for r in (d / "metrics.csv").read_text().splitlines()]
    assert rows(a) == rows(b)


@pytest.fixture(scope="module")
def teachers(tiny_teachers):
    """The uninterrupted tiny teacher run (also the teachers of the online runs below)."""
    return tiny_teachers


def _steps(run_dir):
    folder = run_dir / "checkpoints"
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) \
        if folder.is_dir() else []


def _kill_at_a_random_moment(module, run_dir, args, seed, every=150):
    """SIGKILLs the run at a random moment (0-0.5 s) after it saved one checkpoint more than
    the run before it had, then runs the same command to its end."""
    after = (_steps(run_dir) or [0])[-1] + every
    code, err = _interrupt(module, run_dir, args, signal.SIGKILL, after,
                           random.Random(seed).uniform(0, 0.5))
    assert code == -signal.SIGKILL, err[-2000:]
    proc = _run(module, run_dir, *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "resuming from the checkpoint at" in proc.stdout


def test_teacher_run_killed_at_a_random_moment_ends_as_the_uninterrupted_one(teachers, tmp_path):
    run_dir = tmp_path / "run"
    _kill_at_a_random_moment("train_teachers", run_dir, TEACHER_ARGS, seed=1)
    _same_results(teachers, run_dir)


@pytest.fixture(scope="module")
def online_args(teachers):
    return ONLINE_ARGS + [f"--teachers={teachers}"]


@pytest.fixture(scope="module")
def online_plain(online_args, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("online") / "plain"
    proc = _run("online", run_dir, *online_args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return run_dir


def _truncate_newest_checkpoint(run_dir):
    """Cuts every file of the newest checkpoint in half; returns the checkpoint steps."""
    steps = _steps(run_dir)
    truncate_files(run_dir / "checkpoints" / str(steps[-1]))
    return steps


def test_online_run_stopped_corrupted_and_killed_ends_as_the_uninterrupted_one(
        online_args, online_plain, tmp_path):
    """SIGTERM once the first checkpoint exists (it stops after the epoch then running; again
    if that left a single checkpoint), the newest checkpoint truncated, SIGKILL at a random
    moment after its next checkpoint (the resumed run goes on from the older checkpoint),
    then the run to its end: the same result as the uninterrupted run.
    On the way: with no readable checkpoint at all, a one-line error and the run dir byte
    for byte unchanged."""
    run_dir = tmp_path / "run"
    after = 150
    while len(_steps(run_dir)) < 2:     # the signal may land right after a save: stop again
        code, err = _interrupt("online", run_dir, online_args, signal.SIGTERM, after, 0)
        assert code == 130 and "run the same command again to resume" in err, err[-2000:]
        assert "Traceback" not in err
        after = _steps(run_dir)[-1] + 150
    steps = _truncate_newest_checkpoint(run_dir)
    assert steps[-1] <= 450, steps

    broken = tmp_path / "broken"                        # a copy with no readable checkpoint
    shutil.copytree(run_dir, broken)
    shutil.rmtree(broken / "checkpoints" / str(steps[0]))
    before = snapshot(broken)
    proc = _run("online", broken, *online_args)
    _assert_one_line_error(proc, "no readable checkpoint", "new run directory")
    assert snapshot(broken) == before

    _kill_at_a_random_moment("online", run_dir, online_args, seed=2)
    assert (run_dir / "unreadable_checkpoints" / str(steps[-1])).is_dir()   # moved, not lost
    _same_results(online_plain, run_dir)


def test_run_with_other_flags_or_bad_input_leaves_a_started_run_alone(
        online_args, online_plain, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(online_plain, run_dir)                 # a started run: not finished
    (run_dir / "summary.json").unlink()
    before = snapshot(run_dir)
    cases = [
        (["--seed=1"], ["started with other settings", "seed"]),
        (["--benchmark=nope"], ["unknown benchmark 'nope'"]),
        (["--rounds=-5"], ["--rounds=-5", "positive"]),
        (["--rounds=many"], ["--rounds=many"]),
        (["--beta=-1"], ["--beta=-1.0", "negative"]),
        (["--capacity=16"], ["--batch_size=32", "larger"]),
        ([f"--teachers={tmp_path / 'none'}"], ["does not exist"]),
        ([f"--from={tmp_path / 'none'}"], ["not a finished offline_transfer run"]),
    ]
    for extra, words in cases:
        _assert_one_line_error(_run("online", run_dir, *online_args, *extra), *words)
        assert snapshot(run_dir) == before, extra


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    """A learning rate of 1e30 blows the teacher's networks up as soon as learning starts
    (step 201, in the second epoch): the run stops naming the stage, step and task, and the
    checkpoint of step 150 is the only one on disk."""
    run_dir = tmp_path / "run"
    args = [a for a in TEACHER_ARGS if not a.startswith("--start_steps")]
    proc = _run("train_teachers", run_dir, *args, "--tasks=InvertedPendulum",
                "--start_steps=200", "--lr=1e30")
    assert proc.returncode == 3
    _assert_one_line_error(proc, "non-finite", "teachers step", "task InvertedPendulum",
                           "the last good checkpoint (step 150) is kept")
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["150"]
    assert not (run_dir / "summary.json").exists()
