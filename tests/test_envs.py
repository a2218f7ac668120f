import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from ktmjax import envs
from ktmjax.envs import morphology, robots
from ktmjax.envs.robots import env_sizes

# ktm-drl.md section 3: compiled body masses in kg.
MASS_TABLE = {
    "default": (6.250, 1.544, 1.587, 1.095, 1.438, 1.201, 0.885),
    "HalfCheetahSmallTorso": (4.900, 1.813, 1.864, 1.286, 1.689, 1.410, 1.039),
    "HalfCheetahBigTorso": (7.514, 1.292, 1.329, 0.917, 1.204, 1.005, 0.740),
    "HalfCheetahSmallThigh": (7.128, 0.743, 1.810, 1.249, 0.692, 1.369, 1.009),
    "HalfCheetahBigThigh": (5.196, 2.506, 1.320, 0.911, 2.335, 0.998, 0.735),
    "HalfCheetahSmallLeg": (7.064, 1.744, 0.757, 1.238, 1.625, 0.573, 1.000),
    "HalfCheetahBigLeg": (5.253, 1.297, 2.606, 0.921, 1.209, 1.971, 0.743),
    "HalfCheetahSmallFoot": (6.807, 1.681, 1.729, 0.503, 1.566, 1.308, 0.406),
    "HalfCheetahBigFoot": (5.508, 1.360, 1.399, 1.885, 1.267, 1.058, 1.522),
}
BODIES = ("torso", "bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot")


@pytest.mark.parametrize("name", list(MASS_TABLE))
def test_benchmark_a_masses_match_the_table(name):
    """The variant MJCF, compiled as it is, has the table's body masses (14 kg in all), and
    MuJoCo has nothing to warn about (no deprecated `settotalmass`)."""
    xml = (morphology.with_total_mass(morphology.base_halfcheetah_xml()) if name == "default"
           else envs.halfcheetah_variant_xml(name))
    assert "settotalmass" not in xml
    warned, previous = [], mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(warned.append)
    try:
        masses = morphology.body_masses(mujoco.MjModel.from_xml_string(xml))
    finally:
        mujoco.set_mju_user_warning(previous)
    assert warned == []
    for body, kg in dict(zip(BODIES, MASS_TABLE[name])).items():
        assert masses[body] == pytest.approx(kg, abs=0.01), (name, body)
    assert sum(masses.values()) == pytest.approx(14.0, abs=1e-6)


def test_total_mass_scales_every_body_as_settotalmass_does():
    """Against MuJoCo's own `settotalmass` on the stock model: the same masses, inertias
    and centres of mass."""
    stock = mujoco.MjModel.from_xml_string(morphology.base_halfcheetah_xml())
    ours = mujoco.MjModel.from_xml_string(
        morphology.with_total_mass(morphology.base_halfcheetah_xml()))
    for field in ("body_mass", "body_inertia", "body_ipos", "body_iquat"):
        np.testing.assert_allclose(getattr(ours, field), getattr(stock, field), rtol=1e-12,
                                   atol=1e-15, err_msg=field)


def test_variant_changes_only_the_named_geom_sizes():
    base = mujoco.MjModel.from_xml_string(morphology.base_halfcheetah_xml())
    big_foot = mujoco.MjModel.from_xml_string(envs.halfcheetah_variant_xml("HalfCheetahBigFoot"))
    for i in range(base.ngeom):
        name = base.geom(i).name
        factor = 1.25 if name in ("bfoot", "ffoot") else 1.0
        np.testing.assert_allclose(big_foot.geom_size[i], base.geom_size[i] * factor, rtol=1e-9)
        np.testing.assert_allclose(big_foot.geom_pos[i], base.geom_pos[i])
    np.testing.assert_allclose(big_foot.body_pos, base.body_pos)
    np.testing.assert_allclose(big_foot.actuator_gear, base.actuator_gear)


def test_benchmark_registry():
    a = envs.benchmark_tasks("A")
    assert [t.name for t in a] == list(morphology.BENCHMARK_A_ORDER)
    assert all((t.obs_size, t.action_size) == (17, 6) for t in a)
    b = envs.benchmark_tasks("B")
    assert [t.name for t in b] == ["Ant", "Hopper", "Walker2d", "HalfCheetah",
                                   "InvertedPendulum", "InvertedDoublePendulum"]
    mini = envs.benchmark_tasks("mini")
    assert "InvertedPendulum" in [t.name for t in mini]
    assert 3 <= len(mini) <= 4
    assert len({(t.obs_size, t.action_size) for t in mini}) >= 2
    subset = envs.benchmark_tasks("B", ["InvertedPendulum", "Ant"])
    assert [t.name for t in subset] == ["Ant", "InvertedPendulum"]  # benchmark order


