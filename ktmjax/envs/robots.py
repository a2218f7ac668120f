"""Builds the Brax environment of one task (MJX physics by default)."""
import contextlib
import io
import sys
import warnings

import jax
import mujoco

from ktmjax import distributed
from ktmjax.envs import dmc, morphology
from ktmjax.envs.tasks import Task

BACKENDS = ("mjx", "generalized", "positional", "spring")

# MuJoCo 4 deprecates the compiler attribute `settotalmass`, which Brax's stock
# half_cheetah.xml still carries. ktmjax's own MJCF goes without it (the variants state
# a geom density instead: `morphology.with_total_mass`); only Brax's own env constructor,
# which compiles its stock model (kept, or replaced by a variant's), still compiles the
# attribute, and this filter is for that case alone.
_SETTOTALMASS_DEPRECATED = "compiler attribute 'settotalmass' is deprecated"


@contextlib.contextmanager
def without_settotalmass_warning():
    """Within: MuJoCo's warning about the deprecated `settotalmass` is dropped; any other
    MuJoCo warning is printed as MuJoCo prints it."""
    previous = mujoco.get_mju_user_warning()

    def handler(message):
        if _SETTOTALMASS_DEPRECATED not in message:
            print(f"WARNING: {message}", file=sys.stderr, flush=True)

    mujoco.set_mju_user_warning(handler)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


def task_mjcf(task: Task) -> str:
    """The MJCF text of a task whose model differs from the stock Brax asset."""
    if task.name in morphology.VARIANTS:
        return morphology.halfcheetah_variant_xml(task.name)
    if task.name == "InvertedPendulumBigPole":
        return morphology.scale_geom_sizes(
            morphology.brax_asset_xml("inverted_pendulum.xml"), ("cpole",), 1.25)
    return None


def _brax():
    """Brax's (envs, io.mjcf) modules, imported at the first env: with MuJoCo MJX they take
    seconds to import, which a command that stops at bad input does not need."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        # mujoco.mjx prints a line about the optional Warp backend on import; Brax warns
        # that its own pipelines are unmaintained. Neither concerns the MJX envs used here.
        warnings.simplefilter("ignore")
        from brax import envs as brax_envs
        from brax.io import mjcf
    return brax_envs, mjcf


def make_env(task: Task, backend: str = "mjx"):
    """A Brax PipelineEnv for `task`: normalised actions in [-1, 1], gym-like rewards."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown physics backend {backend!r}; known: {', '.join(BACKENDS)}")
    if dmc.is_dmc(task):
        return dmc.DmcEnv(task.name)
    brax_envs, mjcf = _brax()
    with warnings.catch_warnings(), without_settotalmass_warning(), distributed.local_models():
        warnings.simplefilter("ignore")
        # A task's family is the name of the Brax robot its model derives from.
        env = brax_envs.get_environment(task.family, backend=backend)
        xml = task_mjcf(task)
        if xml is not None:
            system = mjcf.load_model(mujoco.MjModel.from_xml_string(xml))
            # Keep what the stock env set for its backend (timestep, and gears for the
            # maximal-coordinate backends); only the morphology differs.
            system = system.tree_replace({"opt.timestep": env.sys.opt.timestep})
            system = system.replace(
                actuator=system.actuator.replace(gear=env.sys.actuator.gear))
            env.sys = system
    return env


def env_sizes(env) -> tuple:
    """(obs_size, action_size) of a Brax env, found by tracing reset (nothing is compiled)."""
    obs = jax.eval_shape(env.reset, jax.random.PRNGKey(0)).obs
    return obs.shape[-1], env.action_size
