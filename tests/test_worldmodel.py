"""The world model's parts against hand computations on tiny nets (ktmjax.worldmodel)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ktmjax.worldmodel import data, learner, losses, model, plan, store, twohot

# Two tasks: 1 and 2 action entries, padded to 2; tiny widths, no dropout (deterministic).
CFG = model.ModelConfig(obs_size=3, action_size=2, action_sizes=(1, 2), enc_dim=8, mlp_dim=8,
                        latent_dim=8, num_enc_layers=2, num_q=2, task_dim=4, simnorm_dim=4,
                        dropout=0.0)
LOSS = losses.LossConfig()


def _noisy_params(key=0):
    """Fresh parameters with every leaf perturbed (no zero-initialised head left)."""
    params = model.init(CFG, jax.random.PRNGKey(key))
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(key + 1), len(leaves))
    return jax.tree.unflatten(tree, [x + 0.3 * jax.random.normal(k, x.shape)
                                     for x, k in zip(leaves, keys)])


def _batch(key, B=4):
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(key), 3)
    task = jnp.arange(B, dtype=jnp.int32) % 2
    action = jax.random.uniform(k2, (LOSS.horizon, B, 2), minval=-1, maxval=1)
    action = action * CFG.action_masks()[task]
    return {"obs": jax.random.normal(k1, (LOSS.horizon + 1, B, 3)), "action": action,
            "reward": jax.random.uniform(k3, (LOSS.horizon, B), maxval=2.0), "task": task}


def test_symlog_and_two_hot_round_trips():
    y = jnp.array([-900.0, -3.2, 0.0, 0.37, 7.0, 500.0])
    np.testing.assert_allclose(twohot.symexp(twohot.symlog(y)), y, rtol=1e-5)
    encoded = twohot.two_hot(y)
    np.testing.assert_allclose(encoded.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(encoded @ twohot.BINS, twohot.symlog(y), atol=1e-5)
    np.testing.assert_allclose(twohot.decode(jnp.log(encoded + 1e-30)), y, rtol=1e-3, atol=1e-4)
    assert int((encoded > 0).sum(-1).max()) <= 2


def test_soft_ce_against_a_hand_computation():
    logits = jax.random.normal(jax.random.PRNGKey(0), (twohot.NUM_BINS,))
    y = 2.0
    x = float(np.log1p(2.0))                     # symlog(2)
    pos = (x - twohot.V_MIN) / twohot.BIN_SIZE
    low = int(np.floor(pos))
    log_p = np.asarray(jax.nn.log_softmax(logits))
    hand = -((1 - (pos - low)) * log_p[low] + (pos - low) * log_p[low + 1])
    np.testing.assert_allclose(twohot.soft_ce(logits, jnp.float32(y)), hand, rtol=1e-5)


def test_simnorm_rows_sum_to_one_per_group():
    params = _noisy_params()
    z = model.encode(CFG, params, jnp.ones((5, 3)), jnp.zeros(5, jnp.int32))
    groups = np.asarray(z).reshape(5, -1, CFG.simnorm_dim)
    np.testing.assert_allclose(groups.sum(-1), 1.0, rtol=1e-5)
    assert (groups >= 0).all()


def test_model_loss_terms_against_a_hand_computation():
    params, batch, key = _noisy_params(), _batch(1), jax.random.PRNGKey(7)
    target_q = jax.tree.map(lambda x: x * 0.9, params["qs"])
    discounts = jnp.array([0.99, 0.95])
    total, terms, zs = losses.world_model_loss(CFG, LOSS, params, target_q, batch, discounts, key)
    # The same terms, step by step.
    k_target, _ = jax.random.split(key)
    k_pi, _ = jax.random.split(k_target)
    obs, action, reward, task = (np.asarray(batch[k]) for k in ("obs", "action", "reward", "task"))
    next_z = model.encode(CFG, params, batch["obs"][1:], batch["task"])
    _, next_a, _ = model.policy(CFG, params, next_z, batch["task"], k_pi)
    q_next = twohot.decode(model.q_logits(CFG, target_q, params, next_z, next_a, batch["task"]))
    targets = reward + np.asarray(discounts)[task] * np.min(np.asarray(q_next), 0)
    z = model.encode(CFG, params, batch["obs"][0], batch["task"])
    consistency = reward_loss = value_loss = 0.0
    for t in range(LOSS.horizon):
        w = LOSS.rho ** t
        r_logits = model.reward_logits(CFG, params, z, batch["action"][t], batch["task"])
        reward_loss += w * float(np.mean(twohot.soft_ce(r_logits, batch["reward"][t])))
        q_logits = model.q_logits(CFG, params["qs"], params, z, batch["action"][t], batch["task"])
        for q in range(CFG.num_q):
            value_loss += w * float(np.mean(twohot.soft_ce(q_logits[q], jnp.asarray(targets[t]))))
        z = model.next_latent(CFG, params, z, batch["action"][t], batch["task"])
        consistency += w * float(np.mean((np.asarray(z) - np.asarray(next_z[t])) ** 2))
    H = LOSS.horizon
    np.testing.assert_allclose(terms["consistency"], consistency / H, rtol=1e-4)
    np.testing.assert_allclose(terms["reward"], reward_loss / H, rtol=1e-4)
    np.testing.assert_allclose(terms["value"], value_loss / (H * CFG.num_q), rtol=1e-4)
    np.testing.assert_allclose(total, 20 * consistency / H + 0.1 * reward_loss / H
                               + 0.1 * value_loss / (H * CFG.num_q), rtol=1e-4)
    np.testing.assert_allclose(zs[-1], z, rtol=1e-5)


def test_reward_distillation_is_the_mse_of_decoded_rewards_and_trains_only_its_path():
    student, teacher, batch = _noisy_params(0), _noisy_params(10), _batch(2)
    term = losses.reward_distillation(CFG, student, CFG, teacher, batch)
    decoded = lambda p: model.reward(CFG, p, model.encode(CFG, p, batch["obs"][0], batch["task"]),
                                     batch["action"][0], batch["task"])
    np.testing.assert_allclose(term, np.mean((decoded(student) - decoded(teacher)) ** 2),
                               rtol=1e-5)
    grads = jax.grad(lambda p: losses.reward_distillation(CFG, p, CFG, teacher, batch))(student)
    norm = lambda name: float(optax_norm(grads[name]))
    for name in ("encoder", "reward", "task_emb"):
        assert norm(name) > 0, name
    for name in ("dynamics", "qs", "pi"):
        assert norm(name) == 0, name


def optax_norm(tree):
    return jnp.sqrt(sum(jnp.sum(x ** 2) for x in jax.tree.leaves(tree)))


def test_masked_action_entries_are_inert():
    params = _noisy_params()
    z = model.encode(CFG, params, jnp.ones((3, 3)), jnp.zeros(3, jnp.int32))
    task = jnp.zeros(3, jnp.int32)                 # task 0 has one action entry of two
    out = model.policy(CFG, params, z, task, jax.random.PRNGKey(0))
    # Perturb the policy head's outputs for the unused entry (mean column 1, log-std column 3).
    last = "Dense_2"                               # the head: 2 * action_size outputs
    kernel = params["pi"][last]["kernel"].at[:, [1, 3]].add(5.0)
    changed = dict(params, pi=dict(params["pi"], **{last: dict(params["pi"][last], kernel=kernel)}))
    again = model.policy(CFG, changed, z, task, jax.random.PRNGKey(0))
    for a, b in zip(out, again):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert float(jnp.abs(out[0][:, 1]).max()) == 0 and float(jnp.abs(out[1][:, 1]).max()) == 0
    action, _ = plan.plan(CFG, plan.PlanConfig(num_samples=32, num_pi_trajs=4, num_elites=8,
                                               iterations=2), params, jnp.ones(3), jnp.int32(0),
                          jnp.zeros((3, 2)), jnp.bool_(True), 0.99, jax.random.PRNGKey(1),
                          jnp.bool_(True))
    assert float(action[1]) == 0.0


def test_sub_trajectories_never_cross_an_episode_end():
    # Two episodes of 6 steps: obs counts up, the second episode starts at 100.
    obs = np.concatenate([np.arange(6), 100 + np.arange(6)]).astype(np.float32)[:, None]
    next_obs = obs + 1
    starts = data.valid_starts(obs, next_obs, 3)
    np.testing.assert_array_equal(starts, [0, 1, 2, 6, 7, 8])
    ds = data.from_transitions([dict(obs=obs, next_obs=next_obs, action=obs, reward=obs[:, 0])],
                               obs_size=2, action_size=1, horizon=3)
    batch = data.sample(ds, jax.random.PRNGKey(0), 64)
    steps = np.diff(np.asarray(batch["obs"][:, :, 0]), axis=0)
    assert (steps == 1).all()                     # every sampled run is consecutive
    assert batch["obs"].shape == (4, 64, 2) and float(jnp.abs(batch["obs"][..., 1]).max()) == 0


def _toy_dataset(n=2000):
    """One task, one action: the reward is 2 - 4 (a - 0.5)^2, the state never changes."""
    rng = np.random.default_rng(0)
    obs = np.tile(rng.normal(size=(1, 3)).astype(np.float32), (n, 1))
    action = rng.uniform(-1, 1, size=(n, 1)).astype(np.float32)
    reward = 2 - 4 * (action[:, 0] - 0.5) ** 2
    return data.from_transitions([dict(obs=obs, next_obs=obs, action=action, reward=reward)],
                                 obs_size=3, action_size=1, horizon=3), obs[0]


def test_the_planner_beats_random_actions_on_a_toy_model():
    cfg = model.ModelConfig(obs_size=3, action_size=1, action_sizes=(1,), enc_dim=16,
                            mlp_dim=32, latent_dim=8, num_enc_layers=2, num_q=2, task_dim=4,
                            simnorm_dim=4, dropout=0.0)
    ds, obs = _toy_dataset()
    trainer = learner.Learner(cfg, [0.9], optim=learner.OptimConfig(lr=3e-3))

    @jax.jit
    def train(state, key):
        def one(s, k):
            k1, k2 = jax.random.split(k)
            return trainer.update(s, data.sample(ds, k1, 64), k2)
        return jax.lax.scan(one, state, jax.random.split(key, 400))

    state, metrics = train(trainer.init(jax.random.PRNGKey(0)), jax.random.PRNGKey(1))
    assert float(metrics["reward"][-1]) < float(metrics["reward"][0])
    pcfg = plan.PlanConfig(num_samples=64, num_pi_trajs=8, num_elites=16, iterations=4)
    actions = [float(plan.plan(cfg, pcfg, state.params, jnp.asarray(obs), jnp.int32(0),
                               jnp.zeros((3, 1)), jnp.bool_(True), 0.9, jax.random.PRNGKey(i),
                               jnp.bool_(False))[0][0]) for i in range(5)]
    true_reward = lambda a: 2 - 4 * (np.asarray(a) - 0.5) ** 2
    random_mean = true_reward(np.random.default_rng(1).uniform(-1, 1, 10_000)).mean()
    assert true_reward(actions).mean() > random_mean + 1.0, (actions, random_mean)


def test_half_precision_files_round_trip_and_halve_the_bytes(tmp_path):
    params = _noisy_params()
    names, discounts = ("TaskA", "TaskB"), (0.99, 0.99)
    sizes = {d: store.save(str(tmp_path / f"m-{d}.msgpack"), CFG, params, names, discounts, d)
             for d in store.DTYPES}
    for dtype in ("float16", "bfloat16"):
        agent = store.load(str(tmp_path / f"m-{dtype}.msgpack"))
        assert agent.cfg == CFG and agent.task_names == names and agent.stored_dtype == dtype
        for got, want in zip(jax.tree.leaves(agent.params), jax.tree.leaves(params)):
            assert got.dtype == jnp.float32
            np.testing.assert_array_equal(got, np.asarray(want).astype(jnp.dtype(dtype))
                                          .astype(np.float32))
        assert sizes[dtype] < 0.6 * sizes["float32"]
    full = store.load(str(tmp_path / "m-float32.msgpack"))
    action, prev = full.act(np.ones(2), "TaskB", jax.random.PRNGKey(0))   # obs padded 2 -> 3
    assert action.shape == (2,) and prev.shape == (3, 2)
    with pytest.raises(ValueError, match="not one of this model's tasks"):
        full.act(np.ones(3), "TaskC", jax.random.PRNGKey(0))
    raw = (tmp_path / "m-float16.msgpack").read_bytes()
    (tmp_path / "cut.msgpack").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="world-model file"):
        store.load(str(tmp_path / "cut.msgpack"))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_a_file_loaded_to_compute_in_half_precision_plans_in_it(tmp_path, dtype):
    path = str(tmp_path / "m.msgpack")
    store.save(path, CFG, _noisy_params(), ("TaskA", "TaskB"), (0.99, 0.99), dtype)
    agent = store.load(path, compute=dtype)
    assert {x.dtype for x in jax.tree.leaves(agent.params)} == {jnp.dtype(dtype)}
    pcfg = plan.PlanConfig(num_samples=16, num_pi_trajs=4, num_elites=4, iterations=2)
    jaxpr = str(jax.make_jaxpr(plan.plan, static_argnums=(0, 1))(
        CFG, pcfg, agent.params, jnp.ones(3), jnp.int32(1), jnp.zeros((3, 2)), jnp.bool_(True),
        0.99, jax.random.PRNGKey(0), jnp.bool_(False)))
    short = {"float16": "f16", "bfloat16": "bf16"}[dtype]
    products = [line for line in jaxpr.splitlines() if "dot_general" in line]
    assert products and all(f":{short}[" in line.split("=")[0] for line in products), products
    action, prev = agent.act(np.ones(3), "TaskB", jax.random.PRNGKey(0))
    assert action.dtype == jnp.float32 and action.shape == (2,) and prev.shape == (3, 2)
    with pytest.raises(ValueError, match="compute="):
        store.load(path, compute="int8")


def test_the_scaled_entropy_scales_the_gaussian_part_by_the_tasks_action_count():
    params = _noisy_params()
    z = model.encode(CFG, params, jnp.ones((4, 3)), jnp.array([0, 1, 0, 1]))
    task = jnp.array([0, 1, 0, 1])
    key = jax.random.PRNGKey(3)
    _, sample, plain = model.policy(CFG, params, z, task, key)
    _, _, scaled = model.policy(CFG, params, z, task, key, scale_by_dims=True)
    # The Gaussian part by hand, from the policy head's output and the same noise.
    out = model.modules(CFG)["pi"].apply({"params": params["pi"]},
                                         jnp.concatenate([z, model.task_embedding(params, task)], -1))
    mean, log_std = jnp.split(out, 2, -1)
    log_std = -10 + 6 * (jnp.tanh(log_std) + 1)
    mask = CFG.action_masks()[task]
    eps = jax.random.normal(key, mean.shape) * mask
    gaussian = jnp.sum((-0.5 * eps ** 2 - log_std * mask - 0.9189385) * mask, -1)
    dims = jnp.array([1.0, 2.0, 1.0, 2.0])
    np.testing.assert_allclose(scaled - plain, (dims - 1) * gaussian, rtol=1e-4, atol=1e-4)
