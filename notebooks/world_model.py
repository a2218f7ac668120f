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
# # World-model distillation with ktmjax (TD-MPC-Opt)
#
# This notebook installs ktmjax and runs the pipeline of Kuzmenko and Shvai's 2025
# follow-up to KTM-DRL on DM Control tasks (ktmjax's `dmc` benchmark): a large multi-task
# world model (TD-MPC2's design) trained offline on the data set of the TD3 teachers that
# ship with ktmjax, a small world model distilled from it through its reward head (alpha
# 0.45), the same small model trained without the teacher, and the follow-up's table:
# each model's return per task and normalised score when it plans (MPPI), in float32 and
# in float16 at half the bytes.
#
# On a TPU or GPU the models are MT30's 5M (the teacher) and 1M (the follow-up's student
# size) on the six default tasks; on a CPU ktmjax's `cpu-large` and `cpu-small` on two
# Cartpole tasks (about 25 minutes on a 2-core CPU). Open it in Colab with
# *Runtime > Change runtime type > TPU* (or GPU).

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
    print("An accelerator: MT30's 5M teacher and 1M student on the six default dmc tasks.")
    LARGE, SMALL = "5M", "1M"
    FLAGS = ["--steps=50000"]
else:
    print("No accelerator (or a tiny run): cpu-large and cpu-small on two Cartpole tasks.")
    LARGE, SMALL = "cpu-large", "cpu-small"
    FLAGS = ["--tasks=CartpoleBalance,CartpoleSwingup", "--rollout_steps=20000",
             "--steps=6000", "--final_episodes=3", "--num_samples=128", "--iterations=3"]
if TINY:   # the teacher at the student's size too: a test of the pipeline, not of sizes
    LARGE, SMALL = "cpu-small", "cpu-small"
    FLAGS = ["--tasks=CartpoleBalance", "--rollout_steps=2000", "--steps=40",
             "--eval_every=20", "--checkpoint_every=20", "--batch_size=16", "--eval_episodes=1",
             "--final_episodes=1", "--num_samples=16", "--iterations=1"]

# %% [markdown]
# ## The large world model, then the small one distilled from it and alone
#
# The data set is the shipped dmc teachers' rollouts at five noise levels, from
# near-expert to random (`--rollout_steps` per task). A run that finished is not run again.

# %%
large, distilled, alone = (os.path.join(RUNS, f"world-model-{name}")
                           for name in ("large", "distilled", "alone"))
for run_dir, flags in ((large, [f"--size={LARGE}"]),
                       (distilled, [f"--size={SMALL}", f"--teacher={large}", "--alpha=0.45"]),
                       (alone, [f"--size={SMALL}"])):
    if not os.path.isfile(os.path.join(run_dir, "summary.json")):
        run("world_model", "--benchmark=dmc", *FLAGS, *flags, f"--run_dir={run_dir}")

# %% [markdown]
# ## The follow-up's table
#
# Per model: each task's return when the world model plans, the normalised score (the
# mean over tasks of return / 10), the parameters and the file bytes, in float32 and in
# float16.

# %%
from IPython.display import Markdown, display

from ktmjax import report

text, columns = report.report([large, distilled, alone], "TD-MPC-Opt on dmc")
display(Markdown(text))
