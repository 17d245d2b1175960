"""Probes: save/load of tensors, state dicts and nested checkpoints, to paths and file objects."""

import io
import os
import tempfile

from tests.probes.harness import arr, fill, probe, probes, raised


def _roundtrip(torch, obj, use_path=True, **load_kw):
    """Save obj and load it back, through a file path or a BytesIO."""
    if use_path:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "ckpt.pt")
            torch.save(obj, path)
            return torch.load(path, **load_kw)
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, **load_kw)


def _model(torch):
    nn = torch.nn
    torch.manual_seed(0)
    return fill(torch, nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)))


def _trained(torch):
    model = _model(torch)
    # SGD: batch norm cancels the first bias, whose rounding-noise gradient Adam would amplify.
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.tensor(arr(5, 3))
    for _ in range(2):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
    return model, opt


probes("save", {
    "tensor_path": lambda torch: _roundtrip(torch, torch.tensor([1.0, 2.0])),
    "tensor_bytesio": lambda torch: _roundtrip(torch, torch.arange(6).view(2, 3), use_path=False),
    "tensor_dtypes": lambda torch: (
        _roundtrip(torch, [torch.ones(2, dtype=d)
                           for d in (torch.float64, torch.int32, torch.bool, torch.float16)])),
    "tensor_0d": lambda torch: _roundtrip(torch, torch.tensor(3.5)),
    "tensor_requires_grad_kept": lambda torch: (
        _roundtrip(torch, torch.ones(2, requires_grad=True)).requires_grad),
    "tensor_noncontiguous": lambda torch: _roundtrip(torch, torch.arange(6.0).view(2, 3).t()),
    "state_dict": lambda torch: _roundtrip(torch, _model(torch).state_dict()),
    "state_dict_type": lambda torch: type(_roundtrip(torch, _model(torch).state_dict())).__name__,
    "state_dict_bytesio": lambda torch: (
        _roundtrip(torch, _model(torch).state_dict(), use_path=False)),
    "load_into_model": lambda torch: _load_into(torch),
    "load_weights_only_true": lambda torch: (
        _roundtrip(torch, _model(torch).state_dict(), weights_only=True)),
    "load_map_location_cpu": lambda torch: (
        _roundtrip(torch, {"w": torch.ones(2)}, map_location="cpu")),
    "load_map_location_device": lambda torch: (
        _roundtrip(torch, {"w": torch.ones(2)}, map_location=torch.device("cpu"))["w"].device),
    "checkpoint_nested": lambda torch: _checkpoint(torch),
    "checkpoint_plain_values": lambda torch: (
        _roundtrip(torch, {"epoch": 3, "loss": 0.25, "name": "run", "flag": True, "none": None,
                           "hist": [1.0, 2.0], "pair": (1, 2)})),
    "checkpoint_int_keys": lambda torch: _roundtrip(torch, {0: torch.ones(1), 1: "b"}),
    "list_of_tensors": lambda torch: _roundtrip(torch, [torch.ones(2), torch.zeros(3)]),
    "tuple_of_tensors": lambda torch: _roundtrip(torch, (torch.ones(1), torch.zeros(1))),
    "nested_lists": lambda torch: (
        _roundtrip(torch, {"a": [{"b": torch.ones(1)}, [torch.zeros(2)]]})),
    "shared_tensor_stays_shared": lambda torch: (
        _shared_after_load(torch)),
    "optimizer_state_dict": lambda torch: _roundtrip(torch, _trained(torch)[1].state_dict()),
    "optimizer_resume": lambda torch: _opt_resume(torch),
    "scheduler_state_dict": lambda torch: (
        (lambda s: _roundtrip(torch, s.state_dict())["last_epoch"])(_sched(torch))),
    "file_object_open": lambda torch: _file_obj(torch),
    "pathlib_path": lambda torch: _pathlib(torch),
    "bytesio_getvalue_nonempty": lambda torch: (
        (lambda b: (torch.save({"a": torch.ones(1)}, b), len(b.getvalue()) > 0)[1])(io.BytesIO())),
    "load_missing_file": lambda torch: raised(lambda: torch.load("/nonexistent/dir/ckpt.pt")),
    "load_garbage": lambda torch: raised(lambda: torch.load(io.BytesIO(b"not a checkpoint"))),
    "whole_module_weights_only_fails": lambda torch: (
        raised(lambda: _roundtrip(torch, torch.nn.Linear(2, 2), weights_only=True))),
    "custom_object_weights_only_fails": lambda torch: (
        raised(lambda: _roundtrip(torch, {"obj": _Custom()}, weights_only=True))),
    "parameter_saved": lambda torch: (
        type(_roundtrip(torch, torch.nn.Parameter(torch.ones(2)))).__name__),
    "load_state_dict_strict_after_load": lambda torch: (
        _model(torch).load_state_dict(_roundtrip(torch, _model(torch).state_dict())).missing_keys),
    "state_dict_buffers_saved": lambda torch: (
        list(_roundtrip(torch, _trained(torch)[0].state_dict()))),
})


