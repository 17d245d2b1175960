"""The optimizers and schedulers added for PyTorch parity, run side by side with torch.optim.

Same initial parameters, data and loss in float64 in both frameworks; after 100 steps the parameters (or the
lr sequence) must agree to rounding.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import descend
from descend import optim
from descend.optim import lr_scheduler as dsched

torch = pytest.importorskip("torch")

_rng = np.random.default_rng(7)
X = _rng.standard_normal((32, 4))
Y = _rng.standard_normal((32, 1))
INIT = [_rng.standard_normal((8, 4)) * 0.5, _rng.standard_normal(8) * 0.1, _rng.standard_normal((1, 8)) * 0.5]


def d_params() -> list:
    return [descend.tensor(a, dtype=np.float64, requires_grad=True) for a in INIT]


def t_params() -> list:
    return [torch.tensor(a, requires_grad=True) for a in INIT]


def d_loss(p: list, step: int):
    rows = slice((step * 8) % 32, (step * 8) % 32 + 8)
    x, y = descend.tensor(X[rows], dtype=np.float64), descend.tensor(Y[rows], dtype=np.float64)
    h = (x @ p[0].T + p[1]).tanh()
    return ((h @ p[2].T - y) ** 2).mean()


def t_loss(p: list, step: int):
    rows = slice((step * 8) % 32, (step * 8) % 32 + 8)
    x, y = torch.tensor(X[rows]), torch.tensor(Y[rows])
    h = (x @ p[0].T + p[1]).tanh()
    return ((h @ p[2].T - y) ** 2).mean()


def run(opt, params, loss_fn, steps: int = 100, sched=None) -> None:
    for step in range(steps):
        opt.zero_grad()
        loss_fn(params, step).backward()
        opt.step()
        if sched is not None:
            sched.step()


def assert_close(dp, tp, rtol=1e-9, atol=1e-11) -> None:
    for d, t in zip(dp, tp):
        np.testing.assert_allclose(d.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)


CASES = [
    ("Adadelta", {}),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True, lr=0.1)),
    ("Adamax", dict(lr=1e-2)),
    ("Adamax", dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adamax", dict(lr=1e-3, maximize=True)),
    ("NAdam", dict(lr=1e-2)),
    ("NAdam", dict(lr=1e-2, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=1e-3, maximize=True)),
    ("RAdam", dict(lr=1e-2)),
    ("RAdam", dict(lr=1e-2, betas=(0.8, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=1e-3, maximize=True)),
    ("ASGD", dict(lr=1e-2)),
    ("ASGD", dict(lr=5e-2, lambd=1e-3, alpha=0.5, t0=20, weight_decay=0.01)),
    ("ASGD", dict(lr=1e-3, maximize=True)),
    # The switches that select PyTorch kernels are accepted (and change nothing) on every optimizer.
    ("SGD", dict(lr=0.1, momentum=0.9, maximize=False, foreach=False, differentiable=False)),
    ("SGD", dict(lr=1e-3, maximize=True)),
    ("Adam", dict(lr=1e-2, foreach=True, capturable=False, differentiable=False)),
    ("Adam", dict(lr=1e-3, maximize=True)),
    ("AdamW", dict(lr=1e-2, foreach=False, maximize=True)),
    ("RMSprop", dict(lr=1e-3, foreach=False, maximize=True, capturable=False)),
    ("Adagrad", dict(lr=1e-2, foreach=False, maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_optimizer_matches_torch_for_100_steps(name, kwargs):
    dp, tp = d_params(), t_params()
    dopt, topt = getattr(optim, name)(dp, **kwargs), getattr(torch.optim, name)(tp, **kwargs)
    run(dopt, dp, d_loss)
    run(topt, tp, t_loss)
    assert_close(dp, tp)
    moved = max(float(np.abs(d.detach().numpy() - a).max()) for d, a in zip(dp, INIT))
    assert moved > 1e-3  # the check above compares moving parameters


@pytest.mark.parametrize("name,kwargs", [("NAdam", dict(lr=1e-2)), ("ASGD", dict(lr=1e-2, t0=5)),
                                         ("RAdam", dict(lr=1e-2)), ("Adadelta", {}), ("Adamax", {})])
def test_state_dict_matches_torch(name, kwargs):
    dp, tp = d_params(), t_params()
    dopt, topt = getattr(optim, name)(dp, **kwargs), getattr(torch.optim, name)(tp, **kwargs)
    run(dopt, dp, d_loss, 12)
    run(topt, tp, t_loss, 12)
    ds, ts = dopt.state_dict(), topt.state_dict()
    assert set(ts["param_groups"][0]) <= set(ds["param_groups"][0])
    for i in ts["state"]:
        assert set(ts["state"][i]) == set(ds["state"][i]), name
        for k, v in ts["state"][i].items():
            np.testing.assert_allclose(np.asarray(ds["state"][i][k], dtype=np.float64),
                                       v.detach().double().numpy() if hasattr(v, "detach") else v,
                                       rtol=1e-7, atol=1e-12, err_msg=f"{name} {k}")
    # A fresh optimizer loaded from the state continues exactly as the original.
    dp2 = [descend.tensor(p.detach().numpy(), dtype=np.float64, requires_grad=True) for p in dp]
    dopt2 = getattr(optim, name)(dp2, **kwargs)
    dopt2.load_state_dict(ds)
    run(dopt, dp, d_loss, 5)
    run(dopt2, dp2, d_loss, 5)
    assert_close(dp2, [descend.tensor(p.detach().numpy()) for p in dp], rtol=0, atol=0)


@pytest.mark.parametrize("kwargs", [dict(lr=1.0, max_iter=5), dict(lr=1.0, max_iter=4, history_size=3),
                                    dict(lr=1.0, max_iter=6, line_search_fn="strong_wolfe")])
def test_lbfgs_matches_torch(kwargs):
    dp, tp = d_params(), t_params()
    dopt, topt = optim.LBFGS(dp, **kwargs), torch.optim.LBFGS(tp, **kwargs)
    d_losses, t_losses = [], []
    for step in range(10):
        def d_closure():
            dopt.zero_grad()
            loss = d_loss(dp, 0)
            loss.backward()
            return loss

        def t_closure():
            topt.zero_grad()
            loss = t_loss(tp, 0)
            loss.backward()
            return loss

        d_losses.append(dopt.step(d_closure).item())
        t_losses.append(topt.step(t_closure).item())
    np.testing.assert_allclose(d_losses, t_losses, rtol=1e-7)
    assert_close(dp, tp, rtol=1e-6, atol=1e-8)
    assert t_losses[-1] < 0.5 * t_losses[0]  # it did optimise
    ds, ts = dopt.state_dict(), topt.state_dict()
    assert ds["state"][0]["func_evals"] == ts["state"][0]["func_evals"]
    assert ds["state"][0]["n_iter"] == ts["state"][0]["n_iter"]


def test_lbfgs_strong_wolfe_zoom_matches_torch_on_rosenbrock(monkeypatch):
    import descend.optim.lbfgs as lbfgs
    zooms = []
    original = lbfgs._zoom
    monkeypatch.setattr(lbfgs, "_zoom", lambda *a, **k: zooms.append(1) or original(*a, **k))
    x0 = np.array([-1.2, 1.0, 0.3, 0.8, -0.5])

    def rosenbrock(x):
        return ((1 - x[:-1]) ** 2).sum() + (100 * (x[1:] - x[:-1] ** 2) ** 2).sum()

    dx, tx = descend.tensor(x0, dtype=np.float64, requires_grad=True), torch.tensor(x0, requires_grad=True)
    dopt = optim.LBFGS([dx], lr=0.3, max_iter=10, line_search_fn="strong_wolfe")
    topt = torch.optim.LBFGS([tx], lr=0.3, max_iter=10, line_search_fn="strong_wolfe")
    for _ in range(6):
        def d_closure():
            dopt.zero_grad()
            loss = rosenbrock(dx)
            loss.backward()
            return loss

        def t_closure():
            topt.zero_grad()
            loss = rosenbrock(tx)
            loss.backward()
            return loss

        assert dopt.step(d_closure).item() == pytest.approx(topt.step(t_closure).item(), rel=1e-10)
    np.testing.assert_allclose(dx.detach().numpy(), tx.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert zooms  # the zoom phase of the line search was exercised


def test_lbfgs_needs_a_closure_and_one_group():
    with pytest.raises(RuntimeError, match="closure"):
        optim.LBFGS(d_params()).step()
    p = d_params()
    with pytest.raises(ValueError, match="groups"):
        optim.LBFGS([{"params": p[:1]}, {"params": p[1:]}])
    with pytest.raises(ValueError, match="strong_wolfe"):
        optim.LBFGS(p, line_search_fn="armijo")


# ---- schedulers ------------------------------------------------------------------------------------------

def _lrs(lib, opt, make, steps=100, epochs=None) -> list:
    sched = make(lib, opt)
    out = []
    for i in range(steps):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        if epochs is None:
            sched.step()
        else:
            sched.step(epochs[i])
    return out


SCHEDS = {
    "ConstantLR": lambda L, o: L.ConstantLR(o, factor=0.25, total_iters=7),
    "PolynomialLR": lambda L, o: L.PolynomialLR(o, total_iters=60, power=2.0),
    "MultiplicativeLR": lambda L, o: L.MultiplicativeLR(o, lambda e: 0.97 if e % 2 else 0.99),
    "WarmRestarts": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2, eta_min=1e-3),
    "WarmRestarts-T_mult1": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=7),
    "Chained": lambda L, o: L.ChainedScheduler([L.ConstantLR(o, factor=0.5, total_iters=10),
                                                L.ExponentialLR(o, gamma=0.97)]),
    "Chained3": lambda L, o: L.ChainedScheduler([L.LinearLR(o, 0.1, 1.0, 20), L.StepLR(o, 15, 0.5),
                                                 L.PolynomialLR(o, 150, 1.5)]),
    "Sequential": lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, 0.1, 5), L.PolynomialLR(o, 50, 1.0)], [10]),
}


@pytest.mark.parametrize("name", list(SCHEDS))
def test_scheduler_matches_torch_for_100_steps(name):
    dp, tp = d_params(), t_params()
    groups = lambda p: [{"params": p[:2]}, {"params": p[2:], "lr": 0.05}]  # noqa: E731
    dl = _lrs(dsched, optim.SGD(groups(dp), lr=0.1), SCHEDS[name])
    tl = _lrs(torch.optim.lr_scheduler, torch.optim.SGD(groups(tp), lr=0.1), SCHEDS[name])
    np.testing.assert_allclose(dl, tl, rtol=1e-12, atol=1e-15)
    assert len({round(v[0], 12) for v in dl}) > 1  # the schedule is not constant


def test_warm_restarts_with_fractional_epochs_matches_torch():
    epochs = [i / 7 for i in range(1, 101)]
    dl = _lrs(dsched, optim.SGD(d_params(), lr=0.1), SCHEDS["WarmRestarts"], epochs=epochs)
    tl = _lrs(torch.optim.lr_scheduler, torch.optim.SGD(t_params(), lr=0.1), SCHEDS["WarmRestarts"],
              epochs=epochs)
    np.testing.assert_allclose(dl, tl, rtol=1e-12)


@pytest.mark.parametrize("name", ["Adadelta", "NAdam", "RAdam"])
def test_optimizer_with_warm_restarts_matches_torch(name):
    dp, tp = d_params(), t_params()
    kwargs = dict(lr=1.0) if name == "Adadelta" else dict(lr=1e-2)
    dopt, topt = getattr(optim, name)(dp, **kwargs), getattr(torch.optim, name)(tp, **kwargs)
    run(dopt, dp, d_loss, sched=dsched.CosineAnnealingWarmRestarts(dopt, 10, 2))
    run(topt, tp, t_loss, sched=torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, 10, 2))
    assert_close(dp, tp)


def test_scheduler_arguments_are_checked():
    opt = optim.SGD(d_params(), lr=0.1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        dsched.ConstantLR(opt, factor=1.5)
    with pytest.raises(ValueError, match="T_0"):
        dsched.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        dsched.ChainedScheduler([dsched.ReduceLROnPlateau(opt)])


def test_polynomial_reaches_zero_and_stays():
    opt = optim.SGD(d_params(), lr=0.2)
    s = dsched.PolynomialLR(opt, total_iters=4, power=1.0)
    seen = []
    for _ in range(6):
        seen.append(opt.param_groups[0]["lr"])
        s.step()
    assert seen == pytest.approx([0.2, 0.15, 0.1, 0.05, 0.0, 0.0])
    assert math.isclose(dsched.ConstantLR(optim.SGD(d_params(), lr=1.0), 0.5, 2).lr_at(2)[0], 1.0)


@pytest.mark.parametrize("name", ["WarmRestarts", "Chained", "MultiplicativeLR", "PolynomialLR"])
def test_scheduler_state_dict_resumes(name):
    """A scheduler rebuilt from state_dict() after 13 steps continues with the same lrs."""
    opt = optim.SGD(d_params(), lr=0.1)
    sched = SCHEDS[name](dsched, opt)
    for _ in range(13):
        opt.step()
        sched.step()
    saved = sched.state_dict()
    expected = []
    for _ in range(20):
        opt.step()
        sched.step()
        expected.append(opt.param_groups[0]["lr"])
    opt2 = optim.SGD(d_params(), lr=0.1)
    sched2 = SCHEDS[name](dsched, opt2)
    sched2.load_state_dict(saved)
    got = []
    for _ in range(20):
        opt2.step()
        sched2.step()
        got.append(opt2.param_groups[0]["lr"])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_lbfgs_state_dict_resumes():
    def closure_for(opt, params):
        def closure():
            opt.zero_grad()
            loss = d_loss(params, 0)
            loss.backward()
            return loss
        return closure

    dp = d_params()
    opt = optim.LBFGS(dp, max_iter=3, history_size=4)
    for _ in range(3):
        opt.step(closure_for(opt, dp))
    dp2 = [descend.tensor(p.detach().numpy(), dtype=np.float64, requires_grad=True) for p in dp]
    opt2 = optim.LBFGS(dp2, max_iter=3, history_size=4)
    opt2.load_state_dict(opt.state_dict())
    for _ in range(3):
        opt.step(closure_for(opt, dp))
        opt2.step(closure_for(opt2, dp2))
    assert_close(dp2, [p.detach() for p in dp], rtol=1e-12, atol=1e-14)


def test_step_counts_as_an_in_place_write_of_each_updated_parameter():
    """As in PyTorch: step() bumps the _version of the parameters it updates (not those without a grad), so a
    graph that saved a parameter before the step refuses to backpropagate with the new values."""
    torch = pytest.importorskip("torch")
    results = []
    for lib in (descend, torch):
        p, q = lib.nn.Parameter(lib.ones(2)), lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.Adam([p, q], lr=0.1)
        loss = (p * p).sum()
        loss.backward(retain_graph=True)
        before = (p._version, q._version)
        opt.step()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()
        results.append((p._version > before[0], q._version == before[1]))
    assert results[0] == results[1] == (True, True)
