"""Detector building blocks: calibration at the equal error rate, average precision, the
differentiable view attacks craft through, Grad-CAM maps, detector files checked."""

import os

import numpy as np
import pytest
import torch

from uncanny import faces
from uncanny.detector_train import average_precision, augment
from uncanny.detectors import differentiable_view, eer_threshold, load_detector, prepare, to_unit
from uncanny.errors import UncannyError


def test_eer_threshold_and_average_precision_on_known_sets():
    real, fake = np.array([0.0, 0.1, 0.2, 0.3]), np.array([0.7, 0.8, 0.9, 1.0])
    t, eer = eer_threshold(real, fake)
    assert 0.3 < t <= 0.7 and eer == 0
    t, eer = eer_threshold(np.array([0.0, 0.2, 0.5, 0.3]), np.array([0.4, 0.8, 0.9, 0.6]))
    assert t == 0.5 and eer == 0.25          # one real above, one fake below
    assert average_precision(fake, real) == 1.0
    assert average_precision(real, fake) < 0.5                     # ranked backwards
    rng = np.random.RandomState(0)
    assert abs(average_precision(rng.rand(2000), rng.rand(2000)) - 0.5) < 0.05


def test_differentiable_view_matches_the_exact_alignment_and_passes_gradients(celeba_photos):
    img = faces.load_image(celeba_photos[0])
    prep = prepare(img)
    assert prep.face_found and prep.aligned.shape == (64, 64, 3)
    x = to_unit(img).requires_grad_(True)
    view = differentiable_view(x, prep)
    assert view.shape == (1, 3, 64, 64)
    assert np.abs(view[0].permute(1, 2, 0).detach().numpy() * 255 - prep.aligned).mean() < 10
    view.sum().backward()
    g = x.grad[0].abs().sum(0)
    assert g.shape == img.shape[:2] and g.sum() > 0
    lm = faces.find_faces(img)[0].landmarks                          # gradient only inside the face square
    assert g[: int(lm[:, 1].min()) // 3].sum() < 0.05 * g.sum()


def test_images_without_a_face_are_scored_whole():
    rng = np.random.RandomState(0)
    noise = (rng.rand(100, 120, 3) * 255).astype(np.uint8)
    prep = prepare(noise)
    assert not prep.face_found and prep.quad is None and prep.aligned.shape == (64, 64, 3)


def test_the_embedded_detector_scores_and_looks_somewhere(celeba_photos):
    det = load_detector(None)
    photo = prepare(faces.load_image(celeba_photos[5])).aligned
    s = det.scores(photo[None])
    assert s.shape == (1,) and 0 <= s[0] <= 1
    cam = det.gradcam(torch.from_numpy(photo.copy()).permute(2, 0, 1)[None].float() / 255)
    assert cam.shape == (1, 64, 64) and float(cam.max()) == pytest.approx(1.0) and float(cam.min()) >= 0
    assert float(cam.std()) > 0.05                                   # not a flat map


def test_augmentation_keeps_size_and_type_for_both_classes():
    rng = np.random.RandomState(0)
    img = (np.random.RandomState(1).rand(64, 64, 3) * 255).astype(np.uint8)
    outs = [augment(img, rng) for _ in range(20)]
    assert all(o.shape == (64, 64, 3) and o.dtype == np.uint8 for o in outs)
    assert any(not np.array_equal(o, img) for o in outs)


def test_bad_detector_files_are_one_clear_error(tmp_path):
    bad = tmp_path / "det.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(UncannyError, match="not a detector"):
        load_detector(str(bad))
    with pytest.raises(UncannyError, match="neither a detector file"):
        load_detector("nonsense")


def test_the_cached_demo_run_follows_the_default_models_weights(monkeypatch):
    """The detectors' foil group comes from a cached demo of the default model: a new default
    shipped under the old name must not reuse its predecessor's demo."""
    from uncanny import registry
    from uncanny.detector_train import demo_cache
    models = registry.embedded()
    now = demo_cache("faces64v2")
    assert os.path.basename(now).startswith("foil-demo-faces64v2-")
    assert demo_cache("faces64v2") == now                     # stable for the same weights
    monkeypatch.setattr(registry, "embedded", lambda: {**models, "faces64v2": models["faces64"]})
    assert demo_cache("faces64v2") != now                     # other weights, same name: another run
    by_path = os.path.basename(demo_cache(models["faces64"]))          # a path: named by its file
    assert by_path.startswith("foil-demo-faces64-") and by_path.endswith(demo_cache("faces64v2")[-16:])
