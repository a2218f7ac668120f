import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ktmjax import envs, extensions, ktm, layout


def test_layout_of_benchmark_b():
    lay = layout.TaskLayout.from_tasks(envs.benchmark_tasks("B"))
    assert (lay.num_tasks, lay.obs_max, lay.action_max) == (6, 27, 8)
    masks = lay.action_masks()
    np.testing.assert_array_equal(masks.sum(1), [8, 3, 6, 6, 1, 1])
    np.testing.assert_array_equal(masks[1], [1, 1, 1, 0, 0, 0, 0, 0])  # Hopper: 3 actions


def test_pad_slice_and_mask():
    obs = jnp.array([[1.0, 2.0]])
    np.testing.assert_array_equal(layout.pad_obs(obs, 4), [[1, 2, 0, 0]])
    padded = jnp.array([0.1, -0.2, 0.3, 0.4])
    np.testing.assert_allclose(layout.slice_action(padded, 3), [0.1, -0.2, 0.3])
    mask = layout.TaskLayout((2, 4), (3, 4)).action_masks()[0]
    np.testing.assert_allclose(layout.mask_action(padded, mask), [0.1, -0.2, 0.3, 0.0])
    with pytest.raises(ValueError):
        layout.pad_obs(jnp.ones((1, 5)), 4)


def test_student_obs_with_and_without_a_task_id():
    tasks = envs.benchmark_tasks("mini")          # 4, 4 and 8 state entries
    obs = jnp.array([[[1.0, 2.0, 3.0, 4.0]] * 2, [[5.0, 6.0, 7.0, 8.0]] * 2])   # [G=2, N=2, 4]
    plain = layout.TaskLayout.from_tasks(tasks)
    assert plain.student_obs_size == 8
    np.testing.assert_array_equal(plain.student_obs(obs, (0, 1)), layout.pad_obs(obs, 8))
    with_id = layout.TaskLayout.from_tasks(tasks, task_id=True)
    assert with_id.student_obs_size == 11
    hat = with_id.student_obs(obs, (0, 1))
    np.testing.assert_array_equal(hat[0, 1], [1, 2, 3, 4, 0, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(hat[1, 0], [5, 6, 7, 8, 0, 0, 0, 0, 0, 1, 0])
    idp = with_id.student_obs(jnp.ones((1, 8)), (2,))   # one task, no batch axis
    np.testing.assert_array_equal(idp, [[1] * 8 + [0, 0, 1]])


def test_ktm_losses_by_hand():
    student_q = jnp.array([[1.0, 2.0], [3.0, 5.0]])
    teacher_q = jnp.array([[2.0, 2.0], [1.0, 5.0]])
    # Eq. 1: ((2-1)^2 + (1-3)^2 + (2-2)^2 + (5-5)^2) / 2
    assert float(ktm.critic_distillation_loss(student_q, teacher_q)) == pytest.approx(2.5)
    # Beyond the paper: dQ1/da [N, A]; the mean over N of the sum over the action entries.
    student_g = jnp.array([[1.0, 0.0], [3.0, 1.0]])
    teacher_g = jnp.array([[0.0, 2.0], [3.0, 1.0]])
    assert float(extensions.critic_gradient_distillation_loss(student_g, teacher_g)) == pytest.approx(
        ((1 - 0) ** 2 + (0 - 2) ** 2 + (3 - 3) ** 2 + (1 - 1) ** 2) / 2)
    # Eq. 2: -mean(Q1^k)
    assert float(extensions.actor_matching_loss(student_g, teacher_g)) == pytest.approx(2.5)
    assert float(ktm.actor_distillation_loss(jnp.array([1.0, 3.0]))) == pytest.approx(-2.0)
    # Eq. 5: -mean(alpha * Q1^k + beta * Q1)
    loss = ktm.guided_actor_loss(jnp.array([1.0, 3.0]), jnp.array([10.0, 20.0]), 0.5, 2.0)
    assert float(loss) == pytest.approx(-(0.5 * 2.0 + 2.0 * 15.0))
    # alpha = 0 leaves no gradient through the teacher term.
    g = jax.grad(lambda t: ktm.guided_actor_loss(t, jnp.ones(2), 0.0, 1.0))(jnp.ones(2))
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_shared_net_layers_are_per_task_at_both_ends_and_shared_between():
    """SharedNet's actor: task k's output reads task k's first and last layers only, and
    every task reads the shared hidden layer."""
    from ktmjax import networks
    actor = networks.Actor((8, 8), 2, task_layers=3)
    obs = jnp.concatenate([jnp.linspace(0.1, 1, 12).reshape(3, 4), jnp.eye(3)], -1)  # task k: row k
    params = actor.init(jax.random.PRNGKey(0), obs)["params"]["SharedMLP_0"]
    assert params["TaskDense_0"]["kernel"].shape == (3, 4, 8)      # per task: 4 obs -> 8
    assert params["Dense_0"]["kernel"].shape == (8, 8)             # shared
    assert params["TaskDense_1"]["kernel"].shape == (3, 8, 2)      # per task: 8 -> 2 actions
    apply = lambda p: np.asarray(actor.apply({"params": {"SharedMLP_0": p}}, obs))
    before = apply(params)

    def changed(layer, row=None):
        p = jax.tree.map(lambda x: x, params)
        kernel = p[layer]["kernel"]
        p[layer] = dict(p[layer], kernel=kernel.at[row].add(0.5) if row is not None
                        else kernel + 0.5)
        return ~np.all(np.isclose(apply(p), before), axis=1)       # which tasks moved

    assert changed("TaskDense_0", 1).tolist() == [False, True, False]
    assert changed("TaskDense_1", 2).tolist() == [False, False, True]
    assert changed("Dense_0").tolist() == [True, True, True]
    critic = networks.TwinCritic((8, 8), task_layers=3)
    q = critic.apply(critic.init(jax.random.PRNGKey(1), obs, jnp.zeros((3, 2))), obs,
                     jnp.zeros((3, 2)))
    assert q.shape == (2, 3) and np.all(np.isfinite(np.asarray(q)))
