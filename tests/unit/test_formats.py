"""Foreign formats: rosinality .pt and NVIDIA .pkl read safely, converted, refused clearly."""

import argparse
import os
import pickle

import pytest
import torch

from uncanny import adapters
from uncanny.adapters import load_gan
from uncanny.checkpoint import read_checkpoint, save_checkpoint
from uncanny.cli import main
from uncanny.errors import UncannyError
from uncanny.formats import Stub, _flat_state

ROSI = dict(size=8, style_dim=32, n_mlp=2, channel_multiplier=1)


@pytest.fixture(scope="module")
def rosinality_pt(tmp_path_factory):
    """A checkpoint as rosinality's train.py saves it, with its reference layout (512 channels)."""
    torch.manual_seed(0)
    G, D = adapters.build("stylegan2", ROSI)
    path = str(tmp_path_factory.mktemp("rosi") / "050000.pt")
    torch.save({"g": G.state_dict(), "d": D.state_dict(), "g_ema": G.state_dict(),
                "g_optim": {}, "d_optim": {}, "latent_avg": G.mean_latent(64)[0],
                "args": argparse.Namespace(size=8, latent=32, n_mlp=2, channel_multiplier=1, iter=50000)}, path)
    return path, G, D


def test_rosinality_checkpoint_loads_and_round_trips(rosinality_pt, tmp_path, capsys):
    path, G, D = rosinality_pt
    gan = load_gan(path, need_d=True)
    assert gan.config == ROSI
    z = torch.randn(3, 32)
    with torch.no_grad():
        assert torch.equal(gan.generate(z), G.eval()([z], randomize_noise=False)[0])
    ours = str(tmp_path / "ours.safetensors")
    assert main(["convert", path, ours]) == 0
    assert read_checkpoint(ours).header["provenance"]["converted_from"].endswith("050000.pt")
    back = str(tmp_path / "back.pt")
    assert main(["convert", ours, back]) == 0
    import argparse
    with torch.serialization.safe_globals([argparse.Namespace]):      # plain tensors + rosinality's args
        again = torch.load(back, weights_only=True, map_location="cpu")
    assert set(again) >= {"g", "g_ema", "d", "latent_avg"}
    for k, v in G.state_dict().items():
        assert torch.equal(again["g_ema"][k], v)
    assert vars(torch.load(back, weights_only=False)["args"])["size"] == 8
    ck = read_checkpoint(ours)                      # a D with another minibatch-stddev group has no rosinality form
    save_checkpoint(str(tmp_path / "g16.safetensors"), "stylegan2", dict(ck.config, mbstd_group=16), ck.state)
    capsys.readouterr()
    assert main(["convert", str(tmp_path / "g16.safetensors"), str(tmp_path / "g16.pt")]) == 2
    assert "minibatch-stddev group is 16" in capsys.readouterr().err and not (tmp_path / "g16.pt").exists()


def test_rosinality_without_d_samples_but_cannot_foil(rosinality_pt, tmp_path, capsys):
    path, G, _ = rosinality_pt
    g_only = str(tmp_path / "g_only.pt")
    torch.save({"g_ema": G.state_dict(), "latent_avg": torch.zeros(32)}, g_only)
    assert load_gan(g_only).D is None
    assert main(["foil", "--model", g_only, "--out", str(tmp_path / "run"), "--iters", "2"]) == 2
    assert "no discriminator, and foiling needs one" in capsys.readouterr().err


class Evil:
    """Unpickling runs `touch MARKER`, if a reader lets it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_runs_code_is_refused_and_nothing_runs(tmp_path, capsys):
    marker = str(tmp_path / "pwned")   # per test: tests running in parallel never share it
    bad = tmp_path / "network-snapshot.pkl"
    bad.write_bytes(pickle.dumps({"G": Evil(marker)}))
    with pytest.raises(UncannyError, match="refusing to load: the pickle asks for (posix|os).system"):
        load_gan(str(bad))
    assert not os.path.exists(marker)
    evil_pt = tmp_path / "evil.pt"
    torch.save({"g": Evil(marker)}, evil_pt)
    assert main(["sample", "--model", str(evil_pt), "--out", str(tmp_path / "x.png")]) == 2
    assert "refusing to load" in capsys.readouterr().err
    assert not os.path.exists(marker)


def _persistent_pickle(path, class_name, module_src, state):
    """Write a pickle shaped like NVIDIA's persistence format (without NVIDIA's code): protocol 2
    names globals as newline-terminated text, so the stand-in's name can be swapped safely."""
    data = pickle.dumps({"G": _Reduce(class_name, module_src, state)}, protocol=2)
    data = data.replace(b"uncanny_test_persist\n_fake_reconstruct\n",
                        b"torch_utils.persistence\n_reconstruct_persistent_obj\n")
    path.write_bytes(data)


