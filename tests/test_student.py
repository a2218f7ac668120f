"""The KTM-DRL student's offline stage on small random teachers (real networks, real envs)."""
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ktmjax import envs, layout, networks, sharding, student, td3, teacher_store
from ktmjax.student import batches

TINY = td3.TD3Config(hidden=(16, 16), batch_size=8)


def _teacher_groups(env, seed=0, capacity=32):
    """Random TD3 teachers and random replays D_k for every group of `env`."""
    return (teacher_store.random_teachers(env.groups, TINY, capacity, jax.random.PRNGKey(seed)),
            (TINY,) * len(env.groups))


@pytest.fixture(scope="module")
def mini_env():
    return envs.MultiTaskEnv(envs.benchmark_tasks("mini"))


def _student(env, update="vmap"):
    t, configs = _teacher_groups(env)
    s = student.Student(env, configs, student.StudentConfig(net=TINY, update=update))
    return s, t


def _leaves_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _all_finite(tree):
    return all(np.all(np.isfinite(x)) for x in jax.tree.leaves(tree))


def _row(tree, i=0):
    """Task i of a group's batch (or parameters) stacked on a leading task axis."""
    return jax.tree.map(lambda x: x[i], tree)


def test_offline_round_changes_only_the_student(mini_env):
    s, t = _student(mini_env)
    t_before = jax.tree.map(np.asarray, t)
    state = s.init(jax.random.PRNGKey(1))
    new, metrics = jax.jit(s.offline_round)(state, t)
    assert _leaves_equal(t, t_before)                       # teachers never change
    assert metrics.critic["critic_loss"].shape == (3,) and _all_finite(metrics)
    # Every term and diagnostic by name; all three tasks updated both networks.
    assert set(metrics.critic) == {"critic_loss", "critic_eq1", "critic_q1_mean", "critic_grad_norm"}
    assert set(metrics.actor) == {"actor_loss", "actor_eq2", "actor_at_bound", "actor_grad_norm"}
    np.testing.assert_array_equal(metrics.critic["critic_loss"], metrics.critic["critic_eq1"])
    assert metrics.critic_updated.tolist() == [1, 1, 1] == metrics.actor_updated.tolist()
    assert not _leaves_equal(new.actor_params, state.actor_params)
    assert not _leaves_equal(new.critic_params, state.critic_params)
    assert _leaves_equal(new.target_actor_params, state.target_actor_params)
    assert int(new.steps) == 1


def test_critic_distillation_loss_by_hand(mini_env):
    """Eq. 1 through the student's own critic equals the formula written out."""
    s, t = _student(mini_env)
    state = s.init(jax.random.PRNGKey(2))
    b = _row(batches.offline(s, t, jax.random.PRNGKey(3))[1])   # InvertedDoublePendulum
    loss, metrics = s.offline_losses.critic(state.critic_params, b.critic)
    q = s.critic.apply(state.critic_params, b.critic.obs_hat, b.critic.action_hat)
    by_hand = np.mean((np.asarray(b.critic.teacher_q[0]) - np.asarray(q[0])) ** 2
                      + (np.asarray(b.critic.teacher_q[1]) - np.asarray(q[1])) ** 2)
    assert float(loss) == pytest.approx(float(by_hand), rel=1e-5)
    assert float(metrics["eq1"]) == float(loss) and b.critic.slope is None
    assert float(metrics["q1_mean"]) == pytest.approx(float(np.mean(q[0])), rel=1e-6)
    # The teacher saw the raw (unpadded) pair: recompute its Q from the raw batch.
    teacher_q = TINY.critic().apply(_row(t[1].critic_params), b.actor.obs,
                                    b.critic.action_hat[:, :1])
    np.testing.assert_allclose(teacher_q, b.critic.teacher_q, rtol=1e-6)


