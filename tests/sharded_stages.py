"""Runs a few steps of each stage (teachers, offline, online, and two seeds of the teachers
in one program) on two `mini` tasks.

    sharded_stages.py reference OUT.npz       # on one device: the final parameters to OUT
    sharded_stages.py split REF.npz [COORDINATOR COUNT ID]

`split` runs them with the task (or seed) axis split over every visible device (run it
with XLA_FLAGS=--xla_force_host_platform_device_count=2), or over the devices of several
processes (COORDINATOR COUNT ID: this process's part of a job), and prints one JSON line:
per stage, the largest difference between its final parameters and the reference's, how
many devices hold a task-axis (seed-axis) array, and whether that array is split along
that axis (not replicated). Process 0 reports the comparison (tests/test_sharding.py)."""
import json
import sys

import jax
import numpy as np

from ktmjax import distributed, envs, runs, sharding, student, td3, teacher_store, teachers
from ktmjax.seed_axis import SeedAxis

TINY = td3.TD3Config(hidden=(16, 16), batch_size=8)


def stages():
    # The two single pendulums: one group of two tasks, split over two devices.
    tasks = envs.benchmark_tasks("mini", ["InvertedPendulum", "InvertedPendulumBigPole"])
    out = {}
    trainer = teachers.TeacherTrainer(tasks, TINY, capacity=128, start_steps=10,
                                      episode_length=40)
    state, _ = trainer.epoch(trainer.init(jax.random.PRNGKey(0)), 30)
    out["teachers"] = (state.groups[0].learner, state.groups[0].replay.obs)

    env = trainer.env
    groups = teacher_store.random_teachers(env.groups, TINY, 64, jax.random.PRNGKey(1))
    learner = student.Student(env, (TINY,) * len(env.groups),
                              student.StudentConfig(net=TINY, warmup=3))
    sizes = [g.size for g in env.groups]
    placed = sharding.groups(groups, sizes)
    offline = jax.jit(learner.offline_epoch, static_argnums=2)(
        sharding.replicate(learner.init(jax.random.PRNGKey(2))), placed, 10)[0]
    out["offline"] = (offline, placed[0].data.obs)

    online = learner.init_online(offline, jax.random.PRNGKey(3), capacity=64)
    online = jax.jit(learner.online_epoch, static_argnums=2)(
        sharding.online(learner.refill_starts(online), sizes), placed, 8)[0]
    out["online"] = (online.learner, online.buffers[0].obs)

    # Two seeds of the teachers in one program: the seed axis split over two devices.
    two = SeedAxis(4, 2)
    trainer = teachers.TeacherTrainer(tasks, TINY, capacity=128, start_steps=10,
                                      episode_length=40, axis=two)
    state, _ = trainer.epoch(two.combine([trainer.init(jax.random.PRNGKey(s))
                                          for s in two.seeds]), 20)
    out["seeds"] = (state.groups[0].learner, state.groups[0].replay.obs)
    return out


def main(argv):
    runs.enable_compilation_cache()
    mode, path, *job = argv
    if mode == "reference":
        sharding.use_devices(jax.local_devices()[:1])
        single = stages()
        np.savez(path, **{f"{stage}_{i}": np.asarray(leaf) for stage in single
                          for i, leaf in enumerate(jax.tree.leaves(single[stage][0]))})
        return
    if job:
        coordinator, count, index = job
        distributed.initialize(coordinator, int(count), int(index))
    split = stages()
    report = {"devices": jax.device_count(), "processes": jax.process_count()}
    reference = np.load(path, allow_pickle=False)
    for stage in split:
        b = distributed.to_host(jax.tree.leaves(split[stage][0]))   # every process: it gathers
        if not distributed.is_writer():
            continue
        a = [reference[f"{stage}_{i}"] for i in range(len(b))]
        report[stage] = {
            "max_diff": max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y)),
                                      initial=0.0)) for x, y in zip(a, b)),
            "task_axis_devices": len(split[stage][1].sharding.device_set),
            "task_axis_split": tuple(getattr(split[stage][1].sharding, "spec", ()))[:1] ==
            (sharding.SEEDS if stage == "seeds" else sharding.TASKS,)}
    # The mesh's (seeds, tasks) shape for 1, 2 and 3 seeds.
    report["meshes"] = {n: list(sharding.mesh(n).devices.shape) for n in (1, 2, 3)}
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
