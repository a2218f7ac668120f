"""Paper-layout tables and curves from finished run directories.

Each run is put in the column of the paper's tables that its settings make it
(`variant`): the offline stage alone is "w/o Online"; an online run from an offline run
with alpha, beta > 0 is "KTM-DRL"; without --from it is "w/o Offline" (or "TD3-MT" with
alpha = 0: no teacher at all); alpha = 0 is "Online w/o Teachers", beta = 0 "Online only
Teacher", --noher "w/o HER"; TD3-MT with --algo=sac is "SAC-MT", with --update=pcgrad
"G-Surgery", with --shared_net "SharedNet". An update
other than the preset's is named in the column ("KTM-DRL (sequential)"), and so is a term the
paper does not have ("KTM-DRL + actor_match, task_id"). Runs of one column are seeds:
their returns are averaged, with the standard deviation over seeds beside the mean.
"""
import csv
import dataclasses
import os
from collections import defaultdict

import numpy as np
from matplotlib.figure import Figure

from ktmjax import extensions, runs, stats
from ktmjax.stages import seeds as seed_runs
from ktmjax.stages.config import PRESETS, CompressRun

COLUMNS = ("w/o Online", "KTM-DRL", "w/o Offline", "Online w/o Teachers",
           "Online only Teacher", "w/o HER", "TD3-MT", "SAC-MT", "SharedNet", "G-Surgery")
# A compress run's settings named in its column when they are not the command's defaults.
COMPRESS_DEFAULTS = {name: getattr(CompressRun, name)
                     for name in ("q_weight", "match_weight", "rollout_noise")}
# Settings that add a term or an input the paper does not have (named in the column).
EXTENSIONS = tuple(sorted(t.name for t in extensions.TERMS)) + ("task_id",)


@dataclasses.dataclass
class Run:
    path: str
    config: dict
    summary: dict

    @property
    def column(self) -> str:
        return variant(self.config, self.summary)


def load_run(path: str) -> Run:
    """A finished run directory (its summary.json and config.json); ValueError otherwise."""
    files = [runs.RunDir(path).summary, runs.RunDir(path).config]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise ValueError(f"{path} is not a finished run (no {os.path.basename(missing[0])})")
    try:
        summary, config = (runs.read_json(f) for f in files)
    except ValueError as e:
        raise ValueError(f"{path} holds an unreadable summary.json or config.json ({e})") from None
    return Run(path, config, summary)


def variant(config: dict, summary: dict) -> str:
    """The column of the paper's tables that a run's settings put it in."""
    stage = summary.get("stage")
    if stage == "teachers":
        return "Teachers"
    if stage == "compress":
        return compact_name(summary) + f" {summary['dtype']}"
    if stage == "world_model":
        return world_model_name(summary)
    if stage == "offline":
        name = "w/o Online"
    elif not config.get("her", True):
        name = "w/o HER"
    elif not config.get("from"):
        name = "TD3-MT" if config.get("alpha") == 0 else "w/o Offline"
    elif config.get("alpha") == 0:
        name = "Online w/o Teachers"
    elif config.get("beta") == 0:
        name = "Online only Teacher"
    else:
        name = "KTM-DRL"
    # The update is named where it is not the run's preset's default.
    default = PRESETS.get(config.get("preset"), PRESETS["paper"])["update"]
    update, shared = config.get("update", default), bool(config.get("shared_net"))
    if name == "TD3-MT" and config.get("algo") == "sac":
        name = "SAC-MT"
    elif name == "TD3-MT" and update == "pcgrad" and not shared:
        name, update = "G-Surgery", default
    elif name == "TD3-MT" and shared and update == default:
        name, shared = "SharedNet", False
    if update != default:
        name += f" ({update})"
    # SharedNet's networks need the task id: named once, as shared_net.
    extensions = [e for e in EXTENSIONS if config.get(e)
                  and not (e == "task_id" and config.get("shared_net"))]
    extensions += ["shared_net"] if shared else []
    return name + (f" + {', '.join(extensions)}" if extensions else "")


def compact_name(summary: dict) -> str:
    """A compress run's network and how it learnt: "compact 32x32 distilled" (from a
    student) or "compact 32x32 direct" (from the teachers), with its loss weights and
    rollout noise where they are not the defaults."""
    how = "distilled" if summary.get("source") == "student" else "direct"
    settings = [f"{k}={summary[k]:g}" for k, default in COMPRESS_DEFAULTS.items()
                if k in summary and summary[k] != default]
    return (f"compact {'x'.join(str(w) for w in summary['hidden'])} {how}"
            + (f" ({', '.join(settings)})" if settings else ""))


