"""Classification metrics beyond accuracy: top-k, per-class precision/recall/F1, macro-F1, confusion matrix.

`classification_metrics(scores, targets)` works on plain arrays (class scores or probabilities, integer
labels); `evaluate_classifier(model, loader, loss_fn)` runs the model over a loader first. Metric names for
`fit(metrics=...)` are resolved by `metric_fn`.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import numpy as np

from descend import backend
from descend._tensor import no_grad

METRIC_NAMES = ("acc", "macro_f1", "top5")


def confusion_matrix(pred: np.ndarray, targets: np.ndarray, num_classes: int) -> np.ndarray:
    """counts[true, predicted] (rows: true classes, columns: predictions), int64."""
    return np.bincount(targets * num_classes + pred, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes).astype(np.int64)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b with 0 where b is 0 (scikit-learn's zero_division=0)."""
    return np.divide(a, b, out=np.zeros(len(a)), where=b > 0)


def per_class(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, F1, support) per class from a confusion matrix."""
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    precision, recall = _ratio(tp, cm.sum(axis=0)), _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return precision, recall, f1, support


def top_k_accuracy(scores: np.ndarray, targets: np.ndarray, k: int) -> float:
    """Fraction of samples whose label is among the k highest scores."""
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return float((top == targets[:, None]).any(axis=1).mean())


def macro_f1(scores: np.ndarray, targets: np.ndarray) -> float:
    """Unweighted mean of the per-class F1 over the classes of the score matrix."""
    cm = confusion_matrix(scores.argmax(axis=1), targets, scores.shape[1])
    return float(per_class(cm)[2].mean())


def classification_metrics(scores: np.ndarray, targets: np.ndarray,
                           classes: Sequence[str] | None = None) -> dict:
    """Accuracy, top-5 (more than 5 classes), per-class precision/recall/F1/support, macro-F1, confusion matrix."""
    scores, targets = np.asarray(scores), np.asarray(targets, dtype=np.int64)
    k = scores.shape[1]
    names = list(classes) if classes is not None and len(classes) == k else [str(i) for i in range(k)]
    cm = confusion_matrix(scores.argmax(axis=1), targets, k)
    precision, recall, f1, support = per_class(cm)
    out: dict[str, Any] = {"samples": int(len(targets)), "acc": float(np.trace(cm) / max(len(targets), 1))}
    if k > 5:
        out["top5_acc"] = top_k_accuracy(scores, targets, 5)
    out["macro_f1"] = float(f1.mean())
    out["classes"] = names
    out["per_class"] = [{"class": n, "precision": float(p), "recall": float(r), "f1": float(f),
                         "support": int(s)} for n, p, r, f, s in zip(names, precision, recall, f1, support)]
    out["confusion_matrix"] = cm.tolist()
    return out


def predict_scores(model: Any, loader: Iterable, loss_fn: Callable | None = None) -> tuple:
    """(class scores, targets, mean loss or None) of `model` over `loader`, in eval mode without grad."""
    was_training = model.training
    model.eval()
    scores, targets, loss_sum, count = [], [], 0.0, 0
    try:
        with no_grad():
            for x, y in loader:
                out = model(x)
                if loss_fn is not None:
                    loss_sum += float(loss_fn(out, y).item()) * len(y)
                count += len(y)
                scores.append(backend.to_numpy(out._data).astype(np.float64))
                targets.append(backend.to_numpy(y._data))
    finally:
        model.train(was_training)
    loss = loss_sum / max(count, 1) if loss_fn is not None else None
    return np.concatenate(scores), np.concatenate(targets).astype(np.int64), loss


def evaluate_classifier(model: Any, loader: Iterable, loss_fn: Callable,
                        classes: Sequence[str] | None = None) -> dict:
    """Loss and `classification_metrics` of `model` over `loader`."""
    scores, targets, loss = predict_scores(model, loader, loss_fn)
    return {"loss": loss, **classification_metrics(scores, targets, classes)}


def metric_fn(metric: str | Callable) -> tuple[str, Callable[[np.ndarray, np.ndarray], float]]:
    """(log name, fn(scores, targets) -> float) for a metric name of METRIC_NAMES or a callable."""
    if callable(metric):
        return getattr(metric, "__name__", "metric"), metric
    if metric == "macro_f1":
        return "macro_f1", macro_f1
    if metric == "top5":
        return "top5_acc", lambda s, t: top_k_accuracy(s, t, min(5, s.shape[1]))
    raise ValueError(f"unknown metric {metric!r}; available: {', '.join(METRIC_NAMES)} or a callable "
                     f"fn(scores, targets) -> float")
