"""Train a StyleGAN2 (G, G_ema and D) on a prepared folder of aligned faces.

    uncanny data prepare celeba data/celeba64 --res 64
    uncanny train data/celeba64 --out runs/faces64v2 --kimg 300
    uncanny train data/celeba64 --out runs/faces64v2 --resume              # the run's own recipe
    uncanny train data/celeba64 --out runs/faces64v2 --resume --minutes 120   # a session's worth
    torchrun --nproc_per_node 4 -m uncanny train data/celeba64 --out runs/x   # data-parallel

Recipe (TrainConfig): non-saturating logistic loss, lazy R1 on reals every `d_reg_every` steps,
optional lazy path-length regulariser (off by default: it roughly doubles the cost of a G step
on a CPU), DiffAugment (colour, translation, cutout) on everything D sees, horizontal flips,
optional adaptive pseudo augmentation (`--apa`: some of D's "real" rows are G's samples, as many
as keep D's mean sign on its "real" rows near a target; Jiang et al. 2021, "Deceive D"),
style mixing, an exponential moving average of G (G_ema), Adam(0, 0.99). The G and D forwards
run under bf16 autocast where the hardware has native bf16 (`precision`); the regularisers in
float32. `Trainer.step` is one iteration and nothing else (benchmarks/bench_train.py times it).

Outputs in --out: snapshots/kimg-NNNNNN.safetensors (G, G_ema, D) and samples/kimg-NNNNNN.png
every --snap kimg, log.csv and its plot curves.png, run.json, and resume.safetensors (weights + optimiser state), all
written atomically. Ctrl-C / SIGTERM / --minutes stop after the current step with a snapshot.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import random
import sys
import time
import dataclasses
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from . import __version__
from .adapters.stylegan2 import StyleGAN2
from .augment import diff_augment
from .checkpoint import load_state, save_checkpoint, save_state, state_shapes
from .data import load_dataset
from .errors import UncannyError
from .media import grid, save_png, to_uint8
from .nets.stylegan2 import MAPPING, NoiseInjection, StyleGAN2Config, widen_into
from .options import non_negative, on_off, option, positive, positive_or_none, probability, validate
from .plots import plot_train_log
from .runs import SAMPLES_DIR, SNAPSHOT_DIR, RunFolder, snapshot_name, train_snapshot
from .util import StopRequest, autocast_for, progress, resolve_device, seed_z


def _batch_check(v) -> str | None:
    return None if isinstance(v, int) and 2 <= v <= 1024 else "must be 2 to 1024 (a larger batch does not fit in memory)"


def _unit_or_zero(v) -> str | None:
    return None if isinstance(v, (int, float)) and 0 <= v < 1 else "must be 0 (off) or a target in (0, 1)"


@dataclass
class TrainConfig:
    data: str = option(help="folder written by `uncanny data prepare`", positional=True)
    out: str = option(help="run folder")
    kimg: float = option(200.0, "training length in thousands of real images shown to D", check=positive)
    batch: int = option(16, "real images per step; may change on --resume (the run counts images shown, "
                        "so kimg, snapshot names and --kimg go on)", check=_batch_check)
    style_dim: int = option(256, "width of z and W", check=positive)
    n_mlp: int = option(2, "mapping network depth (NVIDIA's small-data configs use 2)", check=positive)
    channel_multiplier: int = option(1, cli=False, check=positive)
    channel_max: int | None = option(256, "widest layer", check=positive_or_none)
    channel_base: int | None = option(8192, "widths min(channel_base / res, channel_max): 4-32 px 256, 64 px 128",
                                      check=positive_or_none)
    g_channel_max: int | None = option(None, "G's widest layer where G is to be wider than D (default: "
                                       "--channel-max); may grow on --resume: the trained G is copied into the "
                                       "wider one as the same function (nets.stylegan2.widen_into), D keeps its "
                                       "width, G's Adam moments start afresh", check=positive_or_none)
    widened_lr: float = option(1.0, "the learning rate of G's weights that a --g-channel-max widening added, as a "
                               "multiple of --lr (they start at zero, and Adam moves a weight by about lr a step, "
                               "so at a late run's lr they would take hundreds of kimg to matter); may change on "
                               "--resume", check=positive)
    mbstd_group: int = option(4, "D's minibatch-stddev group: how many samples' spread D sees at once (StyleGAN2 "
                              "uses 4; NVIDIA's small-image config the whole batch); no weights depend on it, so "
                              "it may change on --resume", check=positive)
    lr: float = option(0.0025, check=positive)
    mapping_lr: float = option(1.0, "the mapping network's learning rate as a multiple of --lr, on top of StyleGAN's "
                               "lr_mlp 0.01 (at 1, a run of a few hundred kimg leaves the mapping near its random "
                               "start); no weights depend on it, so it may change on --resume", check=positive)
    r1_gamma: float = option(0.05, "R1 penalty weight on reals", check=non_negative)
    d_reg_every: int = option(16, "lazy R1 every N steps", cli=False, check=positive)
    pl_weight: float = option(0.0, "path-length regulariser weight (StyleGAN2 uses 2; 0 turns it off: it "
                              "doubles the cost of a G step on a CPU)", check=non_negative)
    g_reg_every: int = option(4, cli=False, check=positive)
    pl_batch_shrink: int = option(2, cli=False, check=positive)
    ema_kimg: float = option(5.0, "half-life of G_ema in kimg", check=positive)
    ema_rampup: float | None = option(0.05, cli=False, check=positive_or_none)
    mixing: float = option(0.9, "style-mixing probability: the share of G's batches drawn from two latents "
                           "that cross over at a random layer (StyleGAN2 0.9; NVIDIA's small-image config 0); "
                           "no weights depend on it, so it may change on --resume", check=probability)
    noise: bool = option(False, "learned noise inputs (off holds their strengths at zero, so features come from "
                         "the styles; with noise on, small-data runs here paint eyes and mouths with the 32 px "
                         "noise)", type=on_off, show=lambda v: "on" if v else "off", metavar="on|off")
    augment: str = option("color,translation,cutout", "DiffAugment policy ('' for none)")
    flip: bool = option(True, "horizontal flips of the reals", cli=False)
    apa: float = option(0.0, "adaptive pseudo augmentation: the target for r_t, D's mean sign on the images "
                        "it is told are real (ADA's overfitting heuristic); above it, more of those are "
                        "swapped for G's samples (0 turns APA off; the paper uses 0.6)", check=_unit_or_zero)
    apa_kimg: float = option(20.0, "APA's speed: the swap probability moves by at most 1 per this many kimg",
                             check=positive)
    apa_every: int = option(4, "APA adjusts every N steps", cli=False, check=positive)
    snap: float = option(10.0, "snapshot every N kimg", check=positive)
    minutes: float | None = option(None, "stop cleanly (snapshot + resume state) after this much wall time",
                                   check=positive_or_none)
    precision: str = option("auto", "bf16 autocast for the G and D forwards (auto: where the hardware has "
                            "native bf16), or fp32", choices=("auto", "bf16", "fp32"))
    n_sample: int = option(32, "fixed-seed samples per snapshot grid", cli=False, check=positive)
    on_nonfinite: str = option("stop", "a NaN/inf loss: stop cleanly with a snapshot of the last finite weights, "
                               "or skip that update and continue", choices=("stop", "continue"))
    seed: int = option(0, check=non_negative)
    device: str | None = option(None, "cpu, cuda, cuda:1 (default: cuda if available)")
    resume: bool = option(False, "continue the run in --out with its own recipe")
    overwrite: bool = option(False, "replace an existing training run")

    # Settings a call may change when it resumes a run; everything else is the run's recipe.
    PER_CALL = ("data", "out", "minutes", "precision", "device", "resume", "overwrite", "on_nonfinite")
    # What a run recorded before an option existed was trained with (its run.json lacks the key).
    BEFORE_OPTION = {"noise": True, "apa": 0.0, "apa_kimg": 20.0, "apa_every": 4, "mbstd_group": 4,
                     "mapping_lr": 1.0, "g_channel_max": None, "widened_lr": 1.0}

    @classmethod
    def for_call(cls, data: str, out: str, resume: bool = False, **given) -> "TrainConfig":
        """The config of one `uncanny train` call. A fresh run: the defaults above, with what was
        given. Resuming a run: the recipe recorded in its run.json, with what was given (so
        `--resume` alone continues the run as it was started, whatever the defaults are now)."""
        run = RunFolder(out, "train")
        if resume and os.path.isfile(run.file("run.json")):
            run_info = run.read_json("run.json")
            if not isinstance(run_info.get("config"), dict):
                raise UncannyError(f"{run.file('run.json')}: no recorded config; cannot resume")
            names = {f.name for f in dataclasses.fields(cls)}
            base = {k: v for k, v in cls.recorded(run_info).items() if k in names and k not in cls.PER_CALL}
            return cls(data=data, out=out, resume=True, **{**base, **given})
        return cls(data=data, out=out, resume=resume, **given)

    @classmethod
    def recorded(cls, run_info: dict) -> dict:
        """The recipe a run's run.json recorded, with BEFORE_OPTION for the keys it predates."""
        return {**cls.BEFORE_OPTION, **run_info.get("config", {})}

    def validate(self):
        validate(self)


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