def test_action_gradient_distillation_by_hand(mini_env):
    """With critic_grad w, the critic loss is Eq. 1 + w * mean ||dQ1/da - dQ1^k/da||^2,
    both gradients taken at the teacher's own action pi^k(s) on states of the teacher's
    rollouts, sample by sample (checked against jax.grad of one sample)."""
    t, configs = _teacher_groups(mini_env)
    s = student.Student(mini_env, configs,
                        student.StudentConfig(net=TINY, critic_grad=0.5))
    with pytest.raises(ValueError, match="rollouts"):
        batches.offline(s, t, jax.random.PRNGKey(3))
    rolled = teacher_store.random_teachers(mini_env.groups, TINY, 32, jax.random.PRNGKey(7))
    t = tuple(g.replace(rollouts=r.data) for g, r in zip(t, rolled))
    state = s.init(jax.random.PRNGKey(2))
    b = _row(batches.offline(s, t, jax.random.PRNGKey(3))[1])
    slope = b.critic.slope
    one_q1 = lambda params, critic, o, a: critic.apply(params, o[None], a[None])[0, 0]
    states = np.asarray(slope.obs_hat)
    rollout_states = np.asarray(_row(t[1].rollouts.obs))
    assert all((rollout_states == row).all(-1).any() for row in states)   # rollout states
    assert not np.allclose(states, b.critic.obs_hat)                      # not D_k's batch
    teacher_action = TINY.actor(1).apply(_row(t[1].actor_params), states)
    np.testing.assert_allclose(slope.teacher_action_hat, teacher_action, rtol=1e-6, atol=1e-6)
    want = jax.vmap(jax.grad(partial(one_q1, _row(t[1].critic_params), TINY.critic()),
                             argnums=1))(states, teacher_action)
    np.testing.assert_allclose(slope.teacher_dqda, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(slope.mask, np.ones(1))     # IDP: 1 action of A_max 1
    loss, metrics = s.offline_losses.critic(state.critic_params, b.critic)
    q = s.critic.apply(state.critic_params, b.critic.obs_hat, b.critic.action_hat)
    grads = jax.vmap(jax.grad(partial(one_q1, state.critic_params, s.critic), argnums=1))(
        states, slope.teacher_action_hat)
    eq1 = np.mean(np.sum((np.asarray(b.critic.teacher_q) - np.asarray(q)) ** 2, axis=0))
    term = 0.5 * np.mean(np.sum((np.asarray(slope.teacher_dqda) - grads) ** 2, axis=-1))
    assert float(loss) == pytest.approx(float(eq1 + term), rel=1e-5)
    # Each part logged under its own name.
    assert float(metrics["eq1"]) == pytest.approx(float(eq1), rel=1e-5)
    assert float(metrics["critic_grad"]) == pytest.approx(float(term), rel=1e-5)


def test_offline_round_with_the_slope_term(mini_env):
    """Jitted over every group (K=3, two groups): with critic_grad > 0 each task's
    critic loss is Eq. 1 plus non-negative slope terms, so at least Eq. 1 from the same
    start and batch, and above it; the actor loss (Eq. 2) is unchanged."""
    t, configs = _teacher_groups(mini_env)
    rolled = teacher_store.random_teachers(mini_env.groups, TINY, 32, jax.random.PRNGKey(7))
    t = tuple(g.replace(rollouts=r.data) for g, r in zip(t, rolled))
    got = {}
    for weight in (0.0, 0.5):
        s = student.Student(mini_env, configs,
                            student.StudentConfig(net=TINY, critic_grad=weight))
        _, got[weight] = jax.jit(s.offline_round)(s.init(jax.random.PRNGKey(1)), t)
    assert _all_finite(got[0.5]) and "critic_grad" not in got[0.0].critic
    assert np.all(got[0.5].critic["critic_loss"] > got[0.0].critic["critic_loss"])
    np.testing.assert_allclose(got[0.5].critic["critic_eq1"], got[0.0].critic["critic_eq1"], rtol=1e-6)
    np.testing.assert_allclose(got[0.5].critic["critic_loss"], got[0.5].critic["critic_eq1"]
                               + got[0.5].critic["critic_grad"], rtol=1e-6)
    np.testing.assert_allclose(got[0.5].actor["actor_loss"], got[0.0].actor["actor_loss"], rtol=1e-6)


def test_actor_distillation_follows_the_teacher_q1(mini_env):
    """Eq. 2: the actor loss is -mean(teacher Q1(s, f^k(pi(ŝ)))) and its gradient reaches
    only the student actor."""
    s, t = _student(mini_env)
    state = s.init(jax.random.PRNGKey(4))
    b = _row(batches.offline(s, t, jax.random.PRNGKey(5))[0]).actor
    tc = _row(t[0].critic_params)
    eq2 = lambda params: s.offline_losses.actors[0](params, b, tc)[0]
    loss = eq2(state.actor_params)
    action = s.actor.apply(state.actor_params, b.obs_hat)[:, :1]
    by_hand = -np.mean(np.asarray(networks.q1(TINY.critic(), tc, b.obs, action)))
    assert float(loss) == pytest.approx(float(by_hand), rel=1e-5)
    # A step on this loss moves the student actor toward a higher teacher Q1.
    grads = jax.grad(eq2)(state.actor_params)
    stepped = jax.tree.map(lambda p, g: p - 1e-3 * g, state.actor_params, grads)
    assert float(eq2(stepped)) < float(loss)


def test_actor_matching_term_by_hand(mini_env):
    """With actor_match w, the offline actor loss is Eq. 2 + w * mean ||f^k(pi(ŝ)) -
    pi^k(s)||^2 on D_k's batch, the teacher's action from its own actor; in a jitted round
    (K=3) the critic loss is unchanged and only the actor's loss grows."""
    t, configs = _teacher_groups(mini_env)
    s = student.Student(mini_env, configs,
                        student.StudentConfig(net=TINY, actor_match=2.0))
    state = s.init(jax.random.PRNGKey(4))
    b = _row(batches.offline(s, t, jax.random.PRNGKey(5))[0]).actor
    teacher_action = TINY.actor(1).apply(_row(t[0].actor_params), b.obs)
    np.testing.assert_allclose(b.teacher_action, teacher_action, rtol=1e-6, atol=1e-6)
    tc = _row(t[0].critic_params)
    loss, metrics = s.offline_losses.actors[0](state.actor_params, b, tc)
    action = s.actor.apply(state.actor_params, b.obs_hat)[:, :1]
    eq2 = -np.mean(np.asarray(networks.q1(TINY.critic(), tc, b.obs, action)))
    term = 2.0 * np.mean(np.sum((np.asarray(action) - teacher_action) ** 2, axis=-1))
    assert float(loss) == pytest.approx(float(eq2 + term), rel=1e-5)
    assert float(metrics["actor_match"]) == pytest.approx(float(term), rel=1e-5)
    for update in student.UPDATE_MODES:
        got = {}
        for weight in (0.0, 2.0):
            s = student.Student(mini_env, configs, student.StudentConfig(
                net=TINY, update=update, actor_match=weight))
            _, got[weight] = jax.jit(s.offline_round)(s.init(jax.random.PRNGKey(1)), t)
        np.testing.assert_allclose(got[2.0].critic["critic_loss"], got[0.0].critic["critic_loss"],
                                   rtol=1e-6)
        assert np.all(got[2.0].actor["actor_loss"] > got[0.0].actor["actor_loss"])
        if update == "vmap":   # one actor step: Eq. 2 before it is the same with the term
            np.testing.assert_allclose(got[2.0].actor["actor_eq2"], got[0.0].actor["actor_eq2"],
                                       rtol=1e-6)


def test_padded_state_and_masked_action_slots_change_nothing(mini_env):
    s, _ = _student(mini_env)
    state = s.init(jax.random.PRNGKey(6))
    lay = s.layout
    assert (lay.obs_max, lay.action_max) == (8, 1)
    obs = jax.random.normal(jax.random.PRNGKey(7), (5, 4))       # an InvertedPendulum state
    a = s.policy_apply(0, state.actor_params, obs)
    np.testing.assert_array_equal(
        a, s.actor.apply(state.actor_params, jnp.concatenate([obs, jnp.zeros((5, 4))], -1)))
    # g^k: whatever sits in an action slot past |a_k|, the masked critic input is the same.
    two = layout.TaskLayout((3, 3), (1, 2))
    mask = jnp.asarray(two.action_masks()[0])
    x = jnp.array([[0.3, 0.9]]); y = jnp.array([[0.3, -0.7]])
    np.testing.assert_array_equal(layout.mask_action(x, mask), layout.mask_action(y, mask))


@pytest.mark.slow
def test_task_id_separates_tasks_with_the_same_state(mini_env):
    """With a task id, the two single pendulums (one state layout, one stacked group) get
    different actions on the same state; without it, the same action."""
    t, configs = _teacher_groups(mini_env)
    obs = jnp.broadcast_to(jax.random.normal(jax.random.PRNGKey(7), (4,)), (2, 4))
    for task_id in (False, True):
        s = student.Student(mini_env, configs, student.StudentConfig(net=TINY, task_id=task_id))
        state = s.init(jax.random.PRNGKey(6))
        assert state.actor_params["params"]["MLP_0"]["Dense_0"]["kernel"].shape[0] == 8 + 3 * task_id
        a = np.asarray(s.policy_apply(0, state.actor_params, obs))     # IP, IPBigPole
        assert (a[0] != a[1]).any() == task_id
    # InvertedDoublePendulum (group 1) is task 2 of 3.
    np.testing.assert_array_equal(s.obs_hat(1, jnp.ones((1, 5, 8)))[0, :, 8:], [[0, 0, 1]] * 5)
    # Every path that builds ŝ runs: the offline round with both added terms, then an online
    # round past its warm-up (a state without the one-hot would not fit the 11 inputs).
    s = student.Student(mini_env, configs, student.StudentConfig(
        net=TINY, task_id=True, critic_grad=1.0, actor_match=1.0,
        warmup=0))
    rolled = teacher_store.random_teachers(mini_env.groups, TINY, 32, jax.random.PRNGKey(7))
    t = tuple(g.replace(rollouts=r.data) for g, r in zip(t, rolled))
    new, metrics = jax.jit(s.offline_round)(state, t)
    assert _all_finite(metrics) and not _leaves_equal(new.actor_params, state.actor_params)
    online = s.init_online(new, jax.random.PRNGKey(11), capacity=16)
    online, metrics = jax.jit(s.online_round)(online, t)
    assert _all_finite(metrics) and int(online.learner.steps) == int(new.steps) + 1


def test_the_update_modes_agree_exactly_for_one_task():
    env = envs.MultiTaskEnv(envs.benchmark_tasks("mini", ["InvertedDoublePendulum"]))
    v, t = _student(env, "vmap")
    state = v.init(jax.random.PRNGKey(8))
    run = lambda learner: jax.jit(learner.offline_epoch, static_argnums=2)(state, t, 3)[0]
    a = run(v)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(run(_student(env, "sequential")[0]))):
        np.testing.assert_array_equal(x, y)
    # pcgrad's per-task gradient (a vjp, not value_and_grad) differs in float rounding only.
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(run(_student(env, "pcgrad")[0]))):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7)


