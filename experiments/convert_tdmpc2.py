"""Convert a TD-MPC2 PyTorch checkpoint (e.g. the released mt30-1M ... mt30-317M) into a
ktmjax world-model file that `ktmjax.worldmodel.load` plans from.

    pip install torch      # the reader of .pt files, needed by this command alone
    python -m experiments.convert_tdmpc2 --checkpoint=mt30-1M.pt --out=mt30-1M.msgpack

A 30-task checkpoint gets MT30's task names (the 19 standard tasks under Playground's
names, then the 11 custom ones); another gets task0, task1, ... unless --tasks names them.
"""
import importlib.util
import os

from absl import flags

from experiments import common
from ktmjax.envs import dmc
from ktmjax.worldmodel import convert, model, store

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint", None, "A TD-MPC2 multi-task checkpoint (.pt).")
flags.DEFINE_string("out", None, "The ktmjax world-model file to write (.msgpack).")
flags.DEFINE_list("tasks", [], "The checkpoint's task names in its order (default: MT30's "
                  "for 30 tasks, else task0, task1, ...).")
flags.DEFINE_string("dtype", "float32", "Stored dtype: float32, float16 or bfloat16.")
flags.DEFINE_integer("episode_length", 500, "Episode length the discount is set from "
                     "(TD-MPC2's rule; MT30: 500).")
flags.DEFINE_bool("target_q", False, "Also store the target Qs.")


def main(_):
    common.require(bool(FLAGS.checkpoint) and bool(FLAGS.out),
                   "--checkpoint and --out are both required")
    common.require(os.path.isfile(FLAGS.checkpoint), f"--checkpoint={FLAGS.checkpoint} does "
                   "not exist")
    common.require(not os.path.exists(FLAGS.out), f"--out={FLAGS.out} exists; give a new path")
    common.require_choice("dtype", FLAGS.dtype, store.DTYPES)
    if importlib.util.find_spec("torch") is None:   # an optional extra
        common.fail("reading a .pt checkpoint needs torch: pip install torch")
    try:
        cfg, params, target_q = convert.load_checkpoint(FLAGS.checkpoint)
    except Exception as e:  # torch and the layout check raise many kinds of errors
        common.fail(f"cannot convert {FLAGS.checkpoint}: {type(e).__name__}: {e}")
    k = cfg.num_tasks
    names = (list(FLAGS.tasks) if FLAGS.tasks else
             [n for n, _, _ in dmc.MT30_TASKS] + list(dmc.MT30_CUSTOM) if k == 30 else
             [f"task{i}" for i in range(k)])
    common.require(len(names) == k, f"--tasks names {len(names)} tasks; the checkpoint has {k}")
    size = store.save(FLAGS.out, cfg, params, names, [model.discount(FLAGS.episode_length)] * k,
                      FLAGS.dtype, target_q if FLAGS.target_q else None)
    print(f"{FLAGS.out}: {model.count_params(params):,} parameters, {k} tasks, "
          f"{cfg.obs_size} obs / {cfg.action_size} actions, {FLAGS.dtype}, {size:,} bytes")


if __name__ == "__main__":
    common.run(main)
