"""descend.report: metrics.jsonl, TensorBoard events (read back with TensorBoard's own reader), images, SVG
charts and report.html (checked as text, as parsed HTML and as rendered by a real headless Chromium)."""

import ast
import base64
import io as bytes_io
import json
import math
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from descend import report
from descend.report import (Marker, MetricsLog, Series, TBWriter, build_report, heatmap, layer_series,
                            line_chart, make_grid, read_metrics, record_scalars, save_png, scatter_image,
                            series, truncate_after)
from descend.report import svg as svg_mod
from descend.report.html import SEVERITY_COLOR, TRAIN, VAL
from descend.report.svg import PALETTE

ROOT = Path(__file__).resolve().parents[1]


def strict_json(line):
    """json.loads that refuses NaN/Infinity tokens (what other JSON readers do)."""
    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    return json.loads(line, parse_constant=refuse)


# --- a synthetic run directory ------------------------------------------------------------------------------

DIAGNOSES = [
    {"rule": "dead_relu", "severity": "warning", "step": 60, "epoch": 1,
     "message": "Dead ReLU units in net.1",
     "evidence": "55% of the units of net.1 never fired <script>alert('x')</script> & more",
     "suggestion": "Use LeakyReLU or lower the learning rate."},
    {"rule": "nan_loss", "severity": "error", "step": 90, "epoch": 2, "message": "The loss became NaN",
     "evidence": "loss was NaN at step 90", "suggestion": "Lower the learning rate."},
]


