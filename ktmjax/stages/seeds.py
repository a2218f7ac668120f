"""The run directories of several seeds in one program (`--seeds` > 1, a
`ktmjax.seed_axis.SeedAxis`): each seed writes a run directory of its own
(RUN_DIR/seed<seed>: config.json, metrics.csv, summary.json, student/state, as a single
run does); RUN_DIR holds the checkpoints of the whole program and the aggregate
summary.json (mean, interquartile mean and 95% stratified-bootstrap intervals over seeds).
Seed i of a run started at `seed` is `seed + i`: its random keys are those of a run
started alone with that seed. With one seed, RUN_DIR is the run's directory."""
import dataclasses
import os

import jax
import numpy as np

from ktmjax import checkpoint, distributed, evaluation, runs, stats
from ktmjax.errors import BadInput
from ktmjax.seed_axis import SeedAxis
from ktmjax.stages.config import growable, settings
from ktmjax.stages.output import write_videos


def seed_dir(run_dir: str, seed: int) -> str:
    return runs.RunDir(run_dir).seed(seed).path


def output_dirs(run_dir: str, axis: SeedAxis) -> list:
    """Where each seed writes its run: RUN_DIR itself for a single seed."""
    return [run_dir] if axis.count == 1 else [seed_dir(run_dir, s) for s in axis.seeds]


def claim_runs(run, axis: SeedAxis, out_dirs, environment: dict) -> None:
    """`runs.claim_run` for RUN_DIR (the settings of `run`, a stage's dataclass) and for
    each seed's own directory (the settings of a run of that seed alone)."""
    may_grow = growable(run)
    runs.claim_run(run.run_dir, settings(run), environment, may_grow)
    for seed, out in zip(axis.seeds, out_dirs):
        if out != run.run_dir:
            runs.claim_run(out, settings(dataclasses.replace(run, seed=seed, seeds=1,
                                                             run_dir=out)), environment,
                           may_grow)


def evaluator(evaluate, params_of, axis: SeedAxis):
    """(state, i) -> returns of `evaluate(params, key)` for every seed of `state`, each with
    the key of a run of that seed alone: fold_in(PRNGKey(seed + 100), i). Built once: one
    compiled program evaluates every seed, epoch after epoch."""
    keys = axis.keys(100)
    batched = jax.jit(axis.over(lambda state, key: evaluate(params_of(state), key)))
    fold = jax.jit(axis.over(jax.random.fold_in, (0, None)))
    return lambda state, i: batched(state, fold(keys, i))


def metrics_logs(out_dirs: list, tensorboard: bool) -> list:
    """What `loops.run_epochs` logs to: one `runs.MetricsLog` per seed."""
    return [runs.MetricsLog(d, tensorboard) for d in out_dirs]


def finish(run_dir: str, summaries: list, title: str, final_episodes: int,
           extra: dict = None) -> dict:
    """The summary of the program: a single seed's own, or the aggregate over several
    (`write_aggregate`, titled `title`, with `final_episodes` and `extra`)."""
    if len(summaries) == 1:
        return summaries[0]
    return write_aggregate(run_dir, summaries, title, final_episodes, extra)


def write_each(run_dir: str, axis: SeedAxis, out_dirs, states, returns, write_one,
               aggregate_title: str, final_episodes: int) -> dict:
    """`write_one(seed, out_dir, state, returns) -> summary` for each seed (`states` and
    `returns` carry the seed axis), then the program's summary (`finish`)."""
    summaries = [write_one(seed, out, state, seed_returns) for seed, out, state, seed_returns
                 in zip(axis.seeds, out_dirs, axis.split(states), axis.split(returns))]
    return finish(run_dir, summaries, aggregate_title, final_episodes)


def write_runs(run, axis: SeedAxis, out_dirs, *, stage: str, prefix: str, title: str, students,
               returns, wall_s: float, tasks, teacher_returns, env, learner,
               extra=None) -> dict:
    """Each seed's end of a student stage in its directory: videos (with run.video), the
    student (student/state), summary.json and results.md; with several seeds then the
    aggregate (`write_each`). `students` and `returns` carry the seed axis; `title` is
    "KTM-DRL <stage> ... {seeds}, ..." with {seeds} the seed or seed range; `extra` goes
    into every summary. Returns the summary (the aggregate over seeds)."""
    def write_one(seed, out, student_state, seed_returns):
        if run.video:
            write_videos(env, learner.policy_apply, learner.eval_params(student_state), seed,
                         out, prefix)
        checkpoint.save(runs.RunDir(out).student_state, student_state)
        summary = {"benchmark": run.benchmark, "stage": stage, "seed": seed, "wall_s": wall_s,
                   "rounds": run.rounds, **(extra or {}), "update": run.update,
                   "teachers": run.teachers,
                   "tasks": evaluation.summarize(tasks, seed_returns, teacher_returns)}
        runs.write_results(out, summary, title.format(seeds=f"seed {seed}"),
                           run.final_episodes)
        print(f"student saved in {os.path.join(out, 'student')}", flush=True)
        return summary
    return write_each(run.run_dir, axis, out_dirs, students, returns, write_one,
                      title.format(seeds=axis.span), run.final_episodes)