def test_sequential_takes_one_step_per_task_and_pcgrad_one_on_the_surgered_sum(mini_env):
    s, t = _student(mini_env, "sequential")
    state = s.init(jax.random.PRNGKey(9))
    new, _ = jax.jit(s.offline_round)(state, t)
    assert int(new.critic_opt_state[0].count) == 3 and int(new.actor_opt_state[0].count) == 3
    v, _ = _student(mini_env, "vmap")
    new_v, metrics_v = jax.jit(v.offline_round)(state, t)
    assert int(new_v.critic_opt_state[0].count) == 1
    p, _ = _student(mini_env, "pcgrad")
    new_p, metrics_p = jax.jit(p.offline_round)(state, t)
    assert int(new_p.critic_opt_state[0].count) == 1 and int(new_p.actor_opt_state[0].count) == 1
    # The same losses; a step that differs from vmap's where task gradients conflict.
    np.testing.assert_allclose(metrics_p.critic["critic_loss"], metrics_v.critic["critic_loss"],
                               rtol=1e-6)
    assert not _leaves_equal(new_p.critic_params, new_v.critic_params)


@pytest.fixture(scope="module")
def idp_env():
    return envs.MultiTaskEnv(envs.benchmark_tasks("mini", ["InvertedDoublePendulum"]))


