"""Training speed: rosinality's train.py against our trainer, side by side in one process.

    python benchmarks/bench_train.py --rosinality-sg2 ~/src/stylegan2-pytorch
    python benchmarks/bench_train.py --rosinality-sg2 ~/src/stylegan2-pytorch --malloc system

Same configuration for both: Generator(64, 512, 8, channel_multiplier=1) and
Discriminator(64, channel_multiplier=1) from the same initial weights, batch 16, rosinality's
defaults (non-saturating logistic loss, R1 gamma 10 every 16 steps, path-length weight 2 every
4 steps on half the batch, style mixing 0.9, Adam lr 0.002 with the lazy-regularisation
corrections, G_ema every step, no augmentation). The reference is rosinality's own `train()`
function from the checkout, run for one regularisation period (iterations 1-16: one R1 step and
four path-length steps, so the mix of work is the amortised one); ours is `Trainer.step` for the
same iterations (warmed up by one plain iteration each), once in float32 and once with bf16 autocast (what `--precision auto` picks on a
CPU with native bf16). The three alternate round by round (a shared machine's slow spells hit all
alike); each one's best round is reported, and the median per-round ratio.

A second table gives what the speed buys in practice: our trainer at the shipped recipe
(`TrainConfig` defaults, DiffAugment on) in kimg per hour.

rosinality's train.py imports torchvision, lmdb and wandb at module level for things this
benchmark does not use (saving sample grids, reading its dataset format); stand-ins are given
for those, and its CUDA ops are replaced by the checkout's own pure-PyTorch fallbacks, as in
scripts/check_equivalence.py. Appends to docs/BENCHMARKS.md unless --no-write.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from report import add_malloc_option, append_section, apply_malloc  # noqa: E402  (benchmarks/report.py)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
from check_equivalence import _module_from, rosinality_sg2  # noqa: E402

from uncanny import adapters  # noqa: E402
from uncanny.train import TrainConfig, Trainer  # noqa: E402

PERIOD = 16  # iterations 1..16 hold one R1 step (every 16) and four path-length steps (every 4)


def rosinality_train_module(repo):
    """rosinality's train.py as a module, with stand-ins for what it imports but the training
    step never calls (torchvision's image saving, the LMDB dataset)."""
    R = rosinality_sg2(repo)  # installs the `op` stand-in and returns model.py
    tv = types.ModuleType("torchvision")
    tv.transforms, tv.utils = types.ModuleType("torchvision.transforms"), types.ModuleType("torchvision.utils")
    dataset = types.ModuleType("dataset")
    dataset.MultiResolutionDataset = None
    sys.modules.update({"torchvision": tv, "torchvision.transforms": tv.transforms,
                        "torchvision.utils": tv.utils, "dataset": dataset})
    sys.path.insert(0, repo)  # distributed.py, non_leaking.py
    return R, _module_from(os.path.join(repo, "train.py"), "rosinality_train")


def reference_period(T, G, D, G_ema, batch, iters=PERIOD):
    """One call of rosinality's train() over iterations 1..iters, with its own optimisers."""
    args = types.SimpleNamespace(
        iter=iters, start_iter=1, batch=batch, latent=512, mixing=0.9, augment=False, augment_p=0,
        ada_target=0.6, ada_length=500_000, d_reg_every=16, g_reg_every=4, r1=10, path_regularize=2,
        path_batch_shrink=2, n_sample=16, distributed=False, wandb=False, lr=0.002)
    g_ratio, d_ratio = args.g_reg_every / (args.g_reg_every + 1), args.d_reg_every / (args.d_reg_every + 1)
    g_opt = torch.optim.Adam(G.parameters(), lr=args.lr * g_ratio, betas=(0 ** g_ratio, 0.99 ** g_ratio))
    d_opt = torch.optim.Adam(D.parameters(), lr=args.lr * d_ratio, betas=(0 ** d_ratio, 0.99 ** d_ratio))
    loader = [torch.rand(batch, 3, 64, 64) * 2 - 1 for _ in range(4)]

    def run():
        T.train(args, loader, G, D, g_opt, d_opt, G_ema, torch.device("cpu"))
    return run


def ours_period(G, D, G_ema, batch, precision, iters=PERIOD, **cfg):
    cfg = TrainConfig(data="", out="", batch=batch, precision=precision, **cfg)
    trainer = Trainer(cfg, G, D, G_ema, torch.device("cpu"))
    reals = torch.rand(batch, 3, 64, 64) * 2 - 1

    def run():
        for i in range(1, iters + 1):
            trainer.step(i, lambda: reals)
    return run


def timed_rounds(runs, rounds, warmups=()):
    """The warm-ups (one plain iteration of each) once, then `rounds` alternating rounds; best
    seconds per run and the median over rounds of run 0's time over each run's time."""
    for w in warmups:
        w()
    times = [[] for _ in runs]
    for k in range(rounds):
        for i, r in enumerate(runs):
            t = time.perf_counter()
            r()
            times[i].append(time.perf_counter() - t)
            print(f"round {k + 1}, run {i}: {times[i][-1]:.1f} s", flush=True)
    medians = [sorted(a / b for a, b in zip(times[0], ts))[rounds // 2] for ts in times]
    return [min(ts) for ts in times], medians


def kimg_per_hour(seconds_per_period, batch):
    return 3600 / (seconds_per_period / PERIOD / batch * 1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rosinality-sg2", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--no-write", action="store_true")
    add_malloc_option(ap)  # both implementations run in this one process under the same setting
    a = ap.parse_args()
    if a.malloc == "retain" and not apply_malloc(a.malloc):
        sys.exit("--malloc retain needs glibc")
    R, T = rosinality_train_module(a.rosinality_sg2)

    torch.manual_seed(0)
    rg, rd, rg_ema = R.Generator(64, 512, 8, channel_multiplier=1), R.Discriminator(64, channel_multiplier=1), \
        R.Generator(64, 512, 8, channel_multiplier=1)
    rg_ema.load_state_dict(rg.state_dict())
    ours, warm = {}, [reference_period(T, rg, rd, rg_ema, a.batch, iters=1)]
    for precision in ("fp32", "bf16"):
        g, d = adapters.build("stylegan2", {"size": 64, "style_dim": 512, "n_mlp": 8, "channel_multiplier": 1})
        g_ema, _ = adapters.build("stylegan2", {"size": 64, "style_dim": 512, "n_mlp": 8, "channel_multiplier": 1})
        for mine, theirs in ((g, rg), (d, rd), (g_ema, rg)):
            mine.load_state_dict(theirs.state_dict())
        recipe = dict(style_dim=512, lr=0.002, r1_gamma=10, pl_weight=2, g_reg_every=4, pl_batch_shrink=2, d_reg_every=16,
                      mixing=0.9, augment="", ema_kimg=10, ema_rampup=None)
        ours[precision] = ours_period(g, d, g_ema.eval(), a.batch, precision, **recipe)
        warm.append(ours_period(g, d, g_ema.eval(), a.batch, precision, iters=1, **recipe))
    runs = [reference_period(T, rg, rd, rg_ema, a.batch), ours["fp32"], ours["bf16"]]
    (t_ref, t32, t16), (_, m32, m16) = timed_rounds(runs, a.rounds, warm)

    # What the speed buys: the shipped recipe at its own size.
    d = TrainConfig(data="", out="")
    arch = {"size": 64, "style_dim": d.style_dim, "n_mlp": d.n_mlp, "channel_multiplier": d.channel_multiplier,
            "channel_max": d.channel_max, "channel_base": d.channel_base}
    shipped, warm = [], []
    for precision in ("fp32", "bf16"):
        g, dd = adapters.build("stylegan2", arch)
        g_ema, _ = adapters.build("stylegan2", arch)
        g_ema.load_state_dict(g.state_dict())
        shipped.append(ours_period(g, dd, g_ema.eval(), d.batch, precision))
        warm.append(ours_period(g, dd, g_ema.eval(), d.batch, precision, iters=1))
    (r32, r16), _ = timed_rounds(shipped, a.rounds, warm)

    rows = [["rosinality train.py (native ops)", t_ref, 1.0, 1.0],
            ["uncanny Trainer, float32", t32, t_ref / t32, m32],
            ["uncanny Trainer, bf16 autocast", t16, t_ref / t16, m16]]
    for name, t, sp, med in rows:
        print(f"{name:<34} {t / PERIOD:7.2f} s/iteration  {kimg_per_hour(t, a.batch):6.2f} kimg/h  "
              f"speed-up {sp:.2f}x (median per round {med:.2f}x)")
    rec_rows = [[f"uncanny Trainer, shipped recipe, {p}", t] for p, t in (("float32", r32), ("bf16 autocast", r16))]
    for name, t in rec_rows:
        print(f"{name:<34} {t / PERIOD:7.2f} s/iteration  {kimg_per_hour(t, d.batch):6.1f} kimg/h")
    if not a.no_write:
        append_section(
            f"training step vs rosinality train.py, 64 px cm=1 (512 ch), batch {a.batch}, malloc {a.malloc}",
            ["implementation", "s / iteration (best round)", "kimg / hour", "speed-up (median per round)"],
            [[n, f"{t / PERIOD:.2f}", f"{kimg_per_hour(t, a.batch):.2f}", f"{sp:.2f}x ({med:.2f}x)"]
             for n, t, sp, med in rows]
            + [[n + f" (channel_base {d.channel_base}, DiffAugment)", f"{t / PERIOD:.2f}",
                f"{kimg_per_hour(t, d.batch):.1f}", ""] for n, t in rec_rows],
            f"One round = iterations 1-{PERIOD} (one R1 step, four path-length steps), rosinality's defaults "
            f"for both (R1 10, path length 2, mixing 0.9, lr 0.002, no augmentation), {a.rounds} alternating "
            f"rounds after one warm-up iteration of each. The last two rows are the shipped recipe (path length off, "
            f"DiffAugment on), for the kimg/hour it trains at.")


if __name__ == "__main__":
    main()
