"""The algorithms sit below the runtime: the modules that hold the papers' equations and
learners import nothing that touches disk, processes, placement or logging back-ends, and
do their imports at module level."""
import ast
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

RUNTIME = ("ktmjax.runs", "ktmjax.checkpoint", "ktmjax.distributed", "ktmjax.loops",
           "ktmjax.sharding", "ktmjax.video", "ktmjax.report", "ktmjax.plots", "ktmjax.stages",
           "ktmjax.teachers", "ktmjax.teacher_store", "ktmjax.teacher_data", "orbax", "tensorboardX")
# Imported on their own (transitively): nothing of RUNTIME may load with them.
ALGORITHMS = ("ktmjax.ktm", "ktmjax.td3", "ktmjax.extensions", "ktmjax.layout",
              "ktmjax.replay", "ktmjax.networks", "ktmjax.metrics", "ktmjax.worldmodel.model",
              "ktmjax.worldmodel.losses", "ktmjax.worldmodel.learner", "ktmjax.worldmodel.plan",
              "ktmjax.worldmodel.data", "ktmjax.worldmodel.twohot", "ktmjax.optim",
              "ktmjax.seed_axis", "ktmjax.surgery", "ktmjax.student")
STUDENT_PARTS = ("batches.py", "config.py", "losses.py", "update.py", "learner.py")


def _loaded(module: str) -> list:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.split()


@pytest.mark.parametrize("module", ALGORITHMS)
def test_an_algorithm_loads_no_runtime_module(module):
    loaded = _loaded(module)
    bad = [m for m in loaded if m.split(".")[0] in RUNTIME or m in RUNTIME
           or any(m.startswith(r + ".") for r in RUNTIME)]
    assert not bad, f"{module} loads {bad}"


def _imports(path: str):
    """(module names imported at module level, import nodes inside functions)."""
    tree = ast.parse(open(path).read())
    in_functions = {id(n) for f in ast.walk(tree)
                    if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                    for n in ast.walk(f)}
    top, nested = [], []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [f"{node.module}.{a.name}" for a in node.names])
            (nested if id(node) in in_functions else top).append((node.lineno, names))
    return top, nested


@pytest.mark.parametrize("part", STUDENT_PARTS)
def test_the_students_equations_import_no_runtime_module(part):
    top, _ = _imports(os.path.join(ROOT, "ktmjax", "student", part))
    names = [n for _, ns in top for n in ns]
    assert not [n for n in names if any(n == r or n.startswith(r + ".") for r in RUNTIME)], names


@pytest.mark.parametrize("module", tuple(m for m in ALGORITHMS if m != "ktmjax.student")
                         + tuple(f"ktmjax.student.{p[:-3]}" for p in STUDENT_PARTS))
def test_algorithms_import_at_module_level(module):
    path = os.path.join(ROOT, *module.split(".")) + ".py"
    _, nested = _imports(path)
    assert not nested, f"{module} imports inside a function at lines {[n for n, _ in nested]}"


@pytest.mark.parametrize("command", ["train_teachers", "offline_transfer", "online",
                                     "world_model", "compress"])
def test_importing_a_command_leaves_jax_unstarted(command):
    """A multi-process job must call jax.distributed.initialize before JAX starts its
    backend, so nothing a command imports may start it (e.g. a jax array made at import)."""
    code = (f"import experiments.{command}; from jax._src import xla_bridge; "
            "print(xla_bridge.backends_are_initialized())")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False", f"importing experiments.{command} starts JAX"
