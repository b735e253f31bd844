"""Our First Order Motion Model against the public reference code, on random weights.

    python scripts/fomm_parity.py --reference PATH/TO/first-order-model [--config config/vox-256.yaml]

The reference (github.com/AliaksandrSiarohin/first-order-model, not part of this project) is
imported from PATH: its KPDetector and OcclusionAwareGenerator are built from the config with
random weights (batch-norm statistics and affines randomised too, so they matter), saved in the
original checkpoint layout, and read back by `uncanny.formats.read_fomm`. Both then animate the
same random source and driving frames with demo.py's `relative=True, adapt_scale=True`
normalisation (the reference's own `normalize_kp`). Prints the largest differences.
"""

import argparse
import os
import sys
import tempfile
import time
import types

import numpy as np
import torch


def randomise(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if not t.dtype.is_floating_point or name.endswith("down.weight"):
                continue
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif name.endswith("running_mean"):
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
            elif name.endswith("jacobian.weight"):
                t.copy_(0.01 * torch.randn(t.shape, generator=g))
            elif name.endswith("jacobian.bias"):
                t.copy_(torch.tensor([1.0, 0, 0, 1]).repeat(t.numel() // 4) + 0.1 * torch.randn(t.shape, generator=g))
            elif t.ndim == 1 and name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.endswith("norm.weight"):
                t.copy_(1 + 0.1 * torch.randn(t.shape, generator=g))
            else:
                fan_in = max(1, t[0].numel()) if t.ndim > 1 else 1
                t.copy_(torch.randn(t.shape, generator=g) / np.sqrt(fan_in) * (1 if t.ndim > 1 else 0.1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True)
    ap.add_argument("--config", default="config/vox-256.yaml")
    ap.add_argument("--frames", type=int, default=4)
    a = ap.parse_args()
    torch.set_num_threads(2)
    sys.path.insert(0, a.reference)
    for stub in ("frames_dataset", "logger"):         # animate.py's dataset and logging imports (not needed)
        m = types.ModuleType(stub)
        m.PairedDataset = m.Logger = m.Visualizer = object
        sys.modules[stub] = m
    import yaml
    from animate import normalize_kp
    from modules.generator import OcclusionAwareGenerator
    from modules.keypoint_detector import KPDetector

    from uncanny.formats import read_fomm

    cfg = yaml.safe_load(open(os.path.join(a.reference, a.config)))["model_params"]
    ref_g = OcclusionAwareGenerator(**cfg["generator_params"], **cfg["common_params"]).eval()
    ref_k = KPDetector(**cfg["kp_detector_params"], **cfg["common_params"]).eval()
    randomise(ref_g, 1)
    randomise(ref_k, 2)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "random-cpk.pth.tar")
        torch.save({"generator": ref_g.state_dict(), "kp_detector": ref_k.state_dict(), "epoch": 0}, path)
        our_k, our_g = read_fomm(path)

    g = torch.Generator().manual_seed(0)
    size = cfg["kp_detector_params"].get("frame_shape", 256) if False else 256
    source = torch.rand(1, 3, size, size, generator=g)
    driving = [torch.rand(1, 3, size, size, generator=g) for _ in range(a.frames)]
    worst = {"kp value": 0.0, "kp jacobian": 0.0, "prediction": 0.0, "occlusion": 0.0}
    times = {"reference": 0.0, "ours": 0.0}
    with torch.no_grad():
        kps = {"reference": (ref_k(source), ref_k(driving[0])), "ours": (our_k(source), our_k(driving[0]))}
        for frame in driving:
            outs = {}
            for who, (kd, gen) in (("reference", (ref_k, ref_g)), ("ours", (our_k, our_g))):
                start = time.perf_counter()
                kp_s, kp_d0 = kps[who]
                kp_d = kd(frame)
                kp_n = normalize_kp(kp_source=kp_s, kp_driving=kp_d, kp_driving_initial=kp_d0, use_relative_movement=True,
                                    use_relative_jacobian=True, adapt_movement_scale=True)
                out = gen(source, kp_source=kp_s, kp_driving=kp_n)
                times[who] += time.perf_counter() - start
                outs[who] = (kp_d, out)
            (rk, ro), (ok, oo) = outs["reference"], outs["ours"]
            worst["kp value"] = max(worst["kp value"], (rk["value"] - ok["value"]).abs().max().item())
            worst["kp jacobian"] = max(worst["kp jacobian"], (rk["jacobian"] - ok["jacobian"]).abs().max().item())
            worst["prediction"] = max(worst["prediction"], (ro["prediction"] - oo["prediction"]).abs().max().item())
            worst["occlusion"] = max(worst["occlusion"], (ro["occlusion_map"] - oo["occlusion_map"]).abs().max().item())
    spread = torch.stack([outs["ours"][1]["prediction"]]).std().item()
    print(f"config {a.config}, {a.frames} driving frames at {size} px, random weights")
    for k, v in worst.items():
        print(f"  max |reference - ours| {k:<12} {v:.2e}")
    print(f"  (the prediction's own spread: std {spread:.3f})")
    print(f"  seconds per frame on {torch.get_num_threads()} threads: reference {times['reference'] / a.frames:.2f}, "
          f"ours {times['ours'] / a.frames:.2f}")
    ok = all(v < 1e-4 for v in worst.values())
    print("PASS: within 1e-4" if ok else "FAIL: differences over 1e-4")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
