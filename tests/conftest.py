"""Shared test configuration: the `slow` marker for the tests that train real models or run real processes.

`python -m pytest` runs everything (as CI does); `python -m pytest -m "not slow"` is the inner loop (under a
minute of CPU). Files, single tests and fixtures are marked here by name, so the marker cannot drift from the
lists below; a test named here that no longer exists fails the collection.
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
    # Trained GAN and diffusion runs, 2,000 generated checkpoints, and the sweeps of 900 double backwards
    # and 1,900 PyTorch idiom probes.
    "test_gan_dcgan.py", "test_diffusion_doctor.py", "test_fuzz_rundir.py", "test_higher_order.py",
    "test_probes.py",
}

# Single tests (every parametrisation) of the other files that train, launch processes or a browser: the
# ones that cost a second or more of CPU each (measured with --durations).
SLOW_TESTS = {
    "test_arch_layers.py::test_resnet20_matches_pytorch_and_the_paper",
    "test_arch_layers.py::test_dcgan_matches_pytorch_tutorial_networks",
    "test_cli_errors.py::test_a_real_process_prints_one_line_and_exits_2",
    "test_datasets.py::test_mnist1d_matches_reference_package_exactly",
    "test_doctor.py::test_on_divergence_rollback_from_the_command_line",
    "test_gan_diagnose.py::test_healthy_small_gan_triggers_nothing",
    "test_gan_diagnose.py::test_collapsing_small_gan_is_diagnosed",
    "test_lr_find.py::test_default_config_lr_find_warns_and_its_divergence_point_is_real",
    "test_lr_find.py::test_lr_find_command",
    "test_parity.py::test_same_source_trains_to_the_same_weights",
    "test_report.py::test_report_renders_in_headless_chromium",
    "test_rundir.py::test_a_huge_label_is_refused_before_allocating",
    "test_rundir.py::test_a_second_writer_stops_at_once_naming_the_first",
    "test_rundir.py::test_killed_while_pruning_or_writing_the_report_resumes_bit_identical",
    "test_transformer.py::test_cli_trains_gpt_on_text_reports_bpc_and_stores_samples",
    "test_transformer.py::test_transformer_classifier_learns_a_toy_task",
}

# Fixtures that train the default model in a real process: every test using one is slow.
SLOW_FIXTURES = {"default_run"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: trains real models or runs real processes (deselect: -m 'not slow')")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    modules = {}
    for item in items:
        name = f"{item.path.name}::{getattr(item, 'originalname', item.name)}"
        if (item.path.name in SLOW_FILES or name in SLOW_TESTS
                or SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.slow)
        if getattr(item, "module", None) is not None:
            modules[item.path.name] = item.module
    for entry in sorted(SLOW_TESTS):
        file, _, test = entry.partition("::")
        if file in modules and not hasattr(modules[file], test):
            raise pytest.UsageError(f"tests/conftest.py: SLOW_TESTS names {entry}, but {file} has no {test}")


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
