"""Edit: directions in latent space (smile, age, pose ...) found three ways, and applied to
seeds, projected faces and the snapshots of a foil run.

    uncanny edit find --method sefa --out dirs/sefa                     # closed form, under a second
    uncanny edit find --method ganspace --out dirs/pca                  # PCA of sampled W
    uncanny edit find --method attribute --out dirs/attr                # labelled by judges.py
    uncanny edit apply --seeds 0-7 --directions dirs/attr --attribute smile --strengths=-3,3,7 --out runs/smile
    uncanny edit apply --latent runs/me/00-photo/latent.npz --directions dirs/sefa --index 0 --layers 0-3 --out e
    uncanny edit apply --seeds 0-3 --directions dirs/attr --attribute age --run runs/foil1 --out runs/age-foil

    from uncanny.edit import FindConfig, ApplyConfig, find, apply

Methods:
  sefa       closed-form factorisation (Shen & Zhou 2021): the style-modulation matrices A of the
             chosen layers, each output unit's weight vector normalised, stacked; directions are
             the eigenvectors of A^T A, largest eigenvalue first (what moves the styles most)
  ganspace   principal components of W over sampled latents (Harkonen et al. 2020)
  attribute  InterFaceGAN (Shen et al. 2020): sample latents, score their images with an
             independent judge (judges.py), fit a linear boundary in W between the top and the
             bottom `share` of the scores, report its accuracy on held-out samples; the
             direction is the boundary's unit normal, pointing to more of the attribute

Strengths are in standard deviations of W along the direction (each direction's `sigma`), so a
strength means the same for every method. An edit adds strength x sigma x direction to the W+
entries of the chosen layers (all by default). Conditional directions (`--condition age,gender`)
remove the named attributes' directions from the edit (Gram-Schmidt), so they move less.

Outputs of find (DIR): directions.safetensors (vectors (K, D), sigma (K,)), directions.json (the
model, its fingerprint, method, space, layers, per direction its name and eigenvalue or accuracy),
preview.png, and for attribute directions labels.npz (the judged samples).
Outputs of apply (OUT): strip.png (rows = seeds or snapshots, columns = strengths), sweep.mp4,
sweep.gif, sweep.csv (per image: source, snapshot, strength, every judge's score, dlib distance to
the unedited image, face found), frames/<source>/<NN>_<strength>.png.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .adapters import GAN, load_gan
from .errors import UncannyError
from .judges import SCORES, judge
from .latents import Latent, check_fits, load_latent
from .media import grid, label, save_png, save_video, to_uint8, upscale
from .options import in_unit_interval, int_list, non_negative, option, positive, seed_text, seeds, validate
from .runs import SNAPSHOT_DIR, RunFolder, list_snapshots
from .util import progress, resolve_device, seed_z

METHODS = ("sefa", "ganspace", "attribute")
FORMAT = "uncanny-directions"


# ----------------------------------------------------------------------------- options


def layer_range(text: str | None, num_ws: int) -> list[int]:
    """'0-5' -> [0, ..., 5]; 'all' or None -> every W+ entry; errors name the option."""
    if text in (None, "", "all"):
        return list(range(num_ws))
    try:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        out = []
        for p in parts:
            a, _, b = p.partition("-")
            out += list(range(int(a), int(b or a) + 1))
    except ValueError:
        raise UncannyError(f"--layers {text}: expected a range like 0-5 (or all)") from None
    if not out or min(out) < 0 or max(out) >= num_ws:
        raise UncannyError(f"--layers {text}: this generator has W+ entries 0-{num_ws - 1}")
    return sorted(set(out))


def strengths(text: str) -> np.ndarray:
    """'-3,3,7' -> 7 strengths from -3 to 3; a single number -> just that strength."""
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        raise UncannyError(f"--strengths {text}: expected FROM,TO,STEPS like -3,3,7") from None
    if len(vals) == 1 and math.isfinite(vals[0]):
        return np.array(vals)
    if len(vals) != 3 or not all(math.isfinite(v) for v in vals) or vals[2] < 2 or vals[2] != int(vals[2]) \
            or vals[2] > 200:
        raise UncannyError(f"--strengths {text}: expected FROM,TO,STEPS with 2 to 200 steps, like -3,3,7")
    return np.linspace(vals[0], vals[1], int(vals[2]))


def _attribute_list(text) -> tuple[str, ...]:
    names = tuple(a.strip() for a in (text.split(",") if isinstance(text, str) else text) if a.strip())
    for a in names:
        if a not in SCORES:
            raise UncannyError(f"--attribute {a}: unknown (known: {', '.join(SCORES)})")
    return names


@dataclass
class FindConfig:
    method: str = option("sefa", "sefa (closed form), ganspace (PCA of W) or attribute (InterFaceGAN)",
                         choices=METHODS)
    out: str = option("runs/directions", "folder for directions.safetensors, directions.json and preview.png")
    model: str | None = option(None, "checkpoint or embedded model (default: the default model)")
    attribute: str = option(",".join(SCORES), "attribute method: the attributes to find directions for")
    layers: str = option("all", "sefa: W+ entries whose style weights are factorised, e.g. 0-5")
    n_directions: int = option(10, "sefa, ganspace: directions to keep", check=positive)
    samples: int = option(10000, "ganspace, attribute: latents sampled", check=positive)
    share: float = option(0.1, "attribute: the top and the bottom share of the scores that train the boundary",
                          check=lambda v: None if 0 < v <= 0.5 else "must be in (0, 0.5]")
    seed: int = option(0, "first seed of the sampled latents", check=non_negative)
    device: str | None = option(None, "cpu, cuda, cuda:1 (default: cuda if available)")
    overwrite: bool = option(False, "replace directions found earlier in --out")


@dataclass
class ApplyConfig:
    directions: str = option(help="folder written by `uncanny edit find`", flag="--directions")
    seeds: tuple | None = option(None, "seeds to edit, e.g. 0-7", type=seeds, show=seed_text)
    latent: str | None = option(None, "a latent.npz written by `uncanny project` to edit instead of seeds")
    index: int | None = option(None, "the direction to apply, by number (0 = first)", check=lambda v: non_negative(v)
                               if v is not None else None)
    attribute: str | None = option(None, "the direction to apply, by attribute name")
    condition: str | None = option(None, "attribute directions to keep still (projected out), e.g. age,gender")
    strengths: str = option("-3,3,7", "FROM,TO,STEPS in standard deviations of W along the direction "
                            "(use --strengths=-3,3,7)")
    layers: str = option("all", "W+ entries the edit is applied to, e.g. 0-5")
    run: str | None = option(None, "a foil run: the same edit through every snapshot")
    snapshots: tuple | None = option(None, "with --run: only these snapshot iterations, e.g. 0,250,500",
                                     type=int_list)
    model: str | None = option(None, "the model to edit (default: the one the directions were found on)")
    truncation: float = option(1.0, "truncation psi of seeds", check=in_unit_interval)
    out: str = option("runs/edit", "run folder")
    fps: int = option(8, "frames per second of the sweep video", check=positive, cli=False)
    device: str | None = option(None, "cpu, cuda, cuda:1 (default: cuda if available)")
    overwrite: bool = option(False, "replace an earlier edit run in --out")


# ----------------------------------------------------------------------------- directions


@dataclass
class Directions:
    vectors: torch.Tensor          # (K, D), unit length
    sigma: torch.Tensor            # (K,): std of W along each direction
    names: list[str]
    values: list[float]            # eigenvalue (sefa, ganspace) or validation accuracy (attribute)
    method: str
    layers: list[int]              # sefa: the layers factorised; else every W+ entry
    model: str
    fingerprint: str
    arch: str
    config: dict

    def index_of(self, attribute: str) -> int:
        if attribute not in self.names:
            raise UncannyError(f"--attribute {attribute}: not among these directions ({', '.join(self.names)})")
        return self.names.index(attribute)


def save_directions(run: RunFolder, d: Directions) -> None:
    from safetensors.torch import save
    from .util import atomic_write_bytes
    atomic_write_bytes(run.file("directions.safetensors"),
                       save({"vectors": d.vectors.float().contiguous(), "sigma": d.sigma.float().contiguous()},
                            metadata={"format": FORMAT}))
    meta = {k: v for k, v in asdict(d).items() if k not in ("vectors", "sigma")}
    meta["directions"] = [{"index": i, "name": n, ("accuracy" if d.method == "attribute" else "eigenvalue"): v,
                           "sigma": float(s)} for i, (n, v, s) in enumerate(zip(d.names, d.values, d.sigma))]
    run.write_json("directions.json", {"format": FORMAT, "space": "W", **meta})


def load_directions(folder: str) -> Directions:
    """Directions written by `edit find`; UncannyError naming the file and the problem."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    path = os.path.join(folder, "directions.safetensors")
    meta_path = os.path.join(folder, "directions.json")
    if not (os.path.isfile(path) and os.path.isfile(meta_path)):
        raise UncannyError(f"{folder}: not a directions folder (needs directions.safetensors and directions.json "
                           f"from `uncanny edit find`)")
    try:
        t = load_file(path)
    except (SafetensorError, OSError, ValueError) as e:
        raise UncannyError(f"{path}: not a readable safetensors file ({str(e)[:100]})") from None
    meta = RunFolder(folder, "directions").read_json("directions.json")
    try:
        if meta.get("format") != FORMAT:
            raise KeyError("format")
        vectors, sigma = t["vectors"].float(), t["sigma"].float()
        names, values = [e["name"] for e in meta["directions"]], [e.get("accuracy", e.get("eigenvalue"))
                                                                   for e in meta["directions"]]
        d = Directions(vectors, sigma, names, values, meta["method"], list(meta["layers"]), meta["model"],
                       meta["fingerprint"], meta["arch"], meta["config"])
    except (KeyError, TypeError) as e:
        raise UncannyError(f"{meta_path}: not a directions record ({e} missing or wrong)") from None
    if vectors.ndim != 2 or len(names) != len(vectors) or sigma.shape != (len(vectors),) \
            or not torch.isfinite(vectors).all() or not torch.isfinite(sigma).all():
        raise UncannyError(f"{path}: {tuple(vectors.shape)} vectors do not match the {len(names)} directions "
                           f"listed, or are not finite")
    return d


