"""The world-model file: one msgpack file with the model's shapes, its tasks and its
parameters in float32, float16 or bfloat16, read without the training code.

    from ktmjax import worldmodel
    agent = worldmodel.load("runs/world_model/dmc-cpu-small/model-float16.msgpack")
    action, plan = agent.act(obs, "CartpoleBalance", key)   # padded obs, MPPI planning

Half precision follows the follow-up paper: every float array is cast to the stored dtype
and saved; loading casts it back to float32, so the planner computes in float32 with
half-rounded weights.
Target Qs are saved only when asked (training resumes need them; acting does not).
The file is read with `flax.serialization.msgpack_restore`, which builds arrays and
nothing else (never pickle).
"""
import dataclasses

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from ktmjax import msgfile
from ktmjax.worldmodel import model, plan as planning

FORMAT, VERSION = "ktmjax-world-model", 1
DTYPES = ("float32", "float16", "bfloat16")


def cast(tree, dtype: str):
    """Every floating array of `tree` in `dtype` (numpy arrays)."""
    return jax.tree.map(lambda x: np.asarray(x).astype(jnp.dtype(dtype))
                        if jnp.issubdtype(np.asarray(x).dtype, jnp.floating) else np.asarray(x),
                        tree)


def to_bytes(cfg: model.ModelConfig, params, task_names, discounts, dtype: str = "float32",
             target_q=None) -> bytes:
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r}: one of {', '.join(DTYPES)}")
    data = {"format": FORMAT, "version": VERSION, "dtype": dtype,
            "config": {k: list(v) if isinstance(v, tuple) else v
                       for k, v in dataclasses.asdict(cfg).items()},
            "task_names": list(task_names), "discounts": [float(d) for d in discounts],
            "params": cast(params, dtype)}
    if target_q is not None:
        data["target_q"] = cast(target_q, dtype)
    return flax.serialization.msgpack_serialize(data)


def save(path: str, cfg, params, task_names, discounts, dtype: str = "float32",
         target_q=None) -> int:
    """Writes the file (replacing an old one only once complete); returns its bytes."""
    return msgfile.write(path, to_bytes(cfg, params, task_names, discounts, dtype, target_q))


@dataclasses.dataclass(frozen=True)
class Agent:
    """A world model loaded for acting: plans with MPPI (`act`)."""
    cfg: model.ModelConfig
    params: dict
    task_names: tuple
    discounts: tuple
    stored_dtype: str
    plan_cfg: planning.PlanConfig = planning.PlanConfig()

    def task_index(self, task) -> int:
        if isinstance(task, str):
            if task not in self.task_names:
                raise ValueError(f"task {task!r} is not one of this model's tasks: "
                                 f"{', '.join(self.task_names)}")
            return self.task_names.index(task)
        return int(task)

    def act(self, obs, task, key, prev_plan=None, explore: bool = False):
        """The planner's action for one observation (zero-padded to the model's width if
        shorter). Returns (action [A], plan to pass back as `prev_plan` next step)."""
        k = self.task_index(task)
        obs = jnp.zeros(self.cfg.obs_size).at[:len(obs)].set(jnp.asarray(obs, jnp.float32))
        first = prev_plan is None
        prev = jnp.zeros((self.plan_cfg.horizon, self.cfg.action_size)) if first else prev_plan
        return _plan_jit(self.cfg, self.plan_cfg, self.params, obs, jnp.int32(k), prev,
                         jnp.bool_(first), jnp.float32(self.discounts[k]), key,
                         jnp.bool_(explore))


_plan_jit = jax.jit(planning.plan, static_argnums=(0, 1))


def from_bytes(raw: bytes, source: str = "world-model file", compute: str = "float32") -> Agent:
    """The agent of a file's bytes (`load`)."""
    if compute not in DTYPES:
        raise ValueError(f"compute={compute!r}: one of {', '.join(DTYPES)}")
    data = msgfile.restore(raw, source, FORMAT, VERSION, DTYPES, "world-model")
    try:
        cfg = model.ModelConfig(**{k: tuple(v) if isinstance(v, list) else v
                                   for k, v in data["config"].items()})
        model.check_params(cfg, data["params"])
        params = planning.compute_in(data["params"], compute)
        return Agent(cfg, params, tuple(data["task_names"]), tuple(data["discounts"]),
                     data["dtype"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{source} is not a valid ktmjax world-model file ({e})") from None


def load(path: str, compute: str = "float32") -> Agent:
    """Reads a file written by `save`; one that is not raises ValueError. The planner
    computes in `compute` (float32, as the follow-up acted, or float16 / bfloat16: the
    weights and every planning step in half precision)."""
    with open(path, "rb") as f:
        return from_bytes(f.read(), path, compute)
