"""Motion: the pieces of landmark-driven image animation, each a function of arrays.

    track = track_landmarks(frames)                 # (T, 68, 2) dlib landmarks, found (T,) bools
    track = fill_gaps(track, found)                 # frames without a face: interpolated
    smooth = one_euro(track / iod, fps) * iod       # jitter filtered (Casiez et al. 2012)
    target = transfer(source_lm, smooth)            # relative motion onto the source's face
    frame = warp_face(source_img, source_lm, target[t])   # thin-plate-spline warp, mouth, mask

Motion is transferred *relatively*, as FOMM's `relative=True, adapt_scale=True` does: the
source keeps its own face and pose; what moves it is each driving frame's displacement from
the first driving frame, rotated and scaled by the similarity that carries the first driving
face onto the source face (so a driver twice as large, or tilted, moves the source by the
right amount in the right direction).

The warp is a thin-plate spline from the target landmarks back to the source landmarks, plus
forehead points (so the brow line carries the forehead) and fixed anchors on a frame around the
face (so the background stays still), evaluated only inside that frame. A feathered mask of the
moved face hull blends the warp into the unmoved image; an opened mouth gets a dark interior
with a hint of upper teeth (the source has none to stretch); eyes follow their eyelid landmarks
because the warp moves them.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from . import faces

JAW, BROWS, NOSE = slice(0, 17), slice(17, 27), slice(27, 36)
EYE_L, EYE_R, MOUTH, INNER_LIPS = slice(36, 42), slice(42, 48), slice(48, 68), slice(60, 68)
RIGID = list(range(17, 48))          # brows, nose, eyes: what the head carries (for alignment)


# ----------------------------------------------------------------------------- measures


def iod(lm: np.ndarray) -> float | np.ndarray:
    """Inter-ocular distance (between the eye centres) of (..., 68, 2) landmarks."""
    return np.linalg.norm(lm[..., EYE_L, :].mean(-2) - lm[..., EYE_R, :].mean(-2), axis=-1)


def mouth_opening(lm: np.ndarray) -> float | np.ndarray:
    """Inner-lip gap (mean of the three vertical pairs 61-67, 62-66, 63-65) over the IOD."""
    gap = np.linalg.norm(lm[..., [61, 62, 63], :] - lm[..., [67, 66, 65], :], axis=-1).mean(-1)
    return gap / iod(lm)


def landmark_error(found: np.ndarray, target: np.ndarray) -> float:
    """Mean distance between two sets of 68 landmarks, as a fraction of the target's IOD."""
    return float(np.linalg.norm(found - target, axis=-1).mean() / iod(target))


# ----------------------------------------------------------------------------- tracking


def find(img: np.ndarray) -> tuple[np.ndarray, int, list]:
    """dlib's faces in an RGB uint8 image, largest first, found in an enlarged copy: returns
    (the copy, its enlargement factor, faces.Face list at the copy's scale). Small images are
    enlarged for the detector (its window is 80 px); the HOG detector is asked once more,
    upsampling, when it finds nothing."""
    up = max(1, int(np.ceil(200 / min(img.shape[:2]))))
    big = faces._enlarge(img, up)
    return big, up, faces.find_faces(big, upsample=0) or faces.find_faces(big, upsample=1)


def all_landmarks(img: np.ndarray) -> list[np.ndarray]:
    """68 landmarks (x, y) of every face in an RGB uint8 image, largest first (see `find`)."""
    _, up, found = find(img)
    return [(f.landmarks + 0.5) / up - 0.5 for f in found]     # pixel centres at integers, image scale


def detect_landmarks(img: np.ndarray, near: np.ndarray | None = None, face: int = 0) -> np.ndarray | None:
    """68 landmarks of one face, or None: the face closest to `near` (the previous frame's
    landmarks: tracking), else the `face`-th largest."""
    found = all_landmarks(img)
    if not found:
        return None
    if near is not None:
        return min(found, key=lambda lm: np.linalg.norm(lm.mean(0) - near.mean(0)))
    return found[face] if face < len(found) else None


