"""The import rule of the layout: modules import only from their own layer or below, nets import
only torch, and nothing imports the CLI (or, later, the studio)."""

import ast
import os
import sys

import uncanny

ROOT = os.path.dirname(uncanny.__file__)

# layer of each module (package-relative name); a module may import from its layer or lower ones
LAYERS = {
    0: ["errors", "util", "nets", "nets.*", "options", "media", "wheels"],
    1: ["checkpoint", "formats", "registry", "runs", "faces", "augment", "metrics", "data"],
    2: ["adapters", "adapters.*", "losses", "identity", "latents", "plots", "judges", "detectors", "motion", "fomm"],
    3: ["foil", "train", "project", "render", "sample", "measure", "convert", "demo", "edit", "detect", "detector_train", "attack", "animate",
        "animate_latent"],
    4: ["cli", "__main__", "__init__", "studio", "studio.*"],
}


def _layer(name):
    for layer, names in LAYERS.items():
        for n in names:
            if name == n or (n.endswith(".*") and name.startswith(n[:-1])):
                return layer
    raise AssertionError(f"module {name} is not placed in a layer of tests/unit/test_layers.py")


def _modules():
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, f), ROOT)[:-3].replace(os.sep, ".")
                yield rel.removesuffix(".__init__") if rel != "__init__" else rel, os.path.join(dirpath, f)


def _is_module(name):
    base = os.path.join(ROOT, *name.split("."))
    return os.path.isfile(base + ".py") or os.path.isdir(base)


def _imports(name, path):
    """Package-relative names imported by a module (absolute `uncanny.x` and relative `.x`)."""
    package = name.split(".")[:-1] if not path.endswith("__init__.py") else name.split(".")
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                mod = ".".join(base + ([node.module] if node.module else []))
                targets = [mod] if node.module else [".".join(base + [a.name]) for a in node.names]
            elif node.module and node.module.startswith("uncanny"):
                targets = [node.module[len("uncanny."):] or "__init__"]
            else:
                continue
            for t in targets:
                t = t.strip(".")
                if t and not _is_module(t):      # `from . import __version__`: a name, not a module
                    t = t.rpartition(".")[0]
                yield t or "__init__", node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("uncanny."):
                    yield a.name[len("uncanny."):], node.lineno


def test_modules_import_only_downwards():
    wrong = []
    for name, path in _modules():
        if name == "__init__":
            continue
        for target, line in _imports(name, path):
            if target in ("", "__init__"):   # the package's own __version__ / errors re-export
                continue
            if _layer(target) > _layer(name):
                wrong.append(f"{name}:{line} imports {target}")
    assert not wrong, "upward imports: " + "; ".join(wrong)


def test_nothing_but_the_cli_imports_the_studio():
    for name, path in _modules():
        if name.startswith("studio") or name == "cli":
            continue
        assert not [t for t, _ in _imports(name, path) if t.startswith("studio")], name


def test_nets_import_only_torch_and_their_own_ops():
    """(and the standard library, numpy)"""
    allowed_top = set(sys.stdlib_module_names) | {"torch", "numpy"}
    for name, path in _modules():
        if not name.startswith("nets"):
            continue
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import):
                for a in node.names:
                    assert a.name.split(".")[0] in allowed_top, f"{name} imports {a.name}"
            elif isinstance(node, ast.ImportFrom) and not node.level:
                assert node.module.split(".")[0] in allowed_top, f"{name} imports from {node.module}"
            elif isinstance(node, ast.ImportFrom) and node.level == 1:
                assert node.module in (None, "ops", "stylegan2"), f"{name} imports .{node.module}"
            elif isinstance(node, ast.ImportFrom):
                raise AssertionError(f"{name} imports from outside nets: {'.' * node.level}{node.module}")
