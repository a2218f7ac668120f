"""Run directories: config.json, metrics.csv, summary.json, and the environment of a run."""
import csv
import fcntl
import json
import os
import platform
from importlib import metadata
import tempfile
import time

import jax

from ktmjax import distributed, envs
from ktmjax.evaluation import markdown_table
from ktmjax.errors import BadInput
from ktmjax.plots import learning_curve
from ktmjax.rundir import RunDir

# One row per task per evaluation: these columns, then one per training metric of the
# task (critic_loss, actor_loss, each loss term, ...; `loops.TrainMetrics`) averaged over
# the updates of the epoch before the evaluation.
METRICS_FIELDS = ("stage", "round", "task", "return", "return_std", "episodes", "wall_s",
                  "critic_loss", "actor_loss")


def default_run_dir(kind: str, name: str) -> str:
    """runs/<kind>/<name>-<start time>: the start time of process 0 in every process."""
    (start,) = distributed.from_writer((int(time.time()),))
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(start))
    return os.path.join("runs", kind, f"{name}-{stamp}")


def check_run_dir(run_dir: str, config: dict = None, may_grow=None) -> str:
    """Refuses, before anything is written, a `run_dir` that is a file, holds a finished run,
    or cannot be written (a started run is resumed: see `claim_run`). Creates nothing.

    A finished run is accepted where `config` (the settings to run) continues it: a setting
    of `may_grow` (see `check_settings`) is larger than the run's."""
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise BadInput(f"run directory {run_dir} is a file; give a directory path")
    if os.path.isfile(RunDir(run_dir).summary) and not _continues(run_dir, config, may_grow):
        raise BadInput(f"run directory {run_dir} already holds a finished run; "
                       "give a new run directory to keep it"
                       + (f" (or a larger --{', --'.join(may_grow)} to continue it)"
                          if may_grow else ""))
    existing = os.path.abspath(run_dir)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    try:
        if not os.path.isdir(existing):
            raise NotADirectoryError(20, "a parent is a file")
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise BadInput(f"run directory {run_dir} is not writable ({e.strerror}); "
                       "give a writable directory") from None
    return run_dir


# Settings that do not change results (the preset only names the terms stored beside it).
RESUME_MAY_CHANGE = ("checkpoint_every", "run_dir", "tensorboard", "preset")


def check_settings(run_dir: str, config: dict, ignore=(), may_grow=None) -> bool:
    """For a started run in `run_dir`, checks that `config` is the one it was started with
    (but for RESUME_MAY_CHANGE and `ignore`); returns True when there is a started run.

    `may_grow` maps a setting to a step: the setting may be larger than the started run's
    where the started value is a multiple of the step. It is for a run's length where
    nothing but the loop's end depends on it, and the step is the epoch, so that a run
    continued to more steps is the run started with them."""
    path = RunDir(run_dir).config
    if not os.path.isfile(path):
        return False
    try:
        started = read_json(path)
    except (OSError, ValueError):
        raise BadInput(f"{path} is unreadable; give a new run directory") from None
    started.pop("environment", None)
    may_grow = may_grow or {}
    skip = set(RESUME_MAY_CHANGE) | set(ignore) | {
        k for k, step in may_grow.items() if _grows(started.get(k), config.get(k), step)}
    differ = sorted(k for k in set(started) | set(config)
                    if k not in skip and started.get(k) != config.get(k))
    if differ:
        grow = [k for k in differ if k in may_grow]
        raise BadInput(f"run directory {run_dir} holds a run started with other settings "
                       f"({', '.join(differ)}); repeat its settings to resume it"
                       + (f" ({', '.join(grow)} may only grow, from a multiple of the "
                          "evaluation period)" if grow else "")
                       + ", or give a new run directory")
    return True


def _continues(run_dir: str, config: dict, may_grow) -> bool:
    """Whether `config` asks more of a setting of `may_grow` than the run in `run_dir`."""
    try:
        started = read_json(RunDir(run_dir).config)
    except (OSError, ValueError):
        return False
    return any(_grows(started.get(k), config.get(k), step) and config[k] > started[k]
               for k, step in (may_grow or {}).items())


def _grows(started, given, step: int) -> bool:
    return (isinstance(started, int) and isinstance(given, int) and given >= started
            and started % step == 0)