def world_model_name(summary: dict) -> str:
    """A world-model run's column: its size, and how it learnt ("alone" or "distilled,
    alpha 0.45")."""
    how = (f"distilled, alpha {summary['alpha']:g}" if summary.get("teacher")
           and summary.get("alpha") else "alone")
    return f"world model {summary['size']} {how}"


def _column_order(name: str):
    base = name.split(" + ")[0].split(" (")[0]
    return (COLUMNS.index(base) if base in COLUMNS else len(COLUMNS), name)


def group_runs(run_list) -> dict:
    """{column: [runs]} in the order of the paper's tables; every run of one benchmark."""
    benchmarks = {r.summary.get("benchmark") for r in run_list}
    if len(benchmarks) != 1:
        raise ValueError(f"runs of several benchmarks ({', '.join(map(str, sorted(benchmarks, key=str)))}); "
                         "report one benchmark at a time")
    columns = defaultdict(list)
    for r in run_list:
        columns[r.column].append(r)
    return dict(sorted(columns.items(), key=lambda item: _column_order(item[0])))


def _mean_std(values) -> str:
    values = np.asarray(values, np.float64)
    return f"{values.mean():.1f}" + (f" ± {values.std():.1f}" if values.size > 1 else "")


def task_names(columns: dict) -> list:
    names = []
    for column_runs in columns.values():
        for r in column_runs:
            names += [t for t in r.summary["tasks"] if t not in names]
    return names


def teacher_returns(columns: dict) -> dict:
    """{task: teacher return}: the mean over the runs that name one (a teachers run's own
    return where that is all there is)."""
    seen = defaultdict(list)
    for column, column_runs in columns.items():
        for r in column_runs:
            for task, row in r.summary["tasks"].items():
                if "teacher_return" in row:
                    seen[task].append(row["teacher_return"])
                elif column == "Teachers":
                    seen[task].append(row["return_mean"])
    return {task: float(np.mean(v)) for task, v in seen.items()}


def returns_table(columns: dict) -> str:
    """Table 1's layout: per task, the teacher's return and each column's return (mean ±
    std over seeds; the number of seeds in the header)."""
    tasks, teacher = task_names(columns), teacher_returns(columns)
    shown = [c for c in columns if c != "Teachers"]
    lines = ["| task | teacher | " + " | ".join(f"{c} (n={len(columns[c])})" for c in shown) + " |",
             "|---|---|" + "---|" * len(shown)]
    for task in tasks:
        cells = [f"{teacher[task]:.1f}" if task in teacher else "n/a"]
        for c in shown:
            values = [r.summary["tasks"][task]["return_mean"] for r in columns[c]
                      if task in r.summary["tasks"]]
            cells.append(_mean_std(values) if values else "n/a")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def max_average_reward(run: Run, task: str):
    """The paper's metric: the best periodic evaluation of `task` in the run's metrics.csv
    (its stage's rows; each the mean of that evaluation's episodes), None without one."""
    returns = [ret for _, ret in _curve(run.path, task)]
    return max(returns) if returns else None


def max_average_table(columns: dict) -> tuple:
    """(Markdown table, episodes): per task, each column's "max average reward" (mean ± std
    over seeds), then its mean ratio to the teacher's return; and the numbers of episodes
    of the periodic evaluations."""
    tasks, teacher = task_names(columns), teacher_returns(columns)
    shown = [c for c in columns if c != "Teachers"]
    lines = ["| task | " + " | ".join(f"{c} (n={len(columns[c])})" for c in shown) + " |",
             "|---|" + "---|" * len(shown)]
    best = {c: {task: [max_average_reward(r, task) for r in columns[c]] for task in tasks}
            for c in shown}
    for task in tasks:
        cells = []
        for c in shown:
            values = [v for v in best[c][task] if v is not None]
            cells.append(_mean_std(values) if values else "n/a")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    best_ratios = {c: {task: [v / teacher[task] for v in best[c][task] if v is not None]
                       for task in tasks if task in teacher} for c in shown}
    lines.append("| mean ratio to the teacher's final return | "
                 + " | ".join(_mean_over_tasks(best_ratios[c]) for c in shown) + " |")
    episodes = sorted({r.config.get("eval_episodes") for c in shown for r in columns[c]
                       if r.config.get("eval_episodes")})
    return "\n".join(lines), episodes


