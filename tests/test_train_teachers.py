"""The train_teachers command, end to end: bad input, and a real learning check; then the
student commands (offline_transfer, online) learning from the teacher it trained."""
import json

import jax
import numpy as np
import pytest

from ktmjax import checkpoint, envs, td3, teacher_store, teachers
from tests.conftest import run_module


def run_cli(*args, timeout=600):
    return run_module("train_teachers", *args, timeout=timeout)


def _assert_one_line_error(proc, *words):
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(err.splitlines()) <= 2, err
    for w in words:
        assert w in err, err


@pytest.mark.slow
def test_unknown_benchmark(tmp_path):
    proc = run_cli("--benchmark=nope", f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, "nope", "A, B, mini")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("args,words", [
    (["--tasks=Ant"], ["Ant", "not in benchmark mini"]),
    (["--steps=0"], ["--steps=0", "positive"]),
    (["--steps=500", "--batch_size=1000"], ["--batch_size=1000", "larger"]),
    (["--hidden=4x4"], ["--hidden=4x4"]),
])
@pytest.mark.slow
def test_bad_flags(tmp_path, args, words):
    proc = run_cli(*args, f"--run_dir={tmp_path / 'r'}")
    _assert_one_line_error(proc, *words)
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_run_dir_that_is_a_file_is_left_alone(tmp_path):
    target = tmp_path / "file"
    target.write_text("keep me")
    proc = run_cli(f"--run_dir={target}", "--steps=2000")
    _assert_one_line_error(proc, "is a file")
    assert target.read_text() == "keep me"


@pytest.fixture(scope="module")
def pendulum_run(tmp_path_factory):
    """The README's learning check: an InvertedPendulum teacher from 30K env steps (64-wide
    nets: 1000 from 20K steps on, in a third of the default 256-wide nets' time)."""
    run_dir = tmp_path_factory.mktemp("teachers") / "ip"
    proc = run_cli("--benchmark=mini", "--tasks=InvertedPendulum", "--steps=30000", "--seed=0",
                   "--hidden=64,64", f"--run_dir={run_dir}", timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir, proc


@pytest.mark.slow
def test_inverted_pendulum_teacher_learns(pendulum_run):
    run_dir, proc = pendulum_run
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stage"] == "teachers" and summary["benchmark"] == "mini"
    result = summary["tasks"]["InvertedPendulum"]
    assert result["episodes"] == 10
    assert result["return_mean"] >= 900, result
    assert "| InvertedPendulum |" in proc.stdout            # the result table is printed
    meta = json.loads((run_dir / "teachers" / "InvertedPendulum" / "teacher.json").read_text())
    assert meta["actor_at_bound"] is False and "warning" not in proc.stdout
    assert "env steps/s" in proc.stdout                       # with progress lines
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("stage,round,task,return") and len(rows) == 1 + 6
    last = rows[-1].split(",")                       # the training losses of the last epoch
    assert last[-2:] != ["", ""] and all(np.isfinite(float(x)) for x in last[-2:]), last
    png = (run_dir / "learning_curve.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000     # a drawn figure, not empty


def test_an_actor_stuck_at_its_bound_is_found():
    """`actors_at_bound`: an actor whose output bias drives its tanh to +1 on every state is
    found, a freshly initialised one is not."""
    tiny = td3.TD3Config(hidden=(8, 8), batch_size=8)
    trainer = teachers.TeacherTrainer(envs.benchmark_tasks("mini", ["InvertedPendulum"]), tiny,
                                      capacity=16)
    state = trainer.init(jax.random.PRNGKey(0))
    assert trainer.actors_at_bound(state) == []
    gs = state.groups[0]
    params = gs.learner.actor_params
    bias = params["params"]["MLP_0"]["Dense_2"]["bias"]
    stuck = jax.tree.map(lambda x: x, params)
    stuck["params"]["MLP_0"]["Dense_2"]["bias"] = bias + 50.0
    state = state.replace(groups=(gs.replace(learner=gs.learner.replace(actor_params=stuck)),))
    assert trainer.actors_at_bound(state) == ["InvertedPendulum"]


@pytest.mark.slow
def test_finished_run_dir_is_not_overwritten(pendulum_run):
    run_dir, _ = pendulum_run
    before = (run_dir / "summary.json").read_bytes()
    proc = run_cli("--benchmark=mini", "--tasks=InvertedPendulum", "--steps=1000",
                   f"--run_dir={run_dir}")
    _assert_one_line_error(proc, "already holds a finished run")
    assert (run_dir / "summary.json").read_bytes() == before


@pytest.mark.slow
def test_saved_teacher_restores_and_acts_like_the_evaluated_one(pendulum_run):
    run_dir, _ = pendulum_run
    task_dir = run_dir / "teachers" / "InvertedPendulum"
    meta = json.loads((task_dir / "teacher.json").read_text())
    assert (meta["obs_size"], meta["action_size"]) == (4, 1)
    config = td3.TD3Config(hidden=tuple(meta["hidden"]))
    like = td3.init(jax.random.PRNGKey(0), 4, 1, config)
    state = checkpoint.load(str(task_dir / "state"), like)
    assert int(state.steps) > 20_000
    data = checkpoint.load(str(task_dir / "replay"))
    assert data["obs"].shape == (30_000, 4) and data["action"].shape == (30_000, 1)
    assert np.isfinite(data["next_obs"]).all()
    # The restored actor balances the pendulum on a real env for a full episode.
    from ktmjax.evaluation import make_evaluator
    env = envs.MultiTaskEnv(envs.benchmark_tasks("mini", ["InvertedPendulum"]))
    params = (jax.tree.map(lambda x: x[None], state.actor_params),)  # one group of one task
    policy = lambda g, p, obs: jax.vmap(lambda pp, o: td3.policy(pp, o, 1, config))(p, obs)
    returns = make_evaluator(env, policy, 2)(params, jax.random.PRNGKey(5))
    assert float(returns.mean()) >= 900


@pytest.mark.slow
def test_load_teachers_picks_the_target_or_the_online_critic(pendulum_run):
    run_dir, _ = pendulum_run
    env = envs.MultiTaskEnv(envs.benchmark_tasks("mini", ["InvertedPendulum"]))
    task_dir = run_dir / "teachers" / "InvertedPendulum"
    config = td3.TD3Config(hidden=tuple(json.loads((task_dir / "teacher.json").read_text())["hidden"]))
    state = checkpoint.load(str(task_dir / "state"), td3.init(jax.random.PRNGKey(0), 4, 1, config))
    for which, expected in (("target", state.target_critic_params),
                            ("online", state.critic_params)):
        groups, _, _ = teacher_store.load_teachers(str(run_dir), env.groups, which)
        for got, want in zip(jax.tree.leaves(groups[0].critic_params), jax.tree.leaves(expected)):
            np.testing.assert_array_equal(got[0], want)
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(state.critic_params),
                                                        jax.tree.leaves(state.target_critic_params)))
    with pytest.raises(ValueError, match="unknown teacher critic"):
        teacher_store.load_teachers(str(run_dir), env.groups, "newest")


