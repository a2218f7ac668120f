"""A finished teacher run continued to more steps (`--steps` larger, the same command)
ends as the run started with that many steps; a shorter `--steps` is refused. In a file of
its own so that it runs beside the other reliability tests."""
import json

import pytest

from tests.conftest import TINY_TEACHER_ARGS as TEACHER_ARGS, snapshot
from tests.test_reliability import _run, _same_results
from tests.test_train_teachers import _assert_one_line_error

pytestmark = pytest.mark.slow   # runs the real commands


def test_a_finished_teacher_run_continued_to_more_steps_is_the_longer_run(tmp_path):
    """300 steps, then the same command with --steps=600, ends as a 600-step run with the
    300-transition replay the first run had (its capacity, capped at its steps). One task:
    the runs compile one task group."""
    longer, continued = tmp_path / "longer", tmp_path / "continued"
    args = TEACHER_ARGS + ["--tasks=InvertedPendulum", "--capacity=300"]
    short = [a if not a.startswith("--steps=") else "--steps=300" for a in args]
    for run_dir, commands in ((longer, [args]), (continued, [short, args])):
        for command in commands:
            proc = _run("train_teachers", run_dir, *command)
            assert proc.returncode == 0, proc.stderr[-2000:]
    assert "resuming from the checkpoint at step 300/600" in proc.stdout
    _same_results(longer, continued)
    assert json.loads((continued / "config.json").read_text())["steps"] == 600
    before = snapshot(continued)
    proc = _run("train_teachers", continued, *short)       # shorter than the run: refused
    _assert_one_line_error(proc, "already holds a finished run", "--steps")
    assert snapshot(continued) == before
