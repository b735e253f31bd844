"""Measures: dlib human-likeness separates real faces from noise; distances behave."""

import numpy as np
import pytest
import torch

from uncanny import faces
from uncanny.augment import cutout, diff_augment, translation
from uncanny.measures import diversity, frechet, mean_colour


def test_face_rate_is_high_on_aligned_real_faces_and_zero_on_noise(celeba_photos):
    crops = []
    for p in celeba_photos[:16]:
        img = faces.load_image(p)
        found = faces.find_faces(img)
        if found:
            crops.append(faces.align_face(img, found[0].landmarks, 64))
    crops = np.stack(crops)
    assert faces.detection_rate(crops, upscale=4) >= 0.8
    noise = np.random.RandomState(0).randint(0, 255, (8, 64, 64, 3), np.uint8)
    assert faces.detection_rate(noise, upscale=4) == 0.0
    d = faces.descriptors(crops[:6])
    assert d.shape[1] == 128 and len(d) >= 4
    same = np.linalg.norm(d[0] - faces.descriptors(crops[:1, :, ::-1].copy())[0])  # mirrored: same person
    assert same < 0.6


def test_diversity_colour_and_frechet():
    x = torch.rand(6, 3, 8, 8) * 2 - 1
    assert diversity(x) > 0.2
    assert diversity(x[:1].repeat(6, 1, 1, 1)) == pytest.approx(0.0, abs=1e-9)
    assert mean_colour(torch.ones(2, 3, 4, 4)) == pytest.approx((1.0, 1.0, 1.0))
    nan = torch.full((2, 3, 4, 4), float("nan"))
    assert mean_colour(nan) == pytest.approx((0.0, 0.0, 0.0))  # NaN pixels count as black, no crash
    rs = np.random.RandomState(0)
    a, b = rs.randn(400, 4), rs.randn(400, 4)
    assert frechet(a, b) < 0.2
    assert frechet(a, b + 3) == pytest.approx(36, rel=0.1)


def test_diff_augment_keeps_shape_and_gradient():
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    y = diff_augment(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(translation(x, ratio=0.0), x)
    holes = (cutout(torch.ones(64, 3, 16, 16)) == 0).float().mean(dim=(1, 2, 3))
    assert (holes > 0).all() and (holes <= 0.25).all()      # a half-size square, clipped at the borders
    assert holes.mean().item() == pytest.approx(0.18, abs=0.04)  # expected clipped area: (6.82/16)^2
    with pytest.raises(ValueError):
        diff_augment(x, "colour")
