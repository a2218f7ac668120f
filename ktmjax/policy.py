"""A deployable multi-task policy: a student's actor alone, in float32, bfloat16, float16 or
int8, saved as one msgpack file and loaded without ktmjax's training stack.

    from ktmjax import policy
    pi = policy.load("runs/compress/mini-w32/policy.msgpack")
    action = pi.act(obs, "InvertedPendulum")     # obs [s_k] or [B, s_k] -> [a_k] or [B, a_k]

The file holds only what acting needs: the actor's layers, the storage dtype, the task
layout (each task's state and action sizes, whether a task id is appended) and the task
names. It is read with `flax.serialization.msgpack_restore`, which builds arrays and
nothing else (never pickle).

Storage and compute per dtype:
- float32: as trained.
- bfloat16, float16: weights and biases cast (no calibration, as Kuzmenko & Shvai 2025
  cast their agent); every layer computes in that dtype, the action is returned in float32.
- int8: weight-only post-training quantisation, symmetric and per output channel: each
  kernel column j keeps scale_j = max_i |W_ij| / 127 (float32) and W_ij / scale_j rounded to
  int8 in [-127, 127]; biases stay float32; a layer computes (x @ W_int8) * scale + b in
  float32.
"""
import dataclasses
from functools import partial

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from ktmjax import msgfile
from ktmjax.layout import TaskLayout, slice_action

DTYPES = ("float32", "bfloat16", "float16", "int8")
FORMAT = "ktmjax-policy"
VERSION = 1


@dataclasses.dataclass(frozen=True, eq=False)
class Policy:
    layers: tuple           # one dict per layer: kernel, bias[, scale] (numpy arrays)
    dtype: str              # one of DTYPES
    layout: TaskLayout
    task_names: tuple

    @property
    def num_params(self) -> int:
        """Weights and biases of the actor (an int8 layer's scales not counted)."""
        return sum(layer["kernel"].size + layer["bias"].size for layer in self.layers)

    @property
    def nbytes(self) -> int:
        """Bytes of every stored array (an int8 layer's scales counted)."""
        return sum(a.nbytes for layer in self.layers for a in layer.values())

    def task_index(self, task) -> int:
        """`task` as an index: an index itself, or a task name."""
        if isinstance(task, str):
            if task not in self.task_names:
                raise ValueError(f"unknown task {task!r}; this policy's tasks: "
                                 f"{', '.join(self.task_names)}")
            return self.task_names.index(task)
        if isinstance(task, bool) or int(task) != task or not 0 <= int(task) < len(self.task_names):
            raise ValueError(f"task index {task} out of range: this policy has "
                             f"{len(self.task_names)} tasks")
        return int(task)

    def act(self, obs, task):
        """Deterministic action(s) of task `task` (index or name) for its raw state(s)
        `obs` [s_k] or [B, s_k]: [a_k] or [B, a_k], float32, in [-1, 1]."""
        k = self.task_index(task)
        obs = jnp.asarray(obs, jnp.float32)
        if obs.shape[-1] != self.layout.obs_sizes[k]:
            raise ValueError(f"task {self.task_names[k]} takes states of size "
                             f"{self.layout.obs_sizes[k]}, got {obs.shape[-1]}")
        single = obs.ndim == 1
        out = _act(self.layers, self.dtype, self.layout, k, obs[None] if single else obs)
        return out[0] if single else out


def apply(layers, dtype: str, obs_hat):
    """The actor on student states ŝ [..., S] -> padded actions [..., A_max] (float32),
    computed in `dtype` (module docstring). `layers` may be a traced pytree."""
    compute = jnp.float32 if dtype == "int8" else jnp.dtype(dtype)
    x = obs_hat.astype(compute)
    for i, layer in enumerate(layers):
        kernel = layer["kernel"]
        if dtype == "int8":
            x = (x @ kernel.astype(compute)) * layer["scale"] + layer["bias"]
        else:
            x = x @ kernel + layer["bias"]
        x = jax.nn.relu(x) if i < len(layers) - 1 else jnp.tanh(x)
    return x.astype(jnp.float32)


def group_apply(dtype: str, layout: TaskLayout, groups):
    """The policy in the evaluator's form (`evaluation.make_evaluator`):
    (group index, layers, raw states [G, ..., s_g]) -> actions [G, ..., a_g]."""
    def policy_apply(g, layers, obs):
        obs_hat = layout.student_obs(obs, groups[g].indices)
        return slice_action(apply(layers, dtype, obs_hat), groups[g].action_size)
    return policy_apply


@partial(jax.jit, static_argnums=(1, 2, 3))
def _act(layers, dtype, layout, task, obs):
    obs_hat = layout.student_obs(obs[None], (task,))[0]
    return slice_action(apply(layers, dtype, obs_hat), layout.action_sizes[task])


def actor_layers(actor_params) -> list:
    """The Dense layers of a ktmjax actor (`networks.Actor`) as [{kernel, bias}] in order;
    ValueError for SharedNet's actor (its per-task layers are not a plain stack) and
    SAC-MT's (a Gaussian with temperatures, `sac.GaussianActor`)."""
    if "log_alpha" in actor_params["params"]:
        raise ValueError("a SAC-MT actor (a Gaussian with temperatures) does not export as a "
                         "Policy; export a student of plain networks")
    if "MLP_0" not in actor_params["params"]:
        raise ValueError("a SharedNet actor (per-task first and last layers) does not export "
                         "as a Policy; export a student of plain networks")
    mlp = actor_params["params"]["MLP_0"]
    return [{"kernel": np.asarray(mlp[f"Dense_{i}"]["kernel"], np.float32),
             "bias": np.asarray(mlp[f"Dense_{i}"]["bias"], np.float32)}
            for i in range(len(mlp))]


