"""`descend gan --arch dcgan`: Radford et al.'s networks on 28x28 images, trained a few steps on a slice of
Fashion-MNIST, with the image metrics (class coverage, near-duplicates), sample grids and `descend detect`."""

import json
import struct
import tomllib
from pathlib import Path

import numpy as np
import pytest

from descend import backend
from descend.cli import main
from descend.data.fashion_mnist import load_fashion_mnist
from descend.gan import models as gan_models
from descend.train.checkpoint import load


def _write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file of unsigned bytes, written from the format's description (type 0x08, then dims)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


@pytest.fixture(scope="module")
def small_fashion(tmp_path_factory):
    """600 training and 200 test images of the installed Fashion-MNIST, as a folder --data can name."""
    try:
        x, y = load_fashion_mnist(None, train=True)
        xt, yt = load_fashion_mnist(None, train=False)
    except (OSError, ValueError) as e:
        pytest.skip(f"Fashion-MNIST is not installed: {e}")
    root = tmp_path_factory.mktemp("fashion")
    pixels = lambda a: np.rint(a.reshape(len(a), 28, 28) * (255.0 / max(float(a.max()), 1e-12)))  # noqa: E731
    _write_idx(root / "train-images-idx3-ubyte", pixels(x[:600]))
    _write_idx(root / "train-labels-idx1-ubyte", y[:600])
    _write_idx(root / "t10k-images-idx3-ubyte", pixels(xt[:200]))
    _write_idx(root / "t10k-labels-idx1-ubyte", yt[:200])
    return root


@pytest.fixture(scope="module")
def dcgan_run(small_fashion, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert main(["gan", "--data", f"fashion-mnist:{small_fashion}", "--arch", "dcgan", "--steps", "6",
                 "--batch-size", "32", "--log-every", "3", "--eval-every", "3", "--ckpt-every", "3",
                 "--judge-epochs", "2", "--out", str(out), "--name", "dc", "--quiet"]) == 0
    return out / "dc"


def test_dcgan_run_trains_radford_networks_and_reports_coverage(dcgan_run):
    cfg = tomllib.loads((dcgan_run / "config.toml").read_text())
    assert cfg["gan"]["arch"] == "dcgan"
    state = load(dcgan_run / "checkpoints" / "step-00000006.safetensors")
    g, d = state["model"], state["discriminator"]
    # Generator: z (32) -> 256x7x7 -> 128x14x14 -> 1x28x28; discriminator: 64 x 14x14 -> 128 x 7x7 -> 1.
    assert g["main.0.weight"].shape == (32, 256, 7, 7) and g["main.6.weight"].shape == (128, 1, 4, 4)
    assert d["1.main.0.weight"].shape == (64, 1, 4, 4) and d["1.main.5.weight"].shape == (1, 128, 7, 7)
    assert "1.main.3.running_mean" in d  # batch norm in D with the non-saturating loss
    recs = [json.loads(line) for line in (dcgan_run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in recs if "classes_covered" in r]
    assert [r["step"] for r in evals] == [3, 6]
    for r in evals:
        assert r["num_classes"] == 10 and 1 <= r["classes_covered"] <= 10 and sum(r["class_counts"]) == 1000
        assert 0.0 <= r["near_duplicates"] <= 1.0 and 0.0 <= r["class_entropy"] <= 1.0
    losses = [r for r in recs if "d_loss" in r]
    assert losses and all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in losses)
    # The generator moved from its initialisation (weights_init draws N(0, 0.02)): Adam took 6 steps.
    backend.manual_seed(0)
    fresh = gan_models.dcgan_generator(32, (1, 28, 28)).state_dict()
    assert not np.allclose(np.asarray(g["main.0.weight"]), fresh["main.0.weight"].numpy())
    assert sorted(p.name for p in (dcgan_run / "samples").glob("*.png")) == ["step-00000003.png",
                                                                          "step-00000006.png"]


def test_detect_runs_against_the_dcgan(dcgan_run, tmp_path):
    assert main(["detect", "--fake", str(dcgan_run), "--cross",
                 str(dcgan_run / "checkpoints" / "step-00000003.safetensors"), "--epochs", "1", "--samples",
                 "300", "--out", str(tmp_path), "--name", "det", "--quiet"]) == 0
    recs = [json.loads(line) for line in (tmp_path / "det" / "metrics.jsonl").read_text().splitlines()]
    result = [r for r in recs if r.get("kind") == "detect"][-1]
    assert result["n_train"] == 600 and result["n_test"] == 400  # 300 real + 300 fakes; 200 + 200 held out
    assert 0.0 <= result["in_distribution_acc"] <= 1.0 and 0.0 <= result["cross_generator_acc"] <= 1.0


def test_dcgan_on_signals_is_a_usage_error(capsys, tmp_path):
    assert main(["gan", "--data", "mnist1d", "--arch", "dcgan", "--steps", "2", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--arch dcgan" in err and "28x28" in err and "(40,)" in err
    assert not any(tmp_path.iterdir())  # nothing written


def test_packed_discriminator_matches_pytorch_with_samples_stacked_as_channels():
    """PacGAN's conv form: the GAN hands D (N/pack, pack*784) rows; D must see the pack's images as channels,
    exactly as a PyTorch DCGAN discriminator with 2 input channels does on torch.cat along dim 1."""
    torch = pytest.importorskip("torch")
    backend.manual_seed(3)
    d = gan_models.dcgan_discriminator((1, 28, 28), ndf=8, pack=2)
    d.eval()
    tnet = torch.nn.Sequential(
        torch.nn.Conv2d(2, 8, 4, 2, 1, bias=False), torch.nn.LeakyReLU(0.2),
        torch.nn.Conv2d(8, 16, 4, 2, 1, bias=False), torch.nn.BatchNorm2d(16), torch.nn.LeakyReLU(0.2),
        torch.nn.Conv2d(16, 1, 7, 1, 0, bias=False)).double().eval()
    sd = {k.removeprefix("1.main."): torch.tensor(v.numpy(), dtype=torch.float64)
          for k, v in d.state_dict().items()}
    tnet.load_state_dict(sd)
    x = np.random.default_rng(0).uniform(-1, 1, (6, 1, 28, 28)).astype(np.float32)
    from descend import Tensor

    ours = d(Tensor(x.reshape(3, -1))).detach().numpy()
    t = torch.tensor(x, dtype=torch.float64)
    theirs = tnet(torch.cat([t[0::2], t[1::2]], dim=1)).reshape(-1).detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_penalties_get_a_discriminator_without_batch_norm():
    """WGAN-GP and R1 take per-sample input gradients, which batch statistics would mix: no BatchNorm in D."""
    from descend.gan.recipe import build_networks
    from descend.nn.normalization import _BatchNorm

    class _Data:
        shape = (1, 28, 28)

    cfg = {"gan": {"arch": "dcgan", "noise_dim": 8, "pack": 1, "loss": "wgan-gp", "r1": 0.0}}
    _, d = build_networks(cfg, _Data())
    assert not any(isinstance(m, _BatchNorm) for m in d.modules())
    cfg["gan"].update(loss="non_saturating", r1=0.1)
    assert not any(isinstance(m, _BatchNorm) for m in build_networks(cfg, _Data())[1].modules())
    cfg["gan"].update(r1=0.0)
    assert any(isinstance(m, _BatchNorm) for m in build_networks(cfg, _Data())[1].modules())
