"""Checkpoints: exact round trips, clear errors on bad files."""

import json
import os

import pytest
import torch
from safetensors.torch import save_file

from uncanny import adapters
from uncanny.adapters import load_gan
from uncanny.checkpoint import read_checkpoint, save_checkpoint
from uncanny.errors import UncannyError

from ..conftest import TINY_SG2


def test_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(3)
    G, D = adapters.build("stylegan2", TINY_SG2)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    w_avg = G.mean_latent(128)
    path = str(tmp_path / "m.safetensors")
    save_checkpoint(path, "stylegan2", TINY_SG2, {"g_ema": G, "d": D}, {"provenance": {"x": 1}}, w_avg=w_avg)
    gan = load_gan(path, need_d=True)
    z = torch.randn(4, TINY_SG2["style_dim"])
    with torch.no_grad():
        assert torch.equal(G.eval()([z], randomize_noise=False)[0], gan.generate(z))
        assert torch.equal(D(G([z], randomize_noise=False)[0]), gan.D(gan.generate(z)))
    assert torch.equal(gan.w_avg, w_avg)
    side = json.load(open(tmp_path / "m.json"))
    assert side["arch"] == "stylegan2" and side["config"] == TINY_SG2 and side["provenance"] == {"x": 1}


def test_missing_truncated_and_foreign_files_are_refused(tmp_path, tiny_ckpt):
    with pytest.raises(UncannyError, match="no such checkpoint"):
        load_gan(str(tmp_path / "nope.safetensors"))
    data = open(tiny_ckpt, "rb").read()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UncannyError, match="cut.safetensors: not a readable safetensors"):
        load_gan(str(cut))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(os.urandom(1000))
    with pytest.raises(UncannyError, match="junk.safetensors"):
        load_gan(str(junk))
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(UncannyError, match="not made by uncanny-lab"):
        load_gan(str(foreign))
    with pytest.raises(UncannyError, match="expected a .safetensors"):
        load_gan(__file__)


def test_wrong_shapes_and_keys_are_named(tmp_path, tiny_ckpt):
    ck = read_checkpoint(tiny_ckpt)
    bad = dict(TINY_SG2, channel_max=8)  # config disagrees with the weights
    path = str(tmp_path / "bad.safetensors")
    save_checkpoint(path, "stylegan2", bad, {"g": ck.state["g"], "d": ck.state["d"]})
    with pytest.raises(UncannyError, match=r"wrong shape .*input.input"):
        load_gan(path)
    sd = dict(ck.state["g"])
    sd.pop("style.1.weight")
    save_checkpoint(path, "stylegan2", TINY_SG2, {"g": sd})
    with pytest.raises(UncannyError, match="missing style.1.weight"):
        load_gan(path)


def test_checkpoint_without_discriminator_explains_what_foil_needs(tmp_path, tiny_ckpt):
    ck = read_checkpoint(tiny_ckpt)
    path = str(tmp_path / "g_only.safetensors")
    save_checkpoint(path, "stylegan2", TINY_SG2, {"g_ema": ck.state["g_ema"]})
    gan = load_gan(path)  # fine for sampling
    assert gan.D is None
    with pytest.raises(UncannyError, match="no discriminator, and foiling needs one"):
        load_gan(path, need_d=True)
