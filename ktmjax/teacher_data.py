"""D_k, the offline stage's data of each task: the teacher's training replay, its noisy
rollouts, or both."""
from typing import Sequence

from ktmjax import acting, replay, td3
from ktmjax.envs import MultiTaskEnv
from ktmjax.teacher_store import TeacherGroup, teachers_policy


def rollout_data(env: MultiTaskEnv, teacher_groups: Sequence[TeacherGroup],
                 configs: Sequence[td3.TD3Config], steps: int, key,
                 noise: float = 0.1) -> tuple:
    """D_k built from teacher rollouts instead of the teacher's training replay: every
    task's teacher acts for `steps` env steps with N(0, noise^2) on its deterministic action
    (`acting.noisy_rollouts`); returns the groups with their `data` and `rollouts` replaced
    by these transitions."""
    buffers = acting.noisy_rollouts(env, teachers_policy(env.groups, configs),
                                    [t.actor_params for t in teacher_groups], steps, key, noise)
    return tuple(t.replace(data=b, rollouts=b) for t, b in zip(teacher_groups, buffers))


DATA_SOURCES = ("replay", "rollouts", "both")


def offline_data(env: MultiTaskEnv, teacher_groups: Sequence[TeacherGroup],
                 configs: Sequence[td3.TD3Config], source: str, steps: int, key,
                 noise: float, keep_rollouts: bool) -> tuple:
    """The teacher groups with the D_k of the offline stage: `source` "replay" keeps each
    teacher's training replay; "rollouts" replaces it with `steps` env steps per task of
    the teacher's noisy rollouts (`rollout_data`); "both" appends those to the replay.
    `keep_rollouts`: also keep the rollouts apart (the states of the critic_grad term);
    else no second copy is held."""
    if source not in DATA_SOURCES:
        raise ValueError(f"unknown D_k source {source!r}; known: {', '.join(DATA_SOURCES)}")
    if source == "replay":
        return tuple(teacher_groups)
    rolled = rollout_data(env, teacher_groups, configs, steps, key, noise)
    if source == "both":
        rolled = tuple(r.replace(data=replay.concat(t.data, r.data))
                       for t, r in zip(teacher_groups, rolled))
    return tuple(r if keep_rollouts else r.replace(rollouts=None) for r in rolled)
