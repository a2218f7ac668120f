"""The paper's tables (and curves) from finished run directories.

    python -m experiments.report runs/offline/A-seed0 runs/online/A-seed0 ... [--out=report.md]

Table 1's layout (per task: the teacher's return and each column's return, mean ± std
over seeds) and Table 3's (each column's ratio to the teacher, and the mean over tasks).
A run's column follows from its settings (ktmjax.report.variant): offline alone is
"w/o Online", online from it "KTM-DRL", --alpha=0 "Online w/o Teachers", --beta=0
"Online only Teacher", no --from "w/o Offline" (and "TD3-MT" with --alpha=0, "SAC-MT"
with --alpha=0 --algo=sac, "G-Surgery" with --alpha=0 --update=pcgrad, "SharedNet" with
--alpha=0 --shared_net), --noher "w/o HER", an update other than the preset's in brackets ("KTM-DRL (sequential)"); a compress
run, its network and dtype ("compact 32x32 distilled float16"), with a compression table
(bytes, actions/s, mean ratio per dtype) and, with --out, a plot of the mean ratio
against the actor's bytes. Prints the Markdown; --out also writes it,
with the curves beside it (PNG: each task's returns, and the mean ratio to the teacher
against rounds in OUT_ratio.png).
"""
import os

from absl import flags

from experiments import common
from ktmjax import report

FLAGS = flags.FLAGS
flags.DEFINE_string("out", None, "Write the Markdown to this file and the learning curves "
                    "to the same path with .png (nothing is overwritten).")
flags.DEFINE_string("title", None, "Title of the report (default: the benchmark).")


def main(argv):
    run_dirs = argv[1:]
    common.require(run_dirs, "give one or more finished run directories, e.g. "
                   "`python -m experiments.report runs/offline/A-seed0 runs/online/A-seed0`")
    png = ratio_png = None
    if FLAGS.out:
        png = os.path.splitext(FLAGS.out)[0] + ".png"
        ratio_png = os.path.splitext(FLAGS.out)[0] + "_ratio.png"
        taken = [p for p in (FLAGS.out, png, ratio_png) if os.path.exists(p)]
        if taken:
            raise common.UsageError(f"{taken[0]} exists; give another --out")
    try:
        text, columns = report.report(run_dirs, FLAGS.title)
    except ValueError as e:
        raise common.UsageError(str(e)) from None
    print(text)
    if FLAGS.out:
        os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
        title = FLAGS.title or text.splitlines()[0].lstrip("# ")
        report.curves(columns, png, title)
        report.ratio_curve(columns, ratio_png, title)
        images = (f"\n![learning curves]({os.path.basename(png)})\n"
                  f"\n![mean ratio against rounds]({os.path.basename(ratio_png)})\n")
        png += f", {ratio_png}"
        if report.compress_runs(columns):
            sizes = os.path.splitext(FLAGS.out)[0] + "_compression.png"
            report.compression_plot(columns, sizes, title)
            images += f"\n![mean ratio against bytes]({os.path.basename(sizes)})\n"
            png += f", {sizes}"
        with open(FLAGS.out, "w") as f:
            f.write(text + images)
        print(f"written: {FLAGS.out}, {png}")


if __name__ == "__main__":
    common.run(main, positional=True)
