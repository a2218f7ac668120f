"""The DM Control tasks of MT30 that MuJoCo Playground has, as ktmjax tasks.

Playground's MJX DM Control suite steps with the JAX implementation of MJX (it runs on a
CPU). MT30's protocol: 500 agent steps per episode, each action repeated for 2 control
steps (the rewards of both summed), so per-step rewards are in [0, 2] and returns at most
1000. The `dmc` benchmark's normalised score is the mean over tasks of return / 10.
"""
import contextlib
import io
import warnings

ACTION_REPEAT = 2
EPISODE_LENGTH = 500
FAMILY_PREFIX = "dmc:"

# (Playground name, observation size, action size): the 19 standard tasks of MT30.
MT30_TASKS = (
    ("WalkerStand", 24, 6), ("WalkerWalk", 24, 6), ("WalkerRun", 24, 6),
    ("CheetahRun", 17, 6), ("ReacherEasy", 6, 2), ("ReacherHard", 6, 2),
    ("AcrobotSwingup", 6, 1), ("PendulumSwingup", 3, 1), ("CartpoleBalance", 5, 1),
    ("CartpoleBalanceSparse", 5, 1), ("CartpoleSwingup", 5, 1),
    ("CartpoleSwingupSparse", 5, 1), ("BallInCup", 8, 2), ("FingerSpin", 9, 2),
    ("FingerTurnEasy", 12, 2), ("FingerTurnHard", 12, 2), ("FishSwim", 24, 5),
    ("HopperStand", 15, 4), ("HopperHop", 15, 4),
)

# MT30's other 11 tasks (TD-MPC2's custom ones, not in Playground), in MT30's order: the
# task names of a converted MT30 checkpoint after the 19 above.
MT30_CUSTOM = ("walker-walk-backwards", "walker-run-backwards", "cheetah-run-backwards",
               "cheetah-run-front", "cheetah-run-back", "cheetah-jump", "hopper-hop-backwards",
               "reacher-three-easy", "reacher-three-hard", "cup-spin", "pendulum-spin")

# The default six: tasks whose physics steps fast on a CPU and that single-task agents
# learn within 100K steps (docs/world_model.md gives the measurements behind the choice).
DEFAULT = ("CartpoleBalance", "CartpoleSwingup", "PendulumSwingup", "ReacherEasy",
           "ReacherHard", "FingerSpin")


def is_dmc(task) -> bool:
    return task.family.startswith(FAMILY_PREFIX)


def normalised_score(returns) -> float:
    """MT30's score: the mean over tasks of return / 10 (0-100)."""
    returns = list(returns)
    return sum(r / 10.0 for r in returns) / len(returns)


class DmcEnv:
    """A Playground DM Control env with MT30's action repeat, in the shape ktmjax's task
    groups step: `sys` (the MJX model, replaceable), `reset(key)`, `step(state, action)`."""

    def __init__(self, name: str, action_repeat: int = ACTION_REPEAT):
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            # Imported here, on first use: importing Playground starts JAX's backend, which
            # in a multi-process job must wait for jax.distributed.initialize (and it prints
            # and warns about optional back-ends).
            warnings.simplefilter("ignore")
            from mujoco_playground import registry
        self._env = registry.load(name, config_overrides={"impl": "jax"})
        self.action_repeat = action_repeat

    @property
    def sys(self):
        return self._env._mjx_model

    @sys.setter
    def sys(self, value):
        self._env._mjx_model = value

    @property
    def mj_model(self):
        """The MuJoCo model (videos render from it)."""
        return self._env.mj_model

    @property
    def dt(self) -> float:
        """Seconds per agent step (the action repeat's physics steps)."""
        return float(self._env.dt) * self.action_repeat

    @property
    def action_size(self) -> int:
        return self._env.action_size

    def reset(self, key):
        return self._env.reset(key)

    def step(self, state, action):
        total = 0.0
        for _ in range(self.action_repeat):
            state = self._env.step(state, action)
            total = total + state.reward
        return state.replace(reward=total)
