"""How sure a discriminator is of the training photos: StyleGAN2-ADA's overfitting heuristic
r_t = E[sign(D(x_real))] over the whole training set, beside D's mean logit on the photos and on
samples of the same file's generator. On ~1k images D learns the photos by heart as training goes
on; r_t climbing towards 1 while the samples' logits stay low is the sign (Karras et al. 2020 held
r_t at 0.6 by adapting the augmentation). No held-out photos exist here, so this is the heuristic,
not a train/validation gap.

    python scripts/d_overfit.py data/celeba64 states/kimg191.safetensors runs/faces64v2/snapshots/kimg-000270.safetensors

Photos are fed un-augmented and samples are drawn with seeds 0..N-1 from G_ema at truncation 1.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny.adapters import load_gan  # noqa: E402
from uncanny.data import load_dataset  # noqa: E402
from uncanny.errors import UncannyError  # noqa: E402
from uncanny.media import from_uint8  # noqa: E402
from uncanny.util import seed_z  # noqa: E402


@torch.no_grad()
def d_logits(D, images: torch.Tensor, batch: int = 64) -> np.ndarray:
    """D's logits for (N, 3, H, W) images in [-1, 1], in batches."""
    return torch.cat([D(images[i:i + batch]).flatten() for i in range(0, len(images), batch)]).numpy()


def overfit_stats(real_logits: np.ndarray, fake_logits: np.ndarray) -> dict:
    return {"r_t": float(np.mean(np.sign(real_logits))), "d_real": float(real_logits.mean()),
            "d_fake": float(fake_logits.mean()), "margin": float(real_logits.mean() - fake_logits.mean())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", help="the prepared training set (uncanny data prepare)")
    ap.add_argument("models", nargs="+", help="checkpoints with a discriminator")
    ap.add_argument("--n", type=int, default=512, help="samples per model")
    a = ap.parse_args()
    torch.set_grad_enabled(False)
    try:
        reals = from_uint8(load_dataset(a.data))
        print(f"{'model':<60} {'r_t':>6} {'D(real)':>8} {'D(fake)':>8} {'margin':>7}")
        for path in a.models:
            gan = load_gan(path, need_d=True)   # a file without D is refused there, in one line
            fakes = torch.cat([gan.generate(seed_z(range(i, min(i + 64, a.n)), gan.z_dim, "cpu"))
                               for i in range(0, a.n, 64)])
            s = overfit_stats(d_logits(gan.D, reals), d_logits(gan.D, fakes))
            print(f"{path:<60} {s['r_t']:6.3f} {s['d_real']:8.3f} {s['d_fake']:8.3f} {s['margin']:7.3f}", flush=True)
    except UncannyError as e:
        sys.exit(str(e))


if __name__ == "__main__":
    main()
