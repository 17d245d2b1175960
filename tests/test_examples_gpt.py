"""examples/pytorch_style/minigpt.py ports by changing imports only: run as written (descend) and with its
three imports switched to torch, from the same initial weights and batches, the loss curves agree."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import descend

torch = pytest.importorskip("torch")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "pytorch_style" / "minigpt.py"
IMPORTS = {"import descend as torch": "import torch",
           "import descend.nn as nn": "import torch.nn as nn",
           "import descend.nn.functional as F": "import torch.nn.functional as F"}


def _load(framework: str) -> types.ModuleType:
    source = EXAMPLE.read_text(encoding="utf-8")
    for ours, theirs in IMPORTS.items():
        assert source.count(f"\n{ours}\n") == 1, f"the example should import with `{ours}`"
        if framework == "torch":
            source = source.replace(f"\n{ours}\n", f"\n{theirs}\n")
    module = types.ModuleType(f"minigpt_{framework}")
    module.__file__ = str(EXAMPLE)
    exec(compile(source, str(EXAMPLE), "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def pair() -> tuple:
    ours, theirs = _load("descend"), _load("torch")
    text = ours.SAMPLE_TEXT * 4
    chars = sorted(set(text))
    data = np.array([chars.index(c) for c in text], dtype=np.int64)
    config = dict(block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=0.0)
    torch.manual_seed(0)
    model_t = theirs.GPT(len(chars), **config)
    model_d = ours.GPT(len(chars), **config)
    state = {k: descend.tensor(v.detach().numpy().copy()) for k, v in model_t.state_dict().items()}
    assert list(model_d.state_dict()) == list(state)
    model_d.load_state_dict(state)
    return ours, theirs, model_d, model_t, data


def test_same_loss_curve_as_pytorch(pair: tuple) -> None:
    ours, theirs, model_d, model_t, data = pair
    losses_t = theirs.train(model_t, data, steps=25, batch_size=8, lr=3e-3, warmup=5, seed=3)
    losses_d = ours.train(model_d, data, steps=25, batch_size=8, lr=3e-3, warmup=5, seed=3)
    assert losses_t[-1] < losses_t[0] - 0.5, "the run should learn something, or the comparison is weak"
    np.testing.assert_allclose(losses_d, losses_t, rtol=2e-3, atol=2e-3)
    # and the weights end up where PyTorch's do
    theirs_sd = model_t.state_dict()
    for k, v in model_d.state_dict().items():
        np.testing.assert_allclose(v.numpy(), theirs_sd[k].numpy(), atol=2e-3, err_msg=k)
    val_d = ours.estimate_loss(model_d, data, batch_size=8, iters=2)
    val_t = theirs.estimate_loss(model_t, data, batch_size=8, iters=2)
    assert abs(val_d - val_t) < 5e-3


def test_generate_and_tied_weights(pair: tuple) -> None:
    ours, _, model_d, _, data = pair
    assert model_d.wte.weight is model_d.lm_head.weight
    descend.manual_seed(0)
    out = model_d.generate(descend.tensor([[int(data[0])]]), 12, temperature=0.8, top_k=5)
    assert tuple(out.shape) == (1, 13) and out.dtype == np.int64
    assert int(out.numpy().max()) < model_d.lm_head.weight.shape[0]


def test_runs_as_a_script(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("minigpt_script", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "SAMPLE_TEXT", module.SAMPLE_TEXT[:200])
    module.GPT.__init__.__defaults__ = (16, 1, 2, 16, 0.0)  # a tiny model so the script runs in seconds
    module.main([sys.argv[0], "", "3"])
    out = capsys.readouterr().out
    assert "validation loss" in out and "bits/char" in out
