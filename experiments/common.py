"""What every ktmjax command shares: quiet start-up, one-line errors, the compile cache."""
import dataclasses
import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# MuJoCo picks its OpenGL platform when first imported (through ktmjax, below): with
# --video, headless EGL unless the user set MUJOCO_GL (osmesa, glfw...).
def _video_asked(argv) -> bool:
    for arg in argv:
        name, _, value = arg.lstrip("-").partition("=")
        if arg.startswith("-") and name == "video" and value.lower() in ("", "true", "t", "1"):
            return True
    return False


if sys.platform.startswith("linux") and _video_asked(sys.argv[1:]):
    os.environ.setdefault("MUJOCO_GL", "egl")

from absl import app, flags, logging  # noqa: E402

from ktmjax import distributed, envs, extensions, runs, teacher_store  # noqa: E402
from ktmjax.errors import BadInput as UsageError  # noqa: E402
from ktmjax.loops import Interrupted, NonFinite  # noqa: E402
from ktmjax.runs import enable_compilation_cache  # noqa: E402
from ktmjax.stages import config  # noqa: E402


def run(main, positional: bool = False):
    """Runs an absl main; bad input (`ktmjax.errors.BadInput`, raised by the library and, as
    UsageError, by the commands) ends with one line on stderr and exit 2.
    Arguments other than flags are an error unless `positional`."""
    def wrapped(argv):
        logging.set_verbosity(logging.WARNING)  # JAX's start-up INFO lines are noise here
        if len(argv) > 1 and not positional:
            fail(f"unexpected argument(s): {' '.join(argv[1:])}; flags look like --name=value")
        enable_compilation_cache()
        if "num_processes" in flags.FLAGS:
            join_processes()
        try:
            main(argv)
        except UsageError as e:
            fail(str(e))
        except Interrupted as e:
            print(f"stopped: {e}", file=sys.stderr)
            sys.exit(130)
        except NonFinite as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(3)
        except KeyboardInterrupt:
            fail("interrupted")
    app.run(wrapped)


def define_process_flags():
    """The flags of a command that several processes can run together (`ktmjax.distributed`):
    each process runs the same command, with its own --process_id."""
    flags.DEFINE_string("coordinator", None, "Several processes (hosts) running one job: the "
                        "host:port of process 0's coordinator (default: "
                        f"${distributed.ENV_COORDINATOR}; unset: a single-process run), or "
                        f"{distributed.AUTO} where JAX finds the processes itself (Cloud TPU "
                        "pods, SLURM, Open MPI). Each process gives the same flags but "
                        "--process_id.")
    flags.DEFINE_integer("num_processes", None, "With --coordinator: the number of processes "
                         f"(default ${distributed.ENV_COUNT}).")
    flags.DEFINE_integer("process_id", None, "With --coordinator: this process's id, 0 to "
                         f"--num_processes - 1 (default ${distributed.ENV_ID}). Process 0 "
                         "prints the progress and writes the run directory's files.")


def join_processes():
    """Joins the multi-process job the process flags (or environment) describe, if any; the
    other processes than 0 then print nothing but errors."""
    try:
        joined = distributed.initialize(flags.FLAGS.coordinator, flags.FLAGS.num_processes,
                                        flags.FLAGS.process_id)
    except (ValueError, RuntimeError) as e:   # our checks', or JAX's on joining
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        fail(f"cannot join the multi-process job: {first}")
    if joined and not distributed.is_writer():
        sys.stdout = open(os.devnull, "w")


def fail(message: str):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def parse_int_list(text: str, flag: str) -> tuple:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UsageError(f"--{flag}={text} is not a comma-separated list of integers") from None
    if not values or any(v <= 0 for v in values):
        raise UsageError(f"--{flag}={text}: give positive integers, e.g. --{flag}=400,400")
    return values


def require(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)


def require_term_weight(flag: str, value: float) -> None:
    """The weight of a term added to a paper equation must be finite and not negative."""
    require(math.isfinite(value) and value >= 0,
            f"--{flag}={value:g} must be finite and not negative")


def require_term_weights(run, stage: str) -> None:
    """`require_term_weight` for each of the stage's extension terms that `run` gives."""
    for name, value in extensions.weights(run, stage).items():
        if value is not None:
            require_term_weight(name, value)


def check_teacher_critic(name: str) -> str:
    return require_choice("teacher_critic", name, teacher_store.TEACHER_CRITICS)


