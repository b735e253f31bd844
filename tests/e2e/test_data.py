"""Data preparation on real photos: alignment, skips counted by reason, atomic datasets."""

import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from uncanny import faces
from uncanny.cli import main
from uncanny.data import load_dataset, prepare
from uncanny.errors import UncannyError


@pytest.fixture(scope="module")
def mixed_folder(celeba_photos, tmp_path_factory):
    """Four real photos, their grayscale/RGBA/16-bit/EXIF-rotated variants, and bad files."""
    d = tmp_path_factory.mktemp("photos")
    with_face = [p for p in celeba_photos[:12] if faces.find_faces(faces.load_image(p))][:6]
    for i, src in enumerate(with_face[:4]):
        shutil.copy(src, d / f"real{i}.jpg")
    im = Image.open(with_face[4])
    im.convert("L").save(d / "gray.png")
    im.convert("RGBA").save(d / "rgba.png")
    Image.fromarray((np.asarray(im.convert("L"), dtype=np.uint16) * 257)).save(d / "sixteen.png")
    im.convert("CMYK").save(d / "cmyk.jpg")
    rotated = im.rotate(90, expand=True)               # stored sideways (CCW), EXIF 6 says turn it CW
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated.save(d / "exif.jpg", exif=exif)
    (d / "notes.txt").write_text("not an image")
    data = open(with_face[5], "rb").read()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 3])
    Image.fromarray(np.random.RandomState(0).randint(0, 255, (120, 120, 3), np.uint8)).save(d / "noise.png")
    Image.new("RGB", (5, 5)).save(d / "tiny.png")
    return str(d)


def test_prepare_aligns_faces_and_counts_skips(mixed_folder, tmp_path):
    dst = str(tmp_path / "ds")
    report = prepare(mixed_folder, dst, res=32, show_progress=False)
    assert report.written == 9            # 4 real + gray + rgba + 16-bit + cmyk + exif-rotated
    assert report.skipped == {"not an image file": 1, "unreadable or corrupt": 2, "no face found": 1}
    meta = json.load(open(os.path.join(dst, "dataset.json")))
    assert meta["count"] == 9 and meta["res"] == 32
    arr = load_dataset(dst)
    assert arr.shape == (9, 32, 32, 3) and arr.dtype == np.uint8
    assert not os.path.exists(dst + ".partial")


def test_alignment_puts_eyes_level_and_centred(celeba_photos):
    for path in [celeba_photos[i] for i in (0, 1, 4)]:
        img = faces.load_image(path)
        face = faces.find_faces(img)[0]
        crop = faces.align_face(img, face.landmarks, 256)
        again = faces.find_faces(crop)
        assert again, "the aligned crop still shows a detectable face"
        lm = again[0].landmarks
        eye_l, eye_r = lm[36:42].mean(0), lm[42:48].mean(0)
        angle = np.degrees(np.arctan2(eye_r[1] - eye_l[1], eye_r[0] - eye_l[0]))
        assert abs(angle) < 8    # FFHQ's frame balances the eye line with the eye-mouth axis
        assert abs((eye_l[0] + eye_r[0]) / 2 - 128) < 10      # eyes centred horizontally
        assert 80 < (eye_l[1] + eye_r[1]) / 2 < 130            # FFHQ framing: eyes a bit above centre


def test_exif_rotation_is_applied(mixed_folder):
    img = faces.load_image(os.path.join(mixed_folder, "exif.jpg")).astype(float)
    ref = faces.load_image(os.path.join(mixed_folder, "rgba.png")).astype(float)  # same photo, upright
    assert img.shape == ref.shape                              # portrait again, as the original
    assert np.abs(img - ref).mean() < 8                        # only JPEG noise apart


def test_load_image_errors_name_the_file(mixed_folder, tmp_path, monkeypatch):
    with pytest.raises(UncannyError, match="truncated.jpg: not a readable image"):
        faces.load_image(os.path.join(mixed_folder, "truncated.jpg"))
    with pytest.raises(UncannyError, match="notes.txt: not a readable image"):
        faces.load_image(os.path.join(mixed_folder, "notes.txt"))
    monkeypatch.setattr(faces, "MAX_PIXELS", 1000)
    with pytest.raises(UncannyError, match="real0.jpg: image is 178x218, over the"):
        faces.load_image(os.path.join(mixed_folder, "real0.jpg"))


def test_empty_and_faceless_folders_fail_clearly(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["data", "prepare", str(tmp_path / "empty"), str(tmp_path / "out")]) == 2
    assert "folder is empty" in capsys.readouterr().err
    (tmp_path / "nofaces").mkdir()
    Image.new("RGB", (100, 100), "white").save(tmp_path / "nofaces" / "blank.png")
    assert main(["data", "prepare", str(tmp_path / "nofaces"), str(tmp_path / "out")]) == 2
    assert "none of 1 files gave a usable face (1 no face found)" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "out") and not os.path.exists(tmp_path / "out.partial")


def test_unfinished_dataset_is_refused(tmp_path):
    (tmp_path / "half").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "half" / "000000.png")
    with pytest.raises(UncannyError, match="not a prepared dataset"):
        load_dataset(str(tmp_path / "half"))
