"""What every ktmjax command shares: quiet start-up, one-line errors, the compile cache."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, logging  # noqa: E402

from ktmjax.runs import UsageError, enable_compilation_cache  # noqa: E402


def run(main):
    """Runs an absl main; bad input (UsageError) ends with one line on stderr and exit 2."""
    def wrapped(argv):
        logging.set_verbosity(logging.WARNING)  # JAX's start-up INFO lines are noise here
        if len(argv) > 1:
            fail(f"unexpected argument(s): {' '.join(argv[1:])}; flags look like --name=value")
        enable_compilation_cache()
        try:
            main(argv)
        except UsageError as e:
            fail(str(e))
        except KeyboardInterrupt:
            fail("interrupted")
    app.run(wrapped)


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
