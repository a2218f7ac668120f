"""metrics.csv: evaluation rows with the epoch's training metrics."""
import csv

import numpy as np

from ktmjax import envs, loops, runs


def _metrics(critic, actor, critic_updated, actor_updated):
    return loops.TrainMetrics(critic, actor, np.asarray(critic_updated, np.float32),
                              np.asarray(actor_updated, np.float32))


def test_epoch_means_average_the_updates_that_ran():
    """Each metric is averaged over the rounds that updated its network for that task; a
    0 that was computed (a fraction at the bound) counts, a round without update does not."""
    tasks = envs.benchmark_tasks("mini")[:2]
    critic_loss = np.zeros((4, 2))
    critic_loss[:, 0] = [1.0, 2.0, 3.0, 6.0]               # a critic loss every round
    actor_loss, at_bound = np.zeros((4, 2)), np.zeros((4, 2))
    actor_loss[1::2, 0] = [-4.0, -2.0]                     # the actor every 2nd round
    at_bound[1::2, 0] = [0.0, 0.5]
    updated = np.zeros((4, 2))
    updated[:, 0] = 1
    actor_updated = updated * [[0], [1], [0], [1]]
    got = loops.epoch_means(_metrics({"critic_loss": critic_loss},
                                     {"actor_loss": actor_loss, "actor_at_bound": at_bound},
                                     updated, actor_updated), tasks)   # task 1: warm-up only
    assert got == {"InvertedPendulum": {"critic_loss": 3.0, "actor_loss": -3.0,
                                        "actor_at_bound": 0.25},
                   "InvertedPendulumBigPole": {"critic_loss": None, "actor_loss": None,
                                               "actor_at_bound": None}}


def test_first_non_finite_names_the_metric_the_round_and_the_task():
    ok = np.ones((3, 2))
    bad = ok.copy()
    bad[2, 0] = np.nan
    worse = ok.copy()
    worse[1, 1] = np.inf
    m = _metrics({"critic_loss": ok, "critic_eq1": bad}, {"actor_eq2": worse}, ok, ok)
    assert loops.first_non_finite(m) == (1, "actor_eq2", 1)
    assert loops.first_non_finite(_metrics({"critic_loss": ok}, {}, ok, ok)) is None


def test_metrics_log_rows_and_a_log_with_an_older_header(tmp_path):
    old = tmp_path / "metrics.csv"
    old.write_text("stage,round,task,return,return_std,episodes,wall_s\n"
                   "online,10,T,1.000,0.000,3,0.5\n")
    log = runs.MetricsLog(str(tmp_path))
    log.add("online", 20, {"T": {"return_mean": 2.0, "return_std": 0.0, "episodes": 3}},
            {"T": {"critic_loss": 0.5, "actor_loss": None}})
    rows = list(csv.DictReader(old.open()))
    assert list(rows[0]) == list(runs.METRICS_FIELDS)
    assert (rows[0]["round"], rows[0]["critic_loss"]) == ("10", "")
    assert (rows[1]["return"], rows[1]["critic_loss"], rows[1]["actor_loss"]) == ("2.000", "0.5", "")
    # A metric met later gets its own column; the rows before it leave it empty.
    log.add("online", 30, {"T": {"return_mean": 3.0, "return_std": 0.0, "episodes": 3}},
            {"T": {"critic_loss": 0.25, "critic_eq4": 0.25, "actor_at_bound": 0.0}})
    rows = list(csv.DictReader(old.open()))
    assert list(rows[0])[-2:] == ["actor_at_bound", "critic_eq4"]
    assert [(r["critic_eq4"], r["actor_at_bound"]) for r in rows] == [
        ("", ""), ("", ""), ("0.25", "0")]


def test_results_name_the_final_episodes_and_the_curve_the_periodic_ones(tmp_path):
    """results.md's title counts the final evaluation's episodes; the learning curve, whose
    points are the periodic evaluations, counts theirs instead."""
    from ktmjax import plots
    log = runs.MetricsLog(str(tmp_path))
    for r in (10, 20):
        log.add("teachers", r, {"T": {"return_mean": float(r), "return_std": 1.0, "episodes": 3}},
                {"T": {}})
    tasks = {"T": {"return_mean": 25.0, "return_std": 0.5, "episodes": 10}}
    runs.write_results(str(tmp_path), {"stage": "teachers", "wall_s": 1.0, "tasks": tasks},
                       "TD3 teachers, seed 0", 10)
    assert (tmp_path / "results.md").read_text().startswith(
        "# TD3 teachers, seed 0, 10 deterministic episodes per task\n")
    assert (tmp_path / "learning_curve.png").read_bytes().startswith(b"\x89PNG")
    fig = plots.curve_figure(str(tmp_path), "TD3 teachers, seed 0", tasks, "teachers")
    assert fig.axes[0].get_ylabel() == "return (mean of 3 episodes)"
    assert fig._suptitle.get_text() == "TD3 teachers, seed 0"


