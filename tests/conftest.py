import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ktmjax.runs import enable_compilation_cache  # noqa: E402

enable_compilation_cache()

import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tiny teachers of the three mini tasks: 16-wide nets, 100-step episodes, 600 env steps.
TINY_TEACHER_ARGS = ["--benchmark=mini", "--steps=600", "--eval_every=150", "--hidden=16,16",
                     "--batch_size=32", "--start_steps=100", "--episode_length=100",
                     "--eval_episodes=1", "--final_episodes=1"]


def run_module(module: str, *args, timeout: int = 300, env=None):
    """`python -m experiments.<module> ARGS` from the repository root, output captured
    (`env`: the environment, default this process's)."""
    return subprocess.run([sys.executable, "-m", f"experiments.{module}", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=env)


def snapshot(root) -> dict:
    """Every file under `root` with its bytes: compare two to see that nothing changed."""
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def truncate_files(folder) -> None:
    """Cuts every non-empty file under `folder` in half (a truncated checkpoint)."""
    for f in folder.rglob("*"):
        if f.is_file() and f.stat().st_size > 0:
            f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


@pytest.fixture(scope="package")
def tiny_teachers(tmp_path_factory):
    """A finished train_teachers run of the tiny teachers (about a minute, once)."""
    run_dir = tmp_path_factory.mktemp("tiny_teachers") / "run"
    proc = subprocess.run([sys.executable, "-m", "experiments.train_teachers",
                           *TINY_TEACHER_ARGS, f"--run_dir={run_dir}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return run_dir
