"""Train a StyleGAN2 (G, G_ema and D) on a prepared folder of aligned faces.

    uncanny data prepare celeba data/celeba64 --res 64
    uncanny train data/celeba64 --out runs/faces64 --kimg 200
    uncanny train data/celeba64 --out runs/faces64 --kimg 300 --resume     # continue / extend
    torchrun --nproc_per_node 4 -m uncanny train data/celeba64 --out runs/x   # data-parallel

Recipe: non-saturating logistic loss, lazy R1 on reals every `d_reg_every` steps,
DiffAugment (colour, translation, cutout) on everything D sees, horizontal flips, style
mixing, an exponential moving average of G (G_ema), Adam(0, 0.99). No path-length
regulariser (it roughly doubles the cost of a G step on a CPU).

Outputs in --out: snapshots/kimg-NNNNNN.safetensors (G, G_ema, D) and samples/kimg-NNNNNN.png
every --snap kimg, log.csv, run.json, and resume.safetensors (weights + optimiser state).
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from . import __version__, nets
from .augment import diff_augment
from .checkpoint import load_state, save_checkpoint, save_state
from .data import load_dataset
from .errors import UncannyError
from .media import grid, save_png, to_uint8
from .util import ensure_dir, progress, resolve_device, seed_z


@dataclass
class TrainConfig:
    data: str
    out: str
    kimg: float = 200.0            # training length, thousands of real images shown to D
    batch: int = 16
    style_dim: int = 256
    n_mlp: int = 8
    channel_multiplier: int = 1
    channel_max: int | None = 256
    channel_base: int | None = 2048  # widths 4-8 px: 256, 16: 128, 32: 64, 64: 32
    lr: float = 0.0025
    r1_gamma: float = 0.1
    d_reg_every: int = 16
    ema_kimg: float = 5.0          # half-life of the G_ema average, in kimg
    ema_rampup: float | None = 0.05
    mixing: float = 0.9
    augment: str = "color,translation,cutout"
    flip: bool = True
    snap: float = 10.0             # snapshot every N kimg
    n_sample: int = 32             # fixed-seed sample grid per snapshot
    seed: int = 0
    device: str | None = None
    resume: bool = False
    overwrite: bool = False
    extra: dict = field(default_factory=dict)


def _ddp():
    """(rank, world_size) and init the process group when launched by torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch.distributed as dist
        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _sync_grads(module, world: int) -> None:
    """Average gradients over all ranks (no-op on one process)."""
    if world == 1:
        return
    import torch.distributed as dist
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if grads:
        flat = torch.cat([g.flatten() for g in grads])
        dist.all_reduce(flat)
        flat /= world
        offset = 0
        for g in grads:
            g.copy_(flat[offset: offset + g.numel()].view_as(g))
            offset += g.numel()


@torch.no_grad()
def _accumulate(ema, model, beta):
    for pe, p in zip(ema.parameters(), model.parameters()):
        pe.lerp_(p, 1 - beta)
    for be, b in zip(ema.buffers(), model.buffers()):
        be.copy_(b)


def _mixing_z(batch, dim, prob, device):
    if prob > 0 and torch.rand(()).item() < prob:
        return list(torch.randn(2, batch, dim, device=device).unbind(0))
    return [torch.randn(batch, dim, device=device)]


