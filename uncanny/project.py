"""Project real faces into a GAN's latent space and film the search ("Familiar Faces").

    uncanny project photo.jpg --out runs/me                          # default model faces64, 1000 steps
    uncanny project a.jpg b.jpg c.jpg --chain --loop --out runs/loop  # faces flow into one another
    uncanny render runs/me/00-photo/latent.npz --run runs/foil1       # the face through a foiled G

Each face is found and aligned exactly as the training data was (faces.align_face). The latent
(W from the mean W, or W+ with --w-plus) and the noise maps are optimised as NVIDIA's StyleGAN2
projector does: Adam with a learning-rate ramp up and cosine ramp down, decaying noise added to
W, noise maps renormalised each step and regularised towards zero autocorrelation. A DCGAN's
z is optimised the same way. Loss: pixel MSE + (1 - MS-SSIM) + distance of the discriminator's
intermediate features.

Per face (out/NN-name/): target.png, projection.png, latent.npz, search.mp4, search.gif,
frames.csv (step, loss terms, PSNR, identity distance), identity.png. With --chain / --loop,
chain.mp4 joins them, and summary.json reports the seam of the loop.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import faces
from .checkpoint import GAN, load_gan
from .errors import UncannyError
from .losses import LPIPS, DFeatureLoss, IdentityLoss, ms_ssim, psnr
from .media import from_uint8, label, save_png, save_video, to_uint8, upscale
from .util import atomic_write_text, ensure_dir, progress, resolve_device

IDENTITY_THRESHOLD = 0.6  # dlib's same-person distance


@dataclass
class ProjectConfig:
    images: list[str]
    model: str | None = None
    out: str = "runs/project"
    steps: int = 1000
    every: int = 10
    fps: int = 24
    min_seconds: float = 6.0        # videos hold the last frame to last at least this long
    w_plus: bool = False
    lr: float = 0.1
    noise_reg: float = 1e5
    w_noise: float = 0.05           # initial std of noise added to W, relative to W's spread
    pixel_weight: float = 1.0
    ssim_weight: float = 1.0
    dfeat_weight: float = 1.0
    id_weight: float = 1.0          # dlib identity distance (differentiable port) in the loss
    lpips_weights: str | None = None  # torchvision's VGG16 state dict: adds LPIPS to the loss
    lpips_lin: str | None = None      # the lpips package's vgg.pth (calibrated LPIPS v0.1)
    lpips_weight: float = 1.0
    face: int = 0                   # which face in each photo, largest first
    chain: bool = False
    loop: bool = False
    seed: int = 0
    device: str | None = None
    overwrite: bool = False
    extra: dict = field(default_factory=dict)

    def validate(self):
        if not self.images:
            raise UncannyError("no images given")
        if self.steps <= 0:
            raise UncannyError(f"--steps {self.steps}: must be positive")
        if self.every <= 0:
            raise UncannyError(f"--every {self.every}: must be positive")
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


# The meter's second opinion: dlib's distance again on transformed copies of both images. The
# identity term of the loss optimises dlib's network on the target's untransformed chip, so a
# projection can learn to please that one measurement (a perturbation the eye does not read as
# the person); a mirror image or a light blur of both images moves the chip and removes such
# texture. Identifiability is judged on the worse of the two; frames where the plain distance
# and a transformed one differ by more than DISAGREE are flagged.
TRANSFORMS = ("mirror", "blur")
TRANSFORM_WORDS = {"mirror": "mirrored", "blur": "blurred"}
BLUR_SIGMA = 0.7   # pixels at the model's resolution: "lightly blurred"
DISAGREE = 0.1


def _transform(img: np.ndarray, name: str) -> np.ndarray:
    if name == "mirror":
        return np.ascontiguousarray(img[:, ::-1])
    if name == "blur":
        from PIL import ImageFilter
        return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(BLUR_SIGMA)))
    return img


class IdentityMeter:
    """dlib's identity distance from frames to a target face (what the videos and frames.csv
    report), measured three times: on the images as they are ("identity"), and on both images
    mirrored and both lightly blurred ("identity_mirror", "identity_blur"). "identity_judged",
    the larger of the two transformed distances, decides when the face becomes identifiable,
    because the loss optimises dlib's network on the plain target chip only; "disagree" flags
    frames where plain and transformed differ by more than DISAGREE.

    Each measurement is made the way dlib is normally used, at the frame's own face (HOG
    detector + 68 landmarks) after the same upscaling as the target. Where the detector finds
    no face in a frame, the frame is measured at the target's landmarks instead (projections are
    aligned like their target) and `face_found` is False, so the curve has no holes.

        meter = IdentityMeter(target)          # target: aligned (H, W, 3) uint8
        m = meter.measure(frame)               # {"identity": .., "identity_judged": .., ...}
        dist, found = meter(frame)             # the plain distance only
    """

    def __init__(self, target: np.ndarray):
        self.upscale = max(1, 256 // target.shape[0])
        self.refs = {name: self._reference(_transform(np.asarray(target), name)) for name in ("plain",) + TRANSFORMS}
        self.face, self.desc = self.refs["plain"]   # the face is also where the identity loss cuts its chip

    def _reference(self, img):
        big = faces._enlarge(img, self.upscale)
        found = faces.find_faces(big, upsample=0)
        if not found:
            return None, None
        return found[0], np.array(faces.face_recogniser().compute_face_descriptor(big, found[0].shape))

    def _distance(self, frame, name) -> tuple[float, bool]:
        face, desc = self.refs[name]
        if desc is None:
            return float("nan"), False
        big = faces._enlarge(_transform(np.asarray(frame), name), self.upscale)
        found = faces.find_faces(big, upsample=0)
        d = np.array(faces.face_recogniser().compute_face_descriptor(big, (found[0] if found else face).shape))
        return float(np.linalg.norm(d - desc)), bool(found)

    def __call__(self, frame: np.ndarray) -> tuple[float, bool]:
        return self._distance(frame, "plain")

    def measure(self, frame: np.ndarray) -> dict:
        plain, found = self._distance(frame, "plain")
        row = {"identity": plain, "face_found": int(found)}
        for name in TRANSFORMS:
            row[f"identity_{name}"] = self._distance(frame, name)[0]
        transformed = [row[f"identity_{n}"] for n in TRANSFORMS]
        row["identity_judged"] = max(transformed)   # NaN if any is NaN
        row["disagree"] = int(any(abs(t - plain) > DISAGREE for t in transformed))
        return row


# ----------------------------------------------------------------------------- the search


_NO_IDENTITY = {"identity": float("nan"), "face_found": 0, "identity_judged": float("nan"), "disagree": 0,
                **{f"identity_{n}": float("nan") for n in TRANSFORMS}}


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


@dataclass
class Latent:
    kind: str                      # "w", "w+" or "z"
    value: torch.Tensor            # (1, D) or (1, n_latent, D)
    noises: list[torch.Tensor]

    def save(self, path: str, meta: dict):
        arrays = {"latent": self.value.detach().cpu().numpy()}
        arrays.update({f"noise_{i}": n.detach().cpu().numpy() for i, n in enumerate(self.noises)})
        import io
        buf = io.BytesIO()
        np.savez(buf, **arrays, meta=np.array(json.dumps(dict(meta, kind=self.kind))))
        from .util import atomic_write_bytes
        atomic_write_bytes(path, buf.getvalue())


def load_latent(path: str) -> tuple[Latent, dict]:
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            noises = [torch.from_numpy(z[f"noise_{i}"]) for i in range(len([k for k in z.files if k.startswith("noise_")]))]
            return Latent(meta["kind"], torch.from_numpy(z["latent"]), noises), meta
    except (OSError, KeyError, ValueError) as e:
        raise UncannyError(f"{path}: not a latent file written by `uncanny project` ({e})") from None


def synthesize(gan: GAN, lat: Latent, G=None) -> torch.Tensor:
    """Image (1, 3, H, W) for a latent through generator G (default: the GAN's)."""
    G = G or gan.G
    if lat.kind == "z":
        return G(lat.value)
    img, _ = G([lat.value], input_is_latent=True, noise=lat.noises or None, randomize_noise=False)
    return img


def _stats(gan: GAN, device, n=10000):
    g = torch.Generator().manual_seed(123)
    with torch.no_grad():
        z = torch.randn(n, gan.z_dim, generator=g).to(device)
        if gan.arch == "dcgan":
            return torch.zeros(1, gan.z_dim, device=device), 1.0
        w = torch.cat([gan.G.style(b) for b in z.split(1000)])
    w_avg = w.mean(0, keepdim=True)
    w_std = float(((w - w_avg) ** 2).sum(1).mean().sqrt())
    return w_avg, w_std


def project_one(gan: GAN, target: np.ndarray, cfg: ProjectConfig, start: Latent | None, stats,
                meter: IdentityMeter | None, on_frame, show_progress=True, lpips=None) -> tuple[Latent, list[dict]]:
    """Optimise a latent towards `target`; calls on_frame(step, image_uint8, row) every `every` steps.

    The loss is pixel MSE + (1 - MS-SSIM) + D-feature distance + id_weight x the identity
    distance of dlib's descriptor network (differentiable port, on the target's face chip)
    (+ LPIPS when `lpips` is given) + the noise regulariser. `meter` (dlib itself) measures
    the saved frames; None skips the identity measurement and the identity term."""
    device = next(gan.G.parameters()).device
    G, D = gan.G, gan.D
    for p in G.parameters():
        p.requires_grad_(False)
    w_avg, w_std = stats
    y = from_uint8(target).to(device)
    dloss = DFeatureLoss(D) if (D is not None and cfg.dfeat_weight > 0) else None
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
    if gan.arch == "dcgan":
        kind = "z"
        value = (start.value.clone() if start is not None else torch.zeros(1, gan.z_dim, device=device))
        noises = []
    else:
        kind = "w+" if cfg.w_plus else "w"
        if start is not None:
            value = start.value.clone()
            if kind == "w+" and value.ndim == 2:
                value = value.unsqueeze(1).repeat(1, G.n_latent, 1)
            if kind == "w" and value.ndim == 3:
                value = value.mean(1)
            noises = [n.clone() for n in start.noises]
        else:
            value = w_avg.clone() if kind == "w" else w_avg.unsqueeze(1).repeat(1, G.n_latent, 1)
            noises = [n.to(device) for n in G.make_noise()]
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
        noise_scale = w_std * cfg.w_noise * max(0.0, 1 - t / 0.75) ** 2
        lat_now = Latent(kind, value, noises)
        if step % cfg.every == 0 or step == cfg.steps:  # frame of the latent as it is (no W noise)
            with torch.no_grad():
                img = synthesize(gan, lat_now)
            frame = to_uint8(img)[0]
            row = {"step": step, "psnr": float(psnr(img, y)), "ssim": float(ms_ssim(img, y))}
            row.update(meter.measure(frame) if meter is not None else _NO_IDENTITY)
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


def _write_frames_csv(path, rows):
    cols = ["step", "loss", "pixel", "ms_ssim_loss", "dfeat", "id_loss", "lpips", "noise_reg", "lr", "psnr", "ssim",
            "identity", "face_found"] + [f"identity_{n}" for n in TRANSFORMS] + ["identity_judged", "disagree"]
    import io
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(path, buf.getvalue())


def _plot_identity(rows, ident_step, path):
    from .plots import plt
    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [2, 1]})
    a = ax[0]
    a.plot(steps, [r["identity"] for r in rows], color="C0", lw=1, label="plain (the network the loss optimises)")
    for n, c in zip(TRANSFORMS, ("C1", "C2")):
        a.plot(steps, [r[f"identity_{n}"] for r in rows], color=c, lw=0.8, alpha=0.7, label=f"both images {TRANSFORM_WORDS[n]}")
    a.plot(steps, [r["identity_judged"] for r in rows], color="black", lw=1.8,
           label="judged: worse of the transformed")
    lost = [(r["step"], r["identity"]) for r in rows if not r.get("face_found", 1)]
    if lost:  # measured at the target's landmarks: dlib's detector found no face in the frame
        a.scatter(*zip(*lost), s=18, facecolors="white", edgecolors="C0", zorder=3,
                  label="no face detected (measured at the target's landmarks)")
    flagged = [(r["step"], r["identity_judged"]) for r in rows if r.get("disagree")]
    if flagged:
        a.scatter(*zip(*flagged), s=14, marker="x", color="red", zorder=4,
                  label=f"plain and transformed differ by > {DISAGREE} ({len(flagged)} frames)")
    a.axhline(IDENTITY_THRESHOLD, color="red", ls="--", lw=1, label="same person (0.6)")
    if ident_step is not None:
        a.axvline(ident_step, color="green", lw=1, label=f"identifiable (judged) from step {ident_step} on")
    a.set_xlabel("step")
    a.set_ylabel("dlib identity distance to the target")
    a.legend(fontsize=7, loc="upper right")
    ax[1].plot(steps, [r["psnr"] for r in rows], color="purple")
    ax[1].set_title("PSNR (dB)")
    ax[1].set_xlabel("step")
    for x in ax:
        x.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path + ".tmp.png", dpi=90)
    plt.close(fig)
    os.replace(path + ".tmp.png", path)


