"""SAC-MT's pieces (`ktmjax.sac`) against hand computations, and its student on mini."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ktmjax import envs, layout, sac, student, td3, teacher_store

TINY = td3.TD3Config(hidden=(16, 16), batch_size=8, policy_delay=1)


def test_squashed_log_prob_is_the_change_of_variables():
    """log pi(tanh(u)) = log N(u; mean, std) - log(1 - tanh(u)^2), written out plainly."""
    mean, log_std = jnp.array([0.3, -1.2, 0.0]), jnp.array([-0.5, 0.4, -2.0])
    noise = jnp.array([1.1, -0.7, 0.2])
    action, log_prob = sac.squashed_sample(mean, log_std, noise)
    u = mean + jnp.exp(log_std) * noise
    std = jnp.exp(log_std)
    density = jnp.exp(-0.5 * ((u - mean) / std) ** 2) / (std * jnp.sqrt(2 * jnp.pi))
    expected = jnp.log(density) - jnp.log(1 - jnp.tanh(u) ** 2)
    np.testing.assert_allclose(action, jnp.tanh(u), rtol=1e-6)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-5, atol=1e-5)


def test_the_log_prob_integrates_to_one_in_one_dimension():
    """The density of the squashed Gaussian over (-1, 1), summed on a fine grid, is 1."""
    mean, log_std = jnp.float32(0.4), jnp.float32(-0.3)
    a = jnp.linspace(-0.9999, 0.9999, 200_001)
    u = jnp.arctanh(a)
    _, log_prob = sac.squashed_sample(mean, log_std, (u - mean) / jnp.exp(log_std))
    total = float(jnp.sum(jnp.exp(log_prob)) * (a[1] - a[0]))
    assert abs(total - 1.0) < 1e-2


def test_masked_entries_count_nowhere():
    """The log-probability and the target entropy count only the task's entries (g^k)."""
    entries = jnp.array([[-0.5, 3.0, 7.0], [0.25, -9.0, 2.0]])
    mask = jnp.array([1.0, 0.0, 1.0])
    np.testing.assert_allclose(sac.masked_log_prob(entries, mask), [6.5, 2.25])
    assert float(sac.target_entropy(mask)) == -2.0


def test_soft_target_by_hand():
    r, d = jnp.array([1.0, 2.0]), jnp.array([0.0, 1.0])
    next_q = jnp.array([[5.0, 3.0], [4.0, 6.0]])        # Q1, Q2 of two samples
    log_prob, alpha = jnp.array([-1.0, 0.5]), 0.2
    y = sac.soft_td_target(r, d, next_q, log_prob, alpha, 0.9)
    np.testing.assert_allclose(y, [1.0 + 0.9 * (4.0 + 0.2), 2.0], rtol=1e-6)


def test_policy_and_temperature_losses_by_hand():
    q, log_prob = jnp.array([2.0, 4.0]), jnp.array([-1.0, 0.0])
    assert float(sac.policy_loss(q, log_prob, 0.5)) == pytest.approx((-0.5 - 2 + 0 - 4) / 2)
    # No gradient reaches alpha through the policy's loss, nor log pi through the
    # temperature's.
    assert float(jax.grad(lambda a: sac.policy_loss(q, log_prob, a))(0.5)) == 0.0
    assert np.all(jax.grad(lambda lp: sac.temperature_loss(0.3, lp, -1.0))(log_prob) == 0)
    # d/dlog_alpha = -(mean log pi + target): entropy 0.5 above the target of -1 lowers alpha.
    grad = jax.grad(lambda la: sac.temperature_loss(la, log_prob, -1.0))(0.3)
    assert float(grad) == pytest.approx(-(-0.5 - 1.0)) and grad > 0


def test_gaussian_actor_acts_with_its_mean_and_holds_one_temperature_per_task():
    actor = sac.GaussianActor((8,), 3, num_tasks=4)
    obs = jax.random.normal(jax.random.PRNGKey(0), (5, 6))
    params = actor.init(jax.random.PRNGKey(1), obs)
    log_alpha = actor.apply(params, method=sac.GaussianActor.temperatures)
    assert log_alpha.shape == (4,) and np.all(log_alpha == 0)      # alpha_k = 1 at start
    deterministic = actor.apply(params, obs)
    drawn, log_prob = actor.apply(params, obs, jnp.zeros((5, 3)), method=sac.GaussianActor.sample)
    np.testing.assert_allclose(drawn, deterministic, rtol=1e-6)
    assert deterministic.shape == (5, 3) and log_prob.shape == (5, 3)
    noisy, _ = actor.apply(params, obs, jnp.ones((5, 3)), method=sac.GaussianActor.sample)
    assert np.all(np.abs(noisy) < 1) and not np.allclose(noisy, deterministic)