def _ratio(run_dir, task="InvertedPendulum"):
    summary = json.loads((run_dir / "summary.json").read_text())
    return summary["tasks"][task]["ratio"], summary


@pytest.mark.slow
def test_student_learns_from_the_trained_teacher_offline_then_online(pendulum_run, tmp_path):
    """The README's pipeline on one task: offline_transfer from the InvertedPendulum teacher
    trained above, then online from that student (`mini`'s defaults otherwise, small nets
    and schedules); each stage ends at >= 0.9 of the teacher on the real env."""
    teacher_dir, _ = pendulum_run
    offline, online = tmp_path / "offline", tmp_path / "online"
    proc = run_module("offline_transfer", "--benchmark=mini", "--tasks=InvertedPendulum",
                        f"--teachers={teacher_dir}", "--rounds=2000", "--eval_every=1000",
                        "--hidden=64,64", "--rollout_steps=5000", "--final_episodes=3",
                        f"--run_dir={offline}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| InvertedPendulum |" in proc.stdout
    ratio, summary = _ratio(offline)
    assert summary["stage"] == "offline" and list(summary["tasks"]) == ["InvertedPendulum"]
    assert ratio >= 0.9, summary
    proc = run_module("online", "--benchmark=mini", f"--from={offline}", "--rounds=2000",
                        "--warmup=500", "--eval_every=1000", "--final_episodes=3",
                        f"--run_dir={online}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ratio, summary = _ratio(online)
    assert summary["stage"] == "online" and summary["teachers"] == str(teacher_dir)
    assert ratio >= 0.9, summary