def train(cfg: TrainConfig, show_progress: bool = True) -> str:
    """Run (or resume) training; returns the path of the last snapshot."""
    rank, world = _ddp()
    device = resolve_device(cfg.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    if cfg.kimg <= 0:
        raise UncannyError(f"--kimg {cfg.kimg}: must be positive")
    if cfg.batch % world or cfg.batch < 2:
        raise UncannyError(f"--batch {cfg.batch}: must be at least 2 and divisible by the {world} processes")
    data = load_dataset(cfg.data)
    res = data.shape[1]
    if res & (res - 1) or res < 8:
        raise UncannyError(f"{cfg.data}: resolution {res} is not a power of two >= 8")

    resume_path = os.path.join(cfg.out, "resume.safetensors")
    if rank == 0:
        if os.path.isdir(cfg.out) and os.listdir(cfg.out) and not (cfg.resume or cfg.overwrite):
            raise UncannyError(f"{cfg.out}: run folder exists (use --resume to continue or --overwrite)")
        if cfg.overwrite and not cfg.resume and os.path.isdir(cfg.out):
            shutil.rmtree(cfg.out)
        for sub in ("", "snapshots", "samples"):
            ensure_dir(os.path.join(cfg.out, sub), "run folder")
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank

    arch_cfg = {"size": res, "style_dim": cfg.style_dim, "n_mlp": cfg.n_mlp,
                "channel_multiplier": cfg.channel_multiplier, "channel_max": cfg.channel_max,
                "channel_base": cfg.channel_base}
    G, D = nets.build("stylegan2", arch_cfg)
    G_ema, _ = nets.build("stylegan2", arch_cfg)
    G_ema.load_state_dict(G.state_dict())
    G, D, G_ema = G.to(device), D.to(device), G_ema.to(device).eval()
    G_ema.requires_grad_(False)
    d_ratio = cfg.d_reg_every / (cfg.d_reg_every + 1)  # lazy-regularisation correction
    g_opt = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.0, 0.99))
    d_opt = torch.optim.Adam(D.parameters(), lr=cfg.lr * d_ratio, betas=(0.0, 0.99 ** d_ratio))

    step, t_spent = 0, 0.0
    if cfg.resume and os.path.isfile(resume_path):
        info, extra = load_state(resume_path, {"g": G, "g_ema": G_ema, "d": D}, {"g": g_opt, "d": d_opt})
        step, t_spent = info["step"], info["seconds"]
        if "rng" in extra and rank == 0:
            torch.set_rng_state(extra["rng"])
    elif cfg.resume and rank == 0 and os.path.isdir(cfg.out) and os.listdir(os.path.join(cfg.out, "snapshots")):
        raise UncannyError(f"{resume_path}: missing, cannot resume this run")

    torch.manual_seed(cfg.seed * 1000 + rank + step)  # each rank draws its own latents and reals
    # Data-parallel without DDP wrappers (lazy R1 differentiates twice, which DDP's reducer does
    # not support): every rank computes gradients on its share of the batch, then they are averaged.

    licence = json.load(open(os.path.join(cfg.data, "dataset.json"))).get("licence")  # travels with snapshots
    reals = torch.from_numpy(data).permute(0, 3, 1, 2).contiguous()  # uint8 (N, 3, H, W), in memory
    local_batch = cfg.batch // world
    total_steps = math.ceil(cfg.kimg * 1000 / cfg.batch)
    snap_steps = max(1, round(cfg.snap * 1000 / cfg.batch))
    sample_z = seed_z(range(cfg.n_sample), cfg.style_dim, device)
    log_path = os.path.join(cfg.out, "log.csv")
    run_info = {"config": asdict(cfg), "arch": arch_cfg, "version": __version__, "torch": torch.__version__,
                "machine": platform.platform(), "cpu_threads": torch.get_num_threads(),
                "device": str(device), "world_size": world, "dataset_images": len(reals)}

    def real_batch():
        idx = torch.randint(0, len(reals), (local_batch,))
        x = reals[idx].to(device).float() / 127.5 - 1
        if cfg.flip:
            flip = torch.rand(local_batch, device=device) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        return x

    def snapshot(step_now):
        kimg = step_now * cfg.batch / 1000
        tag = f"kimg-{round(kimg):06d}" if kimg >= 1 or kimg == 0 else f"img-{step_now * cfg.batch:06d}"
        meta = {"provenance": {"trained_with": f"uncanny-lab {__version__}", "data": os.path.abspath(cfg.data),
                               "dataset_images": len(reals)},
                "training": {"step": step_now, "kimg": kimg, "seconds": t_spent, "batch": cfg.batch}}
        if licence:
            meta["provenance"]["licence"] = licence
        with torch.no_grad():
            w_avg = G_ema.mean_latent(4096)
            imgs = torch.cat([nets.generate(G_ema, z) for z in sample_z.split(16)])
        save_png(os.path.join(cfg.out, "samples", tag + ".png"), grid(to_uint8(imgs), ncol=8))
        path = os.path.join(cfg.out, "snapshots", tag + ".safetensors")
        save_checkpoint(path, "stylegan2", arch_cfg, {"g": G, "g_ema": G_ema, "d": D}, meta, w_avg=w_avg)
        save_state(resume_path, {"g": G, "g_ema": G_ema, "d": D}, {"g": g_opt, "d": d_opt},
                   {"step": step_now, "seconds": t_spent}, {"rng": torch.get_rng_state()})
        return path

    if rank == 0:
        with open(os.path.join(cfg.out, "run.json"), "w") as f:
            json.dump(run_info, f, indent=1, default=str)
        if step == 0:
            snapshot(0)
        new_log = not os.path.isfile(log_path)
        log_f = open(log_path, "a", newline="")
        log = csv.writer(log_f)
        if new_log:
            log.writerow(["step", "kimg", "loss_d", "loss_g", "r1", "d_real", "d_fake", "sec_per_kimg"])

    last_path = None
    bar = progress(range(step, total_steps), initial=step, total=total_steps, desc="train",
                   disable=rank != 0 or not show_progress)
    t_last = time.time()
    r1_val = 0.0
    for step in bar:
        # ---- D step: real -> high logit, fake -> low
        G.requires_grad_(False)
        D.requires_grad_(True)
        with torch.no_grad():
            fake, _ = G(_mixing_z(local_batch, cfg.style_dim, cfg.mixing, device))
        real = real_batch()
        fake_logit = D(diff_augment(fake, cfg.augment))
        real_logit = D(diff_augment(real, cfg.augment))
        loss_d = F.softplus(fake_logit).mean() + F.softplus(-real_logit).mean()
        d_opt.zero_grad(set_to_none=True)
        loss_d.backward()
        _sync_grads(D, world)
        d_opt.step()

        if step % cfg.d_reg_every == 0:  # lazy R1: gamma/2 * ||grad_x D(x)||^2 on reals
            real = real_batch().requires_grad_(True)
            logit = D(diff_augment(real, cfg.augment))
            (grad,) = torch.autograd.grad(logit.sum(), real, create_graph=True)
            r1 = grad.pow(2).flatten(1).sum(1).mean()
            d_opt.zero_grad(set_to_none=True)
            (cfg.r1_gamma / 2 * r1 * cfg.d_reg_every + 0 * logit[0]).sum().backward()
            _sync_grads(D, world)
            d_opt.step()
            r1_val = r1.item()

        # ---- G step: make D call the fakes real (the objective foil inverts)
        G.requires_grad_(True)
        D.requires_grad_(False)
        fake, _ = G(_mixing_z(local_batch, cfg.style_dim, cfg.mixing, device))
        loss_g = F.softplus(-D(diff_augment(fake, cfg.augment))).mean()
        g_opt.zero_grad(set_to_none=True)
        loss_g.backward()
        _sync_grads(G, world)
        g_opt.step()

        # ---- EMA of G
        ema_nimg = cfg.ema_kimg * 1000
        if cfg.ema_rampup:
            ema_nimg = min(ema_nimg, (step + 1) * cfg.batch * cfg.ema_rampup)
        _accumulate(G_ema, G, 0.5 ** (cfg.batch / max(ema_nimg, 1e-8)))

        now = time.time()
        t_spent += now - t_last
        t_last = now
        done = step + 1
        if rank == 0:
            if done % 10 == 0 or done == total_steps:
                spk = t_spent / max(done * cfg.batch / 1000, 1e-9)
                log.writerow([done, f"{done * cfg.batch / 1000:.3f}", f"{loss_d.item():.4f}",
                              f"{loss_g.item():.4f}", f"{r1_val:.4f}", f"{real_logit.mean().item():.3f}",
                              f"{fake_logit.mean().item():.3f}", f"{spk:.1f}"])
                log_f.flush()
                bar.set_postfix(kimg=f"{done * cfg.batch / 1000:.1f}", d=f"{loss_d.item():.3f}",
                                g=f"{loss_g.item():.3f}", s_kimg=f"{spk:.0f}")
            if done % snap_steps == 0 or done == total_steps:
                last_path = snapshot(done)
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        dist.destroy_process_group()
    if rank == 0:
        log_f.close()
        if last_path is None:
            snaps = sorted(os.listdir(os.path.join(cfg.out, "snapshots")))
            last_path = os.path.join(cfg.out, "snapshots", [s for s in snaps if s.endswith(".safetensors")][-1])
    return last_path