def check_model(d: Directions, gan: GAN, what: str) -> None:
    """Refuse directions found on another generator."""
    if d.arch != gan.arch or d.vectors.shape[1] != gan.z_dim:
        raise UncannyError(f"{what}: directions were found on a {d.arch} with {d.vectors.shape[1]}-D W "
                           f"({d.model}), not this {gan.arch} with {gan.z_dim}-D W")
    if gan.fingerprint() != d.fingerprint:
        raise UncannyError(f"{what}: directions were found on another model ({d.model}); find directions "
                           f"for this one with `uncanny edit find --model ...`")


# ----------------------------------------------------------------------------- finding


def _sample_w(gan: GAN, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.randn(n, gan.z_dim, generator=torch.Generator().manual_seed(seed)).to(gan.device)
    with torch.no_grad():
        return z, torch.cat([gan.mapping(b) for b in z.split(1000)])


def _sigma(w: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    return (w @ vectors.t()).std(0)


def sefa(gan: GAN, layers: list[int], k: int) -> tuple[torch.Tensor, list[float]]:
    """Top-k eigenvectors (K, D) of A^T A over the style matrices of `layers`, with eigenvalues."""
    mats = [m for i, _, m in gan.style_weights() if i in layers]
    if not mats:
        raise UncannyError(f"{gan.path}: a {gan.arch} has no style-modulation weights to factorise")
    a = torch.cat(mats).double()
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)        # each output unit's weights, unit length
    vals, vecs = torch.linalg.eigh(a.t() @ a)                  # ascending
    order = torch.argsort(vals, descending=True)[:k]
    return vecs[:, order].t().float(), [float(v) for v in vals[order]]


def ganspace(w: torch.Tensor, k: int) -> tuple[torch.Tensor, list[float]]:
    """Top-k principal components (K, D) of sampled W, with the variance each explains."""
    x = (w - w.mean(0)).double()
    _, s, vt = torch.linalg.svd(x, full_matrices=False)
    var = s ** 2 / (len(x) - 1)
    return vt[:k].float(), [float(v) for v in var[:k]]


def fit_boundary(w: np.ndarray, scores: np.ndarray, share: float, seed: int = 0) -> tuple[np.ndarray, float, int]:
    """InterFaceGAN's boundary: label the top and bottom `share` of the (finite) scores 1 and 0,
    fit a logistic regression on 70% of them, return (unit normal towards 1, accuracy on the
    other 30%, samples used)."""
    ok = np.isfinite(scores)
    w, scores = w[ok], scores[ok]
    k = int(len(scores) * share)
    if k < 5:
        raise UncannyError(f"only {ok.sum()} samples with a face to judge: too few to fit a boundary "
                           f"(raise --samples)")
    order = np.argsort(scores)
    idx = np.concatenate([order[:k], order[-k:]])
    y = np.concatenate([np.zeros(k), np.ones(k)])
    perm = np.random.RandomState(seed).permutation(len(idx))
    n_train = int(0.7 * len(idx))
    tr, va = perm[:n_train], perm[n_train:]
    x = torch.from_numpy(w[idx]).double()
    mu, sd = x[tr].mean(0), x[tr].std(0).clamp_min(1e-8)
    xs = (x - mu) / sd
    yt = torch.from_numpy(y).double()
    coef = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([coef, bias], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logit = xs[tr] @ coef + bias
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, yt[tr]) + 1e-3 * coef.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        acc = float(((xs[va] @ coef + bias > 0).double() == yt[va]).double().mean())
        normal = coef / sd                                        # back to W's own coordinates
    normal = normal / normal.norm()
    return normal.float().numpy(), acc, len(idx)


def find(cfg: FindConfig, show_progress: bool = True) -> dict:
    """Find directions and write them to cfg.out; returns directions.json's content."""
    validate(cfg)
    run = RunFolder(cfg.out, "directions", sources=(cfg.model,))
    run.check(overwrite=cfg.overwrite)
    device = resolve_device(cfg.device)
    gan = load_gan(cfg.model, device=device)
    if "w" not in gan.latent_kinds:
        raise UncannyError(f"{gan.path}: editing needs a mapping network (StyleGAN2 or StyleGAN 1), not a {gan.arch}")
    layers = layer_range(cfg.layers, gan.num_ws) if cfg.method == "sefa" else list(range(gan.num_ws))
    labels = None
    if cfg.method == "sefa":
        vectors, values = sefa(gan, layers, cfg.n_directions)
        _, w = _sample_w(gan, 2000, cfg.seed)
        names = [f"sefa {i}" for i in range(len(vectors))]
    elif cfg.method == "ganspace":
        _, w = _sample_w(gan, cfg.samples, cfg.seed)
        vectors, values = ganspace(w, cfg.n_directions)
        names = [f"pc {i}" for i in range(len(vectors))]
    else:
        attrs = _attribute_list(cfg.attribute)
        z, w = _sample_w(gan, cfg.samples, cfg.seed)
        imgs = _images(gan, lambda b: gan.generate(b), z, show_progress, "sample")
        scores = judge(imgs, attrs, show_progress=show_progress)
        vecs, values, names = [], [], []
        for a in attrs:
            normal, acc, used = fit_boundary(w.cpu().numpy(), scores[a], cfg.share, cfg.seed)
            vecs.append(torch.from_numpy(normal))
            values.append(acc)
            names.append(a)
        vectors = torch.stack(vecs)
        labels = {"w": w.cpu().numpy(), **{a: scores[a] for a in attrs}, "face_found": scores["face_found"]}
    vectors = vectors.to(w.device)
    d = Directions(vectors.cpu(), _sigma(w, vectors).cpu(), names, values, cfg.method, layers,
                   gan.path, gan.fingerprint(), gan.arch, gan.config)
    run.open(overwrite=cfg.overwrite)
    save_directions(run, d)
    if labels is not None:
        np.savez_compressed(run.file("labels.npz"), **labels)
    _preview(gan, d, run.file("preview.png"))
    run.release()
    return run.read_json("directions.json")


def _images(gan, fn, latents, show_progress, desc) -> np.ndarray:
    out = []
    with torch.no_grad():
        for b in progress(latents.split(64), desc=desc, disable=not show_progress):
            out.append(to_uint8(fn(b)))
    return np.concatenate(out)


def _preview(gan: GAN, d: Directions, path: str, seed: int = 0, n: int = 8) -> None:
    """Rows = directions (up to n), columns = strengths -3..3 on one seed."""
    w = gan.mapping(seed_z([seed], gan.z_dim, gan.device))
    rows = []
    for k in range(min(n, len(d.vectors))):
        wp = edit_w_plus(w.unsqueeze(1).repeat(1, gan.num_ws, 1), d.vectors[k].to(w.device), d.sigma[k].item(),
                         np.linspace(-3, 3, 7), d.layers)
        with torch.no_grad():
            imgs = to_uint8(gan.synthesize("w+", wp))
        k_up = max(1, 96 // imgs.shape[1])
        value = f"acc {d.values[k]:.2f}" if d.method == "attribute" else f"{d.values[k]:.3g}"
        rows.append(label(grid(np.stack([upscale(i, k_up) for i in imgs]), ncol=len(imgs)),
                          f"{d.names[k]} ({value})   strength -3 ... +3"))
    save_png(path, np.concatenate(rows, axis=0))


# ----------------------------------------------------------------------------- applying


def edit_w_plus(w_plus: torch.Tensor, direction: torch.Tensor, sigma: float, strengths_: np.ndarray,
                layers: list[int]) -> torch.Tensor:
    """(1, L, D) W+ and one direction -> (len(strengths), L, D): strength x sigma x direction
    added to the W+ entries in `layers`."""
    s = torch.as_tensor(np.asarray(strengths_), dtype=w_plus.dtype, device=w_plus.device).view(-1, 1, 1)
    mask = torch.zeros(1, w_plus.shape[1], 1, dtype=w_plus.dtype, device=w_plus.device)
    mask[:, layers] = 1
    return w_plus + s * sigma * mask * direction.view(1, 1, -1)


def conditioned(d: Directions, k: int, condition: tuple[str, ...]) -> torch.Tensor:
    """Direction k with the directions of the `condition` attributes projected out."""
    v = d.vectors[k].double()
    basis = []
    for name in condition:
        c = d.vectors[d.index_of(name)].double()
        for b in basis:
            c = c - (c @ b) * b
        if c.norm() > 1e-6:
            basis.append(c / c.norm())
    for b in basis:
        v = v - (v @ b) * b
    if v.norm() < 1e-6:
        raise UncannyError(f"--condition {','.join(condition)}: nothing of the direction is left")
    return (v / v.norm()).float()


def _sources(cfg: ApplyConfig, gan: GAN) -> list[tuple[str, Latent]]:
    """(name, W+ latent with its noise) per row source, as this generator makes them."""
    if cfg.latent is not None:
        lat, _ = load_latent(cfg.latent)
        lat = lat.to(gan.device)
        check_fits(gan, lat)
        if lat.kind == "z":
            raise UncannyError(f"{cfg.latent}: a z latent (DCGAN) cannot be edited: no W space")
        value = lat.value if lat.kind == "w+" else lat.value.unsqueeze(1).repeat(1, gan.num_ws, 1)
        name = os.path.basename(os.path.dirname(os.path.abspath(cfg.latent))) or "latent"
        return [(name, Latent("w+", value, lat.noises))]
    out = []
    with torch.no_grad():
        for s in cfg.seeds:
            w = gan.mapping(seed_z([s], gan.z_dim, gan.device))
            if cfg.truncation < 1:
                w = gan.w_avg + cfg.truncation * (w - gan.w_avg)
            out.append((f"seed{s}", Latent("w+", w.unsqueeze(1).repeat(1, gan.num_ws, 1), [])))
    return out


CSV_COLUMNS = ["source", "snapshot", "strength", *SCORES, "identity_to_unedited", "face_found", "file"]


def apply(cfg: ApplyConfig, show_progress: bool = True) -> dict:
    """Apply one direction across strengths; returns a summary (also in OUT/run.json)."""
    validate(cfg)
    if (cfg.seeds is None) == (cfg.latent is None):
        raise UncannyError("give exactly one of --seeds or --latent")
    if (cfg.index is None) == (cfg.attribute is None):
        raise UncannyError("give exactly one of --index K or --attribute NAME")
    run = RunFolder(cfg.out, "edit", sources=(cfg.directions, cfg.latent, cfg.run, cfg.model))
    run.check(overwrite=cfg.overwrite)
    d = load_directions(cfg.directions)
    k = cfg.index if cfg.index is not None else d.index_of(cfg.attribute)
    if k >= len(d.vectors):
        raise UncannyError(f"--index {k}: {cfg.directions} holds directions 0-{len(d.vectors) - 1}")
    condition = _attribute_list(cfg.condition) if cfg.condition else ()
    direction = conditioned(d, k, condition) if condition else d.vectors[k]
    sweep = strengths(cfg.strengths)
    device = resolve_device(cfg.device)

    # generators: the model (or every snapshot of a foil run, whose iteration 0 is the model)
    if cfg.run is not None:
        snaps = list_snapshots(os.path.join(cfg.run, SNAPSHOT_DIR), "iter")
        if not snaps:
            raise UncannyError(f"{cfg.run}: not a foil run folder (no snapshots/iter-*.safetensors)")
        if cfg.snapshots:
            missing = [s for s in cfg.snapshots if s not in snaps]
            if missing:
                raise UncannyError(f"--snapshots {missing[0]}: {cfg.run} has snapshots {', '.join(map(str, snaps))}")
            snaps = {s: snaps[s] for s in sorted(set(cfg.snapshots) | {min(snaps)})}   # iteration 0 identifies the model
        gens = [(it, load_gan(p, which="g", device=device)) for it, p in snaps.items()]
        check_model(d, gens[0][1], f"{cfg.run} (snapshot {gens[0][0]})")
        if cfg.snapshots and gens[0][0] not in cfg.snapshots:
            gens = gens[1:]
    else:
        gan = load_gan(cfg.model or d.model, device=device)
        check_model(d, gan, cfg.model or d.model)
        gens = [(None, gan)]
    layers = layer_range(cfg.layers, gens[0][1].num_ws)
    run.open(overwrite=cfg.overwrite)

    rows, strip_rows, csv_rows, frames_by_strength = [], [], [], [[] for _ in sweep]
    for it, gan in progress(gens, desc="edit", disable=not show_progress or len(gens) == 1):
        dvec = direction.to(gan.device)
        for name, lat in _sources(cfg, gan):
            wp = edit_w_plus(lat.value, dvec, float(d.sigma[k]), np.concatenate([[0.0], sweep]), layers)
            noise = [n.expand(len(wp), -1, -1, -1) for n in lat.noises] or None
            with torch.no_grad():
                imgs = to_uint8(gan.synthesize("w+", wp, noise))
            base, edited = imgs[0], imgs[1:]
            row_name = name + (f" iter {it}" if it is not None else "")
            folder = os.path.join("frames", name, f"iter-{it:06d}") if it is not None else os.path.join("frames", name)
            os.makedirs(run.file(folder), exist_ok=True)
            for j, (s, im) in enumerate(zip(sweep, edited)):
                f = os.path.join(folder, f"{j:02d}_{s:+.2f}.png")
                save_png(run.file(f), im)
                csv_rows.append({"source": name, "snapshot": "" if it is None else it, "strength": f"{s:.4g}", "file": f})
                frames_by_strength[j].append(im)
            rows.append((row_name, base, edited))
            k_up = max(1, 96 // edited.shape[1])
            strip_rows.append(label(grid(np.stack([upscale(i, k_up) for i in edited]), ncol=len(edited)), row_name))

    # judges and identity drift, all images at once
    all_imgs = np.stack([im for _, _, e in rows for im in e])
    scores = judge(all_imgs, show_progress=show_progress)
    dist = _identity_to_unedited(rows)
    for i, r in enumerate(csv_rows):
        r.update({a: "" if not np.isfinite(scores[a][i]) else f"{scores[a][i]:.4g}" for a in SCORES})
        r.update(identity_to_unedited="" if not np.isfinite(dist[i]) else f"{dist[i]:.4g}",
                 face_found=int(scores["face_found"][i]))
    run.write_csv("sweep.csv", CSV_COLUMNS, csv_rows)

    header = label(np.full((1, strip_rows[0].shape[1], 3), 255, np.uint8),
                   f"{d.names[k]}{' | ' + ','.join(condition) if condition else ''}: strength "
                   f"{sweep[0]:+.2f} ... {sweep[-1]:+.2f} (x sigma {float(d.sigma[k]):.3g}), layers "
                   f"{layers[0]}-{layers[-1]}")
    save_png(run.file("strip.png"), np.concatenate([header] + strip_rows, axis=0))
    video = [grid(np.stack(f), ncol=min(len(f), 8)) for f in frames_by_strength]
    k_up = max(1, 256 // max(video[0].shape[:2]))
    video = [label(upscale(v, k_up), f"strength {s:+.2f}") for v, s in zip(video, sweep)]
    loop = video + video[::-1]
    save_video(run.file("sweep.mp4"), loop, cfg.fps)
    save_video(run.file("sweep.gif"), loop, cfg.fps)
    summary = {"config": {**asdict(cfg), "seeds": list(cfg.seeds) if cfg.seeds else None,
                          "snapshots": list(cfg.snapshots) if cfg.snapshots else None}, "direction": d.names[k],
               "index": k, "condition": list(condition), "method": d.method, "layers": layers,
               "strengths": [float(s) for s in sweep], "sigma": float(d.sigma[k]), "images": len(csv_rows),
               "files": {"strip": run.file("strip.png"), "mp4": run.file("sweep.mp4"), "gif": run.file("sweep.gif"),
                         "csv": run.file("sweep.csv")}}
    run.write_json("run.json", summary)
    run.release()
    return summary


def _identity_to_unedited(rows) -> np.ndarray:
    """dlib descriptor distance of every edited image to its row's unedited image (NaN: no face)."""
    from . import faces
    out = []
    for _, base, edited in rows:
        desc, keep = faces.descriptors_with_index(np.concatenate([base[None], edited]))
        d = np.full(len(edited), np.nan)
        if keep and keep[0] == 0:
            for j, i in enumerate(keep[1:], start=1):
                d[i - 1] = float(np.linalg.norm(desc[j] - desc[0]))
        out.append(d)
    return np.concatenate(out)