def require_choice(flag: str, value: str, choices) -> str:
    """`value` of --flag must be one of `choices`; else a one-line error listing them."""
    require(value in choices, f"unknown --{flag}={value}; known: {', '.join(choices)}")
    return value


def resolve_tasks(benchmark: str, text: str) -> list:
    """--tasks: a comma-separated subset of the benchmark's task names (empty: all of them),
    returned in benchmark order; an unknown or repeated name is a one-line error."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    try:
        return [t.name for t in envs.benchmark_tasks(benchmark, names)]
    except ValueError as e:
        raise UsageError(str(e)) from None


def check_benchmark(name: str) -> str:
    require(name in envs.BENCHMARKS,
            f"unknown benchmark {name!r}; known benchmarks: {', '.join(envs.BENCHMARKS)}")
    return name


def resolve_checkpoint_every(value, eval_every: int, benchmark: str) -> int:
    """--checkpoint_every: a positive multiple of --eval_every (checkpoints are taken between
    epochs); by default every epoch for mini, the first multiple >= 50000 for A and B."""
    if value is None:
        return config.default_checkpoint_every(eval_every, benchmark)
    require(value > 0 and value % eval_every == 0,
            f"--checkpoint_every={value} must be a positive multiple of --eval_every={eval_every}")
    return value


def define_scale_flag():
    flags.DEFINE_string("scale", None, config.SCALE_HELP)


def resolve_scale(benchmark: str, value):
    """--scale of `benchmark`: the flag, else paper on a GPU/TPU and cpu on a CPU; None for
    mini (its own sizes; giving the flag there is an error)."""
    if benchmark == "mini":
        require(value is None, f"--scale={value} applies to benchmarks A and B; mini has its "
                "own CPU sizes: drop --scale")
        return None
    if value is None:
        return config.default_scale()
    return require_choice("scale", value, config.SCALES)


def require_seeds(value: int) -> int:
    require(value >= 1, f"--seeds={value} must be at least 1")
    return value


def define_flags_from(cls) -> None:
    """One absl flag per field of the settings dataclass `cls` (same name, its default and
    its `about` help): a setting has one spelling as flag, field and config.json key.
    Tuples are comma-separated lists."""
    for f in dataclasses.fields(cls):
        if f.metadata.get("not_a_flag"):
            continue
        name = flag_name(f)
        help_text = f.metadata.get("help", f.name)
        kind = f.metadata.get("kind") or (
            f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type)))
        if kind == "bool":
            flags.DEFINE_bool(name, f.default, help_text)
        elif kind == "int":
            flags.DEFINE_integer(name, f.default, help_text)
        elif kind == "float":
            flags.DEFINE_float(name, f.default, help_text)
        elif kind == "tuple":
            flags.DEFINE_list(name, None if f.default is None else [str(x) for x in f.default],
                              help_text)
        else:
            flags.DEFINE_string(name, f.default, help_text)


def flag_name(field) -> str:
    """The flag of a settings field: its name, or its metadata's `flag` (`from_run`: --from)."""
    return field.metadata.get("flag", field.name)


def settings_from_flags(cls, **overrides):
    """The `cls` dataclass of the flags `define_flags_from(cls)` made (tuples from lists)."""
    values = {f.name: getattr(flags.FLAGS, flag_name(f)) for f in dataclasses.fields(cls)
              if not f.metadata.get("not_a_flag")}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return cls(**{**values, **overrides})


def run_from_flags(cls, kind: str, **overrides):
    """The `cls` run of the flags `define_flags_from(cls)` made, with the flags every such
    command reads alike checked: --tasks (benchmark order), --hidden, --scale, --seeds and
    --run_dir (default runs/<kind>/<benchmark>-seed<seed>-<time>)."""
    FLAGS = flags.FLAGS
    benchmark = FLAGS.benchmark
    read = dict(
        tasks=tuple(resolve_tasks(benchmark, ",".join(FLAGS.tasks))),
        hidden=parse_int_list(",".join(FLAGS.hidden), "hidden") if FLAGS.hidden else None,
        seeds=require_seeds(FLAGS.seeds),
        run_dir=FLAGS.run_dir or runs.default_run_dir(kind, f"{benchmark}-seed{FLAGS.seed}"))
    if "scale" not in overrides:
        read["scale"] = resolve_scale(benchmark, FLAGS.scale)
    return settings_from_flags(cls, **{**read, **overrides})
