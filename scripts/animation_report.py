"""Measure `uncanny animate` for docs/ANIMATION.md: the numbers, the strips, the commands.

    python scripts/animation_report.py [--out runs/animation-report] [--foil-run runs/demo]

1. Driving clips with a known motion (jaw opening, nod, turn), made from real CelebA photos by
   warping their landmarks along `motion.known_motion`; each drives other photos and generated
   faces. Per clip and source: the result's landmark error against the transferred motion (dlib
   on the result, as a fraction of the inter-ocular distance) beside a still image's, the
   mouth-opening correlation, dlib's identity distance to the source (plain and mirrored).
2. The Olivetti faces: each person's ten photos as a driving sequence, driving CelebA photos.
3. Frames per second of the warp on 2 cores, at 64 and 256 px.
4. Generated and foiled faces (with --foil-run RUN): the warp on a sample of the default model
   and on the same seed through the run's snapshot a third of the way through; the latent method
   through every snapshot (the README's run: `make demo`'s, runs/demo).
The generated sources are the default model's seeds 1 and 2, picked by eye for intact faces.
Writes docs/animation/*.png and prints the tables (Markdown) for docs/ANIMATION.md.
"""

import argparse
import os
import shutil
import time

import imageio.v2 as imageio
import numpy as np
import torch
from PIL import Image

from uncanny import motion
from uncanny.animate import AnimateConfig, animate, load_source
from uncanny.data import celeba_folder, olivetti_faces
from uncanny.faces import load_image
from uncanny.media import label, save_png, save_video
from uncanny.registry import DEFAULT

DRIVERS = ["000007.jpg", "000012.jpg", "000020.jpg"]
PHOTO_SOURCES = ["000002.jpg", "000005.jpg", "000031.jpg", "000044.jpg"]
GAN_SOURCES = [(DEFAULT, 1), (DEFAULT, 2)]
MOTIONS = {"jaw": 0.35, "nod": 0.4, "turn": 0.4}
OLIVETTI_PEOPLE = [0, 1, 2, 5, 9, 13]


def rows_of(summary_dir):
    import csv
    with open(os.path.join(summary_dir, "motion.csv")) as f:
        return list(csv.DictReader(f))


def col(rows, key):
    return np.array([float(r[key]) if r[key] not in ("", "nan") else np.nan for r in rows])


def strip(run_dir, driving_frames, picks, height=128):
    """source | driving frames | result frames, as two rows."""
    def fit(im):
        return np.asarray(Image.fromarray(im).resize((round(im.shape[1] * height / im.shape[0]), height), Image.BICUBIC))
    src = fit(np.asarray(Image.open(os.path.join(run_dir, "source.png")).convert("RGB")))
    res = [fit(np.asarray(Image.open(os.path.join(run_dir, "frames", f"{t:04d}.png")).convert("RGB"))) for t in picks]
    drv = [fit(driving_frames[t]) for t in picks]
    def column(top, bottom):
        w = max(top.shape[1], bottom.shape[1])
        pad = [np.pad(im, ((0, 0), (0, w - im.shape[1]), (0, 0)), constant_values=255) for im in (top, bottom)]
        return np.concatenate(pad, 0)
    cols = [column(label(np.full_like(src, 255), ""), label(src, "source"))]
    cols += [column(label(d, f"driving {t}"), label(r, f"result {t}")) for d, r, t in zip(drv, res, picks)]
    return np.concatenate(cols, 1)


