"""Writing what people look at: image grids, strips, videos (MP4 via the ffmpeg bundled
with imageio-ffmpeg, and GIF)."""

from __future__ import annotations

import io
import os

import numpy as np
import torch
from PIL import Image, ImageDraw

from .util import atomic_write_bytes


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) floats in [-1, 1] -> (N, H, W, 3) uint8. NaN becomes 0 (black)."""
    x = torch.nan_to_num(images.detach().float().cpu(), nan=-1.0, posinf=1.0, neginf=-1.0)
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def from_uint8(images: np.ndarray) -> torch.Tensor:
    """The inverse of `to_uint8`: (N, H, W, 3) or one (H, W, 3) uint8 -> (N, 3, H, W) floats in [-1, 1]."""
    x = torch.from_numpy(np.array(images))
    x = x[None] if x.ndim == 3 else x
    return x.permute(0, 3, 1, 2).float() / 127.5 - 1


def grid(images: np.ndarray, ncol: int | None = None, pad: int = 2, bg: int = 255) -> np.ndarray:
    """(N, H, W, 3) uint8 -> one (rows*H, ncol*W, 3) image with `pad` px gutters."""
    n, h, w, c = images.shape
    ncol = ncol or int(np.ceil(np.sqrt(n)))
    nrow = int(np.ceil(n / ncol))
    out = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), bg, np.uint8)
    for i, im in enumerate(images):
        r, col = divmod(i, ncol)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = im
    return out


def label(image: np.ndarray, text: str, height: int = 14) -> np.ndarray:
    """Add a white caption band with `text` above an image."""
    band = Image.new("RGB", (image.shape[1], height), "white")
    ImageDraw.Draw(band).text((3, 1), text, fill="black")
    return np.concatenate([np.asarray(band), image], 0)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    if factor <= 1:
        return image
    return np.asarray(Image.fromarray(image).resize((image.shape[1] * factor, image.shape[0] * factor),
                                                    Image.NEAREST))


def save_png(path: str, image: np.ndarray, text: dict[str, str] | None = None) -> None:
    """PNG, written atomically; `text`: metadata as PNG text chunks (e.g. provenance)."""
    from PIL.PngImagePlugin import PngInfo
    info = None
    if text:
        info = PngInfo()
        for k, v in text.items():
            info.add_itxt(k, v)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", pnginfo=info)
    atomic_write_bytes(path, buf.getvalue())


def save_video(path: str, frames: list[np.ndarray], fps: float = 24, comment: str | None = None) -> None:
    """MP4 (H.264, yuv420p) or GIF by extension; frames are (H, W, 3) uint8, made even-sized.
    `comment`: metadata written into the file (MP4 comment tag, GIF comment extension)."""
    import imageio.v2 as imageio
    if not frames:
        return
    h, w = frames[0].shape[:2]
    frames = [f[: h - h % 2, : w - w % 2] for f in frames]
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), ".tmp-" + os.path.basename(path))
    if path.endswith(".gif"):
        extra = {"comment": comment.encode("utf-8")} if comment else {}
        imageio.mimsave(tmp, frames, format="GIF", duration=1000 / fps, loop=0, **extra)
    else:
        with imageio.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264", quality=8,
                                macro_block_size=1, pixelformat="yuv420p",
                                ffmpeg_log_level="error",
                                output_params=["-metadata", f"comment={comment}"] if comment else None) as wr:
            for f in frames:
                wr.append_data(f)
    os.replace(tmp, path)
