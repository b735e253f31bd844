"""Editing: the direction finders on real maths (SeFa's eigenvectors, PCA, a linear boundary),
edits on the chosen layers only, conditioning, and directions files checked before use."""

import numpy as np
import pytest
import torch

from uncanny import edit
from uncanny.adapters import load_gan
from uncanny.errors import UncannyError


def test_sefa_directions_are_the_top_eigenvectors_of_the_normalised_style_weights(tiny_ckpt):
    gan = load_gan(tiny_ckpt)
    layers = list(range(gan.num_ws))
    vecs, vals = edit.sefa(gan, layers, 5)
    assert vecs.shape == (5, gan.z_dim) and vals == sorted(vals, reverse=True)
    assert torch.allclose(vecs @ vecs.t(), torch.eye(5), atol=1e-4)            # orthonormal
    a = torch.cat([m for _, _, m in gan.style_weights()]).double()
    a = a / a.norm(dim=1, keepdim=True)
    # each direction moves the (normalised) styles by its eigenvalue, and more than any random unit vector
    moved = ((a @ vecs.double().t()) ** 2).sum(0)
    assert torch.allclose(moved, torch.tensor(vals, dtype=torch.float64), rtol=1e-4)
    rnd = torch.nn.functional.normalize(torch.randn(100, gan.z_dim, dtype=torch.float64), dim=1)
    assert moved[0] >= ((a @ rnd.t()) ** 2).sum(0).max()


def test_ganspace_finds_the_axis_of_largest_variance():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(4000, 6, generator=g) * torch.tensor([0.5, 3.0, 1.0, 0.2, 0.2, 0.2])
    vecs, var = edit.ganspace(w, 2)
    assert abs(vecs[0, 1]) > 0.99 and abs(vecs[1, 2]) > 0.95
    assert var[0] == pytest.approx(9.0, rel=0.1)


def test_fit_boundary_recovers_a_linear_attribute():
    rng = np.random.RandomState(0)
    w = rng.randn(3000, 16).astype(np.float32)
    truth = np.zeros(16, np.float32)
    truth[3], truth[7] = 0.6, -0.8
    scores = w @ truth + 0.1 * rng.randn(3000)
    scores[::10] = np.nan                                   # no face found: left out
    normal, acc, used = edit.fit_boundary(w, scores, 0.1)
    assert float(normal @ truth) > 0.95 and acc > 0.95 and used == 2 * int(2700 * 0.1)
    with pytest.raises(UncannyError, match="too few"):
        edit.fit_boundary(w[:20], scores[:20], 0.1)


def test_edits_touch_only_the_chosen_layers_and_conditioning_removes_the_other_direction():
    w_plus = torch.randn(1, 6, 4)
    d = torch.tensor([1.0, 0, 0, 0])
    out = edit.edit_w_plus(w_plus, d, 2.0, np.array([0.0, 1.0, -3.0]), [1, 2])
    assert torch.equal(out[0], w_plus[0])
    assert torch.equal(out[1, [0, 3, 4, 5]], w_plus[0, [0, 3, 4, 5]])
    assert torch.allclose(out[2, 1] - w_plus[0, 1], torch.tensor([-6.0, 0, 0, 0]))
    dirs = edit.Directions(torch.nn.functional.normalize(torch.tensor([[1.0, 1, 0, 0], [1.0, 0, 0, 0]]), dim=1),
                           torch.ones(2), ["smile", "age"], [0.9, 0.9], "attribute", [0], "m", "f", "stylegan2", {})
    v = edit.conditioned(dirs, 0, ("age",))
    assert abs(float(v @ dirs.vectors[1])) < 1e-6 and float(v.norm()) == pytest.approx(1.0)
    with pytest.raises(UncannyError, match="nothing of the direction is left"):
        edit.conditioned(dirs, 1, ("age",))


def test_options_of_apply_are_checked():
    assert list(edit.strengths("-3,3,7")) == [-3, -2, -1, 0, 1, 2, 3]
    for bad in ("-3,3", "a,b,c", "-3,3,1", "0,nan,5"):
        with pytest.raises(UncannyError, match="--strengths"):
            edit.strengths(bad)
    assert edit.layer_range("0-2,5", 8) == [0, 1, 2, 5] and edit.layer_range("all", 3) == [0, 1, 2]
    with pytest.raises(UncannyError, match="W\\+ entries 0-7"):
        edit.layer_range("4-9", 8)
