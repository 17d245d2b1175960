"""Shared test configuration: the `slow` marker for the tests that train real models or run real processes.

`python -m pytest` runs everything (as CI does); `python -m pytest -m "not slow"` is the inner loop. Whole files
are marked here by name, so the marker cannot drift from the file list below.
"""

from __future__ import annotations

import os

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


@pytest.fixture(autouse=True, scope="session")
def _trust_key_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory):
    """The code-trust key (descend.rundir.trust) of every test and the processes they start: never the user's
    ~/.config/descend/trust.key."""
    old = os.environ.get("DESCEND_TRUST_KEY")
    os.environ["DESCEND_TRUST_KEY"] = str(tmp_path_factory.mktemp("trust") / "trust.key")
    yield
    if old is None:
        os.environ.pop("DESCEND_TRUST_KEY", None)
    else:
        os.environ["DESCEND_TRUST_KEY"] = old
