"""Project real faces into a GAN's latent space and film the search ("Familiar Faces").

    uncanny project photo.jpg --out runs/me                          # default model, 1000 steps
    uncanny project a.jpg b.jpg c.jpg --chain --loop --out runs/loop  # faces flow into one another
    uncanny render runs/me/00-photo/latent.npz --run runs/foil1       # the face through a foiled G

    from uncanny.project import ProjectConfig, project
    summary = project(ProjectConfig(images=["photo.jpg"], out="runs/me"))

Each face is found and aligned exactly as the training data was (faces.align_face). The latent
(W from the mean W, or W+ with --w-plus) and the noise maps are optimised as NVIDIA's StyleGAN2
projector does: Adam with a learning-rate ramp up and cosine ramp down, decaying noise added to
W, noise maps renormalised each step and regularised towards zero autocorrelation. A DCGAN's
z is optimised the same way. Loss: pixel MSE + (1 - MS-SSIM) + distance of the discriminator's
intermediate features + dlib's identity distance (see identity.py for how identifiability is
judged without trusting that one network).

Per face (out/NN-name/): target.png, projection.png, latent.npz, search.mp4, search.gif,
frames.csv (step, loss terms, PSNR, identity distances), identity.png. In out/: run.json,
summary.json, and with --chain / --loop chain.mp4 (summary.json reports the loop's seam).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import faces
from .adapters import GAN, load_gan
from .errors import UncannyError
from .identity import NO_IDENTITY, TRANSFORMS, IdentityMeter, identifiable_step
from .latents import Latent, load_latent, synthesize
from .losses import LPIPS, DFeatureLoss, IdentityLoss, ms_ssim, psnr
from .media import from_uint8, label, save_png, save_video, to_uint8, upscale
from .options import non_negative, option, positive, validate
from .plots import plot_identity
from .runs import RunFolder
from .util import atomic_write_bytes, progress, resolve_device


@dataclass
class ProjectConfig:
    images: list = option(None, "photos to project (any size; the face is found and aligned); with --resume, "
                          "the run's own", positional=True, nargs="*")
    model: str | None = option(None, "checkpoint or embedded model (default: the default model)")
    out: str = option("runs/project", "run folder", flag="--out")
    steps: int = option(1000, "optimisation steps per face", check=positive)
    every: int = option(10, "a video frame every N steps", check=positive)
    fps: int = option(24, "frames per second of the videos", check=positive)
    min_seconds: float = option(6.0, "videos hold the last frame to last at least this long", cli=False,
                                check=non_negative)
    w_plus: bool = option(False, "optimise one W per layer (W+) instead of one W")
    lr: float = option(0.1, "Adam learning rate (peak of the ramp)", check=positive)
    noise_reg: float = option(1e5, "weight of the noise maps' autocorrelation penalty", cli=False, check=non_negative)
    w_noise: float = option(0.05, "initial std of noise added to W, relative to W's spread", cli=False,
                            check=non_negative)
    pixel_weight: float = option(1.0, "pixel MSE weight", cli=False, check=non_negative)
    ssim_weight: float = option(1.0, "1 - MS-SSIM weight", cli=False, check=non_negative)
    dfeat_weight: float = option(1.0, "discriminator-feature distance weight", cli=False, check=non_negative)
    id_weight: float = option(1.0, "weight of dlib's identity distance in the loss (0 = pixels and features only)",
                              check=non_negative)
    lpips_weights: str | None = option(None, "torchvision's VGG16 weights (vgg16-397923af.pth): adds LPIPS to the loss",
                                       metavar="VGG16_PTH")
    lpips_lin: str | None = option(None, "the lpips package's weights/v0.1/vgg.pth (calibrated LPIPS; else "
                                   "uncalibrated)", metavar="VGG_PTH")
    lpips_weight: float = option(1.0, "LPIPS weight", cli=False, check=non_negative)
    face: int = option(0, "which face in each photo (0 = largest)", check=non_negative)
    chain: bool = option(False, "start each face from the previous face's latent")
    loop: bool = option(False, "close the chain: re-project the first face from the last")
    seed: int = option(0, "seed of the search's noise", check=non_negative)
    device: str | None = option(None, "cpu, cuda, cuda:1 (default: cuda if available)")
    resume: bool = option(False, "continue an interrupted projection: finished faces are kept, the rest are done")
    overwrite: bool = option(False, "replace an existing projection run in --out")
    PER_CALL = ("device", "resume", "overwrite", "out")

    def validate(self):
        if not self.images and not self.resume:
            raise UncannyError("no images given")
        validate(self)
        if self.loop and not self.chain:
            self.chain = True  # a loop is a chain closed on itself


# ----------------------------------------------------------------------------- targets


def load_target(path: str, size: int, face_index: int = 0, min_face: int = 32) -> np.ndarray:
    """The aligned face (size, size, 3) uint8 in a photo, or UncannyError naming the file."""
    img = faces.load_image(path)
    found = faces.find_faces(img)
    if not found:
        raise UncannyError(f"{path}: no face found")
    if face_index >= len(found):
        raise UncannyError(f"{path}: --face {face_index} asked for, but the photo has {len(found)} face(s)")
    face = found[face_index]
    if face.size < min_face:
        raise UncannyError(f"{path}: face is only {face.size} px (at least {min_face} needed)")
    return faces.align_face(img, face.landmarks, size)


# ----------------------------------------------------------------------------- the search


PROJECTABLE = ("stylegan2", "dcgan")


def _noise_reg(noises) -> torch.Tensor:
    """Penalise spatial autocorrelation of each noise map at every scale down to 8 px."""
    loss = 0.0
    for n in noises:
        while True:
            loss = loss + (n * torch.roll(n, 1, dims=3)).mean() ** 2 + (n * torch.roll(n, 1, dims=2)).mean() ** 2
            if n.shape[2] <= 8:
                break
            n = F.avg_pool2d(n, 2)
    return loss


def project_one(gan: GAN, target: np.ndarray, cfg: ProjectConfig, start: Latent | None, w_spread: float,
                meter: IdentityMeter | None, on_frame, show_progress=True, lpips=None) -> tuple[Latent, list[dict]]:
    """Optimise a latent towards `target`; calls on_frame(step, image_uint8, row) every `every` steps.

    The loss is pixel MSE + (1 - MS-SSIM) + D-feature distance + id_weight x the identity
    distance of dlib's descriptor network (differentiable port, on the target's face chip)
    (+ LPIPS when `lpips` is given) + the noise regulariser. `meter` (dlib itself) measures
    the saved frames; None skips the identity measurement and the identity term."""
    device = gan.device
    G, D = gan.G, gan.D
    for p in G.parameters():
        p.requires_grad_(False)
    y = from_uint8(target).to(device)
    dloss = DFeatureLoss(gan.d_features) if (D is not None and cfg.dfeat_weight > 0) else None
    if dloss is not None:
        for p in D.parameters():
            p.requires_grad_(False)
        with torch.no_grad():
            y_feats = dloss.feats(y)
    id_loss = None
    if cfg.id_weight > 0 and meter is not None and meter.desc is not None:
        id_loss = IdentityLoss(meter.face, y, meter.upscale)  # the meter already found the target's face
    if lpips is not None:
        with torch.no_grad():
            y_lpips = lpips.features(y)

    torch.manual_seed(cfg.seed)
    kind = "z" if "w" not in gan.latent_kinds else ("w+" if cfg.w_plus else "w")
    if kind == "z":   # no mapping network: search z from the origin
        value = start.value.clone() if start is not None else torch.zeros(1, gan.z_dim, device=device)
        noises = []
    elif start is not None:
        value = start.value.clone()
        if kind == "w+" and value.ndim == 2:
            value = value.unsqueeze(1).repeat(1, gan.num_ws, 1)
        if kind == "w" and value.ndim == 3:
            value = value.mean(1)
        noises = [n.clone() for n in start.noises]
    else:
        value = gan.w_avg.clone() if kind == "w" else gan.w_avg.unsqueeze(1).repeat(1, gan.num_ws, 1)
        noises = [n.to(device) for n in gan.make_noise()]
    value.requires_grad_(True)
    for n in noises:
        n.requires_grad_(True)
    opt = torch.optim.Adam([value] + noises, lr=cfg.lr, betas=(0.9, 0.999))

    rows = []
    bar = progress(range(cfg.steps + 1), desc="project", leave=False, disable=not show_progress)
    for step in bar:
        t = step / cfg.steps
        # NVIDIA's schedule: ramp up over 5%, cosine ramp down over the last 25%
        ramp = 0.5 - 0.5 * math.cos(min(1.0, (1 - t) / 0.25) * math.pi)
        lr = cfg.lr * ramp * min(1.0, t / 0.05)
        for g in opt.param_groups:
            g["lr"] = lr
        noise_scale = w_spread * cfg.w_noise * max(0.0, 1 - t / 0.75) ** 2
        lat_now = Latent(kind, value, noises)
        if step % cfg.every == 0 or step == cfg.steps:  # frame of the latent as it is (no W noise)
            with torch.no_grad():
                img = synthesize(gan, lat_now)
            frame = to_uint8(img)[0]
            row = {"step": step, "psnr": float(psnr(img, y)), "ssim": float(ms_ssim(img, y))}
            row.update(meter.measure(frame) if meter is not None else NO_IDENTITY)
            rows.append(row)
            on_frame(step, frame, row)
        if step == cfg.steps:
            break
        noisy = value + torch.randn_like(value) * noise_scale if kind != "z" else value
        img = synthesize(gan, Latent(kind, noisy, noises))
        pix = F.mse_loss(img, y)
        ssim_l = 1 - ms_ssim(img, y).mean()
        feat = dloss(img, y_feats) if dloss is not None else torch.zeros((), device=device)
        ident = id_loss(img).mean() if id_loss is not None else torch.zeros((), device=device)
        perc = lpips(img, y_lpips).mean() if lpips is not None else torch.zeros((), device=device)
        reg = _noise_reg(noises) if noises else torch.zeros((), device=device)
        loss = (cfg.pixel_weight * pix + cfg.ssim_weight * ssim_l + cfg.dfeat_weight * feat
                + cfg.id_weight * ident + cfg.lpips_weight * perc + cfg.noise_reg * reg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for n in noises:
                n -= n.mean()
                n *= n.square().mean().rsqrt()
        if rows and rows[-1]["step"] == step:
            rows[-1].update(loss=loss.item(), pixel=pix.item(), ms_ssim_loss=ssim_l.item(), dfeat=feat.item(),
                            id_loss=ident.item(), lpips=perc.item(), noise_reg=float(reg.detach()), lr=lr)
        bar.set_postfix(loss=f"{loss.item():.4f}")
    return Latent(kind, value.detach(), [n.detach() for n in noises]), rows


# ----------------------------------------------------------------------------- the command


def _face_dir(out, idx, path, suffix=""):
    name = os.path.splitext(os.path.basename(path))[0]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40]
    return os.path.join(out, f"{idx:02d}-{safe}{suffix}")


def _side_by_side(target: np.ndarray, frame: np.ndarray, step: int, identifiable: bool) -> np.ndarray:
    k = max(1, 256 // target.shape[0])
    pair = np.concatenate([upscale(target, k), np.full((target.shape[0] * k, 4, 3), 255, np.uint8), upscale(frame, k)], 1)
    text = f"target | projection   step {step}" + ("   identifiable" if identifiable else "")
    out = label(pair, text, height=16)
    if identifiable:  # a green bar under the caption marks frames past the identifiability point
        out[16:19, pair.shape[1] // 2:] = (40, 200, 60)
    return out


FRAME_COLUMNS = (["step", "loss", "pixel", "ms_ssim_loss", "dfeat", "id_loss", "lpips", "noise_reg", "lr", "psnr", "ssim",
                  "identity", "face_found"] + [f"identity_{n}" for n in TRANSFORMS] + ["identity_judged", "disagree"])


def _csv_rows(rows: list[dict]) -> list[dict]:
    return [{k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


def project(cfg: ProjectConfig, show_progress: bool = True) -> dict:
    """Project every face; returns a summary (also written to out/summary.json)."""
    cfg.validate()
    run = RunFolder(cfg.out, "project", sources=(*cfg.images, cfg.model, cfg.lpips_weights, cfg.lpips_lin))
    recorded = run.check(cfg.resume, cfg.overwrite)   # refuse early; nothing is deleted yet
    if recorded is not None and isinstance(recorded.get("config"), dict):   # resume: the run's own settings
        names = {f.name for f in dataclasses.fields(ProjectConfig)}
        kept = {k: v for k, v in recorded["config"].items() if k in names and k not in ProjectConfig.PER_CALL}
        cfg = ProjectConfig(**kept, out=cfg.out, device=cfg.device, resume=True)
        cfg.validate()
    if not cfg.images:
        raise UncannyError(f"{cfg.out}: nothing to resume there (no recorded projection); give the photos")
    device = resolve_device(cfg.device)
    gan = load_gan(cfg.model, device=device)
    if gan.arch not in PROJECTABLE:
        raise UncannyError(f"{gan.path}: projection supports {' and '.join(PROJECTABLE)} models, not {gan.arch}")
    lpips = LPIPS.from_files(cfg.lpips_weights, cfg.lpips_lin).to(device) if cfg.lpips_weights else None
    size = gan.size
    w_spread = gan.w_spread()

    targets, skipped = [], {}
    for path in cfg.images:
        try:
            targets.append((path, load_target(path, size, cfg.face)))
        except UncannyError as e:
            skipped[path] = str(e)
            print(f"uncanny: skipping {e}")
    if not targets:
        raise UncannyError("none of the images has a usable face: " + "; ".join(skipped.values()))
    run.open(cfg.resume, cfg.overwrite)           # inputs are good: now replace an old run
    run.write_json("run.json", {"config": asdict(cfg), "model": gan.path, "model_arch": gan.arch})

    summary = {"config": asdict(cfg), "model": gan.path, "faces": [], "skipped": skipped}
    order = [(i, p, t, "") for i, (p, t) in enumerate(targets)]
    if cfg.loop and len(targets) > 1:
        order.append((0, targets[0][0], targets[0][1], "-loop"))
    prev, videos = None, {}
    for n, (idx, path, target, suffix) in enumerate(order):
        fdir = _face_dir(cfg.out, idx, path, suffix)
        done = os.path.join(fdir, "face.json")
        if cfg.resume and os.path.isfile(done):   # finished before the interruption: kept as it is
            entry = json.load(open(done))
            summary["faces"].append(entry)
            with np.load(os.path.join(fdir, "frames.npz")) as z:
                videos[(idx, suffix)] = list(z["frames"])
            prev = load_latent(os.path.join(fdir, "latent.npz"))[0].to(device)
            continue
        os.makedirs(fdir, exist_ok=True)
        save_png(os.path.join(fdir, "target.png"), target)
        meter = IdentityMeter(target)
        raw = []
        start = prev if (cfg.chain and prev is not None) else None
        lat, rows = project_one(gan, target, cfg, start, w_spread, meter, lambda step, frame, row: raw.append(frame),
                                show_progress, lpips)
        ident = {"step": identifiable_step(rows)}
        frames = [_side_by_side(target, f, r["step"], ident["step"] is not None and r["step"] >= ident["step"])
                  for f, r in zip(raw, rows)]
        with torch.no_grad():
            final = to_uint8(synthesize(gan, lat))[0]
        save_png(os.path.join(fdir, "projection.png"), final)
        lat.save(os.path.join(fdir, "latent.npz"), {"model": gan.path, "arch": gan.arch, "source": path,
                                                     "steps": cfg.steps})
        hold = max(0, int(math.ceil(cfg.min_seconds * cfg.fps)) - len(frames))
        video = frames + [frames[-1]] * hold
        save_video(os.path.join(fdir, "search.mp4"), video, cfg.fps)
        save_video(os.path.join(fdir, "search.gif"), frames[:: max(1, len(frames) // 60)], min(cfg.fps, 12))
        run.write_csv(os.path.join(os.path.basename(fdir), "frames.csv"), FRAME_COLUMNS, _csv_rows(rows))
        plot_identity(rows, ident["step"], os.path.join(fdir, "identity.png"))
        videos[(idx, suffix)] = raw
        keys = ("psnr", "identity", "identity_judged")
        entry = {"image": path, "folder": fdir, "identifiable_at_step": ident["step"],
                 "identifiable_at_step_plain": identifiable_step(rows, "identity"),
                 "frames_disagreeing": sum(r["disagree"] for r in rows), "frames": len(rows),
                 "first": {k: rows[0][k] for k in keys},
                 "final": {k: rows[-1][k] for k in keys + ("face_found", "disagree")},
                 "started_from": "previous face" if start is not None else "mean W"}
        buf = io.BytesIO()
        np.savez_compressed(buf, frames=np.stack(raw))          # the chain video is rebuilt from these on resume
        atomic_write_bytes(os.path.join(fdir, "frames.npz"), buf.getvalue())
        run.write_json(os.path.join(os.path.basename(fdir), "face.json"), entry)   # last: the face is finished
        summary["faces"].append(entry)
        prev = lat

    if cfg.chain and len(targets) > 1:
        # The chain shows the projections only. With --loop the first face is the second pass,
        # which starts where the last face ended, so the last frame flows into the first.
        first = videos[(0, "-loop")] if cfg.loop else videos[(0, "")]
        parts = [first] + [videos[(i, "")] for i in range(1, len(targets))]
        k = max(1, 256 // size)
        chain = [upscale(f, k) for part in parts for f in part]
        save_video(os.path.join(cfg.out, "chain.mp4"), chain, cfg.fps)
        summary["chain"] = os.path.join(cfg.out, "chain.mp4")
        summary["chain_frames"] = len(chain)
        if cfg.loop:
            a, b = parts[-1][-1], parts[0][0]
            summary["loop_seam"] = {
                "mean_abs_pixel_difference": float(np.abs(a.astype(float) - b.astype(float)).mean()),
                "psnr_db": float(psnr(from_uint8(a), from_uint8(b))[0]) if not np.array_equal(a, b) else float("inf"),
                "note": "last frame of chain.mp4 against its first frame (0 difference = seamless)"}
    run.write_json("summary.json", summary)
    run.release()
    return summary
