"""From a validated config to everything a run needs: data, model, optimizer, schedule, loaders, callbacks.

`prepare(cfg)` checks the data (finite inputs, labels in range) and the model against it (one forward pass on
two samples) before anything is written, raising UsageError with one line naming the file, key or row.
"""

from __future__ import annotations

import difflib
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from descend import backend, models, nn, optim
from descend.data import DataError, DataLoader, Subset, check_data, load_user_data
from descend.optim import lr_scheduler, schedules
from descend._tensor import Tensor, no_grad
from descend.train.callbacks import Callback, EarlyStopping
from descend.errors import UsageError
from descend.train.loop import Trainer

BUILTIN_DATA = ("mnist1d", "fashion-mnist")
MIXTURES = ("ring8", "grid25")


@dataclass
class Data:
    """Datasets of a run and what the model must fit: per-sample input shape and number of classes."""

    label: str
    train: Any
    val: Any
    test: Any
    input_shape: tuple
    num_classes: int
    task: str = "classify"  # or "lm": windows of token ids, num_classes is the vocabulary size
    vocab: Any = None
    classes: list | None = None  # class names where the data has them


@dataclass
class Prepared:
    """Everything built from a config, nothing written yet."""

    cfg: dict
    data: Data
    model: Any
    optimizer: Any
    scheduler: Any
    scheduler_interval: str | None
    train_loader: Any
    val_loader: Any
    test_loader: Any
    loss_fn: Any
    callbacks: list = field(default_factory=list)
    metrics: tuple = ("acc",)

    def trainer(self, run: Any = None, extra_callbacks: list[Callback] = ()) -> Trainer:
        """A Trainer over the prepared pieces (extra callbacks, e.g. a progress bar, run after the config's)."""
        t = self.cfg["train"]
        return Trainer(self.model, self.optimizer, self.train_loader, loss_fn=self.loss_fn, epochs=t["epochs"],
                       val_loader=self.val_loader, scheduler=self.scheduler,
                       callbacks=self.callbacks + list(extra_callbacks),
                       clip_grad_norm=t["clip_grad"] or None, accumulate=t["accumulate"], run=run,
                       scheduler_interval=self.scheduler_interval, ckpt_every=t["ckpt_every"], keep=t["keep"],
                       monitor=t["monitor"], log_every=t["log_every"], metrics=self.metrics)


# --- data ------------------------------------------------------------------------------------------------

def data_label(name: str) -> str:
    """A short name for run directories: 'mnist1d', 'fashion-mnist', or a file's stem."""
    if name.split(":", 1)[0] in BUILTIN_DATA:
        return name.split(":", 1)[0]
    return Path(name.rstrip("/")).stem or "data"


