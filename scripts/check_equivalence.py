"""Check by hand that our networks equal the reference implementations on the same weights.

Needs local checkouts of the reference repositories (not part of uncanny-lab, not downloaded):

    python scripts/check_equivalence.py \
        --rosinality-sg2 ~/src/stylegan2-pytorch \
        --rosinality-sg1 ~/src/style-based-gan-pytorch \
        --nvidia ~/src/stylegan2-ada-pytorch

rosinality's StyleGAN2 imports CUDA extensions at import time; this script gives it a stand-in
`op` package built from that repository's own pure-PyTorch fallbacks (upfirdn2d_native and the
CPU branch of fused_leaky_relu), read from the checkout at run time. NVIDIA's code falls back
to its reference ops on the CPU by itself. Results go to stdout; docs/EQUIVALENCE.md records them.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import pickle
import sys
import tempfile
import types

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny.adapters import load_gan  # noqa: E402
from uncanny.nets import stylegan1 as S1  # noqa: E402
from uncanny.nets import stylegan2 as S2  # noqa: E402

TOL = 1e-4


def _module_from(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def rosinality_sg2(repo):
    """rosinality stylegan2-pytorch with its native (non-CUDA) op paths."""
    src = open(os.path.join(repo, "op", "upfirdn2d.py")).read()
    native = src[src.index("def upfirdn2d_native"):]
    op = types.ModuleType("op")
    exec("import torch\nimport torch.nn.functional as F\n" + native, op.__dict__)

    def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
        return op.upfirdn2d_native(x, kernel, up, up, down, down, pad[0], pad[1], pad[0], pad[1])

    def fused_leaky_relu(x, bias=None, negative_slope=0.2, scale=2 ** 0.5):
        if bias is not None:
            x = x + bias.view(1, bias.shape[0], *([1] * (x.ndim - bias.ndim - 1)))
        return torch.nn.functional.leaky_relu(x, negative_slope=0.2) * scale

    class FusedLeakyReLU(torch.nn.Module):
        def __init__(self, channel, bias=True, negative_slope=0.2, scale=2 ** 0.5):
            super().__init__()
            self.bias = torch.nn.Parameter(torch.zeros(channel)) if bias else None

        def forward(self, x):
            return fused_leaky_relu(x, self.bias)

    op.upfirdn2d, op.fused_leaky_relu, op.FusedLeakyReLU = upfirdn2d, fused_leaky_relu, FusedLeakyReLU
    sys.modules["op"] = op
    sys.modules["op.conv2d_gradfix"] = _module_from(os.path.join(repo, "op", "conv2d_gradfix.py"), "op.conv2d_gradfix")
    op.conv2d_gradfix = sys.modules["op.conv2d_gradfix"]
    return _module_from(os.path.join(repo, "model.py"), "rosinality_sg2_model")


def check_sg2(repo):
    R = rosinality_sg2(repo)
    torch.manual_seed(0)
    rg, rd = R.Generator(64, 512, 8, channel_multiplier=1), R.Discriminator(64, channel_multiplier=1)
    g, d = S2.Generator(64, 512, 8, channel_multiplier=1), S2.Discriminator(64, channel_multiplier=1)
    with torch.no_grad():
        for n, p in rg.named_parameters():
            if n.endswith("noise.weight"):
                p.fill_(0.3)
    g.load_state_dict(rg.state_dict())
    d.load_state_dict(rd.state_dict())
    z, noise = torch.randn(4, 512), g.make_noise()
    with torch.no_grad():
        ref, _ = rg([z], noise=noise)
        out = {"G (batched)": (g([z], noise=noise)[0] - ref).abs().max().item()}
        S2.set_reference(g, True)
        out["G (grouped)"] = (g([z], noise=noise)[0] - ref).abs().max().item()
        out["D"] = (d(ref) - rd(ref)).abs().max().item()
        out["|G output| max"] = ref.abs().max().item()
    return out


def check_sg1(repo):
    R = _module_from(os.path.join(repo, "model.py"), "rosinality_sg1_model")
    torch.manual_seed(0)
    rg, rd = R.StyledGenerator(512, 8), R.Discriminator(from_rgb_activate=True)
    with torch.no_grad():
        for n, p in rg.named_parameters():
            if "noise" in n:
                p.normal_()
    g, d = S1.StyledGenerator(512, 8, stage=128), S1.Discriminator(from_rgb_activate=True, stage=128)
    g.load_state_dict(rg.state_dict())
    d.load_state_dict(rd.state_dict())
    z = torch.randn(2, 512)
    out = {}
    with torch.no_grad():
        for step, alpha in ((3, -1), (4, 0.5), (5, -1)):
            noise = [torch.randn(2, 1, 4 * 2 ** i, 4 * 2 ** i) for i in range(step + 1)]
            ref = rg(z, noise=noise, step=step, alpha=alpha)
            out[f"G step {step} alpha {alpha}"] = (g(z, noise=noise, step=step, alpha=alpha) - ref).abs().max().item()
            out[f"D step {step} alpha {alpha}"] = (d(ref, step=step, alpha=alpha) - rd(ref, step=step, alpha=alpha)).abs().max().item()
    return out


def check_nvidia(repo):
    sys.path.insert(0, repo)
    from training import networks as N  # noqa: E402
    torch.manual_seed(0)
    G = N.Generator(z_dim=64, c_dim=0, w_dim=64, img_resolution=32, img_channels=3, mapping_kwargs=dict(num_layers=3),
                    synthesis_kwargs=dict(channel_base=2048, channel_max=64, num_fp16_res=0, conv_clamp=None)).eval()
    D = N.Discriminator(c_dim=0, img_resolution=32, img_channels=3, channel_base=2048, channel_max=64,
                        num_fp16_res=0, conv_clamp=None).eval()
    with torch.no_grad():
        for n, p in G.named_parameters():
            if "noise_strength" in n:
                p.fill_(0.3)
            if "mapping" in n or "affine" in n:
                p.add_(torch.randn_like(p) * 0.1)
        for p in D.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        G.mapping.w_avg.copy_(torch.randn(64) * 0.1)
    path = os.path.join(tempfile.mkdtemp(), "network-snapshot.pkl")
    with open(path, "wb") as f:
        pickle.dump({"G": G, "D": D, "G_ema": copy.deepcopy(G)}, f)
    gan = load_gan(path, need_d=True)   # our restricted unpickler: NVIDIA's code is not imported by it
    z = torch.randn(4, 64)
    with torch.no_grad():
        ref = G(z, None, truncation_psi=1, noise_mode="const", force_fp32=True)
        ref7 = G(z, None, truncation_psi=0.7, noise_mode="const", force_fp32=True)
        return {"G": (gan.generate(z) - ref).abs().max().item(),
                "G psi 0.7": (gan.generate(z, 0.7) - ref7).abs().max().item(),
                "D": (gan.D(ref) - D(ref, None)).abs().max().item(), "|G output| max": ref.abs().max().item()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rosinality-sg2")
    ap.add_argument("--rosinality-sg1")
    ap.add_argument("--nvidia")
    a = ap.parse_args()
    ok = True
    for name, repo, fn in (("rosinality StyleGAN2 64px cm=1", a.rosinality_sg2, check_sg2),
                           ("rosinality StyleGAN 1 (stage 128)", a.rosinality_sg1, check_sg1),
                           ("NVIDIA stylegan2-ada 32px", a.nvidia, check_nvidia)):
        if not repo:
            continue
        for k, v in fn(repo).items():
            flag = "" if "max" in k else ("ok" if v <= TOL else "FAIL")
            ok &= flag != "FAIL"
            print(f"{name:<36} {k:<24} {v:.3g} {flag}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
