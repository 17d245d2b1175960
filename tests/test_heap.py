"""Heap tuning (descend/ops/_heap.py): importing changes nothing; the training loops apply it as they start."""

import subprocess
import sys

import pytest


def _run(code: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "."}  # no MALLOC_* variable, no DESCEND_MALLOC_TUNING
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=True).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_import_changes_nothing_and_fit_tunes_the_heap():
    code = (
        "import descend, descend.nn as nn, descend.optim as optim\n"
        "from descend.ops import _heap\n"
        "from descend.data import DataLoader, TensorDataset\n"
        "from descend.train.loop import Trainer\n"
        "print(_heap.applied)\n"
        "descend.manual_seed(0)\n"
        "m = nn.Linear(2, 2)\n"
        "ds = TensorDataset(descend.randn(4, 2), descend.tensor([0, 1, 0, 1]))\n"
        "Trainer(m, optim.SGD(m.parameters(), lr=0.1), DataLoader(ds, batch_size=2),\n"
        "        loss_fn=nn.CrossEntropyLoss(), epochs=1).fit()\n"
        "print(_heap.applied)\n"
    )
    before, after = _run(code).splitlines()[-2:]
    assert before == "False"
    import ctypes.util
    if ctypes.util.find_library("c") and "libc.so.6" in str(ctypes.util.find_library("c")):
        assert after == "True"


def test_opt_out_is_respected(monkeypatch):
    from descend.ops import _heap

    monkeypatch.setattr(_heap, "applied", False)
    monkeypatch.setenv("DESCEND_MALLOC_TUNING", "0")
    assert _heap.tune_heap() is False
    monkeypatch.delenv("DESCEND_MALLOC_TUNING")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    assert _heap.tune_heap() is False