def make_run(d, *, gan=False, diagnoses=DIAGNOSES, lr_find=True):
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    (d / "config.toml").write_text('name = "synthetic"\nseed = 7\n[optim]\nname = "adam"\nlr = 0.001\n')
    (d / "meta.json").write_text(json.dumps({"seed": 7, "versions": {"descend": "0.1.0"}, "platform": "Linux",
                                             "argv": ["descend", "train", "cfg.toml"]}))
    with MetricsLog(d) as log:
        step = 0
        for ep in range(4):
            for _ in range(30):
                step += 1
                loss = 2.0 * math.exp(-step / 40) + 0.1 + 0.02 * rng.standard_normal()
                log.log({"kind": "step", "step": step, "epoch": ep,
                         "loss": float("nan") if step == 90 else loss, "acc": 1 - loss / 2.2,
                         "lr": 1e-3 * min(1.0, step / 20), "grad_norm": 1.0 + rng.random()})
                if step % 10 == 0:
                    log.log({"kind": "layers", "step": step, "epoch": ep, "layers": {
                        f"net.{i}": {"type": "Linear", "grad_norm": 10.0 ** -i, "weight_norm": 2.0 + i,
                                     "update_ratio": 1e-3 * 10.0 ** -i} for i in range(3)}})
                    log.log({"kind": "activations", "step": step, "epoch": ep, "layers": {
                        "net.1": {"type": "ReLU", "mean": 0.25, "std": 0.5, "dead": step / 200},
                        "net.3": {"type": "Tanh", "mean": 0.0, "std": 0.7, "saturated": 0.125}}})
            log.log({"kind": "epoch", "step": step, "epoch": ep, "train_loss": 1.0 / (ep + 1),
                     "train_acc": 0.5 + 0.1 * ep, "val_loss": [0.9, 0.6, 0.4375, 0.5][ep],
                     "val_acc": [0.55, 0.7, 0.8125, 0.79][ep], "lr": 1e-3})
        log.log({"kind": "test", "step": step, "test_loss": 0.45, "test_acc": 0.8734})
        if gan:
            for s in range(100, 1001, 100):
                log.log({"kind": "gan", "step": s, "d_loss": 1.3, "g_loss": 0.8, "d_real": 0.6, "d_fake": 0.4,
                         "modes": s // 125, "high_quality": 0.95, "reverse_kl": 100.0 / s})
    if diagnoses is not None:
        (d / "diagnosis.json").write_text(json.dumps(diagnoses))
    if lr_find:
        lrs = np.geomspace(1e-6, 1, 60)
        losses = [2.3 - 1.5 / (1 + math.exp(-2 * (math.log10(x) + 3))) for x in lrs]
        losses[-1] = "inf"
        (d / "lr_find.json").write_text(json.dumps({"lrs": lrs.tolist(), "losses": losses,
                                                    "suggested_lr": 3e-3, "divergence_lr": 0.5}))
    if gan:
        save_png(d / "samples" / "step_000500.png", make_grid(rng.random((16, 1, 8, 8)), nrow=4))
    return d


class _Collector(HTMLParser):
    """Ids, tags and every URL-bearing attribute of an HTML document."""

    def __init__(self):
        super().__init__()
        self.ids, self.tags, self.urls = [], set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name == "id":
                self.ids.append(value)
            if name in ("src", "href", "xlink:href", "action", "poster", "srcset", "data"):
                self.urls.append((tag, name, value))


def parse(text):
    c = _Collector()
    c.feed(text)
    return c


def assert_self_contained(text):
    c = parse(text)
    for tag, name, value in c.urls:
        assert value.startswith("#") or value.startswith("data:image/png;base64,"), (tag, name, value[:80])
    assert not {"script", "link", "iframe", "object", "embed"} & c.tags
    assert "http://" not in text and "https://" not in text and "@import" not in text
    for m in re.finditer(r"url\(", text):
        assert text[m.end():m.end() + 5] == "data:", text[m.start():m.start() + 60]


# --- metrics.jsonl ------------------------------------------------------------------------------------------


def test_metrics_round_trip_non_finite_as_valid_json(tmp_path):
    records = [
        {"kind": "step", "step": 1, "epoch": 0, "loss": float("nan"), "lr": np.float32(0.5),
         "grad_norm": float("inf")},
        {"kind": "layers", "step": np.int64(2), "grad_norm": {"a": -math.inf, "b": 1.5}, "n": np.arange(3)},
    ]
    with MetricsLog(tmp_path) as log:
        for r in records:
            log.log(r)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2
    parsed = [strict_json(line) for line in lines]  # valid for strict JSON readers
    assert parsed[0]["loss"] == "NaN" and parsed[0]["grad_norm"] == "Infinity"
    back = read_metrics(tmp_path)
    assert math.isnan(back[0]["loss"]) and back[0]["grad_norm"] == math.inf and back[0]["lr"] == 0.5
    assert back[1] == {"kind": "layers", "step": 2, "grad_norm": {"a": -math.inf, "b": 1.5}, "n": [0, 1, 2]}


def test_metrics_flushed_on_each_write(tmp_path):
    log = MetricsLog(tmp_path)
    log.log({"kind": "step", "step": 1, "loss": 0.5})
    assert read_metrics(tmp_path) == [{"kind": "step", "step": 1, "loss": 0.5}]  # before close
    log.close()


def test_read_metrics_bare_nan_tokens_and_cut_last_line(tmp_path):
    # Python's json.dumps default (allow_nan) writes bare NaN/Infinity; a killed writer leaves half a line.
    text = json.dumps({"kind": "step", "step": 1, "loss": float("nan"), "lr": float("-inf")}) + "\n"
    (tmp_path / "metrics.jsonl").write_text(text + '{"kind": "step", "st')
    back = read_metrics(tmp_path)
    assert len(back) == 1 and math.isnan(back[0]["loss"]) and back[0]["lr"] == -math.inf


def test_read_metrics_bad_line_names_file_and_line(tmp_path):
    lines = ['{"kind": "step", "step": 1}', "not json", '{"kind": "step", "step": 2}']
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"metrics\.jsonl:2"):
        read_metrics(tmp_path)
    assert read_metrics(tmp_path / "nothing") == []


@pytest.mark.parametrize("record, match", [
    ({"step": 1}, "kind"), ({"kind": "step"}, "integer 'step'"), ({"kind": "step", "step": 1.5}, "'step'"),
    ({"kind": "step", "step": True}, "'step'"), ({"kind": "step", "step": 1, "x": object()}, "object"),
])
def test_metrics_log_rejects_bad_records(tmp_path, record, match):
    with MetricsLog(tmp_path) as log, pytest.raises((ValueError, TypeError), match=match):
        log.log(record)


def test_truncate_after_equals_uninterrupted_run(tmp_path):
    def records(lo, hi):
        out = []
        for s in range(lo, hi + 1):
            grad_norm = float("nan") if s == 3 else 1.0
            out.append({"kind": "step", "step": s, "loss": 1.0 / s, "grad_norm": grad_norm})
            if s % 4 == 0:
                out.append({"kind": "epoch", "step": s, "epoch": s // 4 - 1, "train_loss": 1.0 / s})
        return out

    with MetricsLog(tmp_path / "a") as log:
        for r in records(1, 12):
            log.log(r)
    with MetricsLog(tmp_path / "b") as log:  # crashed after step 9, last checkpoint at step 6
        for r in records(1, 9):
            log.log(r)
    assert truncate_after(tmp_path / "b", 6) == 4  # steps 7, 8, 9 and the epoch record at 8
    with MetricsLog(tmp_path / "b") as log:
        for r in records(7, 12):
            log.log(r)
    assert (tmp_path / "a" / "metrics.jsonl").read_bytes() == (tmp_path / "b" / "metrics.jsonl").read_bytes()
    assert truncate_after(tmp_path / "missing", 3) == 0


def test_series_and_layer_series_both_layouts():
    recs = [
        {"kind": "step", "step": 1, "loss": 2.0}, {"kind": "step", "step": 2, "loss": None},
        {"kind": "epoch", "step": 2, "train_loss": 1.0},
        {"kind": "layers", "step": 10, "layers": {"a": {"grad_norm": 1.0}, "b": {"grad_norm": float("nan")}}},
        {"kind": "layers", "step": 20, "layers": {"a": {"grad_norm": 3.0}}},
        {"kind": "layers", "step": 30, "grad_norm": {"b": 4.0, "c": 5.0}},
    ]
    x, y = series(recs, "step", "loss")
    assert x.tolist() == [1.0, 2.0] and y[0] == 2.0 and math.isnan(y[1])
    steps, names, v = layer_series(recs, "layers", "grad_norm")
    assert steps.tolist() == [10, 20, 30] and names == ["a", "b", "c"]
    mask = np.ma.getmaskarray(v)
    assert mask.tolist() == [[False, False, True], [False, True, False], [True, True, False]]
    data = np.ma.getdata(v)
    assert data[0, 0] == 1.0 and data[0, 1] == 3.0 and data[1, 2] == 4.0 and data[2, 2] == 5.0
    assert math.isnan(data[1, 0]) and not mask[1, 0]  # a logged NaN is a value, not a missing one


# --- TensorBoard --------------------------------------------------------------------------------------------


def test_tensorboard_read_back_with_tensorboards_reader(tmp_path):
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    from PIL import Image

    expected = {}  # tag -> {step: value}
    records = [
        {"kind": "step", "step": 5, "epoch": 0, "loss": 0.75, "acc": 0.5, "lr": 0.01, "grad_norm": 2.5},
        {"kind": "step", "step": 10, "epoch": 0, "loss": float("nan"), "acc": 0.625, "lr": 0.02,
         "grad_norm": 1.0},
        {"kind": "epoch", "step": 10, "epoch": 0, "train_loss": 0.7, "val_loss": 0.8, "val_acc": 0.6,
         "lr": 0.02},
        {"kind": "layers", "step": 10,
         "layers": {"net.0": {"type": "Linear", "weight": True, "grad_norm": 0.3, "update_ratio": 1e-3}}},
        {"kind": "layers", "step": 15, "grad_norm": {"net.0": 0.25}, "weight_norm": {"net.0": 4.0}},
        {"kind": "activations", "step": 10, "stats": {"net.1": {"mean": 0.1, "std": 0.9, "dead": 0.125}}},
        {"kind": "gan", "step": 20, "d_loss": 1.25, "g_loss": 0.5, "modes": 7},
        {"kind": "test", "step": 20, "test_loss": 0.4, "test_acc": 0.875},
    ]
    image = np.zeros((6, 8, 3), dtype=np.uint8)
    image[:, :, 0] = np.arange(8) * 30
    image[:, :, 1] = (np.arange(6) * 40)[:, None]
    image[2, 3] = (1, 2, 3)
    with TBWriter(tmp_path / "tb") as tb:
        for r in records:
            for tag, v in tb.scalars_from_record(r).items():
                expected.setdefault(tag, {})[r["step"]] = v
        tb.scalar("custom/value", 3.25, 7)
        expected["custom/value"] = {7: 3.25}
        tb.add_scalar("custom/alias", -1.5, 8)  # SummaryWriter's name, used by the trainer
        expected["custom/alias"] = {8: -1.5}
        tb.image("samples", image, 20)
        tb.image("grey", image[:, :, 0], 21)
    want_tags = {"train/loss", "train/acc", "lr", "train/grad_norm", "epoch/train_loss", "epoch/val_loss",
                 "epoch/val_acc", "grad_norm/net.0", "update_ratio/net.0", "weight_norm/net.0",
                 "activations/mean/net.1", "activations/std/net.1", "activations/dead/net.1", "gan/d_loss",
                 "gan/g_loss", "gan/modes", "test/loss", "test/acc", "custom/value", "custom/alias"}
    assert set(expected) == want_tags
    assert expected["lr"] == {5: 0.01, 10: 0.02}  # the epoch record's lr is not written twice

    acc = ea.EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    assert set(acc.Tags()["scalars"]) == want_tags
    for tag, points in expected.items():
        events = acc.Scalars(tag)
        assert [e.step for e in events] == sorted(points), tag
        for e in events:
            want = points[e.step]
            if math.isnan(want):
                assert math.isnan(e.value), tag
            else:
                assert e.value == pytest.approx(want, rel=1e-6), tag  # stored as float32
    assert set(acc.Tags()["images"]) == {"samples", "grey"}
    (ev,) = acc.Images("samples")
    assert (ev.step, ev.width, ev.height) == (20, 8, 6)
    got = np.asarray(Image.open(bytes_io.BytesIO(ev.encoded_image_string)).convert("RGB"))
    np.testing.assert_array_equal(got, image)
    (ev,) = acc.Images("grey")
    got = np.asarray(Image.open(bytes_io.BytesIO(ev.encoded_image_string)).convert("RGB"))
    np.testing.assert_array_equal(got, np.repeat(image[:, :, :1], 3, axis=2))


def test_tensorboard_bad_input(tmp_path):
    pytest.importorskip("tensorboardX")
    with TBWriter(tmp_path) as tb:
        with pytest.raises(ValueError, match=r"'x'.*float64 \(4, 4\)"):
            tb.image("x", np.zeros((4, 4)), 0)
        with pytest.raises(ValueError, match="integer 'step'"):
            tb.scalars_from_record({"kind": "step", "loss": 1.0})
        with pytest.raises(TypeError, match="'t'"):
            tb.scalar("t", "high", 0)


def test_record_scalars_skips_non_numbers():
    tags = record_scalars({"kind": "layers", "step": 1, "layers": {"l": {"type": "ReLU", "weight": True,
                                                                          "grad_norm": 2}}})
    assert tags == {"grad_norm/l": 2.0}


def test_report_imports_without_optional_packages():
    # tensorboardX, Pillow and tensorboard are imported only when used.
    code = ("import sys\nfor m in ('tensorboardX', 'PIL', 'tensorboard', 'torch'): sys.modules[m] = None\n"
            "import descend.report as r\n"
            "try:\n    r.TBWriter('x')\nexcept ImportError as e:\n    print('ImportError', e)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "ImportError TBWriter needs the tensorboardX package" in out.stdout


def test_report_layer_imports_flow_one_way():
    forbidden = ("descend.nn", "descend.optim", "descend.train", "descend.doctor", "descend.gan",
                 "descend.cli", "descend.data", "torch")
    for path in sorted((ROOT / "descend" / "report").rglob("*.py")):  # sections/ and svg/ too
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"


# --- images -------------------------------------------------------------------------------------------------


def test_make_grid_hand_computed_layout():
    # Two 1x1 grey images a, b; nrow=2, padding=1, white padding:
    #   p p p p p
    #   p a p b p
    #   p p p p p
    images = np.array([[[[0.2]]], [[[1.0]]]])  # (N=2, C=1, H=1, W=1) in [0, 1]
    a, b, p = 51, 255, 255  # 0.2 * 255 + 0.5 = 51.5 -> 51
    want = np.array([[p, p, p, p, p], [p, a, p, b, p], [p, p, p, p, p]], dtype=np.uint8)
    got = make_grid(images, nrow=2, padding=1, pad_value=1.0)
    assert got.shape == (3, 5, 3) and got.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(got[:, :, c], want)


def test_make_grid_rows_columns_and_ranges():
    # Five 2x3 RGB images, 3 per row, padding 2, black padding: 2 rows x 3 columns of 4x5 cells + 2.
    n, h, w = 5, 2, 3
    images = np.zeros((n, 3, h, w))
    for k in range(n):
        images[k, 0] = k / 10  # red channel identifies the image
        images[k, 2] = 1.0
    grid = make_grid(images, nrow=3, padding=2)
    assert grid.shape == (2 + 2 * (h + 2), 2 + 3 * (w + 2), 3)
    for k in range(n):
        r, c = divmod(k, 3)
        top, left = 2 + r * (h + 2), 2 + c * (w + 2)
        cell = grid[top:top + h, left:left + w]
        assert (cell[:, :, 0] == math.floor(k / 10 * 255 + 0.5)).all() and (cell[:, :, 2] == 255).all()
    assert (grid[6:8, 17:20] == 0).all()  # the sixth cell is empty padding
    assert (grid[:2] == 0).all() and (grid[:, :2] == 0).all()
    # [-1, 1] (tanh outputs) is recognised from the negative values; (N, H, W) is accepted
    g = make_grid(np.array([[[-1.0, 0.0, 1.0]]]), nrow=1, padding=0)
    assert g[0, :, 0].tolist() == [0, 128, 255]
    g = make_grid(np.array([[[0.0, 0.5, 1.0]]]), nrow=1, padding=0, value_range=(0.0, 2.0))
    assert g[0, :, 1].tolist() == [0, 64, 128]
    with pytest.raises(ValueError, match=r"make_grid.*\(2, 2, 3, 3\)"):
        make_grid(np.zeros((2, 2, 3, 3)))


def test_save_png_round_trip(tmp_path):
    from PIL import Image

    img = (np.arange(4 * 5 * 3) % 256).astype(np.uint8).reshape(4, 5, 3)
    save_png(tmp_path / "sub" / "x.png", img)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "sub" / "x.png")), img)
    with pytest.raises(ValueError, match="uint8"):
        save_png(tmp_path / "y.png", img.astype(np.float32))


def test_scatter_image_places_points():
    modes = np.array([[-1.0, -1.0], [1.0, 1.0]])
    real = np.array([[-1.0, -1.0], [1.0, 1.0]])
    fake = np.array([[1.0, -1.0], [np.nan, 0.0]])  # a NaN sample is left out
    img = scatter_image(real, fake, modes, size=100)
    assert img.shape == (100, 100, 3) and img.dtype == np.uint8
    # The view spans [-1.08, 1.08] on both axes inside a 12-pixel margin; y grows upwards.
    to_px = lambda v: 12 + (v + 1.08) * (100 - 24) / 2.16  # noqa: E731
    fx, fy = int(to_px(1.0)), int(100 - to_px(-1.0))
    patch = img[fy - 2:fy + 3, fx - 2:fx + 3].reshape(-1, 3).astype(float)
    darkest = patch[np.argmin(patch.sum(axis=1))]
    t = (255 - darkest) / (255 - np.array([234, 88, 12]))  # white blended towards the generator's orange
    assert t.min() > 0.5 and t.max() - t.min() < 0.03
    mx, my = round(to_px(-1.0)), round(100 - to_px(-1.0))
    assert tuple(img[my, mx]) == (15, 23, 42) and tuple(img[my, mx + 4]) == (15, 23, 42)  # a mode's +
    assert tuple(img[50, 50]) == (255, 255, 255)


# --- SVG ----------------------------------------------------------------------------------------------------


def test_ticks_and_number_format():
    assert svg_mod.linear_ticks(0.16, 1.44) == [0.25, 0.5, 0.75, 1.0, 1.25]
    assert svg_mod.linear_ticks(0, 480) == [0, 100, 200, 300, 400]
    assert svg_mod.log_ticks(1e-6, 1.0) == [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    assert svg_mod.log_ticks(0.15, 3) == pytest.approx([0.2, 0.5, 1, 2])
    assert [svg_mod.fmt(v) for v in (0, 0.25, 1000, 12000, 2e-5, 1.5e-3, 123456.7)] == \
        ["0", "0.25", "1000", "12k", "2e-5", "0.0015", "1.23e5"]


def _points(svg_text):
    root = ET.fromstring(svg_text)  # well-formed XML: text is escaped
    polylines = [[tuple(map(float, p.split(","))) for p in el.get("points").split()]
                 for el in root.iter("polyline")]
    return root, polylines


def test_line_chart_gaps_markers_and_escaping():
    x = np.arange(10.0)
    y = np.array([1, 2, 3, np.nan, 5, 6, np.inf, 8, 9, 10.0])
    text = line_chart([Series("loss <&> 'q'", x, y, "#123456")], title="A & B", xlabel="step", ylabel="loss",
                      markers=[Marker(4.5, "half", "#ff0000"), Marker(99, "outside")])
    root, lines = _points(text)
    assert [len(p) for p in lines] == [3, 2, 3]  # split at the NaN and the inf
    assert "loss &lt;&amp;&gt; &#x27;q&#x27; (2 non-finite not drawn)" in text
    xs = [p[0] for seg in lines for p in seg]
    marker = [el for el in root.iter("line") if el.get("stroke") == "#ff0000"]
    assert len(marker) == 1
    mx = float(marker[0].get("x1"))
    assert mx == pytest.approx((min(xs) + max(xs)) / 2, abs=0.02)  # x = 4.5 is halfway from 0 to 9
    assert "outside" not in text
    ys = [p[1] for p in lines[0]]
    assert ys[0] > ys[1] > ys[2]  # larger values are higher up (smaller SVG y)


def test_line_chart_log_axes_and_empty():
    text = line_chart([Series("lr", [1e-5, 1e-3, 1e-1], [1.0, 0.0, -2.0])], logx=True, logy=True,
                      markers=[Marker(1e-3, "suggested")])
    root, lines = _points(text)
    # y <= 0 cannot sit on a log axis: one point remains, drawn as a dot
    assert lines == [] and len(list(root.iter("circle"))) == 1
    _, lines = _points(line_chart([Series("a", [1e-4, 1e-2, 1.0], [1.0, 2.0, 3.0])], logx=True))
    (xs,) = [[p[0] for p in seg] for seg in lines]
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.02)  # equal decades, equal distances
    for empty in ([], [Series("a", [], [])], [Series("a", [1.0], [np.nan])]):
        assert "No data" in line_chart(empty, title="t")
    with pytest.raises(ValueError, match="'a' has 2 x values and 1 y values"):
        line_chart([Series("a", [1, 2], [1])])


def test_line_chart_constant_series_sits_mid_axis_on_its_own_ticks():
    # A constant learning rate of 0.01: the axis spans 0.01 ± 10 % with 0.01 labelled, the line in the middle.
    text = line_chart([Series("lr", [1, 2, 3], [0.01, 0.01, 0.01])], ylabel="lr")
    root, (line,) = _points(text)
    labels = [el.text for el in root.iter("text")]
    assert "0.01" in labels and "0.009" in labels and "0.011" in labels and "0" not in labels
    ticks = {el.text: float(el.get("y")) for el in root.iter("text") if el.text in ("0.009", "0.01", "0.011")}
    assert ticks["0.01"] == pytest.approx((ticks["0.009"] + ticks["0.011"]) / 2, abs=1)
    assert [y for _, y in line] == [pytest.approx(ticks["0.01"], abs=6)] * 3  # labels' baselines sit lower


def test_heatmap_colours_missing_and_non_finite():
    values = np.ma.MaskedArray([[1e-4, 1e-2, np.nan], [1.0, 0.0, 1e-3]],
                               mask=[[False, False, False], [False, False, True]])
    text = heatmap(values, ["net.0.weight", "net<2>"], [10, 20, 30], title="grads", cbar_label="L2 norm")
    root = ET.fromstring(text)
    cells = {}
    for el in root.iter("rect"):
        title = el.find("title")
        if title is not None:
            cells[title.text] = el.get("fill")
    assert cells["net.0.weight, step 10: 1e-4"] == svg_mod.viridis(0.0) == "#440154"  # smallest
    assert cells["net<2>, step 10: 1"] == svg_mod.viridis(1.0) == "#fde725"  # largest
    assert cells["net.0.weight, step 20: 0.01"] == svg_mod.viridis(0.5)  # halfway in log10
    assert cells["net.0.weight, step 30: NaN / inf"] == svg_mod.NONFINITE
    assert cells["net<2>, step 20: <= 0"] == svg_mod.ZERO
    assert cells["net<2>, step 30: no value"] == svg_mod.MISSING
    assert "net&lt;2&gt;" in text and "L2 norm" in text
    with pytest.raises(ValueError, match=r"\(2, 3\).*3 row labels"):
        heatmap(values, ["a", "b", "c"], [1, 2, 3])
    assert "No data" in heatmap(np.zeros((0, 0)), [], [])


def test_heatmap_merges_many_columns():
    v = np.tile(np.geomspace(1e-3, 1.0, 1000), (2, 1))
    v[1, 500] = np.inf
    root = ET.fromstring(heatmap(v, ["a", "b"], np.arange(1000)))
    fills = [el.get("fill") for el in root.iter("rect") if el.find("title") is not None]
    assert len(fills) == 2 * svg_mod.MAX_COLUMNS
    assert fills[svg_mod.MAX_COLUMNS:].count(svg_mod.NONFINITE) == 1  # the inf survives the merge


def test_plot_lr_find_standalone_svg(tmp_path):
    result = {"lrs": [1e-5, 1e-4, 1e-3, 1e-2], "losses": [2.0, 1.5, 1.0, "inf"],
              "smoothed": [2.0, 1.8, 1.4, "nan"], "suggestion": 1e-3, "diverged_lr": 1e-2}
    path = report.plot_lr_find(result, tmp_path / "lr_find.svg")
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = path.read_text()
    assert "suggested 0.001" in text and "diverged 0.01" in text


# --- report.html --------------------------------------------------------------------------------------------


def test_report_sections_values_and_no_external_urls(tmp_path):
    run = make_run(tmp_path / "run", gan=True)
    path = build_report(run)
    assert path == run / "report.html"
    text = path.read_text()
    c = parse(text)
    assert c.ids == ["summary", "diagnoses", "curves", "lr", "gradients", "activations", "samples"]
    assert_self_contained(text)
    # summary: config, seed, final and best metrics
    for want in ("87.34%", "81.25%", "epoch 3", "0.4375", "synthetic", "descend train cfg.toml", "Seed"):
        assert want in text, want
    # diagnoses: escaped, severity colours, sorted error first, with step and suggestion
    assert "<script>" not in text and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in text
    assert text.index("The loss became NaN") < text.index("Dead ReLU units in net.1")
    assert SEVERITY_COLOR["error"] in text and SEVERITY_COLOR["warning"] in text
    assert "since step 60" in text and "Use LeakyReLU or lower the learning rate." in text
    assert "1 error, 1 warning" in text
    # curves, lr, gradients, activations, samples
    assert "Loss per epoch" in text and "Training loss per step" in text and "best val loss (epoch 3)" in text
    assert "LR range test" in text and "Suggested learning rate: 0.003" in text
    assert "diverged at learning rate 0.5" in text
    assert "Gradient norm per layer" in text and "Update-to-weight ratio per layer" in text
    assert "net.2" in text and "1.000e-05" in text  # last update ratio of net.2
    assert "Dead units" in text and "60.00%" in text and "12.50%" in text
    assert "Modes covered" in text and "step 500" in text
    png = (run / "samples" / "step_000500.png").read_bytes()
    assert "data:image/png;base64," + base64.b64encode(png).decode() in text


def test_report_empty_and_partial_runs_say_what_is_missing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    text = build_report(empty).read_text()
    c = parse(text)
    assert c.ids == ["summary", "diagnoses", "curves", "lr", "gradients", "activations"]  # no samples
    assert_self_contained(text)
    for want in ("No metrics.jsonl", "No config.toml", "No meta.json", "No diagnosis.json",
                 "No training curves", "No learning rates", "No LR range test", "No gradient statistics",
                 "No activation statistics"):
        assert want in text, want

    steps_only = tmp_path / "steps"
    with MetricsLog(steps_only) as log:
        for s in range(1, 6):
            log.log({"kind": "step", "step": s, "loss": float("nan") if s == 5 else 1.0 / s, "lr": 0.1})
    (steps_only / "diagnosis.json").write_text(json.dumps({"diagnoses": [], "finished": True, "step": 5}))
    text = build_report(steps_only).read_text()
    assert "No problems detected" in text and "No epoch records (kind &quot;epoch&quot;)" in text
    assert "Training loss per step" in text and "(1 non-finite not drawn)" in text
    assert "No gradient statistics" in text and "Learning-rate schedule" in text

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "metrics.jsonl").write_text("{}\n[1, 2]\n{}\n")
    (broken / "config.toml").write_text("this is = = not toml")
    (broken / "diagnosis.json").write_text("{")
    text = build_report(broken).read_text()
    assert "metrics.jsonl could not be read" in text and "config.toml could not be read" in text
    assert "diagnosis.json could not be read" in text
    (broken / "diagnosis.json").write_text('{"rule": "x"}')
    assert "expected a list of diagnoses" in build_report(broken).read_text()
    with pytest.raises(FileNotFoundError, match="nowhere"):
        build_report(tmp_path / "nowhere")