def ratios(columns: dict) -> dict:
    """{column: {task: [ratio of each seed]}} (return / the teacher's return)."""
    teacher = teacher_returns(columns)
    out = {}
    for c, column_runs in columns.items():
        if c == "Teachers":
            continue
        out[c] = {task: [r.summary["tasks"][task]["return_mean"] / teacher[task]
                         for r in column_runs if task in r.summary["tasks"]]
                  for task in task_names(columns) if task in teacher}
    return out


def ratio_table(columns: dict) -> str:
    """Table 3's layout: per task, each column's ratio to the teacher (mean over seeds), and
    the mean over tasks (with the std over seeds of that mean)."""
    table = ratios(columns)
    shown = list(table)
    tasks = task_names(columns)
    lines = ["| task | " + " | ".join(shown) + " |", "|---|" + "---|" * len(shown)]
    for task in tasks:
        cells = [f"{np.mean(table[c][task]):.3f}" if table[c].get(task) else "n/a"
                 for c in shown]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    lines.append("| mean | " + " | ".join(_mean_over_tasks(table[c]) for c in shown) + " |")
    return "\n".join(lines)


def _mean_over_tasks(per_task: dict) -> str:
    """"**mean** ± std": the mean over tasks of {task: [ratio of each seed]} and the std
    over seeds of that mean; "n/a" where the tasks have different numbers of seeds."""
    per_seed = np.asarray([v for v in per_task.values() if v], np.float64)   # [tasks, seeds]
    if not per_seed.size or len({len(v) for v in per_task.values() if v}) != 1:
        return "n/a"
    seed_means = per_seed.mean(axis=0)
    return (f"**{seed_means.mean():.3f}**"
            + (f" ± {seed_means.std():.3f}" if seed_means.size > 1 else ""))


def aggregate_table(columns: dict) -> str:
    """For every column of two seeds or more: the mean and the interquartile mean of the
    ratio to the teacher over seeds x tasks, each with its 95% stratified-bootstrap
    interval (`ktmjax.stats`); empty when no column has two seeds."""
    lines = []
    for c, per_task in ratios(columns).items():
        counts = {len(v) for v in per_task.values() if v}
        if len(counts) != 1 or counts.pop() < 2:
            continue
        scores = np.asarray([v for v in per_task.values() if v], np.float64).T   # [seeds, tasks]
        agg = stats.aggregate(scores)
        lines.append(f"| {c} | {agg['runs']} | {agg['mean']:.3f} [{agg['mean_ci95'][0]:.3f}, "
                     f"{agg['mean_ci95'][1]:.3f}] | {agg['iqm']:.3f} [{agg['iqm_ci95'][0]:.3f}, "
                     f"{agg['iqm_ci95'][1]:.3f}] |")
    if not lines:
        return ""
    return "\n".join(["| column | seeds | mean ratio [95% CI] | IQM ratio [95% CI] |",
                      "|---|---|---|---|"] + lines)


