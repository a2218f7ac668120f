"""The deployable policy (ktmjax.policy): the same actions as the trained actor in float32,
close ones in half precision and int8 at the bytes each stores, a file that round-trips,
and clear errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ktmjax import layout, networks, policy, sac

LAYOUT = layout.TaskLayout(obs_sizes=(4, 11), action_sizes=(1, 3), task_id=True)
NAMES = ("Small", "Big")


@pytest.fixture(scope="module")
def actor():
    net = networks.Actor((32, 32), LAYOUT.action_max)
    params = net.init(jax.random.PRNGKey(3), jnp.zeros((1, LAYOUT.student_obs_size)))
    return net, params


def _reference(actor, task, obs):
    net, params = actor
    obs_hat = LAYOUT.student_obs(jnp.asarray(obs)[None], (task,))[0]
    return np.asarray(layout.slice_action(net.apply(params, obs_hat), LAYOUT.action_sizes[task]))


def _states(task, n=64):
    return np.random.default_rng(task).normal(size=(n, LAYOUT.obs_sizes[task])).astype(np.float32)


def test_float32_policy_acts_as_the_trained_actor(actor):
    pi = policy.from_actor(actor[1], LAYOUT, NAMES)
    for task in range(2):
        obs = _states(task)
        np.testing.assert_allclose(pi.act(obs, task), _reference(actor, task, obs), atol=1e-6)
        # by name, and one state without a batch axis
        np.testing.assert_allclose(pi.act(obs[0], NAMES[task]), _reference(actor, task, obs)[0],
                                   atol=1e-6)


@pytest.mark.parametrize("dtype,tolerance", [("bfloat16", 3e-2), ("float16", 3e-3),
                                             ("int8", 3e-2)])
def test_quantised_policies_store_fewer_bytes_and_act_closely(actor, dtype, tolerance):
    full = policy.from_actor(actor[1], LAYOUT, NAMES, "float32")
    small = policy.from_actor(actor[1], LAYOUT, NAMES, dtype)
    assert small.num_params == full.num_params
    if dtype == "int8":   # one byte per weight, float32 biases and per-column scales
        kernels = sum(layer["kernel"].size for layer in full.layers)
        biases = sum(layer["bias"].size for layer in full.layers)
        assert small.nbytes == kernels + 4 * biases + 4 * biases
    else:
        assert small.nbytes * 2 == full.nbytes
    for task in range(2):
        obs = _states(task)
        got, want = np.asarray(small.act(obs, task)), _reference(actor, task, obs)
        assert np.abs(got - want).max() < tolerance
        assert np.abs(got - want).max() > 0   # it did compute in the smaller dtype


def test_int8_scales_map_each_columns_peak_to_127(actor):
    layer = policy.actor_layers(actor[1])[0]
    q = policy.quantise_layer(layer, "int8")
    assert q["kernel"].dtype == np.int8
    np.testing.assert_array_equal(np.abs(q["kernel"]).max(axis=0), 127)
    np.testing.assert_allclose(q["kernel"] * q["scale"], layer["kernel"],
                               atol=float(q["scale"].max()) / 2 + 1e-7)


@pytest.mark.parametrize("dtype", policy.DTYPES)
def test_a_saved_policy_loads_with_the_same_actions(actor, dtype, tmp_path):
    pi = policy.from_actor(actor[1], LAYOUT, NAMES, dtype)
    path = str(tmp_path / "policy.msgpack")
    policy.save(pi, path)
    back = policy.load(path)
    assert (back.dtype, back.layout, back.task_names) == (dtype, LAYOUT, NAMES)
    assert back.nbytes == pi.nbytes
    for task in range(2):
        obs = _states(task)
        np.testing.assert_array_equal(back.act(obs, task), pi.act(obs, task))


def test_files_that_are_not_policies_are_refused(tmp_path):
    import flax.serialization
    garbage = tmp_path / "garbage.msgpack"
    garbage.write_bytes(b"\x93not a policy at all")
    other = tmp_path / "other.msgpack"
    other.write_bytes(flax.serialization.msgpack_serialize({"format": "something-else"}))
    for path in (garbage, other):
        with pytest.raises(ValueError, match="not a ktmjax policy file"):
            policy.load(str(path))


def test_bad_task_or_state_size_is_a_clear_error(actor):
    pi = policy.from_actor(actor[1], LAYOUT, NAMES)
    with pytest.raises(ValueError, match="unknown task 'Ant'; this policy's tasks: Small, Big"):
        pi.act(_states(0), "Ant")
    with pytest.raises(ValueError, match="out of range"):
        pi.act(_states(0), 2)
    with pytest.raises(ValueError, match="out of range"):
        pi.act(_states(0), True)
    with pytest.raises(ValueError, match="takes states of size 11, got 4"):
        pi.act(_states(0), 1)
    with pytest.raises(ValueError, match="unknown dtype"):
        policy.from_actor(actor[1], LAYOUT, NAMES, "float8")


def _crafted(tmp_path, actor, change):
    """A saved float32 policy whose restored dict `change` edits, written back."""
    import flax.serialization
    data = flax.serialization.msgpack_restore(policy.to_bytes(
        policy.from_actor(actor[1], LAYOUT, NAMES, "int8")))
    change(data)
    path = tmp_path / "crafted.msgpack"
    path.write_bytes(flax.serialization.msgpack_serialize(data))
    return str(path)


@pytest.mark.parametrize("change", [
    lambda d: d.pop("obs_sizes"),
    lambda d: d.update(obs_sizes=3),
    lambda d: d.update(task_id="no"),
    lambda d: d.update(task_names=["Small"]),
    lambda d: d.update(layers=[1, 2]),
    lambda d: d["layers"]["0"].pop("scale"),
    lambda d: d["layers"]["1"].update(kernel=d["layers"]["1"]["kernel"][:5]),
    lambda d: d["layers"]["2"].update(bias=np.zeros(7, np.float32)),
    lambda d: d["layers"].update({"0": "not a layer"}),
])
def test_structurally_wrong_files_are_refused_on_load(actor, tmp_path, change):
    with pytest.raises(ValueError, match="not a valid ktmjax policy file"):
        policy.load(_crafted(tmp_path, actor, change))


def test_shared_net_and_sac_actors_are_refused_in_one_line():
    net = networks.Actor((8, 8), LAYOUT.action_max, task_layers=LAYOUT.num_tasks)
    params = net.init(jax.random.PRNGKey(4), jnp.zeros((1, LAYOUT.student_obs_size)))
    with pytest.raises(ValueError, match="SharedNet actor"):
        policy.from_actor(params, LAYOUT, NAMES)
    gaussian = sac.GaussianActor((8, 8), LAYOUT.action_max, LAYOUT.num_tasks)
    params = gaussian.init(jax.random.PRNGKey(4), jnp.zeros((1, LAYOUT.student_obs_size)))
    with pytest.raises(ValueError, match="SAC-MT actor"):
        policy.from_actor(params, LAYOUT, NAMES)
