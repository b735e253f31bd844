"""Foil: fine-tune a pretrained generator against its frozen discriminator, objective inverted
("Amplifying the Uncanny", Broad, Leymarie & Grierson 2020).

    uncanny foil --out runs/foil1                                  # default model, the paper's 2000 its
    uncanny foil --model m.safetensors --out runs/f2 --iters 500 --lr 0.0002    # ~0.1 / iters
    uncanny foil --model faces64 --out runs/f3 --iters 300 --lr 0.0005 --lr-schedule constant
    uncanny foil --out runs/foil1 --resume                         # after an interruption

    from uncanny.foil import FoilConfig, foil
    result = foil(FoilConfig(model="faces64", out="runs/foil1"))

The usual GAN generator minimises softplus(-D(G(z))) ("make D say real"). Foil minimises D's
logit (or softplus(D(G(z))), or log D) with D frozen ("make D say fake"), at a learning rate that
ramps up over the run, and records what happens: divergence from realism, convergence on what D
calls fake, collapse into one posterised image. The defaults were chosen by a measured sweep on
the default model (docs/FOIL_SWEEP.md).

Outputs in --out (see README "Foil outputs"): snapshots/iter-NNNNNN.safetensors, grids/,
timeline.png, population-iter-NNNNNN.png, foil.mp4, foil.gif, metrics.csv, curves.png,
run.json, and state.safetensors for --resume.
"""

from __future__ import annotations

import math
import os
import platform
import time
import dataclasses
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import __version__
from .adapters import load_gan
from .checkpoint import load_state, save_checkpoint, save_state
from .errors import UncannyError
from .media import grid, label, save_png, save_video, to_uint8, upscale
from .metrics import diversity, face_rate, mean_colour, param_distance, sameness
from .options import (in_unit_interval, int_list, non_negative, option, positive, positive_or_none, seed_text,
                      seeds, validate)
from .runs import RunFolder, snapshot_name
from .util import StopRequest, progress, resolve_device, seed_z

PAPER_SCHEDULE = (0, 250, 500, 750, 1000, 1500, 2000)

# Inverted generator objectives, as functions of D's logit on G(z) (higher logit = "real").
LOSSES = {
    "softplus": lambda logit: F.softplus(logit).mean(),    # -log(1 - D): inverse of the non-saturating loss
    "logd": lambda logit: -F.softplus(-logit).mean(),      # log D: the non-saturating loss -log D, negated
    "hinge": lambda logit: logit.mean(),                   # D itself: the hinge-GAN G loss (-D), negated
}

METRIC_COLUMNS = ["iter", "loss", "d_mean", "d_std", "d_fixed", "grad_norm", "param_dist",
                  "diversity", "sameness", "mean_r", "mean_g", "mean_b", "face_rate", "detector_fake", "skipped"]


def _on_off_clip(v) -> str | None:
    return None if v is None or (math.isfinite(v) and v > 0) else "must be a positive number (leave it out for no clipping)"


