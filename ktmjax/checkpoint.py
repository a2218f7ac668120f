"""Checkpoints through orbax: pytrees of arrays in, pytrees of arrays out. Nothing is pickled."""
import os

import jax
import orbax.checkpoint as ocp


def save(path: str, tree) -> None:
    """Saves a pytree of arrays to the directory `path` (replacing what is there: a final
    save repeated after a resume)."""
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(os.path.abspath(path), jax.device_get(tree), force=True)
    checkpointer.wait_until_finished()


def load(path: str, like=None):
    """Restores a pytree saved by `save`. With `like` (a pytree of the same structure, e.g.
    a freshly initialised state), the result has its structure, shapes and dtypes."""
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    return ocp.StandardCheckpointer().restore(path, like)


def _flat_arrays(tree) -> dict:
    """The non-empty leaves of `tree`, keyed by their position (orbax refuses empty arrays,
    which MJX states hold, e.g. `act` of a model without actuator activations)."""
    return {f"{i:05d}": leaf for i, leaf in enumerate(jax.tree.leaves(tree))
            if getattr(leaf, "size", 1) > 0}


class RunCheckpoints:
    """The full-state checkpoints of a run: `run_dir/checkpoints/<round>/`, newest two kept.

    Orbax writes each one into a temporary directory and renames it when complete, so a
    kill at any moment leaves the previous checkpoints readable, and `latest` only ever
    sees complete ones.
    """

    def __init__(self, run_dir: str, keep: int = 2):
        self.directory = os.path.abspath(os.path.join(run_dir, "checkpoints"))
        self.manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep))

    def save(self, step: int, state) -> None:
        self.manager.save(step, args=ocp.args.StandardSave(jax.device_get(_flat_arrays(state))),
                          force=True)
        self.manager.wait_until_finished()

    def latest_step(self):
        return self.manager.latest_step()

    def restore(self, like, step=None):
        """(step, state) of the newest complete checkpoint (or `step`), shaped like `like`."""
        step = self.manager.latest_step() if step is None else step
        saved = self.manager.restore(step, args=ocp.args.StandardRestore(
            jax.device_get(_flat_arrays(like))))
        leaves, treedef = jax.tree.flatten(like)
        leaves = [saved.get(f"{i:05d}", leaf) for i, leaf in enumerate(leaves)]
        return step, jax.tree.unflatten(treedef, leaves)
