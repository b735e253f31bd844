"""The `uncanny` command: a thin layer over the Python API, one subcommand per verb. Each
subcommand's options are built from its verb's config dataclass (uncanny.options), so names,
defaults, help and checks are written once, in the verb.

Errors a user can cause print one line, `uncanny: error: ...`, and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .errors import UncannyError
from .options import add_options, from_args, given


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2), like every other error of the command."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _report_foil(r):
    if r.stopped_early:
        print(f"stopped early: {r.stopped_early}")
    if r.peak is None:   # interrupted: its outputs come when --resume finishes the run
        return
    print("stages: " + ", ".join(f"{k}: {v}" for k, v in sorted(r.stages.items())))
    print(f"peak uncanny: snapshot {r.peak}")
    for k in ("timeline", "curves", "mp4", "gif", "metrics"):
        print(f"{k:>9}: {r.files[k]}")
    for k, v in r.files.items():
        if k.startswith("population"):
            print(f"{'population':>9}: {v}")
    print(f"snapshots: {os.path.join(r.out, 'snapshots')}  grids: {os.path.join(r.out, 'grids')}")


# ----------------------------------------------------------------------------- verbs


def _add_foil(sub):
    from .foil import FoilConfig
    p = sub.add_parser("foil", help="fine-tune G against its frozen D with the objective inverted",
                       description="Fine-tune a pretrained generator so that its frozen discriminator calls "
                                   "its images fake; record snapshots, grids, a timeline strip, videos and curves.")
    add_options(p, FoilConfig, exclusive=(("resume", "overwrite"),))


def _run_foil(a):
    from .foil import FoilConfig, foil
    _report_foil(foil(from_args(FoilConfig, a)))


def _add_sample(sub):
    from .sample import SampleConfig
    p = sub.add_parser("sample", help="grid of samples from a checkpoint or foil snapshot (RUN/ITER)")
    add_options(p, SampleConfig)


def _run_sample(a):
    from .sample import SampleConfig, sample
    print(sample(from_args(SampleConfig, a)))


def _add_train(sub):
    from .train import TrainConfig
    p = sub.add_parser("train", help="train a StyleGAN2 on a prepared face dataset",
                       description="Recipe options left out take TrainConfig's defaults for a new run, "
                                   "and the run's own recorded values with --resume.")
    add_options(p, TrainConfig, defaults_none=True, exclusive=(("resume", "overwrite"),))


def _run_train(a):
    from .train import TrainConfig, train
    options = given(TrainConfig, a, skip=("data", "out", "resume"))
    path = train(TrainConfig.for_call(a.data, a.out, bool(a.resume), **options))
    print(f"last snapshot: {path}")


def _add_data(sub):
    from .data import PrepareConfig
    p = sub.add_parser("data", help="prepare datasets")
    dsub = p.add_subparsers(dest="data_cmd", required=True, parser_class=_Parser)
    q = dsub.add_parser("prepare", help="detect, align (FFHQ-style) and crop the faces in a folder of photos")
    add_options(q, PrepareConfig)


def _run_data(a):
    from .data import PrepareConfig, prepare
    cfg = from_args(PrepareConfig, a)
    print(prepare(cfg.src, cfg.dst, cfg.res, cfg.min_face, cfg.overwrite).summary())


def _add_measure(sub):
    from .measure import MeasureConfig
    p = sub.add_parser("measure", help="face-detection rate, descriptor Frechet distance, diversity")
    add_options(p, MeasureConfig, exclusive=(("model", "folder"),))


def _run_measure(a):
    from .measure import MeasureConfig, measure
    cfg = from_args(MeasureConfig, a)
    r = measure(cfg)

    def lines(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from lines(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}: {v:.4g}" if isinstance(v, float) else f"{prefix}{k}: {v}"
    print(json.dumps(r, indent=1) if cfg.json else "\n".join(lines(r)))


def _add_models(sub):
    sub.add_parser("models", help="list the embedded models")


def _run_models(a):
    from .registry import DEFAULT, describe, embedded
    models = embedded()
    if not models:
        print("no embedded models in this installation")
    for name, path in models.items():
        d = describe(name)
        t = d.get("training", {})
        nets = ",".join(d.get("nets", []))
        kimg = f"{t['kimg']:.1f}" if isinstance(t.get("kimg"), (int, float)) else "?"
        print(f"{name:<22} {d.get('arch', '?')} {d.get('config', {}).get('size', '?')}px  nets={nets}  "
              f"kimg={kimg}  {os.path.getsize(path) / 1e6:.1f} MB{'  (default)' if name == DEFAULT else ''}")


def _add_convert(sub):
    from .convert import ConvertConfig
    p = sub.add_parser("convert", help="rosinality .pt / NVIDIA .pkl -> ours, ours -> rosinality .pt")
    add_options(p, ConvertConfig)


def _run_convert(a):
    from .convert import convert
    r = convert(a.src, a.dst, a.stage)
    print(f"{r['arch']} {r['config'].get('size')} px, networks {', '.join(r['nets'])} -> {r['out']}")
    if "d" not in r["nets"]:
        print("note: the source has no discriminator; the result can be sampled but not foiled")


def _add_project(sub):
    from .project import ProjectConfig
    p = sub.add_parser("project", help="project real faces into the GAN's latent space and film the search")
    add_options(p, ProjectConfig, exclusive=(("resume", "overwrite"),))


def _run_project(a):
    from .project import ProjectConfig, project
    s = project(from_args(ProjectConfig, a))
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
    from .render import RenderConfig
    p = sub.add_parser("render", help="render a projected latent through foiled generator snapshots")
    add_options(p, RenderConfig, exclusive=(("snapshot", "run"),))


def _run_render(a):
    from .render import RenderConfig, render
    r = render(from_args(RenderConfig, a))
    print("\n".join(f"{k}: {v}" for k, v in r.items()))


def _add_edit(sub):
    from .edit import ApplyConfig, FindConfig
    p = sub.add_parser("edit", help="latent directions (SeFa, GANSpace, attributes) and edits along them")
    esub = p.add_subparsers(dest="edit_cmd", required=True, parser_class=_Parser)
    add_options(esub.add_parser("find", help="find directions: --method sefa | ganspace | attribute"), FindConfig)
    add_options(esub.add_parser("apply", help="apply one direction to seeds, a projected latent or a foil run"),
                ApplyConfig, exclusive=(("seeds", "latent"), ("index", "attribute")))


def _run_edit(a):
    from .edit import ApplyConfig, FindConfig, apply, find
    if a.edit_cmd == "find":
        r = find(from_args(FindConfig, a))
        for e in r["directions"]:
            value = f"accuracy {e['accuracy']:.3f}" if "accuracy" in e else f"eigenvalue {e['eigenvalue']:.4g}"
            print(f"{e['index']:>3} {e['name']:<12} {value}  sigma {e['sigma']:.3g}")
        print(f"directions: {os.path.join(a.out, 'directions.safetensors')}  preview: {os.path.join(a.out, 'preview.png')}")
    else:
        r = apply(from_args(ApplyConfig, a))
        print(f"{r['direction']} ({r['method']}), {r['images']} images")
        for k, v in r["files"].items():
            print(f"{k:>6}: {v}")


def _add_detect(sub):
    from .detect import DetectConfig
    p = sub.add_parser("detect", help="real/fake scores of face images, with where the detector looks")
    add_options(p, DetectConfig)


def _run_detect(a):
    from .detect import DetectConfig, detect
    cfg = from_args(DetectConfig, a)
    for r in detect(cfg):
        flag = "" if r["face_found"] else "  (no face found: scored whole)"
        print(f"{r['fake_score']}  {r['verdict']:<4}  {r['path']}{flag}")
    print(f"scores: {os.path.join(cfg.out, 'scores.csv')}  maps: {os.path.join(cfg.out, 'maps')}")


def _add_detector(sub):
    from .detector_train import DetectorTrainConfig
    p = sub.add_parser("detector", help="train a real/fake detector")
    dsub = p.add_subparsers(dest="detector_cmd", required=True, parser_class=_Parser)
    add_options(dsub.add_parser("train", help="train a CNN from scratch on real photos against many generators"),
                DetectorTrainConfig)


def _run_detector(a):
    from .detector_train import DetectorTrainConfig, train_detector
    cfg = from_args(DetectorTrainConfig, a)
    meta = train_detector(cfg)
    for g, m in meta["test"].items():
        extra = f"  AP {m['ap']:.3f}" if "ap" in m else ""
        print(f"{g:<10} held-out accuracy {m['accuracy']:.3f}{extra}  (n={m['n']})")
    print(f"detector: {os.path.join(cfg.out, 'detector.safetensors')}")


def _add_attack(sub):
    from .attack import AttackConfig
    p = sub.add_parser("attack", help="adversarial perturbations that flip a detector's verdict")
    add_options(p, AttackConfig)


def _run_attack(a):
    from .attack import AttackConfig, attack
    cfg = from_args(AttackConfig, a)
    rows = attack(cfg)
    for r in rows:
        print(f"{r['score_before']} -> {r['score_after']} ({'flipped' if r['flipped'] else 'held'}; after JPEG 90 "
              f"{r['score_after_jpeg90']}; {r['transfer_detector']} {r['transfer_before']} -> {r['transfer_after']})  "
              f"L-inf {r['linf_255']}/255, PSNR {r['psnr_db']} dB  {r['path']}")
    print(f"flipped {sum(int(r['flipped']) for r in rows)} of {len(rows)}; {os.path.join(cfg.out, 'attack.csv')}")


def _add_studio(sub):
    from .studio import StudioConfig
    p = sub.add_parser("studio", help="a local web app to browse runs (more to come: jobs, the uncanny-valley study)")
    add_options(p, StudioConfig)


def _run_studio(a):
    from .options import validate
    from .studio import StudioConfig, serve      # the CLI is the one place that starts the studio
    cfg = from_args(StudioConfig, a)
    validate(cfg)
    if not os.path.isdir(cfg.runs_dir):
        raise UncannyError(f"{cfg.runs_dir}: no such folder of runs")
    serve(cfg.runs_dir, cfg.host, cfg.port, cfg.token)


def _add_animate(sub):
    from .animate import AnimateConfig
    p = sub.add_parser("animate", help="drive a still face (photo, sample, foiled face) with the motion of a video")
    add_options(p, AnimateConfig)


def _run_animate(a):
    from .animate import AnimateConfig, animate
    r = animate(from_args(AnimateConfig, a))
    print(f"{r['frames']} frames: a face found in {r['driving_faces_found']} driving frames and in "
          f"{r['result_faces_found']} results; where found, landmark error {r['landmark_error']:.3f} IOD (a still "
          f"image: {r['still_error']:.3f}), identity to the source {r['identity']:.2f} (mirrored "
          f"{r['identity_mirror']:.2f})")
    for k, v in r["files"].items():
        print(f"{k:>12}: {v}")


def _add_demo(sub):
    from .demo import DemoConfig
    p = sub.add_parser("demo", help="a short foil run on the embedded default model (a few minutes on a CPU)")
    add_options(p, DemoConfig)


def _run_demo(a):
    from .demo import DemoConfig, demo
    cfg = from_args(DemoConfig, a)
    _report_foil(demo(cfg.out, cfg.device))


COMMANDS = {"foil": (_add_foil, _run_foil), "sample": (_add_sample, _run_sample),
            "train": (_add_train, _run_train), "data": (_add_data, _run_data),
            "measure": (_add_measure, _run_measure), "models": (_add_models, _run_models),
            "convert": (_add_convert, _run_convert), "project": (_add_project, _run_project),
            "render": (_add_render, _run_render), "edit": (_add_edit, _run_edit),
            "detect": (_add_detect, _run_detect), "detector": (_add_detector, _run_detector),
            "attack": (_add_attack, _run_attack), "animate": (_add_animate, _run_animate), "studio": (_add_studio, _run_studio),
            "demo": (_add_demo, _run_demo)}


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="uncanny", description="uncanny-lab: explore what generative models see as fake")
    p.add_argument("--version", action="version", version=f"uncanny-lab {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    for add, _ in COMMANDS.values():
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .util import retain_freed_memory
    retain_freed_memory()  # reuse freed activations instead of faulting in fresh pages each step
    from .runs import abort_open
    try:
        COMMANDS[args.cmd][1](args)
    except UncannyError as e:
        abort_open()          # a run that was replacing an old one puts the old one back
        print("uncanny: error: " + " ".join(str(e).split()), file=sys.stderr)   # always one line
        return 2
    except OSError as e:      # disk full, permissions, a folder vanished: one line, the run resumable
        abort_open()
        where = f"{e.filename}: " if e.filename else ""
        print(f"uncanny: error: {where}{e.strerror or e} (nothing half-written was kept; free space or fix "
              f"the path, then run again or --resume)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        abort_open()
        print("uncanny: interrupted (runs can be continued with --resume)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
