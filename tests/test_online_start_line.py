"""`experiments.online` without --from says on its start line that it runs without offline
transfer (the paper's w/o Offline ablation) and how to run KTM-DRL instead."""
import subprocess
import sys

import pytest

from tests.conftest import ROOT

TINY_ONLINE = ["--benchmark=mini", "--tasks=InvertedPendulum",
               "--teachers=ktmjax/shipped_teachers/mini", "--rounds=100", "--eval_every=50",
               "--warmup=50", "--hidden=16,16", "--batch_size=32", "--eval_episodes=1",
               "--final_episodes=1"]


def _start_line(*args, timeout=600) -> str:
    """The `[online] benchmark ...` start line of `python -m experiments.online ARGS`; the
    process is killed once it has printed it (the line comes before the first epoch)."""
    proc = subprocess.Popen([sys.executable, "-m", "experiments.online", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("[online] benchmark "):
                return line
        raise AssertionError("no start line; output:\n" + "".join(seen)[-3000:])
    finally:
        proc.kill()
        proc.wait(timeout=timeout)


@pytest.mark.slow
def test_online_without_from_says_it_runs_without_offline_transfer(tmp_path):
    line = _start_line(*TINY_ONLINE, f"--run_dir={tmp_path / 'r'}")
    assert "WITHOUT offline transfer" in line, line
    assert "w/o Offline" in line, line
    assert "--from=" in line, line   # how to run with it
