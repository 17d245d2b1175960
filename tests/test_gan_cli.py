"""`descend gan` end to end: the run directory, exact resume, sample plots, and one-line errors."""

import json
import shutil
import tomllib

import numpy as np
import pytest

from descend import io
from descend.cli.gan import main
from descend.train.checkpoint import load

FAST = ["--data", "ring8", "--steps", "30", "--log-every", "5", "--eval-every", "10", "--ckpt-every", "10",
        "--quiet"]


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert main(["gan", *FAST, "--out", str(out), "--pack", "2", "--label-smoothing", "0.1"]) == 0
    return out / "gan-ring8-pack2"


def _records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_run_directory_holds_config_metrics_samples_checkpoints_and_report(ring_run):
    cfg = tomllib.loads((ring_run / "config.toml").read_text())
    assert cfg["data"]["name"] == "ring8" and cfg["gan"]["pack"] == 2 and cfg["gan"]["noise_dim"] == 2
    assert cfg["gan"]["label_smoothing"] == 0.1 and cfg["train"]["steps"] == 30
    meta = json.loads((ring_run / "meta.json").read_text())
    assert meta["seed"] == 0 and meta["resumed"] == [] and "numpy" in meta["versions"]
    recs = _records(ring_run)
    assert [r["step"] for r in recs] == [5, 10, 15, 20, 25, 30] and {r["kind"] for r in recs} == {"gan"}
    assert all({"d_loss", "g_loss", "d_real", "d_fake"} <= set(r) for r in recs)
    evals = [r for r in recs if "modes" in r]
    assert [r["step"] for r in evals] == [10, 20, 30]
    for r in evals:
        assert r["num_modes"] == 8 and 0 <= r["high_quality"] <= 1 and sum(r["counts"]) <= 2500
    # Scatter plots of the fixed-noise samples over the data, one per evaluation.
    from PIL import Image

    pngs = sorted((ring_run / "samples").glob("*.png"))
    assert [p.name for p in pngs] == ["step-00000010.png", "step-00000020.png", "step-00000030.png"]
    assert Image.open(pngs[-1]).size == (400, 400)
    assert list((ring_run / "tb").glob("events.out.tfevents.*"))
    assert json.loads((ring_run / "diagnosis.json").read_text())["finished"] is True
    assert (ring_run / "report.html").is_file()


def test_checkpoint_holds_both_networks_both_optimizers_and_the_rng(ring_run):
    index = json.loads((ring_run / "checkpoints" / "index.json").read_text())
    assert index["latest"] == "step-00000030.safetensors"
    state = load(ring_run / "checkpoints" / index["latest"])
    assert state["step"] == 30
    assert {"model", "discriminator", "g_optimizer", "d_optimizer", "rng", "batches"} <= set(state)
    assert state["d_optimizer"]["state"] and state["g_optimizer"]["state"]
    # the packed discriminator's first maxout layer sees two 2-D samples
    assert state["discriminator"]["0.linear.weight"].shape == (1000, 4)


def test_resume_is_bit_identical(ring_run, tmp_path):
    # Cut a copy of the run back to its step-20 checkpoint, as if it had been killed there, and resume.
    cut = tmp_path / "cut"
    shutil.copytree(ring_run, cut)
    index_path = cut / "checkpoints" / "index.json"
    index = json.loads(index_path.read_text())
    index["latest"] = "step-00000020.safetensors"
    index_path.write_text(json.dumps(index))
    (cut / "checkpoints" / "step-00000030.safetensors").unlink()
    assert main(["gan", "--resume", str(cut), "--quiet"]) == 0
    assert (cut / "metrics.jsonl").read_bytes() == (ring_run / "metrics.jsonl").read_bytes()
    a = io.load_safetensors(ring_run / "checkpoints" / "step-00000030.safetensors", with_metadata=False)
    b = io.load_safetensors(cut / "checkpoints" / "step-00000030.safetensors", with_metadata=False)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert json.loads((cut / "meta.json").read_text())["resumed"][0]["step"] == 20


def test_an_existing_run_is_never_overwritten(tmp_path):
    args = ["gan", "--data", "ring8", "--steps", "2", "--quiet", "--out", str(tmp_path), "--name", "r"]
    assert main(args) == 0 and main(args) == 0
    assert (tmp_path / "r").is_dir() and (tmp_path / "r-2").is_dir()


def test_image_data_gets_a_sample_grid_and_classifier_metrics(tmp_path):
    args = ["gan", "--data", "mnist1d", "--steps", "8", "--eval-every", "4", "--judge-epochs", "1",
            "--batch-size", "32", "--quiet", "--out", str(tmp_path)]
    assert main(args) == 0
    run = tmp_path / "gan-mnist1d"
    evals = [r for r in _records(run) if "class_entropy" in r]
    assert [r["step"] for r in evals] == [4, 8]
    for r in evals:
        assert r["num_classes"] == 10 and 0 <= r["class_entropy"] <= 1 and 0 <= r["near_duplicates"] <= 1
        assert sum(r["class_counts"]) == 1000
    from PIL import Image

    grid = Image.open(run / "samples" / "step-00000008.png")
    assert grid.size == (8 * (40 + 2) + 2, 8 * (24 + 2) + 2)  # 64 signals as 24x40 line plots, 8 per row
    assert (run / "classifier.safetensors").is_file()