def claim_run(run_dir: str, config: dict, environment: dict, may_grow=None) -> bool:
    """Writes config.json (plus `environment`, from `environment_info`) for a new run; for a
    started run, checks its settings (`check_settings`; a setting of `may_grow` that grew
    is written into its config.json). Either way the calling process
    then holds the run directory's lock (`hold_lock`) until it exits. Returns True when
    resuming. In a multi-process job the writer process (`distributed.is_writer`) claims
    the directory and the others learn whether it could."""
    resuming, refusal = False, None
    if distributed.is_writer():
        try:
            resuming = _claim(run_dir, config, environment, may_grow)
        except BadInput as e:
            refusal = e
    resuming, refused = distributed.from_writer((resuming, refusal is not None))
    if refusal is not None:
        raise refusal
    if refused:
        raise BadInput(f"process 0 could not claim run directory {run_dir} (its output says "
                       "why)")
    return resuming


def _claim(run_dir: str, config: dict, environment: dict, may_grow=None) -> bool:
    may_grow = may_grow or {}
    if check_settings(run_dir, config, may_grow=may_grow):
        hold_lock(run_dir)
        path = RunDir(run_dir).config
        started = read_json(path)
        grown = {k: config[k] for k in may_grow if k in config and started.get(k) != config[k]}
        if grown:    # continued to more steps: the run is now the longer one
            write_json(path, {**started, **grown})
        return True
    os.makedirs(run_dir, exist_ok=True)
    hold_lock(run_dir)
    write_json(RunDir(run_dir).config, {**config, "environment": environment})
    return False


_held_locks = {}   # run dir -> the open lock file, kept open for the life of the process


def hold_lock(run_dir: str) -> None:
    """Takes the exclusive lock of `run_dir` (an flock on run_dir/.lock) for the rest of the
    process: a second command on the same run directory is refused in one line instead of
    writing beside the first. The OS releases the lock when the process ends, however it
    ends, so a killed run still resumes."""
    key = os.path.abspath(run_dir)
    if key in _held_locks:
        return
    f = open(RunDir(run_dir).lock, "a")   # empty: taking it changes no byte
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise BadInput(f"run directory {run_dir} is in use by another running command; wait "
                       "for it to end, or give a new run directory") from None
    _held_locks[key] = f


STUDENT_STAGES = ("offline", "online")


def read_student_run(path: str, stages=STUDENT_STAGES) -> dict:
    """The config (config.json) of the finished student run at `path`, one of `stages`
    (offline_transfer's "offline", online's "online"). Raises BadInput, saying what is
    wrong, for anything else: not a directory, unfinished, unreadable, another stage."""
    kinds = " or ".join({"offline": "offline_transfer", "online": "online"}[s] for s in stages)
    if not os.path.isdir(path):
        raise BadInput(f"{path} is not a directory, so not a finished {kinds} run; give one")
    cfg_path, summary_path = RunDir(path).config, RunDir(path).summary
    if not (os.path.isfile(cfg_path) and os.path.isfile(summary_path)
            and os.path.isdir(RunDir(path).student_state)):
        raise BadInput(f"{path} is not a finished student run of {kinds} (no config.json, "
                       "summary.json or student/state); give one")
    unreadable = BadInput(f"{path}: its config.json or summary.json is unreadable or not a "
                          "student run's; give another run")
    try:
        cfg, summary = read_json(cfg_path), read_json(summary_path)
    except (OSError, ValueError):
        raise unreadable from None
    if not (isinstance(cfg, dict) and isinstance(summary, dict)):
        raise unreadable
    if summary.get("stage") not in stages:
        raise BadInput(f"{path} is a {summary.get('stage')} run, not a student of {kinds}; "
                       "give one")
    if not (all(k in cfg for k in ("benchmark", "tasks", "hidden", "teachers"))
            and isinstance(summary.get("tasks"), dict) and cfg["benchmark"] in envs.BENCHMARKS):
        raise unreadable
    try:
        tasks = [t.name for t in envs.benchmark_tasks(cfg["benchmark"], list(cfg["tasks"]))]
    except TypeError:
        raise unreadable from None
    except ValueError as e:   # a task the benchmark does not have
        raise BadInput(f"{path}: {e}") from None
    if tasks != list(cfg["tasks"]) or not all(t in summary["tasks"] for t in tasks):
        raise unreadable
    return cfg


