"""Latent animation (`uncanny animate --method latent`): the driving performance carried
through a GAN's W+ space.

Each driving face is aligned as the training data was and projected into W+ with `project`
(the first frame from the mean face with 4x the steps, every next frame warm-started from the
previous one, so the latent path is continuous). The path's displacement from the first frame,
W+_t - W+_0, is added to the source face's latent in the coarse and middle half of the W+
entries only (pose and expression; the fine layers keep the source's colour and texture), and
only its component in the span of the given directions (`--directions`, e.g. yaw, smile, mouth_open, eyes_open from
`uncanny edit find --method attribute`): without them every change of the projection moves the
source, identity and lighting included. The source is rendered with its own noise maps.

With `--run`, frame t is rendered through the foil snapshot at the same fraction of the run
(t / T of the way from iteration 0 to the last snapshot): one performance across the whole arc
from lifelike to uncanny. arc.png shows the most-moved frame through every snapshot.
"""

from __future__ import annotations

import dataclasses
import io
import os

import numpy as np
import torch
from PIL import Image

from . import faces
from .adapters import load_gan
from .errors import UncannyError
from .media import grid, label, save_png, to_uint8, upscale
from .project import ProjectConfig, project_one
from .runs import SNAPSHOT_DIR, list_snapshots
from .util import atomic_write_bytes


def motion_layers(num_ws: int) -> int:
    """How many W+ entries carry the motion: the coarse and middle half (pose and expression in
    StyleGAN's layer hierarchy, Karras et al. 2019 sec. 3.1); the fine half keeps the source's."""
    return max(1, num_ws // 2)


def span_projector(vectors: torch.Tensor) -> torch.Tensor:
    """(D, D) orthogonal projector onto the span of the rows of `vectors` (K, D)."""
    q, _ = torch.linalg.qr(vectors.T.double())            # (D, K) orthonormal columns
    return (q @ q.T).float()


class LatentDriver:
    """render(t) -> the source face moved by driving frame t, (size, size, 3) uint8. Frames are
    projected in order (each starts from the previous); finished ones are kept in the run
    folder (driving_w.npy) so --resume does not project them again."""

    def __init__(self, source, frames, landmarks, cfg, run):
        self.source, self.cfg, self.run = source, cfg, run
        self.gan = gan = source.gan
        self.targets = [faces.align_face(f, lm, gan.size) for f, lm in zip(frames, landmarks)]
        self.path = run.file("driving_w.npy")
        self.ws = list(np.load(self.path)) if cfg.resume and os.path.isfile(self.path) else []
        self.pcfg = ProjectConfig(images=[], steps=cfg.steps, every=cfg.steps, w_plus=True, id_weight=0.0, seed=0)
        self.w_spread = gan.w_spread()
        self.noise = [n.to(gan.device) for n in gan.make_noise()]
        self.proj = None
        if cfg.directions:
            from .edit import check_model, load_directions
            d = load_directions(cfg.directions)
            check_model(d, gan, cfg.directions)
            self.proj = span_projector(d.vectors).to(gan.device)
        self.gens = self._generators(len(frames))
        save_png(run.file("driving_aligned.png"), grid(np.stack(self.targets[:: max(1, len(frames) // 16)][:16]), 8))

    def _generators(self, n: int) -> list:
        """The generator of each frame: the model, or the foil snapshot at the frame's fraction of the run."""
        if not self.cfg.run:
            return [self.gan] * n
        snaps = list_snapshots(os.path.join(self.cfg.run, SNAPSHOT_DIR), "iter")
        if not snaps:
            raise UncannyError(f"{self.cfg.run}: not a foil run folder (no snapshots/iter-*.safetensors)")
        self.by_iter = {it: load_gan(path, device=self.gan.device) for it, path in sorted(snaps.items())}
        if self.by_iter[min(snaps)].fingerprint() != self.gan.fingerprint():
            raise UncannyError(f"{self.cfg.run}: this foil run did not start from {self.cfg.source}")
        iters = sorted(snaps)
        return [self.by_iter[iters[min(len(iters) - 1, t * len(iters) // n)]] for t in range(n)]

    def _project(self, t: int) -> torch.Tensor:
        from .latents import Latent
        while len(self.ws) <= t:
            k = len(self.ws)
            start = None
            if k > 0:
                start = Latent("w+", torch.from_numpy(self.ws[-1]).to(self.gan.device), [n.clone() for n in self.noise])
            cfg = dataclasses.replace(self.pcfg, steps=self.pcfg.steps * (4 if k == 0 else 1))
            lat, _ = project_one(self.gan, self.targets[k], cfg, start, self.w_spread, None,
                                 lambda *a: None, show_progress=False)
            self.ws.append(lat.value.detach().cpu().numpy())
            if k == 0:
                self.noise = [n.detach() for n in lat.noises]
            buf = io.BytesIO()
            np.save(buf, np.stack(self.ws))
            atomic_write_bytes(self.path, buf.getvalue())
        return torch.from_numpy(self.ws[t]).to(self.gan.device)

    def delta(self, t: int) -> torch.Tensor:
        d = self._project(t) - self._project(0)                  # (1, num_ws, D)
        d[:, motion_layers(self.gan.num_ws):] = 0                # fine layers: colour and texture stay the source's
        return d @ self.proj if self.proj is not None else d

    def __call__(self, t: int) -> np.ndarray:
        w = self.source.w + self.delta(t)
        with torch.no_grad():
            img = to_uint8(self.gens[t].synthesize("w+", w))[0]
        return np.asarray(Image.fromarray(img).resize((self.cfg.size, self.cfg.size), Image.BICUBIC))

    def arc(self, t: int) -> np.ndarray | None:
        """Frame t through every snapshot of the run, captioned (None without --run)."""
        if not self.cfg.run:
            return None
        w = self.source.w + self.delta(t)
        tiles = []
        for it, g in sorted(self.by_iter.items()):
            with torch.no_grad():
                tiles.append(label(upscale(to_uint8(g.synthesize("w+", w))[0], 2), f"iter {it}"))
        return grid(np.stack(tiles), len(tiles))