def identifiable_step(rows: list[dict], key: str = "identity_judged") -> int | None:
    """The step from which the `key` distance stays under dlib's same-person threshold to the
    end of the search (a frame that dips under it and comes back out does not count); None if
    the last frame is not under it."""
    step = None
    for r in rows:
        if r[key] < IDENTITY_THRESHOLD:
            step = r["step"] if step is None else step
        else:
            step = None
    return step


def project(cfg: ProjectConfig, show_progress: bool = True) -> dict:
    """Project every face; returns a summary (also written to out/summary.json)."""
    cfg.validate()
    if os.path.isdir(cfg.out) and os.listdir(cfg.out) and not cfg.overwrite:
        raise UncannyError(f"{cfg.out}: output folder already exists (use --overwrite)")
    device = resolve_device(cfg.device)
    gan = load_gan(cfg.model, device=device)
    if gan.arch not in ("stylegan2", "dcgan"):
        raise UncannyError(f"{gan.path}: projection supports StyleGAN2 and DCGAN models, not {gan.arch}")
    lpips = LPIPS.from_files(cfg.lpips_weights, cfg.lpips_lin).to(device) if cfg.lpips_weights else None
    ensure_dir(cfg.out, "output folder")
    size = gan.config.get("size", 64)
    stats = _stats(gan, device)

    targets, skipped = [], {}
    for path in cfg.images:
        try:
            targets.append((path, load_target(path, size, cfg.face)))
        except UncannyError as e:
            skipped[path] = str(e)
            print(f"uncanny: skipping {e}")
    if not targets:
        raise UncannyError("none of the images has a usable face: " + "; ".join(skipped.values()))

    summary = {"config": asdict(cfg), "model": gan.path, "faces": [], "skipped": skipped}
    order = [(i, p, t, "") for i, (p, t) in enumerate(targets)]
    if cfg.loop and len(targets) > 1:
        order.append((0, targets[0][0], targets[0][1], "-loop"))
    prev, videos = None, {}
    for n, (idx, path, target, suffix) in enumerate(order):
        fdir = ensure_dir(_face_dir(cfg.out, idx, path, suffix), "output folder")
        save_png(os.path.join(fdir, "target.png"), target)
        meter = IdentityMeter(target)
        raw = []
        start = prev if (cfg.chain and prev is not None) else None
        lat, rows = project_one(gan, target, cfg, start, stats, meter, lambda step, frame, row: raw.append(frame),
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
        _write_frames_csv(os.path.join(fdir, "frames.csv"), rows)
        _plot_identity(rows, ident["step"], os.path.join(fdir, "identity.png"))
        videos[(idx, suffix)] = raw
        keys = ("psnr", "identity", "identity_judged")
        summary["faces"].append({"image": path, "folder": fdir, "identifiable_at_step": ident["step"],
                                 "identifiable_at_step_plain": identifiable_step(rows, "identity"),
                                 "frames_disagreeing": sum(r["disagree"] for r in rows), "frames": len(rows),
                                 "first": {k: rows[0][k] for k in keys},
                                 "final": {k: rows[-1][k] for k in keys + ("face_found", "disagree")},
                                 "started_from": "previous face" if start is not None else "mean W"})
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
    atomic_write_text(os.path.join(cfg.out, "summary.json"), json.dumps(summary, indent=1, default=str))
    return summary


# ----------------------------------------------------------------------------- render


def render(latent_path: str, out: str, snapshot: str | None = None, run: str | None = None,
           fps: int = 12, device: str | None = None) -> dict:
    """Render a projected latent through one foiled snapshot (RUN/ITER) or every snapshot of a run."""
    lat, meta = load_latent(latent_path)
    dev = resolve_device(device)
    if (snapshot is None) == (run is None):
        raise UncannyError("give exactly one of --snapshot RUN/ITER or --run RUN")
    if run is not None:
        snap_dir = os.path.join(run, "snapshots")
        if not os.path.isdir(snap_dir):
            raise UncannyError(f"{run}: not a foil run folder (no snapshots/)")
        its = sorted(int(f[5:11]) for f in os.listdir(snap_dir) if f.startswith("iter-") and f.endswith(".safetensors"))
        paths = [(it, os.path.join(snap_dir, f"iter-{it:06d}.safetensors")) for it in its]
    else:
        paths = [(None, snapshot)]
    lat = Latent(lat.kind, lat.value.to(dev), [n.to(dev) for n in lat.noises])
    images = []
    for it, p in paths:
        gan = load_gan(p, which="g", device=dev)
        if gan.arch != meta.get("arch"):
            raise UncannyError(f"{p}: a {gan.arch} snapshot cannot render a {meta.get('arch')} latent")
        with torch.no_grad():
            img = to_uint8(synthesize(gan, lat))[0]
        images.append(label(upscale(img, max(1, 128 // img.shape[0])), f"iter {it}" if it is not None else "snapshot"))
    ensure_dir(os.path.dirname(os.path.abspath(out)) or ".", "output folder")
    strip = np.concatenate(images, axis=1)
    save_png(out, strip)
    result = {"strip": out}
    if len(images) > 1:
        frames = []
        for a, b in zip(images, images[1:]):  # hold each snapshot, then crossfade to the next
            frames += [a] * fps + [(a * (1 - t) + b * t).astype(np.uint8) for t in np.linspace(0, 1, fps // 2)]
        frames += [images[-1]] * fps
        video = os.path.splitext(out)[0] + ".mp4"
        save_video(video, frames, fps)
        result["video"] = video
    return result
