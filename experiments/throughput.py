"""Throughput of ktmjax's real offline or online round at the paper's sizes.

    python -m experiments.throughput --stage=offline --update=vmap
    python -m experiments.throughput --stage=online --update=sequential --rounds=200
    python -m experiments.throughput --stage=online --algo=sac      # SAC-MT's round

Builds the student of --benchmark (default A: K=8 HalfCheetahs, 17 obs / 6 actions) with
2x400 nets, batch 256 per task, teachers of the same sizes with random weights, and
1e6-transition replay shards per task filled with random transitions (the work of a round
does not depend on the numbers). `--stage=online` times whole rounds: K MJX env steps,
storing into D'_k, and the K-task update. Compiles the epoch function (one `lax.scan` over
--rounds rounds), runs it once to warm up, times it, and prints one JSON line. The matmul
peak is measured on the spot with a large float32 matmul, so each figure reads against
this machine's own ceiling.
"""
import json

from absl import flags

from experiments import common
from ktmjax import student, throughput

FLAGS = flags.FLAGS

flags.DEFINE_string("stage", "offline", "offline (Eq. 1-2) or online (env steps + Eq. 3-5).")
flags.DEFINE_string("update", "vmap", "vmap, sequential or pcgrad (see offline_transfer --help).")
flags.DEFINE_string("algo", "td3", "td3 (the KTM-DRL student) or sac (SAC-MT's online round; "
                    "--stage=online).")
flags.DEFINE_string("benchmark", "A", "Benchmark whose tasks set the sizes: A, B or mini.")
flags.DEFINE_integer("rounds", 100, "Rounds per timed epoch.")
flags.DEFINE_integer("repeats", 3, "Timed epochs; the best one is reported.")
flags.DEFINE_string("hidden", "400,400", "Student and teacher hidden widths.")
flags.DEFINE_integer("batch_size", 256, "Batch per task per round.")
flags.DEFINE_integer("capacity", 1_000_000, "Transitions per task replay shard.")


def main(_):
    common.require_choice("stage", FLAGS.stage, throughput.STAGES)
    common.require_choice("update", FLAGS.update, student.UPDATE_MODES)
    common.check_benchmark(FLAGS.benchmark)
    common.require_choice("algo", FLAGS.algo, student.ALGOS)
    common.require(FLAGS.algo == "td3" or FLAGS.stage == "online",
                   "--algo=sac is SAC-MT, which has only an online stage: give --stage=online")
    for name in ("rounds", "repeats", "batch_size", "capacity"):
        common.require(getattr(FLAGS, name) > 0, f"--{name}={getattr(FLAGS, name)} must be positive")
    common.require(FLAGS.capacity >= FLAGS.batch_size,
                   f"--capacity={FLAGS.capacity} must be at least --batch_size")
    hidden = common.parse_int_list(FLAGS.hidden, "hidden")
    result = throughput.measure(FLAGS.stage, FLAGS.update, FLAGS.benchmark, FLAGS.rounds,
                                FLAGS.repeats, hidden, FLAGS.batch_size, FLAGS.capacity,
                                algo=FLAGS.algo)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    common.run(main)