BAD = [
    (["--data", "ring9"], "--data: must be one of"),
    (["--data", "rign8"], "did you mean 'ring8'"),
    (["--steps", "0"], "--steps: must be > 0"),
    (["--lr-g", "-1"], "--lr-g: must be > 0"),
    (["--loss", "wasserstein"], "--loss: must be one of non_saturating, minimax"),
    (["--label-smoothing", "1"], "--label-smoothing: must be in [0, 1)"),
    (["--pack", "0"], "--pack: must be > 0"),
    (["--d-steps", "0"], "--d-steps: must be > 0"),
    (["--noise-dim", "0"], "--noise-dim: must be > 0"),
    (["--arch", "conv"], "--arch conv: the 2-D mixtures use the protocol networks"),
    (["--steps", "ten"], "argument --steps: invalid int value"),
    (["--batch-size", "60000", "--pack", "2"], "only 100000"),
    (["--lerning-rate", "1"], "unrecognized arguments: --lerning-rate"),
    (["--loss", "wgan-gp", "--r1", "1"], "wgan-gp has its own gradient penalty"),
    (["--loss", "wgan-gp", "--label-smoothing", "0.1"], "no labels to smooth"),
    (["--gp-weight", "-1"], "--gp-weight: must be >= 0"),
    (["--r1", "-0.5"], "--r1: must be >= 0"),
    (["--beta2", "1"], "--beta2: must be in [0, 1)"),
]


@pytest.mark.parametrize("extra,message", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, extra, message):
    out = tmp_path / "runs"
    try:
        code = main(["gan", "--out", str(out), *extra])
    except SystemExit as e:  # argparse's own errors (the CLI's parser prints one line and exits 2)
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_bad_resume_targets(tmp_path, capsys, ring_run):
    assert main(["gan", "--resume", str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main(["gan", "--resume", str(ring_run), "--steps", "5"]) == 2
    assert "drop --steps" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["gan", "--resume", str(tmp_path / "empty")]) == 2
    assert "no config.toml" in capsys.readouterr().err


PENALTY = ["--data", "ring8", "--steps", "8", "--log-every", "2", "--eval-every", "4", "--ckpt-every", "4",
           "--batch-size", "20", "--quiet"]


@pytest.mark.parametrize("extra,name,logged", [
    (["--loss", "wgan-gp"], "gan-ring8", {"gp", "wdist"}),
    (["--r1", "0.1", "--pack", "2"], "gan-ring8-pack2", {"r1"}),
], ids=["wgan-gp", "r1-pack2"])
def test_penalty_runs_log_their_penalty_and_resume_bit_identically(tmp_path, extra, name, logged):
    out = tmp_path / "runs"
    assert main(["gan", *PENALTY, *extra, "--out", str(out)]) == 0
    run = out / name
    cfg = tomllib.loads((run / "config.toml").read_text())
    if "wgan-gp" in extra:
        assert cfg["gan"]["d_steps"] == 5 and cfg["gan"]["gp_weight"] == 10.0 and cfg["optim"]["beta2"] == 0.9
    else:
        assert cfg["gan"]["r1"] == 0.1 and cfg["gan"]["d_steps"] == 1 and cfg["optim"]["beta2"] == 0.999
    recs = _records(run)
    assert [r["step"] for r in recs] == [2, 4, 6, 8]
    assert all(logged <= set(r) and all(np.isfinite(r[k]) for k in logged) for r in recs)
    codes = [d["code"] for d in json.loads((run / "diagnosis.json").read_text())["diagnoses"]]
    assert "discriminator_overpowers" not in codes
    # Cut back to the step-4 checkpoint and resume: the same records and the same final weights.
    cut = tmp_path / "cut"
    shutil.copytree(run, cut)
    index_path = cut / "checkpoints" / "index.json"
    index = json.loads(index_path.read_text())
    index["latest"] = "step-00000004.safetensors"
    index_path.write_text(json.dumps(index))
    (cut / "checkpoints" / "step-00000008.safetensors").unlink()
    assert main(["gan", "--resume", str(cut), "--quiet"]) == 0
    assert (cut / "metrics.jsonl").read_bytes() == (run / "metrics.jsonl").read_bytes()
    a = io.load_safetensors(run / "checkpoints" / "step-00000008.safetensors", with_metadata=False)
    b = io.load_safetensors(cut / "checkpoints" / "step-00000008.safetensors", with_metadata=False)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
