"""Identity: when does a projected face become the person? dlib's descriptor distance from
frames to a target face, judged honestly (not only by the network a projection optimises).

    meter = IdentityMeter(target)          # target: aligned (H, W, 3) uint8
    row = meter.measure(frame)             # identity, identity_mirror, identity_blur, identity_judged, ...
    identifiable_step(rows)                # the step from which the judged distance stays < 0.6
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from . import faces

IDENTITY_THRESHOLD = 0.6  # dlib's same-person distance


# The meter's second opinion: dlib's distance again on transformed copies of both images. The
# identity term of the loss optimises dlib's network on the target's untransformed chip, so a
# projection can learn to please that one measurement (a perturbation the eye does not read as
# the person); a mirror image or a light blur of both images moves the chip and removes such
# texture. Identifiability is judged on the worse of the two; frames where the plain distance
# and a transformed one differ by more than DISAGREE are flagged.
TRANSFORMS = ("mirror", "blur")
TRANSFORM_WORDS = {"mirror": "mirrored", "blur": "blurred"}
BLUR_SIGMA = 0.7   # pixels at the model's resolution: "lightly blurred"
DISAGREE = 0.1


def _transform(img: np.ndarray, name: str) -> np.ndarray:
    if name == "mirror":
        return np.ascontiguousarray(img[:, ::-1])
    if name == "blur":
        from PIL import ImageFilter
        return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(BLUR_SIGMA)))
    return img


class IdentityMeter:
    """dlib's identity distance from frames to a target face (what the videos and frames.csv
    report), measured three times: on the images as they are ("identity"), and on both images
    mirrored and both lightly blurred ("identity_mirror", "identity_blur"). "identity_judged",
    the larger of the two transformed distances, decides when the face becomes identifiable,
    because the loss optimises dlib's network on the plain target chip only; "disagree" flags
    frames where plain and transformed differ by more than DISAGREE.

    Each measurement is made the way dlib is normally used, at the frame's own face (HOG
    detector + 68 landmarks) after the same upscaling as the target. Where the detector finds
    no face in a frame, the frame is measured at the target's landmarks instead (projections are
    aligned like their target) and `face_found` is False, so the curve has no holes.

        meter = IdentityMeter(target)          # target: aligned (H, W, 3) uint8
        m = meter.measure(frame)               # {"identity": .., "identity_judged": .., ...}
        dist, found = meter(frame)             # the plain distance only
    """

    def __init__(self, target: np.ndarray):
        self.upscale = max(1, 256 // target.shape[0])
        self.refs = {name: self._reference(_transform(np.asarray(target), name)) for name in ("plain",) + TRANSFORMS}
        self.face, self.desc = self.refs["plain"]   # the face is also where the identity loss cuts its chip

    def _reference(self, img):
        big = faces._enlarge(img, self.upscale)
        found = faces.find_faces(big, upsample=0)
        if not found:
            return None, None
        return found[0], np.array(faces.face_recogniser().compute_face_descriptor(big, found[0].shape))

    def _distance(self, frame, name) -> tuple[float, bool]:
        face, desc = self.refs[name]
        if desc is None:
            return float("nan"), False
        big = faces._enlarge(_transform(np.asarray(frame), name), self.upscale)
        found = faces.find_faces(big, upsample=0)
        d = np.array(faces.face_recogniser().compute_face_descriptor(big, (found[0] if found else face).shape))
        return float(np.linalg.norm(d - desc)), bool(found)

    def __call__(self, frame: np.ndarray) -> tuple[float, bool]:
        return self._distance(frame, "plain")

    def measure(self, frame: np.ndarray) -> dict:
        plain, found = self._distance(frame, "plain")
        row = {"identity": plain, "face_found": int(found)}
        for name in TRANSFORMS:
            row[f"identity_{name}"] = self._distance(frame, name)[0]
        transformed = [row[f"identity_{n}"] for n in TRANSFORMS]
        row["identity_judged"] = max(transformed)   # NaN if any is NaN
        row["disagree"] = int(any(abs(t - plain) > DISAGREE for t in transformed))
        return row


NO_IDENTITY = {"identity": float("nan"), "face_found": 0, "identity_judged": float("nan"), "disagree": 0,
                **{f"identity_{n}": float("nan") for n in TRANSFORMS}}


def identifiable_step(rows: list[dict], key: str = "identity_judged") -> int | None:
    """The step from which the `key` distance stays under dlib's same-person threshold to the
    end of the search (a frame that dips under it and comes back out does not count); None if
    the last frame is not under it."""
    step = None
    for r in rows:
        if r[key] < IDENTITY_THRESHOLD:
            step = r["step"] if step is None else step
        else:
            step = None
    return step
