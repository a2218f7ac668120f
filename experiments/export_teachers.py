"""Export the teachers of a train_teachers run: actor and target critic, no replay.

    python -m experiments.export_teachers --teachers=runs/teachers/A-cpu-seed0 --out=DIR

Writes DIR/<Task>/teacher.json and DIR/<Task>/weights.msgpack (arrays only: nothing in
it can run code) for every task of the run: a few hundred KB per teacher instead of the
run's whole TD3 states and replays. The student commands take DIR as --teachers, with
D_k from the teachers' rollouts; ktmjax ships its own this way (ktmjax/shipped_teachers).
"""
import os

from absl import flags

from experiments import common
from ktmjax import envs, runs, teacher_store

FLAGS = flags.FLAGS
flags.DEFINE_string("teachers", None, "A finished train_teachers run directory.")
flags.DEFINE_string("out", None, "Directory to write the exported teachers to (must not "
                    "hold teachers already).")


def main(_):
    common.require(FLAGS.teachers and FLAGS.out, "give --teachers=RUN_DIR and --out=DIR")
    summary_path = runs.RunDir(FLAGS.teachers).summary
    common.require(os.path.isfile(summary_path),
                   f"--teachers={FLAGS.teachers} is not a finished train_teachers run "
                   "(no summary.json)")
    summary = runs.read_json(summary_path)
    tasks = envs.benchmark_tasks(summary["benchmark"], list(summary["tasks"]))
    taken = [t.name for t in tasks if os.path.exists(os.path.join(FLAGS.out, t.name))]
    common.require(not taken, f"--out={FLAGS.out} already holds {', '.join(taken)}; give a "
                   "new directory")
    written = teacher_store.export_teachers(FLAGS.teachers, tasks, FLAGS.out)
    for name, size in written.items():
        print(f"{name}: {size / 1024:.0f} KiB, return {summary['tasks'][name]['return_mean']:.1f}")
    print(f"exported {len(written)} teachers to {FLAGS.out}", flush=True)


if __name__ == "__main__":
    common.run(main)
