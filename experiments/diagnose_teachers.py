"""Teacher diagnostics (`ktmjax.diagnostics`): can a teacher be distilled, and can its
critic guide a student?

    python -m experiments.diagnose_teachers robustness TEACHERS_DIR [--biases=B,B,...] [--episodes=10] [--tasks=T1,T2]
    python -m experiments.diagnose_teachers consistency TEACHER_DIR [--last=N | --rollouts=N] [STUDENT_RUN_DIR ...]
    python -m experiments.diagnose_teachers critic_bias ONLINE_RUN_DIR

robustness: every teacher of TEACHERS_DIR (a train_teachers run directory or a directory
of exported teachers) acts with its deterministic action plus a constant bias (clipped to
the action bound; default biases -0.05, -0.02, -0.01, 0, 0.01, 0.02, 0.05); one table row
per task: the mean return of --episodes episodes at each bias. A teacher that loses much
of its return at a bias of 0.01-0.02 is one a student can match only by luck.

consistency: for 2048 states of the replay of the teacher in TEACHER_DIR (one teacher of
1-D actions: RUN/teachers/<Task> of a train_teachers run, or <Task> of exported
teachers; --last=N: of its newest N transitions only; --rollouts=N: of N steps of fresh
rollouts of the teacher with N(0, 0.1^2) exploration noise, where the online stage acts;
exported teachers have no replay and need --rollouts), scans a grid of 81 actions and
prints one line for the teacher's online and target critics and for the critic of each
STUDENT_RUN_DIR (a finished offline_transfer or online run of that task):
- `|argmax-actor|`: mean distance between the grid argmax of Q1 and the teacher's action;
- `max-Q(actor)`: mean Q1 the teacher's actor leaves on the table;
- `dQ/da` and `corr`: mean |dQ1/da| at the teacher's action, and its correlation over the
  states with the teacher target critic's (the critic the student distils);
- `Q rmse`: root mean square of Q1(actor) minus the target critic's;
- for a student, `|student-actor|`: the mean distance between its own action and the
  teacher's on those states (what --actor_match pulls down).

critic_bias: the online run's newest checkpoint (a run of one seed with the TD3 student,
finished or still running; nothing on disk changes); on 2048 transitions of each task's
online shard D'_k, one table row per task: the mean reward, the student's Q1 and the
teacher's Q1 on the same transitions, the Eq. 3 target y, |Q1 - y|, and the gap |Q1' -
Q2'| between the student's two target critics at the target action. Clipped double-Q
learning takes the smaller one, which at its fixed point holds a critic gamma / (1 -
gamma) times that gap below its true values (99x at gamma 0.99): a task whose values are
small next to the gap loses them.
"""
import time

from absl import flags

from experiments import common
from ktmjax import diagnostics

FLAGS = flags.FLAGS
MODES = ("robustness", "consistency", "critic_bias")
flags.DEFINE_string("biases", ",".join(f"{b:g}" for b in diagnostics.DEFAULT_BIASES),
                    "robustness: comma-separated constant biases added to every action.")
flags.DEFINE_integer("episodes", 10, "robustness: deterministic episodes per teacher and bias.")
flags.DEFINE_string("tasks", "", "robustness: comma-separated subset of the teachers' tasks.")
flags.DEFINE_integer("last", None, "consistency: draw the states from the newest N "
                     "transitions of the teacher's replay.")
flags.DEFINE_integer("rollouts", None, "consistency: draw the states from N steps of the "
                     "teacher's own noisy rollouts instead of its replay.")
flags.DEFINE_integer("seed", 0, "Random seed of the episodes' initial states (robustness) "
                     "or of the states or transitions drawn (consistency, critic_bias).")
MODE_FLAGS = {"robustness": ("biases", "episodes", "tasks"),
              "consistency": ("last", "rollouts")}


