"""Teacher diagnostics (`ktmjax.diagnostics`, `experiments.diagnose_teachers`): a teacher's
return under an action bias, and how its critics (and a student's) agree with its actor."""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ktmjax import checkpoint, diagnostics, envs, layout, td3, teacher_store
from ktmjax.errors import BadInput
from tests.conftest import run_module, snapshot

MINI = teacher_store.shipped_teachers("mini")
STEPS = 200   # short episodes: the shipped pendulum teachers hold 1 per step


@pytest.mark.slow
def test_robustness_at_bias_zero_is_the_plain_evaluation_and_a_large_bias_costs_return():
    task = envs.TASKS["InvertedPendulum"]
    result = diagnostics.robustness(MINI, (0.0, 1.0), episodes=2, tasks=[task.name],
                                    steps=STEPS, seed=3)
    assert result.tasks == (task.name,) and result.biases == (0.0, 1.0)
    assert result.returns.shape == (1, 2) and result.episodes == 2
    assert result.saved == {task.name: 1000.0}
    plain = teacher_store.evaluate_teachers(MINI, [task], 2, STEPS, seed=3).mean(axis=1)
    assert result.returns[0, 0] == pytest.approx(plain[0], rel=1e-5)
    assert result.returns[0, 0] == pytest.approx(STEPS, rel=0.05)   # the expert balances
    # pushed to one side on every step, the pole falls within a few steps
    assert result.returns[0, 1] < 0.25 * result.returns[0, 0]


def test_teacher_tasks_finds_the_shipped_ones_and_refuses_a_directory_without_teachers(
        tmp_path):
    assert [t.name for t in diagnostics.teacher_tasks(MINI)] == list(envs.BENCHMARKS["mini"])
    with pytest.raises(BadInput, match="does not exist"):
        diagnostics.teacher_tasks(str(tmp_path / "missing"))
    with pytest.raises(BadInput, match="holds no teacher"):
        diagnostics.teacher_tasks(str(tmp_path))
    (tmp_path / "Nope").mkdir()
    (tmp_path / "Nope" / "teacher.json").write_text(json.dumps({"task": "Nope"}))
    with pytest.raises(BadInput, match="unknown task"):
        diagnostics.teacher_tasks(str(tmp_path))
    with pytest.raises(BadInput, match="holds no teacher"):
        diagnostics.consistency(str(tmp_path), rollouts=10)


def _peaked_critic(peak: float, obs_size: int):
    """A twin critic (one hidden layer of 2 ReLUs) with Q1(s, a) = -|a - peak| for every
    state s: relu(a - peak) and relu(peak - a), both weighted -1."""
    critic = td3.TD3Config(hidden=(2,)).critic()
    kernel = np.zeros((2, obs_size + 1, 2), np.float32)
    kernel[:, -1] = [1.0, -1.0]
    params = {"params": {"twin": {"MLP_0": {
        "Dense_0": {"kernel": jnp.asarray(kernel),
                    "bias": jnp.asarray([[-peak, peak]] * 2, jnp.float32)},
        "Dense_1": {"kernel": -jnp.ones((2, 2, 1)), "bias": jnp.zeros((2, 1))}}}}}
    return critic, params


