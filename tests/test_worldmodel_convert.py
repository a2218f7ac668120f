"""TD-MPC2 checkpoints into ktmjax's world model: a state dict with TD-MPC2's key layout and
MT30's 1M shapes, against a forward pass of the same numbers written here in numpy."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ktmjax.worldmodel import convert, model, twohot

K, OBS, ACT, TASK_DIM, ENC, MLP, LATENT, NUM_Q = 30, 24, 6, 96, 256, 384, 128, 2   # MT30 1M
rng = np.random.default_rng(0)


def _linear(prefix, n_in, n_out, ln=True, stack=None):
    lead = (stack,) if stack else ()
    out = {f"{prefix}.weight": rng.normal(0, 0.1, lead + (n_out, n_in)).astype(np.float32),
           f"{prefix}.bias": rng.normal(0, 0.1, lead + (n_out,)).astype(np.float32)}
    if ln:
        out[f"{prefix}.ln.weight"] = (1 + rng.normal(0, 0.1, lead + (n_out,))).astype(np.float32)
        out[f"{prefix}.ln.bias"] = rng.normal(0, 0.1, lead + (n_out,)).astype(np.float32)
    return out


def _mlp(prefix, dims, last_ln, stack=None):
    sd = {}
    for i in range(len(dims) - 1):
        sd.update(_linear(f"{prefix}.{i}", dims[i], dims[i + 1],
                          ln=last_ln or i < len(dims) - 2, stack=stack))
    return sd


def tdmpc2_state_dict(flat_q: bool = False):
    za = LATENT + TASK_DIM + ACT
    sd = {"_task_emb.weight": rng.uniform(-1, 1, (K, TASK_DIM)).astype(np.float32),
          "_action_masks": (np.arange(ACT)[None] < rng.integers(1, ACT + 1, K)[:, None])
          .astype(np.float32)}
    sd.update(_mlp("_encoder.state", [OBS + TASK_DIM, ENC, LATENT], True))
    sd.update(_mlp("_dynamics", [za, MLP, MLP, LATENT], True))
    sd.update(_mlp("_reward", [za, MLP, MLP, twohot.NUM_BINS], False))
    sd.update(_mlp("_pi", [LATENT + TASK_DIM, MLP, MLP, 2 * ACT], False))
    for name in ("_Qs.params", "_target_Qs_params"):
        qs = _mlp(name, [za, MLP, MLP, twohot.NUM_BINS], False, stack=NUM_Q)
        if flat_q:   # TD-MPC2's first release numbers the ensemble's tensors flat
            old = name.replace("_params", ".params")
            names = ("weight", "bias", "ln.weight", "ln.bias")
            rest = lambda k: k[len(name) + 1:].split(".", 1)   # "<layer>", "<tensor name>"
            qs = {f"{old}.{4 * int(rest(k)[0]) + names.index(rest(k)[1])}": v
                  for k, v in qs.items()}
        sd.update(qs)
    return sd


def np_mlp(sd, prefix, x, last, stack_index=None):
    """TD-MPC2's forward pass in numpy: NormedLinear (Linear, LayerNorm, Mish) layers, the
    last one plain Linear or NormedLinear with `last` ('simnorm') as activation."""
    i = 0
    pick = (lambda a: a[stack_index]) if stack_index is not None else (lambda a: a)
    while f"{prefix}.{i}.weight" in sd:
        w, b = pick(sd[f"{prefix}.{i}.weight"]), pick(sd[f"{prefix}.{i}.bias"])
        x = x @ w.T + b
        final = f"{prefix}.{i + 1}.weight" not in sd
        if f"{prefix}.{i}.ln.weight" in sd:
            mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
            x = (x - mu) / np.sqrt(var + 1e-5) * pick(sd[f"{prefix}.{i}.ln.weight"]) \
                + pick(sd[f"{prefix}.{i}.ln.bias"])
            if final and last == "simnorm":
                g = x.reshape(*x.shape[:-1], -1, 8)
                g = np.exp(g - g.max(-1, keepdims=True))
                x = (g / g.sum(-1, keepdims=True)).reshape(x.shape)
            else:
                x = x * np.tanh(np.log1p(np.exp(x)))
        i += 1
    return x


@pytest.mark.parametrize("flat_q", [False, True])
def test_a_tdmpc2_state_dict_converts_to_the_same_forward_pass(flat_q):
    sd = tdmpc2_state_dict(flat_q)
    cfg, params, target_q = convert.from_state_dict(sd)
    assert (cfg.obs_size, cfg.action_size, cfg.enc_dim, cfg.mlp_dim, cfg.latent_dim, cfg.num_q,
            cfg.task_dim, cfg.num_enc_layers) == (OBS, ACT, ENC, MLP, LATENT, NUM_Q, TASK_DIM, 2)
    assert list(cfg.action_sizes) == list(sd["_action_masks"].sum(1).astype(int))
    assert model.count_params(params) == sum(v.size for k, v in sd.items()
                                             if not k.startswith(("_target", "_action")))
    B = 5
    task = rng.integers(0, K, B)
    obs = rng.normal(size=(B, OBS)).astype(np.float32)
    action = rng.uniform(-1, 1, (B, ACT)).astype(np.float32) * sd["_action_masks"][task]
    emb = sd["_task_emb.weight"][task]
    emb = emb * np.minimum(1, 1 / np.linalg.norm(emb, axis=-1, keepdims=True))
    z = np_mlp(sd, "_encoder.state", np.concatenate([obs, emb], -1), "simnorm")
    za = np.concatenate([z, emb, action], -1)
    p = jax.tree.map(jnp.asarray, params)
    t = jnp.asarray(task)
    close = lambda got, want: np.testing.assert_allclose(np.asarray(got), want, rtol=2e-4,
                                                         atol=2e-5)
    close(model.encode(cfg, p, jnp.asarray(obs), t), z)
    zj = jnp.asarray(z)
    close(model.next_latent(cfg, p, zj, jnp.asarray(action), t),
          np_mlp(sd, "_dynamics", za, "simnorm"))
    close(model.reward_logits(cfg, p, zj, jnp.asarray(action), t), np_mlp(sd, "_reward", za, None))
    got_q = model.q_logits(cfg, p["qs"], p, zj, jnp.asarray(action), t)
    got_target = model.q_logits(cfg, jax.tree.map(jnp.asarray, target_q), p, zj,
                                jnp.asarray(action), t)
    nested = tdmpc2_like_nested(sd, flat_q)
    for q in range(NUM_Q):
        close(got_q[q], np_mlp(nested, "_Qs.params", za, None, stack_index=q))
        close(got_target[q], np_mlp(nested, "_target_Qs_params", za, None, stack_index=q))
    mean = np_mlp(sd, "_pi", np.concatenate([z, emb], -1), None)[:, :ACT]
    got_mean, _, _ = model.policy(cfg, p, zj, t, jax.random.PRNGKey(0))
    close(got_mean, np.tanh(mean) * sd["_action_masks"][task])


def tdmpc2_like_nested(sd, flat_q):
    """The ensembles of `sd` under the nested layout (what np_mlp reads)."""
    if not flat_q:
        return sd
    names = ("weight", "bias", "ln.weight", "ln.bias")
    out = dict(sd)
    for old, new in (("_Qs.params", "_Qs.params"), ("_target_Qs.params", "_target_Qs_params")):
        for k in [k for k in sd if k.startswith(old + ".")]:
            n = int(k[len(old) + 1:])
            out[f"{new}.{n // 4}.{names[n % 4]}"] = sd[k]
    return out


def test_a_state_dict_without_its_parts_is_refused():
    sd = tdmpc2_state_dict()
    del sd["_dynamics.0.weight"]
    with pytest.raises(ValueError, match="_dynamics"):
        convert.from_state_dict(sd)
    with pytest.raises(ValueError, match="multi-task"):
        convert.from_state_dict({"_encoder.state.0.weight": np.zeros((2, 2))})
