"""The First Order Motion Model port: checkpoints in the original layout load by name (safely,
config read off the shapes), motion that does not move leaves the source where it is, and the
relative normalisation does what demo.py's does. (Agreement with the public code on random
weights is checked beside it: scripts/fomm_parity.py, docs/ANIMATION.md.)"""

import os
import pickle

import numpy as np
import pytest
import torch

from uncanny.errors import UncannyError
from uncanny.fomm import crop, face_box, normalize_kp, paste, polygon_area
from uncanny.formats import read_fomm
from uncanny.nets.fomm import FommConfig, Generator, KeypointDetector

SMALL = FommConfig(num_kp=4, kp_block_expansion=4, kp_max_features=16, kp_num_blocks=3, block_expansion=8,
                   max_features=32, num_bottleneck_blocks=2, dm_block_expansion=4, dm_max_features=16, dm_num_blocks=3)


@pytest.fixture(scope="module")
def small_cpk(tmp_path_factory):
    torch.manual_seed(0)
    k, g = KeypointDetector(SMALL), Generator(SMALL)
    path = str(tmp_path_factory.mktemp("fomm") / "small-cpk.pth.tar")
    # the original layout: nets, their optimisers, the epoch
    opt = torch.optim.Adam(g.parameters())
    torch.save({"generator": g.state_dict(), "kp_detector": k.state_dict(), "discriminator": {},
                "optimizer_generator": opt.state_dict(), "epoch": 99}, path)
    return path, k.eval(), g.eval()


def test_checkpoint_in_the_original_layout_loads_by_name_with_its_config(small_cpk):
    path, k, g = small_cpk
    k2, g2 = read_fomm(path)
    for a, b in ((k, k2), (g, g2)):
        assert a.state_dict().keys() == b.state_dict().keys()
        assert all(torch.equal(a.state_dict()[n], b.state_dict()[n]) for n in a.state_dict())
    c = k2.cfg
    assert (c.num_kp, c.kp_num_blocks, c.kp_scale_factor, c.dm_num_blocks, c.num_bottleneck_blocks) == (4, 3, 0.25, 3, 2)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(k(x)["value"], k2(x)["value"])


def test_hostile_and_foreign_files_are_refused(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))
    bad = tmp_path / "bad.pth.tar"
    with open(bad, "wb") as f:
        pickle.dump({"generator": Boom()}, f)
    with pytest.raises(UncannyError, match="refusing|not a readable"):
        read_fomm(str(bad))
    assert not (tmp_path / "pwned").exists()
    other = tmp_path / "other.pt"
    torch.save({"g_ema": {"w": torch.zeros(1)}}, other)
    with pytest.raises(UncannyError, match="not a First Order Motion Model checkpoint"):
        read_fomm(str(other))


def test_no_motion_gives_the_identity_flow_and_motion_moves_it(small_cpk):
    """Driving keypoints equal to the source's: every local motion is the identity, so whatever
    the mask mixes, the flow is the identity grid. Moving every keypoint shifts the flow."""
    from uncanny.nets.fomm import coordinate_grid
    _, k, g = small_cpk
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        kp = k(x)
        out = g(x, kp, kp)
        flow = g.dense_motion_network(x, kp, kp)["deformation"]
        shifted = {"value": kp["value"] + 0.2, "jacobian": kp["jacobian"]}
        flow2 = g.dense_motion_network(x, kp, shifted)["deformation"]
    assert out["prediction"].shape == x.shape and (kp["value"].abs() <= 1).all()
    assert (flow - coordinate_grid(16, 16, flow)).abs().max() < 1e-5
    # each local motion reads 0.2 back; the background one does not move: the flow lies between
    d = (flow - flow2).mean((1, 2))
    assert ((d > 0.0) & (d < 0.2 + 1e-5)).all()


def test_relative_normalisation_and_adapt_scale():
    g = torch.Generator().manual_seed(1)
    src = {"value": torch.rand(1, 5, 2, generator=g) - 0.5, "jacobian": torch.eye(2).repeat(1, 5, 1, 1)}
    init = {"value": 0.5 * (torch.rand(1, 5, 2, generator=g) - 0.5), "jacobian": torch.eye(2).repeat(1, 5, 1, 1)}
    assert torch.allclose(normalize_kp(src, init, init)["value"], src["value"])
    moved = {"value": init["value"] + 0.1, "jacobian": init["jacobian"] * 1.2}
    out = normalize_kp(src, moved, init)
    scale = np.sqrt(polygon_area(src["value"][0].numpy()) / polygon_area(init["value"][0].numpy()))
    assert torch.allclose(out["value"], src["value"] + 0.1 * scale, atol=1e-6)
    assert torch.allclose(out["jacobian"], src["jacobian"] * 1.2)
    assert abs(polygon_area(np.array([[0, 0], [2, 0], [2, 3], [0, 3], [1, 1]])) - 6) < 1e-12


def test_crop_and_paste_back_round_trip(celeba_photos):
    from uncanny import motion
    from uncanny.faces import load_image
    img = load_image(celeba_photos[1])
    box = face_box(motion.detect_landmarks(img))
    patch = crop(img, box)
    assert patch.shape == (256, 256, 3)
    back = paste(img, patch, box)
    assert np.abs(back.astype(int) - img).mean() < 3          # resampled twice, otherwise the same
    assert (back[:5, :5] == img[:5, :5]).all() or box[1] - box[2] / 2 < 5
