"""Whether two finished runs of one command ended in the same state with the same logs:
the arrays of their newest checkpoint (the whole state: parameters, optimisers, replay,
environments, keys), summary.json's tasks and metrics.csv without its wall-clock column.

    python -m bench.compare_runs RUN_DIR OTHER_RUN_DIR

Prints `identical` (exit 0) or what differs first (exit 1). Used by bench/kill_campaign.sh.
"""
import csv
import json
import os
import sys

import numpy as np


def newest_checkpoint(run_dir: str):
    """(step, {name: array}) of run_dir's newest checkpoint (`checkpoint.RunCheckpoints`)."""
    import orbax.checkpoint as ocp
    folder = os.path.join(run_dir, "checkpoints")
    step = max(int(p) for p in os.listdir(folder) if p.isdigit())
    arrays = ocp.StandardCheckpointer().restore(os.path.abspath(os.path.join(folder, str(step), "default")))
    return step, arrays


def rows_without_wall_clock(run_dir: str) -> list:
    with open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        rows = list(csv.reader(f))
    wall = rows[0].index("wall_s")
    return [r[:wall] + r[wall + 1:] for r in rows]


def difference(a: str, b: str):
    """What first differs between the finished runs `a` and `b`, or None."""
    tasks = [json.load(open(os.path.join(d, "summary.json")))["tasks"] for d in (a, b)]
    if tasks[0] != tasks[1]:
        return f"summary.json tasks: {tasks[0]} != {tasks[1]}"
    rows = [rows_without_wall_clock(d) for d in (a, b)]
    if rows[0] != rows[1]:
        extra = [r for r in rows[1] if r not in rows[0]] + [r for r in rows[0] if r not in rows[1]]
        return (f"metrics.csv: {len(rows[0]) - 1} rows != {len(rows[1]) - 1} rows"
                + (f" (first differing: {extra[0]})" if extra else " (same rows, other order or "
                   "repeated)"))
    (step_a, arrays_a), (step_b, arrays_b) = newest_checkpoint(a), newest_checkpoint(b)
    if step_a != step_b or sorted(arrays_a) != sorted(arrays_b):
        return f"newest checkpoint: step {step_a} != {step_b}, or other arrays"
    for name in sorted(arrays_a):
        x, y = np.asarray(arrays_a[name]), np.asarray(arrays_b[name])
        if x.shape != y.shape or x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=True):
            return f"checkpoint {step_a} array {name} differs"
    return None


if __name__ == "__main__":
    found = difference(sys.argv[1], sys.argv[2])
    print(found or "identical")
    sys.exit(1 if found else 0)
