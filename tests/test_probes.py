"""The PyTorch-idiom probe suite: every probe in tests/probes/ run under torch and descend, compared.

One test per probe; the ones listed in tests/probes/known.py are strict xfails (a fixed probe must be
taken off the list). The last test asserts that at least 95 % of the whole suite passes.
Without pytest: `python -m tests.probes.run_probes [area]` prints every difference, and
`--write-known` drafts known.py from the current failures.
"""

import pytest

torch = pytest.importorskip("torch")

import descend  # noqa: E402
from tests.probes import harness  # noqa: E402
from tests.probes.known import KNOWN  # noqa: E402

PROBES = harness.load_all()
PASS_RATE = 0.95


def _params():
    for name in PROBES:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN[name])] if name in KNOWN else []
        yield pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("name", _params())
def test_probe(name):
    diff = harness.check(name, torch, descend)
    assert diff is None, diff


def test_harness_detects_differences():
    """The comparison is not vacuous: each kind of difference it claims to catch is caught."""
    def diff(a, b, rtol=1e-4, atol=1e-5):
        return harness.compare(harness.canon(a, torch), harness.canon(b, torch), rtol, atol)

    assert diff(torch.ones(2), torch.ones(2)) is None
    assert diff(torch.ones(2), torch.tensor([1.0, 1.01])) is not None
    assert diff(torch.ones(2), torch.ones(2, dtype=torch.float64)) is not None
    assert diff(torch.ones(2), torch.ones(1, 2)) is not None
    assert diff(torch.ones(2), torch.ones(2, requires_grad=True)) is not None
    assert diff(1, 1.0) is not None and diff(True, 1) is not None
    assert diff((1, 2), [1, 2]) is not None and diff({"a": 1, "b": 2}, {"b": 2, "a": 1}) is not None
    assert diff(torch.float32, torch.float64) is not None and diff(float("nan"), float("nan")) is None
    ref = harness.raised(lambda: torch.ones(2) + torch.ones(3))
    assert harness.compare(ref, harness.raised(lambda: [][1]), 0, 0) is not None
    assert harness.compare(ref, harness.raised(lambda: torch.ones(2).view(3)), 0, 0) is None
    assert harness.compare(ref, "no error", 0, 0) is not None


def test_known_failures_are_probes():
    stale = sorted(set(KNOWN) - set(PROBES))
    assert not stale, f"known.py lists probes that do not exist: {stale}"


def test_pass_rate():
    results = {name: harness.check(name, torch, descend) for name in PROBES}
    failed = sorted(name for name, diff in results.items() if diff is not None)
    rate = 1 - len(failed) / len(results)
    assert rate >= PASS_RATE, f"{rate:.1%} of {len(results)} probes pass; failing: {failed[:40]}"
