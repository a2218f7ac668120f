"""The learning-curve PNG of a run: periodic evaluation returns (metrics.csv) per task."""
import csv
import textwrap
from collections import defaultdict

from ktmjax.rundir import RunDir


# The x axis of each stage's curves: what metrics.csv's "round" column counts.
X_LABELS = {"teachers": "env steps per task", "world_model": "updates"}


def _thousands(x, _=None) -> str:
    """A tick label: 250000 -> 250K."""
    return f"{x / 1000:g}K" if abs(x) >= 1000 else f"{x:g}"


def learning_curve(run_dir: str, title: str, summary_tasks: dict, stage: str = None) -> str:
    """Plots metrics.csv of `run_dir` into learning_curve.png (`curve_figure`). Returns the
    PNG path."""
    path = RunDir(run_dir).learning_curve
    curve_figure(run_dir, title, summary_tasks, stage).savefig(path, dpi=100)
    return path


def curve_figure(run_dir: str, title: str, summary_tasks: dict, stage: str = None):
    """The periodic evaluations in metrics.csv of `run_dir`: one panel per task, the
    teacher's return dashed where known; the x axis in rounds, or what `stage` counts in
    `X_LABELS`; the y axis says how many episodes each evaluation averages. (A
    matplotlib Figure: imported here, as it takes half a second to import.)"""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter
    curves = defaultdict(lambda: ([], [], []))    # task -> rounds, means, stds
    episodes = set()
    with open(RunDir(run_dir).metrics, newline="") as f:
        for row in csv.DictReader(f):
            rounds, means, stds = curves[row["task"]]
            rounds.append(int(row["round"]))
            means.append(float(row["return"]))
            stds.append(float(row["return_std"]))
            episodes.add(row["episodes"])
    y_label = f"return (mean of {episodes.pop()} episodes)" if len(episodes) == 1 else "return"
    tasks = list(summary_tasks)
    cols = min(len(tasks), 4)
    rows = -(-len(tasks) // cols)
    fig = Figure(figsize=(4 * cols, 3 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, task in zip(axes.flat, tasks):
        rounds, means, stds = curves[task]
        ax.plot(rounds, means, marker="o", markersize=3)
        ax.fill_between(rounds, [m - s for m, s in zip(means, stds)],
                        [m + s for m, s in zip(means, stds)], alpha=0.2)
        teacher = summary_tasks[task].get("teacher_return")
        if teacher is not None:
            ax.axhline(teacher, linestyle="--", color="gray", label="teacher")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_title(task, fontsize=9)
        ax.set_xlabel(X_LABELS.get(stage, "round"))
        ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.set_ylabel(y_label)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    fig.suptitle(textwrap.fill(title, 11 * 4 * cols), fontsize=9)   # ~11 characters per inch
    fig.tight_layout()
    return fig
