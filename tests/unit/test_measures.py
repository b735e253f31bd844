"""Measures: dlib human-likeness separates real faces from noise; distances behave."""

import numpy as np
import pytest
import torch

from uncanny import faces
from uncanny.augment import cutout, diff_augment, translation
from uncanny.metrics import diversity, frechet, frechet_parts, main_directions, mean_colour, sameness


def _aligned(paths):
    """The faces found in these photos, aligned at 64 px as the training data is."""
    crops = []
    for p in paths:
        img = faces.load_image(p)
        found = faces.find_faces(img)
        if found:
            crops.append(faces.align_face(img, found[0].landmarks, 64))
    return np.stack(crops)


def test_face_rate_is_high_on_aligned_real_faces_and_zero_on_noise(celeba_photos):
    crops = _aligned(celeba_photos[:16])
    assert faces.detection_rate(crops, upscale=4) >= 0.8
    noise = np.random.RandomState(0).randint(0, 255, (8, 64, 64, 3), np.uint8)
    assert faces.detection_rate(noise, upscale=4) == 0.0
    d = faces.descriptors(crops[:6])
    assert d.shape[1] == 128 and len(d) >= 4
    same = np.linalg.norm(d[0] - faces.descriptors(crops[:1, :, ::-1].copy())[0])  # mirrored: same person
    assert same < 0.6


def test_sameness_sees_one_pattern_drawn_at_shifted_places_where_diversity_does_not(celeba_photos):
    """The collapse of a long foil run: one black-and-white pattern at slightly different places.
    Pixel distances call it more diverse than real faces; the thumbnails' correlation does not."""
    real = torch.from_numpy(_aligned(celeba_photos[:40])[:16]).permute(0, 3, 1, 2).float() / 127.5 - 1
    pattern = torch.where(real[:1].mean(1, keepdim=True) > 0, 1.0, -1.0).repeat(1, 3, 1, 1)  # posterised
    rs = np.random.RandomState(0)
    shifted = torch.cat([torch.roll(pattern, (int(rs.randint(-3, 4)), int(rs.randint(-3, 4))), (2, 3))
                         for _ in range(16)])
    assert sameness(real) < 0.4
    assert sameness(shifted) > 0.8
    assert diversity(shifted) > diversity(real)          # what the diversity rule alone missed
    assert sameness(pattern.repeat(4, 1, 1, 1)) == pytest.approx(1.0)
    assert sameness(torch.ones(4, 3, 64, 64)) == 0.0     # constant images: no layout to share
    assert sameness(torch.full((4, 3, 8, 8), float("nan"))) == 0.0


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
    shifted, narrow = frechet_parts(a, b + 3), frechet_parts(a * 0.5, b)
    assert shifted["mean_term"] == pytest.approx(36, rel=0.1) and shifted["spread"] == pytest.approx(1, abs=0.15)
    assert narrow["mean_term"] < 0.1 and narrow["spread"] == pytest.approx(0.25, abs=0.05)
    assert frechet(a * 0.5, b) > 0.5                     # the distance sees the narrow set; its parts say why


def test_main_directions_come_largest_first_along_the_sets_own_axes():
    rng = np.random.RandomState(0)
    rot = np.linalg.qr(rng.randn(5, 5))[0]                          # a random orthonormal basis
    x = (rng.randn(4000, 5) * np.array([0.5, 3.0, 1.0, 0.1, 2.0])) @ rot.T
    var, dirs = main_directions(x)
    assert np.all(np.diff(var) <= 0) and np.allclose(np.sqrt(var), [3.0, 2.0, 1.0, 0.5, 0.1], rtol=0.05)
    assert abs(dirs[:, 0] @ rot[:, 1]) > 0.99 and abs(dirs[:, 1] @ rot[:, 4]) > 0.99   # the 3.0 and 2.0 axes
    assert np.allclose(dirs.T @ dirs, np.eye(5), atol=1e-8)


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


def test_memorisation_counts_samples_that_copy_training_images():
    """Samples that are near-copies of real images are counted; fresh samples from the same
    distribution are not (beyond the 1% the threshold lets through)."""
    import numpy as np
    from uncanny.measure import memorisation
    rng = np.random.RandomState(0)
    real = rng.randn(1000, 16)
    fresh = rng.randn(500, 16)
    copies = real[:100] + 0.01 * rng.randn(100, 16)
    m_fresh = memorisation(fresh, real)
    m_mixed = memorisation(np.concatenate([fresh, copies]), real)
    assert m_fresh["share"] <= 0.03
    assert abs(m_mixed["share"] - 100 / 600) < 0.03
    assert (m_mixed["nearest_real"][500:] == np.arange(100)).all()