def environment_info() -> dict:
    """Versions, device and precision: logged with every run."""
    return {
        "python": platform.python_version(), "jax": jax.__version__,
        **{name: metadata.version(name) for name in ("flax", "brax", "mujoco")},
        "device": str(jax.devices()[0].device_kind), "platform": jax.default_backend(),
        "matmul_precision": str(jax.config.jax_default_matmul_precision),
    }


def write_json(path: str, data: dict) -> None:
    """Writes JSON atomically (a crash never leaves a half-written file); in a multi-process
    job, only the writer process writes."""
    if not distributed.is_writer():
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def read_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


class MetricsLog:
    """Appends evaluation rows (with the epoch's mean training metrics) to metrics.csv and,
    with `tensorboard`, the same figures as scalars to TensorBoard event files in
    run_dir/tensorboard (tags <stage>/return/<task>, <stage>/<metric>/<task>; the step is
    the round; one file per process that writes). A metric met for the first time gets a
    new column (older rows: empty). `truncate` trims both to a restored state. `elapsed`
    is the run's time: from this log's start, plus the `wall_s` of the last row that
    `truncate` kept (a resumed run's clock goes on from its earlier sittings)."""

    def __init__(self, run_dir: str, tensorboard: bool = False):
        self.path = RunDir(run_dir).metrics
        self.events_dir = os.path.join(run_dir, "tensorboard")
        self.start = time.time()
        self.tensorboard, self.events = tensorboard, None   # the event file: opened by `add`
        self.writes = distributed.is_writer()   # in a multi-process job, process 0 alone
        if not self.writes:
            return
        if not os.path.exists(self.path):
            self._rewrite([METRICS_FIELDS])
        self.fields = self._widen(())

    def _widen(self, names) -> tuple:
        """The file's columns, with METRICS_FIELDS and `names` added where missing."""
        with open(self.path, newline="") as f:
            rows = list(csv.reader(f))
        fields = tuple(rows[0])
        fields += tuple(n for n in METRICS_FIELDS + tuple(names) if n not in fields)
        if fields != tuple(rows[0]):
            self._rewrite([fields] + [r + [""] * (len(fields) - len(r)) for r in rows[1:]])
        return fields

    def _rewrite(self, rows) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows(rows)
        os.replace(tmp, self.path)

    def truncate(self, stage: str, round_: int) -> None:
        """Drops what `stage` logged past `round_`, the round of the state the run starts
        from (0 without a checkpoint): the rows of metrics.csv and the TensorBoard events
        (of any earlier process, with or without `tensorboard` now) written after it."""
        if not self.writes:
            return
        with open(self.path, newline="") as f:
            rows = list(csv.reader(f))
        kept = [r for r in rows[1:] if not (r[0] == stage and int(r[1]) > round_)]
        self._rewrite([rows[0]] + kept)
        wall = rows[0].index("wall_s")
        earlier = [float(r[wall]) for r in kept if r[0] == stage and r[wall]]
        if earlier:
            self.start = time.time() - earlier[-1]
        if os.path.isdir(self.events_dir):
            for name in sorted(os.listdir(self.events_dir)):
                if ".tfevents." in name:
                    truncate_events(os.path.join(self.events_dir, name), stage, round_)

    def elapsed(self) -> float:
        """Seconds of this run so far (earlier sittings included: `truncate`)."""
        return time.time() - self.start

    def add(self, stage: str, round_: int, summary_tasks: dict, metrics: dict = None) -> None:
        """`metrics`: {task: {name: value}}, a value None where no update computed it."""
        if not self.writes:
            return
        metrics = metrics or {}
        if self.tensorboard and self.events is None:
            # Written and flushed in this thread: on disk when `add` returns. The suffix
            # keeps apart two files started in the same second (the name's own time).
            # tensorboardX is imported here, with --tensorboard only: its import takes seconds.
            from tensorboardX.event_file_writer import EventsWriter
            os.makedirs(self.events_dir, exist_ok=True)
            self.events = EventsWriter(os.path.join(self.events_dir, "events"),
                                       f".{os.getpid()}.{time.time_ns()}")
        names = sorted({n for m in metrics.values() for n in m})
        if set(names) - set(self.fields):
            self.fields = self._widen(names)
        fmt = lambda x: "" if x is None else f"{x:.6g}"
        with open(self.path, "a", newline="") as f:
            w = csv.writer(f)
            for task, r in summary_tasks.items():
                row = {"stage": stage, "round": round_, "task": task,
                       "return": f"{r['return_mean']:.3f}", "return_std": f"{r['return_std']:.3f}",
                       "episodes": r["episodes"], "wall_s": f"{self.elapsed():.1f}"}
                row.update((n, fmt(v)) for n, v in metrics.get(task, {}).items())
                w.writerow([row.get(n, "") for n in self.fields])
                if self.events is not None:
                    values = {"return": r["return_mean"], **metrics.get(task, {})}
                    for tag, value in values.items():
                        if value is not None:
                            self._scalar(f"{stage}/{tag}/{task}", value, round_)
        if self.events is not None:
            self.events.flush()

    def _scalar(self, tag: str, value: float, step: int) -> None:
        from tensorboardX.proto.event_pb2 import Event   # with --tensorboard only
        from tensorboardX.summary import scalar
        self.events.write_event(Event(wall_time=time.time(), step=step,
                                      summary=scalar(tag, value)))