def test_report_reads_the_doctors_diagnosis_file_and_lr_find_records(tmp_path):
    run = make_run(tmp_path / "run", diagnoses=None, lr_find=False)
    (run / "diagnosis.json").write_text(json.dumps({"diagnoses": [
        {"code": "plateau", "title": "Loss plateau", "severity": "info", "step": None, "epoch": None,
         "evidence": "flat for 200 steps", "suggestion": "decay the LR", "values": {}}],
        "finished": False, "step": 120}))
    with MetricsLog(run) as log:
        for i, lr in enumerate(np.geomspace(1e-5, 1e-1, 30)):
            log.log({"kind": "lr_find", "step": i, "lr": lr, "loss": 2.0 - i / 30,
                     "smooth_loss": 2.0 - i / 31})
    text = build_report(run).read_text()
    assert "Loss plateau" in text and "rule plateau" in text and "decay the LR" in text
    assert "LR range test" in text and "No LR range test" not in text
    assert "No problems detected" not in text and "1 info" in text


def make_gan_run(d):
    """A GAN run as `descend gan` leaves it: a [gan] config table, gan records only, samples, a diagnosis."""
    d.mkdir(parents=True)
    (d / "config.toml").write_text('seed = 0\n[gan]\nloss = "non_saturating"\n[optim]\nlr_g = 0.0005\n')
    with MetricsLog(d) as log:
        for s in range(10, 31, 10):
            log.log({"kind": "gan", "step": s, "d_loss": 1.38, "g_loss": 0.69, "d_real": 0.5, "d_fake": 0.5,
                     "modes": 0, "high_quality": 0.0, "reverse_kl": float("inf")})
    (d / "diagnosis.json").write_text(json.dumps({"diagnoses": [], "finished": True, "step": 30}))
    save_png(d / "samples" / "step_000030.png", make_grid(np.zeros((4, 1, 8, 8)), nrow=2))
    return d