def test_unknown_benchmark_and_task_are_clear_errors():
    with pytest.raises(ValueError, match="known benchmarks: A, B, mini"):
        envs.benchmark_tasks("nope")
    with pytest.raises(ValueError, match="not in benchmark mini"):
        envs.benchmark_tasks("mini", ["Ant"])


# The 19 DM Control tasks (Playground) take a minute to trace: in the full suite only.
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if envs.dmc.is_dmc(envs.TASKS[n]) else n
    for n in sorted(envs.TASKS)])
def test_registry_sizes_match_the_real_envs(name):
    task = envs.TASKS[name]
    env = envs.make_env(task)
    assert env_sizes(env) == (task.obs_size, task.action_size)
    # Brax's System names the control range actuator.ctrl_range, an MJX Model
    # actuator_ctrlrange (Playground's envs).
    ctrl = np.asarray(env.sys.actuator.ctrl_range if hasattr(env.sys, "actuator")
                      else env.sys.actuator_ctrlrange)
    assert np.abs(ctrl).max() == pytest.approx(task.action_bound)


def _rollout(step_fn, state, actions):
    """Steps without resets (no episode ends in these few steps; no reset physics to compile)."""
    def body(s, a):
        s, tr, ended = step_fn(s, a, False)
        return s, (tr.reward, tr.next_obs, ended)
    return jax.lax.scan(body, state, actions)


def test_stacked_variants_step_like_each_variant_alone():
    """All eight Benchmark A variants under one vmap == two of them stepped on their own."""
    tasks = envs.benchmark_tasks("A")
    # Contacts make the dynamics chaotic: the vmapped and the single-task programs fuse float
    # ops differently, and such last-bit differences grow after ~15 steps.
    steps = 12
    actions = jax.random.uniform(jax.random.PRNGKey(1), (steps, len(tasks), 6), minval=-1, maxval=1)
    keys = jax.random.split(jax.random.PRNGKey(0), len(tasks))
    stacked = envs.TaskGroup(tasks, range(len(tasks)), "mjx")
    assert stacked.size == 8
    _, (rew, obs, _) = jax.jit(lambda k, a: _rollout(stacked.step, stacked.reset(k), a))(
        keys, actions)
    for i in (0, 7):  # SmallTorso and BigFoot, each in a group of its own
        alone = envs.TaskGroup([tasks[i]], [0], "mjx")
        _, (rew1, obs1, _) = jax.jit(lambda k, a: _rollout(alone.step, alone.reset(k), a))(
            keys[i:i + 1], actions[:, i:i + 1])
        np.testing.assert_allclose(rew[:5, i], rew1[:5, 0], atol=1e-4)
        np.testing.assert_allclose(obs[:5, i], obs1[:5, 0], atol=1e-4)
        np.testing.assert_allclose(rew[:, i], rew1[:, 0], rtol=0.02, atol=0.02)
        np.testing.assert_allclose(obs[:, i], obs1[:, 0], rtol=0.02, atol=0.02)
    # The morphologies really differ: the same actions give clearly different trajectories.
    assert float(jnp.abs(obs[:, 0] - obs[:, 7]).max()) > 0.2


def test_episodes_reset_and_nan_physics_ends_an_episode():
    tasks = envs.benchmark_tasks("mini", ["InvertedPendulum"])
    group = envs.TaskGroup(tasks, [0], "mjx", episode_length=5)
    step = jax.jit(group.step)
    state = group.reset(jax.random.split(jax.random.PRNGKey(0), 1))
    ends = []
    for _ in range(10):
        state, tr, ended = step(state, jnp.zeros((1, 1)))
        ends.append(bool(ended[0]))
        assert float(tr.terminal[0]) == 0.0  # a time-limit end is not terminal
    assert ends == [False] * 4 + [True] + [False] * 4 + [True]
    assert int(state.t[0]) == 0 and float(state.last_return[0]) == 5.0
    # Corrupt the physics: the step reports a terminal end with zero reward, no NaN out.
    bad = state.replace(brax=state.brax.replace(
        pipeline_state=jax.tree.map(lambda x: x * jnp.nan if jnp.issubdtype(x.dtype, jnp.floating)
                                    else x, state.brax.pipeline_state)))
    new, tr, ended = step(bad, jnp.zeros((1, 1)))
    assert bool(ended[0]) and float(tr.terminal[0]) == 1.0 and float(tr.reward[0]) == 0.0
    assert np.isfinite(np.asarray(tr.next_obs)).all()
    assert np.isfinite(np.asarray(new.obs)).all()  # reset to a fresh episode


