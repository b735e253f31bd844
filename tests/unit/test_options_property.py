"""Property-based (Hypothesis): whatever values reach a verb's options, from the command line or
the Python API, validation either accepts them or raises one UncannyError naming the option:
no other exception, and nothing non-finite or out of range gets through."""

import argparse
import dataclasses
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from uncanny import options
from uncanny.attack import AttackConfig
from uncanny.data import PrepareConfig
from uncanny.detect import DetectConfig
from uncanny.detector_train import DetectorTrainConfig
from uncanny.edit import ApplyConfig, FindConfig
from uncanny.errors import UncannyError
from uncanny.foil import FoilConfig
from uncanny.measure import MeasureConfig
from uncanny.project import ProjectConfig
from uncanny.sample import SampleConfig
from uncanny.train import TrainConfig

CONFIGS = [FoilConfig, TrainConfig, ProjectConfig, SampleConfig, MeasureConfig, FindConfig, ApplyConfig,
           DetectConfig, AttackConfig, DetectorTrainConfig, PrepareConfig]
REQUIRED = {"images": ["x.png"], "data": "d", "out": "o", "directions": "dirs", "src": "s", "dst": "t"}

values = st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
                   st.text(max_size=8), st.none(), st.booleans())


def _fields(cls):
    return [f for f in dataclasses.fields(cls) if f.metadata.get("check") or f.metadata.get("choices")]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.data())
def test_validation_accepts_or_names_the_option(data):
    cls = data.draw(st.sampled_from([c for c in CONFIGS if _fields(c)]))
    f = data.draw(st.sampled_from(_fields(cls)))
    v = data.draw(values)
    base = {k: v_ for k, v_ in REQUIRED.items() if k in {x.name for x in dataclasses.fields(cls)}}
    cfg = cls(**{**base, f.name: v})
    try:
        options.validate(cfg)
    except UncannyError as e:
        assert options.flag_of(f) in str(e) and "\n" not in str(e)
        return
    if isinstance(v, float):
        assert math.isfinite(v), (cls.__name__, f.name, v)       # nothing non-finite passes a check
    if f.metadata.get("choices"):
        assert v in f.metadata["choices"]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(data=st.data())
def test_command_line_text_parses_to_a_value_or_a_usage_error(data):
    cls = data.draw(st.sampled_from(CONFIGS))
    f = data.draw(st.sampled_from([f for f in options.cli_fields(cls) if not f.metadata.get("positional")]))
    text = data.draw(st.one_of(st.text(max_size=10), st.from_regex(r"-?[0-9]{1,12}(\.[0-9]{0,3})?", fullmatch=True),
                               st.sampled_from(["nan", "inf", "-inf", "1e9", "0", "-1", "4/255"])))
    p = argparse.ArgumentParser(exit_on_error=False)
    options.add_options(p, cls)
    argv = [options.flag_of(f)] + ([] if isinstance(f.default, bool) and not f.metadata.get("type") else [text])
    for name, v in REQUIRED.items():
        if name in {x.name for x in options.cli_fields(cls)} and name != f.name:
            match = next(x for x in options.cli_fields(cls) if x.name == name)
            argv = (list(v) if isinstance(v, list) else [v]) + argv if match.metadata.get("positional") else \
                argv + [options.flag_of(match), v]
    try:
        ns = p.parse_args(argv)
    except (argparse.ArgumentError, SystemExit):
        return                                                   # argparse's own usage error: exit 2
    cfg = options.from_args(cls, ns)
    try:
        options.validate(cfg)
    except UncannyError:
        pass