class _Reduce:
    def __init__(self, class_name, module_src, state):
        self.meta = dict(type="class", version=4, module_src=module_src, class_name=class_name, state=state)

    def __reduce__(self):
        import sys
        import types
        mod = sys.modules.setdefault("uncanny_test_persist", types.ModuleType("uncanny_test_persist"))
        mod._fake_reconstruct = lambda meta: meta
        mod._fake_reconstruct.__module__ = "uncanny_test_persist"
        mod._fake_reconstruct.__qualname__ = "_fake_reconstruct"
        return (mod._fake_reconstruct, (self.meta,))


def test_stylegan3_pickle_is_recognised_and_refused(tmp_path):
    path = tmp_path / "stylegan3-r.pkl"
    _persistent_pickle(path, "Generator", "class SynthesisInput(torch.nn.Module): ...", {"_init_kwargs": {}})
    with pytest.raises(UncannyError, match="StyleGAN3 pickle"):
        load_gan(str(path))


def test_unknown_pickles_and_truncated_files(tmp_path, rosinality_pt):
    plain = tmp_path / "other.pkl"
    plain.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(UncannyError, match="not a stylegan2-ada-pytorch pickle"):
        load_gan(str(plain))
    data = open(rosinality_pt[0], "rb").read()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UncannyError, match="cut.pt: not a readable PyTorch file"):
        load_gan(str(cut))
    text = tmp_path / "notes.pkl"
    text.write_text("hello")
    with pytest.raises(UncannyError, match="neither a PyTorch zip archive nor a pickle"):
        load_gan(str(text))


def test_flat_state_reads_module_stubs():
    inner = Stub("Layer")
    inner.state = {"_parameters": {"weight": torch.ones(2)}, "_buffers": {"f": torch.zeros(1), "tmp": torch.zeros(1)},
                   "_non_persistent_buffers_set": {"tmp"}, "_modules": {}}
    outer = Stub("Net")
    outer.state = {"_parameters": {}, "_buffers": {}, "_modules": {"fc0": inner}}
    assert sorted(_flat_state(outer)) == ["fc0.f", "fc0.weight"]


@pytest.fixture(scope="module")
def stylegan1_model(tmp_path_factory):
    """A checkpoint as style-based-gan-pytorch's train.py writes it (fp16 to keep the file small)."""
    from uncanny.nets import stylegan1 as S1
    torch.manual_seed(0)
    G, D = S1.StyledGenerator(512, 8, stage=8), S1.Discriminator(from_rgb_activate=True, stage=8)
    half = {k: v.half() for k, v in G.state_dict().items()}
    path = str(tmp_path_factory.mktemp("sg1") / "stylegan-8px-new.model")
    torch.save({"generator": half, "g_running": half, "discriminator": {k: v.half() for k, v in D.state_dict().items()},
                "g_optimizer": {}, "d_optimizer": {}}, path)
    return path


def test_stylegan1_checkpoint_stage_from_name_and_option(stylegan1_model, tmp_path, capsys):
    gan = load_gan(stylegan1_model, need_d=True)
    assert gan.arch == "stylegan1" and gan.config["stage"] == 8
    with torch.no_grad():
        z = torch.randn(2, 512)
        img = gan.generate(z)
        assert img.shape == (2, 3, 8, 8) and torch.equal(img, gan.generate(z))   # fixed noise: a seed is one image
        assert not torch.equal(img[0], img[1])
        assert gan.D(img).shape == (2, 1)
    gan16 = load_gan(stylegan1_model, stage=16)
    assert gan16.generate(torch.randn(1, 512)).shape == (1, 3, 16, 16)
    renamed = tmp_path / "checkpoint.model"
    renamed.write_bytes(open(stylegan1_model, "rb").read())
    with pytest.raises(UncannyError, match="--stage"):
        load_gan(str(renamed))
    with pytest.raises(UncannyError, match="--stage 12"):
        load_gan(str(renamed), stage=12)
    out = str(tmp_path / "foil")
    assert main(["foil", "--model", str(renamed), "--stage", "8", "--out", out, "--iters", "3",
                 "--snapshots", "0,3", "--faces-every", "0", "--seeds", "0-3"]) == 0
    snap = read_checkpoint(f"{out}/snapshots/iter-000003.safetensors")
    assert snap.arch == "stylegan1" and snap.config["stage"] == 8
    assert main(["convert", str(renamed), str(tmp_path / "sg1.safetensors"), "--stage", "8"]) == 0
    assert set(read_checkpoint(str(tmp_path / "sg1.safetensors")).state) == {"g", "g_ema", "d"}
