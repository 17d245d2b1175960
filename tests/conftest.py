"""Shared test configuration: the `slow` marker for the tests that train real models or run real processes.

`python -m pytest` runs everything (as CI does); `python -m pytest -m "not slow"` is the inner loop. Whole files
are marked here by name, so the marker cannot drift from the file list below.
"""

from __future__ import annotations

import pytest

# Files whose tests train to a published figure, launch mpirun or CLI processes, or compare whole programs
# with PyTorch: each takes tens of seconds.
SLOW_FILES = {
    "test_zoo.py", "test_distributed.py", "test_resume.py", "test_after_training.py", "test_examples_pytorch.py",
    "test_examples_arch.py", "test_examples_gpt.py", "test_gan_cli.py", "test_detect.py", "test_gan_penalty.py",
    "test_diffusion.py", "test_cli.py", "test_doctor_bench.py", "test_sharpness.py",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: trains real models or runs real processes (deselect: -m 'not slow')")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    for item in items:
        if item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
