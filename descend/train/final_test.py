"""The one test evaluation at the end of `descend train`: the model selected on validation data, scored once on
the test set."""

from __future__ import annotations

import json
from typing import Any

from descend import io


def final_test(trainer: Any, prepared: Any, run: Any) -> dict | None:
    """Score the selected model once on the test set (the best checkpoint by validation when there is
    validation data, else the final weights); write evaluation.json and return the "test" record."""
    from descend.train.checkpoint import load
    from descend.train.evaluation import evaluate_classifier
    from descend.train.loop import evaluate as evaluate_loss

    if prepared.test_loader is None:
        return None
    chosen, step = "final weights", trainer.step
    best = trainer.checkpoints.path("best") if trainer.val_loader is not None and trainer.checkpoints else None
    if best is not None and best.is_file():
        state = load(best)
        trainer.model.load_state_dict(state["model"])
        chosen, step = f"best checkpoint by {trainer.monitor} ({best.name})", state["step"]
    if prepared.data.task == "lm":
        m = evaluate_loss(trainer.model, prepared.test_loader, prepared.loss_fn, ())
        return {"kind": "test", "step": trainer.step, "test_loss": m["loss"]}
    m = evaluate_classifier(trainer.model, prepared.test_loader, prepared.loss_fn, prepared.data.classes)
    io.atomic_write_text(run.dir / "evaluation.json", json.dumps(
        {"split": "test", "model": chosen, "checkpoint_step": step, **m}, indent=1) + "\n")
    record = {"kind": "test", "step": trainer.step, "test_loss": m["loss"], "test_acc": m["acc"]}
    if "top5_acc" in m:
        record["test_top5_acc"] = m["top5_acc"]
    record["test_macro_f1"] = m["macro_f1"]
    return record
