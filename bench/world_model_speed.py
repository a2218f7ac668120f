"""World-model speed, ktmjax (JAX) against PyTorch, side by side in one run on this machine.

    pip install -e ".[torch]"
    python -m bench.world_model_speed [--size=1M] [--batch=256] [--updates=20] [--actions=20]

Both sides run the same work: TD-MPC2's whole update (encoder, 3-step latent rollout,
consistency, reward and value cross-entropies over two-hot bins, the model's Adam step with
gradient clipping, the policy prior's loss and Adam step, the target Qs' Polyak step) at
batch B on MT30's shapes, and one MPPI action (512 samples x 6 iterations, horizon 3, 24
policy trajectories). The PyTorch side is written here as plain eager PyTorch (TD-MPC2's
own code also offers torch.compile and CUDA graphs, which need a GPU to pay off). Prints
one JSON line with both sides' rates and the ratios.
"""
import argparse
import json
import time

NUM_BINS, V_MIN, V_MAX = 101, -10.0, 10.0


def torch_rates(cfg, batch: int, updates: int, actions: int, repeats: int, pcfg) -> dict:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(0)
    bins = torch.linspace(V_MIN, V_MAX, NUM_BINS)
    bin_size = (V_MAX - V_MIN) / (NUM_BINS - 1)

    def symlog(x):
        return torch.sign(x) * torch.log1p(x.abs())

    def symexp(x):
        return torch.sign(x) * torch.expm1(x.abs())

    def two_hot(y):
        x = symlog(y).clamp(V_MIN, V_MAX)
        pos = (x - V_MIN) / bin_size
        low = pos.floor().clamp(0, NUM_BINS - 1)
        w = (pos - low).unsqueeze(-1)
        low = low.long()
        high = (low + 1).clamp(max=NUM_BINS - 1)
        return (F.one_hot(low, NUM_BINS) * (1 - w) + F.one_hot(high, NUM_BINS) * w)

    def decode(logits):
        return symexp(F.softmax(logits, -1) @ bins)

    def soft_ce(logits, y):
        return -(two_hot(y) * F.log_softmax(logits, -1)).sum(-1)

    class Layer(nn.Module):
        def __init__(self, n_in, n_out, act="mish", dropout=0.0):
            super().__init__()
            self.linear, self.ln, self.act = nn.Linear(n_in, n_out), nn.LayerNorm(n_out), act
            self.dropout = nn.Dropout(dropout) if dropout else None

        def forward(self, x):
            x = self.linear(x)
            if self.dropout is not None:
                x = self.dropout(x)
            x = self.ln(x)
            if self.act == "simnorm":
                return F.softmax(x.view(*x.shape[:-1], -1, 8), -1).view(x.shape)
            return F.mish(x)

    def mlp(n_in, hidden, n_out, last=None, dropout=0.0):
        dims = [n_in] + hidden
        layers = [Layer(dims[i], dims[i + 1], dropout=dropout if i == 0 else 0.0)
                  for i in range(len(hidden))]
        layers.append(Layer(dims[-1], n_out, act=last) if last else nn.Linear(dims[-1], n_out))
        return nn.Sequential(*layers)

    L, T, A, S = cfg.latent_dim, cfg.task_dim, cfg.action_size, cfg.obs_size
    K, H = cfg.num_tasks, pcfg.horizon
    enc = mlp(S + T, [cfg.enc_dim] * max(cfg.num_enc_layers - 1, 1), L, "simnorm")
    dyn = mlp(L + T + A, [cfg.mlp_dim] * 2, L, "simnorm")
    rew = mlp(L + T + A, [cfg.mlp_dim] * 2, NUM_BINS)
    pi = mlp(L + T, [cfg.mlp_dim] * 2, 2 * A)
    qs = nn.ModuleList(mlp(L + T + A, [cfg.mlp_dim] * 2, NUM_BINS, dropout=cfg.dropout)
                       for _ in range(cfg.num_q))
    target = [[p.detach().clone() for p in q.parameters()] for q in qs]
    emb = nn.Embedding(K, T, max_norm=1)
    masks = torch.ones(K, A)
    model_params = [*enc.parameters(), *dyn.parameters(), *rew.parameters(),
                    *qs.parameters(), *emb.parameters()]
    opt = torch.optim.Adam([{"params": enc.parameters(), "lr": 3e-4 * 0.3},
                            {"params": [*dyn.parameters(), *rew.parameters(), *qs.parameters(),
                                        *emb.parameters()]}], lr=3e-4)
    pi_opt = torch.optim.Adam(pi.parameters(), lr=3e-4, eps=1e-5)
    scale = torch.ones(())

    def with_task(x, task):
        e = emb(task)
        return torch.cat([x, e.expand(*x.shape[:-1], T)], -1)

    def policy(z, task):
        mean, log_std = pi(with_task(z, task)).chunk(2, -1)
        log_std = -10 + 6 * (torch.tanh(log_std) + 1)
        m = masks[task]
        eps = torch.randn_like(mean) * m
        mean, log_std = mean * m, log_std * m
        log_p = ((-0.5 * eps ** 2 - log_std - 0.9189385) * m).sum(-1)
        sample = torch.tanh(mean + eps * log_std.exp())
        log_p = log_p - (torch.log(F.relu(1 - sample ** 2) + 1e-6) * m).sum(-1)
        return sample, log_p

    def q_all(z, a, task, params=None):
        x = torch.cat([with_task(z, task), a], -1)
        if params is None:
            return torch.stack([q(x) for q in qs])
        out = []
        for q, ps in zip(qs, params):
            out.append(torch.func.functional_call(q, dict(zip([n for n, _ in q.named_parameters()], ps)), (x,)))
        return torch.stack(out)

    def q_value(z, a, task, params=None, reduce="min"):
        v = decode(q_all(z, a, task, params)[torch.randperm(cfg.num_q)[:2]])
        return v.min(0).values if reduce == "min" else v.mean(0)

    obs = torch.randn(H + 1, batch, S)
    act = torch.rand(H, batch, A) * 2 - 1
    reward = torch.rand(H, batch)
    task = torch.arange(batch) % K
    rho = 0.5 ** torch.arange(H + 1, dtype=torch.float32)

    def update():
        nonlocal scale
        with torch.no_grad():
            next_z = enc(with_task(obs[1:], task))
            a_next, _ = policy(next_z, task)
            td = reward + 0.99 * q_value(next_z, a_next, task, target, "min")
        z = enc(with_task(obs[0], task))
        zs, consistency = [z], 0.0
        for t in range(H):
            z = dyn(torch.cat([with_task(z, task), act[t]], -1))
            consistency = consistency + rho[t] * F.mse_loss(z, next_z[t])
            zs.append(z)
        zs = torch.stack(zs)
        za = torch.cat([with_task(zs[:-1], task), act], -1)
        reward_loss = (rho[:H] * soft_ce(rew(za), reward).mean(1)).sum() / H
        q = torch.stack([qn(za) for qn in qs])
        value_loss = (rho[:H] * soft_ce(q, td.unsqueeze(0)).mean(2).sum(0)).sum() / (H * cfg.num_q)
        loss = 20 * consistency / H + 0.1 * reward_loss + 0.1 * value_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model_params, 20)
        opt.step()
        zd = zs.detach()
        a, log_p = policy(zd, task)
        for p in qs.parameters():
            p.requires_grad_(False)
        qv = q_value(zd, a, task, reduce="avg")
        for p in qs.parameters():
            p.requires_grad_(True)
        lo, hi = torch.quantile(qv[0].detach(), torch.tensor([0.05, 0.95]))
        scale = scale + 0.01 * (torch.clamp(hi - lo, min=1.0) - scale)
        pi_loss = -(rho * (1e-4 * -log_p * A + qv / scale).mean(1)).mean()
        pi_opt.zero_grad(set_to_none=True)
        pi_loss.backward()
        torch.nn.utils.clip_grad_norm_(pi.parameters(), 20)
        pi_opt.step()
        with torch.no_grad():
            for q, ps in zip(qs, target):
                for p, tp in zip(q.parameters(), ps):
                    tp.lerp_(p, 0.01)

    @torch.no_grad()
    def plan_action(prev):
        N, P, E = pcfg.num_samples, pcfg.num_pi_trajs, pcfg.num_elites
        t0 = torch.zeros(1, dtype=torch.long)
        z = enc(with_task(obs[0, :1], t0))
        zp, pi_actions = z.repeat(P, 1), []
        tp = t0.repeat(P)
        for _ in range(H):
            a, _ = policy(zp, tp)
            pi_actions.append(a)
            zp = dyn(torch.cat([with_task(zp, tp), a], -1))
        pi_actions = torch.stack(pi_actions)
        mean = torch.cat([prev[1:], torch.zeros(1, A)])
        std = torch.full((H, A), pcfg.max_std)
        tn = t0.repeat(N)
        for _ in range(pcfg.iterations):
            sampled = (mean.unsqueeze(1) + std.unsqueeze(1) * torch.randn(H, N - P, A)).clamp(-1, 1)
            actions = torch.cat([pi_actions, sampled], 1)
            zz, ret, disc = z.repeat(N, 1), 0.0, 1.0
            for t in range(H):
                x = torch.cat([with_task(zz, tn), actions[t]], -1)
                ret = ret + disc * decode(rew(x))
                zz = dyn(x)
                disc *= 0.99
            a, _ = policy(zz, tn)
            value = (ret + disc * q_value(zz, a, tn, reduce="avg")).nan_to_num(0)
            elite_value, idx = torch.topk(value, E)
            elites = actions[:, idx]
            score = torch.exp(pcfg.temperature * (elite_value - elite_value.max()))
            score = score / score.sum()
            mean = (score[None, :, None] * elites).sum(1)
            std = ((score[None, :, None] * (elites - mean[:, None]) ** 2).sum(1)).sqrt()
            std = std.clamp(pcfg.min_std, pcfg.max_std)
        choice = torch.multinomial(score, 1)[0]
        return elites[0, choice].clamp(-1, 1), mean

    def timed(fn, n):
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(n)
            best = min(best, time.perf_counter() - t0)
        return n / best

    def run_updates(n):
        for _ in range(n):
            update()

    def run_actions(n):
        prev = torch.zeros(H, A)
        for _ in range(n):
            _, prev = plan_action(prev)

    run_updates(2)
    run_actions(2)
    n_params = sum(p.numel() for p in [*model_params, *pi.parameters()])
    return {"params": n_params, "updates_per_s": round(timed(run_updates, updates), 2),
            "actions_per_s": round(timed(run_actions, actions), 2),
            "threads": torch.get_num_threads(), "torch": torch.__version__}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1M")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--actions", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from ktmjax import runs
    runs.enable_compilation_cache()
    import jax
    from ktmjax.worldmodel import model, plan, throughput
    pcfg = plan.PlanConfig()
    shapes = throughput.MT30_SHAPES
    cfg = model.ModelConfig.of_size(args.size, shapes["obs_size"], shapes["action_size"],
                                    shapes["action_sizes"])
    ours = throughput.rates(args.size, args.batch, args.updates, args.actions, args.repeats, pcfg)
    theirs = torch_rates(cfg, args.batch, args.updates, args.actions, args.repeats, pcfg)
    report = {"size": args.size, "batch": args.batch, "device": str(jax.devices()[0].device_kind),
              "ktmjax": ours, "pytorch": theirs,
              "update_ratio": round(ours["updates_per_s"] / theirs["updates_per_s"], 2),
              "planning_ratio": round(ours["actions_per_s"] / theirs["actions_per_s"], 2)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