def test_a_resumed_runs_clock_goes_on_from_the_rows_it_keeps(tmp_path):
    """truncate keeps the stage's rows up to the restored round; elapsed (and the wall_s of
    the next row) goes on from the last kept row's wall_s, not from zero."""
    (tmp_path / "metrics.csv").write_text(
        "stage,round,task,return,return_std,episodes,wall_s\n"
        "offline,10,T,1.000,0.000,3,900.0\n"
        "online,10,T,1.000,0.000,3,100.0\n"
        "online,20,T,2.000,0.000,3,250.0\n")
    log = runs.MetricsLog(str(tmp_path))
    assert log.elapsed() < 5                   # a log's own clock starts at zero
    log.truncate("online", 10)                 # the checkpoint at round 10: row 20 dropped
    assert 100 <= log.elapsed() < 105, log.elapsed()
    log.add("online", 20, {"T": {"return_mean": 3.0, "return_std": 0.0, "episodes": 3}})
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert [(r["stage"], r["round"]) for r in rows] == [
        ("offline", "10"), ("online", "10"), ("online", "20")]
    assert 100 <= float(rows[-1]["wall_s"]) < 105, rows[-1]
    fresh = runs.MetricsLog(str(tmp_path))
    fresh.truncate("compress", 0)              # no row of its stage: its own clock
    assert fresh.elapsed() < 5


def test_tensorboard_event_files_hold_the_metrics(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    log = runs.MetricsLog(str(tmp_path), tensorboard=True)
    for round_, value in ((10, 1.5), (20, 2.5)):
        log.add("offline", round_, {"T": {"return_mean": value, "return_std": 0.0,
                                          "episodes": 3}},
                {"T": {"critic_loss": value / 10, "actor_loss": -value, "actor_eq2": -value}})
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == [
        "offline/actor_eq2/T", "offline/actor_loss/T", "offline/critic_loss/T", "offline/return/T"]
    got = [(e.step, e.value) for e in events.Scalars("offline/return/T")]
    assert got == [(10, 1.5), (20, 2.5)]
    assert [e.value for e in events.Scalars("offline/actor_loss/T")] == [-1.5, -2.5]


def _counter_run(run_dir, total: int):
    """`loops.run_epochs` on a counter (its return is the round), 10 rounds an epoch, a
    checkpoint every epoch, logged to metrics.csv and TensorBoard."""
    import jax.numpy as jnp
    from ktmjax import checkpoint
    tasks = envs.benchmark_tasks("mini")[:1]
    epoch = lambda s, n: ({"x": s["x"] + n},
                          loops.TrainMetrics.from_losses(jnp.ones((n, 2, 1))))
    loops.run_epochs({"x": jnp.zeros((1,))}, total=total, epoch_size=10, epoch=epoch,
                     evaluate=lambda s, i: np.asarray(s["x"]).reshape(1, 1), tasks=tasks,
                     logs=[runs.MetricsLog(str(run_dir), tensorboard=True)], stage="online",
                     prefix="test", checkpoints=checkpoint.RunCheckpoints(str(run_dir)))


def _logged(run_dir):
    """(round, return) of every metrics.csv row and of every TensorBoard return event."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    rows = [(int(r["round"]), float(r["return"]))
            for r in csv.DictReader((run_dir / "metrics.csv").open())]
    events = sorted((e.step, v.tensor.float_val[0] if v.HasField("tensor") else v.simple_value)
                    for f in (run_dir / "tensorboard").iterdir()
                    for e in EventFileLoader(str(f)).Load() for v in e.summary.value
                    if v.tag == "online/return/InvertedPendulum")
    return rows, events


def test_a_restart_keeps_only_the_logs_its_state_reached(tmp_path):
    """What a killed process logged after its last checkpoint (here: return -1 rows and
    events, the last one cut short) is dropped when the run starts again, from no
    checkpoint or from one: each round is logged once, by the state that reached it."""
    stale = runs.MetricsLog(str(tmp_path), tensorboard=True)
    row = {"InvertedPendulum": {"return_mean": -1.0, "return_std": 0.0, "episodes": 1}}
    for round_ in (10, 20):                     # a first process, killed with no checkpoint
        stale.add("online", round_, row)
    with open(stale.events._file_name, "ab") as f:
        f.write(b"\x30\x00\x00")               # a record cut short by the kill
    _counter_run(tmp_path, 20)
    expected = [(10, 10.0), (20, 20.0)]
    assert _logged(tmp_path) == (expected, expected)
    runs.MetricsLog(str(tmp_path), tensorboard=True).add("online", 30, row)   # past 20
    _counter_run(tmp_path, 40)                  # resumes from the checkpoint at 20
    expected += [(30, 30.0), (40, 40.0)]
    assert _logged(tmp_path) == (expected, expected)


def test_one_writer_per_run_directory(tmp_path):
    """While a process holds a run directory, a second command on it is refused in one line
    and writes nothing; once the holder ends (however it ends), the run can be resumed."""
    import json
    import subprocess
    import sys
    run_dir = tmp_path / "run"
    config = {"benchmark": "mini", "seed": 0}
    claim = ("import sys; from ktmjax import runs\n"
             "try:\n"
             f"    print(runs.claim_run({str(run_dir)!r}, {config!r}, {{}}))\n"
             "except runs.BadInput as e:\n"
             "    print(e); sys.exit(2)\n")
    holder = subprocess.Popen([sys.executable, "-c", claim + "import time; time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "False"      # a new run, config written
        before = (run_dir / "config.json").read_bytes()
        second = subprocess.run([sys.executable, "-c", claim], capture_output=True, text=True)
        assert second.returncode == 2
        assert "in use by another running command" in second.stdout
        assert (run_dir / "config.json").read_bytes() == before
    finally:
        holder.kill()
        holder.wait()
    resumed = subprocess.run([sys.executable, "-c", claim], capture_output=True, text=True)
    assert resumed.returncode == 0 and resumed.stdout.strip() == "True", resumed.stdout
    assert json.loads((run_dir / "config.json").read_text())["seed"] == 0
