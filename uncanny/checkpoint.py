"""Checkpoints: safetensors weights plus a JSON config. Loading never executes code.

A checkpoint `NAME.safetensors` holds tensors named `g.*`, `g_ema.*`, `d.*` (any subset,
at least one generator) and optionally `w_avg`. Its safetensors metadata field `uncanny`
holds the JSON config; the same JSON is written beside it as `NAME.json` for people:

    {"format": "uncanny", "version": 1, "arch": "stylegan2",
     "config": {"size": 64, "style_dim": 256, ...}, "nets": ["g", "g_ema", "d"],
     "provenance": {...}, "training": {...}}

    save_checkpoint("m.safetensors", "stylegan2", cfg, {"g": G, "g_ema": G_ema, "d": D})
    ck = read_checkpoint("m.safetensors")   # ck.arch, ck.config, ck.state["g_ema"], ck.w_avg
    load_into(G, ck.state["g_ema"], ck.path, "g_ema")   # errors name the missing/unexpected keys

Networks are built and loaded behind their architecture's adapter (uncanny.adapters.load_gan);
other formats (rosinality .pt, NVIDIA .pkl) are read by uncanny.formats.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import torch
from torch import nn

from .errors import UncannyError
from .util import atomic_write_bytes, atomic_write_text

FORMAT, VERSION = "uncanny", 1
NET_NAMES = ("g", "g_ema", "d")


def save_checkpoint(path: str, arch: str, config: dict, networks: dict[str, nn.Module | dict],
                    meta: dict | None = None, w_avg: torch.Tensor | None = None) -> None:
    """Atomically write weights (+ embedded config) and the JSON config beside them."""
    from safetensors.torch import save

    tensors = {}
    for name, net in networks.items():
        if name not in NET_NAMES:
            raise ValueError(f"network name must be one of {NET_NAMES}, got {name!r}")
        sd = net.state_dict() if isinstance(net, nn.Module) else net
        for k, v in sd.items():
            tensors[f"{name}.{k}"] = v.detach().cpu().clone().contiguous()  # clone: no shared storage
    if w_avg is not None:
        tensors["w_avg"] = w_avg.detach().cpu().reshape(1, -1).contiguous()
    header = {"format": FORMAT, "version": VERSION, "arch": arch, "config": config,
              "nets": sorted(networks), **(meta or {})}
    text = json.dumps(header, indent=1, default=str)
    atomic_write_bytes(path, save(tensors, metadata={"uncanny": text}))
    atomic_write_text(os.path.splitext(path)[0] + ".json", text + "\n")


@dataclass
class Checkpoint:
    path: str
    arch: str
    config: dict
    header: dict
    state: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)  # net name -> state dict
    w_avg: torch.Tensor | None = None


def read_checkpoint(path: str, stage: int | None = None) -> Checkpoint:
    """Parse a checkpoint file; raises UncannyError naming the file and the problem."""
    from safetensors import SafetensorError, safe_open

    if not os.path.isfile(path):
        raise UncannyError(f"{path}: no such checkpoint file")
    if not path.endswith(".safetensors"):
        raise UncannyError(f"{path}: not an uncanny checkpoint (expected a .safetensors file; "
                           f"convert other formats with `uncanny convert`)")
    try:
        with safe_open(path, "pt") as f:  # one pass: header (metadata) and tensors
            md = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, ValueError, RuntimeError, OSError) as e:
        raise UncannyError(f"{path}: not a readable safetensors file ({str(e).splitlines()[0][:120]})") from None
    if "uncanny" not in md:
        raise UncannyError(f"{path}: safetensors file without an uncanny config (not made by uncanny-lab)")
    try:
        header = json.loads(md["uncanny"])
    except ValueError as e:
        raise UncannyError(f"{path}: damaged config in checkpoint ({e})") from None
    if not isinstance(header, dict):
        raise UncannyError(f"{path}: the checkpoint's config is a JSON {type(header).__name__}, not an object")
    arch, config = header.get("arch"), header.get("config")
    if not isinstance(arch, str) or not isinstance(config, dict):
        raise UncannyError(f"{path}: the checkpoint's config needs \"arch\" (text) and \"config\" (an object)")
    if header.get("format") != FORMAT or not isinstance(header.get("version", 0), int) or header.get("version", 0) > VERSION:
        raise UncannyError(f"{path}: unsupported checkpoint format {header.get('format')} v{header.get('version')}")
    ck = Checkpoint(path, arch, config, header, w_avg=tensors.pop("w_avg", None))
    if ck.w_avg is not None:
        ck.w_avg = ck.w_avg.float()
    for key, t in tensors.items():
        t = t.float() if t.is_floating_point() else t  # embedded weights are stored in float16
        net, _, k = key.partition(".")
        if net not in NET_NAMES:
            raise UncannyError(f"{path}: unexpected tensor {key!r}")
        ck.state.setdefault(net, {})[k] = t
    if not any(n in ck.state for n in ("g", "g_ema")):
        raise UncannyError(f"{path}: checkpoint holds no generator")
    if stage is not None:
        if arch != "stylegan1":
            raise UncannyError(f"--stage {stage}: only progressive StyleGAN 1 checkpoints have stages")
        ck.config = dict(ck.config, stage=int(stage))
    return ck


def load_into(module: nn.Module, sd: dict, path: str, what: str) -> nn.Module:
    own = module.state_dict()
    missing = [k for k in own if k not in sd]
    extra = [k for k in sd if k not in own]
    wrong = [f"{k} {tuple(sd[k].shape)} != {tuple(own[k].shape)}" for k in own
             if k in sd and sd[k].shape != own[k].shape]
    if missing or extra or wrong:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
        if extra:
            parts.append(f"unexpected {', '.join(extra[:4])}{' ...' if len(extra) > 4 else ''}")
        if wrong:
            parts.append(f"wrong shape {', '.join(wrong[:3])}{' ...' if len(wrong) > 3 else ''}")
        raise UncannyError(f"{path}: {what} weights do not fit the {module.__class__.__name__} "
                           f"in its config: {'; '.join(parts)}")
    module.load_state_dict(sd)
    return module


# ----------------------------------------------------------------------------- resumable state

def save_state(path: str, modules: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
               info: dict, extra: dict[str, torch.Tensor] | None = None) -> None:
    """Everything needed to resume a run (weights, optimiser moments, counters) in one
    safetensors file, written atomically."""
    from safetensors.torch import save

    tensors = {f"{n}.{k}": v.detach().cpu().contiguous() for n, m in modules.items()
               for k, v in m.state_dict().items()}
    groups = {}
    for name, opt in optimizers.items():
        sd = opt.state_dict()
        groups[name] = sd["param_groups"]
        for idx, st in sd["state"].items():
            for k, v in st.items():
                t = v if torch.is_tensor(v) else torch.tensor(v)
                tensors[f"opt.{name}.{idx}.{k}"] = t.detach().cpu().contiguous()
    for k, v in (extra or {}).items():
        tensors[f"extra.{k}"] = v.detach().cpu().contiguous()
    meta = json.dumps({"info": info, "param_groups": groups}, default=str)
    atomic_write_bytes(path, save(tensors, metadata={"uncanny_state": meta}))


def load_state(path: str, modules: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer]):
    """Restore what `save_state` wrote; returns (info, extra tensors)."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    try:
        tensors = load_file(path)
        with safe_open(path, "pt") as f:
            meta = json.loads((f.metadata() or {})["uncanny_state"])
    except (SafetensorError, OSError, KeyError, ValueError) as e:
        raise UncannyError(f"{path}: cannot resume from this file ({str(e)[:100]})") from None
    for name, m in modules.items():
        sd = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")}
        load_into(m, sd, path, name)
    for name, opt in optimizers.items():
        if name not in meta["param_groups"]:  # a carried state without optimiser moments: Adam starts afresh
            continue
        state: dict[int, dict] = {}
        pre = f"opt.{name}."
        for k, v in tensors.items():
            if k.startswith(pre):
                idx, key = k[len(pre):].split(".", 1)
                state.setdefault(int(idx), {})[key] = v
        # The moments come from the file; the hyperparameters (lr, betas) stay those the optimiser
        # was built with from the run's recipe, so a recipe changed on resume takes effect.
        # Moments are kept by parameter position; how the parameters are grouped (one group, or
        # the mapping network apart with its own learning rate) may differ between file and run.
        saved, built = meta["param_groups"][name], opt.state_dict()["param_groups"]
        if [i for g in saved for i in g["params"]] != [i for g in built for i in g["params"]]:
            raise UncannyError(f"{path}: the {name} optimiser state does not fit (its parameters differ)")
        opt.load_state_dict({"state": state, "param_groups": built})
    extra = {k[6:]: v for k, v in tensors.items() if k.startswith("extra.")}
    return meta["info"], extra


def state_shapes(path: str, module: str) -> dict[str, tuple[int, ...]]:
    """The shapes of one module's tensors in a `save_state` file (`module` "g": {"input.input":
    (1, 256, 4, 4), ...}), read from its header without loading the tensors."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, "pt") as f:
            return {k[len(module) + 1:]: tuple(f.get_slice(k).get_shape()) for k in f.keys()
                    if k.startswith(module + ".")}
    except (SafetensorError, OSError) as e:
        raise UncannyError(f"{path}: cannot read this state ({str(e)[:100]})") from None
