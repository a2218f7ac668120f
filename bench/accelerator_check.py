"""The prepared check for a GPU or TPU machine (about 5 to 8 minutes there): how fast ktmjax
runs Benchmark A at the paper's sizes, and what the paper's schedule would take.

    python -m bench.accelerator_check [--out=DIR] [--official=../shared/bench/official_style.py]
    python -m bench.accelerator_check --dry-run      # tiny sizes, any CPU (the test suite)

(from the repository root, or `bash bench/accelerator_check.sh`).

Measures, on the default device:
1. teachers: env steps per second of the 8 Benchmark A teachers trained together (2x400,
   batch 256, one TD3 update per env step, the real `TeacherTrainer` epoch);
2. offline and online rounds per second of the K=8 student at 2x400, batch 256 per task,
   with 1e6-transition shards (`experiments.throughput`), in both update orders: the
   paper's (`sequential`, K Adam steps per round, the paper preset's) and `vmap` (one step
   on the mean of the K task losses); online rounds step the 8 MJX envs;
3. where torch is installed, the public code's loop restated (official_style.py) on the
   same machine, offline and online (without its envs);
4. the world model (the 2025 follow-up, TD-MPC2's design) on MT30's shapes: updates per
   second at batch 256 and planner actions per second (MPPI, 512 samples x 6 iterations),
   at MT30's 1M and 317M sizes (`ktmjax.worldmodel.throughput`);
and the projected wall-clock of the paper's schedule on this device, in each update order:
1,000,000 teacher steps per task, then 500,000 offline and 500,000 online rounds. Writes
accelerator_check.json and accelerator_check.md (a Markdown table for docs/performance.md)
to --out and prints both.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PAPER = dict(benchmark="A", tasks=None, hidden=(400, 400), batch=256, capacity=1_000_000,
             teacher_capacity=200_000, teacher_steps=200, rounds=200, repeats=2,
             world_models=("1M", "317M"), wm_batch=256, wm_steps=20)
DRY = dict(benchmark="mini", tasks=("InvertedPendulum",), hidden=(16, 16), batch=8,
           capacity=256, teacher_capacity=256,
           teacher_steps=5, rounds=5, repeats=1, world_models=("cpu-small",), wm_batch=32,
           wm_steps=2, wm_shapes=dict(obs_size=5, action_size=1, action_sizes=(1,)))
SCHEDULE = dict(teacher_steps=1_000_000, offline_rounds=500_000, online_rounds=500_000)
UPDATES = ("sequential", "vmap")     # the paper preset's order first


def teacher_steps_per_s(sizes: dict) -> dict:
    """Env steps per second (all tasks together) of the real teacher training epoch."""
    import jax
    from ktmjax import envs, td3, teachers
    tasks = envs.benchmark_tasks(sizes["benchmark"], sizes["tasks"])
    net = td3.TD3Config(hidden=sizes["hidden"], batch_size=sizes["batch"])
    trainer = teachers.TeacherTrainer(tasks, net, sizes["teacher_capacity"], start_steps=0)
    state = trainer.init(jax.random.PRNGKey(0))
    n = sizes["teacher_steps"]
    t0 = time.perf_counter()
    state = jax.block_until_ready(trainer.epoch(state, n))[0]        # compile + warm-up
    compile_s = time.perf_counter() - t0
    best = float("inf")
    for _ in range(sizes["repeats"]):
        t0 = time.perf_counter()
        state = jax.block_until_ready(trainer.epoch(state, n))[0]
        best = min(best, time.perf_counter() - t0)
    return {"tasks": len(tasks), "steps_per_task_per_s": round(n / best, 2),
            "env_steps_per_s": round(len(tasks) * n / best, 1),
            "compile_and_first_epoch_s": round(compile_s, 1)}


def student_rounds(sizes: dict) -> dict:
    """{update: {stage: throughput.measure's figures}} for each of UPDATES."""
    from ktmjax import throughput
    return {update: {stage: throughput.measure(stage, update, sizes["benchmark"], sizes["rounds"],
                                               sizes["repeats"], sizes["hidden"], sizes["batch"],
                                               sizes["capacity"], sizes["tasks"])
                     for stage in ("offline", "online")}
            for update in UPDATES}


def official(path: str, sizes: dict) -> dict:
    """The public code's loop (official_style.py) where torch is installed, else why not."""
    import importlib.util
    if importlib.util.find_spec("torch") is None:
        return {"skipped": "torch is not installed"}
    if not os.path.isfile(path):
        return {"skipped": f"{path} not found"}
    out = {}
    for stage in ("offline", "online"):
        try:
            proc = subprocess.run([sys.executable, path, "--stage", stage, "--rounds",
                                   str(sizes["rounds"]), "--hidden", str(sizes["hidden"][0]),
                                   "--batch", str(sizes["batch"])],
                                  capture_output=True, text=True, timeout=300)
            out[stage] = json.loads(proc.stdout.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError) as e:
            out[stage] = {"failed": f"{type(e).__name__}: {str(e)[-200:]}"}
    return out


def world_model_rates(sizes: dict) -> dict:
    """Updates/s and planner actions/s of each world-model size (a failure is recorded)."""
    from ktmjax.worldmodel import plan, throughput
    pcfg = plan.PlanConfig() if sizes["wm_batch"] >= 256 else plan.PlanConfig(
        num_samples=32, num_pi_trajs=4, num_elites=8, iterations=2)
    out = {}
    for size in sizes["world_models"]:
        try:
            out[size] = throughput.rates(size, sizes["wm_batch"], sizes["wm_steps"],
                                         sizes["wm_steps"], sizes["repeats"], pcfg,
                                         sizes.get("wm_shapes"))
        except Exception as e:  # e.g. out of memory at 317M: keep the other figures
            out[size] = {"failed": f"{type(e).__name__}: {str(e)[-200:]}"}
    return out


def projection(teacher: dict, rounds: dict) -> dict:
    """Hours of the paper's schedule at the measured rates (`rounds`: one update's figures)."""
    hours = {
        "teachers": SCHEDULE["teacher_steps"] / teacher["steps_per_task_per_s"] / 3600,
        "offline": SCHEDULE["offline_rounds"] / rounds["offline"]["rounds_per_s"] / 3600,
        "online": SCHEDULE["online_rounds"] / rounds["online"]["rounds_per_s"] / 3600,
    }
    hours["total"] = sum(hours.values())
    return {k: round(v, 2) for k, v in hours.items()}


def markdown(report: dict) -> str:
    r, t, h = report["student"], report["teachers"], report["projected_hours"]
    lines = [f"Device: {report['device']} ({report['platform']}), jax {report['jax']}, "
             f"{'dry run (tiny sizes)' if report['dry_run'] else 'Benchmark A at the paper sizes'}.",
             "", "| measure | ktmjax | public code's loop (torch) |", "|---|---|---|"]
    off = report["official"]

    def theirs(stage):
        row = off.get(stage, {})
        if "rounds_per_s" in row:
            return f"{row['rounds_per_s']:.1f}"
        return off.get("skipped") or f"failed: {row.get('failed', 'n/a')[:80]}"

    lines.append(f"| teacher env steps/s, {t['tasks']} tasks together | {t['env_steps_per_s']:,.0f} | |")
    for update in UPDATES:      # the public code updates in the paper's order
        for stage in ("offline", "online"):
            row = r[update][stage]
            lines.append(f"| {stage} rounds/s, {update} (K={row['tasks']}) | "
                         f"{row['rounds_per_s']:.1f} | "
                         f"{theirs(stage) if update == 'sequential' else ''} |")
    for update in UPDATES:
        hu = h[update]
        lines.append(f"| projected hours, {update}: teachers (1M steps/task) + offline (500K) + "
                     f"online (500K) | {hu['teachers']:.2f} + {hu['offline']:.2f} + "
                     f"{hu['online']:.2f} = **{hu['total']:.2f}** | |")
    for size, row in report.get("world_model", {}).items():
        if "failed" in row:
            lines.append(f"| world model {size} | failed: {row['failed'][:80]} | |")
            continue
        lines.append(f"| world model {size} ({row['params']:,} parameters): updates/s at batch "
                     f"{row['batch']} / planner actions/s | {row['updates_per_s']:.1f} / "
                     f"{row['actions_per_s']:.1f} | |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on any device")
    parser.add_argument("--out", default=os.path.join(ROOT, "runs", "accelerator_check"))
    parser.add_argument("--official", default=os.path.join(ROOT, "..", "shared", "bench",
                                                           "official_style.py"))
    args = parser.parse_args()
    # JAX would otherwise take most of a GPU's memory before the torch loop starts.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    from ktmjax import runs
    runs.enable_compilation_cache()
    import jax
    sizes = DRY if args.dry_run else PAPER
    start = time.time()
    print(f"[accelerator_check] {jax.devices()[0].device_kind} ({jax.default_backend()}), "
          f"{'dry run' if args.dry_run else 'paper sizes'}", flush=True)
    os.makedirs(args.out, exist_ok=True)
    partial = os.path.join(args.out, "accelerator_check.partial.json")
    teacher = teacher_steps_per_s(sizes)
    print(f"[accelerator_check] teachers: {teacher}", flush=True)
    with open(partial, "w") as f:     # kept if a later stage fails or the machine goes away
        json.dump({"teachers": teacher}, f)
    student = student_rounds(sizes)
    with open(partial, "w") as f:
        json.dump({"teachers": teacher, "student": student}, f)
    for update in UPDATES:
        print(f"[accelerator_check] student, {update}: offline "
              f"{student[update]['offline']['rounds_per_s']} rounds/s, online "
              f"{student[update]['online']['rounds_per_s']} rounds/s", flush=True)
    report = {"device": str(jax.devices()[0].device_kind), "platform": jax.default_backend(),
              "jax": jax.__version__, "dry_run": args.dry_run, "sizes": {
                  k: list(v) if isinstance(v, tuple) else v for k, v in sizes.items()},
              "teachers": teacher, "student": student,
              "official": official(args.official, sizes) if not args.dry_run else
              {"skipped": "dry run"},
              "projected_hours": {u: projection(teacher, student[u]) for u in UPDATES},
              "world_model": world_model_rates(sizes),
              "wall_s": None}
    report["wall_s"] = round(time.time() - start, 1)
    with open(os.path.join(args.out, "accelerator_check.json"), "w") as f:
        json.dump(report, f, indent=2)
    table = markdown(report)
    with open(os.path.join(args.out, "accelerator_check.md"), "w") as f:
        f.write(table + "\n")
    print(json.dumps(report))
    print(table)


if __name__ == "__main__":
    main()
