"""Foil step, ours vs rosinality's reference code (its native, non-CUDA paths), side by side.

    python benchmarks/bench_reference.py --rosinality-sg2 ~/src/stylegan2-pytorch
    python benchmarks/bench_reference.py --rosinality-sg2 ~/src/stylegan2-pytorch --malloc system

Configuration: Generator(64, 512, 8, channel_multiplier=1) through a frozen
Discriminator(64, channel_multiplier=1), batch 8, softplus(D(G(z))) backward into G.
The implementations run in alternating rounds (a shared machine's slow spells hit all alike); reports
each one's best seconds per step (rows: the reference; ours; ours with direct 3x3 convs
instead of Winograd, `set_winograd(m, False)`), the speed-up (and the median per-round ratio), the
differences in loss, image and G's gradients (same weights, z and noise), how far each is
from the same step in float64, and effective FLOP/s (the step's FLOPs as written, counted with
torch.utils.flop_counter on ours with direct convs, over the time)
as a fraction of a plain 2048x2048 float32 GEMM (best of 10) on the same machine.
--malloc says how glibc's allocator is set for the whole process (both implementations):
`retain` (default, what the `uncanny` command does) keeps freed memory for reuse, `system`
leaves glibc's defaults, under which every step faults in fresh pages for its large tensors.
Appends a table to docs/BENCHMARKS.md unless --no-write.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from report import add_malloc_option, append_section, apply_malloc  # noqa: E402  (benchmarks/report.py)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
from check_equivalence import rosinality_sg2  # noqa: E402

from uncanny.nets import stylegan2 as S2  # noqa: E402


def gemm_flops(n=2048, reps=10):
    """Best of `reps` timings of one n x n float32 GEMM (the machine's attainable rate)."""
    a = torch.randn(n, n)
    a @ a
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def make_step(G, D, z, noise):
    def step():
        G.zero_grad(set_to_none=True)
        img, _ = G([z], noise=noise)
        loss = F.softplus(D(img)).mean()
        loss.backward()
        return loss.detach(), img.detach(), [(n, p.grad.detach().clone()) for n, p in G.named_parameters()]
    return step


def timed_rounds(steps, reps):
    """Run the steps in turn, `reps` rounds (so a slow spell of a shared machine hits all alike);
    returns each one's best time and last result, and the median over the rounds of the first
    step's time over each step's time."""
    for step in steps:
        step()
    times, outs = [[] for _ in steps], [None] * len(steps)
    for _ in range(reps):
        for i, step in enumerate(steps):
            t = time.perf_counter()
            outs[i] = step()
            times[i].append(time.perf_counter() - t)
    medians = [sorted(a / b for a, b in zip(times[0], ts))[reps // 2] for ts in times]
    return [min(ts) for ts in times], outs, medians


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rosinality-sg2", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--no-write", action="store_true")
    add_malloc_option(ap)  # both implementations run in this one process under the same setting
    a = ap.parse_args()
    if a.malloc == "retain" and not apply_malloc(a.malloc):
        sys.exit("--malloc retain needs glibc")
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
    direct_step = make_step(S2.set_winograd(copy.deepcopy(g), False), S2.set_winograd(copy.deepcopy(d), False),
                            z, noise)
    # The step's FLOPs as written: ours with direct convolutions (torch's counter miscounts the
    # reference's grouped transposed convs). With Winograd ours does fewer multiplications, so
    # the rates below are effective ones against the step as written.
    with FlopCounterMode(display=False) as fc:
        direct_step()
    flops = fc.get_total_flops()
    with FlopCounterMode(display=False) as fc:
        ours_step()
    flops_ours = fc.get_total_flops()
    (t_ref, t_ours, t_direct), outs, (_, median_ratio, median_direct) = \
        timed_rounds([ref_step, ours_step, direct_step], a.reps)
    (loss_ref, img_ref, grads_ref), (loss_ours, img_ours, grads_ours) = outs[:2]
    peak = gemm_flops()
    dloss = (loss_ref - loss_ours).abs().item()
    dimg = (img_ref - img_ours).abs().max().item()
    # Gradients: relative L2 difference over all of G's parameters, and the tensor whose
    # largest element differs most relative to that tensor's largest element.
    diff2 = sum(((x - y) ** 2).sum() for (_, x), (_, y) in zip(grads_ours, grads_ref))
    dgrad = (diff2 / sum((y ** 2).sum() for _, y in grads_ref)).sqrt().item()
    worst = max((((x - y).abs().max() / (y.abs().max() + 1e-12)).item(), n, y.numel())
                for (n, x), (_, y) in zip(grads_ours, grads_ref))
    # Which of the two is closer to the truth? The same step in float64 (our reference
    # formulations, which equal rosinality's) as the yardstick for both float32 results.
    g64, d64 = copy.deepcopy(g).double(), copy.deepcopy(d).double()
    S2.set_reference(g64, True)
    S2.set_reference(d64, True)
    _, img64, grads64 = make_step(g64, d64, z.double(), [n.double() for n in noise])()

    def rel_err(grads):
        num = sum(((x.double() - y) ** 2).sum() for (_, x), (_, y) in zip(grads, grads64))
        return (num / sum((y ** 2).sum() for _, y in grads64)).sqrt().item()
    err_ref, err_ours = rel_err(grads_ref), rel_err(grads_ours)
    rows = [("rosinality reference (native ops)", t_ref), ("uncanny (fast path)", t_ours),
            ("uncanny (fast path, direct 3x3 convs)", t_direct)]
    for name, t in rows:
        print(f"{name:<36} {t:7.3f} s/step  {flops / t / 1e9:6.1f} GFLOP/s  ({flops / t / peak:.0%} of GEMM)")
    print(f"speed-up {t_ref / t_ours:.2f}x (best times; median of {a.reps} alternating rounds {median_ratio:.2f}x; "
          f"without Winograd {t_ref / t_direct:.2f}x, median {median_direct:.2f}x); |loss difference| {dloss:.2e}; max |image difference| {dimg:.2e} "
          f"(images up to {img_ref.abs().max():.1f}); relative L2 difference of G's gradients {dgrad:.2e}; "
          f"worst single tensor {worst[1]} ({worst[2]} elements): {worst[0]:.2e} of its largest element")
    print(f"against float64: gradients' relative L2 error reference {err_ref:.2e}, ours {err_ours:.2e}; "
          f"max |image error| reference {(img_ref.double() - img64).abs().max():.2e}, "
          f"ours {(img_ours.double() - img64).abs().max():.2e}")
    print(f"step = {flops / 1e9:.0f} GFLOP as written (ours performs {flops_ours / 1e9:.0f}); plain 2048 GEMM {peak / 1e9:.0f} GFLOP/s; threads {torch.get_num_threads()}; malloc {a.malloc}")
    if not a.no_write:
        append_section(
            f"foil step vs reference, 64 px cm=1, batch {a.batch}, malloc {a.malloc}",
            ["implementation", "s / step (best)", "effective GFLOP/s", "fraction of 2048 GEMM"],
            [[name, f"{t:.3f}", f"{flops / t / 1e9:.1f}", f"{flops / t / peak:.0%}"] for name, t in rows],
            f"Speed-up {t_ref / t_ours:.2f}x (best of {a.reps} alternating rounds each; median of the "
            f"per-round ratios {median_ratio:.2f}x); with direct 3x3 convs instead of Winograd "
            f"{t_ref / t_direct:.2f}x (median {median_direct:.2f}x). Same weights, z and noise: |loss difference| {dloss:.1e}, "
            f"max |image difference| {dimg:.1e}, relative L2 difference of G's gradients {dgrad:.1e} "
            f"(worst single tensor: {worst[1]}, {worst[0]:.1e} of its largest element). "
            f"Against the same step in float64, the gradients' relative L2 error is {err_ref:.1e} for the "
            f"reference and {err_ours:.1e} for ours. One step = {flops / 1e9:.0f} GFLOP as written "
            f"(torch.utils.flop_counter on ours with direct convs; GFLOP/s above are effective rates against it, "
            f"ours performs {flops_ours / 1e9:.0f} GFLOP with Winograd 3x3 convs); plain 2048x2048 GEMM: {peak / 1e9:.0f} GFLOP/s.")

if __name__ == "__main__":
    main()
