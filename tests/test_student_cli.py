"""Bad input to the student commands: one line, non-zero exit, nothing written."""
import json
import subprocess
import sys

import pytest

from tests.test_train_teachers import ROOT, _assert_one_line_error


def run(module, *args):
    return subprocess.run([sys.executable, "-m", f"experiments.{module}", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("module", ["offline_transfer", "online"])
def test_unknown_benchmark(module, tmp_path):
    proc = run(module, "--benchmark=nope", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "nope", "A, B, mini")
    assert not (tmp_path / "r").exists()


def test_missing_teachers_directory(tmp_path):
    proc = run("offline_transfer", f"--teachers={tmp_path / 'none'}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "does not exist", "train_teachers")
    assert not (tmp_path / "r").exists()


def test_teachers_for_other_tasks(tmp_path):
    (tmp_path / "t" / "teachers" / "Ant").mkdir(parents=True)
    (tmp_path / "t" / "teachers" / "Ant" / "teacher.json").write_text("{}")
    proc = run("offline_transfer", f"--teachers={tmp_path / 't'}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "no teacher for task InvertedPendulum")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("args,words", [
    (["--alpha=-1"], ["--alpha=-1.0", "negative"]),
    (["--rounds=0"], ["--rounds=0", "positive"]),
    (["--update=parallel"], ["--update=parallel", "vmap, sequential"]),
])
def test_online_bad_flags(tmp_path, args, words):
    proc = run("online", *args, f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, *words)
    assert not (tmp_path / "r").exists()


def test_online_from_a_run_of_another_benchmark(tmp_path):
    offline = tmp_path / "off"
    (offline / "student" / "state").mkdir(parents=True)
    (offline / "config.json").write_text(json.dumps({"benchmark": "B"}))
    before = (offline / "config.json").read_bytes()
    proc = run("online", f"--from={offline}", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "benchmark B, not mini")
    assert (offline / "config.json").read_bytes() == before
    assert not (tmp_path / "r").exists()


def test_throughput_prints_one_json_line():
    proc = run("throughput", "--benchmark=mini", "--stage=offline", "--hidden=16",
               "--batch_size=8", "--capacity=64", "--rounds=2", "--repeats=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["stage"] == "offline" and result["tasks"] == 3 and result["batch"] == 8
    assert result["rounds_per_s"] > 0 and result["gflop_per_round"] > 0
    assert result["gflops_matmul_peak"] > result["gflops_achieved"] > 0


def test_throughput_bad_stage():
    _assert_one_line_error(run("throughput", "--stage=both"), "unknown --stage=both")