def track_landmarks(frames, show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks of the (largest, then nearest) face in each frame: (T, 68, 2) with NaN where no
    face was found, and found (T,) bool."""
    from .util import progress
    out, found, last = [], [], None
    for f in progress(frames, desc="driving landmarks", disable=not show_progress, unit="frame"):
        lm = detect_landmarks(f, near=last)
        found.append(lm is not None)
        out.append(lm if lm is not None else np.full((68, 2), np.nan))
        last = lm if lm is not None else last
    return np.array(out, dtype=np.float64).reshape(-1, 68, 2), np.array(found, bool)


def fill_gaps(track: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Frames without a face get landmarks interpolated linearly between the nearest frames
    with one (held constant before the first and after the last)."""
    track = track.copy()
    idx = np.flatnonzero(found)
    if len(idx) == 0:
        raise ValueError("no face in any frame")
    t = np.arange(len(track))
    flat = track.reshape(len(track), -1)
    for k in range(flat.shape[1]):
        flat[:, k] = np.interp(t, idx, flat[idx, k])
    return flat.reshape(track.shape)


def one_euro(x: np.ndarray, fps: float, min_cutoff: float = 1.5, beta: float = 0.5,
             d_cutoff: float = 1.0) -> np.ndarray:
    """The One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) along axis 0 of x (T, ...):
    a low-pass whose cut-off rises with speed, so still faces stop jittering and fast motion
    does not lag. Cut-offs in Hz; `beta` in 1 / (units of x per second)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return x.copy()

    def alpha(cutoff):
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau * fps)

    out = np.empty_like(x)
    out[0], dx_prev = x[0], np.zeros_like(x[0])
    a_d = alpha(d_cutoff)
    for t in range(1, len(x)):
        dx = (x[t] - out[t - 1]) * fps
        dx_prev = a_d * dx + (1 - a_d) * dx_prev
        a = alpha(min_cutoff + beta * np.abs(dx_prev))
        out[t] = a * x[t] + (1 - a) * out[t - 1]
    return out


def smooth_track(track: np.ndarray, fps: float, **kw) -> np.ndarray:
    """One-Euro over a landmark track in units of the first frame's IOD (so `beta` means the
    same for a face of any size)."""
    scale = float(iod(track[0]))
    return one_euro(track / scale, fps, **kw) * scale


# ----------------------------------------------------------------------------- transfer


def similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity (Umeyama 1991) taking points a (N, 2) onto b (N, 2):
    b ~ s * R @ a + t. Returns (s, R, t)."""
    ma, mb = a.mean(0), b.mean(0)
    a0, b0 = a - ma, b - mb
    u, sig, vt = np.linalg.svd(b0.T @ a0 / len(a))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    R = u @ d @ vt
    s = float(np.trace(np.diag(sig) @ d) / a0.var(0).sum())
    return s, R, mb - s * R @ ma


def transfer(source: np.ndarray, driving: np.ndarray) -> np.ndarray:
    """Relative motion: target_t = source + s R (driving_t - driving_0), with (s, R) the
    similarity of the first driving face's rigid points onto the source's. (T, 68, 2)."""
    s, R, _ = similarity(driving[0, RIGID], source[RIGID])
    return source[None] + s * (driving - driving[:1]) @ R.T


def forehead(lm: np.ndarray, height: float = 0.6) -> np.ndarray:
    """Five points above the brows (17, 19, 21-22 mean, 24, 26), `height` IODs up along the
    face's vertical axis: they let a moving brow line carry the forehead."""
    eye_l, eye_r = lm[EYE_L].mean(0), lm[EYE_R].mean(0)
    across = eye_r - eye_l
    up = np.array([across[1], -across[0]])        # perpendicular, pointing up the face
    brows = np.stack([lm[17], lm[19], (lm[21] + lm[22]) / 2, lm[24], lm[26]])
    return brows + height * up


def control_points(lm: np.ndarray) -> np.ndarray:
    """The 68 landmarks and the forehead: the points the warp moves (73, 2)."""
    return np.concatenate([lm, forehead(lm)], 0)


# ----------------------------------------------------------------------------- warp


def face_frame(lm: np.ndarray, shape: tuple[int, int], margin: float = 1.6) -> tuple[int, int, int, int]:
    """The region the warp may change: the face's box grown by `margin` IODs on every side,
    clipped to the image. (x0, y0, x1, y1), x1 and y1 exclusive."""
    pts = control_points(lm)
    m = margin * float(iod(lm))
    h, w = shape
    x0, y0 = np.floor(pts.min(0) - m).astype(int)
    x1, y1 = np.ceil(pts.max(0) + m).astype(int)
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


def frame_anchors(box: tuple[int, int, int, int], per_side: int = 6) -> np.ndarray:
    """Fixed points along the border of the warp's region (they hold the background)."""
    x0, y0, x1, y1 = box
    xs, ys = np.linspace(x0, x1 - 1, per_side), np.linspace(y0, y1 - 1, per_side)
    pts = [(x, y0) for x in xs] + [(x, y1 - 1) for x in xs] + [(x0, y) for y in ys[1:-1]] + [(x1 - 1, y) for y in ys[1:-1]]
    return np.array(pts, dtype=np.float64)


