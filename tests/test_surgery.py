"""Gradient surgery (PCGrad), the G-Surgery baseline's update, against hand computations."""
import jax
import jax.numpy as jnp
import numpy as np

from ktmjax import surgery


def test_conflicting_gradients_lose_their_component_along_each_other():
    g = jnp.array([[1.0, 0.0], [-1.0, 1.0], [0.0, 2.0]])
    order = jnp.array([[0, 1, 2], [2, 0, 1], [1, 0, 2]])
    out = np.asarray(surgery.project_conflicting(g, order))
    # Task 0 conflicts with task 1 (dot -1): minus (-1 / 2) * (-1, 1) = (0.5, 0.5);
    # then (0.5, 0.5) . (0, 2) = 1 >= 0: kept.
    np.testing.assert_allclose(out[0], [0.5, 0.5])
    # Task 1 meets task 2 first (dot 2: kept), then task 0 (dot -1): minus (-1) * (1, 0).
    np.testing.assert_allclose(out[1], [0.0, 1.0])
    # Task 2 conflicts with neither.
    np.testing.assert_allclose(out[2], [0.0, 2.0])


def test_the_order_of_the_others_matters_and_zero_gradients_are_inert():
    g = jnp.array([[1.0, 0.0, 0.0], [-1.0, 1.0, 0.0], [-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    first = np.asarray(surgery.project_conflicting(g, jnp.array([[0, 1, 2, 3]] * 4)))
    second = np.asarray(surgery.project_conflicting(g, jnp.array([[3, 2, 1, 0]] * 4)))
    # Task 0 meets task 1 (dot -1, |g1|^2 2): (0.5, 0.5, 0); then task 2 (dot -0.5):
    # + 0.25 * (-1, 0, 1). The other order ends elsewhere.
    np.testing.assert_allclose(first[0], [0.25, 0.5, 0.25])
    np.testing.assert_allclose(second[0], [0.25, 0.25, 0.5])
    # Tasks 1 and 2 do not conflict (dot 1): each loses its part along task 0 alone.
    np.testing.assert_allclose(first[1], [0.0, 1.0, 0.0])
    np.testing.assert_allclose(second[2], [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(first[3], [0.0, 0.0, 0.0])   # a zero gradient stays zero
    np.testing.assert_array_equal(first[1:3], second[1:3])      # and projects nothing


def test_value_and_grad_is_the_plain_sum_without_conflicts_and_surgery_with_them():
    params = {"w": jnp.array([0.5, -0.3])}

    def losses(target_a, target_b):
        targets = jnp.stack([target_a, target_b])

        def per_task(stacked):        # task k reads its own copy of the parameters
            each = jnp.sum((stacked["w"] - targets) ** 2, axis=1)
            return each, {"la": each[0]}
        return per_task

    def shared(fn):                   # the same losses of one shared copy
        return lambda p: fn(jax.tree.map(lambda x: jnp.stack([x, x]), p))[0]

    key = jax.random.PRNGKey(0)
    # Both tasks pull w the same way: the plain gradient of the sum.
    agree = losses(jnp.array([1.0, 1.0]), jnp.array([2.0, 0.5]))
    (value, aux), grads = surgery.value_and_grad(agree, key, 2)(params)
    plain = jax.grad(lambda p: jnp.sum(shared(agree)(p)))(params)
    np.testing.assert_allclose(grads["w"], plain["w"], rtol=1e-6)
    np.testing.assert_allclose(value, jnp.sum(shared(agree)(params)), rtol=1e-6)
    np.testing.assert_allclose(aux["la"], shared(agree)(params)[0], rtol=1e-6)
    # Opposite pulls along the first axis: each task's gradient loses its component along
    # the other's, which the plain sum does not.
    clash = losses(jnp.array([2.0, -0.3]), jnp.array([-1.0, 0.7]))
    _, grads = surgery.value_and_grad(clash, key, 2)(params)
    ga = 2 * (params["w"] - jnp.array([2.0, -0.3]))
    gb = 2 * (params["w"] - jnp.array([-1.0, 0.7]))
    pa = ga - (ga @ gb) / (gb @ gb) * gb
    pb = gb - (gb @ ga) / (ga @ ga) * ga
    np.testing.assert_allclose(grads["w"], pa + pb, rtol=1e-5)
    assert not np.allclose(grads["w"], ga + gb)