def curves(columns: dict, path: str, title: str) -> str:
    """One panel per task: each column's evaluation returns over rounds (mean over seeds
    at the rounds they share), the teacher's return dashed. Writes a PNG to `path`."""
    tasks, teacher = task_names(columns), teacher_returns(columns)
    cols = min(len(tasks), 4)
    rows = -(-len(tasks) // cols)
    fig = Figure(figsize=(4 * cols, 3 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, task in zip(axes.flat, tasks):
        for c, column_runs in columns.items():
            if c == "Teachers":
                continue
            rounds, means = _mean_at_shared_rounds([_curve(r.path, task) for r in column_runs])
            if rounds:
                ax.plot(rounds, means, label=c)
        if task in teacher:
            ax.axhline(teacher[task], linestyle="--", color="gray", label="teacher")
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("round")
        ax.set_ylabel("return")
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=100)
    return path


def ratio_curves(columns: dict) -> dict:
    """Per column (but the teachers'): (rounds, the mean over seeds and tasks of the
    evaluation return's ratio to the teacher at that round), at the rounds every seed and
    task reached; empty where a task has no teacher return."""
    tasks, teacher = task_names(columns), teacher_returns(columns)
    out = {}
    for c, column_runs in columns.items():
        if c == "Teachers" or not all(t in teacher for t in tasks):
            continue
        rounds, means = _mean_at_shared_rounds(
            [[(k, v / teacher[task]) for k, v in _curve(r.path, task)]
             for r in column_runs for task in tasks])
        if rounds:
            out[c] = (rounds, means)
    return out


def ratio_curve(columns: dict, path: str, title: str) -> str:
    """One panel of `ratio_curves` (each column's mean ratio to the teacher against
    rounds), the teachers at 1 dashed. Writes a PNG to `path`."""
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for c, (rounds, values) in ratio_curves(columns).items():
        seeds = len(columns[c])
        ax.plot(rounds, values, marker="o", markersize=2,
                label=f"{c} ({seeds} seed{'s' if seeds > 1 else ''})")
    ax.axhline(1.0, linestyle="--", color="gray", label="teachers")
    ax.set_xlabel("round of the stage")
    ax.set_ylabel("mean ratio to the teacher")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def _mean_at_shared_rounds(series: list) -> tuple:
    """(rounds, means): the rounds every one of `series` (lists of (round, value)) reached,
    and the mean of their values at each."""
    points = defaultdict(list)
    for one in series:
        for round_, value in one:
            points[round_].append(value)
    rounds = sorted(k for k, v in points.items() if len(v) == len(series))
    return rounds, [float(np.mean(points[k])) for k in rounds]


def _curve(run_dir: str, task: str) -> list:
    path = runs.RunDir(run_dir).metrics
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as f:
        return [(int(row["round"]), float(row["return"])) for row in csv.DictReader(f)
                if row["task"] == task]


def compress_runs(columns: dict) -> list:
    """The compress runs among the columns, by source then width (widest first)."""
    found = [r for rs in columns.values() for r in rs if r.summary.get("stage") == "compress"]
    return sorted(found, key=lambda r: (r.summary["source"], [-w for w in r.summary["hidden"]],
                                        r.summary.get("seed")))


def _mean_ratio(returns: dict, teacher: dict) -> float:
    return float(np.mean([returns[t] / teacher[t] for t in returns if t in teacher]))


def compression_table(columns: dict) -> str:
    """Per compress run and dtype: the actor's parameters and bytes, actions per second at
    each measured batch, and the mean over tasks of the return's ratio to the teacher
    (each dtype's return measured in that dtype)."""
    found = compress_runs(columns)
    teacher = teacher_returns(columns)
    batches = sorted(found[0].summary["dtypes"]["float32"]["actions_per_s"], key=int)
    lines = ["| network | seed | dtype | actor params | actor bytes | "
             + " | ".join(f"actions/s, batch {b}" for b in batches) + " | mean ratio |",
             "|---|---|---|---|---|" + "---|" * (len(batches) + 1)]
    for r in found:
        large = r.summary["source_agent"]
        if "actor_params" in large:
            speeds = " | ".join(f"{large['actions_per_s'][b]:,.0f}" for b in batches)
            row = (f"| large student ({r.summary['from']}) | | float32 | {large['actor_params']:,} "
                   f"| {large['actor_bytes']:,} | {speeds} | "
                   f"{_mean_ratio(large['tasks'], teacher):.3f} |")
            if row not in lines:
                lines.append(row)
        for dtype, info in r.summary["dtypes"].items():
            returns = {t: v["return_mean"] for t, v in info["tasks"].items()}
            speeds = " | ".join(f"{info['actions_per_s'][b]:,.0f}" for b in batches)
            lines.append(f"| {compact_name(r.summary)} | {r.summary.get('seed')} | {dtype} | "
                         f"{info['actor_params']:,} | {info['actor_bytes']:,} | {speeds} | "
                         f"{_mean_ratio(returns, teacher):.3f} |")
    return "\n".join(lines)


def compression_plot(columns: dict, path: str, title: str) -> str:
    """Mean ratio to the teacher against the actor's bytes (log scale): one line per way of
    learning (distilled, direct) and dtype, a point per width. Writes a PNG to `path`."""
    teacher = teacher_returns(columns)
    series = defaultdict(list)
    for r in compress_runs(columns):
        how = compact_name(r.summary).split(" (")[0].split()[-1]
        for dtype, info in r.summary["dtypes"].items():
            returns = {t: v["return_mean"] for t, v in info["tasks"].items()}
            series[(how, dtype)].append((info["actor_bytes"], _mean_ratio(returns, teacher)))
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for (how, dtype), points in sorted(series.items()):
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                linestyle="-" if how == "distilled" else "--", label=f"{how}, {dtype}")
    ax.axhline(0.95, color="gray", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("actor bytes")
    ax.set_ylabel("mean ratio to the teacher")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


WORLD_MODEL_ROWS = (("planner", ""), ("planner, float16 weights", " float16"),
                    ("planner, float16 compute", " float16, acting in float16"),
                    ("planner, sampling noise on", " sampling noise on"))


def world_model_table(columns: dict) -> str:
    """The follow-up's table: per world-model column (and its float16 weights, acting in
    float32 as the follow-up did and in float16, and its planner with sampling noise on), each task's return (mean ± std over seeds), the
    normalised score (mean over seeds, with its 95% stratified-bootstrap interval from two
    seeds on), the parameters and the acting file's bytes."""
    tasks = task_names(columns)
    lines = ["| model | seeds | " + " | ".join(tasks) + " | normalised score | parameters | "
             "bytes |", "|---|---|" + "---|" * (len(tasks) + 3)]
    for c, column_runs in columns.items():
        for mode, suffix in WORLD_MODEL_ROWS:
            evals = [r.summary["evaluations"][mode] for r in column_runs
                     if mode in r.summary.get("evaluations", {})]
            if not evals:
                continue
            cells = [_mean_std([e[t]["return_mean"] for e in evals if t in e]) for t in tasks]
            scores = np.asarray([[e[t]["return_mean"] / 10 for t in tasks] for e in evals])
            score = f"{scores.mean():.2f}"
            if len(evals) > 1:
                low, high = stats.stratified_bootstrap_ci(scores, stats.mean)
                score += f" [{low:.2f}, {high:.2f}]"
            dtype = "float16" if "float16" in mode else "float32"
            first = column_runs[0].summary
            lines.append(f"| {c}{suffix} | {len(evals)} | " + " | ".join(cells)
                         + f" | {score} | {first['params']:,} | "
                         f"{first['bytes'][dtype]['file_bytes']:,} |")
    return "\n".join(lines)


def final_episodes(columns: dict) -> str:
    """The episodes of the runs' final evaluations: "10", or "3/10" where runs differ."""
    counts = {t.get("episodes") for rs in columns.values() for r in rs
              for t in r.summary.get("tasks", {}).values()}
    return "/".join(str(c) for c in sorted(c for c in counts if c is not None)) or "n/a"


def report(run_dirs, title: str = None) -> tuple:
    """(Markdown text, grouped columns) for the finished runs in `run_dirs` (a multi-seed
    run counts as its seeds' runs)."""
    loaded = [load_run(d) for p in run_dirs for d in seed_runs.student_dirs(p)]
    columns = group_runs(loaded)
    task_sets = {tuple(r.summary.get("tasks", {})): r.path for r in loaded}
    if len(task_sets) > 1:
        (first, a), (other, b) = list(task_sets.items())[:2]
        raise ValueError(f"{a} has tasks {','.join(first)} and {b} {','.join(other)}; give one "
                         "report runs of the same tasks")
    benchmark = next(iter(columns.values()))[0].summary.get("benchmark")
    title = title or f"Benchmark {benchmark}"
    stages = {r.summary.get("stage") for rs in columns.values() for r in rs}
    if "world_model" in stages:
        if stages != {"world_model"}:
            raise ValueError("world-model runs and KTM-DRL runs go in separate reports")
        sources = "\n".join(f"- {c}: " + ", ".join(r.path for r in rs) for c, rs in columns.items())
        text = (f"# {title}: world models\n\nFinal evaluation of each run "
                f"({final_episodes(columns)} episodes per task, MPPI planning; mean ± std over seeds; normalised score = "
                f"mean over tasks of return / 10):\n\n{world_model_table(columns)}\n\n"
                f"Runs:\n{sources}\n")
        return text, columns
    seeds = {c: sorted({r.summary.get("seed") for r in rs}) for c, rs in columns.items()}
    sources = "\n".join(f"- {c}: " + ", ".join(r.path for r in rs) + f" (seeds {seeds[c]})"
                        for c, rs in columns.items())
    best, episodes = max_average_table(columns)
    per_evaluation = "/".join(map(str, episodes)) or "n/a"
    text = (f"# {title}\n\nReturns ({final_episodes(columns)}-episode final evaluation of "
            "each run; mean ± std "
            f"over seeds):\n\n{returns_table(columns)}\n\nThe paper's metric, \"max average "
            f"reward\": the best periodic evaluation of each run ({per_evaluation} "
            f"episode{'' if per_evaluation == '1' else 's'} each; mean ± std over seeds):\n\n{best}\n\nRatio to the teacher "
            f"(final evaluation; mean over seeds; the mean row: mean over tasks ± std over "
            f"seeds):\n\n{ratio_table(columns)}\n\n")
    intervals = aggregate_table(columns)
    if intervals:
        text += ("Over seeds and tasks (interquartile mean and 95% stratified-bootstrap "
                 f"intervals, 2000 resamples):\n\n{intervals}\n\n")
    if compress_runs(columns):
        text += ("Compression (each dtype's return measured in that dtype; actions/s of "
                 f"`policy.act` on this machine):\n\n{compression_table(columns)}\n\n")
    text += f"Runs:\n{sources}\n"
    return text, columns
