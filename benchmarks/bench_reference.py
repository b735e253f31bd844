"""Foil step, ours vs rosinality's reference code (its native, non-CUDA paths), side by side.

    python benchmarks/bench_reference.py --rosinality-sg2 ~/src/stylegan2-pytorch

Configuration: Generator(64, 512, 8, channel_multiplier=1) through a frozen
Discriminator(64, channel_multiplier=1), batch 8, softplus(D(G(z))) backward into G.
Reports seconds per step for each, the speed-up, the largest difference in loss and in G's
gradients (same weights, same z, same noise), and achieved FLOP/s (counted with
torch.utils.flop_counter) as a fraction of a plain 2048x2048 float32 GEMM on the same machine.
Appends a table to docs/BENCHMARKS.md unless --no-write.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
from check_equivalence import rosinality_sg2  # noqa: E402

from uncanny.nets import stylegan2 as S2  # noqa: E402


def gemm_flops(n=2048, reps=10):
    a = torch.randn(n, n)
    a @ a
    t = time.perf_counter()
    for _ in range(reps):
        a @ a
    return 2 * n ** 3 * reps / (time.perf_counter() - t)


def make_step(G, D, z, noise):
    def step():
        G.zero_grad(set_to_none=True)
        img, _ = G([z], noise=noise)
        loss = F.softplus(D(img)).mean()
        loss.backward()
        return loss.detach(), [p.grad.detach().clone() for p in G.parameters()]
    return step


def timed(step, reps):
    step()
    t = time.perf_counter()
    for _ in range(reps):
        out = step()
    return (time.perf_counter() - t) / reps, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rosinality-sg2", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    R = rosinality_sg2(a.rosinality_sg2)
    torch.manual_seed(0)
    rg, rd = R.Generator(64, 512, 8, channel_multiplier=1), R.Discriminator(64, channel_multiplier=1)
    g, d = S2.Generator(64, 512, 8, channel_multiplier=1), S2.Discriminator(64, channel_multiplier=1)
    g.load_state_dict(rg.state_dict())
    d.load_state_dict(rd.state_dict())
    for m in (rd, d):
        m.requires_grad_(False)
    z, noise = torch.randn(a.batch, 512), g.make_noise()
    noise = [n.expand(a.batch, -1, -1, -1).contiguous() for n in noise]

    ours_step, ref_step = make_step(g, d, z, noise), make_step(rg, rd, z, noise)
    with FlopCounterMode(display=False) as fc:
        ours_step()
    flops = fc.get_total_flops()
    t_ref, (loss_ref, grads_ref) = timed(ref_step, a.reps)
    t_ours, (loss_ours, grads_ours) = timed(ours_step, a.reps)
    peak = gemm_flops()
    dloss = (loss_ref - loss_ours).abs().item()
    dgrad = max(((x - y).abs().max() / (y.abs().max() + 1e-12)).item() for x, y in zip(grads_ours, grads_ref))
    rows = [("rosinality reference (native ops)", t_ref), ("uncanny (batched modulation)", t_ours)]
    for name, t in rows:
        print(f"{name:<36} {t:7.3f} s/step  {flops / t / 1e9:6.1f} GFLOP/s  ({flops / t / peak:.0%} of GEMM)")
    print(f"speed-up {t_ref / t_ours:.2f}x; |loss difference| {dloss:.2e}; max relative gradient difference {dgrad:.2e}")
    print(f"step = {flops / 1e9:.0f} GFLOP; plain 2048 GEMM {peak / 1e9:.0f} GFLOP/s; threads {torch.get_num_threads()}")
    if not a.no_write:
        path = os.path.join(os.path.dirname(__file__), "..", "docs", "BENCHMARKS.md")
        with open(path, "a") as f:
            f.write(f"\n## {datetime.date.today()} - foil step vs reference, 64 px cm=1, batch {a.batch}, "
                    f"{torch.get_num_threads()} threads, torch {torch.__version__}\n\n"
                    "| implementation | s / step | GFLOP/s | fraction of 2048 GEMM |\n| --- | --- | --- | --- |\n")
            for name, t in rows:
                f.write(f"| {name} | {t:.3f} | {flops / t / 1e9:.1f} | {flops / t / peak:.0%} |\n")
            f.write(f"\nSpeed-up {t_ref / t_ours:.2f}x. Same weights, z and noise: |loss difference| {dloss:.1e}, "
                    f"max relative gradient difference {dgrad:.1e}. One step = {flops / 1e9:.0f} GFLOP "
                    f"(torch.utils.flop_counter); plain 2048x2048 GEMM: {peak / 1e9:.0f} GFLOP/s.\n")


if __name__ == "__main__":
    main()