def _online(env, teachers_, **kw):
    s = student.Student(env, (TINY,) * len(env.groups),
                        student.StudentConfig(net=TINY, **kw))
    state = s.init(jax.random.PRNGKey(10))
    online = s.init_online(state, jax.random.PRNGKey(11), capacity=16)
    return s, state, online, jax.jit(s.online_epoch, static_argnums=2)


@pytest.mark.slow
def test_online_vmap_and_sequential_agree_exactly_for_one_task(idp_env):
    t, _ = _teacher_groups(idp_env)
    t_before = jax.tree.map(np.asarray, t)
    out = {}
    for mode in ("vmap", "sequential"):
        s, state, online, epoch = _online(idp_env, t, update=mode, warmup=1)
        out[mode] = epoch(online, t, 3)
    for x, y in zip(jax.tree.leaves(out["vmap"]), jax.tree.leaves(out["sequential"])):
        np.testing.assert_array_equal(x, y)                 # states and losses
    a, metrics = out["vmap"]
    # Per round [3, K=1]: no update in the warm-up round, the critic in rounds 1-2, the
    # actor in round 2 only; Eq. 4 and Eq. 5 by name.
    critic, actor = metrics.critic["critic_loss"], metrics.actor["actor_loss"]
    assert critic.shape == (3, 1) and _all_finite(metrics)
    assert metrics.critic_updated[:, 0].tolist() == [0, 1, 1]
    assert metrics.actor_updated[:, 0].tolist() == [0, 0, 1]
    assert critic[0, 0] == 0 and actor[0, 0] == 0 and actor[1, 0] == 0
    assert critic[1, 0] > 0 and critic[2, 0] > 0 and actor[2, 0] != 0
    np.testing.assert_array_equal(critic, metrics.critic["critic_eq4"])
    np.testing.assert_array_equal(actor, metrics.actor["actor_eq5"])
    assert _leaves_equal(t, t_before)                     # teachers never change
    assert int(a.round) == 3 and int(a.buffers[0].size[0]) == 3
    assert int(a.learner.steps) == 2                      # no update in the warm-up round
    # Rounds 1 and 2 update the critic; round 2 (the 2nd update) the actor and targets too.
    assert not _leaves_equal(a.learner.actor_params, state.actor_params)
    assert not _leaves_equal(a.learner.target_critic_params, state.target_critic_params)
    assert int(a.learner.critic_opt_state[0].count) == 2  # fresh optimisers for the stage
    assert int(a.learner.actor_opt_state[0].count) == 1