def quantise_layer(layer: dict, dtype: str) -> dict:
    """One float32 layer stored in `dtype` (module docstring)."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
    kernel, bias = np.asarray(layer["kernel"], np.float32), np.asarray(layer["bias"], np.float32)
    if dtype == "int8":
        peak = np.max(np.abs(kernel), axis=0)
        scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        q = np.clip(np.round(kernel / scale), -127, 127).astype(np.int8)
        return {"kernel": q, "bias": bias, "scale": scale}
    target = jnp.dtype(dtype)
    return {"kernel": np.asarray(jnp.asarray(kernel, target)),
            "bias": np.asarray(jnp.asarray(bias, target))}


def from_actor(actor_params, layout: TaskLayout, task_names, dtype: str = "float32") -> Policy:
    """A deployable policy of a trained actor, stored in `dtype`."""
    if len(task_names) != layout.num_tasks:
        raise ValueError(f"{len(task_names)} task names for a layout of {layout.num_tasks} tasks")
    layers = tuple(quantise_layer(layer, dtype) for layer in actor_layers(actor_params))
    policy = Policy(layers, dtype, layout, tuple(task_names))
    check(policy)
    return policy


def to_bytes(policy: Policy) -> bytes:
    return flax.serialization.msgpack_serialize({
        "format": FORMAT, "version": VERSION, "dtype": policy.dtype,
        "task_names": list(policy.task_names),
        "obs_sizes": list(policy.layout.obs_sizes),
        "action_sizes": list(policy.layout.action_sizes),
        "task_id": bool(policy.layout.task_id),
        "layers": {str(i): layer for i, layer in enumerate(policy.layers)}})


def save(policy: Policy, path: str) -> None:
    """Writes the policy to `path` (a new file replaces an old one only once complete)."""
    msgfile.write(path, to_bytes(policy))


def load(path: str) -> Policy:
    """Reads a policy written by `save`; a file that is not one raises ValueError."""
    with open(path, "rb") as f:
        data = msgfile.restore(f.read(), path, FORMAT, VERSION, DTYPES, "policy")
    try:
        policy = _from_dict(data)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as e:
        raise ValueError(f"{path} is not a valid ktmjax policy file ({e})") from None
    return policy


def _from_dict(data: dict) -> Policy:
    """The Policy of a restored file, its structure checked (`check`)."""
    sizes = [[int(v) for v in data[k]] for k in ("obs_sizes", "action_sizes")]
    names = data["task_names"]
    if not isinstance(data["task_id"], bool):
        raise TypeError(f"task_id is {data['task_id']!r}, not true or false")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TypeError("task_names is not a list of names")
    layout = TaskLayout(tuple(sizes[0]), tuple(sizes[1]), data["task_id"])
    raw = data["layers"]
    if not isinstance(raw, dict) or sorted(raw) != sorted(str(i) for i in range(len(raw))):
        raise TypeError("layers are not numbered 0..n-1")
    policy = Policy(tuple(raw[str(i)] for i in range(len(raw))), data["dtype"], layout,
                    tuple(names))
    check(policy)
    return policy


def check(policy: Policy) -> None:
    """Raises ValueError unless the policy's parts fit together: one name and two sizes per
    task, layers whose arrays have the stored dtype and chain from the student state's
    width to A_max."""
    lay = policy.layout
    if not (len(policy.task_names) == len(lay.obs_sizes) == len(lay.action_sizes) > 0):
        raise ValueError(f"{len(policy.task_names)} task names for {len(lay.obs_sizes)} state "
                         f"and {len(lay.action_sizes)} action sizes")
    if min(lay.obs_sizes + lay.action_sizes) < 1:
        raise ValueError("a task size is not positive")
    if not policy.layers:
        raise ValueError("no layers")
    keys = {"kernel", "bias", "scale"} if policy.dtype == "int8" else {"kernel", "bias"}
    stored = np.dtype("int8") if policy.dtype == "int8" else jnp.dtype(policy.dtype)
    width = lay.student_obs_size
    for i, layer in enumerate(policy.layers):
        if not isinstance(layer, dict) or set(layer) != keys:
            raise ValueError(f"layer {i} does not hold {', '.join(sorted(keys))}")
        kernel, bias = layer["kernel"], layer["bias"]
        if not all(isinstance(a, np.ndarray) for a in layer.values()):
            raise ValueError(f"layer {i} holds something other than arrays")
        if kernel.dtype != stored or kernel.ndim != 2 or kernel.shape[0] != width:
            raise ValueError(f"layer {i}'s kernel {kernel.dtype}{list(kernel.shape)} does not "
                             f"take {width} {stored} inputs")
        width = kernel.shape[1]
        shapes = [bias.shape] + ([layer["scale"].shape] if policy.dtype == "int8" else [])
        if any(shape != (width,) for shape in shapes):
            raise ValueError(f"layer {i}'s bias or scale is not of width {width}")
    if width != lay.action_max:
        raise ValueError(f"the last layer gives {width} actions, the tasks need {lay.action_max}")
