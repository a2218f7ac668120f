"""Evaluate the teachers in a directory: deterministic episodes of each, as a table.

    python -m experiments.evaluate_teachers --teachers=ktmjax/shipped_teachers/A-cpu
    python -m experiments.evaluate_teachers --benchmark=mini      # the shipped mini teachers

--teachers: a train_teachers run directory or a directory of exported teachers; without
it, the teachers shipped with ktmjax for --benchmark (and --scale).
"""
import time

from absl import flags

from experiments import common
from ktmjax import envs, evaluation, teacher_store

FLAGS = flags.FLAGS
flags.DEFINE_string("teachers", None, "Teachers directory (default: the shipped ones).")
flags.DEFINE_string("benchmark", "mini", "Benchmark of the teachers: A, B or mini.")
flags.DEFINE_string("tasks", "", "Comma-separated subset of the benchmark's tasks.")
common.define_scale_flag()
flags.DEFINE_integer("episodes", 10, "Deterministic episodes per teacher.")
flags.DEFINE_integer("seed", 0, "Random seed of the episodes' initial states.")


def main(_):
    common.check_benchmark(FLAGS.benchmark)
    scale = common.resolve_scale(FLAGS.benchmark, FLAGS.scale)
    common.require(FLAGS.episodes > 0, f"--episodes={FLAGS.episodes} must be positive")
    tasks = envs.benchmark_tasks(FLAGS.benchmark,
                                 common.resolve_tasks(FLAGS.benchmark, FLAGS.tasks))
    path = FLAGS.teachers or teacher_store.shipped_teachers(FLAGS.benchmark, scale)
    common.require(path is not None, f"no teachers ship for benchmark {FLAGS.benchmark}"
                   + (f" for the {scale} scale" if scale else "") + "; pass --teachers=DIR")
    start = time.time()
    returns = teacher_store.evaluate_teachers(path, tasks, FLAGS.episodes, seed=FLAGS.seed)
    print(f"Teachers in {path}, {FLAGS.episodes} deterministic episodes each, seed "
          f"{FLAGS.seed} ({time.time() - start:.0f} s):")
    print(evaluation.markdown_table(evaluation.summarize(tasks, returns)))


if __name__ == "__main__":
    common.run(main)
