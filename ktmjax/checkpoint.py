"""Checkpoints through orbax: pytrees of arrays in, pytrees of arrays out. Nothing is pickled."""
import os

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from ktmjax import distributed, runs, sharding
from ktmjax.errors import BadInput


def save(path: str, tree) -> None:
    """Saves a pytree of arrays to the directory `path` (replacing what is there: a final
    save repeated after a resume). In a multi-process job every process calls it."""
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(os.path.abspath(path), distributed.to_host(tree), force=True)
    checkpointer.wait_until_finished()


def load(path: str, like=None):
    """Restores a pytree saved by `save`. With `like` (a pytree of the same structure, e.g.
    a freshly initialised state), the result has its structure, shapes and dtypes."""
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    return ocp.StandardCheckpointer().restore(path, like)


def load_student(run_dir: str, like):
    """The student state (`like`'s structure) that a finished offline_transfer or online
    run saved in run_dir/student/state; BadInput when it cannot be read."""
    try:
        return load(runs.RunDir(run_dir).student_state, like)
    except Exception as e:  # orbax raises many kinds of errors on a broken checkpoint
        raise BadInput(f"cannot read the student checkpoint in {run_dir} "
                       f"({type(e).__name__}); run that stage again, or give another run") from None


def _flat_arrays(tree) -> dict:
    """The non-empty leaves of `tree`, keyed by their position (orbax refuses empty arrays,
    which MJX states hold, e.g. `act` of a model without actuator activations)."""
    return {f"{i:05d}": leaf for i, leaf in enumerate(jax.tree.leaves(tree))
            if getattr(leaf, "size", 1) > 0}


def _free_path(path: str) -> str:
    """`path`, or `path-1`, `path-2`, ... : the first that does not exist."""
    candidate, n = path, 0
    while os.path.exists(candidate):
        n += 1
        candidate = f"{path}-{n}"
    return candidate


class RunCheckpoints:
    """The full-state checkpoints of a run: `run_dir/checkpoints/<round>/`, newest two kept.

    Orbax writes each one into a temporary directory and renames it when complete, so a
    kill at any moment leaves the previous checkpoints readable, and `latest` only ever
    sees complete ones (the temporary leftovers of a killed write are removed). A
    checkpoint that cannot be read (e.g. a truncated file) is skipped on restore: the
    newest readable one is used and the unreadable ones are moved to
    `run_dir/unreadable_checkpoints/`, never deleted.
    """

    def __init__(self, run_dir: str, keep: int = 2, read_only: bool = False):
        """`read_only`: to look at another process's run (`newest`): nothing on disk is
        written, cleaned up or moved."""
        self.directory = os.path.abspath(runs.RunDir(run_dir).checkpoints)
        self.aside = os.path.abspath(os.path.join(run_dir, "unreadable_checkpoints"))
        options = (ocp.CheckpointManagerOptions(read_only=True, save_interval_steps=0,
                                                max_to_keep=None, create=False)
                   if read_only else ocp.CheckpointManagerOptions(
                       max_to_keep=keep, cleanup_tmp_directories=True))
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, step: int, state) -> None:
        """Every process of a job calls it; each writes the array shards it holds."""
        self.manager.save(step, args=ocp.args.StandardSave(_flat_arrays(state)), force=True)
        self.manager.wait_until_finished()

    def latest_step(self):
        return self.manager.latest_step()

    def _restore_step(self, step: int, like):
        wanted = _flat_arrays(like)
        saved = self.manager.restore(step, args=ocp.args.StandardRestore(wanted))
        if set(saved) != set(wanted):
            raise ValueError("the saved arrays are not those of this run's state")
        leaves, treedef = jax.tree.flatten(like)
        # The empty arrays, not saved, come back as new ones (`like` may be shapes alone).
        leaves = [saved.get(f"{i:05d}", jnp.zeros(leaf.shape, leaf.dtype))
                  for i, leaf in enumerate(leaves)]
        # Committed like a fresh state: placed otherwise, the first epoch after a resume
        # would compile once more.
        return sharding.placed(jax.tree.unflatten(treedef, leaves))

    def restore(self, like, say=print):
        """(step, state) of the newest readable checkpoint, shaped like `like`.

        Unreadable newer ones are reported through `say` and moved aside; when none is
        readable, a one-line `BadInput` is raised and nothing on disk changes.
        """
        step, state, unreadable = self.newest(like)
        for bad, why in unreadable if distributed.is_writer() else ():
            target = _free_path(os.path.join(self.aside, str(bad)))
            os.makedirs(self.aside, exist_ok=True)
            os.replace(os.path.join(self.directory, str(bad)), target)
            say(f"the checkpoint at {bad} is unreadable ({why}): moved to {target}; "
                f"using the one at {step}")
        if unreadable:
            self.manager.reload()
        return step, state

    def newest(self, like) -> tuple:
        """(step, state, [(step, error name) of each newer unreadable checkpoint]) of the
        newest readable checkpoint; nothing on disk changes. BadInput when none is readable."""
        unreadable = []
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                return step, self._restore_step(step, like), unreadable
            except Exception as e:  # orbax/tensorstore raise many kinds on a broken file
                unreadable.append((step, type(e).__name__))
        raise BadInput(f"no readable checkpoint in {self.directory} ("
                       + ", ".join(f"{s}: {why}" for s, why in unreadable)
                       + "); give a new run directory (this one is left as it is)")