NOT_APPLICABLE = ("No training curves", "No epoch records", "No step records", "No learning rates",
                  "No LR range test", "No gradient statistics", "No per-layer statistics",
                  "No activation statistics", "No data")


def test_report_leaves_out_sections_that_do_not_apply_to_a_gan_run(tmp_path):
    text = build_report(make_gan_run(tmp_path / "gan")).read_text()
    c = parse(text)
    assert c.ids == ["summary", "diagnoses", "samples"]
    assert all(f'href="#{sid}"' in text for sid in c.ids) and 'href="#curves"' not in text
    for placeholder in NOT_APPLICABLE:
        assert placeholder not in text, placeholder
    assert "Final D loss" in text and "No problems detected" in text and "Modes covered" in text
    # reverse KL is inf at every step: said in words, not drawn as an empty chart
    assert "Reverse KL to the mode distribution: not finite at any of the 3 logged steps" in text
    assert_self_contained(text)
    # a GAN run that stopped before its first record is still known by its config
    early = tmp_path / "early"
    early.mkdir()
    shutil.copy(tmp_path / "gan" / "config.toml", early / "config.toml")
    assert parse(build_report(early).read_text()).ids == ["summary", "diagnoses"]
    # a GAN run that did log learning rates and gradient norms keeps those sections
    with MetricsLog(tmp_path / "gan") as log:
        log.log({"kind": "layers", "step": 30, "layers": {"G.0": {"grad_norm": 0.5, "update_ratio": 1e-3}}})
    assert parse(build_report(tmp_path / "gan").read_text()).ids == ["summary", "diagnoses", "gradients",
                                                                      "samples"]


