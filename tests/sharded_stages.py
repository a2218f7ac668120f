"""Runs a few steps of each stage (teachers, offline, online, and two seeds of the teachers
in one program) on two `mini` tasks, first on one device, then with the task (or seed)
axis split over every visible device, and prints one JSON line: per stage, the largest
difference between the two runs' final parameters, how many devices hold a task-axis
(seed-axis) array in the split run, and whether that array is split along that axis (not
replicated). Run it with XLA_FLAGS=--xla_force_host_platform_device_count=2
(tests/test_sharding.py), or as one of several processes, `sharded_stages.py COORDINATOR
COUNT ID`, whose devices then make up the split run (tests/test_distributed.py; process 0
computes the one-device run and reports the comparison)."""
import json
import sys

import jax
import numpy as np

from ktmjax import distributed, envs, runs, sharding, student, td3, teacher_store, teachers
from ktmjax.stages import seeds as seed_axis

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
    trainer = teachers.TeacherTrainer(tasks, TINY, capacity=128, start_steps=10,
                                      episode_length=40, seeds=2)
    state, _ = trainer.epoch(seed_axis.combine([trainer.init(jax.random.PRNGKey(k))
                                                for k in (4, 5)]), 20)
    out["seeds"] = (state.groups[0].learner, state.groups[0].replay.obs)
    return out


def main(argv):
    runs.enable_compilation_cache()
    if argv:
        coordinator, count, index = argv
        distributed.initialize(coordinator, int(count), int(index))
    # The one-device reference: in process 0 alone (the others wait at the first collective).
    sharding.use_devices(jax.local_devices()[:1])
    single = stages() if distributed.is_writer() else None
    sharding.use_devices(None)
    split = stages()
    report = {"devices": jax.device_count(), "processes": jax.process_count()}
    for stage in split:
        b = distributed.to_host(jax.tree.leaves(split[stage][0]))   # every process: it gathers
        if single is None:
            continue
        a = jax.tree.leaves(single[stage][0])
        report[stage] = {
            "max_diff": max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y))))
                            for x, y in zip(a, b)),
            "task_axis_devices": len(split[stage][1].sharding.device_set),
            "task_axis_split": tuple(getattr(split[stage][1].sharding, "spec", ()))[:1] ==
            (sharding.AXIS,)}
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