def test_episodes_restart_from_the_pool_of_starts_and_refill_draws_new_ones():
    env = envs.MultiTaskEnv(envs.benchmark_tasks("mini", ["InvertedPendulum"]),
                            episode_length=3, start_pool=2)
    states = env.reset(jax.random.PRNGKey(0))
    pool = np.asarray(states[0].starts.obs[0])                  # [2, 4]
    assert not np.allclose(pool[0], pool[1])                    # random initial states
    step = jax.jit(env.step)
    restarts = []
    for _ in range(9):
        states, _, ended = step(states, (jnp.zeros((1, 1)),))
        if bool(ended[0][0]):
            restarts.append(np.asarray(states[0].obs[0]))
    # Three episodes ended: they restart from starts 0, 1 and (the pool cycling) 0 again.
    assert len(restarts) == 3
    for got, want in zip(restarts, (pool[0], pool[1], pool[0])):
        np.testing.assert_array_equal(got, want)
    refilled = env.refill_starts(states)
    assert not np.allclose(np.asarray(refilled[0].starts.obs[0]), pool)
    assert int(refilled[0].next_start[0]) == 0
    np.testing.assert_array_equal(refilled[0].obs, states[0].obs)  # the running episode stays
    assert int(refilled[0].t[0]) == int(states[0].t[0])
    again = env.refill_starts(refilled)
    assert not np.allclose(np.asarray(again[0].starts.obs[0]), refilled[0].starts.obs[0])
    assert env.reset_program._cache_size() == 1      # reset and refills: one program


def test_multitask_env_steps_groups_of_different_robots_in_one_call():
    tasks = envs.benchmark_tasks("mini")
    env = envs.MultiTaskEnv(tasks)
    assert [g.indices for g in env.groups] == [(0, 1), (2,)]
    states = env.reset(jax.random.PRNGKey(0))
    actions = tuple(jnp.zeros((g.size, g.action_size)) for g in env.groups)
    states, transitions, _ = jax.jit(env.step)(states, actions)
    assert transitions[0].next_obs.shape == (2, 4)
    assert transitions[1].next_obs.shape == (1, 8)
    assert np.all(np.asarray(transitions[0].reward) == 1.0)


def test_reset_and_step_give_states_of_the_same_types():
    """An epoch's input state comes from a reset at first and from a step after that: any
    dtype or weak type that differs between the two makes every first epoch trace and
    compile again (Brax's InvertedPendulum `reward`, `done` and `info['time_out']` did)."""
    group = envs.TaskGroup(envs.benchmark_tasks("mini", ["InvertedPendulum"]), [0], "mjx")
    reset = jax.eval_shape(group.reset, jax.random.split(jax.random.PRNGKey(0), 1))
    stepped = jax.eval_shape(
        lambda s: group.step(s, jnp.zeros((1, group.action_size)))[0], reset)
    types = lambda tree: [(x.shape, x.dtype, x.weak_type) for x in jax.tree.leaves(tree)]
    assert jax.tree.structure(reset) == jax.tree.structure(stepped)
    assert types(reset) == types(stepped)


def test_building_every_benchmark_prints_no_warning(capfd):
    """No MuJoCo or Brax warning line (e.g. MuJoCo 4's deprecation of Brax's stock
    `settotalmass`) reaches a command's output when it builds its environments; any other
    MuJoCo warning still gets through, and only env building is filtered."""
    before = mujoco.get_mju_user_warning()
    for name in envs.BENCHMARKS:
        envs.MultiTaskEnv(envs.benchmark_tasks(name))
    out, err = capfd.readouterr()
    assert "warning" not in (out + err).lower(), out + err
    assert mujoco.get_mju_user_warning() is before
    with robots.without_settotalmass_warning():
        handler = mujoco.get_mju_user_warning()
        handler("compiler attribute 'settotalmass' is deprecated and will be removed")
        handler("another MuJoCo warning")
    out, err = capfd.readouterr()
    assert "settotalmass" not in out + err and "another MuJoCo warning" in err