class _Custom:
    pass



def _shared_after_load(torch):
    t = torch.ones(2)
    back = _roundtrip(torch, {"a": t, "b": t})
    return back["a"].data_ptr() == back["b"].data_ptr()


def _partial_load(torch):
    sd = _roundtrip(torch, _model(torch).state_dict())
    result = _model(torch).load_state_dict({k: v for k, v in sd.items() if not k.startswith("3.")},
                                           strict=False)
    return result.missing_keys, result.unexpected_keys


def _load_into(torch):
    src = _model(torch)
    src.eval()
    loaded = _roundtrip(torch, src.state_dict())
    nn = torch.nn
    dst = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    dst.load_state_dict(loaded)
    dst.eval()
    x = torch.tensor(arr(2, 3))
    return dst(x), torch.equal(src(x), dst(x))


def _checkpoint(torch):
    model, opt = _trained(torch)
    ckpt = {"epoch": 2, "model_state_dict": model.state_dict(),
            "optimizer_state_dict": opt.state_dict(), "loss": 0.5}
    back = _roundtrip(torch, ckpt)
    return (list(back), back["epoch"], back["loss"], back["model_state_dict"],
            sorted(back["optimizer_state_dict"]))


def _opt_resume(torch):
    model, opt = _trained(torch)
    back = _roundtrip(torch, {"model": model.state_dict(), "opt": opt.state_dict()})
    model2 = _model(torch)
    opt2 = torch.optim.SGD(model2.parameters(), lr=0.5, momentum=0.1)
    model2.load_state_dict(back["model"])
    opt2.load_state_dict(back["opt"])
    x = torch.tensor(arr(5, 3, seed=4))
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        m(x).pow(2).mean().backward()
        o.step()
    return torch.equal(model[0].weight, model2[0].weight), opt2.param_groups[0]["lr"]


def _sched(torch):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    s = torch.optim.lr_scheduler.StepLR(opt, 2)
    for _ in range(3):
        opt.step()
        s.step()
    return s


def _file_obj(torch):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.pt")
        with open(path, "wb") as f:
            torch.save({"w": torch.ones(2)}, f)
        with open(path, "rb") as f:
            return torch.load(f)


def _pathlib(torch):
    import pathlib
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "m.pt"
        torch.save({"w": torch.arange(3)}, path)
        return torch.load(path, weights_only=True)


@probe("save")
def save_every_epoch_best_idiom(torch):
    model = _model(torch)
    best = None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "best.pt")
        for epoch, val_loss in enumerate([0.9, 0.7, 0.8]):
            if best is None or val_loss < best:
                best = val_loss
                torch.save(model.state_dict(), path)
        model.load_state_dict(torch.load(path, weights_only=True))
    return best, model[3].bias


@probe("save")
def weights_only_false_state_dict(torch):
    # Divergence by design (descend never unpickles): listed in known.py.
    sd = {"w": torch.ones(2)}
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=False)


@probe("save")
def whole_model_save_load(torch):
    # word_language_model saves the whole module; descend refuses by design (known.py).
    model = _model(torch)
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    return type(torch.load(buf, weights_only=False)).__name__


probes("save", {
    "map_location_lambda": lambda torch: (
        _roundtrip(torch, {"w": torch.ones(2)}, map_location=lambda storage, loc: storage)),
    "map_location_dict": lambda torch: (
        _roundtrip(torch, {"w": torch.ones(2)}, map_location={"cuda:0": "cpu"})),
    "load_then_strict_false": lambda torch: _partial_load(torch),
    "bfloat16_tensor": lambda torch: _roundtrip(torch, torch.ones(2, dtype=torch.bfloat16)).dtype,
    "int64_large_values": lambda torch: _roundtrip(torch, torch.tensor([2 ** 40, -3])),
    "empty_tensor": lambda torch: _roundtrip(torch, torch.zeros(0, 3)),
    "float_nan_inf_values": lambda torch: (
        _roundtrip(torch, {"t": torch.tensor([float("nan"), float("inf")]), "f": float("inf")})),
    "string_keys_with_dots": lambda torch: (
        list(_roundtrip(torch, {"a.b": torch.ones(1), "a": {"b": torch.zeros(1)}}))),
})
