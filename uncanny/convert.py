"""Convert checkpoints between formats (nothing in an input file is ever executed).

    uncanny convert stylegan2-ffhq-config-f.pt ffhq.safetensors     # rosinality StyleGAN2 -> ours
    uncanny convert network-snapshot.pkl mine.safetensors           # NVIDIA stylegan2-ada -> ours
    uncanny convert ffhq.safetensors back.pt                        # ours -> rosinality-style .pt

The discriminator is kept wherever the source has it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .adapters import from_checkpoint
from .checkpoint import save_checkpoint
from .errors import UncannyError
from .formats import read_any, write_rosinality
from .options import option, positive_or_none, validate


@dataclass
class ConvertConfig:
    src: str = option(help="rosinality .pt, NVIDIA .pkl or our .safetensors", positional=True)
    dst: str = option(help=".safetensors (ours) or .pt (rosinality-style)", positional=True)
    stage: int | None = option(None, "resolution to keep for a progressive StyleGAN 1 checkpoint",
                               check=positive_or_none)


def convert(src: str, dst: str, stage: int | None = None) -> dict:
    """Write `src` (any supported format) to `dst` (.safetensors, or .pt for rosinality)."""
    validate(ConvertConfig(src, dst, stage))
    ck = read_any(src, stage)
    from_checkpoint(ck)            # build the networks and load every tensor: what sample would refuse, convert refuses
    folder = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(folder):
        raise UncannyError(f"{dst}: output folder {folder} does not exist")
    if dst.endswith(".pt"):
        write_rosinality(ck, dst)
    elif dst.endswith(".safetensors"):
        meta = {k: v for k, v in ck.header.items() if k not in ("format", "version", "arch", "config", "nets")}
        meta.setdefault("provenance", {})["converted_from"] = os.path.abspath(src)
        save_checkpoint(dst, ck.arch, ck.config, ck.state, meta, w_avg=ck.w_avg)
        from .checkpoint import read_checkpoint
        from_checkpoint(read_checkpoint(dst))    # read back what was written, as sample would
    else:
        raise UncannyError(f"{dst}: output must end in .safetensors (ours) or .pt (rosinality)")
    return {"arch": ck.arch, "config": ck.config, "nets": sorted(ck.state), "out": dst}
