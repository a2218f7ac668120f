"""The run directory as a type: every file name a stage writes into one, in one place."""
import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class RunDir:
    """Every file name of a run directory, in one place: `RunDir(path).summary` is the path
    of its summary.json, and so on."""
    path: str

    def _join(self, *names) -> str:
        return os.path.join(self.path, *names)

    @property
    def config(self) -> str:       # the settings the run was started with, its environment
        return self._join("config.json")

    @property
    def summary(self) -> str:      # written last: its presence marks a finished run
        return self._join("summary.json")

    @property
    def results(self) -> str:      # the summary as Markdown tables
        return self._join("results.md")

    @property
    def metrics(self) -> str:      # one row per task per evaluation
        return self._join("metrics.csv")

    @property
    def checkpoints(self) -> str:  # the full training state, to resume
        return self._join("checkpoints")

    @property
    def lock(self) -> str:         # held by the command writing the run
        return self._join(".lock")

    @property
    def learning_curve(self) -> str:   # the periodic evaluations, plotted
        return self._join("learning_curve.png")

    @property
    def student_state(self) -> str:   # a student run's final networks (orbax)
        return self._join("student", "state")

    def seed(self, seed: int) -> "RunDir":
        """The directory of one seed of a multi-seed run."""
        return RunDir(self._join(f"seed{seed}"))