@pytest.mark.parametrize("actor_match", [0.0, 2.0])
@pytest.mark.slow
def test_online_alpha_zero_ignores_the_teacher(idp_env, actor_match):
    """alpha=0 drops the whole teacher term of Eq. 5, its actor-matching part included."""
    t1, _ = _teacher_groups(idp_env, seed=1)
    t2, _ = _teacher_groups(idp_env, seed=2)
    # Same replay data, different teacher networks.
    t2 = tuple(g2.replace(data=g1.data) for g1, g2 in zip(t1, t2))
    s, state, online, epoch = _online(idp_env, t1, alpha=0.0, beta=1.0, warmup=0,
                                      actor_match=actor_match)
    a = epoch(online, t1, 2)
    b = epoch(jax.tree.map(jnp.copy, online), t2, 2)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.slow
def test_online_actor_matching_term_by_hand(idp_env):
    """With actor_match w, Eq. 5's loss gains alpha * w * mean ||f^k(pi(ŝ)) -
    pi^k(s)||^2 on D'_k's batch, the teacher's action from its own actor; in a jitted epoch
    the critic losses are unchanged and the actor's grows."""
    t, _ = _teacher_groups(idp_env)
    alpha, beta, w = 0.5, 1.0, 2.0
    s, _, online, epoch = _online(idp_env, t, alpha=alpha, beta=beta, warmup=100,
                                  actor_match=w)
    online, _ = epoch(online, t, 4)                       # warm-up only: fills D'_k
    b = _row(batches.online(s, online.learner, online.buffers, t, jax.random.PRNGKey(12))[0])
    teacher_action = TINY.actor(1).apply(_row(t[0].actor_params), b.actor.obs)
    np.testing.assert_allclose(b.actor.teacher_action, teacher_action, rtol=1e-6, atol=1e-6)
    params, tc = online.learner, _row(t[0].critic_params)
    loss, metrics = s.online_losses.actors[0](params.actor_params, b.actor, tc,
                                              params.critic_params)
    action = s.actor.apply(params.actor_params, b.actor.obs_hat)
    eq5 = -np.mean(alpha * np.asarray(networks.q1(TINY.critic(), tc, b.actor.obs, action))
                   + beta * np.asarray(networks.q1(s.critic, params.critic_params,
                                                   b.actor.obs_hat, action)))
    term = alpha * w * np.mean(np.sum((np.asarray(action) - teacher_action) ** 2, -1))
    assert float(loss) == pytest.approx(float(eq5 + term), rel=1e-5)
    assert float(metrics["eq5"]) == pytest.approx(float(eq5), rel=1e-5)
    assert float(metrics["actor_match"]) == pytest.approx(float(term), rel=1e-5)
    got = {}
    for weight in (0.0, w):
        s, _, online, epoch = _online(idp_env, t, alpha=alpha, warmup=1,
                                      actor_match=weight)
        got[weight] = epoch(online, t, 3)[1]
    np.testing.assert_allclose(got[w].critic["critic_loss"], got[0.0].critic["critic_loss"],
                               rtol=1e-6)
    assert got[w].actor["actor_loss"][2, 0] > got[0.0].actor["actor_loss"][2, 0]