def _all_reduce_sum(t: torch.Tensor, world: int) -> torch.Tensor:
    """The sum of `t` over all ranks (itself on one process)."""
    if world == 1:
        return t
    import torch.distributed as dist
    out = t.clone()
    dist.all_reduce(out)
    return out


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


def pseudo_augment(real: torch.Tensor, fake: torch.Tensor, p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """APA's swap: each row of `real` (B, C, H, W) replaced by the same row of `fake` with
    probability p. Returns (the batch D is to call real, swapped (B,) bool). Draws from torch's
    generator, so the caller's seeding decides which rows."""
    swapped = torch.rand(real.shape[0], device=real.device) < p
    return torch.where(swapped.view(-1, 1, 1, 1), fake.detach().to(real.dtype), real), swapped


def apa_adjust(p: float, sign_sum: float, count: float, target: float, speed_kimg: float) -> float:
    """APA's controller (ADA's, on APA's probability): r_t = sign_sum / count is D's mean sign on
    the `count` images it was told are real since the last adjustment; p moves towards more
    swapping when r_t is above `target`, less when below, by count / (speed_kimg * 1000), within
    [0, 1]."""
    if count <= 0:
        return p
    r_t = sign_sum / count
    step = math.copysign(count / (speed_kimg * 1000), r_t - target) if r_t != target else 0.0
    return min(1.0, max(0.0, p + step))


LOG_COLUMNS = ["step", "kimg", "loss_d", "loss_g", "r1", "pl", "d_real", "d_fake", "r_t", "apa_p", "sec_per_kimg"]


class Trainer:
    """One training step of the recipe, with nothing else in it (no data loading, files or
    clocks), so that the loop below and benchmarks/bench_train.py run the same code.

        trainer = Trainer(cfg, G, D, G_ema, device)
        stats = trainer.step(i, real_batch)   # real_batch(): (B, 3, H, W) in [-1, 1]
    """

    def __init__(self, cfg: TrainConfig, G, D, G_ema, device, world: int = 1):
        self.cfg, self.G, self.D, self.G_ema, self.device, self.world = cfg, G, D, G_ema, device, world
        self.low_precision = autocast_for(device, cfg.precision)
        d_ratio = cfg.d_reg_every / (cfg.d_reg_every + 1)  # lazy-regularisation corrections
        g_ratio = cfg.g_reg_every / (cfg.g_reg_every + 1) if cfg.pl_weight > 0 else 1.0
        self.g_opt = torch.optim.Adam(g_param_groups(G, cfg.lr * g_ratio, cfg.mapping_lr),
                                      betas=(0.0, 0.99 ** g_ratio))
        self.d_opt = torch.optim.Adam(D.parameters(), lr=cfg.lr * d_ratio, betas=(0.0, 0.99 ** d_ratio))
        self.mean_path_length = torch.zeros(())
        self.r1_val = self.pl_val = 0.0
        self.skipped = 0               # updates not applied because their loss was not finite (this step)
        # noise off: the strengths of G's (and G_ema's) noise inputs are held at zero
        self.held_at_zero = [] if cfg.noise else [m.weight for net in (G, G_ema) for m in net.modules()
                                                  if isinstance(m, NoiseInjection)]
        # APA: the swap probability and D's signs on its "real" rows gathered since p last moved
        self.apa_p, self.apa_signs = 0.0, torch.zeros(2, dtype=torch.float64)   # (sum of signs, count)
        # real images shown to D so far, the run's clock (kimg); counted, not step * batch, so a
        # resumed run may change its batch
        self.nimg = 0
        # G's entries a widening added, [(parameter, 0/1 mask)]: they move widened_lr times as far
        self.widened: list[tuple[torch.Tensor, torch.Tensor]] = []

    def apa_state(self) -> torch.Tensor:
        return torch.cat([torch.tensor([self.apa_p], dtype=torch.float64), self.apa_signs])

    def load_apa_state(self, t: torch.Tensor, pending: bool = True) -> None:
        self.apa_p = float(t[0])
        self.apa_signs = t[1:].clone().double() if pending else torch.zeros(2, dtype=torch.float64)

    def _z(self, batch):
        return _mixing_z(batch, self.cfg.style_dim, self.cfg.mixing, self.device)

    def _aug(self, x):
        return diff_augment(x.float(), self.cfg.augment)

    def _update(self, opt, module, loss):
        opt.zero_grad(set_to_none=True)
        if not bool(torch.isfinite(loss.detach()).all()):
            self.skipped += 1          # never apply a NaN/inf update: the weights stay finite
            return
        loss.backward()
        for w in self.held_at_zero:
            w.grad = None  # Adam leaves parameters without a gradient alone
        _sync_grads(module, self.world)
        boost = self.cfg.widened_lr - 1 if opt is self.g_opt and self.widened else 0.0
        before = [p.detach().clone() for p, _ in self.widened] if boost else []
        opt.step()
        with torch.no_grad():
            for (p, mask), b in zip(self.widened if boost else [], before):
                p.add_((p - b) * mask, alpha=boost)      # Adam's step on those entries, widened_lr times

    def step(self, i: int, real_batch) -> dict:
        cfg, G, D = self.cfg, self.G, self.D
        self.skipped = 0
        with torch.no_grad():
            for w in self.held_at_zero:
                w.zero_()

        # ---- D step: real -> high logit, fake -> low
        G.requires_grad_(False)
        D.requires_grad_(True)
        real = real_batch()
        with torch.no_grad(), self.low_precision():
            fake, _ = G(self._z(real.shape[0]))
        if cfg.apa > 0:           # APA: some "real" rows are G's samples (never when off: same RNG stream)
            real, _ = pseudo_augment(real, fake, self.apa_p)
        with self.low_precision():
            fake_logit = D(self._aug(fake)).float()
            real_logit = D(self._aug(real)).float()
        loss_d = F.softplus(fake_logit).mean() + F.softplus(-real_logit).mean()
        self._update(self.d_opt, D, loss_d)
        # r_t over every row D is told is real, swapped ones included, as the APA paper's code
        # gathers it: the swapped samples pull it down as p rises, which is what lets p settle
        # (D's sign on the photos alone hardly answers p: measured, faces64v2's p went on rising)
        signs = real_logit.detach().flatten().sign().double().cpu()
        r_t = signs.mean().item()
        if cfg.apa > 0:
            self.apa_signs += torch.stack([signs.sum(), torch.tensor(float(len(signs)))])
            if (i + 1) % cfg.apa_every == 0:
                total = _all_reduce_sum(self.apa_signs.to(self.device), self.world).cpu()
                self.apa_p = apa_adjust(self.apa_p, *total.tolist(), cfg.apa, cfg.apa_kimg)
                self.apa_signs.zero_()

        if i % cfg.d_reg_every == 0:  # lazy R1: gamma/2 * ||grad_x D(x)||^2 on reals, in float32
            real = real_batch()
            if cfg.apa > 0:
                real, _ = pseudo_augment(real, fake, self.apa_p)
            real = real.detach().requires_grad_(True)
            logit = D(self._aug(real))
            (grad,) = torch.autograd.grad(logit.sum(), real, create_graph=True)
            r1 = grad.pow(2).flatten(1).sum(1).mean()
            self._update(self.d_opt, D, (cfg.r1_gamma / 2 * r1 * cfg.d_reg_every + 0 * logit[0]).sum())
            self.r1_val = r1.item()

        # ---- G step: make D call the fakes real (the objective foil inverts)
        G.requires_grad_(True)
        D.requires_grad_(False)
        with self.low_precision():
            fake, _ = G(self._z(real.shape[0]))
            fake_logit_g = D(self._aug(fake)).float()
        loss_g = F.softplus(-fake_logit_g).mean()
        self._update(self.g_opt, G, loss_g)

        if cfg.pl_weight > 0 and i % cfg.g_reg_every == 0:  # lazy path-length regulariser, float32
            fake, latents = G(self._z(max(1, real.shape[0] // cfg.pl_batch_shrink)), return_latents=True)
            noise = torch.randn_like(fake) / math.sqrt(fake.shape[2] * fake.shape[3])
            (grad,) = torch.autograd.grad((fake * noise).sum(), latents, create_graph=True)
            lengths = grad.pow(2).sum(2).mean(1).sqrt()                      # (B,)
            mean = self.mean_path_length.lerp(lengths.mean().detach(), 0.01)
            penalty = (lengths - mean).pow(2).mean()
            self._update(self.g_opt, G, cfg.pl_weight * cfg.g_reg_every * penalty + 0 * fake[0, 0, 0, 0])
            self.mean_path_length, self.pl_val = mean, penalty.item()

        # ---- EMA of G
        self.nimg += cfg.batch
        ema_nimg = cfg.ema_kimg * 1000
        if cfg.ema_rampup:
            ema_nimg = min(ema_nimg, self.nimg * cfg.ema_rampup)
        _accumulate(self.G_ema, G, 0.5 ** (cfg.batch / max(ema_nimg, 1e-8)))
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "r1": self.r1_val, "pl": self.pl_val,
                "d_real": real_logit.mean().item(), "d_fake": fake_logit.mean().item(), "r_t": r_t,
                "apa_p": self.apa_p, "skipped": self.skipped}


def g_param_groups(G, lr: float, mapping_lr: float) -> list[dict]:
    """G's Adam groups: the mapping network at lr x mapping_lr, the rest at lr. The groups list G's
    parameters in G.parameters()' order (the mapping network is G's first module), so a resume
    state's moments, kept by position, fit whatever the multiplier was when they were written."""
    params = list(G.named_parameters())
    n_map = sum(1 for name, _ in params if name.startswith(MAPPING))
    if any(not name.startswith(MAPPING) for name, _ in params[:n_map]):
        raise ValueError("the mapping network's parameters must come first in G.parameters()")
    return [{"params": [p for _, p in params[:n_map]], "lr": lr * mapping_lr},
            {"params": [p for _, p in params[n_map:]], "lr": lr}]


def _seed_step(seed: int, step: int, rank: int) -> None:
    """Seed every generator a step draws from (torch: latents, reals, flips, augmentation, noise;
    Python's random: the style-mixing crossover) from (seed, step, rank) alone, so the same
    command gives the same weights and a resumed run replays exactly what an uninterrupted one
    would have done."""
    s = (seed * 1_000_003 + step) * 64 + rank
    torch.manual_seed(s)
    random.seed(s)


def images_shown(info: dict, recorded_batch: int) -> int:
    """Real images a resume state's run had shown D: its count, or for a state written before
    the count was kept, step x the batch its run.json recorded (every step had that batch)."""
    return info.get("nimg", info["step"] * recorded_batch)


def _recipe_changes(old: dict, cfg: TrainConfig, step: int) -> list[dict]:
    """The run's record of recipe changes made when resuming (`old`: its run.json as it was, {} for
    a new run), plus this call's, if any: [{"step": N, "field": [old, new]}, ...]."""
    if not old:
        return []
    before, now = TrainConfig.recorded(old), asdict(cfg)
    skip = TrainConfig.PER_CALL + ("kimg", "snap")  # extending a run or its snapshot cadence is not a recipe change
    changed = {k: [before.get(k), v] for k, v in now.items() if k not in skip and before.get(k) != v}
    return old.get("recipe_changes", []) + ([{"step": step, **changed}] if changed else [])


def log_upto(run: RunFolder, step: int) -> list[dict]:
    """log.csv's rows up to `step` (rows written after the state being resumed from would repeat),
    as LOG_COLUMNS (a log written with other columns gets empty values for the new ones)."""
    rows = [r for r in run.read_csv("log.csv") if (r.get("step") or "").isdigit() and int(r["step"]) <= step]
    return [{k: r.get(k) or "" for k in LOG_COLUMNS} for r in rows]


def architecture(cfg: TrainConfig, res: int) -> dict:
    """The architecture config a run's checkpoints record (g_channel_max only where set, so the
    configs of runs without it stay as they were)."""
    arch = {"size": res, "style_dim": cfg.style_dim, "n_mlp": cfg.n_mlp,
            "channel_multiplier": cfg.channel_multiplier, "channel_max": cfg.channel_max,
            "channel_base": cfg.channel_base, "mbstd_group": cfg.mbstd_group}
    if cfg.g_channel_max is not None:
        arch["g_channel_max"] = cfg.g_channel_max
    return arch


def narrower_g(state_path: str, G, recorded_arch: dict | None) -> dict | None:
    """The architecture to rebuild a resume state's G with, where that G is narrower than `G`
    (the run resumed with a larger --g-channel-max): the run's recorded one; None where the
    state's G already has G's shapes (or nothing says it was narrower: loading then names the
    keys that do not fit)."""
    shapes = state_shapes(state_path, "g")
    if shapes == {k: tuple(v.shape) for k, v in G.state_dict().items()} or not recorded_arch:
        return None
    return recorded_arch if StyleGAN2Config(**recorded_arch).g_max != G.config.channel_max else None  # G's own cap


def initial_weights(arch_cfg: dict, seed: int):
    """A new run's G and D before their first step: a pure function of (architecture, seed), so
    how far training has moved a run's weights can be measured (scripts/weight_drift.py)."""
    torch.manual_seed(seed)
    return StyleGAN2.build(arch_cfg)


def _widenings(recipe_changes: list[dict]) -> list[list]:
    """A run's G widenings in order, [[old g_channel_max, new], ...] ([] for a run never widened)."""
    return [c["g_channel_max"] for c in recipe_changes if "g_channel_max" in c]


def first_width_shapes(arch: dict, recipe_changes: list[dict]) -> dict[str, tuple[int, ...]] | None:
    """The shapes of G's parameters before the run's first widening (None: never widened)."""
    widths = _widenings(recipe_changes)
    if not widths:
        return None
    with torch.device("meta"):                  # shapes only: no memory, no random numbers drawn
        first, _ = StyleGAN2.build({**arch, "g_channel_max": widths[0][0]})
    return {name: tuple(p.shape) for name, p in first.named_parameters()}


def widened_entries(G, arch: dict, recipe_changes: list[dict]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """[(parameter, mask)] for G's parameters that a widening grew: mask 1 on the entries outside
    the first width's tensor (the ones `widen_into` did not copy), 0 on the rest."""
    old = first_width_shapes(arch, recipe_changes)
    if old is None:
        return []
    out = []
    for name, p in G.named_parameters():
        if old[name] != tuple(p.shape):
            mask = torch.ones_like(p)
            mask[tuple(slice(0, n) for n in old[name])] = 0
            out.append((p, mask))
    return out


def run_start(run_info: dict):
    """A run's G at its start, in its present architecture: for a run that widened G on resume
    (recipe_changes' g_channel_max), the start of its first width widened as the trainer widened
    the trained G, so that the old channels' start is where they really began."""
    arch, seed = run_info["arch"], TrainConfig.recorded(run_info).get("seed", 0)
    widths = _widenings(run_info.get("recipe_changes", []))
    G, _ = initial_weights({**arch, "g_channel_max": widths[0][0]} if widths else arch, seed)
    for _, new in widths:
        wide, _ = initial_weights({**arch, "g_channel_max": new}, seed)
        widen_into(wide, G)
        G = wide
    return G


def train(cfg: TrainConfig, show_progress: bool = True) -> str:
    """Run (or resume) training; returns the path of the last snapshot."""
    cfg.validate()
    rank, world = _ddp()
    device = resolve_device(cfg.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    if cfg.batch % world:
        raise UncannyError(f"--batch {cfg.batch}: must be divisible by the {world} processes")
    run = RunFolder(cfg.out, "train", sources=(cfg.data,))
    if rank == 0:
        run.check(cfg.resume, cfg.overwrite)      # refuse early; nothing is deleted yet
    # the run.json being resumed, read before rank 0 rewrites it
    old_run = run.read_json("run.json") if cfg.resume and os.path.isfile(run.file("run.json")) else {}
    data = load_dataset(cfg.data)
    res = data.shape[1]
    if res & (res - 1) or res < 8:
        raise UncannyError(f"{cfg.data}: resolution {res} is not a power of two >= 8")

    resume_path = run.file("resume.safetensors")
    if rank == 0:
        run.open(cfg.resume, cfg.overwrite, subdirs=(SNAPSHOT_DIR, SAMPLES_DIR))
    arch_cfg = architecture(cfg, res)
    G, D = initial_weights(arch_cfg, cfg.seed)   # identical on every rank
    G_ema, _ = StyleGAN2.build(arch_cfg)
    G_ema.load_state_dict(G.state_dict())
    G, D, G_ema = G.to(device), D.to(device), G_ema.to(device).eval()
    G_ema.requires_grad_(False)
    trainer = Trainer(cfg, G, D, G_ema, device, world)
    g_opt, d_opt = trainer.g_opt, trainer.d_opt

    step, t_spent, widened = 0, 0.0, None
    if cfg.resume and os.path.isfile(resume_path):
        nets, opts = {"g": G, "g_ema": G_ema, "d": D}, {"g": g_opt, "d": d_opt}
        widened = narrower_g(resume_path, G, old_run.get("arch"))
        if widened:   # load the state's G as it was; G's Adam moments do not fit the wider G: afresh
            nets["g"], nets["g_ema"] = StyleGAN2.build(widened)[0], StyleGAN2.build(widened)[0]
            del opts["g"]
        info, extra = load_state(resume_path, nets, opts)
        if widened:
            try:
                widen_into(G, nets["g"])
                widen_into(G_ema, nets["g_ema"])   # the same new rows as G (G_ema began as G's copy)
            except ValueError as e:
                raise UncannyError(f"{resume_path}: --g-channel-max {cfg.g_channel_max}: {e}") from None
        step, t_spent = info["step"], info["seconds"]
        trainer.nimg = images_shown(info, TrainConfig.recorded(old_run).get("batch", cfg.batch))
        if "mean_path_length" in extra:
            trainer.mean_path_length = extra["mean_path_length"]
        if "last_r1_pl" in extra:  # the regularisers' last values, as log.csv reports them
            trainer.r1_val, trainer.pl_val = (float(v) for v in extra["last_r1_pl"])
        if "apa" in extra:        # p, and the signs gathered since it last moved (counted once: rank 0's)
            trainer.load_apa_state(extra["apa"], pending=rank == 0)
    elif cfg.resume and rank == 0 and run.training_snapshots():
        raise UncannyError(f"{resume_path}: missing, cannot resume this run")

    # Data-parallel without DDP wrappers (lazy R1 differentiates twice, which DDP's reducer does
    # not support): every rank computes gradients on its share of the batch, then they are averaged.

    with open(os.path.join(cfg.data, "dataset.json")) as f:
        licence = json.load(f).get("licence")  # travels with snapshots
    reals = torch.from_numpy(data).permute(0, 3, 1, 2).contiguous()  # uint8 (N, 3, H, W), in memory
    local_batch = cfg.batch // world
    total_steps = step + math.ceil(max(0.0, cfg.kimg * 1000 - trainer.nimg) / cfg.batch)
    snap_steps = max(1, round(cfg.snap * 1000 / cfg.batch))
    sample_z = seed_z(range(cfg.n_sample), cfg.style_dim, device)
    run_info = {"config": asdict(cfg), "arch": arch_cfg, "version": __version__, "torch": torch.__version__,
                "machine": platform.platform(), "cpu_threads": torch.get_num_threads(),
                "device": str(device), "world_size": world, "dataset_images": len(reals),
                "bf16_autocast": trainer.low_precision is not contextlib.nullcontext}
    if licence:
        run_info["licence"] = licence   # the run (and a carried copy of it) says what its weights may be used for

    def real_batch():
        idx = torch.randint(0, len(reals), (local_batch,))
        x = reals[idx].to(device).float() / 127.5 - 1
        if cfg.flip:
            flip = torch.rand(local_batch, device=device) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        return x

    def snapshot(step_now, scheduled=True):
        """Write the snapshot (G, G_ema, D; the sample grid) and the resume state. A stop between
        snapshots whose rounded name is already taken (kimg-000510 written 12 steps before) keeps
        that file, which may have been measured: its weights go to the resume state only."""
        kimg = trainer.nimg / 1000
        prefix, n = train_snapshot(trainer.nimg)
        path = run.snapshot_path(prefix, n)
        if log_rows:
            plot_train_log(log_rows, run.file("curves.png"), title=f"{os.path.basename(cfg.out)}: step {step_now}")
        if not scheduled and os.path.isfile(path):
            print(f"\n{path} already holds an earlier step; kept (the weights of step {step_now} are in "
                  f"{os.path.basename(resume_path)})", file=sys.stderr)
        else:
            meta = {"provenance": {"trained_with": f"uncanny-lab {__version__}", "data": os.path.abspath(cfg.data),
                                   "dataset_images": len(reals)},
                    "training": {"step": step_now, "kimg": kimg, "seconds": t_spent, "batch": cfg.batch}}
            if licence:
                meta["provenance"]["licence"] = licence
            ema = StyleGAN2(G_ema, None, None, arch_cfg, {}, cfg.out)
            with torch.no_grad():
                ema.w_avg = w_avg = ema.estimate_w_avg()
                imgs = torch.cat([ema.generate(z) for z in sample_z.split(16)])
            save_png(run.file(SAMPLES_DIR, snapshot_name(prefix, n, "png")), grid(to_uint8(imgs), ncol=8))
            save_checkpoint(path, "stylegan2", arch_cfg, {"g": G, "g_ema": G_ema, "d": D}, meta, w_avg=w_avg)
        save_resume(step_now)
        return path

    def save_resume(step_now):
        save_state(resume_path, {"g": G, "g_ema": G_ema, "d": D}, {"g": g_opt, "d": d_opt},
                   {"step": step_now, "seconds": t_spent, "nimg": trainer.nimg},
                   {"mean_path_length": trainer.mean_path_length,
                    "last_r1_pl": torch.tensor([trainer.r1_val, trainer.pl_val], dtype=torch.float64),
                    "apa": trainer.apa_state()})

    recipe_changes = _recipe_changes(old_run, cfg, step)
    if cfg.widened_lr != 1:
        trainer.widened = widened_entries(G, arch_cfg, recipe_changes)
    log_rows = []
    if rank == 0:
        if widened:   # the widened G in the state before run.json records the new width
            save_resume(step)
        run_info["recipe_changes"] = recipe_changes
        run.write_json("run.json", run_info)
        if step == 0:
            snapshot(0)
        log_rows = log_upto(run, step)
        run.write_csv("log.csv", LOG_COLUMNS, log_rows)

    last_path, done = None, step
    bar = progress(range(step, total_steps), initial=step, total=total_steps, desc="train",
                   disable=rank != 0 or not show_progress)
    t_last = time.time()
    t_start = time.time()
    stop = StopRequest()  # Ctrl-C or SIGTERM: finish the step, write a snapshot and the resume state
    try:
        for step in bar:
            _seed_step(cfg.seed, step, rank)  # the step's randomness is a pure function of (seed, step, rank)
            stats = trainer.step(step, real_batch)
            now = time.time()
            t_spent += now - t_last
            t_last = now
            done = step + 1
            nonfinite = stats["skipped"] > 0 and cfg.on_nonfinite == "stop"
            out_of_time = nonfinite or stop.requested or (cfg.minutes is not None and time.time() - t_start > cfg.minutes * 60)
            if world > 1:  # every rank stops at the same step: rank 0's clock decides
                import torch.distributed as dist
                flag = torch.tensor([float(out_of_time)], device=device)
                dist.broadcast(flag, 0)
                out_of_time = bool(flag.item())
            if rank == 0:
                if done % 10 == 0 or done == total_steps:
                    kimg = trainer.nimg / 1000
                    spk = t_spent / max(kimg, 1e-9)
                    log_rows.append({"step": done, "kimg": f"{kimg:.3f}",
                                     **{k: f"{stats[k]:.4f}" for k in LOG_COLUMNS[2:-1]}, "sec_per_kimg": f"{spk:.1f}"})
                    run.write_csv("log.csv", LOG_COLUMNS, log_rows)   # atomic: a kill never leaves half a row
                    bar.set_postfix(kimg=f"{kimg:.1f}", d=f"{stats['loss_d']:.3f}",
                                    g=f"{stats['loss_g']:.3f}", s_kimg=f"{spk:.0f}")
                scheduled = done % snap_steps == 0 or done == total_steps
                if scheduled or out_of_time:
                    last_path = snapshot(done, scheduled)
            if out_of_time:
                if nonfinite and rank == 0:
                    print(f"\nnon-finite loss at step {step}: its update was not applied; stopped with a snapshot of "
                          f"the last finite weights (--on-nonfinite continue skips such updates)", file=sys.stderr)
                break
    finally:
        stop.restore()
    if stop.requested and rank == 0:
        print(f"\nstopped at step {done}; continue with --resume", file=sys.stderr)
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        dist.destroy_process_group()
    if rank == 0:
        if last_path is None:   # nothing left to train: the run's newest snapshot (a carried run has none yet)
            snaps = run.training_snapshots()
            last_path = snaps[max(snaps)] if snaps else snapshot(done, scheduled=False)
        run.release()
    return last_path
