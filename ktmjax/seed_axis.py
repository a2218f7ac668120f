"""The seeds of one program: `SeedAxis(first, count)` runs seeds first, first + 1, ...,
first + count - 1 side by side, each seed's state a slice of one state with a leading
seed axis, its device functions mapped over that axis (`over`).

Every stage, the epoch loop and the placement (`sharding`) see seeds through this one
type, so one seed and several take the same code path. One seed is the axis of size 1,
held without the axis: on XLA's CPU backend a `vmap` over a size-1 axis compiles to other
kernels whose results differ in the last bits (7.5e-9 after 60 teacher steps), so a
one-seed run keeps the numbers and the checkpoint files of a run that never had the
axis. That choice is made here, and in `sharding`'s specs, which give an array a
seed dimension only where several seeds stack one.
"""
from typing import Callable

import jax
import jax.numpy as jnp


class SeedAxis:
    """Seeds first .. first + count - 1 of one program."""

    def __init__(self, first: int = 0, count: int = 1):
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        self.seeds = [first + i for i in range(count)]
        self.count = count

    def combine(self, trees):
        """One tree per seed -> the program's tree (a leading seed axis; the tree itself
        for one seed)."""
        assert len(trees) == self.count, (len(trees), self.count)
        return trees[0] if self.count == 1 else jax.tree.map(lambda *x: jnp.stack(x), *trees)

    def split(self, tree) -> list:
        """`combine`'s inverse: one tree per seed."""
        if self.count == 1:
            return [tree]
        return [jax.tree.map(lambda x: x[i], tree) for i in range(self.count)]

    def over(self, fn: Callable, in_axes=0) -> Callable:
        """`fn` of one seed's arguments -> `fn` of the program's (`in_axes` as `jax.vmap`'s:
        None for an argument all seeds share)."""
        return fn if self.count == 1 else jax.vmap(fn, in_axes=in_axes)

    def keys(self, offset: int = 0):
        """Each seed's `PRNGKey(seed + offset)`, combined: a seed's keys are those of a run
        of that seed alone."""
        return self.combine([jax.random.PRNGKey(s + offset) for s in self.seeds])

    @property
    def span(self) -> str:
        """`seeds FIRST-LAST`, as titles name the seeds of a program."""
        return f"seeds {self.seeds[0]}-{self.seeds[-1]}"

    def start_note(self) -> str:
        """The start line's mention of the seeds (empty for one seed)."""
        return f"{self.span} in one program, " if self.count > 1 else ""

    def of(self, seed: int) -> str:
        """` (seed S)` after a message about one of several seeds (empty for one seed)."""
        return f" (seed {seed})" if self.count > 1 else ""
