"""The examples in the public docstrings of descend.nn, descend.optim and descend.data, run as doctests.

Each module's examples run in a fresh copy of its namespace with the global generator seeded, so an example
shows exactly what a user typing it gets. A package with no example at all fails too: the test cannot pass
by finding nothing.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import pkgutil

import pytest

import descend

PACKAGES = ("descend.nn", "descend.optim", "descend.data")
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _modules(package: str) -> list[str]:
    pkg = importlib.import_module(package)
    return [package] + sorted(info.name for info in pkgutil.walk_packages(pkg.__path__, package + "."))


# Single modules outside those packages whose docstrings carry examples.
SINGLE = ("descend.amp", "descend.compiler", "descend.testing", "descend.random", "descend.autograd.function",
          "descend.ops.rms_norm", "descend.ops.spatial_more", "descend.ops.loss_more", "descend.ops.kernels",
          "descend.onnx", "descend.ops.attention", "descend.diffusion.models", "descend.models.transformer",
          "descend.ops.size", "descend.distributions", "descend.autograd.functional", "descend.ops.grid_sample",
          "descend.func", "descend.nn.utils.parametrize", "descend.ops.onednn")
MODULES = [name for package in PACKAGES for name in _modules(package)] + list(SINGLE)


@functools.cache
def _run(name: str) -> doctest.TestResults:
    descend.manual_seed(0)
    return doctest.testmod(importlib.import_module(name), optionflags=FLAGS, report=False)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = _run(name)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (output above)"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_has_examples(package):
    attempted = sum(_run(name).attempted for name in _modules(package))
    assert attempted > 0, f"{package}: no docstring example was found"
