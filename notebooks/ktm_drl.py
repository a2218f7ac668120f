# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # KTM-DRL with ktmjax: one student for many control tasks
#
# This notebook installs ktmjax, looks at the accelerator it runs on, and runs KTM-DRL
# (Xu et al., NeurIPS 2020) end to end: per-task TD3 teachers (the ones that ship with
# ktmjax), the offline knowledge transfer into one multi-task student (Eq. 1-2), the online
# stage guided by the teachers (Eq. 3-5), the learning curves, the result table, and a
# video of the student.
#
# On a TPU or GPU it runs Benchmark A (eight HalfCheetah morphologies) at the paper's
# scale; on a CPU the small `mini` benchmark (three pendulums). Open it in Colab with
# *Runtime > Change runtime type > TPU* (or GPU) for Benchmark A.

# %%
import os
import subprocess
import sys

# Where ktmjax comes from: this clone when the notebook runs inside one; else (Colab) a
# clone of REPO_URL (edit it to the repository you use), installed with its dependencies.
REPO_URL = os.environ.get("KTMJAX_REPO_URL", "https://github.com/ktmjax/ktmjax.git")
if not os.path.isdir("experiments"):
    if os.path.isdir(os.path.join("..", "experiments")):
        os.chdir("..")
    else:
        if not os.path.isdir(os.path.join("ktmjax", "experiments")):   # not cloned yet
            subprocess.run(["git", "clone", "--depth=1", REPO_URL, "ktmjax"], check=True)
        os.chdir("ktmjax")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "."], check=True)
print("ktmjax from", os.getcwd())

# %% [markdown]
# ## The device, and the size of the run
#
# `KTMJAX_NOTEBOOK_SIZE=tiny` (what the test suite sets) shrinks every budget so the whole
# notebook runs in a few minutes on a CPU; the numbers it prints then mean nothing.

# %%
from notebooks.helpers import device, run   # run: a command, its progress lines shown

backend, TINY, RUNS = device()
if backend in ("tpu", "gpu") and not TINY:
    print("An accelerator: Benchmark A (8 HalfCheetah morphologies), the student at the "
          "paper's scale, taught by the shipped cpu-scale teachers.")
    BENCHMARK, STAGE_FLAGS = "A", ["--scale=paper"]
    OFFLINE, ONLINE = [], []                      # the paper's 500,000 + 500,000 rounds
else:
    print("No accelerator (or a tiny run): the mini benchmark on the CPU.")
    BENCHMARK, STAGE_FLAGS = "mini", []
    OFFLINE, ONLINE = [], ["--rounds=10000", "--warmup=1000"]
if TINY:
    STAGE_FLAGS = ["--tasks=InvertedPendulum", "--eval_episodes=1", "--final_episodes=1"]
    OFFLINE = ["--rounds=200", "--eval_every=100", "--rollout_steps=2000"]
    ONLINE = ["--rounds=200", "--warmup=50", "--eval_every=100"]


# %% [markdown]
# ## The teachers
#
# ktmjax ships TD3 teachers for `mini` and for Benchmark A at the cpu scale (2x256 nets,
# 200,000 steps each); the notebook's student learns from them. Trained teachers of your
# own (`python -m experiments.train_teachers --benchmark=A`, under `runs/teachers/`) come
# first. Where there are none, `mini`'s are trained here.

# %%
from ktmjax import envs, teacher_store

names = [t.name for t in envs.benchmark_tasks(BENCHMARK)]
TEACHERS = (teacher_store.locate_teachers(BENCHMARK, names, "cpu" if BENCHMARK != "mini" else None)
            or os.path.join(RUNS, f"{BENCHMARK}-teachers"))
if not os.path.isdir(TEACHERS):
    run("train_teachers", f"--benchmark={BENCHMARK}", f"--run_dir={TEACHERS}")
print("teachers:", TEACHERS)

# %% [markdown]
# ## Offline knowledge transfer (Eq. 1-2), then the online stage (Eq. 3-5)

# %%
offline_dir = os.path.join(RUNS, f"{BENCHMARK}-offline")
online_dir = os.path.join(RUNS, f"{BENCHMARK}-online")
if not os.path.isfile(os.path.join(offline_dir, "summary.json")):
    run("offline_transfer", f"--benchmark={BENCHMARK}", f"--teachers={TEACHERS}", *STAGE_FLAGS,
        *OFFLINE, f"--run_dir={offline_dir}")
if not os.path.isfile(os.path.join(online_dir, "summary.json")):
    run("online", f"--benchmark={BENCHMARK}", "--alpha=1", "--beta=1", f"--from={offline_dir}",
        *[f for f in STAGE_FLAGS if not f.startswith("--tasks")], *ONLINE, "--video",
        f"--run_dir={online_dir}")

# %% [markdown]
# ## Learning curves and the result table
#
# Each panel: the student's evaluation return over rounds, the teacher's return dashed.

# %%
from IPython.display import Image, Markdown, display

from ktmjax import report

text, columns = report.report([offline_dir, online_dir], f"KTM-DRL on benchmark {BENCHMARK}")
display(Markdown(text))
curves = report.curves(columns, os.path.join(RUNS, "curves.png"), f"benchmark {BENCHMARK}")
display(Image(filename=curves))

# %% [markdown]
# ## The student at work
#
# `--video` wrote one deterministic episode per task (rendered headless by MuJoCo; where no
# renderer works, the run said so and there is no video).

# %%
videos = os.path.join(online_dir, "videos")
gifs = sorted(os.listdir(videos)) if os.path.isdir(videos) else []
for name in gifs:
    print(name)
    display(Image(filename=os.path.join(videos, name)))
if not gifs:
    print("no video: MuJoCo could not render on this machine")