def parse_biases(text: str) -> tuple:
    try:
        biases = tuple(float(b) for b in text.split(",") if b.strip())
    except ValueError:
        biases = ()
    common.require(bool(biases), f"--biases={text}: give numbers, e.g. --biases=-0.02,0,0.02")
    return biases


def robustness(teachers_dir: str) -> None:
    common.require(FLAGS.episodes > 0, f"--episodes={FLAGS.episodes} must be positive")
    biases = parse_biases(FLAGS.biases)
    tasks = [t.strip() for t in FLAGS.tasks.split(",") if t.strip()]
    start = time.time()
    result = diagnostics.robustness(teachers_dir, biases, FLAGS.episodes, tasks,
                                    seed=FLAGS.seed)
    print(f"teachers of {teachers_dir}: mean return of {result.episodes} episodes with a "
          f"constant bias added to every action ({time.time() - start:.0f} s)")
    print("| task | saved return | " + " | ".join(f"bias {b:+g}" for b in result.biases)
          + " |")
    print("|---|---|" + "---|" * len(result.biases))
    for name, row in zip(result.tasks, result.returns):
        print(f"| {name} | {result.saved[name]:.1f} | "
              + " | ".join(f"{r:.0f}" for r in row) + " |")


def consistency(task_dir: str, students) -> None:
    for flag in ("last", "rollouts"):
        value = getattr(FLAGS, flag)
        common.require(value is None or value > 0, f"--{flag}={value} must be positive")
    common.require(FLAGS.last is None or FLAGS.rollouts is None,
                   "give one of --last=N and --rollouts=N, not both")
    report = diagnostics.consistency(task_dir, FLAGS.last, FLAGS.rollouts, students,
                                     seed=FLAGS.seed)
    for row in report.rows:
        print(f"{report.task} {row.name}: |argmax-actor| {row.argmax_distance:.3f}"
              f", max-Q(actor) {row.q_gap:.3f}, dQ/da {row.dqda:.3f}"
              f", corr {row.grad_corr:.3f}, Q rmse {row.q_rmse:.2f}"
              + ("" if row.student_distance is None
                 else f", |student-actor| {row.student_distance:.4f}"), flush=True)


def critic_bias(run_dir: str) -> None:
    result = diagnostics.critic_bias(run_dir, seed=FLAGS.seed)
    print(f"critic of {run_dir} at round {result.round}: means over "
          f"{diagnostics.NUM_STATES} transitions of each task's online shard")
    print("| task | transitions | reward | student Q1 | teacher Q1 | TD target y | |Q1 - y| "
          "| target twin gap |")
    print("|---|---|---|---|---|---|---|---|")
    for r in result.rows:
        print(f"| {r.task} | {r.transitions} | {r.reward:.3f} | {r.student_q1:.1f} | "
              f"{r.teacher_q1:.1f} | {r.td_target:.1f} | {r.td_error:.2f} | {r.twin_gap:.2f} |")


def main(argv):
    args = argv[1:]
    common.require(len(args) >= 2 and args[0] in MODES,
                   "give a mode and a directory: robustness TEACHERS_DIR, consistency "
                   "TEACHER_DIR [STUDENT_RUN_DIR ...], or critic_bias ONLINE_RUN_DIR "
                   "(--help for more)")
    mode = args[0]
    other = [f"--{f}" for m, names in MODE_FLAGS.items() if m != mode for f in names
             if FLAGS[f].present]
    common.require(not other, f"{', '.join(other)}: not a flag of {mode}")
    if mode == "robustness":
        common.require(len(args) == 2, f"robustness takes one teachers directory, not "
                       f"{' '.join(args[1:])}")
        robustness(args[1])
    elif mode == "critic_bias":
        common.require(len(args) == 2, f"critic_bias takes one online run directory, not "
                       f"{' '.join(args[1:])}")
        critic_bias(args[1])
    else:
        consistency(args[1], args[2:])


if __name__ == "__main__":
    common.run(main, positional=True)
