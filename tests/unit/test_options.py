"""Config dataclasses are the single source of the CLI: every option's default, help and check
comes from the verb's config, and bad values are refused with the option's name."""

import argparse
import dataclasses

import pytest

from uncanny import options
from uncanny.cli import build_parser, main
from uncanny.errors import UncannyError
from uncanny.foil import FoilConfig
from uncanny.project import ProjectConfig
from uncanny.train import TrainConfig


def _parser_of(cmd):
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[cmd]


@pytest.mark.parametrize("cmd,cls", [("foil", FoilConfig), ("project", ProjectConfig)])
def test_cli_defaults_are_the_configs_defaults(cmd, cls):
    """Parsing a bare command line gives exactly the dataclass defaults: nothing is typed twice."""
    required = {"project": ["face.jpg"]}.get(cmd, [])
    args = _parser_of(cmd).parse_args(required)
    cfg = options.from_args(cls, args)
    for f in options.cli_fields(cls):
        if f.name != "images":
            assert getattr(cfg, f.name) == getattr(cls(images=["x"]) if cls is ProjectConfig else cls(), f.name), f.name


def test_every_config_field_has_help_or_is_python_only():
    for cls in (FoilConfig, ProjectConfig, TrainConfig):
        for f in dataclasses.fields(cls):
            assert "cli" in f.metadata, f"{cls.__name__}.{f.name} is not declared with option()"


def test_train_options_left_out_parse_as_none_so_resume_keeps_the_recipe():
    args = _parser_of("train").parse_args(["data", "--out", "o"])
    assert options.given(TrainConfig, args, skip=("data", "out", "resume")) == {}
    args = _parser_of("train").parse_args(["data", "--out", "o", "--noise", "on", "--r1-gamma", "0.3"])
    assert options.given(TrainConfig, args, skip=("data", "out", "resume")) == {"noise": True, "r1_gamma": 0.3}


@pytest.mark.parametrize("argv,needle", [
    (["foil", "--iters", "0"], "--iters 0: must be a positive number"),
    (["foil", "--lr", "nan"], "--lr nan: must be a positive number"),
    (["foil", "--max-grad-norm", "-1"], "--max-grad-norm -1"),
    (["foil", "--max-grad-norm", "nan"], "--max-grad-norm nan"),
    (["foil", "--truncation", "1.5"], "--truncation 1.5: must be in (0, 1]"),
    (["sample", "--truncation", "nan"], "--truncation nan"),
    (["project", "x.jpg", "--face", "-1"], "--face -1: must be zero or more"),
    (["measure", "--n", "0"], "--n 0"),
    (["measure", "--truncation", "2.5"], "--truncation 2.5: must be in (0, 2]"),
])
def test_bad_option_values_are_one_line_errors_naming_the_option(argv, needle, capsys, tmp_path):
    assert main(argv + (["--out", str(tmp_path / "o")] if argv[0] in ("foil", "project") else [])) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_seeds_parse_ranges_and_refuse_negatives():
    assert options.seeds("0-3,7,10-11") == (0, 1, 2, 3, 7, 10, 11)
    for bad in ("-1", "a-b", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            options.seeds(bad)


def test_validate_refuses_a_value_of_the_wrong_type():
    with pytest.raises(UncannyError, match="--iters"):
        FoilConfig(iters="many").validate()


def _subcommands(parser, prefix=()):
    """Every (sub)command path of the CLI, e.g. ("foil",), ("data", "prepare")."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [prefix]
    return [path for name, p in subs[0].choices.items() for path in _subcommands(p, (*prefix, name))]


def test_every_commands_help_prints(capsys):
    """--help formats every option's help text (a bare % in one once broke `uncanny foil --help`)."""
    paths = _subcommands(build_parser())
    assert ("foil",) in paths and len(paths) > 10
    for path in paths:
        with pytest.raises(SystemExit) as e:
            build_parser().parse_args([*path, "--help"])
        assert e.value.code == 0, path
        assert "usage: uncanny " + " ".join(path) in capsys.readouterr().out, path