def test_scan_finds_the_argmax_and_slope_of_a_hand_made_critic():
    obs = jax.random.normal(jax.random.PRNGKey(0), (5, 3))
    actor = np.array([-0.5, 0.8, 0.0, 1.0, -1.0], np.float32)
    critic, params = _peaked_critic(0.3, 3)
    scan = diagnostics.scan_q1(critic, params, obs, actor[:, None], diagnostics.action_grid())
    np.testing.assert_allclose(scan.argmax, 0.3, atol=1e-6)
    np.testing.assert_allclose(scan.q_actor, -np.abs(actor - 0.3), atol=1e-6)
    np.testing.assert_allclose(scan.gap, np.abs(actor - 0.3), atol=1e-6)
    np.testing.assert_allclose(scan.dqda, -np.sign(actor - 0.3), atol=1e-6)
    itself = diagnostics.compare("peak 0.3", scan, actor, scan)
    assert itself.argmax_distance == pytest.approx(np.mean(np.abs(actor - 0.3)), abs=1e-6)
    assert itself.q_gap == pytest.approx(itself.argmax_distance, abs=1e-6)
    assert itself.dqda == pytest.approx(1.0) and itself.grad_corr == pytest.approx(1.0)
    assert itself.q_rmse == pytest.approx(0.0, abs=1e-6) and itself.student_distance is None
    # Another critic, peaked at -0.2, against the first as the reference.
    other = diagnostics.scan_q1(*_peaked_critic(-0.2, 3), obs, actor[:, None],
                                diagnostics.action_grid())
    row = diagnostics.compare("peak -0.2", other, actor, scan, student_action=actor + 0.1)
    assert row.argmax_distance == pytest.approx(np.mean(np.abs(actor + 0.2)), abs=1e-6)
    assert row.q_rmse == pytest.approx(
        np.sqrt(np.mean(np.square(np.abs(actor + 0.2) - np.abs(actor - 0.3)))), abs=1e-5)
    assert row.student_distance == pytest.approx(0.1, abs=1e-6)


def _student_run(path, task_names, hidden=(8, 8)):
    """A finished (untrained) offline_transfer run of `task_names` with a task id."""
    tasks = envs.benchmark_tasks("mini", task_names)
    lay = layout.TaskLayout.from_tasks(tasks, task_id=True)
    net = td3.TD3Config(hidden=hidden)
    state = td3.init(jax.random.PRNGKey(1), lay.student_obs_size, lay.action_max, net)
    checkpoint.save(os.path.join(path, "student", "state"), state)
    (path / "config.json").write_text(json.dumps({
        "benchmark": "mini", "tasks": list(task_names), "hidden": list(hidden),
        "teachers": MINI, "task_id": True}))
    (path / "summary.json").write_text(json.dumps({
        "stage": "offline", "tasks": {n: {"return_mean": 0.0} for n in task_names}}))
    return lay, net, state


@pytest.mark.slow
def test_consistency_of_a_shipped_teacher_and_a_student_on_its_rollouts(tmp_path):
    teacher_dir = os.path.join(MINI, "InvertedPendulum")
    with pytest.raises(BadInput, match="without its replay"):
        diagnostics.consistency(teacher_dir)
    other = tmp_path / "other"
    _student_run(other, ["InvertedDoublePendulum"])
    with pytest.raises(BadInput, match="did not learn InvertedPendulum"):
        diagnostics.consistency(teacher_dir, rollouts=10, students=[str(other)])
    run = tmp_path / "student"
    lay, net, state = _student_run(run, ["InvertedPendulum", "InvertedDoublePendulum"])
    report = diagnostics.consistency(teacher_dir, rollouts=300, students=[str(run)],
                                     num_states=64)
    assert report.task == "InvertedPendulum"
    assert report.states.shape == (64, 4) and report.action.shape == (64,)
    assert [r.name for r in report.rows] == ["teacher target", f"student {run}"]
    teacher_row, student_row = report.rows
    assert teacher_row.grad_corr == pytest.approx(1.0) and teacher_row.q_rmse == 0.0
    assert 0 <= teacher_row.argmax_distance <= 2 and teacher_row.q_gap >= 0
    # The student acts on the padded state (8 entries) and its task id (task 0 of 2).
    seen = np.concatenate([report.states, np.zeros((64, 4)), np.tile([1.0, 0.0], (64, 1))], 1)
    assert seen.shape[1] == lay.student_obs_size
    own = np.asarray(net.actor(lay.action_max).apply(state.actor_params, seen))[:, 0]
    assert student_row.student_distance == pytest.approx(
        np.mean(np.abs(own - report.action)), rel=1e-4)
    assert student_row.q_rmse > 0


