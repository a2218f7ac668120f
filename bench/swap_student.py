"""A student run directory whose actor or critic is swapped for a teacher's networks.

    python bench/swap_student.py OFFLINE_RUN TEACHER_DIR OUT_DIR ACTOR CRITIC
    python bench/swap_student.py /tmp/off_d runs/teachers/mini-seed0-20261121-092000/teachers/InvertedDoublePendulum /tmp/off_swap student teacher

ACTOR: student (the offline run's actor) or teacher. CRITIC: student, teacher (the teacher's
critic, with its target critic as the target) or teacher_target (the teacher's target
critic as both). Writes OUT_DIR/config.json (the offline run's) and OUT_DIR/student/state,
so `experiments.online --from=OUT_DIR` (or bench/online_task_subset.py with that task alone)
starts from it. The teacher and the student must have the same network sizes: on `mini`,
the InvertedDoublePendulum teacher (8 obs, 1 action, 2x256) and the 3-task student (padded
to 8 obs and 1 action, 2x256) do. A diagnostic: which part of a distilled student does
the online stage keep?
"""
import os
import shutil
import sys

import jax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ktmjax import checkpoint, runs, td3  # noqa: E402


def main(offline_run, teacher_dir, out_dir, actor, critic):
    if actor not in ("student", "teacher") or critic not in ("student", "teacher",
                                                              "teacher_target"):
        sys.exit("error: ACTOR is student|teacher, CRITIC is student|teacher|teacher_target")
    if os.path.exists(out_dir):
        sys.exit(f"error: {out_dir} exists; give a new directory")
    refusal = runs.task_id_refusal(runs.read_json(os.path.join(offline_run, "config.json")),
                                   offline_run, "a teacher's networks do not take")
    if refusal:
        sys.exit(refusal)
    meta = runs.read_json(os.path.join(teacher_dir, "teacher.json"))
    like = td3.init(jax.random.PRNGKey(0), meta["obs_size"], meta["action_size"],
                    td3.TD3Config(hidden=tuple(meta["hidden"])))
    teacher = checkpoint.load(os.path.join(teacher_dir, "state"), like)
    state = checkpoint.load(os.path.join(offline_run, "student", "state"), like)
    if actor == "teacher":
        state = state.replace(actor_params=teacher.actor_params,
                              target_actor_params=teacher.target_actor_params)
    if critic != "student":
        online = teacher.critic_params if critic == "teacher" else teacher.target_critic_params
        state = state.replace(critic_params=online,
                              target_critic_params=teacher.target_critic_params)
    os.makedirs(os.path.join(out_dir, "student"))
    shutil.copy(os.path.join(offline_run, "config.json"), out_dir)
    checkpoint.save(os.path.join(out_dir, "student", "state"), state)
    print(f"student with the {actor}'s actor and the {critic}'s critic in {out_dir}")


if __name__ == "__main__":
    main(*sys.argv[1:])
