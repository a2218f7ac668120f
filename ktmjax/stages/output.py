"""What the stages print beside their progress lines, and the videos of a run."""
import os

import jax

from ktmjax import distributed, envs, extensions, teacher_store, video

# The start line's mention of SharedNet's networks (--shared_net).
SHARED_NOTE = " (SharedNet: per-task first and last layers)"


def scale_note(scale) -> str:
    """The start line's mention of the scale (empty for mini)."""
    return f", {scale} scale" if scale else ""


def term_notes(run, stage: str) -> str:
    """The start line's mention of each extension term `run` turns on in `stage` (empty
    when none is on)."""
    return "".join(f", {t.name}={getattr(run, t.name):g} (not the paper's "
                   f"{t.equations[stage]} alone)"
                   for t in extensions.stage_terms(stage) if getattr(run, t.name))


def warn_teachers_at_bound(teachers_dir: str, benchmark: str, task_names, stage: str) -> None:
    """A warning line for each teacher that train_teachers marked as stuck at an action
    bound: the student would learn from a teacher that is no expert."""
    for name in teacher_store.teachers_at_bound(teachers_dir,
                                           envs.benchmark_tasks(benchmark, task_names)):
        print(f"[{stage}] warning: the {name} teacher in {teachers_dir}: "
              f"{teacher_store.AT_BOUND_NOTE}", flush=True)


def write_videos(env, policy_apply, params, seed: int, run_dir: str, stage: str) -> list:
    """RUN_DIR/videos/<task>.gif (`ktmjax.video`); where MuJoCo cannot render, one line
    says so and the run goes on. In a multi-process job, the writer process renders them."""
    params = distributed.to_host(params)   # every process: it may gather
    if not distributed.is_writer():
        return []
    try:
        paths = video.write_videos(env, policy_apply, params, jax.random.PRNGKey(seed + 200),
                                   os.path.join(run_dir, "videos"))
    except video.RenderUnavailable as e:
        print(f"[{stage}] no videos: MuJoCo cannot render on this machine ({e}); set "
              "MUJOCO_GL=egl or osmesa where one of them is installed", flush=True)
        return []
    print(f"[{stage}] videos: {', '.join(paths)}", flush=True)
    return paths
