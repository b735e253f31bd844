"""Checkpoints people already have, read safely and mapped onto our networks.

    rosinality stylegan2-pytorch `.pt`   {"g", "d", "g_ema", "latent_avg", "args"}; read with
                                         torch's weights-only unpickler (argparse.Namespace allowed)
    NVIDIA stylegan2-ada-pytorch `.pkl`  {"G", "D", "G_ema", ...}; read with `SafeUnpickler`, which
                                         never imports or runs the source code embedded in the file:
                                         it records each network's init arguments and tensors, and
                                         the mapping below renames them onto our StyleGAN2
    NVIDIA StyleGAN3 `.pkl`              recognised and refused

Anything else is refused with a message naming the file and what was found.

    ck = read_foreign("ffhq.pkl")     # -> checkpoint.Checkpoint (arch, config, state dicts, w_avg)
    ck = read_any(path)               # ours or foreign, by file name
"""

from __future__ import annotations

import argparse
import collections
import io
import math
import os
import pickle
import re
import zipfile

import numpy as np
import torch

from .checkpoint import Checkpoint, read_checkpoint
from .errors import UncannyError
from .nets import stylegan2 as S2
from .nets.dlib_resnet import DlibFaceNet
from .nets.stylegan1 import stage_to_step

# ----------------------------------------------------------------------------- safe unpickling


class Stub:
    """Stands in for an object of a class we must not (or need not) import: keeps its state."""

    def __init__(self, kind: str, meta=None):
        self.kind, self.meta, self.state = kind, meta, None

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return f"Stub({self.kind})"


class EasyDict(dict):
    """dnnlib.util.EasyDict without dnnlib."""

    def __setstate__(self, state):
        self.update(state)


def _persistent_obj(meta):
    """torch_utils.persistence._reconstruct_persistent_obj, minus the part that exec()s the
    embedded module source: keep the class name, the source text (to recognise it) and state."""
    meta = dict(meta)
    stub = Stub(meta.get("class_name", "?"), meta)
    stub.state = meta.get("state")
    return stub


def _reconstructor(cls, base, state):  # copyreg._reconstructor for classes we only name
    return Stub(cls if isinstance(cls, str) else getattr(cls, "__name__", "?"))


def _load_storage_bytes(data: bytes):
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    storage = storage._untyped_storage if hasattr(storage, "_untyped_storage") else storage
    dtype = getattr(storage, "dtype", torch.float32)
    t = torch.empty(0, dtype=dtype)
    t.set_(storage if isinstance(storage, torch.UntypedStorage) else storage, offset, size, stride)
    return t


def _rebuild_parameter(data, requires_grad, backward_hooks, *extra):
    return data


ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib.easydict", "EasyDict"): EasyDict,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_obj,
    ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch", "Size"): torch.Size,
}


class SafeUnpickler(pickle.Unpickler):
    """Resolves only the names in ALLOWED (and class names of torch.nn modules and torch dtypes,
    recorded as strings); anything else, such as os.system or builtins.exec, is refused."""

    def __init__(self, f, path: str):
        super().__init__(f)
        self.path = path

    def find_class(self, module, name):
        if (module, name) in ALLOWED:
            return ALLOWED[(module, name)]
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if module.startswith("torch.nn.modules.") or module in ("torch_utils.persistence",):
            return f"{module}.{name}"  # a name only; handed to _reconstructor, never instantiated
        if module == "numpy" or module.startswith("numpy."):
            import numpy as np
            if (module, name) in (("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                                  ("numpy._core.multiarray", "scalar"), ("numpy", "ndarray"),
                                  ("numpy.core.multiarray", "_reconstruct"),
                                  ("numpy._core.multiarray", "_reconstruct")):
                return getattr(np, name) if module == "numpy" else getattr(np.core.multiarray, name)
        raise UncannyError(f"{self.path}: refusing to load: the pickle asks for {module}.{name}, "
                           f"which uncanny-lab does not allow (it could run code)")


def safe_pickle_load(path: str):
    try:
        with open(path, "rb") as f:
            return SafeUnpickler(f, path).load()
    except UncannyError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, RuntimeError,
            IndexError, KeyError) as e:
        raise UncannyError(f"{path}: not a readable pickle ({e.__class__.__name__}: {str(e)[:100]})") from None


