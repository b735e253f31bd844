"""One adapter per architecture: the verbs' single view of StyleGAN2, StyleGAN 1 and DCGAN."""

import pytest
import torch

from uncanny import adapters
from uncanny.adapters import load_gan
from uncanny.checkpoint import read_checkpoint, save_checkpoint
from uncanny.errors import UncannyError
from uncanny.latents import Latent, check_fits, synthesize

from ..conftest import TINY_SG2

CONFIGS = {"stylegan2": TINY_SG2, "stylegan1": dict(code_dim=32, n_mlp=2, stage=8, fused=False),
           "dcgan": dict(nz=16, ngf=8, ndf=8)}


@pytest.mark.parametrize("arch", list(CONFIGS))
def test_every_adapter_maps_latents_to_images_the_same_way(arch):
    torch.manual_seed(0)
    G, D = adapters.build(arch, CONFIGS[arch])
    gan = adapters.adapter_for(arch)(G.eval(), D.eval(), None, CONFIGS[arch], {}, "test")
    gan.w_avg = gan.estimate_w_avg(256)
    z = torch.randn(3, gan.z_dim)
    with torch.no_grad():
        img = gan.generate(z)
        assert img.shape == (3, 3, gan.size, gan.size) and torch.equal(img, gan.generate(z))
        assert gan.train_images(z).shape == img.shape
        w = gan.mapping(z)
        kind = "w" if "w" in gan.latent_kinds else "z"
        assert torch.allclose(gan.synthesize(kind, w), img, atol=1e-5)   # z -> W -> image is generate
        assert isinstance(gan.d_features(img), list)
    assert (gan.w_avg is None) == (arch == "dcgan")


def test_stylegan2_style_weights_cover_every_styled_layer_in_w_plus_order(tiny_ckpt):
    gan = load_gan(tiny_ckpt)
    mats = gan.style_weights()
    idx = [i for i, _, _ in mats]
    # StyleGAN2 reads W+ entry 1 twice (to_rgb1 and the first upsampling conv), as in rosinality's forward
    assert idx == sorted(idx) and set(idx) == set(range(gan.num_ws))
    assert len(mats) == 1 + 1 + 3 * (len(gan.G.to_rgbs))
    for i, name, m in mats:
        assert m.shape[1] == gan.z_dim and not m.requires_grad
    # the matrix is the one the layer really applies: modulation(w) = m @ w + bias
    conv = gan.G.convs[0].conv
    w = torch.randn(2, gan.z_dim)
    assert torch.allclose(conv.modulation(w), w @ mats[2][2].t() + conv.modulation.bias * conv.modulation.lr_mul,
                          atol=1e-5)
    feats = gan.d_features(torch.zeros(2, 3, 16, 16))
    assert len(feats) == len(gan.D.convs)


def test_mean_w_comes_from_the_checkpoint_when_shipped(tiny_ckpt, tmp_path):
    computed = load_gan(tiny_ckpt)                   # the tiny checkpoint ships no w_avg
    assert torch.allclose(computed.w_avg, computed.estimate_w_avg(), atol=1e-6)
    ck = read_checkpoint(tiny_ckpt)
    shipped = torch.full((1, TINY_SG2["style_dim"]), 0.25)
    path = str(tmp_path / "with_w.safetensors")
    save_checkpoint(path, ck.arch, ck.config, ck.state, w_avg=shipped)
    assert torch.equal(load_gan(path).w_avg, shipped)


def test_latents_that_do_not_fit_a_generator_are_refused_by_name(tiny_ckpt):
    gan = load_gan(tiny_ckpt)
    ok = Latent("w+", gan.w_avg.unsqueeze(1).repeat(1, gan.num_ws, 1), gan.make_noise())
    check_fits(gan, ok)
    assert synthesize(gan, ok).shape == (1, 3, 16, 16)
    for bad, needle in ((Latent("w", torch.zeros(1, 7), []), "7 dimensions"),
                        (Latent("w+", torch.zeros(1, 2, gan.z_dim), []), "W\\+ latent has 2 layers"),
                        (Latent("w", gan.w_avg, [torch.zeros(1, 1, 3, 3)]), "noise maps")):
        with pytest.raises(UncannyError, match=needle):
            check_fits(gan, bad)
    with pytest.raises(UncannyError, match="unknown architecture"):
        adapters.adapter_for("vqgan")
