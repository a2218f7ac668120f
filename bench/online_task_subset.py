"""The online stage on some of a benchmark's tasks only, from a student of all of them.

    python bench/online_task_subset.py RUN_CONFIG TASKS RUN_DIR [NAME=VALUE ...]
    python bench/online_task_subset.py /tmp/on_d/config.json InvertedDoublePendulum /tmp/on_idp

Takes the settings of an earlier `experiments.online` run (its config.json), keeps only
TASKS (comma-separated), and runs `experiments.online.learn` with them into RUN_DIR;
NAME=VALUE pairs override settings (e.g. rounds=5000 empty_buffers=False). The student of
the `from` run must have the subset's padded sizes (S_max, A_max); on `mini`,
InvertedDoublePendulum alone has them, and it must have no task id (`--notask_id`: a
subset has another K, and its tasks other positions). A diagnostic: with one task, nothing else shares
the student's networks, so what happens is not interference between tasks.
"""
import ast
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments import online  # noqa: E402
from ktmjax import runs  # noqa: E402


def main(config_path, task_list, run_dir, *overrides):
    cfg = runs.read_json(config_path)
    cfg.pop("environment", None)
    refusal = runs.task_id_refusal(cfg, config_path, "a subset of its tasks would change")
    if refusal:
        sys.exit(refusal)
    cfg.update(tasks=task_list.split(","), run_dir=run_dir)
    for item in overrides:
        name, value = item.split("=", 1)
        if name not in cfg:
            sys.exit(f"error: unknown setting {name!r}; known: {', '.join(sorted(cfg))}")
        cfg[name] = ast.literal_eval(value)
    runs.check_run_dir(run_dir)
    runs.enable_compilation_cache()
    online.learn(cfg)


if __name__ == "__main__":
    main(*sys.argv[1:])
