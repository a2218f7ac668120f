"""Checkpoints through orbax: pytrees of arrays in, pytrees of arrays out. Nothing is pickled."""
import os

import jax
import orbax.checkpoint as ocp


def save(path: str, tree) -> None:
    """Saves a pytree of arrays to the directory `path` (which must not exist yet)."""
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(os.path.abspath(path), jax.device_get(tree))
    checkpointer.wait_until_finished()


def load(path: str, like=None):
    """Restores a pytree saved by `save`. With `like` (a pytree of the same structure, e.g.
    a freshly initialised state), the result has its structure, shapes and dtypes."""
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    return ocp.StandardCheckpointer().restore(path, like)
