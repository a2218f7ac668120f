"""experiments.report: the paper's tables from run directories."""
import json


from ktmjax import report
from tests.conftest import run_module
from tests.test_train_teachers import _assert_one_line_error

TEACHER = {"T1": 100.0, "T2": 50.0}


def _run(root, name, stage, returns, seed=0, **config):
    """A finished run directory as the commands write it (summary.json, config.json,
    metrics.csv), with the given final returns per task."""
    path = root / name
    path.mkdir()
    tasks = {t: {"return_mean": r, "return_std": 0.0, "episodes": 10,
                 "teacher_return": TEACHER[t], "ratio": r / TEACHER[t]}
             for t, r in returns.items()}
    (path / "summary.json").write_text(json.dumps(
        {"benchmark": "A", "stage": stage, "seed": seed, "wall_s": 1.0, "tasks": tasks}))
    (path / "config.json").write_text(json.dumps({"benchmark": "A", "seed": seed, **config}))
    rows = ["stage,round,task,return,return_std,episodes,wall_s"]
    rows += [f"{stage},{k},{t},{r * k / 2},0,3,1" for k in (1, 2) for t, r in returns.items()]
    (path / "metrics.csv").write_text("\n".join(rows) + "\n")
    return str(path)


def test_columns_follow_the_settings():
    online = dict(alpha=1.0, beta=1.0, her=True, **{"from": "runs/offline/x"})
    cases = [
        ({}, "offline", "w/o Online"),
        (online, "online", "KTM-DRL"),
        ({**online, "from": None}, "online", "w/o Offline"),
        ({**online, "from": None, "alpha": 0.0}, "online", "TD3-MT"),
        ({**online, "alpha": 0.0}, "online", "Online w/o Teachers"),
        ({**online, "beta": 0.0}, "online", "Online only Teacher"),
        ({**online, "her": False}, "online", "w/o HER"),
        ({**online, "task_id": True, "actor_match": 1000.0}, "online",
         "KTM-DRL + actor_match, task_id"),
    ]
    for config, stage, column in cases:
        assert report.variant(config, {"stage": stage}) == column, config


def test_tables_from_runs(tmp_path):
    """Two seeds of KTM-DRL and one offline run: the returns table holds the mean ± std
    over seeds, the ratio table the mean ratio and the mean over tasks ± std over seeds."""
    online = dict(alpha=1.0, beta=1.0, her=True, **{"from": "x"})
    dirs = [_run(tmp_path, "off", "offline", {"T1": 90.0, "T2": 40.0}),
            _run(tmp_path, "on0", "online", {"T1": 110.0, "T2": 50.0}, seed=0, **online),
            _run(tmp_path, "on1", "online", {"T1": 100.0, "T2": 60.0}, seed=1, **online)]
    text, columns = report.report(dirs)
    assert list(columns) == ["w/o Online", "KTM-DRL"]
    assert "| T1 | 100.0 | 90.0 | 105.0 ± 5.0 |" in text
    assert "| T2 | 50.0 | 40.0 | 55.0 ± 5.0 |" in text
    assert "| T1 | 0.900 | 1.050 |" in text
    assert "| T2 | 0.800 | 1.100 |" in text
    # seed 0: (1.1 + 1.0) / 2 = 1.05; seed 1: (1.0 + 1.2) / 2 = 1.1 -> 1.075 ± 0.025
    assert "| mean | **0.850** | **1.075** ± 0.025 |" in text
    png = report.curves(columns, str(tmp_path / "c.png"), "t")
    assert (tmp_path / "c.png").stat().st_size > 0 and png.endswith("c.png")


def test_report_command(tmp_path):
    off = _run(tmp_path, "off", "offline", {"T1": 90.0, "T2": 40.0})
    out = tmp_path / "out" / "table.md"
    proc = run_module("report", off, f"--out={out}")
    assert proc.returncode == 0, proc.stderr
    assert "| T1 | 100.0 | 90.0 |" in proc.stdout and out.read_text().startswith("# Benchmark A")
    assert (tmp_path / "out" / "table.png").is_file()
    _assert_one_line_error(run_module("report", off, f"--out={out}"), "exists")
    _assert_one_line_error(run_module("report", str(tmp_path / "none")), "not a finished run")
    (tmp_path / "mini").mkdir()
    other = _run(tmp_path / "mini", "x", "offline", {"T1": 1.0})
    (tmp_path / "mini" / "x" / "summary.json").write_text(
        (tmp_path / "mini" / "x" / "summary.json").read_text().replace('"A"', '"mini"'))
    _assert_one_line_error(run_module("report", off, other), "several benchmarks")
