"""The fit loop: train, evaluate each epoch, call callbacks, log metrics, checkpoint, resume exactly.

Resume is bit-identical because everything a step depends on is saved at step boundaries: weights, optimizer
and scheduler state, the global RNG (dropout, init), the loader's state (its shuffle generator and position),
the epoch's running sums, callbacks' state and the byte length of metrics.jsonl.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from descend import backend
from descend import distributed
from descend.nn.utils import clip_grad_norm_
from descend.ops import tune_heap
from descend._tensor import Tensor, no_grad
from descend.train.callbacks import Callback
from descend.train.checkpoint import Checkpoints, load
from descend.train.evaluation import metric_fn
from descend.train.run import Run

# Schedules defined per optimizer step (the rest step once per epoch).
_PER_BATCH = ("OneCycleLR", "CyclicLR")
_METRICS = ("acc",)


def _correct(out: Tensor, targets: Tensor) -> int:
    """Number of rows whose arg-max equals the integer target."""
    pred = out._data.argmax(axis=-1)
    return int((pred == targets._data).sum())


def _grad_norm(params: list) -> float:
    """Global L2 norm of all gradients (float64 sum, so the metric does not overflow in float16/32)."""
    total = 0.0
    for p in params:
        if p.grad is not None:
            g = p.grad._data
            total += float((g.astype(np.float64) ** 2).sum())
    return math.sqrt(total)


def evaluate(model: Any, loader: Iterable, loss_fn: Callable, metrics: Iterable[Any] = ("acc",)) -> dict:
    """Mean loss (weighted by batch size), accuracy and any other `metrics` (names or callables
    fn(scores, targets) -> float, see train/evaluation.py) of `model` over `loader`, in eval mode, no grad."""
    extra = [metric_fn(m) for m in metrics if m != "acc"]
    scores: list = []
    labels: list = []
    was_training = model.training
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    with no_grad():
        for inputs, targets in loader:
            out = model(inputs)
            n = len(targets)
            loss_sum += float(loss_fn(out, targets).item()) * n
            if "acc" in metrics:
                correct += _correct(out, targets)
            if extra:
                scores.append(backend.to_numpy(out._data))
                labels.append(backend.to_numpy(targets._data))
            count += n
    model.train(was_training)
    logs = {"loss": loss_sum / max(count, 1)}
    if "acc" in metrics:
        logs["acc"] = correct / max(count, 1)
    for name, fn in extra:
        logs[name] = float(fn(np.concatenate(scores), np.concatenate(labels)))
    return logs


class History(list):
    """The epoch logs, a list of dicts; `.history` gives them by key as Keras does
    (`fit(...).history.history["val_loss"]`: one value per epoch)."""

    @property
    def history(self) -> dict[str, list]:
        out: dict[str, list] = {}
        for logs in self:
            for k, v in logs.items():
                if k not in ("step", "epoch"):
                    out.setdefault(k, []).append(v)
        return out

    @property
    def epoch(self) -> list[int]:
        return [logs["epoch"] for logs in self]


class Trainer:
    """Trains `model` with `optimizer` on `train_loader`; see .notes/TRAIN_API.md for the contract."""

    def __init__(self, model: Any, optimizer: Any, train_loader: Any, *, loss_fn: Callable, epochs: int,
                 val_loader: Any = None, scheduler: Any = None, callbacks: Iterable[Callback] = (),
                 clip_grad_norm: float | None = None, accumulate: int = 1, run: Run | None = None,
                 metrics: Iterable[str] = ("acc",), scheduler_interval: str | None = None,
                 ckpt_every: int = 0, keep: int = 3, monitor: str = "val_loss", log_every: int = 1) -> None:
        for m in metrics:  # names or callables; extra metrics are computed on the validation data
            if m not in _METRICS:
                try:
                    metric_fn(m)
                except ValueError as e:
                    raise ValueError(f"Trainer: {e}") from None
        if accumulate < 1:
            raise ValueError(f"Trainer: accumulate must be >= 1, got {accumulate}")
        if scheduler_interval not in (None, "step", "epoch"):
            raise ValueError(f"Trainer: scheduler_interval must be 'step', 'epoch' or None, "
                             f"got {scheduler_interval!r}")
        # A DistributedDataParallel wrapper runs the training forward; callbacks, evaluation and checkpoints
        # see the module inside it, so checkpoints are the same at any world size.
        self._net = model
        if isinstance(model, distributed.DistributedDataParallel):
            model = model.module
        self._world = distributed.world_size()
        self.model, self.optimizer, self.train_loader, self.val_loader = model, optimizer, train_loader, val_loader
        self.loss_fn, self.epochs, self.scheduler = loss_fn, epochs, scheduler
        self.callbacks = list(callbacks)
        self.clip_grad_norm, self.accumulate, self.run = clip_grad_norm, accumulate, run
        self.metrics = tuple(metrics)
        name = type(scheduler).__name__
        self.scheduler_interval = scheduler_interval or ("step" if name in _PER_BATCH else "epoch")
        self.ckpt_every, self.log_every = ckpt_every, log_every
        self.monitor = monitor if val_loader is not None or not monitor.startswith("val_") \
            else "train_" + monitor[4:]
        self.keep = keep
        self.checkpoints = Checkpoints(run.dir / "checkpoints", keep, self.monitor) if run is not None else None
        self.params = [p for g in optimizer.param_groups for p in g["params"]]
        self.step, self.epoch, self.stop_training = 0, 0, False
        self.history = History()
        self.last_batch: tuple | None = None
        self.last_loss: Tensor | None = None
        self._batch = 0  # batches of the current epoch done
        self._sums = [0.0, 0, 0]  # this epoch's loss * n, correct, n
        self._saved_step = -1

    def attach(self, run: Run) -> None:
        """Log to and checkpoint into `run` from now on."""
        self.run = run
        self.checkpoints = Checkpoints(run.dir / "checkpoints", self.keep, self.monitor)

    # --- the loop ---------------------------------------------------------------------------------------
    def fit(self) -> "Trainer":
        """Train until `epochs` are done or a callback sets `stop_training`; returns self."""
        tune_heap()  # freed activations stay in the heap for the next step (descend/ops/_heap.py)
        self._call("on_train_begin")
        self.model.train()
        # Gradients of parameters the optimizer does not hold (frozen ones) are cleared too, as
        # model.zero_grad() would, without walking the module tree every step.
        held = {id(p) for p in self.params}
        others = [p for p in self.model.parameters() if id(p) not in held]
        while self.epoch < self.epochs and not self.stop_training:
            n_batches = len(self.train_loader)
            group: list[float] = []  # this optimizer step's (loss, correct, n) per micro-batch
            for inputs, targets in self.train_loader:  # a resumed loader yields only the epoch's remaining batches
                if not group:
                    self.optimizer.zero_grad()
                    for p in others:
                        p.grad = None
                first = self._batch - self._batch % self.accumulate
                size = min(self.accumulate, n_batches - first)  # the epoch's last group may be shorter
                if len(group) + 1 < size and hasattr(self._net, "no_sync"):  # one average, after the last
                    with self._net.no_sync():
                        group.append(self._forward_backward(inputs, targets, size))
                else:
                    group.append(self._forward_backward(inputs, targets, size))
                self._batch += 1
                if len(group) == size:
                    self._optimizer_step(group)
                    group = []
                    if self.stop_training:
                        break
            else:
                self._end_epoch()
        self._checkpoint()
        self._call("on_train_end", self.history[-1] if self.history else {})
        return self

    def _forward_backward(self, inputs: Any, targets: Any, group_size: int) -> tuple:
        out = self._net(inputs)
        loss = self.loss_fn(out, targets)
        (loss / group_size if group_size > 1 else loss).backward()
        self.last_batch, self.last_loss = (inputs, targets), loss
        n = len(targets)
        correct = _correct(out, targets) if "acc" in self.metrics else 0
        return float(loss.item()), correct, n

    def _optimizer_step(self, group: list[tuple]) -> None:
        if self.clip_grad_norm:
            norm = float(clip_grad_norm_(self.params, self.clip_grad_norm).item())
        else:
            norm = _grad_norm(self.params)
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()
        self.step += 1
        sums = [sum(g[0] * g[2] for g in group), sum(g[1] for g in group), sum(g[2] for g in group)]
        if self._world > 1:  # loss and accuracy over every rank's share of the batch
            sums = distributed.sum_floats(sums)
        loss, n = sums[0] / sums[2], sums[2]
        self._sums[0] += loss * n
        self._sums[1] += sums[1]
        self._sums[2] += n
        logs = {"step": self.step, "epoch": self.epoch, "loss": loss}
        if "acc" in self.metrics:
            logs["acc"] = sums[1] / n
        logs.update(lr=lr, grad_norm=norm)
        self._call("on_step_end", logs)
        if self._world > 1:  # rank 0's callbacks (the doctor) decide for every rank
            self.stop_training = bool(distributed.broadcast_object(self.stop_training))
        if self.run is not None:
            if self.step % self.log_every == 0:
                self._log({"kind": "step", **logs})
            if self.ckpt_every and self.step % self.ckpt_every == 0 and self._batch < len(self.train_loader):
                self._checkpoint()  # at an epoch's last batch the epoch-end checkpoint follows instead

    def _end_epoch(self) -> None:
        loss_sum, correct, n = self._sums
        logs = {"step": self.step, "epoch": self.epoch, "train_loss": loss_sum / max(n, 1)}
        if "acc" in self.metrics:
            logs["train_acc"] = correct / max(n, 1)
        if self.val_loader is not None:
            if self._world > 1 and hasattr(self._net, "sync_buffers"):
                self._net.sync_buffers()  # every rank evaluates with rank 0's running statistics
            logs.update({f"val_{k}": v for k, v in
                         evaluate(self.model, self.val_loader, self.loss_fn, self.metrics).items()})
        logs["lr"] = self.optimizer.param_groups[0]["lr"]
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            if type(self.scheduler).__name__ == "ReduceLROnPlateau":
                self.scheduler.step(logs.get("val_loss", logs["train_loss"]))
            else:
                self.scheduler.step()
        self._call("on_epoch_end", logs)
        if self._world > 1:
            self.stop_training = bool(distributed.broadcast_object(self.stop_training))
        if self.run is not None:
            self._log({"kind": "epoch", **logs})
        self.history.append(logs)
        self.epoch += 1
        self._batch = 0
        self._sums = [0.0, 0, 0]
        self._checkpoint(logs.get(self.monitor))

    def _log(self, record: dict) -> None:
        """Append to metrics.jsonl and, when the run has a TensorBoard writer, to its events."""
        self.run.log(record)
        tb = self.run.tb
        if tb is None:
            return
        if hasattr(tb, "scalars_from_record"):  # descend.report's TBWriter: the project's tag names
            tb.scalars_from_record(record)
            return
        for k, v in record.items():
            if k not in ("kind", "step", "epoch") and isinstance(v, (int, float)):
                tb.add_scalar(f"{record['kind']}/{k}", v, record["step"])

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    # --- state and checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue exactly from here (taken at an optimizer-step boundary)."""
        loader = self.train_loader
        return {
            "step": self.step, "epoch": self.epoch, "batch": self._batch, "sums": list(self._sums),
            "history": self.history,
            "model": dict(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": backend.get_rng_state(),
            "train_loader": loader.state_dict() if hasattr(loader, "state_dict") else None,
            "callbacks": [[type(cb).__name__, cb.state_dict()] for cb in self.callbacks if hasattr(cb, "state_dict")],
            "metrics_offset": self.run.metrics_offset() if self.run is not None else None,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a state from `state_dict` (or a checkpoint file's contents)."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if state["train_loader"] is not None:
            self.train_loader.load_state_dict(state["train_loader"])
        # Matched by class name in order, so callbacks without state (a progress bar) may come and go.
        saved = list(state["callbacks"])
        for cb in self.callbacks:
            if hasattr(cb, "load_state_dict"):
                i = next((i for i, (name, _) in enumerate(saved) if name == type(cb).__name__), None)
                if i is not None:
                    cb.load_state_dict(saved.pop(i)[1])
        backend.set_rng_state(state["rng"])
        self.step, self.epoch, self._batch = state["step"], state["epoch"], state["batch"]
        self._sums = list(state["sums"])
        self.history = History(state["history"])
        self._saved_step = self.step

    def _checkpoint(self, metric: float | None = None) -> Path | None:
        if self.checkpoints is None or self._saved_step == self.step:
            return None
        path = self.checkpoints.save(self.state_dict(), self.step, metric)
        if path is not None:
            self._saved_step = self.step
        else:
            import warnings

            warnings.warn(f"step {self.step}: model weights are not finite; checkpoint not written")
        return path

    def resume(self, path: str | Path) -> "Trainer":
        """Load a checkpoint file (or a run directory's latest checkpoint) to continue training from it."""
        path = Path(path)
        if path.is_dir():
            ckpts = Checkpoints(path / "checkpoints" if (path / "checkpoints").is_dir() else path)
            latest = ckpts.path("latest")
            if latest is None:
                raise FileNotFoundError(f"{path}: no checkpoint recorded in checkpoints/index.json")
            path = latest
        self.load_state_dict(load(path))
        return self


def fit(model: Any, optimizer: Any, train_loader: Any, *, loss_fn: Callable, epochs: int, val_loader: Any = None,
        scheduler: Any = None, callbacks: Iterable[Callback] = (), clip_grad_norm: float | None = None,
        accumulate: int = 1, run: Run | None = None, metrics: Iterable[Any] = ("acc",), verbose: int = 1,
        **options: Any) -> Trainer:
    """Build a Trainer and run it (options: scheduler_interval, ckpt_every, keep, monitor, log_every); returns
    the Trainer, whose `.history.history` holds the epoch metrics by name as Keras's History does.
    verbose=1 shows the progress bar (one line per epoch off a terminal) as `descend train` does; 0: silent."""
    from descend.train.callbacks import ProgressBar

    callbacks = list(callbacks)
    if verbose and distributed.rank() == 0 and not any(isinstance(cb, ProgressBar) for cb in callbacks):
        callbacks.append(ProgressBar())
    trainer = Trainer(model, optimizer, train_loader, loss_fn=loss_fn, epochs=epochs, val_loader=val_loader,
                      scheduler=scheduler, callbacks=callbacks, clip_grad_norm=clip_grad_norm,
                      accumulate=accumulate, run=run, metrics=metrics, **options)
    return trainer.fit()
