"""The teachers that ship with ktmjax: each still reaches the return stated beside it, and
the student commands find them when no trained teachers are on disk."""
import json
import os

import pytest

from ktmjax import envs, teacher_store

# B's and dmc's sets are partial while their other teachers train (docs/benchmark_b.md,
# docs/world_model.md): the tasks a set holds are checked.
SHIPPED = [("mini", None), ("A", "cpu"), ("B", "cpu"), ("dmc", "cpu")]


@pytest.mark.parametrize("bench_name,scale", SHIPPED)
@pytest.mark.slow
def test_shipped_teachers_reach_their_stated_return(bench_name, scale):
    """One 200-step deterministic episode of each shipped teacher (seed 0) reaches at least
    0.9 of the return measured when it was exported (`check_episode`), and that return is
    an expert's: at least 0.1 of its 10-episode return of 1000 steps (a random or
    standing policy of these tasks gets a few per cent of it, or less than zero)."""
    path = teacher_store.shipped_teachers(bench_name, scale)
    assert path is not None, (bench_name, scale)
    tasks = [t for t in envs.benchmark_tasks(bench_name)
             if os.path.isdir(os.path.join(path, t.name))]
    assert tasks, path
    got = teacher_store.short_episode_returns(path, tasks)
    for task in tasks:
        meta = json.load(open(os.path.join(path, task.name, "teacher.json")))
        stated = meta["check_episode"]["return"]
        assert meta["check_episode"]["steps"] == teacher_store.CHECK_STEPS
        assert stated >= 0.1 * meta["return_mean"] > 0, (task.name, meta)
        assert got[task.name] >= 0.9 * stated, (task.name, got[task.name], stated)


@pytest.mark.slow
def test_student_commands_fall_back_on_the_shipped_teachers(tmp_path):
    """No finished train_teachers run under the root: the shipped teachers (all tasks or a
    subset); a finished run there comes first; a task nobody ships: None."""
    names = [t.name for t in envs.benchmark_tasks("mini")]
    root = tmp_path / "teachers"
    root.mkdir()
    shipped = teacher_store.shipped_teachers("mini")
    assert teacher_store.locate_teachers("mini", names, root=str(root)) == shipped
    assert teacher_store.locate_teachers("mini", names[:1], root=str(root)) == shipped
    assert teacher_store.locate_teachers("A", ["HalfCheetahBigFoot"], "cpu", root=str(root)) == \
        teacher_store.shipped_teachers("A", "cpu")
    assert teacher_store.locate_teachers("A", ["HalfCheetahBigFoot"], "paper", root=str(root)) is None
    run = root / "mini-seed0"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps(
        {"benchmark": "mini", "tasks": {n: {} for n in names}}))
    assert teacher_store.locate_teachers("mini", names, root=str(root)) == str(run)
    assert not teacher_store.has_replay(shipped, envs.benchmark_tasks("mini"))


def test_a_partial_shipped_set_is_named_in_the_error(tmp_path, monkeypatch):
    """Where the shipped set of a benchmark lacks some tasks, a student command finds no
    teachers, and its one error line names the tasks that ship and the --tasks that runs
    on them."""
    import shutil
    partial = tmp_path / "shipped" / "B-cpu"
    for name in ("InvertedPendulum", "Hopper"):
        shutil.copytree(os.path.join(teacher_store.shipped_teachers("B", "cpu"), name),
                        partial / name)
    monkeypatch.setattr(teacher_store, "SHIPPED_ROOT", str(tmp_path / "shipped"))
    names = [t.name for t in envs.benchmark_tasks("B")]
    assert teacher_store.locate_teachers("B", names, "cpu", root=str(tmp_path / "none")) is None
    line = teacher_store.no_teachers("B", names, "cpu")
    assert "cover Hopper, InvertedPendulum only (--tasks=Hopper,InvertedPendulum)" in line, line


@pytest.mark.slow
def test_evaluate_teachers_without_teachers_says_so():
    """No teachers ship for B at the paper scale: one line, no traceback."""
    from tests.conftest import run_module
    proc = run_module("evaluate_teachers", "--benchmark=B", "--scale=paper")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "no teachers ship for benchmark B for the paper scale" in proc.stderr
