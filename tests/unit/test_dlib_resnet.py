"""dlib's face-recognition ResNet ported to PyTorch: equal to dlib on real faces, chips cut
where dlib cuts them, differentiable, and damaged model files refused by name."""

import os

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from uncanny import faces
from uncanny.errors import UncannyError
from uncanny.losses import IdentityLoss
from uncanny.formats import read_dlib_face_net

HOPPER = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data", "grace_hopper.jpg")
MODEL = "dlib_face_recognition_resnet_model_v1.dat"


@pytest.fixture(scope="module")
def photo_faces():
    from skimage import data
    out = []
    for img in (faces.load_image(HOPPER), data.astronaut()):
        out.append((img, faces.find_faces(img)[0]))
    return out


def test_port_equals_dlib_on_real_face_chips(photo_faces):
    net = faces.face_net()
    descs = []
    for img, face in photo_faces:
        chip = faces._dlib().get_face_chip(img, face.shape, 150, 0.25)
        ref = np.array(faces.face_recogniser().compute_face_descriptor(chip))
        with torch.no_grad():
            ours = net(torch.from_numpy(chip).permute(2, 0, 1)[None].float())[0].numpy()
        assert np.abs(ours - ref).max() < 1e-4
        descs.append(ours)
    assert np.linalg.norm(descs[0] - descs[1]) > 0.6  # two different people


def test_chip_grid_cuts_dlibs_chip(photo_faces):
    for img, face in photo_faces:
        chip = faces._dlib().get_face_chip(img, face.shape, 150, 0.25).astype(np.float32)
        x = torch.from_numpy(img).permute(2, 0, 1)[None].float()
        ours = F.grid_sample(x, faces.chip_grid(face, *img.shape[:2]), align_corners=False)[0]
        assert np.abs(ours.permute(1, 2, 0).numpy() - chip).max() <= 1.01  # dlib rounds to uint8


def test_identity_loss_has_gradients_and_is_zero_on_the_target(photo_faces):
    from uncanny.faces import align_face
    img, face = photo_faces[0]
    target = align_face(img, face.landmarks, 64)
    loss = IdentityLoss.from_target(target, upscale=4)
    y = torch.from_numpy(target.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    assert float(loss(y)) < 1e-5
    # close to dlib's own measurement pipeline on the same 64 px face (only the resampling differs)
    assert np.linalg.norm(loss.target_desc[0].numpy() - faces.descriptors(target[None], upscale=4)[0]) < 0.1
    x = (y + 0.3 * torch.randn_like(y)).requires_grad_(True)
    d = loss(x)
    d.sum().backward()
    assert d.item() > 0.05 and x.grad.abs().sum() > 0
    assert IdentityLoss.from_target(np.full((64, 64, 3), 128, np.uint8)) is None  # no face: no loss


def test_damaged_model_files_are_refused(tmp_path):
    data = open(faces.dlib_model_path(MODEL), "rb").read()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="expected 29 con_"):
        read_dlib_face_net(cut)
    other = tmp_path / "other.dat"
    other.write_bytes(open(faces.dlib_model_path("shape_predictor_5_face_landmarks.dat"), "rb").read())
    with pytest.raises(ValueError, match="not a dlib metric-learning network"):
        read_dlib_face_net(other)
    with pytest.raises(UncannyError):
        faces.dlib_model_path("no_such_model.dat")