def run_one(out, source, driving, seed=None, **kw):
    """One animation through the verb itself; a finished run of the same inputs is reused."""
    import json
    cfg = AnimateConfig(source=source, driving=driving, out=out, seed=seed, overwrite=True, **kw)
    done = os.path.join(out, "run.json")
    if os.path.isfile(done):
        rec = json.load(open(done))
        if rec.get("status") == "done" and all(rec["config"].get(k) == v for k, v in
                                               (("source", source), ("driving", driving), ("seed", seed), *kw.items())):
            return rec
    return animate(cfg, show_progress=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/animation-report")
    ap.add_argument("--docs", default="docs/animation")
    ap.add_argument("--foil-run", default=None)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.docs, exist_ok=True)
    celeba = celeba_folder()

    # 1. clips with a known motion
    clips, truth = {}, {}
    print("## Driving clips with a known motion\n")
    print("| clip | dlib on the driving frames vs the known motion (IOD) |\n|---|---|")
    for d in DRIVERS:
        img = load_image(os.path.join(celeba, d))
        lm = motion.detect_landmarks(img)
        for kind, amount in MOTIONS.items():
            frames, targets = motion.motion_clip(img, lm, kind, n=24, amount=amount)
            path = os.path.join(a.out, "clips", f"{kind}-{d[:-4]}.mp4")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            save_video(path, frames, 12)
            clips[(kind, d)], truth[(kind, d)] = path, targets
            found = [motion.detect_landmarks(f) for f in frames]
            err = np.mean([motion.landmark_error(f, t) for f, t in zip(found, targets) if f is not None])
            print(f"| {kind} from {d} | {err:.3f} |")

    sources = [(os.path.join(celeba, s), None, s[:-4]) for s in PHOTO_SOURCES] + \
              [(m, seed, f"{m}-seed{seed}") for m, seed in GAN_SOURCES]
    table = {}
    for kind in MOTIONS:
        for d in DRIVERS:
            for src, seed, name in sources:
                out = os.path.join(a.out, f"{kind}-{d[:-4]}-{name}")
                s = run_one(out, src, clips[(kind, d)], seed)
                rows = rows_of(out)
                table[(kind, d, name)] = dict(
                    err=s["landmark_error"], still=s["still_error"], identity=s["identity"],
                    identity_mirror=s["identity_mirror"], found=np.mean(col(rows, "result_face_found")),
                    mouth_t=col(rows, "target_mouth_open"), mouth_r=col(rows, "result_mouth_open"), spf=s["seconds_per_frame"])
    print("\n## Known motions: per motion, photos and generated sources (means over 3 drivers)\n")
    print("| motion | source | landmark error (IOD) | a still image's | mouth-opening r | identity | mirrored | result face found |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in MOTIONS:
        for group, names in (("photos", [n for _, sd, n in sources if sd is None]), (f"{DEFAULT} samples", [n for _, sd, n in sources if sd is not None])):
            ents = [table[(kind, d, n)] for d in DRIVERS for n in names]
            mt = np.concatenate([e["mouth_t"] for e in ents])
            mr = np.concatenate([e["mouth_r"] for e in ents])
            ok = np.isfinite(mt) & np.isfinite(mr)
            r = np.corrcoef(mt[ok], mr[ok])[0, 1] if kind == "jaw" else float("nan")
            print(f"| {kind} | {group} | {np.mean([e['err'] for e in ents]):.3f} | {np.mean([e['still'] for e in ents]):.3f} | "
                  f"{'' if np.isnan(r) else f'{r:.2f}'} | {np.mean([e['identity'] for e in ents]):.2f} | "
                  f"{np.mean([e['identity_mirror'] for e in ents]):.2f} | {np.mean([e['found'] for e in ents]):.2f} |")
    # strips for the README
    for kind in MOTIONS:
        d = DRIVERS[0]
        frames = [np.asarray(f) for f in imageio.get_reader(clips[(kind, d)], format="FFMPEG")]
        picks = [0, 6, 12, 18]
        rows = [strip(os.path.join(a.out, f"{kind}-{d[:-4]}-{n}"), frames, picks) for n in (sources[0][2], sources[2][2])]
        save_png(os.path.join(a.docs, f"known-{kind}.png"), np.concatenate(rows, 0))

    # 2. the Olivetti faces: ten photos of a person as a driving sequence
    print("\n## Olivetti faces as driving sequences (10 photos each)\n")
    print("| person | driving faces found | landmark error (IOD) | a still image's | identity | mirrored |")
    print("|---|---|---|---|---|---|")
    oli = olivetti_faces()
    errs, stills = [], []
    for p in OLIVETTI_PEOPLE:
        folder = os.path.join(a.out, "olivetti", f"person{p:02d}")
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for k, im in enumerate(oli[p]):
            Image.fromarray(np.repeat(im[..., None], 3, -1)).resize((128, 128), Image.BICUBIC).save(os.path.join(folder, f"{k}.png"))
        src = os.path.join(celeba, PHOTO_SOURCES[p % len(PHOTO_SOURCES)])
        out = os.path.join(a.out, f"olivetti-{p:02d}")
        s = run_one(out, src, folder, fps=2)
        errs.append(s["landmark_error"])
        stills.append(s["still_error"])
        print(f"| {p} | {s['driving_faces_found']}/10 | {s['landmark_error']:.3f} | {s['still_error']:.3f} | "
              f"{s['identity']:.2f} | {s['identity_mirror']:.2f} |")
        if p == OLIVETTI_PEOPLE[1]:
            frames = [np.asarray(Image.open(os.path.join(folder, f"{k}.png")).convert("RGB")) for k in range(10)]
            save_png(os.path.join(a.docs, "olivetti.png"), strip(out, frames, [0, 2, 4, 6, 8]))
    print(f"| mean | | {np.mean(errs):.3f} | {np.mean(stills):.3f} | | |")

    # 3. speed of the warp alone, 2 cores
    print("\n## Frames per second of the warp (2 cores)\n")
    print("| frame size | warp only (frames/s) | with the per-frame measurement |\n|---|---|---|")
    torch.set_num_threads(2)
    for size in (64, 256):
        src = load_source(AnimateConfig(source=DEFAULT, driving="x", seed=GAN_SOURCES[0][1], size=size, out="x"))
        targets = motion.known_motion(src.landmarks, "jaw", 0.35 * np.sin(np.linspace(0, np.pi, 24)))
        t0 = time.perf_counter()
        for t in targets:
            motion.warp_face(src.image, src.landmarks, t)
        warp = len(targets) / (time.perf_counter() - t0)
        spf = np.mean([table[(k, d, n)]["spf"] for k in MOTIONS for d in DRIVERS for n in (sources[-1][2],)])
        print(f"| {size} px | {warp:.1f} | {1 / spf:.1f} (256 px runs) |" if size == 256 else f"| {size} px | {warp:.1f} | |")

    # 4. generated and foiled faces: the warp on a sample and on a foiled snapshot's sample, and
    #    the latent method through every snapshot of a foil run
    if a.foil_run:
        clip = clips[("jaw", DRIVERS[0])]
        frames = [np.asarray(f) for f in imageio.get_reader(clip, format="FFMPEG")]
        snaps = sorted(int(f[5:11]) for f in os.listdir(os.path.join(a.foil_run, "snapshots")) if f.endswith(".safetensors"))
        early = snaps[len(snaps) // 3]   # a third of the way through: foiled, faces kept
        print("\n## Generated and foiled faces (jaw clip)\n")
        print("| source | method | results with a face | landmark error (IOD) | a still image's | identity | mirrored | s/frame |")
        print("|---|---|---|---|---|---|---|---|")
        rows = []
        model, seed = GAN_SOURCES[0]
        for src, name in ((model, f"{model} seed {seed}"), (f"{a.foil_run}/{early}", f"foil snapshot {early}, seed {seed}")):
            out = os.path.join(a.out, "gen-" + name.split()[0] + ("" if src == model else f"-{early}"))
            s = run_one(out, src, clip, seed=seed)
            rows.append(strip(out, frames, [0, 6, 12, 18]))
            print(f"| {name} | warp | {s.get('result_faces_found', '')}/{s['frames']} | {s['landmark_error']:.3f} | "
                  f"{s['still_error']:.3f} | {s['identity']:.2f} | {s['identity_mirror']:.2f} | {s['seconds_per_frame']:.2f} |")
        save_png(os.path.join(a.docs, "generated.png"), np.concatenate(rows, 0))
        out = os.path.join(a.out, "latent-arc")
        s = run_one(out, model, clip, seed=seed, method="latent", run=a.foil_run, max_frames=12)
        shutil.copy(os.path.join(out, "arc.png"), os.path.join(a.docs, "latent-arc.png"))
        print(f"| {model} seed {seed} through {a.foil_run} | latent | {s.get('result_faces_found', '')}/{s['frames']} | "
              f"{s['landmark_error']:.3f} | {s['still_error']:.3f} | {s['identity']:.2f} | {s['identity_mirror']:.2f} | "
              f"{s['seconds_per_frame']:.2f} |")


if __name__ == "__main__":
    main()
