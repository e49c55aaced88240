"""PyTorch twins of `diffusion bench twin WORKLOAD`: the same networks, batches, optimisers and
samplers, written as a careful PyTorch user would (eager mode, data drawn on the device, no host
copies inside the loop). One timed run per call, printed as one JSON line; `cargo xtask bench`
alternates these with ours and prints the ratios.

    python bench/twins.py states-train [--batch 10000] [--steps 10]
"""

import argparse
import json
import math
import os
import time

import torch
from torch import nn
import torch.nn.functional as F

WARMUP = 3


# ---- STATES: the course's MLP (x, y, t̄) → ε̂, 4 × 256 PReLU, DDPM with T = 500, linear β ----

def states_mlp():
    widths = [3, 256, 256, 256, 256, 2]
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        if i + 2 < len(widths):
            layers.append(nn.PReLU())
    return nn.Sequential(*layers)


def linear_schedule(steps=500, beta_1=1e-4, beta_T=0.02):
    beta = torch.linspace(beta_1, beta_T, steps, dtype=torch.float64)
    alpha_bar = torch.cumprod(1 - beta, 0)
    return beta, alpha_bar


def states_points():
    """The 5000 STATES points (x, y) from the shared CSV when present, else a stand-in of the same
    size (the step's cost does not depend on the values)."""
    path = os.environ.get("STATES_CSV", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "states.csv"))
    if os.path.exists(path):
        rows = [line.split(",") for line in open(path).read().splitlines()[1:] if line.strip()]
        return torch.tensor([[float(r[0]), float(r[1])] for r in rows], dtype=torch.float32)
    return torch.randn(5000, 2)


def states_train(batch, steps):
    data = states_points()
    model = states_mlp()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, eps=1e-8)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps + WARMUP, eta_min=2e-3 * 0.05)
    _, alpha_bar = linear_schedule()
    alpha_bar = alpha_bar.float()
    T = alpha_bar.numel()

    def step():
        i = torch.randint(0, data.shape[0], (batch,))
        t = torch.randint(1, T + 1, (batch,))
        eps = torch.randn(batch, 2)
        ab = alpha_bar[t - 1].unsqueeze(1)
        x_t = ab.sqrt() * data[i] + (1 - ab).sqrt() * eps
        t_bar = (2 * (t.float() - T / 2) / T).unsqueeze(1)
        loss = F.mse_loss(model(torch.cat([x_t, t_bar], 1)), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        return loss.detach()

    return steps_per_second(steps, step)


@torch.no_grad()
def states_sample(n):
    model = states_mlp()
    beta, alpha_bar = linear_schedule()
    T = beta.numel()
    coef = [(1 / math.sqrt(1 - b), b / math.sqrt(1 - ab), math.sqrt(b)) for b, ab in zip(beta.tolist(), alpha_bar.tolist())]
    started = time.perf_counter()
    x = torch.randn(n, 2)
    t_col = torch.empty(n, 1)
    for t in range(T, 0, -1):
        inv_sqrt_alpha, eps_coef, sigma = coef[t - 1]
        t_col.fill_(2 * (t - T / 2) / T)
        eps = model(torch.cat([x, t_col], 1))
        x = inv_sqrt_alpha * (x - eps_coef * eps)
        if t > 1:
            x = x + sigma * torch.randn_like(x)
    x.sum().item()
    return n / (time.perf_counter() - started)


# ---- MNIST: the shipped UNet (channels 16, 32, 64; one residual block per level; attention at 7²) ----

class ResBlock(nn.Module):
    def __init__(self, c_in, c_out, emb, groups=8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(e))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class Attention(nn.Module):
    def __init__(self, c, groups=8):
        super().__init__()
        self.norm = nn.GroupNorm(groups, c)
        self.qkv = nn.Linear(c, 3 * c)
        self.out = nn.Linear(c, c)

    def forward(self, x):
        b, c, h, w = x.shape
        tokens = self.norm(x).reshape(b, c, h * w).transpose(1, 2)
        q, k, v = self.qkv(tokens).chunk(3, 2)
        weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), 2)
        return x + self.out(weights @ v).transpose(1, 2).reshape(b, c, h, w)


