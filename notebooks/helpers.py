"""What the notebooks share once ktmjax is installed: what JAX runs on and the size of the
run, and running a command with its progress lines shown as they come."""
import os
import subprocess
import sys

import jax


def device() -> tuple:
    """(JAX's backend, whether the run is tiny, the runs directory), having printed what JAX
    sees. `KTMJAX_NOTEBOOK_SIZE=tiny` makes a run tiny (the tests); `KTMJAX_NOTEBOOK_RUNS`
    moves its runs (default runs/notebook)."""
    backend = jax.default_backend()
    print(f"JAX sees {jax.device_count()} {backend} device(s): {jax.devices()[0].device_kind}")
    if backend == "cpu" and os.environ.get("COLAB_TPU_ADDR", os.environ.get("COLAB_GPU")):
        print("Warning: Colab gave an accelerator but JAX sees only the CPU: installing ktmjax "
              "may have replaced Colab's accelerator build of jax; restart the runtime.")
    return (backend, os.environ.get("KTMJAX_NOTEBOOK_SIZE") == "tiny",
            os.environ.get("KTMJAX_NOTEBOOK_RUNS", os.path.join("runs", "notebook")))


def run(module: str, *flags: str) -> None:
    """Runs `python -m experiments.<module> <flags>`, printing its lines as they come;
    RuntimeError where it fails."""
    proc = subprocess.Popen([sys.executable, "-m", f"experiments.{module}", *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        print(line, end="", flush=True)
    if proc.wait() != 0:
        raise RuntimeError(f"{module} failed (exit {proc.returncode}); see the lines above")
