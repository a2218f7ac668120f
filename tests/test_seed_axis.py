"""`SeedAxis`: the seeds of one program, one way for one seed and several."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ktmjax import sharding
from ktmjax.seed_axis import SeedAxis


def _step(state, key):
    """A seed's work: a random walk of its state from its key."""
    return {"x": state["x"] + jax.random.normal(key, state["x"].shape), "n": state["n"] + 1}


@pytest.mark.parametrize("count", [1, 3])
def test_each_seed_of_the_program_is_that_seed_run_alone(count):
    axis = SeedAxis(5, count)
    states = [{"x": jnp.full((2,), float(s)), "n": jnp.zeros((), jnp.int32)} for s in axis.seeds]
    together = jax.jit(axis.over(_step))(axis.combine(states), axis.keys(7))
    for seed, state, out in zip(axis.seeds, states, axis.split(together)):
        alone = _step(state, jax.random.PRNGKey(seed + 7))
        np.testing.assert_allclose(out["x"], alone["x"], rtol=1e-6)
        assert int(out["n"]) == 1
    # Shared arguments (in_axes None) reach every seed whole.
    shared = axis.over(lambda s, k: _step(s, k), (0, None))(axis.combine(states),
                                                             jax.random.PRNGKey(0))
    assert len(axis.split(shared)) == count


def test_one_seed_is_held_without_the_axis():
    """One seed: the tree itself, the function itself (no vmap, whose size-1 kernels
    differ in the last bits): one-seed runs keep their numbers and checkpoint files."""
    axis = SeedAxis(0, 1)
    tree = {"x": jnp.arange(3.0)}
    assert axis.combine([tree]) is tree and axis.split(tree) == [tree]
    assert axis.over(_step) is _step
    assert axis.start_note() == "" and axis.of(0) == ""
    several = SeedAxis(2, 3)
    assert several.seeds == [2, 3, 4] and several.combine([tree] * 3)["x"].shape == (3, 3)
    assert several.start_note() == "seeds 2-4 in one program, " and several.of(3) == " (seed 3)"
    with pytest.raises(ValueError, match="at least 1"):
        SeedAxis(0, 0)


def test_the_mesh_has_a_seed_and_a_task_axis():
    """On one device the mesh is 1 x 1 and placement changes nothing (tests/test_sharding.py
    covers two devices and two processes)."""
    for seeds in (1, 2, 3):
        assert sharding.mesh(seeds).axis_names == (sharding.SEEDS, sharding.TASKS)
        assert sharding.mesh(seeds).devices.shape == (1, 1)
        assert not sharding.splits(4, seeds)
    tree = {"x": jnp.ones((2, 4))}
    assert sharding.tasks(tree, 4, seeds=2) is tree
    assert sharding.describe([4], seeds=2) == ""