def test_zero_noise_samples_differ_only_by_the_noise(tiny_ckpt):
    """generate_uint8(zero_noise=True): the same seeds with every noise input at zero; with the
    noise strengths at zero the two are identical, with strengths set they differ."""
    import numpy as np
    from uncanny.checkpoint import read_checkpoint, save_checkpoint
    from uncanny.measure import generate_uint8
    a, b = generate_uint8(tiny_ckpt, 4), generate_uint8(tiny_ckpt, 4, zero_noise=True)
    assert np.array_equal(a, b)  # a fresh model's noise strengths are zero
    ck = read_checkpoint(tiny_ckpt)
    for k, v in ck.state["g_ema"].items():
        if k.endswith("noise.weight"):
            v.fill_(0.5)
    from uncanny import adapters
    G, D = adapters.build("stylegan2", ck.config)
    G.load_state_dict(ck.state["g_ema"])
    D.load_state_dict(ck.state["d"])
    path = tiny_ckpt.replace(".safetensors", "-noisy.safetensors")
    save_checkpoint(path, "stylegan2", ck.config, {"g_ema": G, "d": D}, {})
    a, b = generate_uint8(path, 4), generate_uint8(path, 4, zero_noise=True)
    assert not np.array_equal(a, b) and np.array_equal(b, generate_uint8(path, 4, zero_noise=True))


def _as_dataset(images, folder):
    """A prepared-dataset folder (PNGs + dataset.json) holding these uint8 images."""
    import json
    import os

    from PIL import Image
    os.makedirs(folder)
    files = []
    for i, im in enumerate(images):
        Image.fromarray(im).save(os.path.join(folder, f"{i:06d}.png"))
        files.append({"file": f"{i:06d}.png"})
    with open(os.path.join(folder, "dataset.json"), "w") as f:
        json.dump({"res": images.shape[1], "count": len(files), "files": files}, f)
    return folder


def test_the_model_cards_quality_check_sees_a_copied_training_set(tmp_path, capsys):
    """quality() through `uncanny measure --quality`: against a "training set" made of the model's
    own samples (seeds 0-23) those seeds are all memorised, each pair a sample above its copy;
    other seeds are not. faces64's noise is on, so the zeroed images are described apart."""
    import json

    import numpy as np
    from PIL import Image

    from uncanny.cli import main
    from uncanny.measure import generate_uint8
    train_set = _as_dataset(generate_uint8("faces64", 24, seed=0), str(tmp_path / "copies"))
    assert main(["measure", "--model", "faces64", "--real", train_set, "--quality", "--n", "24", "--seed", "0",
                 "--out", str(tmp_path / "q" / "copied")]) == 0
    assert "memorisation.share: 1" in capsys.readouterr().out
    q = json.load(open(tmp_path / "q" / "copied.json"))
    assert q["memorisation"]["share"] == 1.0 and q["samples"]["face_rate"] > 0.8
    assert q["samples"]["frechet_descriptor"] < 1e-6 < q["floor"]
    assert q["samples"]["descriptor_mean_term"] < 1e-9 and q["samples"]["descriptor_spread"] == pytest.approx(1)
    assert q["zero_noise"]["same_images"] is False and q["zero_noise"]["x_floor"] > 1
    pairs = np.asarray(Image.open(tmp_path / "q" / "copied-pairs.png").convert("RGB"))
    first = pairs[2 + 14:2 + 14 + 256, 2:2 + 128]    # the first pair, under its 14 px label: a sample (2x) above
    assert np.array_equal(first[:128], first[128:])   # its nearest training photo, here its copy
    beside = np.asarray(Image.open(tmp_path / "q" / "copied-beside.png").convert("RGB"))
    w = 8 * (64 + 2) + 2                                # 24 samples beside the 24 photos of the set (all of
    assert beside.shape == (14 + 3 * 66 + 2, 2 * w + 16, 3)   # them, drawn in order): the same two grids
    assert np.array_equal(beside[14:, :w], beside[14:, w + 16:]) and beside[14:, :w].std() > 10
    spread = np.asarray(Image.open(tmp_path / "q" / "copied-spread.png").convert("RGB"))
    assert spread.shape[1] > 2 * spread.shape[0] and spread.std() > 10      # four histogram panels side by side

    assert main(["measure", "--model", "faces64", "--real", train_set, "--quality", "--n", "24", "--seed", "500",
                 "--json"]) == 0
    other = json.loads(capsys.readouterr().out)
    assert other["memorisation"]["share"] < 0.2 and other["samples"]["x_floor"] > 0.5

    # --truncation applies to the check (it was ignored): pushed away from the mean w, the same
    # seeds are no longer the copies
    assert main(["measure", "--model", "faces64", "--real", train_set, "--quality", "--n", "24", "--seed", "0",
                 "--truncation", "1.5", "--json"]) == 0
    pushed = json.loads(capsys.readouterr().out)
    assert pushed["truncation"] == 1.5 and pushed["samples"]["frechet_descriptor"] > 1e-3


def test_quality_refuses_what_does_not_apply(tmp_path):
    from uncanny.cli import main
    assert main(["measure", "--model", "faces64", "--quality", "--n", "4"]) == 2                   # no --real
    assert main(["measure", "--model", "faces64", "--n", "4", "--out", str(tmp_path / "x")]) == 2  # --out without --quality
    assert not (tmp_path / "x.json").exists()
