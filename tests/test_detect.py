"""`descend detect`: a real-vs-generated classifier scored on held-out data, in-distribution and across
generators (here the latest and an earlier checkpoint of one ring8 run)."""

import json

import numpy as np
import pytest

from descend.gan import detect
from descend.cli.gan import main
from descend.train.checkpoint import load


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gan")
    assert main(["gan", "--data", "ring8", "--steps", "40", "--ckpt-every", "10", "--eval-every", "40",
                 "--out", str(out), "--quiet"]) == 0
    return out / "gan-ring8"


def test_sets_are_balanced_and_held_out_data_is_never_trained_on(gan_run):
    a = detect.load_generator(str(gan_run), "--fake")
    b = detect.load_generator(str(gan_run / "checkpoints" / "step-00000020.safetensors"), "--cross")
    assert (a.step, b.step) == (40, 20)
    sets = detect.make_sets(a, b, detect.options(samples=500))
    for y in (sets.train_y, sets.test_y, sets.cross_y):
        assert (y == 0).sum() == (y == 1).sum()
    train_rows = {row.tobytes() for row in sets.train_x}
    assert not any(row.tobytes() in train_rows for row in sets.test_x)
    assert not any(row.tobytes() in train_rows for row in sets.cross_x)
    # The cross set shares the held-out real half and swaps the fakes for the other generator's.
    np.testing.assert_array_equal(sets.test_x[sets.test_y == 0], sets.cross_x[sets.cross_y == 0])
    assert not np.array_equal(sets.test_x[sets.test_y == 1], sets.cross_x[sets.cross_y == 1])


def test_detect_reports_both_accuracies_on_held_out_data(gan_run, tmp_path, capsys):
    ckpt = gan_run / "checkpoints" / "step-00000020.safetensors"
    assert main(["detect", "--fake", str(gan_run), "--cross", str(ckpt), "--epochs", "10", "--samples", "1000",
                 "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    run = tmp_path / "detect-ring8"
    result = json.loads((run / "detect.json").read_text())
    assert f"in-distribution accuracy {100 * result['in_distribution_acc']:.1f}%" in printed
    assert f"cross-generator accuracy {100 * result['cross_generator_acc']:.1f}%" in printed
    assert result["n_train"] == 2000 and result["n_test"] == result["n_cross"] == 2000
    # A 40-step generator is far from the ring: most single points already give it away (chance is 50 %).
    assert result["in_distribution_acc"] > 0.85
    assert result["gap"] == pytest.approx(result["in_distribution_acc"] - result["cross_generator_acc"])
    # Recompute the in-distribution accuracy independently from the saved detector on regenerated sets.
    state = load(run / "checkpoints" / json.loads((run / "checkpoints" / "index.json").read_text())["latest"])
    a = detect.load_generator(str(gan_run), "--fake")
    b = detect.load_generator(str(ckpt), "--cross")
    opts = detect.options(samples=1000)
    sets = detect.make_sets(a, b, opts)
    model = detect.build_detector(opts, a.data)
    model.load_state_dict(state["model"])
    assert detect.accuracy(model, sets.test_x, sets.test_y) == result["in_distribution_acc"]
    assert detect.accuracy(model, sets.cross_x, sets.cross_y) == result["cross_generator_acc"]
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in recs].count("epoch") == 10 and recs[-1]["kind"] == "detect"


def test_detect_bad_input(tmp_path, capsys, gan_run):
    assert main(["detect", "--fake", str(tmp_path / "nope"), "--cross", str(gan_run), "--out",
                 str(tmp_path / "o")]) == 2
    assert "--fake" in capsys.readouterr().err
    assert main(["detect", "--fake", str(gan_run), "--cross", str(gan_run), "--epochs", "0", "--out",
                 str(tmp_path / "o")]) == 2
    assert "--epochs: must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