def test_consistency_on_a_teachers_replay_scans_its_newest_states_and_both_critics(tmp_path):
    """A train_teachers-style teacher (state and replay; untrained): with `last`, every
    state scanned is one of the replay's newest; its online and target critics both get a
    row, the target being the reference."""
    task_dir = tmp_path / "teachers" / "InvertedPendulum"
    task_dir.mkdir(parents=True)
    net = td3.TD3Config(hidden=(8, 8))
    state = td3.init(jax.random.PRNGKey(2), 4, 1, net)
    state = state.replace(critic_params=td3.init(jax.random.PRNGKey(3), 4, 1, net).critic_params)
    checkpoint.save(os.path.join(task_dir, "state"), state)
    n, last = 100, 50
    obs = np.asarray(2.0 * jax.random.normal(jax.random.PRNGKey(4), (n, 4)))
    checkpoint.save(os.path.join(task_dir, "replay"), {
        "obs": obs, "action": np.zeros((n, 1), np.float32), "reward": np.zeros(n, np.float32),
        "next_obs": obs, "terminal": np.zeros(n, np.float32)})
    (task_dir / "teacher.json").write_text(json.dumps({
        "task": "InvertedPendulum", "obs_size": 4, "action_size": 1, "hidden": [8, 8],
        "return_mean": 5.0}))
    report = diagnostics.consistency(str(task_dir), last=last, num_states=32)
    assert report.states.shape == (32, 4)
    newest = {tuple(row) for row in obs[n - last:]}
    assert all(tuple(row) in newest for row in report.states)
    assert len({tuple(row) for row in report.states}) > 1
    expected = np.asarray(net.actor(1).apply(state.actor_params, report.states))[:, 0]
    np.testing.assert_allclose(report.action, expected, rtol=1e-5, atol=1e-6)
    online, target = report.rows
    assert (online.name, target.name) == ("teacher online", "teacher target")
    assert target.q_rmse == 0.0 and online.q_rmse > 0
    assert target.grad_corr == pytest.approx(1.0) and online.dqda > 0


@pytest.mark.slow
def test_the_command_refuses_a_missing_directory_in_one_line(tmp_path):
    proc = run_module("diagnose_teachers", "robustness", str(tmp_path / "missing"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: teachers directory"), proc.stderr
    assert "Traceback" not in proc.stderr and "--" not in lines[0]


TINY_ONLINE = ["--benchmark=mini", "--tasks=InvertedPendulum,InvertedDoublePendulum",
               "--rounds=300", "--warmup=100", "--eval_every=150", "--checkpoint_every=150",
               "--hidden=16,16", "--batch_size=32", "--eval_episodes=1", "--final_episodes=1"]


@pytest.mark.slow
def test_critic_bias_reads_each_tasks_shard_and_changes_nothing(tmp_path):
    """critic_bias of a tiny online run (the shipped mini teachers): each row holds its own
    task's transitions (InvertedPendulum pays exactly 1 per step, InvertedDoublePendulum
    about 9), the same seed draws the same transitions, nothing in the run directory
    changes; a directory that is not an online run of one seed is refused in one line."""
    run_dir = tmp_path / "online"
    proc = run_module("online", *TINY_ONLINE, f"--run_dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    before = snapshot(run_dir)
    result = diagnostics.critic_bias(str(run_dir), num_states=256)
    assert result.round == 300
    pendulum, double = result.rows
    assert (pendulum.task, double.task) == ("InvertedPendulum", "InvertedDoublePendulum")
    assert pendulum.transitions == double.transitions == 300
    assert pendulum.reward == 1.0 and 5.0 < double.reward < 10.0
    for row in result.rows:
        assert row.td_error >= 0 and row.twin_gap >= 0 and np.isfinite(row.student_q1)
        assert row.teacher_q1 > 0       # the teachers' critics value their tasks
    assert diagnostics.critic_bias(str(run_dir), num_states=256) == result
    assert diagnostics.critic_bias(str(run_dir), num_states=256, seed=1) != result
    assert snapshot(run_dir) == before
    settings = json.loads((run_dir / "config.json").read_text())
    for name, extra, words in (("offline", {"data": "rollouts"}, "not an online run"),
                               ("seeds", {"seeds": 2}, "2 seeds")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps({**settings, **extra}))
        with pytest.raises(BadInput, match=words):
            diagnostics.critic_bias(str(tmp_path / name))
    with pytest.raises(BadInput, match="no config.json"):
        diagnostics.critic_bias(str(tmp_path / "missing"))
    proc = run_module("diagnose_teachers", "critic_bias", str(run_dir))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| InvertedPendulum | 300 | 1.000 |" in proc.stdout, proc.stdout
