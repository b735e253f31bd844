"""Hostile files: whatever the bytes, one line naming the file, exit 2, nothing executed, no
crash or hang of the command, and convert refuses what sample refuses."""

import json
import os
import pickle

import torch
from safetensors.torch import save

from uncanny import formats
from uncanny.checkpoint import read_checkpoint
from uncanny.cli import main

from ..conftest import TINY_SG2


def _ours(path, header, tensors=None):
    tensors = tensors if tensors is not None else {"g.x": torch.zeros(1)}
    open(path, "wb").write(save(tensors, metadata={"uncanny": header if isinstance(header, str) else json.dumps(header)}))
    return str(path)


def _both_refuse(path, needle, capsys, tmp_path):
    """sample and convert both: exit 2, one line naming the file and `needle`."""
    for argv in (["sample", "--model", path, "--out", str(tmp_path / "s.png")],
                 ["convert", path, str(tmp_path / "c.safetensors")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and os.path.basename(path) in lines[0] and needle in lines[0], err
    assert not os.path.exists(tmp_path / "c.safetensors") and not os.path.exists(tmp_path / "s.png")


def test_bad_safetensors_configs(tiny_ckpt, tmp_path, capsys):
    ck = read_checkpoint(tiny_ckpt)
    good = {"format": "uncanny", "version": 1, "arch": "stylegan2", "config": TINY_SG2, "nets": ["g"]}
    tensors = {f"g.{k}": v for k, v in ck.state["g"].items()}
    cases = [
        ("list.safetensors", "[1, 2]", "a JSON list"),
        ("string.safetensors", json.dumps("hello"), "a JSON str"),
        ("config-str.safetensors", dict(good, config="big"), "needs \"arch\""),
        ("unknown-arch.safetensors", dict(good, arch="vqgan"), "unknown architecture 'vqgan'"),
        ("size3.safetensors", dict(good, config=dict(TINY_SG2, size=3)), "bad architecture config"),
        ("size-neg.safetensors", dict(good, config=dict(TINY_SG2, size=-16)), "bad architecture config"),
        ("wrong-size.safetensors", dict(good, config=dict(TINY_SG2, size=32)), "weights do not fit"),
        ("style-str.safetensors", dict(good, config=dict(TINY_SG2, style_dim="32")), "bad architecture config"),
    ]
    for name, header, needle in cases:
        _both_refuse(_ours(tmp_path / name, header, tensors), needle, capsys, tmp_path)
    nan = dict(tensors)
    nan["g.style.1.weight"] = torch.full_like(nan["g.style.1.weight"], float("nan"))
    _both_refuse(_ours(tmp_path / "nan.safetensors", good, nan), "g.style.1.weight holds NaN", capsys, tmp_path)
    wrong = dict(tensors)
    wrong["g.style.1.weight"] = torch.zeros(3, 3)
    _both_refuse(_ours(tmp_path / "shape.safetensors", good, wrong), "wrong shape", capsys, tmp_path)


def test_rosinality_file_missing_a_generator_key(tmp_path, capsys):
    from uncanny import adapters
    G, D = adapters.build("stylegan2", dict(size=8, style_dim=32, n_mlp=2, channel_multiplier=1))
    sd = G.state_dict()
    del sd["conv1.conv.weight"]
    path = str(tmp_path / "cut.pt")
    torch.save({"g_ema": sd, "d": D.state_dict()}, path)
    _both_refuse(path, "missing tensor", capsys, tmp_path)


def test_hostile_pickles_are_read_in_a_bounded_child(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(formats, "READ_SECONDS", 15)
    # a "billion laughs": 60 levels of [x, x] are a few hundred bytes, 2^60 elements to walk
    x = []
    for _ in range(60):
        x = [x, x]
    bomb = tmp_path / "bomb.pkl"
    bomb.write_bytes(pickle.dumps({"G": x, "G_ema": x, "D": x}, protocol=2))
    # a million nested lists, built by the unpickler without recursion
    deep = tmp_path / "deep.pkl"
    depth = 1_000_000
    deep.write_bytes(b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b".")
    # an NVIDIA-like pickle whose generator is not a network: {"G": None}
    empty = tmp_path / "network-snapshot.pkl"
    empty.write_bytes(b"\x80\x02}q\x00X\x01\x00\x00\x00Gq\x01Ns.")
    for path in (bomb, deep, empty):
        for argv in (["sample", "--model", str(path), "--out", str(tmp_path / "s.png")],
                     ["convert", str(path), str(tmp_path / "c.safetensors")]):
            assert main(argv) == 2, (path, argv)
            err = capsys.readouterr().err
            assert len(err.strip().splitlines()) == 1 and str(path) in err, err


def test_convert_writes_nothing_sample_would_refuse(tiny_ckpt, tmp_path):
    out = str(tmp_path / "ok.safetensors")
    assert main(["convert", tiny_ckpt, out]) == 0 and os.path.isfile(out)     # a good file still converts
    assert main(["sample", "--model", out, "--out", str(tmp_path / "s.png")]) == 0


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats() | st.text(max_size=6),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                           max_leaves=8)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(arch=st.sampled_from(["stylegan2", "stylegan1", "dcgan", "x", ""]),
       config=st.dictionaries(st.sampled_from(["size", "style_dim", "n_mlp", "channel_multiplier", "channel_max",
                                               "channel_base", "lr_mlp", "code_dim", "stage", "fused", "nz", "ngf",
                                               "ndf", "nc", "junk"]), json_values, max_size=6),
       header=st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_any_header_and_config_is_loaded_or_refused_by_name(tmp_path_factory, arch, config, header):
    """Property: a safetensors checkpoint with any header and any config either loads or is
    refused with an UncannyError naming the file: never another exception."""
    from uncanny.adapters import load_gan
    from uncanny.errors import UncannyError
    path = str(tmp_path_factory.mktemp("h") / "m.safetensors")
    meta = {"format": "uncanny", "version": 1, "arch": arch, "config": config, **header}
    open(path, "wb").write(save({"g.w": torch.zeros(2)}, metadata={"uncanny": json.dumps(meta)}))
    try:
        load_gan(path)
    except UncannyError as e:
        assert path in str(e)
