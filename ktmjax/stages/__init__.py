"""ktmjax's pipeline, one function per stage, each run from a frozen settings dataclass:

- `train_teachers(TeachersRun)`: one TD3 teacher per task;
- `offline_transfer(OfflineRun)`: the student from the teachers (Eq. 1-2);
- `online(OnlineRun)`: the student guided by the teachers (Eq. 3-5);
- `compress(CompressRun)`: a compact, quantised student;
- `world_model(WorldModelRun)`: the 2025 follow-up's multi-task world model, optionally
  distilled from a larger one.

Each writes its run directory (config.json holds `settings(run)`) and resumes a started
one. `config` also holds the student's presets and each benchmark's sizes per scale; the
experiments/ commands map their flags onto these dataclasses.
"""
from ktmjax.stages.compact import compress
from ktmjax.stages.config import (CompressRun, OfflineRun, OnlineRun, TeachersRun,
                                  WorldModelRun, default_teachers_run, from_settings, settings)
from ktmjax.stages.learn import online
from ktmjax.stages.train import train_teachers
from ktmjax.stages.transfer import offline_transfer
from ktmjax.stages.world import world_model

__all__ = ["CompressRun", "OfflineRun", "OnlineRun", "TeachersRun", "WorldModelRun", "compress",
           "default_teachers_run", "from_settings", "offline_transfer", "online", "settings",
           "train_teachers", "world_model"]
