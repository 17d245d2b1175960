"""Imports flow one way:
errors, schema, backend -> tensor/ops -> functional -> nn, optim -> data, train, doctor, gan -> report -> cli.

io (the file-format layer) is a leaf that anyone may import and that imports nothing of ours. Nothing in
descend imports torch. Imports inside functions count too. The package facade descend/__init__.py may
import anything: it is what users import, never what our modules import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "descend"

# Layer of each top-level module or subpackage of descend; a module may import its own layer or lower ones.
LAYERS = {
    "io": 0, "rundir": 0, "errors": 0, "schema": 0,
    "backend": 0, "dtypes": 0, "cuda": 0, "accelerator": 0, "backends": 0, "compiler": 0,
    "_tensor": 1, "ops": 1, "gradcheck": 1, "autograd": 1, "serialization": 1, "amp": 1, "random": 1,
    "testing": 1,
    "functional": 2, "functional_spatial": 2, "functional_extra": 2, "linalg": 2, "special": 2, "distributions": 2, "func": 2,
    "nn": 3, "optim": 3,
    "models": 4, "data": 4, "train": 4, "doctor": 4, "gan": 4, "distributed": 4, "utils": 4, "onnx": 4,
    "diffusion": 4,
    "report": 5,
    "cli": 6, "__main__": 6,
}
FORBIDDEN = {"torch", "torchvision", "tensorflow", "jax", "scipy"}


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if p != ROOT / "__init__.py")


def _top(path: Path, root: Path = ROOT) -> str:
    """The top-level component (module or subpackage) a file belongs to."""
    return path.relative_to(root).parts[0].removesuffix(".py")


def _imported(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, dotted module) for every import in the file, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ["descend", *path.relative_to(root).parent.parts]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from descend import nn` imports the submodule nn
            if module == "descend":
                found += [(node.lineno, f"descend.{alias.name}") for alias in node.names]
    return found


# `python -m descend.gan` and its like: a subsystem's __main__.py runs the CLI, so it sits in the CLI layer
# even though it lives beside the code it drives (nothing imports a __main__).
def _layer_of(path: Path, root: Path = ROOT) -> str:
    """The layer name a file is checked at: its top-level component, or 'cli' for an entry point."""
    if path.name == "__main__.py":
        return "cli"
    return _top(path, root)


def _problems(path: Path, root: Path = ROOT) -> list[str]:
    own = _layer_of(path, root)
    problems = []
    for line, module in _imported(path, root):
        first = module.split(".")[0]
        if first in FORBIDDEN:
            problems.append(f"line {line}: imports {module} (descend never imports {first})")
        if first != "descend" or module == "descend":
            continue
        target = module.split(".")[1]
        if target not in LAYERS:
            continue  # a name from the facade, e.g. `from descend import __version__`
        if own == "io" and target != "io":
            problems.append(f"line {line}: io is a leaf but imports {module}")
        elif LAYERS[target] > LAYERS[own]:
            problems.append(f"line {line}: {own} (layer {LAYERS[own]}) imports {module} (layer {LAYERS[target]})")
    return problems


def test_every_module_has_a_layer() -> None:
    unknown = sorted({_top(p) for p in _modules()} - set(LAYERS))
    assert not unknown, f"give these modules a layer in tests/test_imports.py LAYERS: {unknown}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_no_upward_or_forbidden_imports(path: Path) -> None:
    if _top(path) not in LAYERS:
        pytest.skip("covered by test_every_module_has_a_layer")
    problems = _problems(path)
    assert not problems, f"{path.relative_to(ROOT.parent)}:\n" + "\n".join(problems)


def test_the_checker_catches_upward_and_forbidden_imports(tmp_path: Path) -> None:
    fake_root = tmp_path / "descend"
    (fake_root / "ops").mkdir(parents=True)
    bad = fake_root / "ops" / "bad.py"
    bad.write_text("def f():\n    from descend.nn import Linear\n    from .. import functional\n"
                   "    import torch\n    from descend import backend, tensor\n")
    problems = "\n".join(_problems(bad, fake_root))
    assert "line 2: ops (layer 1) imports descend.nn (layer 3)" in problems
    assert "line 3: ops (layer 1) imports descend.functional (layer 2)" in problems
    assert "line 4: imports torch" in problems
    assert "backend" not in problems and "tensor" not in problems
