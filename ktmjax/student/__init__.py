"""The KTM-DRL student, in parts (read them in this order):

- `config`: `StudentConfig`, what a student is built from;
- `batches`: the typed per-task batches a round draws from the shards D_k and D'_k;
- `losses`: the paper's Eq. 1-2 (offline) and Eq. 4-5 (online) over those batches, with
  the extension terms its config turns on added as layers, each logged by name;
- `update`: one round's optimiser steps (vmap vs sequential, HER vs w/o HER);
- `learner`: `Student`, acting, the rounds and the epoch scans.
"""
from ktmjax.student.config import ALGOS, TARGET_NOISE_MODES, UPDATE_MODES, StudentConfig
from ktmjax.student.learner import OnlineState, Student

__all__ = ["ALGOS", "TARGET_NOISE_MODES", "UPDATE_MODES", "OnlineState", "Student",
           "StudentConfig"]
