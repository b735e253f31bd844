"""What a model's dlib-descriptor Frechet distance is made of (docs/TRAINING.md, "Where this stands").

    python scripts/fd_anatomy.py runs/faces64v2/snapshots/kimg-000480.safetensors [--real data/celeba64]

On the model card's draw (1,000 samples, seeds 7000-7999) against the prepared photos:
1. the mean term (the squared shift of the mean descriptor) beside what sampling alone would give
   (tr(cov) / n for both sets), and how much of the shift lies along the photos' 8 main directions;
2. the samples' variance along those directions, as a share of the photos';
3. gender, age, smile and yaw by `uncanny.judges` for photos and samples (means, spreads, the male
   and the ambiguous shares);
4. whether the samples differ from the photos in colour or sharpness: their high-frequency energy
   (mean |Laplacian|), and whether blurring the photos moves their descriptors the way the samples
   differ (the cosine between the two mean shifts).
"""

import argparse

import numpy as np
from PIL import Image, ImageFilter

from uncanny import faces, judges
from uncanny.data import load_dataset
from uncanny.measure import generate_uint8
from uncanny.metrics import main_directions


def high_frequency(images: np.ndarray) -> float:
    """Mean |Laplacian| of the grey images (N, H, W, 3) uint8."""
    x = images.astype(float).mean(-1)
    lap = 4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]
    return float(np.abs(lap).mean())


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--real", default="data/celeba64")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7000)
    a = ap.parse_args()
    real = load_dataset(a.real)
    samples = generate_uint8(a.model, a.n, a.seed, device="cpu")
    rd, rk = faces.descriptors_with_index(real)
    sd, sk = faces.descriptors_with_index(samples)

    shift = sd.mean(0) - rd.mean(0)
    cov_r, cov_s = np.cov(rd.T), np.cov(sd.T)
    noise = np.trace(cov_r) / len(rd) + np.trace(cov_s) / len(sd)
    w, v = main_directions(rd)
    along = v.T @ shift
    print(f"mean term {shift @ shift:.4f} (sampling alone: {noise:.4f}); "
          f"share along the photos' 8 main directions {(along[:8] ** 2).sum() / (shift @ shift):.2f}")
    print("shift along each of them, in the photos' standard deviations:", np.round(along[:8] / np.sqrt(w[:8]), 2))
    print("samples' variance along each, as a share of the photos':",
          np.round((v.T @ cov_s @ v).diagonal()[:8] / w[:8], 2))

    attrs = ("gender", "age", "smile", "yaw")
    jr, js = judges.judge(real[rk], attrs), judges.judge(samples[sk], attrs)
    for name in attrs:
        r, s = jr[name][np.isfinite(jr[name])], js[name][np.isfinite(js[name])]
        print(f"{name}: photos mean {r.mean():.3f} sd {r.std():.3f}, samples mean {s.mean():.3f} sd {s.std():.3f}")
    g, gs = jr["gender"], js["gender"]
    print(f"male: photos {np.mean(g > .5):.3f}, samples {np.mean(gs > .5):.3f}; "
          f"ambiguous (0.2-0.8): photos {np.mean((g > .2) & (g < .8)):.3f}, samples {np.mean((gs > .2) & (gs < .8)):.3f}")

    print(f"colour mean (RGB): photos {real.reshape(-1, 3).mean(0).round(1)}, samples {samples.reshape(-1, 3).mean(0).round(1)}; "
          f"high-frequency energy: photos {high_frequency(real):.2f}, samples {high_frequency(samples):.2f}")
    for radius in (0.5, 0.8):
        blurred = np.stack([np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(radius))) for im in real])
        bshift = faces.descriptors(blurred).mean(0) - rd.mean(0)
        print(f"photos blurred {radius} px: high-frequency energy {high_frequency(blurred):.2f}, "
              f"mean term {bshift @ bshift:.4f}, cosine with the samples' shift {cosine(bshift, shift):.2f}")


if __name__ == "__main__":
    main()
