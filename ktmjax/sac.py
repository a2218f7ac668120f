"""SAC (Haarnoja et al. 2018, with the learnt temperature of their second paper): the
pieces of the SAC-MT baseline, a multi-task SAC student with HER and the g^k mask and no
teachers (`StudentConfig.algo == "sac"`; the student's layout, replay and update modes are
the TD3 student's).

The actor is a tanh-squashed Gaussian over the padded action; its log-probability counts
only the entries the task uses (the mask g^k), so the target entropy of task k is -|A_k|.
Each task has its own temperature alpha_k (one entry of `log_alpha`), a parameter of the
actor trained by the same optimiser step as the policy.
"""
import flax.linen as nn
import jax
import jax.numpy as jnp

from ktmjax import networks, td3

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class GaussianActor(nn.Module):
    """obs -> a tanh-squashed Gaussian over [-1, 1]^action_size, and the temperatures
    log(alpha_k) of `num_tasks` tasks. Called plainly it returns the deterministic action
    tanh(mean), what evaluation and acting without noise use."""
    hidden: tuple
    action_size: int
    num_tasks: int

    def setup(self):
        self.trunk = networks.MLP(tuple(self.hidden), 2 * self.action_size)
        self.log_alpha = self.param("log_alpha", nn.initializers.zeros, (self.num_tasks,))

    def _mean_log_std(self, obs):
        mean, raw = jnp.split(self.trunk(obs), 2, axis=-1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(raw) + 1.0)
        return mean, log_std

    def __call__(self, obs):
        return jnp.tanh(self._mean_log_std(obs)[0])

    def sample(self, obs, noise):
        """(tanh(mean + std * noise), the log-probability of each action entry) for a
        standard normal `noise` of the action's shape (reparameterised: gradients flow
        through the action into the actor)."""
        mean, log_std = self._mean_log_std(obs)
        return squashed_sample(mean, log_std, noise)

    def temperatures(self):
        """log(alpha_k) of every task [K]."""
        return self.log_alpha


def squashed_sample(mean, log_std, noise) -> tuple:
    """(a = tanh(u), log pi(a) per entry) with u = mean + exp(log_std) * noise: the
    Gaussian's log-density of u less log(1 - tanh(u)^2), the change of variables."""
    u = mean + jnp.exp(log_std) * noise
    gaussian = -0.5 * jnp.square(noise) - log_std - 0.5 * jnp.log(2.0 * jnp.pi)
    log_det = 2.0 * (jnp.log(2.0) - u - jax.nn.softplus(-2.0 * u))   # log(1 - tanh(u)^2)
    return jnp.tanh(u), gaussian - log_det


def masked_log_prob(log_prob_entries, mask):
    """log pi(a) of task k: the sum of its used entries' log-probabilities (mask g^k)."""
    return jnp.sum(log_prob_entries * mask, axis=-1)


def target_entropy(mask):
    """SAC's target entropy of a task: minus its number of action entries."""
    return -jnp.sum(mask, axis=-1)


def soft_td_target(reward, terminal, next_q, next_log_prob, alpha, gamma: float):
    """SAC's TD target: r + gamma (1 - done) (min_j Q'_j(s', a') - alpha log pi(a'|s')),
    a' drawn from the current policy; next_q is [2, N]."""
    return td3.td_target(reward, terminal, next_q - alpha * next_log_prob, gamma)


def policy_loss(q, log_prob, alpha):
    """The SAC actor's loss: mean(alpha log pi(a|s) - min_j Q_j(s, a)), alpha held fixed."""
    return jnp.mean(jax.lax.stop_gradient(alpha) * log_prob - q)


def temperature_loss(log_alpha, log_prob, entropy_target):
    """The temperature's loss: -log(alpha) mean(log pi(a|s) + target entropy); its descent
    raises alpha while the policy's entropy is below the target, and lowers it above."""
    return -log_alpha * jnp.mean(jax.lax.stop_gradient(log_prob) + entropy_target)