@dataclass
class FoilConfig:
    model: str | None = option(None, "checkpoint path, embedded model name or foil snapshot RUN/ITER "
                               "(default: the default model)")
    out: str = option("runs/foil", "run folder")
    iters: int = option(2000, "iterations", check=positive)
    lr: float = option(5e-5, "Adam learning rate (with --lr-schedule ramp: its mean over the run); on the "
                       "default model about 0.1 / iters shows the whole arc", check=positive)
    lr_schedule: str = option("ramp", "constant, or ramp: the learning rate rises linearly from near 0 to "
                              "2 x --lr at the last iteration, so the run lingers while faces are lifelike and "
                              "speeds up towards collapse", choices=("constant", "ramp"))
    batch: int = option(8, "latents per step", check=lambda v: None if isinstance(v, int) and 0 < v <= 1024
                        else "must be 1 to 1024 (a larger batch does not fit in memory on a CPU)")
    generator: str = option("g_ema", "generator to start from", choices=("g_ema", "g"))
    loss: str = option("hinge", "hinge: minimise D (never saturates); softplus: minimise softplus(D(G(z))) "
                       "(stalls once D is sure); logd: minimise log D",
                       choices=tuple(LOSSES))
    d_model: str | None = option(None, "freeze the discriminator of this checkpoint instead of the model's own")
    stage: int | None = option(None, "resolution of a progressive StyleGAN 1 checkpoint (8 ... 1024)",
                               check=positive_or_none)
    seed: int = option(0, "seed of the training batches", check=non_negative)
    truncation: float = option(1.0, "truncation psi for the grids", check=in_unit_interval)
    snapshots: tuple = option(PAPER_SCHEDULE, "snapshot iterations (default: the paper's)", type=int_list,
                              show=lambda v: ",".join(map(str, v)))
    sample_seeds: tuple = option(tuple(range(16)), "fixed sample seeds for grids and video", flag="--seeds", metavar="SEEDS",
                                 type=seeds, show=seed_text)
    timeline_seeds: int = option(6, "rows of the timeline strip", cli=False, check=positive)
    population: tuple = option((), "also draw population grids of these snapshots", type=int_list, show=lambda v: "")
    population_size: int = option(64, "samples in a population grid", cli=False, check=positive)
    frame_every: int = option(10, "video frame every K iterations", check=positive)
    observe_every: int = option(10, "D's logit, diversity, sameness and colour of the fixed seeds every K iterations "
                                "(1: every one; also wherever a frame, face rate or snapshot is due); observing "
                                "costs a G and D pass over the seeds, about 40 percent of an iteration", check=positive)
    fps: int = option(24, "frames per second of the video", cli=False, check=positive)
    faces_every: int = option(50, "dlib face-detection rate of the fixed seeds every K iterations (0: off)",
                              check=non_negative)
    detector: str | None = option(None, "also record a detector's mean fake score of the fixed seeds (uncanny "
                                  "detect's --detector: detector64, d:MODEL or a file) where the face rate is measured")
    on_nonfinite: str = option("stop", "on NaN/inf loss or gradient: stop cleanly, or skip the step and continue",
                               choices=("stop", "continue"))
    max_grad_norm: float | None = option(None, "clip gradients to this norm (off by default: explosion is the method)",
                                         check=_on_off_clip)
    device: str | None = option(None, "cpu, cuda, cuda:1 (default: cuda if available)")
    resume: bool = option(False, "continue an interrupted run to its original end")
    overwrite: bool = option(False, "replace an existing foil run")

    PER_CALL = ("out", "device", "resume", "overwrite")   # what a resumed run may change
    BEFORE_OPTION = {"lr_schedule": "constant", "observe_every": 1}   # what runs recorded before an option existed used

    def validate(self):
        validate(self)
        if not self.sample_seeds:
            raise UncannyError("--seeds: need at least one sample seed")

    @classmethod
    def resumed(cls, recorded: dict, call: "FoilConfig") -> "FoilConfig":
        """The config of a resumed run: what it recorded, with this call's out and device."""
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: (tuple(v) if isinstance(v, list) else v) for k, v in {**cls.BEFORE_OPTION, **recorded}.items()
                if k in names and k not in cls.PER_CALL}
        return cls(**kept, out=call.out, device=call.device or recorded.get("device"), resume=True)

    def schedule(self) -> list[int]:
        """Snapshot iterations: the requested ones up to `iters`, always 0 and `iters`."""
        return sorted({0, self.iters, *(s for s in self.snapshots if 0 <= s <= self.iters)})

    def lr_at(self, it: int) -> float:
        """The learning rate of the update made at iteration `it` (0 ... iters - 1): a pure
        function of the config, so a resumed run replays it exactly."""
        if self.lr_schedule == "ramp":
            return 2 * self.lr * (it + 1) / self.iters
        return self.lr


@dataclass
class FoilResult:
    out: str
    snapshots: dict[int, str]
    stages: dict[int, str]        # empty, and peak None, for an interrupted run
    peak: int | None
    stopped_early: str | None
    files: dict[str, str]


# ----------------------------------------------------------------------------- stages

