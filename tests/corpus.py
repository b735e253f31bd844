"""A corpus of hostile files, generated on the spot (tests/e2e/test_fuzz.py and
scripts/fuzz_report.py): truncated and bit-flipped checkpoints, wrong types in every header
field, nested and memo-bomb pickles, damaged, odd-mode and decompression-bomb images, bad
latents and directions, and paths that are folders.

    cases = make_corpus(tmp_dir, tiny_ckpt_path)     # [(name, kind, path)], kind: checkpoint | image | latent | directions
"""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import struct
import zlib

import numpy as np
from PIL import Image


def _safetensors_with_header(src: bytes, header: dict) -> bytes:
    n = struct.unpack("<Q", src[:8])[0]
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + src[8 + n:]


def make_corpus(root: str, ckpt: str, n_flips: int = 12, seed: int = 0) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    os.makedirs(root, exist_ok=True)
    cases = []

    def add(name, kind, data):
        path = os.path.join(root, name)
        with open(path, "wb") as f:
            f.write(data)
        cases.append((name, kind, path))

    good = open(ckpt, "rb").read()
    n = struct.unpack("<Q", good[:8])[0]
    header = json.loads(good[8:8 + n])
    meta = json.loads(header["__metadata__"]["uncanny"])

    # -- our checkpoints: truncated, bit-flipped, wrong types in every header field
    for frac in (0.0, 0.001, 0.01, 0.5, 0.999):
        add(f"trunc-{frac}.safetensors", "checkpoint", good[: int(len(good) * frac)])
    for i in range(n_flips):
        b = bytearray(good)
        pos = rng.randrange(0, min(len(b), 8 + n + 64))       # header and the first tensor bytes
        b[pos] ^= 1 << rng.randrange(8)
        add(f"flip-{i}.safetensors", "checkpoint", bytes(b))
    for field, values in (("format", [1, None, "other"]), ("version", ["1", 99, -1.5]),
                          ("arch", [None, 3, "vqgan", ["stylegan2"]]), ("config", [None, "x", [], 7]),
                          ("nets", [None, "g", 5])):
        for j, v in enumerate(values):
            bad = dict(header, __metadata__={"uncanny": json.dumps(dict(meta, **{field: v}))})
            add(f"field-{field}-{j}.safetensors", "checkpoint", _safetensors_with_header(good, bad))
    for key, v in (("size", [3, -16, 0, 2 ** 40, "64", None, 1.5]), ("style_dim", [0, "32", -1, None]),
                   ("n_mlp", [-1, 1000000, "2"]), ("channel_max", [0, -5, "16"])):
        for j, val in enumerate(v):
            bad = dict(header, __metadata__={"uncanny": json.dumps(dict(meta, config=dict(meta["config"], **{key: val})))})
            add(f"config-{key}-{j}.safetensors", "checkpoint", _safetensors_with_header(good, bad))
    add("metadata-list.safetensors", "checkpoint",
        _safetensors_with_header(good, dict(header, __metadata__={"uncanny": "[1, 2]"})))
    add("metadata-none.safetensors", "checkpoint", _safetensors_with_header(good, {k: v for k, v in header.items()
                                                                                  if k != "__metadata__"}))
    add("header-huge.safetensors", "checkpoint", struct.pack("<Q", 2 ** 62) + good[8:])
    # -- pickles: nested, memo bomb, code, not a dict
    x = []
    for _ in range(60):
        x = [x, x]
    add("bomb.pkl", "checkpoint", pickle.dumps({"G": x, "D": x}, protocol=2))
    depth = 200_000
    add("deep.pkl", "checkpoint", b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b".")
    add("code.pkl", "checkpoint", b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.")
    add("list.pkl", "checkpoint", pickle.dumps([1, 2, 3], protocol=2))
    add("garbage.pt", "checkpoint", bytes(rng.randrange(256) for _ in range(4096)))
    add("zip-empty.pt", "checkpoint", b"PK\x05\x06" + b"\x00" * 18)
    # -- images: damaged, odd modes, a decompression bomb, not an image
    buf = io.BytesIO()
    Image.fromarray((np.random.RandomState(seed).rand(80, 80, 3) * 255).astype(np.uint8)).save(buf, "PNG")
    png = buf.getvalue()
    add("trunc.png", "image", png[: len(png) // 2])
    add("notes.png", "image", b"this is not an image")
    add("empty.jpg", "image", b"")
    for mode in ("CMYK", "I;16", "P", "LA", "1"):
        b2 = io.BytesIO()
        Image.new(mode if mode != "CMYK" else "CMYK", (40, 40)).save(b2, "TIFF" if mode in ("CMYK", "I;16") else "PNG")
        add(f"mode-{mode.replace(';', '')}.{'tif' if mode in ('CMYK', 'I;16') else 'png'}", "image", b2.getvalue())
    add("tiny.png", "image", _png(2, 2))
    add("bomb.png", "image", _png_header_only(100_000, 100_000))
    # -- latents and directions
    b3 = io.BytesIO()
    np.savez(b3, latent=np.full((1, 3), np.nan), meta=np.array(json.dumps({"kind": "w"})))
    add("nan-latent.npz", "latent", b3.getvalue())
    b4 = io.BytesIO()
    np.savez(b4, latent=np.zeros((1, 32)), meta=np.array(json.dumps({"kind": "q"})))
    add("kind-latent.npz", "latent", b4.getvalue())
    add("pickled-latent.npz", "latent", pickle.dumps({"latent": 1}))
    os.makedirs(os.path.join(root, "dirs-bad"), exist_ok=True)
    with open(os.path.join(root, "dirs-bad", "directions.json"), "w") as f:
        f.write('{"format": "uncanny-directions", "directions": "many"}')
    with open(os.path.join(root, "dirs-bad", "directions.safetensors"), "wb") as f:
        f.write(good[:100])
    cases.append(("dirs-bad", "directions", os.path.join(root, "dirs-bad")))
    # -- a folder where a file is expected
    os.makedirs(os.path.join(root, "folder.safetensors"), exist_ok=True)
    cases.append(("folder.safetensors", "checkpoint", os.path.join(root, "folder.safetensors")))
    return cases


def _png(w, h):
    b = io.BytesIO()
    Image.new("RGB", (w, h)).save(b, "PNG")
    return b.getvalue()


def _png_header_only(w, h):
    """A PNG that claims w x h pixels (with a tiny compressed body): a decompression bomb."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


def verb_calls(kind, path, out, tiny_ckpt, dirs):
    """The command lines that read a file of this kind (each writing under `out`, which exists)."""
    os.makedirs(out, exist_ok=True)
    if kind == "checkpoint":
        yield ["sample", "--model", path, "--out", os.path.join(out, "s.png")]
        yield ["convert", path, os.path.join(out, "c.safetensors")]
        if not path.endswith((".pkl", ".pt")):
            yield ["foil", "--model", path, "--out", os.path.join(out, "f"), "--iters", "1", "--faces-every", "0"]
    elif kind == "image":
        yield ["detect", path, "--out", os.path.join(out, "d")]
        yield ["attack", path, "--out", os.path.join(out, "a"), "--steps", "1"]
        yield ["project", path, "--model", tiny_ckpt, "--out", os.path.join(out, "p"), "--steps", "1"]
    elif kind == "latent":
        yield ["render", path, "--snapshot", tiny_ckpt, "--out", os.path.join(out, "r.png")]
        yield ["edit", "apply", "--latent", path, "--directions", dirs, "--index", "0", "--out", os.path.join(out, "e")]
    else:
        yield ["edit", "apply", "--seeds", "0", "--directions", path, "--index", "0", "--out", os.path.join(out, "e")]