def test_without_her_one_task_trains_for_a_whole_episode(mini_env):
    """w/o HER: round r trains only task (r // episode_length) % K; other shards count for
    nothing, whichever data they hold."""
    t, configs = _teacher_groups(mini_env)
    idp = [task.name for task in mini_env.tasks].index("InvertedDoublePendulum")
    g_idp = next(g for g, group in enumerate(mini_env.groups) if idp in group.indices)
    other = list(t)
    other[g_idp] = t[g_idp].replace(data=t[g_idp].data.replace(obs=t[g_idp].data.obs + 1.0))
    other = tuple(other)
    episode = mini_env.groups[0].episode_length
    for her in (False, True):
        s = student.Student(mini_env, configs, student.StudentConfig(net=TINY, her=her))
        state = s.init(jax.random.PRNGKey(12))
        round_ = jax.jit(s.offline_round)
        for r, idp_active in ((0, False), (episode - 1, False), (idp * episode, True)):
            at = state.replace(steps=jnp.asarray(r, state.steps.dtype))
            same = _leaves_equal(round_(at, t)[0].actor_params, round_(at, other)[0].actor_params)
            assert same == (not her and not idp_active), (her, r)


def test_epoch_functions_trace_once(idp_env):
    """Epoch after epoch, the jitted (donating) epoch functions never trace or compile again
    (teachers placed on the device as a loaded checkpoint is)."""
    t, configs = _teacher_groups(idp_env)
    t = jax.device_put(t, jax.devices()[0])
    s = student.Student(idp_env, configs, student.StudentConfig(net=TINY, warmup=1))
    traces = {"offline": 0, "online": 0}

    def counted(stage, fn):
        def wrapped(state, teachers_, n):
            traces[stage] += 1
            return fn(state, teachers_, n)
        return jax.jit(wrapped, static_argnums=2, donate_argnums=0)

    offline = counted("offline", s.offline_epoch)
    state = sharding.placed(s.init(jax.random.PRNGKey(13)))
    for _ in range(3):
        state, _ = offline(state, t, 2)
    online = counted("online", s.online_epoch)
    run = sharding.placed(s.init_online(s.finish_offline(state), jax.random.PRNGKey(14),
                                        capacity=8))
    for _ in range(3):
        run, _ = online(s.refill_starts(run), t, 2)    # as stages.online runs them
    assert traces == {"offline": 1, "online": 1}
    assert offline._cache_size() == 1 and online._cache_size() == 1   # one compiled program
    assert idp_env.reset_program._cache_size() == 1   # the refills reuse the reset program
    assert int(state.steps) == 6 and int(run.round) == 6