def _tps_kernel(r2: torch.Tensor) -> torch.Tensor:
    """U(r) = r^2 log r^2 (0 at r = 0)."""
    return r2 * torch.log(r2.clamp_min(1e-12))


def tps_fit(src: np.ndarray, dst: np.ndarray, reg: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Thin-plate spline f with f(src_i) = dst_i: returns (weights (N, 2), affine (3, 2)) for
    tps_eval. `reg` regularises nearly coincident points."""
    n = len(src)
    K = _tps_kernel(torch.cdist(torch.from_numpy(src), torch.from_numpy(src)) ** 2).numpy()
    P = np.concatenate([np.ones((n, 1)), src], 1)
    A = np.zeros((n + 3, n + 3))
    A[:n, :n], A[:n, n:], A[n:, :n] = K + reg * np.eye(n), P, P.T
    b = np.concatenate([dst, np.zeros((3, 2))], 0)
    sol = np.linalg.solve(A, b)
    return sol[:n], sol[n:]


def tps_eval(points: torch.Tensor, centres: np.ndarray, weights: np.ndarray, affine: np.ndarray) -> torch.Tensor:
    """Evaluate the spline at points (M, 2): (M, 2)."""
    c, a, w = (torch.from_numpy(v).to(points) for v in (centres, affine, weights))
    U = _tps_kernel(torch.cdist(points, c) ** 2)                           # (M, N)
    return a[0] + points @ a[1:] + U @ w


def backward_map(src_pts: np.ndarray, dst_pts: np.ndarray, box: tuple[int, int, int, int]) -> torch.Tensor:
    """For each pixel of the region `box` of the output, where to read the source: (h, w, 2)
    x, y. A thin-plate spline through dst -> src (coordinates scaled to the region's size)."""
    x0, y0, x1, y1 = box
    scale = float(max(x1 - x0, y1 - y0))
    origin = np.array([x0, y0], dtype=np.float64)
    w_, a_ = tps_fit((dst_pts - origin) / scale, (src_pts - origin) / scale)
    ys, xs = torch.meshgrid(torch.arange(y0, y1, dtype=torch.float64), torch.arange(x0, x1, dtype=torch.float64),
                            indexing="ij")
    pts = (torch.stack([xs, ys], -1).reshape(-1, 2) - torch.from_numpy(origin)) / scale
    out = tps_eval(pts, (dst_pts - origin) / scale, w_, a_) * scale + torch.from_numpy(origin)
    return out.reshape(y1 - y0, x1 - x0, 2)


def sample(img: np.ndarray, coords: torch.Tensor) -> np.ndarray:
    """Bilinear read of img (H, W, 3) uint8 at coords (h, w, 2) x, y (pixel centres at integers;
    outside the image, the border repeats). Float (h, w, 3) in 0-255."""
    h, w = img.shape[:2]
    grid = torch.stack([coords[..., 0] / (w - 1) * 2 - 1, coords[..., 1] / (h - 1) * 2 - 1], -1).float()
    x = torch.tensor(img).permute(2, 0, 1)[None].float()
    return F.grid_sample(x, grid[None], mode="bilinear", padding_mode="border",
                         align_corners=True)[0].permute(1, 2, 0).numpy()


def polygon_mask(shape: tuple[int, int], polygon: np.ndarray, feather: float) -> np.ndarray:
    """A float mask (H, W) in [0, 1]: the filled polygon, blurred by `feather` pixels."""
    m = Image.new("L", (shape[1], shape[0]), 0)
    ImageDraw.Draw(m).polygon([tuple(p) for p in polygon], fill=255)
    if feather > 0:
        m = m.filter(ImageFilter.GaussianBlur(feather))
    return np.asarray(m, dtype=np.float32) / 255


def _turn(o, a, b) -> float:
    """z of the cross product (a - o) x (b - o): > 0 for a counter-clockwise turn."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (monotone chain), counter-clockwise (K, 2)."""
    pts = sorted(map(tuple, points))

    def half(seq):
        out = []
        for p in seq:
            while len(out) >= 2 and _turn(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out[:-1]
    return np.array(half(pts) + half(pts[::-1]))


def grow(polygon: np.ndarray, by: float) -> np.ndarray:
    """Push each vertex of a polygon away from its centroid by `by` pixels."""
    c = polygon.mean(0)
    v = polygon - c
    return polygon + by * v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)


def _lip_curve(lm: np.ndarray, idx: list[int], xs: np.ndarray) -> np.ndarray:
    """y of the inner-lip polyline through landmarks `idx`, at columns xs."""
    pts = lm[idx]
    order = np.argsort(pts[:, 0])
    return np.interp(xs, pts[order, 0], pts[order, 1])


UPPER_INNER, LOWER_INNER = [60, 61, 62, 63, 64], [60, 67, 66, 65, 64]


def _lip_colour(img: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Mean colour inside the outer lip line (48-59), read in the lips' bounding box only."""
    x0, y0 = np.maximum(np.floor(lm[48:60].min(0)).astype(int), 0)
    x1, y1 = np.ceil(lm[48:60].max(0)).astype(int) + 1
    box = img[y0:y1, x0:x1]
    lips = box[polygon_mask(box.shape[:2], lm[48:60] - [x0, y0], 0) > 0.5] if box.size else box.reshape(0, 3)
    return lips.mean(0) if len(lips) else np.array([140.0, 70.0, 70.0])


def mouth_interior(out: np.ndarray, source: np.ndarray, src_lm: np.ndarray, dst_lm: np.ndarray) -> np.ndarray:
    """Paint the inside of a mouth that opens wider than the source's. Column by column between
    the target's inner lips: the source's own interior splits in two, its upper half hanging
    from the upper lip (upper teeth) and its lower half riding on the lower lip (lower teeth);
    the new gap between is a dark cavity, with a pale band of upper teeth when the source's
    mouth was closed (it has none of its own). out, source: (H, W, 3); returns float (H, W, 3)."""
    scale = float(iod(dst_lm))
    x0, x1 = dst_lm[[60, 64], 0].min(), dst_lm[[60, 64], 0].max()
    xs = np.arange(int(np.floor(x0)), int(np.ceil(x1)) + 1)
    xs = xs[(xs >= 0) & (xs < out.shape[1])]
    if len(xs) < 2:
        return out
    up_t, lo_t = _lip_curve(dst_lm, UPPER_INNER, xs), _lip_curve(dst_lm, LOWER_INNER, xs)
    u = np.clip((xs - dst_lm[60, 0]) / (dst_lm[64, 0] - dst_lm[60, 0] + 1e-9), 0, 1)
    xs_src = src_lm[60, 0] + u * (src_lm[64, 0] - src_lm[60, 0])
    up_s, lo_s = _lip_curve(src_lm, UPPER_INNER, xs_src), _lip_curve(src_lm, LOWER_INNER, xs_src)
    gap_t, gap_s = np.maximum(lo_t - up_t, 0), np.maximum(lo_s - up_s, 0)
    if (gap_t - gap_s).max() <= 0.5:
        return out
    y0, y1 = int(np.floor(up_t.min())), int(np.ceil(lo_t.max())) + 1
    y0, y1 = max(y0, 0), min(y1, out.shape[0])
    Y = np.arange(y0, y1, dtype=np.float64)[:, None]                   # (h, 1) against columns (w,)
    d_top, d_bot, half = Y - up_t, lo_t - Y, gap_s / 2
    inside = (d_top >= 0) & (d_bot >= 0)
    from_upper = inside & (d_top < half)
    from_lower = inside & ~from_upper & (d_bot < half)
    cavity = inside & ~from_upper & ~from_lower
    # the source's interior, read where it came from
    sy = np.where(from_upper, up_s + d_top, lo_s - d_bot)
    coords = torch.from_numpy(np.stack([np.broadcast_to(xs_src, sy.shape), sy], -1))
    own = sample(source, coords)
    # the cavity: dark, darkest in the middle of the gap, tinted by the lips
    tint = _lip_colour(source, src_lm)
    depth = np.clip(np.minimum(d_top - half, d_bot - half) / (0.08 * scale), 0, 1)[..., None]
    dark = tint * (0.28 - 0.16 * depth)
    if np.median(gap_s) < 0.03 * scale:                               # no teeth of its own: a hint of them
        band = np.minimum(0.28 * (gap_t - gap_s), 0.09 * scale)
        teeth = cavity & (d_top < band)
        dark = np.where(teeth[..., None], np.array([200.0, 190.0, 175.0]) * 0.8, dark)
    paint = np.where(cavity[..., None], dark, own)
    alpha = Image.fromarray((inside * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.5 + 0.004 * scale))
    alpha = np.asarray(alpha, np.float32)[..., None] / 255 * inside[..., None]
    region = out[y0:y1, xs[0]:xs[-1] + 1]
    out = out.copy()
    out[y0:y1, xs[0]:xs[-1] + 1] = region * (1 - alpha) + paint * alpha
    return out


def warp_face(source: np.ndarray, src_lm: np.ndarray, dst_lm: np.ndarray, mask_grow: float = 0.35) -> np.ndarray:
    """The source image (H, W, 3) uint8 with its face moved from landmarks src_lm to dst_lm
    (68, 2): thin-plate-spline warp inside the face's region, blended by a feathered mask of
    the moved face, mouth interior painted. Returns uint8 (H, W, 3)."""
    box = face_frame(np.concatenate([src_lm, dst_lm]), source.shape[:2])
    anchors = frame_anchors(box)
    src_pts = np.concatenate([control_points(src_lm), anchors])
    dst_pts = np.concatenate([control_points(dst_lm), anchors])
    coords = backward_map(src_pts, dst_pts, box)
    x0, y0, x1, y1 = box
    region = sample(source, coords)
    scale = float(iod(dst_lm))
    face_hull = np.concatenate([hull(control_points(dst_lm)), hull(control_points(src_lm))])
    mask = polygon_mask(region.shape[:2], grow(hull(face_hull), mask_grow * scale) - [x0, y0], feather=0.25 * scale)
    out = source.astype(np.float32)
    out[y0:y1, x0:x1] = region * mask[..., None] + out[y0:y1, x0:x1] * (1 - mask[..., None])
    out = mouth_interior(out, source, src_lm, dst_lm)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- provenance


def mark(img: np.ndarray, text: str = "synthetic") -> np.ndarray:
    """A small visible label in the bottom-right corner (white on translucent black)."""
    h, w = img.shape[:2]
    size = max(9, int(round(min(h, w) / 22)))
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:          # Pillow without FreeType
        font = ImageFont.load_default()
    im = Image.fromarray(img).convert("RGBA")
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    l, t, r, b = d.textbbox((0, 0), text, font=font)
    pad = max(2, size // 4)
    x, y = w - (r - l) - 3 * pad, h - (b - t) - 3 * pad
    d.rectangle([x - pad, y - pad, x + (r - l) + pad, y + (b - t) + pad], fill=(0, 0, 0, 140))
    d.text((x - l, y - t), text, font=font, fill=(255, 255, 255, 230))
    return np.asarray(Image.alpha_composite(im, layer).convert("RGB"))


# ----------------------------------------------------------------------------- known motions


def _weights(pairs: dict) -> np.ndarray:
    w = np.zeros(68)
    for idx, v in pairs.items():
        w[list(idx) if isinstance(idx, (tuple, list, range)) else idx] = v
    return w


# how far each landmark moves, per unit of motion, in IODs: (x weights, y weights)
_JAW = (np.zeros(68), _weights({range(5, 12): 0.75, 8: 1.0, (4, 12): 0.4, (3, 13): 0.15,
                                range(55, 60): 1.0, range(65, 68): 1.0, (48, 54, 60, 64): 0.45}))
_NOD = (np.zeros(68), _weights({range(0, 68): 0.25, range(27, 36): 0.45, 30: 0.55, range(48, 68): 0.4,
                                range(4, 13): 0.4, range(17, 27): 0.15}))
_TURN = (_weights({range(0, 68): 0.12, range(27, 36): 0.3, 30: 0.4, range(48, 68): 0.24, range(36, 48): 0.17,
                   range(9, 17): 0.02}), np.zeros(68))
KNOWN_MOTIONS = {"jaw": _JAW, "nod": _NOD, "turn": _TURN}


def known_motion(lm: np.ndarray, kind: str, amounts: np.ndarray) -> np.ndarray:
    """Landmarks of a face moved by a known motion: `kind` jaw (the mouth opens), nod (the head
    tips down) or turn (the head turns to the image's right); amounts (T,) in units of about
    one IOD of the fastest-moving point. Returns (T, 68, 2)."""
    wx, wy = KNOWN_MOTIONS[kind]
    step = np.stack([wx, wy], -1) * float(iod(lm))                  # (68, 2)
    return lm[None] + np.asarray(amounts, dtype=np.float64)[:, None, None] * step[None]


def motion_clip(img: np.ndarray, lm: np.ndarray, kind: str, n: int = 24, amount: float = 0.3) -> tuple[list, np.ndarray]:
    """A driving clip with a known motion made from one photo: the face warped along
    `known_motion` (out and back: 0 -> amount -> 0 over n frames). Returns (frames, the
    landmarks each frame was warped to (n, 68, 2))."""
    amounts = amount * np.sin(np.linspace(0, np.pi, n))
    targets = known_motion(lm, kind, amounts)
    return [warp_face(img, lm, t) for t in targets], targets
