"""Several seeds in one program (`stages.seeds`): each seed's run equals a run of that seed
alone (within float tolerance), and the aggregate holds the intervals over seeds."""
import csv
import os

import numpy as np
import pytest

from ktmjax import envs, report, runs, stages, teacher_store
from ktmjax.errors import BadInput
from ktmjax.stages import seeds as seed_axis

pytestmark = pytest.mark.slow   # runs the real commands

TINY = dict(benchmark="mini", tasks=("InvertedPendulum",),
            hidden=(16, 16), lr=1e-3, batch_size=8, eval_every=10, checkpoint_every=10,
            eval_episodes=1, final_episodes=1)


def _offline(teachers_dir, run_dir, seed, seeds):
    return stages.OfflineRun(**TINY, teachers=str(teachers_dir), seed=seed, seeds=seeds,
                             rounds=20, rollout_steps=64, data="replay", critic_grad=0.0,
                             preset="paper", run_dir=str(run_dir))


def _losses(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return np.array([[float(r[name] or "nan") for name in ("critic_loss", "actor_loss")]
                         for r in csv.DictReader(f)])   # nan: no update in that epoch


@pytest.fixture(scope="module")
def two_seeds(tiny_teachers, tmp_path_factory):
    root = tmp_path_factory.mktemp("seeds")
    together = stages.offline_transfer(_offline(tiny_teachers, root / "two", 3, 2))
    alone = stages.offline_transfer(_offline(tiny_teachers, root / "alone", 4, 1))
    return root, together, alone


def test_each_seed_of_one_program_is_the_run_of_that_seed_alone(two_seeds):
    root, together, alone = two_seeds
    assert together["seeds"] == [3, 4]
    seed4 = runs.read_json(str(root / "two" / "seed4" / "summary.json"))
    assert seed4["seed"] == 4 and alone["seed"] == 4
    np.testing.assert_allclose(_losses(root / "two" / "seed4"), _losses(root / "alone"),
                               rtol=1e-4)
    # The seed directory reads as a finished run of its own (online --from, report).
    assert runs.read_student_run(str(root / "two" / "seed4"), ("offline",))["seed"] == 4
    assert not np.allclose(_losses(root / "two" / "seed3"), _losses(root / "two" / "seed4"))


def test_the_aggregate_holds_means_and_intervals_over_seeds(two_seeds):
    root, together, _ = two_seeds
    per_seed = [runs.read_json(str(root / "two" / f"seed{s}" / "summary.json")) for s in (3, 4)]
    for name, row in together["tasks"].items():
        returns = [s["tasks"][name]["return_mean"] for s in per_seed]
        assert row["return_mean"] == pytest.approx(float(np.mean(returns)))
        assert row["ratio"] == pytest.approx(float(np.mean([s["tasks"][name]["ratio"]
                                                            for s in per_seed])))
    agg = together["aggregate"]
    heading = (root / "two" / "results.md").read_text().splitlines()[0]
    assert heading.endswith(f"final evaluation: {TINY['final_episodes']} deterministic "
                            "episodes per task"), heading
    assert agg["runs"] == 2 and agg["mean_ci95"][0] <= agg["mean"] <= agg["mean_ci95"][1]
    # The report reads a multi-seed run as its seeds.
    text, columns = report.report([str(root / "two")])
    assert [r.summary["seed"] for r in next(iter(columns.values()))] == [3, 4]
    assert f"{agg['mean']:.3f} [{agg['mean_ci95'][0]:.3f}, {agg['mean_ci95'][1]:.3f}]" in text


def test_online_seeds_start_from_the_seeds_of_a_multi_seed_run(two_seeds, tiny_teachers):
    root, _, _ = two_seeds
    assert seed_axis.start_dirs(str(root / "two"), 2) == [str(root / "two" / "seed3"),
                                                          str(root / "two" / "seed4")]
    assert seed_axis.start_dirs(str(root / "alone"), 2) == [str(root / "alone")] * 2
    with pytest.raises(BadInput, match="holds 2 seeds and this run has 3"):
        seed_axis.start_dirs(str(root / "two"), 3)
    run = stages.OnlineRun(**TINY, alpha=1.0, beta=1.0, from_run=str(root / "two"), seed=3,
                           seeds=2, rounds=20, warmup=5, teachers=str(tiny_teachers),
                           preset="paper", run_dir=str(root / "online"))
    summary = stages.online(run)
    assert summary["seeds"] == [3, 4] and "aggregate" in summary
    for s in (3, 4):
        rows = _losses(root / "online" / f"seed{s}")
        assert rows.shape == (2 * len(TINY["tasks"]), 2) and np.all(np.isfinite(rows))


def test_teacher_seeds_of_one_program_are_the_runs_of_each_seed_alone(tmp_path):
    """train_teachers --seeds=2: each seed's teachers, summary and metrics are those of a
    run of that seed alone, and the seed directory serves as a student's --teachers."""
    def teachers_run(run_dir, seed, seeds):
        return stages.TeachersRun(**TINY, steps=30, seed=seed, seeds=seeds, start_steps=10,
                                  capacity=30, episode_length=20, run_dir=str(run_dir))
    together = stages.train_teachers(teachers_run(tmp_path / "two", 1, 2))
    alone = stages.train_teachers(teachers_run(tmp_path / "alone", 2, 1))
    assert together["seeds"] == [1, 2] and "aggregate" not in together
    seed2 = runs.read_json(str(tmp_path / "two" / "seed2" / "summary.json"))
    assert seed2["seed"] == 2
    np.testing.assert_allclose(_losses(tmp_path / "two" / "seed2"), _losses(tmp_path / "alone"),
                               rtol=1e-4)
    assert not np.allclose(_losses(tmp_path / "two" / "seed1"), _losses(tmp_path / "two" / "seed2"),
                           equal_nan=True)
    for name, row in together["tasks"].items():
        returns = [runs.read_json(str(tmp_path / "two" / f"seed{s}" / "summary.json"))
                   ["tasks"][name]["return_mean"] for s in (1, 2)]
        assert row["return_mean"] == pytest.approx(float(np.mean(returns)))
        assert seed2["tasks"][name]["return_mean"] == pytest.approx(
            alone["tasks"][name]["return_mean"], rel=0.05)
    found = teacher_store.find_teacher_dirs(str(tmp_path / "two" / "seed2"),
                                       envs.benchmark_tasks("mini", TINY["tasks"]))
    assert set(found) == set(TINY["tasks"])
