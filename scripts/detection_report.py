"""Measure the detectors and the attacks, and write docs/DETECTION.md (and its figures).

    uncanny detector train --out runs/detector                    # the embedded detector64's run
    uncanny detector train --out runs/detector-nofoil --exclude foil
    uncanny detector train --out runs/detector-nodcgan --exclude dcgan
    uncanny detector train --out runs/detector-nofaces64v2 --exclude faces64v2
    python scripts/ship_model.py runs/detector detector64           # embed it (float16)
    python scripts/detection_report.py

The report makes its foil run itself when --foil-run is missing: the demo's setting (`uncanny.demo.DEMO`)
with `--detector detector64`; an existing run made with another setting is refused.

Held-out accuracy and average precision per generator for detector64 (as shipped), plain, after
JPEG 75 and after a Gaussian blur (sigma 1 px); the leave-one-generator-out detectors on the
generator they never saw; along a foil run, when each detector's verdict on the fixed seeds flips
against dlib's face rate; the attacks' success against eps, after JPEG 90, and on the other
detector (transfer).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny import faces  # noqa: E402
from uncanny.adapters import load_gan  # noqa: E402
from uncanny.attack import AttackConfig, perturb  # noqa: E402
from uncanny.detector_train import (GROUPS, DetectorTrainConfig, average_precision, blur,  # noqa: E402
                                    group_images, jpeg)
from uncanny.demo import DEMO  # noqa: E402
from uncanny.detectors import load_detector, prepare, real_faces, to_unit  # noqa: E402
from uncanny.foil import FoilConfig, foil  # noqa: E402
from uncanny.media import to_uint8  # noqa: E402
from uncanny.plots import plt  # noqa: E402
from uncanny.registry import DEFAULT as MODEL, describe  # noqa: E402
from uncanny.runs import list_snapshots  # noqa: E402
from uncanny.util import atomic_write_text, seed_z  # noqa: E402

TEST_SEEDS = range(200_000, 200_200)          # the test seeds of uncanny.detector_train
EPS = (0.5, 1, 2, 4, 8)                       # in 1/255


def test_sets():
    real = real_faces()
    idx = np.arange(len(real))
    fakes = {g: np.concatenate(list(group_images(g, list(TEST_SEEDS), DetectorTrainConfig()).values()))
             for g in GROUPS}
    return real[idx % 5 == 0], fakes


def table(det, real, fakes, transform=None):
    t = transform or (lambda im: im)
    s_real = det.scores(np.stack([t(im) for im in real]))
    rows = {"real photos": (float((s_real < 0.5).mean()), float("nan"))}
    for g, ims in fakes.items():
        s = det.scores(np.stack([t(im) for im in ims]))
        rows[g] = (float((s > 0.5).mean()), average_precision(s, s_real))
    return rows


def foil_curve(run: str, dets: dict, seeds=range(16)):
    """Per snapshot: each detector's mean fake score on the fixed seeds, and dlib's face rate."""
    out = []
    for it, path in list_snapshots(os.path.join(run, "snapshots"), "iter").items():
        gan = load_gan(path, which="g")
        with torch.no_grad():
            imgs = to_uint8(gan.generate(seed_z(seeds, gan.z_dim)))
        aligned = np.stack([prepare(im).aligned for im in imgs])
        row = {"iter": it, "face_rate": faces.detection_rate(imgs)}
        for name, det in dets.items():
            row[name] = float(det.scores(aligned).mean())
        out.append(row)
    return out


def attack_curve(dets, n=24):
    """Success (verdict flipped, scored from the saved 8-bit image) against eps, PGD L-inf."""
    from uncanny.data import celeba_folder
    photos = sorted(f for f in os.listdir(celeba_folder()) if f.endswith(".jpg"))
    reals = [faces.load_image(os.path.join(celeba_folder(), f)) for i, f in enumerate(photos) if i % 5 == 0][:n]
    gan = load_gan(MODEL)
    with torch.no_grad():
        fakes = list(to_uint8(gan.generate(seed_z(range(300_000, 300_000 + n), gan.z_dim))))
    names = list(dets)
    target, other = dets[names[0]], dets[names[1]]
    res = {}
    for kind, imgs in (("fakes", fakes), ("photos", reals)):
        for method in ("pgd", "fgsm"):
            for e in EPS:
                flips, flips_jpeg, transfer, psnr = 0, 0, 0, []
                for img in imgs:
                    prep = prepare(img)
                    before = float(target.scores(prep.aligned[None])[0])
                    t_before = float(other.scores(prep.aligned[None])[0])
                    cfg = AttackConfig(images=["x"], eps=f"{e}/255", method=method)
                    adv = perturb(target, to_unit(img), prep, before <= 0.5, e / 255, cfg)
                    adv8 = np.rint(adv[0].permute(1, 2, 0).numpy() * 255).clip(0, 255).astype(np.uint8)
                    after = float(target.scores(prepare(adv8).aligned[None])[0])
                    after_j = float(target.scores(prepare(jpeg(adv8, 90)).aligned[None])[0])
                    t_after = float(other.scores(prepare(adv8).aligned[None])[0])
                    flips += (after > 0.5) != (before > 0.5)
                    flips_jpeg += (after_j > 0.5) != (before > 0.5)
                    transfer += (t_after > 0.5) != (t_before > 0.5)
                    mse = ((adv8.astype(float) - img) ** 2).mean()
                    psnr.append(10 * np.log10(255 ** 2 / max(mse, 1e-9)))
                res[(kind, method, e)] = {"success": flips / len(imgs), "after_jpeg90": flips_jpeg / len(imgs),
                                          "transfer": transfer / len(imgs), "psnr": float(np.mean(psnr))}
                print(kind, method, e, res[(kind, method, e)], flush=True)
    return res


def demo_foil_run(run: str) -> None:
    """The foil run along which the detectors are followed: the demo's setting with detector64's
    scores recorded; made here when missing, refused when made with another setting."""
    path = os.path.join(run, "run.json")
    if not os.path.isfile(path):
        foil(FoilConfig(out=run, detector="detector64", **DEMO))
        return
    had = FoilConfig.resumed(json.load(open(path))["config"], FoilConfig(out=run))   # as foil reads it back
    differ = {k: (getattr(had, k), v) for k, v in {**DEMO, "detector": "detector64"}.items()
              if getattr(had, k) != v}
    if differ:
        sys.exit(f"{path}: not the demo's setting with --detector detector64 ({differ}); "
                 "move it aside and rerun to make it anew")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loo", nargs="*",
                    default=["runs/detector-nofaces64v2", "runs/detector-nofoil", "runs/detector-nodcgan"])
    ap.add_argument("--foil-run", default="runs/detect-foil", help="a foil run with --detector detector64")
    ap.add_argument("--doc", default="docs/DETECTION.md")
    ap.add_argument("--images", default="docs/images")
    a = ap.parse_args()
    t0 = time.time()
    det = load_detector(None)
    d_name = f"d:{MODEL}"
    dd = load_detector(d_name)
    meta = det.meta
    real, fakes = test_sets()
    plain, jpg, blr = (table(det, real, fakes), table(det, real, fakes, lambda im: jpeg(im, 75)),
                       table(det, real, fakes, lambda im: blur(im, 1.0)))
    d_plain = table(dd, real, {MODEL: fakes[MODEL]})

    groups = meta["generators"]
    named = {"states": "faces64's training states at 9 and 24 kimg", "dcgan": "the gan-face-generate DCGAN",
             "foil": "the snapshots after iteration 0 of a foil run (the demo's)"}
    kimg = describe(MODEL).get("training", {}).get("kimg")
    lines = ["# Detection and attacks, measured", "",
             f"*Measured on the embedded default, {MODEL}" + (f" ({kimg:.1f} kimg)" if kimg else "") +
             f", with detector64 as embedded (trained against it); {time.strftime('%Y-%m-%d')}.*", "",
             f"Detector64 (the embedded default) is a CNN trained from scratch here (`uncanny detector train`) "
             f"on {meta['train_images']['real']} aligned CelebA photos against {meta['train_images']['fake']:,} "
             f"fakes: {', '.join(named.get(g, g) for g in groups)}, every image prepared as "
             "`uncanny detect` prepares it, with CNNDetection's blur + JPEG augmentation. Test images are held "
             "out: photos never trained on, fakes from other seeds (200000-200199). CelebA: non-commercial "
             "research use only.", "",
             "Reproduce: the commands at the top of `scripts/detection_report.py`, then "
             "`python scripts/detection_report.py`.", "",
             "## Held-out accuracy and average precision (detector64)", "",
             "Accuracy at the 0.5 threshold (for photos: the share called real); AP: fakes of that generator "
             "against the test photos.", "",
             "| images | n | accuracy | AP | accuracy after JPEG 75 | AP after JPEG 75 | accuracy after blur (1 px) | AP after blur |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for g in plain:
        n = len(real) if g == "real photos" else len(fakes[g])
        cells = []
        for tab in (plain, jpg, blr):
            acc, ap_ = tab[g]
            cells += [f"{acc:.3f}", "" if np.isnan(ap_) else f"{ap_:.3f}"]
        lines.append(f"| {g} | {n} | " + " | ".join(cells) + " |")
    lines += ["", f"{MODEL}'s own discriminator as a detector (`--detector {d_name}`, threshold at its equal "
                  f"error rate on 512 photos vs 512 samples): photos called real {d_plain['real photos'][0]:.3f}, "
                  f"{MODEL} samples called fake {d_plain[MODEL][0]:.3f}, AP {d_plain[MODEL][1]:.3f}: "
                  f"{'a weak' if d_plain[MODEL][1] < 0.8 else 'a fair'} judge of its own samples, though "
                  "the GAN objective drives D's outputs on them towards its outputs on photos.",
              "", "## Leave one generator out", "",
              "Detectors trained without one group, tested on it (and on the photos):", "",
              "| trained without | its fakes called fake | AP | photos called real |", "| --- | ---: | ---: | ---: |"]
    for path in a.loo:
        meta = json.load(open(os.path.join(path, "detector.json")))
        for g in meta["excluded"]:
            m = meta["test"][g]
            lines.append(f"| {g} ({path}) | {m['accuracy']:.3f} | {m['ap']:.3f} | {meta['test']['real']['accuracy']:.3f} |")

    lines += ["", "A group left out is gone from training, but the foil group is the demo's run of the default "
                  f"model: its snapshots from iteration 25 on are foiled {MODEL}, close to it early in the run, so "
                  f"the {MODEL} row is not a test on a wholly unseen generator."]

    import shutil
    demo_foil_run(a.foil_run)
    shutil.copy(os.path.join(a.foil_run, "curves.png"), os.path.join(a.images, "detect-foil-curves.png"))
    curve = foil_curve(a.foil_run, {"detector64": det, d_name: dd})
    its = [r["iter"] for r in curve]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(its, [r["detector64"] for r in curve], "o-", color="black", label="detector64 fake score")
    ax.plot(its, [r[d_name] for r in curve], "s-", color="C3", label=f"{MODEL}'s D (calibrated) fake score")
    ax.plot(its, [r["face_rate"] for r in curve], "^-", color="C0", label="dlib face rate")
    ax.axhline(0.5, color="grey", ls="--", lw=1)
    ax.set_xlabel("foil iteration")
    ax.set_title("Along a foil run (the demo's settings, 16 fixed seeds)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(a.images, "detect-foil.png"), dpi=90)
    plt.close(fig)

    def flip(name):
        first = curve[0][name] > 0.5
        return next((r["iter"] for r in curve if (r[name] > 0.5) != first), None), first
    lines += ["", "## Along a foil run", "",
              f"`uncanny foil --detector detector64` with the demo's settings ({a.foil_run}): the fake score of "
              f"the 16 fixed seeds at each snapshot, against dlib's face rate.", "",
              f"| iteration | detector64 | {MODEL}'s D | dlib face rate |", "| ---: | ---: | ---: | ---: |"]
    for r in curve:
        lines.append(f"| {r['iter']} | {r['detector64']:.3f} | {r[d_name]:.3f} | {r['face_rate']:.2f} |")
    for name in ("detector64", d_name):
        it, first = flip(name)
        start = "fake" if first else "real"
        lines.append(f"\n{name}: {start} at iteration 0" + (f", flips at iteration {it}." if it is not None
                                                              else ", and never flips."))
    lines += ["", "![detectors along a foil run](images/detect-foil.png)", "",
              "The run's own curves with the detector in them (`uncanny foil --detector detector64`; copy of "
              f"`{a.foil_run}/curves.png`):", "", "![foil curves with the detector](images/detect-foil-curves.png)", ""]

    res = attack_curve({"detector64": det, d_name: dd})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, kind in zip(axes, ("fakes", "photos")):
        for method, style in (("pgd", "-"), ("fgsm", ":")):
            ax.plot(EPS, [res[(kind, method, e)]["success"] for e in EPS], "o" + style, color="black",
                    label=f"{method.upper()}: flipped")
            ax.plot(EPS, [res[(kind, method, e)]["after_jpeg90"] for e in EPS], "s" + style, color="C1",
                    label=f"{method.upper()}: still flipped after JPEG 90")
            ax.plot(EPS, [res[(kind, method, e)]["transfer"] for e in EPS], "^" + style, color="C2",
                    label=f"{method.upper()}: flips {MODEL}'s D too (transfer)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("eps (L-inf, /255)")
        ax.set_title(f"{kind}: made to look {'real' if kind == 'fakes' else 'fake'} to detector64")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("share of 24 images")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(a.images, "attack-eps.png"), dpi=90)
    plt.close(fig)
    lines += ["## Attacks on detector64", "",
              f"24 held-out {MODEL} samples (64 px) and 24 held-out CelebA photos (178 x 218, perturbed at their "
              "own size through the differentiable alignment), PGD L-inf (20 steps, random start) and FGSM. "
              "Success = the verdict of the saved 8-bit PNG, re-detected and re-aligned, is flipped.", "",
              f"| images | method | eps (/255) | flipped | still flipped after JPEG 90 | flips {MODEL}'s D (transfer) | PSNR (dB) |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for (kind, method, e), r in res.items():
        lines.append(f"| {kind} | {method} | {e:g} | {r['success']:.2f} | {r['after_jpeg90']:.2f} | "
                     f"{r['transfer']:.2f} | {r['psnr']:.1f} |")
    lines += ["", "![attack success against eps](images/attack-eps.png)", "",
              f"(report written in {time.time() - t0:.0f} s)", ""]
    atomic_write_text(a.doc, "\n".join(lines))
    print(f"wrote {a.doc}")


if __name__ == "__main__":
    main()
