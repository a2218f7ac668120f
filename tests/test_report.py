"""experiments.report: the paper's tables from run directories."""
import json


import pytest

from ktmjax import report
from tests.conftest import run_module
from tests.test_train_teachers import _assert_one_line_error

TEACHER = {"T1": 100.0, "T2": 50.0}


def _run(root, name, stage, returns, seed=0, **config):
    """A finished run directory as the commands write it (summary.json, config.json,
    metrics.csv), with the given final returns per task."""
    path = root / name
    path.mkdir()
    tasks = {t: {"return_mean": r, "return_std": 0.0, "episodes": 7,
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
        ({**online, "from": None, "alpha": 0.0, "update": "pcgrad"}, "online", "G-Surgery"),
        ({**online, "from": None, "alpha": 0.0, "algo": "sac"}, "online", "SAC-MT"),
        ({**online, "from": None, "alpha": 0.0, "algo": "sac", "update": "vmap"},
         "online", "SAC-MT (vmap)"),
        ({**online, "update": "vmap"}, "online", "KTM-DRL (vmap)"),
        ({**online, "update": "sequential"}, "online", "KTM-DRL"),
        ({"update": "vmap"}, "offline", "w/o Online (vmap)"),
        ({"preset": "robust", "update": "sequential"}, "offline", "w/o Online (sequential)"),
        ({"preset": "robust", "update": "vmap"}, "offline", "w/o Online"),
        ({**online, "update": "pcgrad", "task_id": True}, "online",
         "KTM-DRL (pcgrad) + task_id"),
        ({**online, "from": None, "alpha": 0.0, "shared_net": True, "task_id": True}, "online",
         "SharedNet"),
        ({**online, "shared_net": True, "task_id": True}, "online", "KTM-DRL + shared_net"),
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
    assert "Returns (7-episode final evaluation of each run" in text
    assert "| T2 | 50.0 | 40.0 | 55.0 ± 5.0 |" in text
    assert "| T1 | 0.900 | 1.050 |" in text
    assert "| T2 | 0.800 | 1.100 |" in text
    # seed 0: (1.1 + 1.0) / 2 = 1.05; seed 1: (1.0 + 1.2) / 2 = 1.1 -> 1.075 ± 0.025
    assert "| mean | **0.850** | **1.075** ± 0.025 |" in text
    # two seeds x two tasks of KTM-DRL: ratios 1.1, 1.0, 1.0, 1.2; IQM: 1.0, 1.1 -> 1.05
    assert "| KTM-DRL | 2 | 1.075 [" in text and "] | 1.050 [" in text
    assert "| w/o Online |" not in text.split("Over seeds")[1]   # one seed: no interval
    png = report.curves(columns, str(tmp_path / "c.png"), "t")
    assert (tmp_path / "c.png").stat().st_size > 0 and png.endswith("c.png")
    # The mean ratio against rounds: returns r * k / 2 at rounds k = 1, 2.
    curves = report.ratio_curves(columns)
    assert curves["w/o Online"] == ([1, 2], [pytest.approx(0.425), pytest.approx(0.85)])
    assert curves["KTM-DRL"] == ([1, 2], [pytest.approx(0.5375), pytest.approx(1.075)])
    report.ratio_curve(columns, str(tmp_path / "r.png"), "t")
    assert (tmp_path / "r.png").stat().st_size > 0


@pytest.mark.slow
def test_report_command(tmp_path):
    off = _run(tmp_path, "off", "offline", {"T1": 90.0, "T2": 40.0})
    out = tmp_path / "out" / "table.md"
    proc = run_module("report", off, f"--out={out}")
    assert proc.returncode == 0, proc.stderr
    assert "| T1 | 100.0 | 90.0 |" in proc.stdout and out.read_text().startswith("# Benchmark A")
    assert (tmp_path / "out" / "table.png").is_file()
    assert (tmp_path / "out" / "table_ratio.png").is_file()
    _assert_one_line_error(run_module("report", off, f"--out={out}"), "exists")
    _assert_one_line_error(run_module("report", str(tmp_path / "none")), "not a finished run")
    other = _run(tmp_path, "other", "offline", {"T1": 90.0})
    _assert_one_line_error(run_module("report", off, other), "has tasks T1,T2 and",
                           "runs of the same tasks")
    (tmp_path / "mini").mkdir()
    other = _run(tmp_path / "mini", "x", "offline", {"T1": 1.0})
    (tmp_path / "mini" / "x" / "summary.json").write_text(
        (tmp_path / "mini" / "x" / "summary.json").read_text().replace('"A"', '"mini"'))
    _assert_one_line_error(run_module("report", off, other), "several benchmarks")


def _compress_run(root, name, source, hidden, returns_by_dtype, large=None):
    """A finished compress run's directory (summary.json as the command writes it)."""
    speeds = {"1": 1000.0, "1024": 1e6}
    dtypes = {d: {"tasks": {t: {"return_mean": r, "teacher_return": TEACHER[t]}
                            for t, r in returns.items()},
                  "actor_params": 100, "actor_bytes": {"float32": 400, "int8": 160}.get(d, 200),
                  "critic_bytes": 800, "actions_per_s": speeds}
              for d, returns in returns_by_dtype.items()}
    source_agent = {"tasks": large or dict(TEACHER)}
    if large:
        source_agent.update(actor_params=1000, actor_bytes=4000, critic_bytes=8000,
                            actions_per_s=speeds)
    path = root / name
    path.mkdir()
    (path / "summary.json").write_text(json.dumps({
        "benchmark": "A", "stage": "compress", "seed": 0, "source": source, "hidden": hidden,
        "dtype": "float16", "from": "runs/offline/x" if large else None,
        "tasks": dtypes["float16"]["tasks"], "dtypes": dtypes, "source_agent": source_agent}))
    (path / "config.json").write_text(json.dumps({"benchmark": "A", "seed": 0}))
    return str(path)


def test_compression_columns_table_and_plot(tmp_path):
    """Compress runs: a column each (network, how it learnt, deployed dtype), and the
    compression table's rows per dtype with the mean ratio to the teacher."""
    returns = {"float32": {"T1": 100.0, "T2": 40.0}, "float16": {"T1": 90.0, "T2": 40.0},
               "int8": {"T1": 50.0, "T2": 25.0}}
    dirs = [_compress_run(tmp_path, "d", "student", [8, 8], returns,
                          large={"T1": 100.0, "T2": 50.0}),
            _compress_run(tmp_path, "t", "teachers", [8, 8], returns)]
    mixed = _compress_run(tmp_path, "m", "student", [8, 8], returns, large={"T1": 100.0, "T2": 50.0})
    summary = json.loads(open(f"{mixed}/summary.json").read())
    summary.update(q_weight=1.0, match_weight=1000.0)
    open(f"{mixed}/summary.json", "w").write(json.dumps(summary))
    assert report.load_run(mixed).column == \
        "compact 8x8 distilled (q_weight=1, match_weight=1000) float16"
    text, columns = report.report(dirs)
    assert list(columns) == ["compact 8x8 direct float16", "compact 8x8 distilled float16"]
    assert "| T1 | 100.0 | 90.0 | 90.0 |" in text
    assert "| large student (runs/offline/x) | | float32 | 1,000 | 4,000 | 1,000 | 1,000,000 | 1.000 |" in text
    # float32: (1.0 + 0.8) / 2; int8: (0.5 + 0.5) / 2
    assert "| compact 8x8 distilled | 0 | float32 | 100 | 400 | 1,000 | 1,000,000 | 0.900 |" in text
    assert "| compact 8x8 direct | 0 | int8 | 100 | 160 | 1,000 | 1,000,000 | 0.500 |" in text
    report.compression_plot(columns, str(tmp_path / "sizes.png"), "t")
    assert (tmp_path / "sizes.png").stat().st_size > 0


def test_the_papers_max_average_reward_is_the_best_periodic_evaluation(tmp_path):
    online = dict(alpha=1.0, beta=1.0, her=True, eval_episodes=3, **{"from": "x"})
    path = _run(tmp_path, "on", "online", {"T1": 40.0, "T2": 20.0}, **online)
    rows = ["stage,round,task,return,return_std,episodes,wall_s"]
    rows += [f"online,{k},T1,{r},0,3,1" for k, r in ((1, 10.0), (2, 80.0), (3, 40.0))]
    (tmp_path / "on" / "metrics.csv").write_text("\n".join(rows) + "\n")
    text, _ = report.report([path])
    assert '"max average reward"' in text and "(3 episodes each" in text
    assert "| T1 | 80.0 |" in text           # the best evaluation, not the final 40
    assert "| T2 | n/a |" in text             # no periodic evaluation of T2
    # Its ratio to the teacher's return (T1's teacher: 100), over the tasks evaluated.
    assert "| mean ratio to the teacher's final return | **0.800** |" in text