# Sameness (the mean correlation of the fixed seeds' 8x8 thumbnails; faces start near 0.2) that
# counts once it has risen SAME_RISE above its start. SAME_SHARED: the samples share one layout,
# G is converging on one pattern D calls fake (0.53-0.64 for the red clown face every sample of
# faces64v2's 359.4 kimg state turns into while each keeps its own shape). SAME_ONE: one image
# remains, a collapse (0.79 for the single high-contrast pattern a bare run on the 214.8 kimg state
# ended on, drawn at slightly shifted places), but only once dlib finds faces in under FACES_KEPT of
# the seeds it found them in at the start: while most samples still hold a face of their own, a
# layout they share is convergence (the 499.6 kimg state's clown face measured 0.73 with 13 of 16
# faces found). See STAGE_RULES.
SAME_SHARED, SAME_ONE, SAME_RISE, FACES_KEPT = 0.5, 0.7, 0.2, 0.5

STAGE_RULES = f"""\
Each snapshot is labelled from the metrics of the fixed-seed samples:
  collapse     one image remains: diversity has fallen to 25% of its starting value or less,
               or the samples are one layout (sameness, the mean correlation of their 8x8
               thumbnails, at least {SAME_ONE} and {SAME_RISE} above its start; faces start near 0.2)
               and dlib finds faces in under {FACES_KEPT:.0%} of the seeds it found them in at the
               start (while most keep a face of their own, a shared layout is convergence)
  convergence  not collapse, and D's mean logit on the fixed seeds has covered at least half of
               its fall before collapse (G is settling on what D calls fake), or the gradient
               norm has grown past 10x its starting value (the explosion the paper describes),
               or dlib finds faces in under 10% of the seeds it found them in at the start (what
               is left is what D calls fake), or the samples share a layout (sameness at least
               {SAME_SHARED} and {SAME_RISE} above its start: one pattern drawn into every face);
               the fall is measured up to the first collapsed row, because a collapsing
               generator's logits explode by orders of magnitude
  divergence   otherwise: G is moving away from realism, D has not yet dropped half way
Peak uncanny: the snapshot that maximises fakeness x survival, where fakeness is the fraction
of D's fall before collapse already covered and survival is the face-detection rate relative to the start
(or, where faces were not measured, diversity relative to the start), both clipped to [0, 1].
"""


def label_stages(rows: list[dict], snapshots: list[int]) -> tuple[dict[int, str], int]:
    """Stage per snapshot iteration and the suggested peak-uncanny snapshot (see STAGE_RULES)."""
    by_iter = {int(r["iter"]): r for r in rows}
    usable = [s for s in snapshots if s in by_iter]
    if not usable:
        return {}, 0

    def val(r, k):
        try:
            v = float(r.get(k, ""))
            return v if math.isfinite(v) else float("nan")
        except (TypeError, ValueError):
            return float("nan")

    def nan_stat(fn, values):
        values = np.asarray(values, dtype=float)
        return float(fn(values)) if np.isfinite(values).any() else float("nan")

    first = by_iter[usable[0]]
    d0, div0, same0 = val(first, "d_fixed"), val(first, "diversity"), val(first, "sameness")
    g0 = nan_stat(np.nanmedian, [val(by_iter[i], "grad_norm") for i in sorted(by_iter)[:10]])
    faces0 = val(first, "face_rate")
    faces_at, last = {}, float("nan")   # the face rate last measured at or before each iteration
    for i in sorted(by_iter):
        f = val(by_iter[i], "face_rate")
        faces_at[i] = last = f if math.isfinite(f) else last

    def layout_shared(r, level):   # sameness at least `level`, and risen SAME_RISE above its start
        same = val(r, "sameness")
        return same >= level and not same < same0 + SAME_RISE

    def faces_kept(r):   # dlib still finds most of the faces it found at the start
        f = faces_at[int(r["iter"])]
        return math.isfinite(f) and math.isfinite(faces0) and faces0 > 0 and f >= FACES_KEPT * faces0

    def collapsed(r):
        if r.get("diversity") in (None, ""):   # not observed at this iteration (--observe-every)
            return False
        div = val(r, "diversity")
        return (not math.isfinite(div) or (div0 > 0 and div <= 0.25 * div0)
                or (layout_shared(r, SAME_ONE) and not faces_kept(r)))

    ordered = [by_iter[i] for i in sorted(by_iter)]
    before = next((k for k, r in enumerate(ordered) if collapsed(r)), len(ordered))
    dmin = nan_stat(np.nanmin, [val(r, "d_fixed") for r in (ordered[:before] or ordered)])
    fall = d0 - dmin if math.isfinite(d0 - dmin) and d0 - dmin > 1e-9 else float("nan")
    last_face = faces0

    stages, scores = {}, {}
    for s in usable:
        r = by_iter[s]
        div, d, g = val(r, "diversity"), val(r, "d_fixed"), val(r, "grad_norm")
        fakeness = (d0 - d) / fall if math.isfinite(fall) and math.isfinite(d) else 0.0
        if math.isfinite(val(r, "face_rate")):
            last_face = val(r, "face_rate")
        if math.isfinite(faces0) and faces0 > 0:
            survival = last_face / faces0
        else:
            survival = div / div0 if div0 > 0 else 0.0
        if collapsed(r):
            stage = "collapse"
        elif (fakeness >= 0.5 or (math.isfinite(g) and math.isfinite(g0) and g0 > 0 and g > 10 * g0)
              or (math.isfinite(faces0) and faces0 > 0 and last_face < 0.1 * faces0)
              or layout_shared(r, SAME_SHARED)):
            stage = "convergence"
        else:
            stage = "divergence"
        stages[s] = stage
        scores[s] = float(np.clip(fakeness, 0, 1) * np.clip(survival if math.isfinite(survival) else 0, 0, 1))
    peak = max(scores, key=lambda k: (scores[k], -k)) if scores else usable[-1]
    return stages, peak