def truncate_events(path: str, stage: str, round_: int) -> None:
    """Rewrites the TensorBoard event file `path` without the scalars of `stage` past
    `round_`, and without a last record cut short (a process killed while writing it).
    An event file is a sequence of TFRecords: length (8 bytes, little-endian), its CRC (4),
    the serialised `Event`, its CRC (4); kept records are copied byte for byte."""
    from tensorboardX.proto.event_pb2 import Event   # with --tensorboard runs only
    with open(path, "rb") as f:
        data = f.read()
    kept, at = [], 0
    while at + 12 <= len(data):
        length = int.from_bytes(data[at:at + 8], "little")
        end = at + 12 + length + 4
        if end > len(data):
            break
        event = Event.FromString(data[at + 12:end - 4])
        if not (event.step > round_
                and any(v.tag.startswith(f"{stage}/") for v in event.summary.value)):
            kept.append(data[at:end])
        at = end
    if sum(map(len, kept)) != len(data):
        tmp = os.path.join(os.path.dirname(path), "truncating.tmp")   # no event file's name
        with open(tmp, "wb") as f:
            f.write(b"".join(kept))
        os.replace(tmp, path)


def task_id_refusal(config: dict, source: str, why: str):
    """For tools that need a student without a task id (one whose input is the padded state
    alone): the one-line error to give when the student of `source` (its run's `config`)
    has one, else None. `why`: what cannot take it."""
    if config.get("task_id"):
        return (f"error: the student of {source} has a task id in its state, which {why}; "
                "use a student of offline_transfer --notask_id")
    return None


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def enable_compilation_cache(path: str = None) -> None:
    """Turns on JAX's persistent compilation cache (compiles are slow on CPUs)."""
    path = path or os.environ.get(
        "KTMJAX_COMPILATION_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "ktmjax", "jax"))
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def write_results(run_dir: str, summary: dict, title: str, final_episodes: int,
                  extra: str = "") -> str:
    """Writes learning_curve.png (titled `title`: its points are the periodic evaluations),
    results.md (`title`, ", N deterministic episodes per task" with N = `final_episodes`,
    the final evaluation's, + Markdown table [+ `extra`, more Markdown]) and, last (it marks
    the run finished), summary.json; prints the tables. In a multi-process job, only the
    writer process writes."""
    table = markdown_table(summary["tasks"]) + (f"\n\n{extra}" if extra else "")
    if not distributed.is_writer():
        return table
    learning_curve(run_dir, title, summary["tasks"], summary.get("stage"))
    title = f"{title}, {final_episodes} deterministic episodes per task"
    with open(RunDir(run_dir).results, "w") as f:
        f.write(f"# {title}\n\n{table}\n")
    write_json(RunDir(run_dir).summary, summary)
    print(f"\n{title} ({summary['wall_s']:.0f} s):\n{table}", flush=True)
    return table