def _arrays(ds: Any) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, labels) of a TensorDataset or a Subset of one."""
    if isinstance(ds, Subset):
        x, y = _arrays(ds.dataset)
        return x[ds.index_array()], y[ds.index_array()]
    arrays = getattr(ds, "arrays", None)
    if arrays is None or len(arrays) != 2:
        raise UsageError(f"dataset {type(ds).__name__}: expected (inputs, labels) arrays")
    return backend.to_numpy(arrays[0]), backend.to_numpy(arrays[1])


def check_arrays(x: np.ndarray, y: np.ndarray, source: str, num_classes: int = 0) -> int:
    """Finite inputs, integer labels in range (descend.data's checks); returns num_classes. UsageError if not."""
    if len(x) == 0:
        raise UsageError(f"{source}: no samples")
    try:
        return check_data(x, y, num_classes or None, source)
    except DataError as e:
        raise UsageError(str(e)) from None


def _user_data(path: Path, cfg: dict) -> Any:
    """A dataset from the user's .npz/.npy/.csv file or image folder."""
    try:
        return load_user_data(path, label=cfg["data"]["label_column"])
    except (DataError, OSError, zipfile.BadZipFile) as e:
        raise UsageError(_one_line(e, path)) from None


def _one_line(e: BaseException, path: Any) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if str(path) in text else f"{path}: {text}"


def load_data(cfg: dict) -> Data:
    """The run's datasets from cfg['data'] (UsageError when missing, corrupt or unusable)."""
    d = cfg["data"]
    name = d["name"]
    kind, _, arg = name.partition(":")
    if kind == "mnist1d":
        from descend.data.mnist1d import MNIST1D

        train, test = MNIST1D(train=True), MNIST1D(train=False)
    elif kind == "fashion-mnist":
        from descend.data.fashion_mnist import FashionMNIST

        try:
            train, test = FashionMNIST(arg or None, train=True), FashionMNIST(arg or None, train=False)
        except (ValueError, OSError) as e:
            raise UsageError(_one_line(e, arg or "fashion-mnist")) from None
    elif kind == "text":
        return _text_data(arg, cfg)
    elif kind in MIXTURES:
        raise UsageError(f"data '{name}' is an unlabelled 2-D Gaussian mixture for GANs (descend gan); "
                         f"descend train needs labelled data: mnist1d, fashion-mnist[:DIR] or a file")
    else:
        path = Path(name)
        if not path.exists():
            if "/" not in name and "." not in name:
                hint = difflib.get_close_matches(name, BUILTIN_DATA + MIXTURES, n=1)
                raise UsageError(f"unknown data '{name}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                                 + "; use mnist1d, fashion-mnist[:DIR], or a .npz/.npy/.csv file or image folder")
            raise UsageError(f"{path}: data file not found")
        train, test = _user_data(path, cfg), None
    x, y = _arrays(train)
    num_classes = check_arrays(x, y, f"{name} (train)", d["num_classes"])
    if test is not None:
        xt, yt = _arrays(test)
        check_arrays(xt, yt, f"{name} (test)", num_classes)
        if xt.shape[1:] != x.shape[1:]:
            raise UsageError(f"{name}: test samples have shape {xt.shape[1:]}, train samples {x.shape[1:]}")
    if num_classes < 2:
        raise UsageError(f"{name}: labels hold a single class ({num_classes - 1}); classification needs >= 2")
    classes = [str(c) for c in getattr(train, "classes", None) or range(num_classes)]
    val = None
    if d["val_split"] > 0:  # validation is always held out of the training set, never the test set
        n_val = max(1, int(round(len(train) * d["val_split"])))
        if n_val >= len(train):
            raise UsageError(f"data.val_split (--val-split) = {d['val_split']} leaves {n_val} of {len(train)} "
                             f"samples for validation; choose a fraction giving at least one sample on each side")
        keep, held = stratified_split(y, n_val, cfg["seed"])
        train, val = Subset(train, keep), Subset(train, held)
    return Data(data_label(name), train, val, test, tuple(x.shape[1:]), num_classes, classes=classes)


def stratified_split(labels: np.ndarray, n_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices), sorted: `n_val` samples drawn at random (seeded) from each class in
    proportion to its size; the rounding remainder goes to the classes with the largest fractional shares."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    share = counts * (n_val / len(labels))
    take = np.floor(share).astype(np.int64)
    for i in np.argsort(-(share - take), kind="stable")[:n_val - int(take.sum())]:
        take[i] += 1
    held = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    held = np.sort(np.concatenate(held))
    mask = np.ones(len(labels), dtype=bool)
    mask[held] = False
    return np.flatnonzero(mask), held


def _text_data(path: str, cfg: dict) -> Data:
    """Character windows of a UTF-8 text for language modelling (descend.data.text)."""
    from descend.data.text import load_text

    context = cfg["data"]["context"]
    try:
        text = load_text(path, context)
    except (DataError, OSError) as e:
        raise UsageError(_one_line(e, path or "text")) from None
    return Data(Path(path).stem or "text", text.train, text.val, None, (context,), len(text.vocab), "lm",
                text.vocab)


# --- model, optimizer, schedule ----------------------------------------------------------------------------

def build_model(cfg: dict, data: Data) -> Any:
    """The configured model, checked with one forward pass on two training samples."""
    name = cfg["model"]["name"]
    try:
        model = models.build(name, data.input_shape, data.num_classes, dropout=cfg["model"]["dropout"])
    except models.ModelError as e:
        raise UsageError(str(e)) from None
    x, _ = _arrays(data.train)
    sample = Tensor(backend.xp.asarray(x[:2].astype(np.float32) if x.dtype.kind != "f" and data.task != "lm"
                                       else x[:2]))
    model.eval()
    try:
        with no_grad():
            out = model(sample)
    except Exception as e:  # any failure here means the model does not fit the data's shape
        raise UsageError(f"model '{name}' does not fit the data '{cfg['data']['name']}' (samples of shape "
                         f"{data.input_shape}, {data.num_classes} classes): {type(e).__name__}: "
                         f"{' '.join(str(e).split())}") from None
    finally:
        model.train()
    want = (2, data.num_classes) if data.task != "lm" else (2, data.input_shape[0], data.num_classes)
    if not isinstance(out, Tensor) or tuple(out.shape) != want:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        what = "class scores" if data.task != "lm" else "next-token scores"
        raise UsageError(f"model '{name}' returns {got} for 2 samples; expected {want} {what} for the data "
                         f"'{cfg['data']['name']}'")
    return model


def build_optimizer(cfg: dict, model: Any) -> Any:
    """The configured optimizer over the model's parameters."""
    o = cfg["optim"]
    params = list(model.parameters())
    if not params:
        raise UsageError(f"model '{cfg['model']['name']}' has no parameters to train")
    common = dict(lr=o["lr"], weight_decay=o["weight_decay"], l1=o["l1"])
    if o["name"] == "adam":
        return optim.Adam(params, **common)
    if o["name"] == "adamw":
        return optim.AdamW(params, **common)
    if o["name"] == "sgd":
        return optim.SGD(params, momentum=o["momentum"], **common)
    if o["name"] == "rmsprop":
        return optim.RMSprop(params, **common)
    return optim.Adagrad(params, **common)


def build_scheduler(cfg: dict, optimizer: Any, steps_per_epoch: int) -> tuple[Any, str | None]:
    """(scheduler or None, 'step' or 'epoch'): per-step schedules are defined in optimizer steps."""
    s, lr = cfg["schedule"], cfg["optim"]["lr"]
    name, warmup = s["name"], s["warmup"]
    total = cfg["train"]["epochs"] * steps_per_epoch
    if warmup and name not in ("none", "cosine"):
        raise UsageError(f"schedule.warmup (--warmup) works with --schedule none or cosine, not '{name}'")
    if warmup >= total and warmup:
        raise UsageError(f"--warmup {warmup} is not shorter than the whole run ({total} steps)")
    if name == "none":
        if not warmup:
            return None, None
        return lr_scheduler.LambdaLR(optimizer, schedules.linear_warmup(1.0, warmup, 1e-3)), "step"
    if name == "cosine":
        end = s["min_lr"] / lr
        if warmup:
            factor = schedules.warmup_cosine(1.0, warmup, total - warmup, start_factor=1e-3, end_value=end)
        else:
            factor = schedules.cosine(1.0, total, end)
        return lr_scheduler.LambdaLR(optimizer, factor), "step"
    if name == "step":
        return lr_scheduler.StepLR(optimizer, s["step_size"], s["gamma"]), "epoch"
    if name == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, s["gamma"]), "epoch"
    if name == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, factor=s["factor"], patience=s["patience"],
                                              min_lr=s["min_lr"]), "epoch"
    peak = s["max_lr"] or lr
    if name == "onecycle":
        return lr_scheduler.OneCycleLR(optimizer, max_lr=peak, total_steps=total, cycle_momentum=False), "step"
    base = s["min_lr"] or peak / 10
    if base >= peak:
        raise UsageError(f"schedule cyclic: min_lr {base} must be below the peak {peak} (schedule.max_lr or lr)")
    return lr_scheduler.CyclicLR(optimizer, base_lr=base, max_lr=peak, step_size_up=2 * steps_per_epoch,
                                 cycle_momentum=False), "step"