def student_dirs(path: str) -> list:
    """The student run directories of `path`: its seed directories when it holds a
    multi-seed run, else [path]."""
    config = runs.RunDir(path).config
    try:
        saved = runs.read_json(config) if os.path.isfile(config) else {}
        count, first = int(saved.get("seeds", 1)), int(saved.get("seed", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return [path]
    return output_dirs(path, SeedAxis(first, count))


def start_dirs(path: str, count: int) -> list:
    """The student each of `count` seeds starts from: seed i from the i-th seed of a
    multi-seed run at `path` (which must have `count` seeds), or all from a single run."""
    dirs = student_dirs(path)
    if len(dirs) == 1:
        return dirs * count
    if len(dirs) != count:
        raise BadInput(f"{path} holds {len(dirs)} seeds and this run has {count}; give a run "
                       f"of {count} seeds, or one of its seed directories for all of them")
    return dirs


def write_aggregate(run_dir: str, summaries: list, title: str, final_episodes: int,
                    extra: dict = None) -> dict:
    """RUN_DIR/results.md and, last, summary.json of a multi-seed run: per task the mean
    and std over seeds of each seed's final return (the mean of `final_episodes`
    deterministic episodes; named in the title) and ratio to the teacher, and the
    mean and IQM of the ratios over seeds x tasks with 95% stratified-bootstrap intervals
    (`ktmjax.stats`); `extra` (a stage's own aggregates) goes into summary.json too."""
    names = list(summaries[0]["tasks"])
    tasks = {}
    for name in names:
        rows = [s["tasks"][name] for s in summaries]
        returns = np.array([r["return_mean"] for r in rows])
        tasks[name] = {"return_mean": float(returns.mean()), "return_std": float(returns.std()),
                       "seeds": len(rows)}
        if "ratio" in rows[0]:
            tasks[name].update(teacher_return=rows[0]["teacher_return"],
                               ratio=float(np.mean([r["ratio"] for r in rows])))
    summary = {k: v for k, v in summaries[0].items() if k not in ("tasks", "seed")}
    summary.update(seeds=[s["seed"] for s in summaries], tasks=tasks, **(extra or {}))
    lines = ["| task | return (mean ± std over seeds) |"
             + (" teacher | ratio |" if "ratio" in tasks[names[0]] else ""),
             "|---|---|" + ("---|---|" if "ratio" in tasks[names[0]] else "")]
    for name, row in tasks.items():
        lines.append(f"| {name} | {row['return_mean']:.1f} ± {row['return_std']:.1f} |"
                     + (f" {row['teacher_return']:.1f} | {row['ratio']:.3f} |"
                        if "ratio" in row else ""))
    if "ratio" in tasks[names[0]]:
        ratios = [[s["tasks"][n]["ratio"] for n in names] for s in summaries]
        agg = stats.aggregate(ratios)
        summary["aggregate"] = agg
        lines += ["", f"Ratio to the teacher over {len(summaries)} seeds x {len(names)} tasks: "
                  f"mean {agg['mean']:.3f} [{agg['mean_ci95'][0]:.3f}, {agg['mean_ci95'][1]:.3f}], "
                  f"IQM {agg['iqm']:.3f} [{agg['iqm_ci95'][0]:.3f}, {agg['iqm_ci95'][1]:.3f}] "
                  "(95% stratified-bootstrap intervals)."]
    table = "\n".join(lines)
    title = (f"{title}; each seed's final evaluation: {final_episodes} deterministic "
             "episodes per task")
    if distributed.is_writer():
        with open(runs.RunDir(run_dir).results, "w") as f:
            f.write(f"# {title}\n\n{table}\n")
    runs.write_json(runs.RunDir(run_dir).summary, summary)
    print(f"\n{title} ({len(summaries)} seeds, {summary['wall_s']:.0f} s):\n{table}", flush=True)
    return summary