def arc_criteria(rows: list[dict], stages: dict[int, str], peak: int, iters: int) -> dict:
    """Does a run show the paper's arc? From its metrics rows and labelled snapshots (a pure
    function): the first snapshot after the start keeps faces (dlib rate >= 0.9), the peak lies
    in the middle third, faces are gone (rate < 0.1) only in the last third if at all, and the
    snapshots show divergence, convergence and collapse. Also reports mean R - B over the run
    (the paper's red hue shows as a positive value)."""
    faces = [(int(r["iter"]), float(r["face_rate"])) for r in rows if r.get("face_rate") not in ("", None)]
    snaps = sorted(stages)
    first = next((s for s in snaps if s > 0), None)
    first_rate = next((f for i, f in faces if first is not None and i >= first), float("nan"))
    gone = next((i for i, f in faces if f < 0.1), None)
    rb = [float(r["mean_r"]) - float(r["mean_b"]) for r in rows if r.get("mean_r") not in ("", None)]
    present = set(stages.values())
    out = {"first_snapshot": first, "first_face_rate": first_rate, "peak": peak, "peak_fraction": peak / iters,
           "faces_gone_at": gone, "stages": sorted(present, key=["divergence", "convergence", "collapse"].index),
           "mean_r_minus_b": float(np.mean(rb)) if rb else float("nan")}
    out["keeps_faces_first"] = bool(first_rate >= 0.9)
    out["peak_in_middle_third"] = bool(iters / 3 <= peak <= 2 * iters / 3)
    out["faces_gone_late"] = gone is None or gone >= 2 * iters / 3
    out["all_three_stages"] = present >= {"divergence", "convergence", "collapse"}
    out["arc"] = all(out[k] for k in ("keeps_faces_first", "peak_in_middle_third", "faces_gone_late", "all_three_stages"))
    return out


# ----------------------------------------------------------------------------- the run