def test_report_of_a_diffusion_run_draws_its_loss_and_nothing_empty(tmp_path):
    run = tmp_path / "diffusion"
    run.mkdir()
    (run / "config.toml").write_text('seed = 0\n[diffusion]\ntimesteps = 50\n')
    with MetricsLog(run) as log:
        for s in (5, 10, 15):
            log.log({"kind": "gan", "step": s, "loss": 1.0 / s, "modes": s // 5})
    text = build_report(run).read_text()
    assert parse(text).ids == ["summary", "diagnoses", "samples"]
    assert 'aria-label="Losses"' in text and ">loss<" in text and 'aria-label="Modes covered"' in text
    for placeholder in NOT_APPLICABLE:
        assert placeholder not in text, placeholder


def test_report_of_a_train_run_keeps_every_section(tmp_path):
    text = build_report(make_run(tmp_path / "run")).read_text()
    assert parse(text).ids == ["summary", "diagnoses", "curves", "lr", "gradients", "activations"]
    assert 'href="#activations"' in text and 'href="#samples"' not in text
    for placeholder in NOT_APPLICABLE:
        assert placeholder not in text, placeholder
    # a classifier run without doctor statistics still says what is missing rather than hiding it
    bare = tmp_path / "bare"
    with MetricsLog(bare) as log:
        log.log({"kind": "step", "step": 1, "loss": 1.0})
    text = build_report(bare).read_text()
    assert parse(text).ids == ["summary", "diagnoses", "curves", "lr", "gradients", "activations"]
    for want in ("No learning rates", "No gradient statistics", "No activation statistics"):
        assert want in text, want


def _find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_report_renders_in_headless_chromium(tmp_path):
    chromium = _find_chromium()
    if chromium is None:
        pytest.skip("no chromium binary found")
    from PIL import Image

    run = make_run(tmp_path / "run", gan=True)
    page = build_report(run)
    shot = tmp_path / "shot.png"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,2400",
           page.resolve().as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert shot.exists(), out.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert img.shape == (2400, 1280, 3)
    q = img // 8  # 32 levels per channel, packed into one integer per pixel
    colours = np.unique(q[:, :, 0] * 1024 + q[:, :, 1] * 32 + q[:, :, 2])
    assert len(colours) > 200  # text, charts, cards: not a blank or single-colour page
    brightness = img.sum(axis=2)
    assert (brightness < 3 * 250).mean() > 0.25  # not a white page: the page background is drawn
    assert (brightness < 500).mean() > 0.04  # and ink: text, lines, the header
    train = np.array([int(TRAIN[i:i + 2], 16) for i in (1, 3, 5)])
    near_train = (np.abs(img - train).sum(axis=2) < 24).sum()
    assert near_train > 200  # the training curves are drawn
    header = np.array([0x0F, 0x17, 0x2A])
    assert (np.abs(img[:60] - header).sum(axis=2) < 6).mean() > 0.5  # the dark header band


# --- the "done when", on a real default run --------------------------------------------------------------


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """A real `descend train` with the default config (MNIST-1D CNN, Adam, the doctor on), two epochs."""
    out = tmp_path_factory.mktemp("default")
    cmd = [sys.executable, "-m", "descend", "train", "--epochs", "2", "--out", str(out), "--quiet"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def test_default_run_report_has_every_section_with_content(default_run):
    text = (default_run / "report.html").read_text()
    assert parse(text).ids == ["summary", "diagnoses", "curves", "evaluation", "lr", "gradients", "activations",
                               "model"]
    assert "5,210 parameters" in text[text.index('id="model"'):]  # the paper's CNN
    assert_self_contained(text)
    evaluation = text[text.index('id="evaluation"'):text.index('id="lr"')]
    assert "Confusion matrix" in evaluation and "<svg" in evaluation and "macro-F1" in evaluation
    kinds = {json.loads(line)["kind"] for line in (default_run / "metrics.jsonl").read_text().splitlines()}
    assert {"step", "epoch", "layers", "activations", "test"} <= kinds
    for missing in ("No metrics.jsonl", "No diagnosis.json", "No training curves", "No epoch records",
                    "No learning rates", "No gradient statistics", "No activation statistics"):
        assert missing not in text, missing
    curves = text[text.index('id="curves"'):text.index('id="lr"')]
    assert "Loss per epoch" in curves and "Accuracy per epoch" in curves
    assert ">train<" in curves and ">validation<" in curves  # train against validation
    assert "Learning-rate schedule" in text[text.index('id="lr"'):text.index('id="gradients"')]
    gradients = text[text.index('id="gradients"'):text.index('id="activations"')]
    assert "Gradient norm per layer" in gradients and all(f">{n}<" in gradients for n in ("conv1", "conv3"))
    activations = text[text.index('id="activations"'):]
    assert "Mean activation" in activations and "conv1.relu" in activations  # the CNN's functional ReLUs
    diagnoses = text[text.index('id="diagnoses"'):text.index('id="curves"')]
    assert "No problems detected" in diagnoses  # a healthy run: the doctor checked it and found nothing


def test_default_run_report_renders_in_headless_chromium(default_run, tmp_path):
    chromium = _find_chromium()
    if chromium is None:
        pytest.skip("no chromium binary found")
    from PIL import Image

    shot = tmp_path / "shot.png"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,4400",
           (default_run / "report.html").resolve().as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert shot.exists(), out.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)

    def near(hex_colour, tol=24):
        rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
        return int((np.abs(img - rgb).sum(axis=2) < tol).sum())

    assert near(TRAIN) > 500 and near(VAL) > 200  # training and validation curves are drawn
    assert near("#fde725", 30) > 100 and near("#440154", 30) > 100  # the heat-map's (and colour bar's) ends
    assert near(PALETTE[2]) > 100  # a third series: the per-layer lines (update ratio, activations)
    rows = np.flatnonzero((np.abs(img - np.array([255, 255, 255])).sum(axis=2) > 30).any(axis=1))
    assert rows.max() > 3000  # drawn all the way down to the activation section, not cut off


def test_default_run_tensorboard_holds_every_logged_scalar(default_run):
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    expected: dict = {}  # tag -> {step: value}, from every record of metrics.jsonl
    for line in (default_run / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        for tag, v in record_scalars(record).items():
            assert record["step"] not in expected.get(tag, {}), (tag, record["step"])
            expected.setdefault(tag, {})[record["step"]] = v
    assert any(t.startswith("grad_norm/") for t in expected)
    assert any(t.startswith("activations/") for t in expected)
    acc = ea.EventAccumulator(str(default_run / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    assert set(acc.Tags()["scalars"]) == set(expected)
    for tag, points in expected.items():
        events = acc.Scalars(tag)
        assert [e.step for e in events] == sorted(points), tag
        for e in events:
            assert e.value == pytest.approx(points[e.step], rel=1e-6, abs=1e-30), tag  # stored as float32
