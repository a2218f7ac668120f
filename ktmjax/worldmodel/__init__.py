"""The 2025 follow-up's world model: TD-MPC2's design, multi-task, in Flax.

`model` (encoder, dynamics, reward, Qs, policy prior), `twohot` (discrete regression),
`losses` (TD-MPC2's losses, the reward distillation term), `learner` (one update),
`plan` (MPPI), `data` (sub-trajectories from replays), `store` (the file, half precision).
"""
from ktmjax.worldmodel.model import SIZES, ModelConfig
from ktmjax.worldmodel.store import Agent, load

__all__ = ["Agent", "ModelConfig", "SIZES", "load"]