@pytest.mark.parametrize("preset", ["paper", "robust"])
@pytest.mark.slow
def test_preset_metrics_name_eq1_to_eq5_and_only_the_presets_extension_terms(mini_env, preset):
    """The paper preset's offline and online rounds log Eq. 1, 2, 4 and 5 and no term that is
    not in the paper; the robust preset's log its extension terms beside them."""
    import dataclasses
    from ktmjax.stages import config
    t, configs = _teacher_groups(mini_env)
    t = tuple(dataclasses.replace(g, rollouts=g.data) for g in t)   # states for critic_grad
    s = student.Student(mini_env, configs, student.StudentConfig(
        net=TINY, warmup=0, **config.student_terms(preset, "offline")))
    state = s.init(jax.random.PRNGKey(1))
    _, offline = jax.jit(s.offline_round)(state, t)
    online = s.init_online(state, jax.random.PRNGKey(2), capacity=16)
    _, online_metrics = jax.jit(s.online_round)(online, t)
    diagnostics = lambda side: {f"{side}_{d}" for d in ("loss", "q1_mean", "at_bound",
                                                         "grad_norm")}
    terms = lambda m, side: set(m) - diagnostics(side)
    robust = preset == "robust"
    assert terms(offline.critic, "critic") == {"critic_eq1"} | ({"critic_grad"} if robust else set())
    assert terms(offline.actor, "actor") == {"actor_eq2"} | ({"actor_match"} if robust else set())
    assert terms(online_metrics.critic, "critic") == {"critic_eq4"}
    assert terms(online_metrics.actor, "actor") == {"actor_eq5"} | (
        {"actor_match"} if robust else set())
    assert _all_finite(offline) and _all_finite(online_metrics)


def test_a_shared_net_student_learns_per_task_end_layers(mini_env):
    """SharedNet's student: one offline round moves each task's own first and last layers
    and the shared one; the teachers' losses read the task one-hot it needs."""
    t, configs = _teacher_groups(mini_env)
    net = td3.TD3Config(hidden=(16, 16), batch_size=8, task_layers=3)
    s = student.Student(mini_env, configs, student.StudentConfig(net=net, task_id=True))
    state = s.init(jax.random.PRNGKey(3))
    new, metrics = jax.jit(s.offline_round)(state, t)
    assert _all_finite(metrics) and metrics.critic_updated.tolist() == [1, 1, 1]
    before, after = (p["params"]["SharedMLP_0"] for p in (state.actor_params, new.actor_params))
    for layer in ("TaskDense_0", "TaskDense_1"):
        moved = np.any(np.asarray(before[layer]["kernel"] != after[layer]["kernel"]), axis=(1, 2))
        assert moved.tolist() == [True, True, True], layer
    assert not _leaves_equal(before["Dense_0"], after["Dense_0"])
