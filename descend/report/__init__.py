"""The report layer: run-directory files in and out (metrics, TensorBoard events, images, SVG charts, HTML).

It is fed plain dicts and NumPy arrays and imports nothing of nn, optim or train; tensorboardX and Pillow
are imported only when an event file or a PNG is written.

Modules: metrics.py (metrics.jsonl), tensorboard.py, images.py (grids, PNGs, scatter plots), svg/ (charts),
and for report.html: page.py (the HTML kit), run.py (reading a run directory), sections/ (one module per
section) and html.py (assembling the page).

Run directory (agreed for the whole project)::

    runs/<name>/
      config.toml      resolved config
      meta.json        seed, library versions, platform, command line ("argv"), "created", "resumed"
      metrics.jsonl    one JSON object per line, each with "kind" (str) and "step" (global optimizer step):
        step         {"step", "epoch", "loss", "acc", "lr", "grad_norm"}
        epoch        {"step", "epoch" (0-based), "train_loss", "train_acc", "val_loss", "val_acc", "lr"}
        test         {"step", "test_loss", "test_acc"}
        layers       {"step", "layers": {layer: {"grad_norm", "weight_norm", "update_ratio", ...}}}
                     or {"step", "grad_norm": {layer: v}, "weight_norm": {...}, "update_ratio": {...}}
        activations  {"step", "layers" or "stats": {layer: {"mean", "std", "dead", "saturated", "type"}}}
        gan          {"step", "d_loss", "g_loss", "d_real", "d_fake", "modes", "high_quality", "reverse_kl"}
        lr_find      {"step", "lr", "loss", "smooth_loss"}
        doctor       {"step", "event": "nan" | "rollback", ...}
      diagnosis.json   {"diagnoses": [...], "finished", "step"} or a bare list; each diagnosis has "severity"
                       ("info" | "warning" | "error"), "step", "epoch", "evidence", "suggestion" and its name
                       and headline as "rule"/"message" (or "code"/"title")
      lr_find.json     optional {"lrs", "losses", "smoothed", "suggestion" | "suggested_lr",
                       "diverged_lr" | "divergence_lr", ...}
      samples/         PNG images (sample grids, scatter plots), e.g. step_000500.png
      tb/              TensorBoard event files
      checkpoints/     (the trainer's)
      report.html      the self-contained report written by `build_report`

Non-finite floats are stored in JSON as the strings "NaN", "Infinity", "-Infinity" and read back as floats.

API
    MetricsLog(run_dir).log(record)       append a record to metrics.jsonl (flushed at once); .close()
    read_metrics(run_dir) -> list[dict]   every record, non-finite values restored
    truncate_after(run_dir, step) -> int  drop records with step > `step` (on resume); returns the count
    select(records, kind) -> list[dict]   records of one kind;  last(records, kind) -> dict | None
    series(records, kind, key) -> (steps, values)                      float64 arrays, NaN for null
    layer_series(records, kind, key) -> (steps, layer names, values)   values (layers, steps), masked where
                                                                       a layer has no value
    TBWriter(log_dir, purge_step=None)    .scalar(tag, value, step), .scalars_from_record(record) -> {tag: v},
                                          .image(tag, hwc_uint8, step), .text(tag, s, step), .close();
                                          add_scalar/add_image/add_text aliases; tags in `record_scalars`
    make_grid(images, nrow=8, padding=2, pad_value=0.0, value_range=None) -> uint8 (H, W, 3)
    save_png(path, uint8_image);  png_bytes(uint8_image) -> bytes
    scatter_image(real_xy, fake_xy, modes=None, size=400) -> uint8 (size, size, 3);  scatter_png(path, ...)
    line_chart([Series(name, x, y), ...], title=, xlabel=, ylabel=, logx=, logy=, markers=[Marker(at, label)],
               ylim=) -> "<svg ...>"
    heatmap(values (rows, cols), row_labels, col_values, title=, cbar_label=, log=True) -> "<svg ...>"
    build_report(run_dir, path=None) -> Path   write report.html (`write_report` is the same function)
    plot_lr_find(result_dict, path) -> Path    the LR range-test chart as a standalone SVG file
"""

from descend.report.metrics import (MetricsLog, last, layer_series, read_metrics, select, series,
                                    truncate_after)
from descend.report.tensorboard import TBWriter, record_scalars
from descend.report.images import make_grid, png_bytes, save_png, scatter_image, scatter_png
from descend.report.svg import Marker, Series, heatmap, line_chart
from descend.report.html import build_report, render
from descend.report.sections.lr import lr_find_chart, plot_lr_find

write_report = build_report

__all__ = ["MetricsLog", "Marker", "Series", "TBWriter", "build_report", "heatmap", "last", "layer_series",
           "line_chart", "lr_find_chart", "make_grid", "plot_lr_find", "png_bytes", "read_metrics",
           "record_scalars", "render", "save_png", "scatter_image", "scatter_png", "select", "series",
           "truncate_after", "write_report"]
