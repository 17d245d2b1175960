"""After training: `descend evaluate`, `descend predict` and `descend export`."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from descend import io
from descend.errors import UsageError


def register(sub: Any) -> None:
    """Add the evaluate, predict and export subcommands to the `descend` parser."""
    p = sub.add_parser("evaluate", help="test metrics of a run from its best (or latest) checkpoint",
                       allow_abbrev=False)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--checkpoint", default="best", help="best, latest, or a checkpoint file (default best)")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.set_defaults(func=evaluate)
    p = sub.add_parser("predict", help="class probabilities of a trained run's model on new inputs",
                       allow_abbrev=False)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--data", required=True, metavar="FILE_OR_DIR",
                   help=".npy/.npz/.csv file, folder of images (or of class folders), one image, or x.npy folder")
    p.add_argument("--out", metavar="FILE.csv", help="write index,prediction,p_<class>... (default: a table)")
    p.add_argument("--checkpoint", default="best", help="best, latest, or a checkpoint file (default best)")
    p.add_argument("--batch-size", type=int, default=256)
    p.set_defaults(func=predict)
    p = sub.add_parser("export", help="a trained run's model as ONNX, or its weights as safetensors",
                       allow_abbrev=False)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--format", choices=("onnx", "safetensors"), default="onnx")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--checkpoint", default="best", help="best, latest, or a checkpoint file (default best)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")
    p.set_defaults(func=export)


def _load(args: argparse.Namespace) -> Any:
    from descend.train.loadrun import load_run

    run = load_run(args.run_dir, args.checkpoint)
    for note in run.notes:
        sys.stderr.write(f"warning: {note}\n")
    return run


# --- evaluate --------------------------------------------------------------------------------------------

def _split_loader(cfg: dict) -> tuple[Any, str, Any, Any]:
    """(loader, "test" or "val", the run's Data, loss function): the test set, else the held-out validation."""
    from descend import nn
    from descend.data import DataLoader
    from descend.train import recipe

    data = recipe.load_data(cfg)
    dataset, split = (data.test, "test") if data.test is not None else (data.val, "val")
    if dataset is None:
        raise UsageError(f"the run's data '{cfg['data']['name']}' has no test split and the run held out no "
                         f"validation data (--val-split 0)")
    if data.task == "lm":
        from descend.data.text import lm_loss

        loss_fn = lm_loss
    else:
        loss_fn = nn.CrossEntropyLoss()
    return DataLoader(dataset, batch_size=max(cfg["data"]["batch_size"], 256)), split, data, loss_fn


def evaluate(args: argparse.Namespace) -> int:
    """`descend evaluate RUN_DIR`: loss, accuracy, top-5, per-class P/R/F1, macro-F1, confusion matrix."""
    from descend.train.evaluation import evaluate_classifier
    from descend.train.loop import evaluate as evaluate_loss

    run = _load(args)
    loader, split, data, loss_fn = _split_loader(run.config)
    if data.task == "lm":  # language modelling: loss in nats and bits per character
        loss = evaluate_loss(run.model, loader, loss_fn, ())["loss"]
        result = {"checkpoint": str(run.checkpoint), "step": run.step, f"{split}_loss": loss,
                  f"{split}_bpc": loss / math.log(2)}
        print(json.dumps(result) if args.json else f"{split} {loss / math.log(2):.3f} bits/char  {split} loss "
              f"{loss:.4f}  (checkpoint {run.checkpoint}, step {run.step})")
        return 0
    m = evaluate_classifier(run.model, loader, loss_fn, run.classes)
    result = {"checkpoint": str(run.checkpoint), "step": run.step, "split": split,
              f"{split}_loss": m["loss"], f"{split}_acc": m["acc"], **m}
    print(json.dumps(result) if args.json else text_report(result, split))
    return 0


def text_report(m: dict, split: str) -> str:
    """The evaluate command's console output."""
    name = "test" if split == "test" else "validation"
    head = f"{name} accuracy {100 * m['acc']:.2f}%  {name} loss {m['loss']:.4f}"
    if "top5_acc" in m:
        head += f"  top-5 {100 * m['top5_acc']:.2f}%"
    head += f"  macro-F1 {m['macro_f1']:.4f}  ({m['samples']} samples; checkpoint {m['checkpoint']}, step " \
            f"{m['step']})"
    width = max(len("class"), *(len(c["class"]) for c in m["per_class"]))
    lines = [head, "", f"{'class':<{width}}  precision  recall     f1  support"]
    for c in m["per_class"]:
        lines.append(f"{c['class']:<{width}}  {c['precision']:9.3f}  {c['recall']:6.3f}  {c['f1']:5.3f}  "
                     f"{c['support']:7d}")
    lines += ["", "confusion matrix (rows: true class, columns: predicted)"]
    cm = m["confusion_matrix"]
    cell = max(len(str(v)) for row in cm for v in row) + 1
    lines.append(" " * width + " " + "".join(f"{i:>{cell}}" for i in range(len(cm))))
    for c, row in zip(m["per_class"], cm):
        lines.append(f"{c['class']:<{width}} " + "".join(f"{v:>{cell}}" for v in row))
    if any(c["class"] != str(i) for i, c in enumerate(m["per_class"])):
        lines.append("columns: " + ", ".join(f"{i} {c['class']}" for i, c in enumerate(m["per_class"])))
    return "\n".join(lines)


# --- predict and export ----------------------------------------------------------------------------------

def predict(args: argparse.Namespace) -> int:
    """`descend predict RUN_DIR --data FILE_OR_DIR [--out FILE.csv]`."""
    from descend.train import predict as pred

    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {args.batch_size}")
    run = _load(args)
    x, names = pred.read_inputs(args.data, run.input_shape, run.preprocessing)
    probs = pred.probabilities(run.model, x, args.batch_size)
    if args.out:
        pred.write_csv(args.out, probs, run.classes)
        print(f"{len(probs)} predictions written to {args.out} (checkpoint {run.checkpoint}, step {run.step})")
    else:
        print(pred.table(probs, run.classes, names))
    return 0


def export(args: argparse.Namespace) -> int:
    """`descend export RUN_DIR --format onnx|safetensors --out FILE`."""
    import numpy as np

    from descend import backend
    from descend._tensor import Tensor

    run = _load(args)
    out = Path(args.out)
    if out.is_dir():
        raise UsageError(f"--out {out}: is a directory, expected a file name")
    if args.format == "safetensors":
        tensors = {k: np.ascontiguousarray(backend.to_numpy(v._data if isinstance(v, Tensor) else v))
                   for k, v in run.model.state_dict().items()}
        io.save_safetensors(out, tensors, {"format": "pt"})
        print(f"{len(tensors)} tensors written to {out} (state_dict keys, as PyTorch names them)")
        return 0
    from descend import onnx

    example = Tensor(backend.xp.zeros((1, *run.input_shape), dtype=np.float32))
    try:
        onnx.export(run.model, example, out, input_names=["input"], output_names=["scores"],
                    dynamic_axes={"input": {0: "batch"}, "scores": {0: "batch"}}, opset_version=args.opset)
    except onnx.ExportError as e:
        raise UsageError(" ".join(str(e).split())) from None
    except ImportError as e:
        raise UsageError(f"--format onnx needs the onnx package ({e}); pip install onnx") from None
    print(f"ONNX model written to {out}: input 'input' (batch, {', '.join(map(str, run.input_shape))}), "
          f"output 'scores' (batch, {len(run.classes)}), dynamic batch axis")
    return 0
