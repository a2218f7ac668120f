"""TD-MPC2's released PyTorch checkpoints as ktmjax world models.

A TD-MPC2 state dict holds `_task_emb.weight`, the `_action_masks` buffer and one
Sequential per part: `_encoder.state.<i>`, `_dynamics.<i>`, `_reward.<i>`, `_pi.<i>`, each
layer a Linear (`weight` [out, in], `bias`) and, but for the last layer of the reward
head and the policy, a LayerNorm (`ln.weight`, `ln.bias`). The Q ensemble is stacked:
`_Qs.params.<i>.weight` [num_q, out, in] and `_target_Qs_params.<i>...`; checkpoints of
TD-MPC2's first release number the ensemble's tensors flat (`_Qs.params.<n>`, n = 4 x
layer + position in weight, bias, ln.weight, ln.bias), and both layouts are read.

`from_state_dict` needs only numpy arrays; `load_checkpoint` reads a `.pt` file with
torch (an optional extra: `pip install torch`), tensors only (`weights_only=True`).
"""
import re

import numpy as np

from ktmjax.worldmodel import model

_LINEAR_NAMES = ("weight", "bias", "ln.weight", "ln.bias")


def _sequential(sd: dict, prefix: str) -> list:
    """[(weight, bias, ln_weight or None, ln_bias or None)] of the Sequential at `prefix`."""
    layers = []
    while f"{prefix}.{len(layers)}.weight" in sd:
        p = f"{prefix}.{len(layers)}"
        layers.append((sd[f"{p}.weight"], sd[f"{p}.bias"], sd.get(f"{p}.ln.weight"),
                       sd.get(f"{p}.ln.bias")))
    if not layers:
        raise ValueError(f"the state dict has no {prefix}.0.weight")
    return layers


def _ensemble(sd: dict, prefix: str) -> list:
    """The stacked Q layers under `prefix` ('_Qs.params' or '_target_Qs_params'), in either
    of TD-MPC2's layouts."""
    if f"{prefix}.0.weight" in sd:
        return _sequential(sd, prefix)
    flat = {int(m.group(1)): v for k, v in sd.items()
            if (m := re.fullmatch(re.escape(prefix.replace("_params", ".params")) + r"\.(\d+)", k))}
    if not flat:
        raise ValueError(f"the state dict has no {prefix} ensemble")
    named = {f"x.{n // 4}.{_LINEAR_NAMES[n % 4]}": v for n, v in flat.items()}
    return _sequential(named, "x")


def _flax_mlp(layers, stacked: bool = False) -> dict:
    """A Sequential's layers as ktmjax's MLP parameters (kernels transposed to [in, out])."""
    t = (lambda w: np.swapaxes(w, -1, -2)) if stacked else (lambda w: w.T)
    out = {}
    for i, (w, b, ln_w, ln_b) in enumerate(layers):
        out[f"Dense_{i}"] = {"kernel": np.asarray(t(np.asarray(w)), np.float32),
                             "bias": np.asarray(b, np.float32)}
        if ln_w is not None:
            out[f"LayerNorm_{i}"] = {"scale": np.asarray(ln_w, np.float32),
                                     "bias": np.asarray(ln_b, np.float32)}
    return out


def from_state_dict(state_dict: dict):
    """(ModelConfig, params, target-Q params) of a TD-MPC2 multi-task state dict whose
    values are numpy arrays (or anything np.asarray reads). Raises ValueError when a part is
    missing or the shapes do not fit together."""
    sd = {k: np.asarray(v) for k, v in state_dict.items() if not k.endswith(("__batch_size",
                                                                             "__device"))}
    if "_task_emb.weight" not in sd or "_action_masks" not in sd:
        raise ValueError("not a multi-task TD-MPC2 state dict (no _task_emb / _action_masks)")
    task_emb, masks = sd["_task_emb.weight"], sd["_action_masks"]
    encoder = _sequential(sd, "_encoder.state")
    dynamics, reward, pi = (_sequential(sd, p) for p in ("_dynamics", "_reward", "_pi"))
    qs, target = _ensemble(sd, "_Qs.params"), _ensemble(sd, "_target_Qs_params")
    task_dim = task_emb.shape[1]
    cfg = model.ModelConfig(
        obs_size=encoder[0][0].shape[1] - task_dim, action_size=masks.shape[1],
        action_sizes=tuple(int(round(m)) for m in masks.sum(1)),
        enc_dim=encoder[0][0].shape[0], mlp_dim=dynamics[0][0].shape[0],
        latent_dim=encoder[-1][0].shape[0], num_enc_layers=len(encoder),
        num_q=qs[0][0].shape[0], task_dim=task_dim)
    params = {"encoder": _flax_mlp(encoder), "dynamics": _flax_mlp(dynamics),
              "reward": _flax_mlp(reward), "pi": _flax_mlp(pi),
              "qs": {"q": _flax_mlp(qs, stacked=True)},
              "task_emb": np.asarray(task_emb, np.float32)}
    model.check_params(cfg, params)
    return cfg, params, {"q": _flax_mlp(target, stacked=True)}


def load_checkpoint(path: str):
    """`from_state_dict` of a TD-MPC2 `.pt` checkpoint (needs torch)."""
    import torch  # optional extra: only this reader needs it
    raw = torch.load(path, map_location="cpu", weights_only=True)
    raw = raw.get("model", raw)
    return from_state_dict({k: v.float().numpy() if v.is_floating_point() else v.numpy()
                            for k, v in raw.items() if hasattr(v, "numpy")})
