"""Videos of a policy: one deterministic episode per task, rendered headless to an
animated GIF (RUN_DIR/videos/<task>.gif).

The episode runs on the same batched envs as the evaluation (MJX); the positions it
visits are then drawn on the host by MuJoCo's own renderer from each task's model (its
morphology included). Rendering needs an OpenGL context: the commands ask MuJoCo for EGL
(`MUJOCO_GL=egl`, headless) unless MUJOCO_GL is already set. Where no renderer works,
`write_videos` raises `RenderUnavailable` and the commands say so in one line and go on.
"""
import os
from typing import Callable

import jax
import mujoco
import numpy as np
from PIL import Image

from ktmjax.envs import MultiTaskEnv, make_env

# At most this many steps of an episode are drawn, every STRIDE-th one (real time at the
# env's control step).
MAX_STEPS, STRIDE = 400, 2
WIDTH, HEIGHT = 320, 240


class RenderUnavailable(RuntimeError):
    """No OpenGL context could be made for MuJoCo's renderer."""


def _positions(state):
    """The generalised positions of a batch of env states: Brax's pipeline state or, for
    MuJoCo Playground's DM Control envs, the MJX data."""
    return state.pipeline_state.q if hasattr(state, "pipeline_state") else state.data.qpos


def _mj_model(task_env):
    """The MuJoCo model of an env made by `make_env` (a Brax env's, or a `DmcEnv`'s)."""
    return task_env.mj_model if hasattr(task_env, "mj_model") else task_env.sys.mj_model


def episode_positions(env: MultiTaskEnv, policy_apply: Callable, params, key,
                      steps: int) -> list:
    """The generalised positions q [1 + T, nq] of one deterministic episode of every task
    (benchmark order): the initial state, then the state after each of at most `steps`
    steps (an episode that ends earlier stops at its last state)."""
    def run(params, key):
        keys = jax.random.split(key, len(env.groups))
        out = []
        for g, group in enumerate(env.groups):
            start = group.reset(jax.random.split(keys[g], group.size))

            def body(carry, _):
                state, alive = carry
                action = policy_apply(g, params[g], state.obs)
                state, _, ended = group.step(state, action, False)
                return (state, alive * (1.0 - ended)), (_positions(state.brax), alive)

            _, (q, alive) = jax.lax.scan(body, (start, np.ones(group.size, np.float32)),
                                         None, length=steps)
            out.append((_positions(start.brax), q, alive))   # [G, nq], [T, G, nq], [T, G]
        return out

    per_group = jax.jit(run)(tuple(params), key)
    positions = [None] * len(env.tasks)
    for group, (first, q, alive) in zip(env.groups, per_group):
        first, q, alive = np.asarray(first), np.asarray(q), np.asarray(alive)
        for j, i in enumerate(group.indices):
            positions[i] = np.concatenate([first[j][None], q[: int(alive[:, j].sum()), j]])
    return positions


def render_frames(model, positions: np.ndarray, width: int = WIDTH, height: int = HEIGHT,
                  stride: int = STRIDE) -> list:
    """RGB frames [H, W, 3] of a MuJoCo `model` at every `stride`-th position (its first
    camera, which follows the robot where the model has one; else MuJoCo's free camera)."""
    data = mujoco.MjData(model)
    try:
        renderer = mujoco.Renderer(model, height, width)
    except Exception as e:   # no OpenGL platform, no display, no EGL device...
        raise RenderUnavailable(f"{type(e).__name__}: {e}") from None
    frames = []
    try:
        for q in positions[::stride]:
            data.qpos[:] = q
            mujoco.mj_forward(model, data)
            renderer.update_scene(data, camera=0 if model.ncam else -1)
            frames.append(renderer.render().copy())
    finally:
        renderer.close()
    return frames


def write_gif(frames, path: str, seconds_per_frame: float) -> str:
    """An animated GIF of `frames`, looping (a new file replaces an old one when complete)."""
    images = [Image.fromarray(f) for f in frames]
    tmp = path + ".tmp.gif"
    images[0].save(tmp, save_all=True, append_images=images[1:], loop=0,
                   duration=max(int(round(1000 * seconds_per_frame)), 20))
    os.replace(tmp, path)
    return path


def write_videos(env: MultiTaskEnv, policy_apply: Callable, params, key, out_dir: str,
                 steps: int = MAX_STEPS) -> list:
    """One GIF per task of `env` in `out_dir` (<task>.gif): a deterministic episode of the
    policy (`policy_apply` and `params` in the evaluator's form) of at most `steps` steps.
    Returns the paths; raises RenderUnavailable when MuJoCo cannot render here."""
    steps = min(steps, env.groups[0].episode_length)
    positions = episode_positions(env, policy_apply, params, key, steps)
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for task, q in zip(env.tasks, positions):
        task_env = make_env(task)
        frames = render_frames(_mj_model(task_env), q)
        paths.append(write_gif(frames, os.path.join(out_dir, f"{task.name}.gif"),
                               float(task_env.dt) * STRIDE))
    return paths