@pytest.fixture(scope="module")
def mini_env():
    return envs.MultiTaskEnv(envs.benchmark_tasks("mini"))


def _sac_epoch(env, teachers_seed, rounds=3):
    teachers = teacher_store.random_teachers(env.groups, TINY, 32, jax.random.PRNGKey(teachers_seed))
    s = student.Student(env, (TINY,) * len(env.groups),
                        student.StudentConfig(net=TINY, alpha=0.0, warmup=1, algo="sac"))
    state = s.init(jax.random.PRNGKey(10))
    online = s.init_online(state, jax.random.PRNGKey(11), capacity=16)
    return s, state, jax.jit(s.online_epoch, static_argnums=2)(online, teachers, rounds)


@pytest.mark.slow
def test_a_sac_student_round_updates_actor_temperatures_and_targets_without_teachers(mini_env):
    s, state, (online, metrics) = _sac_epoch(mini_env, teachers_seed=1)
    # Rounds [3, K=3]: the warm-up round updates nothing; then critic and actor every round.
    assert metrics.critic_updated.tolist() == [[0] * 3, [1] * 3, [1] * 3]
    assert metrics.actor_updated.tolist() == [[0] * 3, [1] * 3, [1] * 3]
    assert {"actor_policy", "actor_temperature", "actor_sac_alpha", "actor_entropy"} <= set(metrics.actor)
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(metrics))
    log_alpha = s.actor.apply(online.learner.actor_params, method=sac.GaussianActor.temperatures)
    assert np.all(log_alpha != 0)                                   # every task's alpha moved
    np.testing.assert_allclose(metrics.actor["actor_sac_alpha"][1], 1.0)  # alpha_k = 1 at the start
    moved = [not np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(online.learner.target_critic_params),
        jax.tree.leaves(state.target_critic_params))]
    assert all(moved)                                               # soft targets every round
    # Another set of teachers changes nothing: SAC-MT learns without them.
    _, _, other = _sac_epoch(mini_env, teachers_seed=2)
    for x, y in zip(jax.tree.leaves((online, metrics)), jax.tree.leaves(other)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.slow
def test_the_sac_actor_loss_by_hand(mini_env):
    """The SAC actor's loss of one task's batch against the formula written out."""
    s, _, (online, _) = _sac_epoch(mini_env, teachers_seed=1)
    params, critic_params = online.learner.actor_params, online.learner.critic_params
    n = 4
    obs_hat = jax.random.normal(jax.random.PRNGKey(3), (n, s.layout.student_obs_size))
    noise = jax.random.normal(jax.random.PRNGKey(4), (n, s.layout.action_max))
    mask = jnp.ones(s.layout.action_max)
    task = 1
    from ktmjax.student.batches import GuidedActorBatch
    b = GuidedActorBatch(jnp.zeros((n, 1)), obs_hat, mask, None, noise, jnp.asarray(task))
    loss, terms = s.online_losses.actors[0](params, b, None, critic_params)
    mean, raw = jnp.split(s.actor.apply(params, obs_hat, method=lambda m, o: m.trunk(o)), 2, -1)
    log_std = sac.LOG_STD_MIN + 0.5 * (sac.LOG_STD_MAX - sac.LOG_STD_MIN) * (jnp.tanh(raw) + 1)
    u = mean + jnp.exp(log_std) * noise
    log_prob = jnp.sum(-0.5 * noise ** 2 - log_std - 0.5 * jnp.log(2 * jnp.pi)
                       - jnp.log(1 - jnp.tanh(u) ** 2), axis=-1)
    q = jnp.min(s.critic.apply(critic_params, obs_hat, layout.mask_action(jnp.tanh(u), mask)), 0)
    log_alpha = params["params"]["log_alpha"][task]
    expected = (jnp.mean(jnp.exp(log_alpha) * log_prob - q)
                - log_alpha * jnp.mean(log_prob - s.layout.action_max))
    np.testing.assert_allclose(loss, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(terms["sac_alpha"], jnp.exp(log_alpha), rtol=1e-6)


def test_the_sac_actor_loss_counts_only_the_tasks_action_entries():
    """Ant (8 actions) beside Hopper (3): Hopper's loss by hand, with its target entropy
    -3 and log-probability over its 3 entries, ignores the noise on the padded 5; only
    Hopper's temperature gets a gradient."""
    from ktmjax.student.batches import GuidedActorBatch
    env = envs.MultiTaskEnv(envs.benchmark_tasks("B", ["Ant", "Hopper"]))
    s = student.Student(env, (TINY,) * len(env.groups),
                        student.StudentConfig(net=TINY, alpha=0.0, algo="sac"))
    state = s.init(jax.random.PRNGKey(5))
    hopper = env.tasks.index(next(t for t in env.tasks if t.name == "Hopper"))
    g = next(i for i, group in enumerate(env.groups) if hopper in group.indices)
    mask = s.group_masks(g)[0]
    assert mask.tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    n = 6
    obs_hat = jax.random.normal(jax.random.PRNGKey(6), (n, s.layout.student_obs_size))
    noise = jax.random.normal(jax.random.PRNGKey(7), (n, s.layout.action_max))
    batch = lambda z: GuidedActorBatch(jnp.zeros((n, 11)), obs_hat, mask, None, z,
                                       jnp.asarray(hopper))
    loss_fn = lambda p, z: s.online_losses.actors[g](p, batch(z), None, state.critic_params)
    (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.actor_params, noise)
    mean, raw = jnp.split(s.actor.apply(state.actor_params, obs_hat,
                                        method=lambda m, o: m.trunk(o)), 2, -1)
    log_std = sac.LOG_STD_MIN + 0.5 * (sac.LOG_STD_MAX - sac.LOG_STD_MIN) * (jnp.tanh(raw) + 1)
    u = (mean + jnp.exp(log_std) * noise)[:, :3]
    log_prob = jnp.sum(-0.5 * noise[:, :3] ** 2 - log_std[:, :3] - 0.5 * jnp.log(2 * jnp.pi)
                       - jnp.log(1 - jnp.tanh(u) ** 2), axis=-1)
    action = jnp.concatenate([jnp.tanh(u), jnp.zeros((n, 5))], axis=-1)
    q = jnp.min(s.critic.apply(state.critic_params, obs_hat, action), 0)
    expected = jnp.mean(log_prob - q)   # alpha = 1; the temperature term is 0 at log 1 = 0
    np.testing.assert_allclose(loss, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(terms["temperature"], 0.0)
    np.testing.assert_allclose(terms["entropy"], -jnp.mean(log_prob), rtol=1e-4, atol=1e-4)
    grad_log_alpha = grads["params"]["log_alpha"]
    # d/dlog_alpha of -log_alpha mean(log pi + target entropy), the target -3.
    np.testing.assert_allclose(grad_log_alpha[hopper], -jnp.mean(log_prob - 3), rtol=1e-4)
    assert float(grad_log_alpha[1 - hopper]) == 0.0
    # The padded entries' noise changes nothing.
    other = noise.at[:, 3:].multiply(50.0)
    (loss2, _), grads2 = jax.value_and_grad(loss_fn, has_aux=True)(state.actor_params, other)
    assert float(loss2) == float(loss)
    for x, y in zip(jax.tree.leaves(grads), jax.tree.leaves(grads2)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.slow
def test_sac_mt_learns_inverted_pendulum(tmp_path):
    """The SAC-MT command on a real task: 4000 rounds (1000 of warm-up) take InvertedPendulum
    from the untrained actor's 12 to well above it (98 on a 2-core Xeon; 138 after 6000
    rounds, where TD3-MT gets 46), and the report names the run SAC-MT."""
    from tests.conftest import run_module
    run_dir = tmp_path / "sac"
    proc = run_module("online", "--benchmark=mini", "--tasks=InvertedPendulum", "--algo=sac",
                      "--alpha=0", "--rounds=4000", "--warmup=1000", "--eval_every=2000",
                      "--final_episodes=3", f"--run_dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["tasks"]["InvertedPendulum"]["return_mean"] >= 60, summary["tasks"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["algo"] == "sac" and config["policy_delay"] == 1 and config["alpha"] == 0
    proc = run_module("report", str(run_dir))
    assert proc.returncode == 0 and "SAC-MT" in proc.stdout
