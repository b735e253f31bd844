"""Options: a verb's config dataclass is the single source of its option names, defaults, help
and checks; the CLI is built from it.

    @dataclass
    class FoilConfig:
        iters: int = option(2000, "iterations", check=positive)
        loss: str = option("softplus", "inverted objective", choices=("softplus", "logd", "hinge"))

    add_options(parser, FoilConfig)                 # --iters, --loss ... with defaults and help
    cfg = from_args(FoilConfig, args)               # then cfg.validate() checks every field

A field's flag is its name with dashes (`max_grad_norm` -> `--max-grad-norm`) unless `flag`
says otherwise; fields with `cli=False` are Python-only; `positional=True` makes an argument.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import field
from typing import Any, Callable

from .errors import UncannyError


def option(default: Any = dataclasses.MISSING, help: str = "", *, flag: str | None = None,
           type: Callable | None = None, choices: tuple | None = None, check: Callable | None = None,
           metavar: str | None = None, cli: bool = True, positional: bool = False, nargs: str | None = None,
           show: Callable | None = None):
    """A config field with what the CLI needs. `type` parses the command-line text (default: the
    type of `default`); `check(value)` returns an error text (without the option name) or None;
    `show` formats the default in the help."""
    meta = dict(help=help, flag=flag, type=type, choices=choices, check=check, metavar=metavar, cli=cli,
                positional=positional, nargs=nargs, show=show)
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type_copy(default), metadata=meta)
    return field(default=default, metadata=meta)


def type_copy(v):
    return v.copy()


# ----------------------------------------------------------------------------- common checks


def positive(v) -> str | None:
    return None if v is not None and math.isfinite(v) and v > 0 else "must be a positive number"


def non_negative(v) -> str | None:
    return None if v is not None and math.isfinite(v) and v >= 0 else "must be zero or more"


def positive_or_none(v) -> str | None:
    return None if v is None else positive(v)


def in_unit_interval(v) -> str | None:
    """(0, 1]: truncation psi."""
    return None if v is not None and math.isfinite(v) and 0 < v <= 1 else "must be in (0, 1]"


def probability(v) -> str | None:
    """[0, 1]: style mixing."""
    return None if v is not None and math.isfinite(v) and 0 <= v <= 1 else "must be in [0, 1]"


def up_to_two(v) -> str | None:
    """(0, 2]: truncation psi where pushing away from the mean (psi > 1) is allowed."""
    return None if v is not None and math.isfinite(v) and 0 < v <= 2 else "must be in (0, 2]"


def finite(v) -> str | None:
    return None if v is not None and math.isfinite(v) else "must be a finite number"


# ----------------------------------------------------------------------------- parsing


def int_list(text: str) -> tuple[int, ...]:
    """'0,250,500' -> (0, 250, 500)."""
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def seeds(text: str) -> tuple[int, ...]:
    """'0-3,7,10-11' -> (0, 1, 2, 3, 7, 10, 11); seeds are non-negative."""
    out = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            if "-" in part[1:]:
                a, b = part.rsplit("-", 1)
                out.extend(range(int(a), int(b) + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers and ranges like 0-15,20, got {text!r}") from None
    if not out:
        raise argparse.ArgumentTypeError(f"no seeds in {text!r}")
    if min(out) < 0 or max(out) >= 2 ** 32:
        raise argparse.ArgumentTypeError(f"seeds must be in 0 .. 2^32-1, got {text!r}")
    return tuple(out)


def on_off(text: str) -> bool:
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")
    return text == "on"


def seed_text(v: tuple[int, ...]) -> str:
    """(0, 1, ..., 15) -> '0-15' for help texts."""
    v = list(v)
    if v and v == list(range(v[0], v[-1] + 1)) and len(v) > 2:
        return f"{v[0]}-{v[-1]}"
    return ",".join(map(str, v))


# ----------------------------------------------------------------------------- CLI


def cli_fields(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.metadata.get("cli", False)]


def flag_of(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


_ANNOTATED = {"int": int, "float": float, "str": str}


def _parser_type(f, default):
    """How to parse the command-line text: the option's `type`, else the default's type, else the
    annotation (`int | None` -> int)."""
    if f.metadata.get("type"):
        return f.metadata["type"]
    if default is not None and default is not dataclasses.MISSING:
        return type(default)
    annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "str")
    return _ANNOTATED.get(annotation.split("|")[0].strip(), str)


def _default(f):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def add_options(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = (), defaults_none: bool = False,
                exclusive: tuple[tuple[str, ...], ...] = ()) -> None:
    """Add an argument per CLI field of `cls`. With `defaults_none`, options left out parse as
    None (so a resumed run can tell "not given" from "given the default")."""
    groups = {name: parser.add_mutually_exclusive_group() for names in exclusive for name in names[:1]}
    group_of = {name: groups[names[0]] for names in exclusive for name in names}
    for f in cli_fields(cls):
        if f.name in skip:
            continue
        m, d = f.metadata, _default(f)
        target = group_of.get(f.name, parser)
        shown = m["show"](d) if m.get("show") and d not in (None, dataclasses.MISSING) else d
        help_ = m["help"]
        if m.get("positional"):
            parser.add_argument(f.name, nargs=m.get("nargs"), help=help_, metavar=m.get("metavar"),
                                type=m.get("type") or str)   # positionals: text (paths)
            continue
        if isinstance(d, bool) and m.get("type") is None:   # a flag (--no-x for a field that is on by default)
            target.add_argument(flag_of(f), dest=f.name, action="store_false" if d else "store_true",
                                default=None if defaults_none else d, help=help_)
            continue
        kind = _parser_type(f, d)
        if d is dataclasses.MISSING:
            target.add_argument(flag_of(f), dest=f.name, type=kind, required=True, help=help_,
                                metavar=m.get("metavar"))
            continue
        if d is not None and shown != "" and "(default" not in help_:
            help_ = f"{help_} (default {shown})".strip()
        target.add_argument(flag_of(f), dest=f.name, type=kind, choices=m.get("choices") if kind is str else None,
                            default=None if defaults_none else d, help=help_, metavar=m.get("metavar"))


def given(cls, args: argparse.Namespace, skip: tuple[str, ...] = ()) -> dict:
    """The CLI fields of `cls` present in `args` and not None."""
    ns = vars(args)
    return {f.name: ns[f.name] for f in cli_fields(cls)
            if f.name in ns and f.name not in skip and ns[f.name] is not None}


def from_args(cls, args: argparse.Namespace, **fixed):
    """An instance of `cls` from parsed arguments (options left out take the dataclass default)."""
    return cls(**{**given(cls, args), **fixed})


def _shown(v) -> str:
    """A value as an error message shows it: text with spaces or control characters quoted."""
    return repr(v) if isinstance(v, str) and (not v or not v.isprintable() or v.strip() != v) else str(v)


def validate(cfg) -> None:
    """Run every field's choices and check; raise UncannyError naming the option."""
    for f in dataclasses.fields(cfg):
        m = f.metadata
        v = getattr(cfg, f.name)
        if m.get("choices") and v not in m["choices"]:
            raise UncannyError(f"{flag_of(f)} {_shown(v)}: must be one of {', '.join(map(str, m['choices']))}")
        if m.get("check"):
            try:
                problem = m["check"](v)
            except TypeError:
                problem = f"wrong type ({type(v).__name__})"
            if problem:
                raise UncannyError(f"{flag_of(f)} {_shown(v)}: {problem}")