def prepare(cfg: dict) -> Prepared:
    """Build and check everything the config describes (seeded; nothing is written)."""
    backend.manual_seed(cfg["seed"])
    data = load_data(cfg)
    model = build_model(cfg, data)
    d = cfg["data"]
    train_loader = DataLoader(data.train, batch_size=d["batch_size"], shuffle=d["shuffle"],
                              generator=cfg["seed"] + 1)
    val_loader = DataLoader(data.val, batch_size=max(d["batch_size"], 256)) if data.val is not None else None
    test_loader = DataLoader(data.test, batch_size=max(d["batch_size"], 256)) if data.test is not None else None
    steps_per_epoch = math.ceil(len(train_loader) / cfg["train"]["accumulate"])
    optimizer = build_optimizer(cfg, model)
    scheduler, interval = build_scheduler(cfg, optimizer, steps_per_epoch)
    t = cfg["train"]
    if t["monitor"].startswith("val_") and val_loader is None and t["early_stopping"]:
        raise UsageError(f"train.monitor = '{t['monitor']}' needs validation data: set --val-split (data.val_split) "
                         f"above 0, or monitor train_loss")
    callbacks: list[Callback] = []
    if t["early_stopping"]:
        callbacks.append(EarlyStopping(monitor=t["monitor"], patience=t["early_stopping"]))
    if data.task == "lm":
        from descend.data.text import TextSamples, lm_loss

        callbacks.append(TextSamples(data.vocab, seed=cfg["seed"]))
        return Prepared(cfg, data, model, optimizer, scheduler, interval, train_loader, val_loader, test_loader,
                        lm_loss, callbacks, metrics=())
    return Prepared(cfg, data, model, optimizer, scheduler, interval, train_loader, val_loader, test_loader,
                    nn.CrossEntropyLoss(), callbacks)