def _batch_z(seed: int, it: int, batch: int, dim: int, device) -> torch.Tensor:
    """The latents of iteration `it`: a pure function of (seed, it), so resumed runs replay exactly."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + it)
    return torch.randn(batch, dim, generator=g).to(device)


def _metrics_upto(run: RunFolder, upto: int) -> list[dict]:
    return [r for r in run.read_csv("metrics.csv") if r.get("iter", "").isdigit() and int(r["iter"]) <= upto]


def foil(cfg: FoilConfig, show_progress: bool = True) -> FoilResult:
    """Run (or resume) a foil run; returns where everything was written."""
    run = RunFolder(cfg.out, "foil", sources=(cfg.model, cfg.d_model))
    recorded = run.check(cfg.resume, cfg.overwrite)     # refuse early; nothing is deleted yet
    if recorded is not None and "config" in recorded:   # resume: the recorded settings win, except device
        cfg = FoilConfig.resumed(recorded.get("config", {}), cfg)
    cfg.validate()
    device = resolve_device(cfg.device)

    # ---- models: G to fine-tune, D frozen (loaded before anything is written or replaced)
    gan = load_gan(cfg.model, which=cfg.generator, need_d=cfg.d_model is None, device=device, stage=cfg.stage)
    G, D = gan.G, gan.D
    if cfg.d_model is not None:
        D = load_gan(cfg.d_model, need_d=True, device=device, stage=cfg.stage).D
        gan.D = D
        with torch.no_grad():
            probe = gan.generate(torch.zeros(1, gan.z_dim, device=device))
            try:
                D(probe.repeat(2, 1, 1, 1))
            except RuntimeError:
                raise UncannyError(f"{cfg.d_model}: its discriminator cannot judge the generator's "
                                   f"{probe.shape[-1]} px images") from None
    judge_fake = None
    if cfg.detector is not None:
        from .detectors import load_detector, prepare
        det = load_detector(None if cfg.detector == "detector" else cfg.detector)

        def judge_fake(samples):   # as `uncanny detect` sees each sample: face found and aligned
            return float(det.scores(np.stack([prepare(im).aligned for im in to_uint8(samples)])).mean())
    run.open(cfg.resume, cfg.overwrite, subdirs=("snapshots", "grids", "frames"))
    D.eval().requires_grad_(False)
    G.eval()  # BatchNorm (DCGAN) keeps its running statistics; StyleGAN2 has none
    G.requires_grad_(True)
    start_params = [p.detach().clone() for p in G.parameters()]
    opt = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.0, 0.99))
    z_dim = gan.z_dim
    fixed_z = seed_z(cfg.sample_seeds, z_dim, device)
    schedule = cfg.schedule()

    state_path = run.file("state.safetensors")
    start_it, seconds = 0, 0.0
    if cfg.resume and os.path.isfile(state_path):
        info, _ = load_state(state_path, {"g": G}, {"g": opt})
        start_it, seconds = info["iter"], info["seconds"]
    rows = _metrics_upto(run, start_it - 1) if start_it else []

    settings = {"config": asdict(cfg), "model": gan.path, "model_arch": gan.arch,
                "model_config": gan.config, "generator": gan.which, "uncanny_version": __version__,
                "torch": torch.__version__, "device": str(device), "machine": platform.platform(),
                "cpu_threads": torch.get_num_threads()}
    run.write_json("run.json", settings)

    def fixed_samples():
        with torch.no_grad():
            return torch.cat([gan.generate(z, cfg.truncation) for z in fixed_z.split(16)])

    def save_snapshot(it, samples):
        path = run.snapshot_path("iter", it)
        meta = {"provenance": {"foiled_from": gan.path, "generator": gan.which, **gan.header.get("provenance", {})},
                "foil": {"iter": it, "loss": cfg.loss, "lr": cfg.lr, "lr_schedule": cfg.lr_schedule, "batch": cfg.batch}}
        save_checkpoint(path, gan.arch, gan.config, {"g": G}, meta, w_avg=gan.w_avg)  # config holds the stage
        imgs = to_uint8(samples)
        save_png(run.file("grids", snapshot_name("iter", it, "png")), grid(imgs, ncol=int(math.ceil(len(imgs) ** 0.5))))
        save_resume_state(it)

    def save_resume_state(it):
        # Resuming from here runs iteration `it` with G as it is now, so keep the rows before it.
        # The state file is the commit point: everything it relies on is written before it.
        run.write_csv("metrics.csv", METRIC_COLUMNS, [r for r in rows if int(r["iter"]) < it])
        save_state(state_path, {"g": G}, {"g": opt}, {"iter": it, "seconds": seconds})

    stopped, interrupted = None, False
    last_finite_it = start_it - 1
    stop = StopRequest()  # Ctrl-C or SIGTERM: finish the iteration, write the resume state, stop
    bar = progress(range(start_it, cfg.iters + 1), initial=start_it, total=cfg.iters + 1, desc="foil",
                   disable=not show_progress)
    t_last = time.time()
    try:
        for it in bar:
            # -- observe the generator as it is at iteration `it` (before its update); observing never
            #    touches the step's randomness, so how often it happens does not change the run
            row = {"iter": it, "param_dist": f"{param_distance(G, start_params):.5g}", "skipped": 0}
            faces_due = cfg.faces_every and (it % cfg.faces_every == 0 or it == cfg.iters or it in schedule)
            frame_due = it % cfg.frame_every == 0 or it == cfg.iters
            samples = None
            if it % cfg.observe_every == 0 or faces_due or frame_due or it in schedule:
                samples = fixed_samples()
                with torch.no_grad():
                    d_fixed = float(D(samples).mean())
                row.update(d_fixed=f"{d_fixed:.5g}", diversity=f"{diversity(samples):.5g}", sameness=f"{sameness(samples):.4f}")
                row.update(zip(("mean_r", "mean_g", "mean_b"), (f"{c:.4f}" for c in mean_colour(samples))))
            if faces_due:
                row["face_rate"] = f"{face_rate(samples):.4f}"
                if judge_fake is not None:
                    row["detector_fake"] = f"{judge_fake(samples):.4f}"
            if frame_due:
                frame = label(upscale(grid(to_uint8(samples), ncol=int(math.ceil(len(samples) ** 0.5))), 2), f"iteration {it}")
                save_png(os.path.join(cfg.out, "frames", f"{it:06d}.png"), frame)
            if it in schedule:
                save_snapshot(it, samples)
            if it == cfg.iters:
                rows.append(row)
                break

            # -- one inverted step: make D call G's images fake
            torch.manual_seed(cfg.seed * 1_000_003 + it)  # noise inputs (StyleGAN2) replay on resume
            z = _batch_z(cfg.seed, it, cfg.batch, z_dim, device)
            logits = D(gan.train_images(z))
            loss = LOSSES[cfg.loss](logits)
            opt.zero_grad(set_to_none=True)
            finite = bool(torch.isfinite(loss))
            gnorm = float("nan")
            if finite:
                loss.backward()
                grads = [p.grad for p in G.parameters() if p.grad is not None]
                gnorm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
                finite = math.isfinite(gnorm)
            logits, loss_v = logits.detach(), float(loss.detach())
            row.update(loss=f"{loss_v:.5g}", d_mean=f"{float(logits.mean()):.5g}",
                       d_std=f"{float(logits.std()) if logits.numel() > 1 else 0.0:.5g}", grad_norm=f"{gnorm:.5g}")
            if finite:
                if cfg.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(G.parameters(), cfg.max_grad_norm)
                for group in opt.param_groups:
                    group["lr"] = cfg.lr_at(it)
                opt.step()
                last_finite_it = it
            else:
                row["skipped"] = 1
                opt.zero_grad(set_to_none=True)
            rows.append(row)
            now = time.time()
            seconds += now - t_last
            t_last = now
            bar.set_postfix(loss=row["loss"], D=row["d_mean"], gnorm=row["grad_norm"])
            if not finite and cfg.on_nonfinite == "stop":
                stopped = (f"non-finite {'loss' if not math.isfinite(loss_v) else 'gradient'} at iteration {it}; "
                           f"stopped cleanly after iteration {last_finite_it} (use --on-nonfinite continue "
                           f"to skip such steps and carry on)")
                save_snapshot(it, fixed_samples() if samples is None else samples)  # G as it stands: the bad step was not applied
                schedule = [s for s in schedule if s <= it]
                break
            if stop.requested:  # G is now as iteration it + 1 starts: resume there, no snapshot
                save_resume_state(it + 1)
                interrupted = True
                break
    finally:
        stop.restore()
    bar.close()
    if interrupted:  # no timeline or videos of a run half done; --resume finishes it
        run.release()
        return FoilResult(cfg.out, run.snapshots("iter"), {}, None,
                          f"interrupted after iteration {it}; continue with: uncanny foil --out {cfg.out} --resume", {})
    run.write_csv("metrics.csv", METRIC_COLUMNS, rows)
    result = _finish(run, cfg, gan, rows, stopped, seconds)
    run.release()
    return result


# ----------------------------------------------------------------------------- outputs

def timeline_strip(gans: dict, stages: dict[int, str], z: torch.Tensor, truncation: float = 1.0) -> np.ndarray:
    """The paper's Fig. 2: one column per snapshot (iteration -> loaded GAN), one row per latent,
    each column headed by its iteration and stage. Grey gutters, so that a collapsed white image
    still shows as a tile."""
    cols = []
    for it in sorted(gans):
        with torch.no_grad():
            imgs = to_uint8(gans[it].generate(z, truncation))
        col = upscale(grid(imgs, ncol=1, pad=2, bg=160), max(2, math.ceil(96 / imgs.shape[2])))
        cols.append(label(col, f"{it}: {stages.get(it, '')}"))
    return np.concatenate(cols, axis=1)


def _finish(run: RunFolder, cfg: FoilConfig, gan, rows, stopped, seconds) -> FoilResult:
    from .plots import plot_foil_curves

    snaps = run.snapshots("iter")
    order = sorted(snaps)
    stages, peak = label_stages(rows, order)
    files = {}

    # Timeline strip: rows = seeds, columns = snapshots (the paper's Fig. 2).
    device = gan.device
    loaded = {it: load_gan(snaps[it], which="g", device=device) for it in order}  # each snapshot read once
    n_rows = min(cfg.timeline_seeds, len(cfg.sample_seeds))
    z = seed_z(cfg.sample_seeds[:n_rows], gan.z_dim, device)
    files["timeline"] = os.path.join(cfg.out, "timeline.png")
    save_png(files["timeline"], timeline_strip(loaded, stages, z, cfg.truncation))

    # Population grids (Fig. 5): many seeds from the final snapshot, the peak and any chosen ones.
    pop_seeds = range(10_000, 10_000 + cfg.population_size)
    for it in sorted({order[-1], peak, *[p for p in cfg.population if p in snaps]}):
        g = loaded[it]
        with torch.no_grad():
            zz = seed_z(pop_seeds, gan.z_dim, device)
            imgs = to_uint8(torch.cat([g.generate(b, cfg.truncation) for b in zz.split(32)]))
        key = f"population-iter-{it:06d}"
        files[key] = os.path.join(cfg.out, key + ".png")
        save_png(files[key], grid(imgs, ncol=int(math.ceil(len(imgs) ** 0.5))))

    # Videos of the fixed-seed grid.
    frame_dir = os.path.join(cfg.out, "frames")
    frames = [np.asarray(Image.open(os.path.join(frame_dir, f)).convert("RGB"))
              for f in sorted(os.listdir(frame_dir)) if f.endswith(".png")]
    files["mp4"] = os.path.join(cfg.out, "foil.mp4")
    files["gif"] = os.path.join(cfg.out, "foil.gif")
    save_video(files["mp4"], frames, cfg.fps)
    save_video(files["gif"], frames[:: max(1, len(frames) // 100)], min(cfg.fps, 12))

    files["curves"] = os.path.join(cfg.out, "curves.png")
    plot_foil_curves(rows, stages, peak, files["curves"], title=f"foil {os.path.basename(cfg.out.rstrip('/'))}")
    files["metrics"] = os.path.join(cfg.out, "metrics.csv")

    record = run.read_json("run.json")
    record.pop("verb", None)
    record.update(stages={str(k): v for k, v in stages.items()}, peak_uncanny=peak, stage_rules=STAGE_RULES,
               stopped_early=stopped, seconds=round(seconds, 2), iterations_done=int(rows[-1]["iter"]) if rows else 0,
               its_per_second=round(len(rows) / seconds, 3) if seconds else None, files=files)
    run.write_json("run.json", record)
    return FoilResult(cfg.out, snaps, stages, peak, stopped, files)
