"""Foil speed: iterations per second and generated images per second, for stated configurations.

    python benchmarks/bench_foil.py                    # prints a table, appends it to docs/BENCHMARKS.md
    python benchmarks/bench_foil.py --device cuda --no-write

One foil iteration = G forward on a batch of z, D forward, inverted loss, backward through the
frozen D into G, one Adam step (as in uncanny.foil). Generation = G forward without gradients.
Weights are random (speed does not depend on them); architectures are the real ones.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
import torch.nn.functional as F

from uncanny import adapters
from uncanny.nets.stylegan2 import set_reference, set_winograd

from report import add_malloc_option, append_section, apply_malloc  # benchmarks/report.py (this script's folder is on sys.path)

CONFIGS = {
    # name: (arch, config, batch)
    "tiny16 (tests)": ("stylegan2", dict(size=16, style_dim=32, n_mlp=2, channel_max=16), 8),
    "faces64v2 (embedded default)": ("stylegan2", dict(size=64, style_dim=256, n_mlp=2, channel_multiplier=1,
                                                       channel_max=256, channel_base=8192, mbstd_group=16), 8),
    "faces64 (the first default)": ("stylegan2", dict(size=64, style_dim=256, n_mlp=8, channel_multiplier=1,
                                                      channel_max=256, channel_base=2048), 8),
    "rosinality 64px cm=1": ("stylegan2", dict(size=64, style_dim=512, n_mlp=8, channel_multiplier=1), 8),
    "dcgan64 (gan-face-generate)": ("dcgan", {}, 8),
}


def time_it(fn, min_time=3.0, warmup=1):
    for _ in range(warmup):
        fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_time or n < 2:
        fn()
        n += 1
    return (time.perf_counter() - start) / n


def bench(arch, config, batch, device, fused=False, min_time=3.0, winograd=True):
    torch.manual_seed(0)
    G, D = adapters.build(arch, config)
    G, D = G.to(device).eval(), D.to(device).eval()
    if arch == "stylegan2":
        set_reference(G, fused)
        set_reference(D, fused)
        set_winograd(G, winograd)
        set_winograd(D, winograd)
    D.requires_grad_(False)
    opt = torch.optim.Adam(G.parameters(), lr=0.002, betas=(0.0, 0.99))
    gan = adapters.adapter_for(arch)(G, D, None, config, {}, "bench")
    zdim = gan.z_dim

    def step():
        z = torch.randn(batch, zdim, device=device)
        img = gan.train_images(z)
        loss = F.softplus(D(img)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    gen_batch = 32

    @torch.no_grad()
    def gen():
        gan.generate(torch.randn(gen_batch, zdim, device=device))
        if device.type == "cuda":
            torch.cuda.synchronize()

    t_step = time_it(step, min_time)
    t_gen = time_it(gen, min_time)
    return t_step, gen_batch / t_gen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--min-time", type=float, default=3.0)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--only", help="substring of a config name")
    add_malloc_option(ap)
    a = ap.parse_args()
    apply_malloc(a.malloc)
    device = torch.device(a.device)
    rows = []
    for name, (arch, cfg, batch) in CONFIGS.items():
        if a.only and a.only not in name:
            continue
        variants = [("fast path (default)", False, True)]
        if arch == "stylegan2":
            variants += [("fast path, direct 3x3 convs", False, False), ("reference formulations", True, False)]
        for vname, fused, winograd in variants:
            t, ips = bench(arch, cfg, batch, device, fused, a.min_time, winograd)
            rows.append((name, vname, batch, t, 1 / t, ips))
            print(f"{name:<30} {vname:<18} batch {batch}: {t:7.3f} s/iter  {1 / t:7.2f} iter/s  {ips:8.1f} img/s",
                  flush=True)
    if not a.no_write:
        path = append_section(
            f"{platform.processor() or platform.machine()}, device {device}, malloc {a.malloc}",
            ["configuration", "layers", "batch", "s / foil iter", "foil iter / s", "generated img / s (batch 32)"],
            [[n, v, b, f"{t:.3f}", f"{r:.2f}", f"{i:.1f}"] for n, v, b, t, r, i in rows])
        print(f"appended to {path}")

if __name__ == "__main__":
    main()