class UNet(nn.Module):
    def __init__(self, channels=(16, 32, 64), res_blocks=1, emb=128, frequencies=16, classes=10):
        super().__init__()
        self.res_blocks = res_blocks
        self.register_buffer("w", torch.randn(frequencies) * 16.0)
        self.time = nn.Sequential(nn.Linear(2 * frequencies, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.cls = nn.Embedding(classes + 1, emb)
        self.input = nn.Conv2d(1, channels[0], 3, padding=1)
        self.down, self.downsample, skips, width = nn.ModuleList(), nn.ModuleList(), [channels[0]], channels[0]
        for level, c in enumerate(channels):
            for _ in range(res_blocks):
                self.down.append(ResBlock(width, c, emb))
                width = c
                skips.append(width)
            if level + 1 < len(channels):
                self.downsample.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
                skips.append(width)
        self.mid = nn.ModuleList([ResBlock(width, width, emb), ResBlock(width, width, emb)])
        self.attention = Attention(width)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(channels))):
            for _ in range(res_blocks + 1):
                self.up.append(ResBlock(width + skips.pop(), channels[level], emb))
                width = channels[level]
            if level > 0:
                self.upsample.append(nn.Conv2d(width, width, 3, padding=1))
        self.out_norm = nn.GroupNorm(8, width)
        self.output = nn.Conv2d(width, 1, 3, padding=1)

    def forward(self, x, t, labels):
        angle = 2 * math.pi * t[:, None] * self.w[None, :]
        e = self.time(torch.cat([angle.sin(), angle.cos()], 1)) + self.cls(labels)
        h = self.input(x)
        skips = [h]
        blocks = iter(self.down)
        for level in range(len(self.downsample) + 1):
            for _ in range(self.res_blocks):
                h = next(blocks)(h, e)
                skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
                skips.append(h)
        h = self.mid[1](self.attention(self.mid[0](h, e)), e)
        blocks = iter(self.up)
        for level in range(len(self.upsample) + 1):
            for _ in range(self.res_blocks + 1):
                h = next(blocks)(torch.cat([h, skips.pop()], 1), e)
            if level < len(self.upsample):
                h = self.upsample[level](F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.output(F.silu(self.out_norm(h)))


def vp_marginal(t, beta_min=0.1, beta_max=20.0):
    """VP SDE: m(t) = exp(−¼ t² (β_max − β_min) − ½ t β_min), s(t) = √(1 − m²)."""
    log_m = -0.25 * t ** 2 * (beta_max - beta_min) - 0.5 * t * beta_min
    m = torch.exp(log_m)
    return m, torch.sqrt(1 - m ** 2)


def mnist_train(batch, steps):
    images = torch.randint(0, 256, (1024, 1, 28, 28), dtype=torch.uint8)
    labels = torch.arange(1024) % 10
    model = UNet()
    ema = UNet()
    ema.load_state_dict(model.state_dict())
    params, ema_params = list(model.parameters()), list(ema.parameters())
    opt = torch.optim.Adam(params, lr=2e-4, eps=1e-8)

    def step():
        i = torch.randint(0, images.shape[0], (batch,))
        x_0 = images[i].float() / 127.5 - 1
        t = torch.rand(batch) * (1 - 1e-5) + 1e-5
        m, s = vp_marginal(t)
        z = torch.randn_like(x_0)
        x_t = m[:, None, None, None] * x_0 + s[:, None, None, None] * z
        y = torch.where(torch.rand(batch) < 0.1, torch.full_like(labels[i], 10), labels[i])
        eps_hat = model(x_t, t, y)
        loss = ((eps_hat - z) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for p in params:  # per-tensor norm clipping at 1, as ours
            torch.nn.utils.clip_grad_norm_(p, 1.0)
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, params, 1 - 0.9999)
        return loss.detach()

    return steps_per_second(steps, step)


@torch.no_grad()
def mnist_sample(batch, steps):
    """DPM-Solver++(2M) on the VP SDE: x ← (s_next/s) x − m_next (e^{−h} − 1) D, D from the last
    two data predictions; image evaluations/s."""
    model = UNet()
    labels = torch.arange(batch) % 10
    ts = torch.linspace(1.0, 1e-3, steps + WARMUP + 1)
    x = torch.randn(batch, 1, 28, 28)
    prev = None
    started = None
    for k in range(steps + WARMUP):
        if k == WARMUP:
            x.sum().item()
            started = time.perf_counter()
        t, t_next = ts[k], ts[k + 1]
        m, s = vp_marginal(t)
        m_next, s_next = vp_marginal(t_next)
        x0 = (x - s * model(x, t.repeat(batch), labels)) / m
        h = torch.log(m_next / s_next) - torch.log(m / s)
        d = x0 if prev is None else (1 + 0.5) * x0 - 0.5 * prev
        x = (s_next / s) * x - m_next * torch.expm1(-h) * d
        prev = x0
    x.sum().item()
    return batch * steps / (time.perf_counter() - started)


def steps_per_second(steps, step):
    for _ in range(WARMUP):
        step().item()
    started = time.perf_counter()
    losses = [step() for _ in range(steps)]
    torch.stack(losses).sum().item()
    return steps / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", choices=["states-train", "states-sample", "mnist-train", "mnist-sample"])
    parser.add_argument("--batch", type=int)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count())
    if args.workload == "states-train":
        batch = args.batch or 10_000
        rate, unit = states_train(batch, args.steps), "steps/s"
    elif args.workload == "states-sample":
        batch = args.n
        rate, unit = states_sample(args.n), "samples/s"
    elif args.workload == "mnist-train":
        batch = args.batch or 128
        rate, unit = mnist_train(batch, args.steps), "steps/s"
    else:
        batch = args.batch or 128
        rate, unit = mnist_sample(batch, args.steps), "image evaluations/s"
    print(json.dumps({"impl": "torch " + torch.__version__, "workload": args.workload, "batch": batch,
                      "rate": rate, "unit": unit}))


if __name__ == "__main__":
    main()
