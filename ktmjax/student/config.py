"""What a student is built from: its networks' hyper-parameters, the update scheme and the
weights of Eq. 5 and of the terms that are not in the paper."""
import dataclasses
import math

from ktmjax import extensions, td3

UPDATE_MODES = ("vmap", "sequential", "pcgrad")
ALGOS = ("td3", "sac")
TARGET_NOISE_MODES = ("gaussian", "uniform")


@dataclasses.dataclass(frozen=True)
class StudentConfig:
    net: td3.TD3Config = td3.TD3Config()   # student networks and TD3 hyper-parameters
    update: str = "vmap"                    # vmap: one step on the task mean; sequential: K
                                            # steps; pcgrad: one step after gradient surgery
    offline_actor_delay: int = 1            # the public code updates the actor every round
    alpha: float = 1.0                      # Eq. 5 weight of the teacher term
    beta: float = 1.0                       # Eq. 5 weight of the student's own Q1
    target_noise: str = "gaussian"          # paper: N(0, 0.2^2) clipped 0.5; public code: U[0, 0.1)
    her: bool = True                        # False: the "w/o HER" ablation (one task per episode)
    warmup: int = 10_000                    # online rounds acting with the student before updates
    algo: str = "td3"                       # sac: the SAC-MT baseline's actor and losses
                                            # (`ktmjax.sac`; online, without teachers)
    # Not in the paper: the weights of `ktmjax.extensions.TERMS`, and a task id
    critic_grad: float = 0.0                # offline: dQ1/da matching at pi^k(s), added to Eq. 1
    actor_match: float = 0.0                # matching pi^k(s), added to Eq. 2 and Eq. 5's alpha term
    task_id: bool = False                   # a one-hot of the task in the student's state

    def __post_init__(self):
        if self.update not in UPDATE_MODES:
            raise ValueError(f"unknown update mode {self.update!r}; known: {', '.join(UPDATE_MODES)}")
        for term in extensions.TERMS:
            name, value = term.name, getattr(self, term.name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}={value} must be finite and not negative")
        if self.algo not in ALGOS:
            raise ValueError(f"unknown algo {self.algo!r}; known: {', '.join(ALGOS)}")
        if self.target_noise not in TARGET_NOISE_MODES:
            raise ValueError(f"unknown target noise {self.target_noise!r}; known: "
                             f"{', '.join(TARGET_NOISE_MODES)}")