# ----------------------------------------------------------------------------- rosinality


def _torch_load(path: str):
    try:
        torch.serialization.add_safe_globals([argparse.Namespace])
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise UncannyError(f"{path}: refusing to load: {str(e).splitlines()[0][:160]}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        raise UncannyError(f"{path}: not a readable PyTorch file ({str(e).splitlines()[0][:120]})") from None


def _infer_sg2_config(path, g: dict, args) -> dict:
    a = vars(args) if isinstance(args, argparse.Namespace) else (args or {})
    n_mlp = sum(1 for k in g if k.startswith("style.") and k.endswith(".weight"))
    style_dim = g["style.1.weight"].shape[0]
    n_rgb = len({k.split(".")[1] for k in g if k.startswith("to_rgbs.")})
    size = 2 ** (n_rgb + 2)
    if a.get("size") not in (None, size):
        raise UncannyError(f"{path}: args say size {a['size']} but the weights are for {size} px")
    # widths: recover channel_multiplier from the 64 px layer, or an explicit cap/base
    ch = {4: g["conv1.conv.weight"].shape[1]}
    for i in range(n_rgb):
        ch[2 ** (i + 3)] = g[f"convs.{2 * i}.conv.weight"].shape[1]
    for cm in (a.get("channel_multiplier"), 2, 1, 4):
        if cm and all(S2.channel_table(cm)[r] == c for r, c in ch.items()):
            return dict(size=size, style_dim=style_dim, n_mlp=n_mlp, channel_multiplier=int(cm))
    for base in (ch[max(ch)] * max(ch), 2 ** 15, 2 ** 14):
        cmax = ch[4]
        if all(S2.channel_table(1, cmax, base)[r] == c for r, c in ch.items()):
            return dict(size=size, style_dim=style_dim, n_mlp=n_mlp, channel_multiplier=1,
                        channel_max=cmax, channel_base=base)
    raise UncannyError(f"{path}: channel widths {ch} match no known StyleGAN2 layout")


def read_rosinality(path: str, obj=None, stage: int | None = None):
    obj = _torch_load(path) if obj is None else obj
    if not isinstance(obj, dict):
        raise UncannyError(f"{path}: not a rosinality checkpoint (top level is {type(obj).__name__})")
    if "g_running" in obj or "generator" in obj:
        return read_stylegan1(path, obj, stage)
    gens = [k for k in ("g_ema", "g") if k in obj]
    if not gens:
        raise UncannyError(f"{path}: no generator found (expected keys g_ema or g; found {', '.join(map(str, obj))})")
    if not isinstance(obj[gens[0]], dict):
        raise UncannyError(f"{path}: {gens[0]} is not a state dict")
    try:
        config = _infer_sg2_config(path, obj[gens[0]], obj.get("args"))
    except KeyError as e:
        raise UncannyError(f"{path}: generator is missing tensor {e.args[0]}; not a rosinality StyleGAN2") from None
    except (AttributeError, TypeError, IndexError) as e:
        raise UncannyError(f"{path}: generator tensors are not a rosinality StyleGAN2 ({str(e)[:80]})") from None
    ck = Checkpoint(path, "stylegan2", config, {"format": "rosinality-stylegan2", "config": config,
                                               "provenance": {"converted_from": os.path.abspath(path)}})
    for k in ("g", "g_ema", "d"):
        if k in obj:
            ck.state[k] = {n: t.float() for n, t in obj[k].items()}
    if "latent_avg" in obj and torch.is_tensor(obj["latent_avg"]):
        ck.w_avg = obj["latent_avg"].float().reshape(1, -1)
    return ck


def write_rosinality(ck, out: str) -> None:
    """Our StyleGAN2 checkpoint -> a rosinality-style .pt (plain state dicts and tensors only)."""
    if ck.arch != "stylegan2":
        raise UncannyError(f"{ck.path}: only StyleGAN2 checkpoints can be written as rosinality .pt")
    c = ck.config
    if c.get("channel_base") or c.get("channel_max"):
        raise UncannyError(f"{ck.path}: custom channel widths (channel_base/channel_max) have no rosinality "
                           f"equivalent; rosinality's Generator could not load it")
    if S2.StyleGAN2Config(**c).mbstd_group != 4:         # a config without the key: the default
        raise UncannyError(f"{ck.path}: D's minibatch-stddev group is {c['mbstd_group']}; rosinality's "
                           f"Discriminator always uses 4 and would judge differently")
    obj = {k: v for k, v in ck.state.items()}
    if ck.w_avg is not None:
        obj["latent_avg"] = ck.w_avg.reshape(-1)
    obj["args"] = argparse.Namespace(size=c["size"], latent=c["style_dim"], n_mlp=c["n_mlp"],
                                     channel_multiplier=c["channel_multiplier"])
    buf = io.BytesIO()
    torch.save(obj, buf)
    from .util import atomic_write_bytes
    atomic_write_bytes(out, buf.getvalue())


# ----------------------------------------------------------------------------- rosinality StyleGAN 1


def infer_config(path: str, g: dict, d: dict | None, stage: int | None) -> dict:
    if stage is None:
        m = re.search(r"(\d{1,4})px", path)
        if not m:
            raise UncannyError(f"{path}: a StyleGAN 1 checkpoint holds every resolution; say which to use "
                               f"with --stage (8, 16, ..., 1024), e.g. --stage 256")
        stage = int(m.group(1))
    try:
        stage_to_step(stage)
    except ValueError as e:
        raise UncannyError(f"--{e}") from None
    n_mlp = sum(1 for k in g if k.startswith("style.") and k.endswith("linear.weight_orig"))
    code_dim = g["style.1.linear.weight_orig"].shape[0]
    fused = "generator.progression.5.conv1.0.weight" in g
    cfg = dict(code_dim=int(code_dim), n_mlp=int(n_mlp), stage=int(stage), fused=fused, from_rgb_activate=True)
    if d is not None:
        cfg["from_rgb_activate"] = "from_rgb.0.0.conv.weight_orig" in d
        if ("progression.0.conv2.1.weight" in d) != fused:
            raise UncannyError(f"{path}: generator and discriminator disagree on fused up/downsampling")
    return cfg


def read_stylegan1(path: str, obj: dict, stage: int | None = None):
    """rosinality style-based-gan-pytorch checkpoint -> uncanny Checkpoint (arch stylegan1)."""
    g = obj.get("g_running") or obj.get("generator")
    if not isinstance(g, dict):
        raise UncannyError(f"{path}: StyleGAN 1 checkpoint without a generator state dict")
    d = obj.get("discriminator") if isinstance(obj.get("discriminator"), dict) else None
    cfg = infer_config(path, g, d, stage)
    ck = Checkpoint(path, "stylegan1", cfg, {"format": "rosinality-stylegan1", "config": cfg,
                                            "provenance": {"converted_from": path}})
    for src, dst in (("generator", "g"), ("g_running", "g_ema"), ("discriminator", "d")):
        if isinstance(obj.get(src), dict):
            ck.state[dst] = {k: v.float() for k, v in obj[src].items()}
    return ck


# ----------------------------------------------------------------------------- NVIDIA


def _with_fixed_buffers(config: dict, state: dict) -> dict:
    """Add our constant blur-kernel buffers (not learned, not in NVIDIA's layout)."""
    G, D = S2.Generator(**_s2_kwargs(config)), S2.Discriminator(
        config["size"], config["channel_multiplier"], channel_max=config.get("channel_max"),
        channel_base=config.get("channel_base"))
    for name, ref in (("g", G), ("g_ema", G), ("d", D)):
        if name in state:
            for k, v in ref.state_dict().items():
                if k.endswith(".kernel"):
                    state[name].setdefault(k, v)
    return state


def _flat_state(stub: Stub, prefix: str = "") -> dict[str, torch.Tensor]:
    """The state_dict of a pickled torch module whose class was not imported."""
    st = stub.state or {}
    out = {}
    for k, v in (st.get("_parameters") or {}).items():
        if v is not None:
            out[prefix + k] = v
    non_persistent = st.get("_non_persistent_buffers_set") or set()
    for k, v in (st.get("_buffers") or {}).items():
        if v is not None and k not in non_persistent:
            out[prefix + k] = v
    for k, m in (st.get("_modules") or {}).items():
        if isinstance(m, Stub):
            out.update(_flat_state(m, prefix + k + "."))
    return out


def _init_kwargs(stub: Stub) -> dict:
    st = stub.state or {}
    kw = st.get("_init_kwargs") or st.get("init_kwargs") or {}
    return dict(kw)


def _is_stylegan3(stub: Stub) -> bool:
    src = (stub.meta or {}).get("module_src", "") or ""
    return "SynthesisInput" in src or "networks_stylegan3" in src


def _nv_g_to_ours(path, G: Stub):
    kw = _init_kwargs(G)
    size, z_dim, w_dim, c_dim = kw.get("img_resolution"), kw.get("z_dim"), kw.get("w_dim"), kw.get("c_dim", 0)
    syn, mapk = dict(kw.get("synthesis_kwargs") or {}), dict(kw.get("mapping_kwargs") or {})
    if c_dim:
        raise UncannyError(f"{path}: class-conditional generators (c_dim={c_dim}) are not supported")
    if z_dim != w_dim:
        raise UncannyError(f"{path}: z_dim {z_dim} != w_dim {w_dim}; our StyleGAN2 needs them equal")
    if syn.get("architecture", "skip") != "skip":
        raise UncannyError(f"{path}: generator architecture {syn['architecture']!r} is not supported (only 'skip')")
    if kw.get("img_channels", 3) != 3:
        raise UncannyError(f"{path}: {kw['img_channels']}-channel images are not supported")
    config = dict(size=int(size), style_dim=int(w_dim), n_mlp=int(mapk.get("num_layers", 8)), channel_multiplier=1,
                  channel_max=int(syn.get("channel_max", 512)), channel_base=int(syn.get("channel_base", 32768)))
    sd = _flat_state(G)
    out = {}
    for i in range(config["n_mlp"]):
        out[f"style.{i + 1}.weight"] = sd[f"mapping.fc{i}.weight"]
        out[f"style.{i + 1}.bias"] = sd[f"mapping.fc{i}.bias"]

    def layer(src, dst, noise_idx):
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"].unsqueeze(0)
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"]
        out[f"{dst}.noise.weight"] = sd[f"{src}.noise_strength"].reshape(1)
        out[f"{dst}.activate.bias"] = sd[f"{src}.bias"]
        nc = sd[f"{src}.noise_const"]
        out[f"noises.noise_{noise_idx}"] = nc.reshape(1, 1, *nc.shape[-2:])

    def torgb(src, dst):
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"].unsqueeze(0)
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"]
        out[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(1, -1, 1, 1)

    out["input.input"] = sd["synthesis.b4.const"].unsqueeze(0)
    layer("synthesis.b4.conv1", "conv1", 0)
    torgb("synthesis.b4.torgb", "to_rgb1")
    for i, res in enumerate(2 ** k for k in range(3, int(math.log2(size)) + 1)):
        layer(f"synthesis.b{res}.conv0", f"convs.{2 * i}", 2 * i + 1)
        layer(f"synthesis.b{res}.conv1", f"convs.{2 * i + 1}", 2 * i + 2)
        torgb(f"synthesis.b{res}.torgb", f"to_rgbs.{i}")
    w_avg = sd.get("mapping.w_avg")
    return config, out, (w_avg.reshape(1, -1) if w_avg is not None else None)


def _nv_d_to_ours(path, D: Stub, size: int):
    kw = _init_kwargs(D)
    if kw.get("c_dim", 0):
        raise UncannyError(f"{path}: conditional discriminators (c_dim={kw['c_dim']}) are not supported")
    if kw.get("architecture", "resnet") != "resnet":
        raise UncannyError(f"{path}: discriminator architecture {kw['architecture']!r} is not supported (only 'resnet')")
    epi = dict(kw.get("epilogue_kwargs") or {})
    if epi.get("mbstd_group_size", 4) != 4 or epi.get("mbstd_num_channels", 1) != 1:
        raise UncannyError(f"{path}: minibatch-stddev group {epi.get('mbstd_group_size')} / channels "
                           f"{epi.get('mbstd_num_channels')} differ from ours (4 / 1)")
    sd = _flat_state(D)
    out = {"convs.0.0.weight": sd[f"b{size}.fromrgb.weight"], "convs.0.1.bias": sd[f"b{size}.fromrgb.bias"]}
    for j, res in enumerate(2 ** k for k in range(int(math.log2(size)), 2, -1)):
        b = f"convs.{j + 1}"
        out[f"{b}.conv1.0.weight"] = sd[f"b{res}.conv0.weight"]
        out[f"{b}.conv1.1.bias"] = sd[f"b{res}.conv0.bias"]
        out[f"{b}.conv2.1.weight"] = sd[f"b{res}.conv1.weight"]
        out[f"{b}.conv2.2.bias"] = sd[f"b{res}.conv1.bias"]
        out[f"{b}.skip.1.weight"] = sd[f"b{res}.skip.weight"]
    out.update({"final_conv.0.weight": sd["b4.conv.weight"], "final_conv.1.bias": sd["b4.conv.bias"],
                "final_linear.0.weight": sd["b4.fc.weight"], "final_linear.0.bias": sd["b4.fc.bias"],
                "final_linear.1.weight": sd["b4.out.weight"], "final_linear.1.bias": sd["b4.out.bias"]})
    return out


def read_nvidia(path: str):
    obj = safe_pickle_load(path)
    if not isinstance(obj, dict) or not any(k in obj for k in ("G", "G_ema")):
        keys = ", ".join(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise UncannyError(f"{path}: not a stylegan2-ada-pytorch pickle (expected G / G_ema / D; found {keys})")
    for k in ("G_ema", "G", "D"):
        if k in obj and not isinstance(obj[k], Stub):
            raise UncannyError(f"{path}: {k} is not a pickled network")
        if k in obj and _is_stylegan3(obj[k]):
            raise UncannyError(f"{path}: this is a StyleGAN3 pickle; StyleGAN3 networks are not supported "
                               f"(StyleGAN2 / StyleGAN2-ADA pickles are)")
    try:
        config, w_avg, state = None, None, {}
        for src, dst in (("G", "g"), ("G_ema", "g_ema")):
            if src in obj:
                config, state[dst], w = _nv_g_to_ours(path, obj[src])
                w_avg = w if dst == "g_ema" or w_avg is None else w_avg
        if "D" in obj and obj["D"] is not None:
            state["d"] = _nv_d_to_ours(path, obj["D"], config["size"])
    except KeyError as e:
        raise UncannyError(f"{path}: network is missing tensor {e.args[0]}; not a StyleGAN2-ADA layout") from None
    except (TypeError, ValueError, AttributeError, RuntimeError) as e:
        raise UncannyError(f"{path}: network settings or tensors are not a StyleGAN2-ADA layout "
                           f"({e.__class__.__name__}: {str(e)[:80]})") from None
    ck = Checkpoint(path, "stylegan2", config, {"format": "nvidia-stylegan2-ada", "config": config,
                                               "provenance": {"converted_from": os.path.abspath(path)}})
    ck.state = _with_fixed_buffers(config, {k: {n: t.float() for n, t in v.items()} for k, v in state.items()})
    ck.w_avg = w_avg.float() if w_avg is not None else None
    return ck


# ----------------------------------------------------------------------------- dlib's face-recognition network


def read_dlib_face_net(path: str | os.PathLike) -> DlibFaceNet:
    """Read the weights from dlib's serialised network; ValueError if the file is not
    dlib_face_recognition_resnet_model_v1 (layer names, counts and shapes are checked)."""
    data = open(path, "rb").read()
    net = DlibFaceNet()
    m = re.search(rb"\x01\x15input_rgb_image_sized", data)
    if not data.startswith(b"\x01\x01\x01\x0dloss_metric") or m is None:
        raise ValueError("not a dlib metric-learning network (loss_metric / input_rgb_image_sized missing)")
    pos = m.end()
    means = []
    for _ in range(3):
        v, pos = _read_float(data, pos)
        means.append(v)
    net.mean.copy_(torch.tensor(means).view(1, 3, 1, 1))

    convs = [m.end() for m in re.finditer(rb"\x01\x05con_4", data)]
    affines = [m.end() for m in re.finditer(rb"\x01\x07affine_", data)]
    fcs = [m.end() for m in re.finditer(rb"\x01\x04fc_2", data)]
    conv_mods = [net.conv] + [c for b in net.blocks for c in (b.conv1, b.conv2)]
    bn_mods = [net.bn] + [a for b in net.blocks for a in (b.bn1, b.bn2)]
    if (len(convs), len(affines), len(fcs)) != (len(conv_mods), len(bn_mods), 1):
        raise ValueError(f"expected {len(conv_mods)} con_, {len(bn_mods)} affine_ and 1 fc_ layers, "
                         f"found {len(convs)}, {len(affines)}, {len(fcs)}")
    with torch.no_grad():
        for pos, conv in zip(convs, conv_mods):   # dlib writes the layers input side first
            params, pos = _read_tensor(data, pos)
            n_filters, _ = _read_int(data, pos)
            n_w = conv.weight.numel()
            if params.size != n_w + conv.bias.numel() or n_filters != conv.out_channels:
                raise ValueError(f"con_ layer at byte {pos}: {params.size} parameters, "
                                 f"expected {n_w + conv.bias.numel()}")
            conv.weight.copy_(torch.from_numpy(params[:n_w]).view_as(conv.weight))
            conv.bias.copy_(torch.from_numpy(params[n_w:]))
        for pos, bn in zip(affines, bn_mods):
            params, _ = _read_tensor(data, pos)
            if params.size != 2 * bn.gamma.numel():
                raise ValueError(f"affine_ layer at byte {pos}: {params.size} parameters, "
                                 f"expected {2 * bn.gamma.numel()}")
            bn.gamma.copy_(torch.from_numpy(params[:bn.gamma.numel()]))
            bn.beta.copy_(torch.from_numpy(params[bn.gamma.numel():]))
        pos = fcs[0]
        n_out, pos = _read_int(data, pos)
        n_in, pos = _read_int(data, pos)
        params, _ = _read_tensor(data, pos)
        if (n_out, n_in, params.size) != (128, 256, 128 * 256):
            raise ValueError(f"fc_ layer: {n_in} -> {n_out}, expected 256 -> 128")
        net.fc.weight.copy_(torch.from_numpy(params.reshape(256, 128).T.copy()))  # dlib: x @ W
    return net.eval().requires_grad_(False)


# dlib's serialisation: an integer is one byte (its length in the low 4 bits, bit 7 = negative)
# followed by that many little-endian bytes; a float is an integer mantissa and an integer
# exponent; a tensor is a version, four integer dimensions and raw little-endian float32s.

def _read_int(data: bytes, pos: int) -> tuple[int, int]:
    head = data[pos]
    n = head & 0x0F
    v = int.from_bytes(data[pos + 1:pos + 1 + n], "little")
    return (-v if head & 0x80 else v), pos + 1 + n


def _read_float(data: bytes, pos: int) -> tuple[float, int]:
    mantissa, pos = _read_int(data, pos)
    exponent, pos = _read_int(data, pos)
    return float(mantissa) * 2.0 ** exponent, pos


def _read_tensor(data: bytes, pos: int) -> tuple[np.ndarray, int]:
    version, pos = _read_int(data, pos)
    if version != 2:
        raise ValueError(f"tensor at byte {pos}: serialisation version {version}, expected 2")
    dims = []
    for _ in range(4):
        d, pos = _read_int(data, pos)
        dims.append(d)
    n = int(np.prod(dims))
    if pos + 4 * n > len(data):
        raise ValueError(f"tensor at byte {pos}: {n} floats run past the end of the file (truncated?)")
    return np.frombuffer(data, dtype="<f4", count=n, offset=pos).copy(), pos + 4 * n


# ----------------------------------------------------------------------------- dispatch


def _s2_kwargs(c: dict) -> dict:
    return dict(size=c["size"], style_dim=c["style_dim"], n_mlp=c["n_mlp"], channel_multiplier=c["channel_multiplier"],
                channel_max=c.get("channel_max"), channel_base=c.get("channel_base"))


FOREIGN_SUFFIXES = (".pt", ".pth", ".pkl", ".model")


def read_any(path: str, stage: int | None = None) -> Checkpoint:
    """Any checkpoint we can read: ours (.safetensors) or a foreign one (see the docstring)."""
    if os.path.isfile(path) and path.endswith(FOREIGN_SUFFIXES):
        return read_foreign(path, stage)
    return read_checkpoint(path, stage)


# Pickles are read in a child process with bounded memory and time: a "memo bomb" (a small file
# that expands into huge repeated structures) or a deeply nested one (which can overflow the C
# stack of the unpickler) ends that process, not this one, and gets one clear line.
READ_SECONDS = 120
READ_MEMORY = 8 << 30          # address space of the reading process, bytes


def _read_in_child(conn, path, stage):
    import resource
    try:
        resource.setrlimit(resource.RLIMIT_AS, (READ_MEMORY, READ_MEMORY))
    except (ValueError, OSError):
        pass
    try:
        conn.send_bytes(_pack(_read_foreign(path, stage)))   # plain bytes: nothing shared with the child
    except UncannyError as e:
        conn.send(("error", str(e)))
    except MemoryError:
        conn.send(("error", f"{path}: refusing to load: reading it needs more than {READ_MEMORY >> 30} GB"))
    except RecursionError:
        conn.send(("error", f"{path}: refusing to load: nested too deeply"))
    except Exception as e:  # noqa: BLE001 - anything a hostile file causes is one message
        conn.send(("error", f"{path}: not a readable checkpoint ({e.__class__.__name__}: {str(e)[:100]})"))
    finally:
        conn.close()


def _pack(ck: Checkpoint) -> bytes:
    """A Checkpoint as safetensors bytes (tensors) with its settings as JSON metadata."""
    import json

    from safetensors.torch import save
    tensors = {f"{net}.{k}": v.detach().clone().contiguous() for net, sd in ck.state.items() for k, v in sd.items()}
    if ck.w_avg is not None:
        tensors["w_avg"] = ck.w_avg.detach().clone().contiguous()
    meta = json.dumps({"path": ck.path, "arch": ck.arch, "config": ck.config, "header": ck.header}, default=str)
    return save(tensors, metadata={"checkpoint": meta})


def _unpack(data: bytes) -> Checkpoint:
    import json

    from safetensors.torch import load
    tensors = load(data)
    n = int.from_bytes(data[:8], "little")
    meta = json.loads(json.loads(data[8:8 + n])["__metadata__"]["checkpoint"])
    ck = Checkpoint(meta["path"], meta["arch"], meta["config"], meta["header"], w_avg=tensors.pop("w_avg", None))
    for key, t in tensors.items():
        net, _, k = key.partition(".")
        ck.state.setdefault(net, {})[k] = t
    return ck


def read_foreign(path: str, stage: int | None = None):
    """A rosinality .pt or NVIDIA .pkl as an uncanny Checkpoint (nothing executed), read in a child
    process with bounded memory and time."""
    import multiprocessing as mp
    if not os.path.isfile(path):
        raise UncannyError(f"{path}: no such checkpoint file")
    if os.path.getsize(path) > READ_MEMORY // 2:
        raise UncannyError(f"{path}: {os.path.getsize(path) >> 30} GB is more than a checkpoint this reader takes "
                           f"({READ_MEMORY >> 31} GB)")
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_read_in_child, args=(child, path, stage), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(READ_SECONDS):
            raise UncannyError(f"{path}: refusing to load: reading it took more than {READ_SECONDS} s "
                               f"(a pickle that expands without end?)")
        message = parent.recv_bytes()
    except EOFError:
        proc.join(5)
        raise UncannyError(f"{path}: refusing to load: the reader crashed on it (exit {proc.exitcode}; a "
                           f"deeply nested or malformed pickle?)") from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
    import pickle
    if message[:1] == b"\x80":                 # ("error", text), pickled by the child this code started
        _, text = pickle.loads(message)
        raise UncannyError(text)
    return _unpack(message)


def _read_foreign(path: str, stage: int | None = None):
    if not os.path.isfile(path):
        raise UncannyError(f"{path}: no such checkpoint file")
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):             # torch.save zip archive
        ck = read_rosinality(path, stage=stage)
    elif head[:1] == b"\x80":              # a bare pickle: NVIDIA (or an old torch.save)
        ck = read_nvidia(path)
    else:
        raise UncannyError(f"{path}: neither a PyTorch zip archive nor a pickle")
    if ck.arch == "stylegan1" and stage is not None:
        ck.config["stage"] = stage
    return ck


# ----------------------------------------------------------------------------- FOMM


def read_fomm(path: str):
    """The keypoint detector and generator of a First Order Motion Model checkpoint in the
    original layout (`vox-cpk.pth.tar`: {"kp_detector", "generator", ...} state dicts), read with
    torch's weights-only unpickler (no code from the file runs). The configuration is read off
    the tensors' shapes. Returns (KeypointDetector, Generator), in eval mode."""
    from .checkpoint import load_into
    from .nets.fomm import FommConfig, Generator, KeypointDetector
    obj = _torch_load(path)
    if not isinstance(obj, dict) or not all(isinstance(obj.get(k), dict) for k in ("kp_detector", "generator")):
        found = ", ".join(map(str, list(obj)[:6])) if isinstance(obj, dict) else type(obj).__name__
        raise UncannyError(f"{path}: not a First Order Motion Model checkpoint (needs kp_detector and generator; "
                           f"found {found})")
    kp, g = obj["kp_detector"], obj["generator"]
    try:
        cfg = FommConfig(
            num_kp=kp["kp.weight"].shape[0], num_channels=g["final.weight"].shape[0],
            estimate_jacobian="jacobian.weight" in kp,
            kp_block_expansion=kp["predictor.encoder.down_blocks.0.conv.weight"].shape[0] // 2,
            kp_num_blocks=len({k.split(".")[3] for k in kp if k.startswith("predictor.encoder.down_blocks.")}),
            kp_max_features=max(v.shape[0] for k, v in kp.items() if k.startswith("predictor.encoder.") and k.endswith("conv.weight")),
            kp_scale_factor=1 / _down_step(kp.get("down.weight")),
            block_expansion=g["first.conv.weight"].shape[0],
            num_down_blocks=len({k.split(".")[1] for k in g if k.startswith("down_blocks.")}),
            max_features=max(v.shape[0] for k, v in g.items() if k.startswith("down_blocks.") and k.endswith("conv.weight")),
            num_bottleneck_blocks=len({k.split(".")[1] for k in g if k.startswith("bottleneck.")}),
            estimate_occlusion_map="dense_motion_network.occlusion.weight" in g,
            dm_block_expansion=g["dense_motion_network.hourglass.encoder.down_blocks.0.conv.weight"].shape[0] // 2,
            dm_num_blocks=len({k.split(".")[4] for k in g if k.startswith("dense_motion_network.hourglass.encoder.down_blocks.")}),
            dm_max_features=max(v.shape[0] for k, v in g.items()
                                if k.startswith("dense_motion_network.hourglass.encoder.") and k.endswith("conv.weight")),
            dm_scale_factor=1 / _down_step(g.get("dense_motion_network.down.weight")))
        cfg.kp_temperature = float(obj.get("kp_temperature", cfg.kp_temperature))
    except (KeyError, IndexError, AttributeError, ValueError) as e:
        raise UncannyError(f"{path}: FOMM checkpoint without the expected tensors ({e})") from None
    nets = KeypointDetector(cfg), Generator(cfg)
    load_into(nets[0], kp, path, "kp_detector")
    load_into(nets[1], g, path, "generator")
    return nets[0].eval(), nets[1].eval()


def _down_step(kernel) -> int:
    """The subsampling step of an anti-aliasing kernel (its size is 2 round(4 sigma) + 1,
    sigma = (step - 1) / 2): 1 when there is none."""
    if kernel is None:
        return 1
    size = kernel.shape[-1]
    for step in range(2, 17):
        if 2 * round(4 * (step - 1) / 2) + 1 == size:
            return step
    raise ValueError(f"anti-aliasing kernel of size {size}")
