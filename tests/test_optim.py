"""Optimizers against torch.optim: same model, data and schedule give the same parameters step for step."""

import copy
import pickle

import numpy as np
import pytest

import descend
from descend import optim
from descend.optim import lr_scheduler as dsched

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(32, 8)).astype(np.float32)
Y = RNG.normal(size=(32, 3)).astype(np.float32)
INIT = [RNG.normal(0, 0.5, (8, 16)).astype(np.float32), RNG.normal(0, 0.1, (16,)).astype(np.float32),
        RNG.normal(0, 0.5, (16, 3)).astype(np.float32), RNG.normal(0, 0.1, (3,)).astype(np.float32)]


def d_loss(params, step):
    w1, b1, w2, b2 = params
    rows = slice(8 * (step % 4), 8 * (step % 4) + 8)
    x, y = descend.tensor(X[rows]), descend.tensor(Y[rows])
    return (((x @ w1 + b1).tanh() @ w2 + b2 - y) ** 2).mean()


def t_loss(params, step):
    w1, b1, w2, b2 = params
    rows = slice(8 * (step % 4), 8 * (step % 4) + 8)
    x, y = torch.tensor(X[rows]), torch.tensor(Y[rows])
    return (((x @ w1 + b1).tanh() @ w2 + b2 - y) ** 2).mean()


def d_params(values=INIT):
    return [descend.tensor(a, requires_grad=True) for a in values]


def t_params(values=INIT):
    return [torch.tensor(a, requires_grad=True) for a in values]


def train(opt, params, loss_fn, sched=None, steps=100, start=0, plateau=False):
    """Run `steps` training steps; returns the lr of every group before each step."""
    lrs = []
    for step in range(start, start + steps):
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.zero_grad()
        loss = loss_fn(params, step)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step(float(loss.item())) if plateau else sched.step()
    return lrs


def assert_params_close(dp, tp, rtol=1e-5, atol=1e-6):
    for d, t in zip(dp, tp):
        np.testing.assert_allclose(d._data, t.detach().numpy(), rtol=rtol, atol=atol)


# --- every optimizer and option, no schedule ------------------------------------------------------------------
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.05)),
    ("SGD", dict(lr=2e-3, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, amsgrad=True)),
    ("Adam", dict(lr=1e-2, weight_decay=0.1)),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-3)),
    ("Adam", dict(lr=1e-3, maximize=True)),
    ("Adam", dict(lr=1e-2, betas=(0.3, 0.9), amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=1e-3)),
    ("RMSprop", dict(lr=1e-3, momentum=0.9)),
    ("RMSprop", dict(lr=1e-3, centered=True)),
    ("RMSprop", dict(lr=1e-3, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.01)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.01)),
    ("Adagrad", dict(lr=0.05, eps=1e-3, maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{k}" for n, k in CONFIGS])
def test_optimizer_matches_torch(name, kwargs):
    dp, tp = d_params(), t_params()
    dopt, topt = getattr(optim, name)(dp, **kwargs), getattr(torch.optim, name)(tp, **kwargs)
    train(dopt, dp, d_loss)
    train(topt, tp, t_loss)
    assert_params_close(dp, tp)
    # The model actually moved: a no-op optimizer would not pass the check above against a moving torch.
    assert max(np.abs(d._data - a).max() for d, a in zip(dp, INIT)) > 1e-2


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{k}" for n, k in CONFIGS])
def test_update_rule_float64_given_grads(name, kwargs):
    """Fed identical float64 gradients, the rules agree with torch to rounding (order of operations)."""
    rng = np.random.default_rng(1)
    shapes = [(5, 4), (4,), (3,)]
    init = [rng.normal(size=s) for s in shapes]
    dp = [descend.tensor(a, dtype="float64", requires_grad=True) for a in init]
    tp = [torch.tensor(a, requires_grad=True) for a in init]
    dopt, topt = getattr(optim, name)(dp, **kwargs), getattr(torch.optim, name)(tp, **kwargs)
    for k in range(50):
        grads = [rng.normal(size=s) * (0.1 + k % 3) for s in shapes]
        for p, g in zip(dp, grads):
            p.grad = descend.tensor(g, dtype="float64")
        for p, g in zip(tp, grads):
            p.grad = torch.tensor(g)
        dopt.step()
        topt.step()
    for d, t in zip(dp, tp):
        np.testing.assert_allclose(d._data, t.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_state_dict_layout_and_values_match_torch():
    for name, kwargs in CONFIGS:
        dp, tp = d_params(), t_params()
        dopt, topt = getattr(optim, name)(dp, **kwargs), getattr(torch.optim, name)(tp, **kwargs)
        train(dopt, dp, d_loss, steps=20)
        train(topt, tp, t_loss, steps=20)
        dsd, tsd = dopt.state_dict(), topt.state_dict()
        assert sorted(dsd["state"]) == sorted(tsd["state"]), name
        for i, tstate in tsd["state"].items():
            dstate = dsd["state"][i]
            assert sorted(dstate) == sorted(tstate), (name, i)
            for key, tv in tstate.items():
                # Tensors as in PyTorch (step and the scalar state 0-d), with torch's dtype and shape.
                dv = dstate[key]
                assert isinstance(dv, descend.Tensor), (name, key)
                assert str(dv.dtype).split(".")[1] == str(tv.dtype).split(".")[1] and tuple(dv.shape) == tuple(tv.shape), (name, key)
                if key == "step":
                    assert float(dv) == float(tv)
                else:
                    np.testing.assert_allclose(dv.numpy(), tv.numpy(), rtol=1e-4, atol=1e-7)
        torch_only = {"foreach", "fused", "capturable", "differentiable"}
        for dg, tg in zip(dsd["param_groups"], tsd["param_groups"]):
            assert set(tg) - torch_only <= set(dg), name
            assert dg["params"] == tg["params"]
            for k in set(tg) - torch_only - {"params"}:
                assert dg[k] == tg[k], (name, k)


def test_load_torch_state_dict_continues_like_torch():
    """Layout compatibility: torch's Adam state as NumPy arrays loads into descend and continues the same."""
    tp = t_params()
    topt = torch.optim.Adam(tp, lr=1e-2, amsgrad=True)
    train(topt, tp, t_loss, steps=30)
    tsd = topt.state_dict()
    as_numpy = {"state": {i: {k: v.numpy().copy() for k, v in s.items()} for i, s in tsd["state"].items()},
                "param_groups": copy.deepcopy(tsd["param_groups"])}
    dp = d_params([p.detach().numpy().copy() for p in tp])
    dopt = optim.Adam(dp, lr=0.5)
    dopt.load_state_dict(as_numpy)
    assert dopt.param_groups[0]["lr"] == 1e-2 and dopt.param_groups[0]["amsgrad"] is True
    train(dopt, dp, d_loss, steps=30, start=30)
    train(topt, tp, t_loss, steps=30, start=30)
    assert_params_close(dp, tp)


# --- optimizers x schedules ----------------------------------------------------------------------------------
OPTS = {
    "SGD": ("SGD", dict(lr=0.05, momentum=0.9)),
    "Adam": ("Adam", dict(lr=1e-2)),
    "AdamW": ("AdamW", dict(lr=1e-2, weight_decay=0.05)),
    "RMSprop": ("RMSprop", dict(lr=1e-3, momentum=0.5)),
    "Adagrad": ("Adagrad", dict(lr=0.05)),
}
SCHEDS = {
    "step": lambda m, o, lr, mom: m.StepLR(o, step_size=25, gamma=0.5),
    "multistep": lambda m, o, lr, mom: m.MultiStepLR(o, milestones=[20, 50, 80], gamma=0.3),
    "exponential": lambda m, o, lr, mom: m.ExponentialLR(o, gamma=0.97),
    "lambda": lambda m, o, lr, mom: m.LambdaLR(o, lambda e: 1.0 / (1.0 + 0.05 * e)),
    "warmup_cosine": lambda m, o, lr, mom: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=10), m.CosineAnnealingLR(o, T_max=90)],
        milestones=[10]),
    "onecycle": lambda m, o, lr, mom: m.OneCycleLR(o, max_lr=lr, total_steps=100, cycle_momentum=mom),
    "cyclic": lambda m, o, lr, mom: m.CyclicLR(o, base_lr=lr / 10, max_lr=lr, step_size_up=15,
                                               mode="triangular2", cycle_momentum=mom),
    "plateau": lambda m, o, lr, mom: m.ReduceLROnPlateau(o, factor=0.5, patience=2, threshold=0.05),
}


@pytest.mark.parametrize("sched", list(SCHEDS))
@pytest.mark.parametrize("opt", list(OPTS))
def test_optimizer_with_schedule_matches_torch(opt, sched):
    name, kwargs = OPTS[opt]
    momentum = name != "Adagrad"
    dp, tp = d_params(), t_params()
    dopt, topt = getattr(optim, name)(dp, **kwargs), getattr(torch.optim, name)(tp, **kwargs)
    ds = SCHEDS[sched](dsched, dopt, kwargs["lr"], momentum)
    ts = SCHEDS[sched](torch.optim.lr_scheduler, topt, kwargs["lr"], momentum)
    dl = train(dopt, dp, d_loss, ds, plateau=sched == "plateau")
    tl = train(topt, tp, t_loss, ts, plateau=sched == "plateau")
    np.testing.assert_allclose(dl, tl, rtol=1e-12, atol=0)
    assert len({round(x[0], 12) for x in tl}) > 2  # the schedule really changed the lr
    assert_params_close(dp, tp)


# --- param groups, missing grads, mixed dtypes ---------------------------------------------------------------
def test_param_groups_with_their_own_options():
    def groups(p):
        return [{"params": [p[0], p[1]], "lr": 0.2, "weight_decay": 0.01}, {"params": [p[2], p[3]]}]

    # float64: at lr 0.2 with momentum 0.9 the trajectory amplifies float32 rounding differences between the
    # two libraries' tanh/matmul kernels (1e-5 relative after 100 steps on some CPUs); this test is about the
    # per-group options, so it compares in double precision, where rounding cannot hide a wrong option.
    init64 = [a.astype(np.float64) for a in INIT]
    dp, tp = d_params(init64), t_params(init64)

    def d_loss64(params, step):
        w1, b1, w2, b2 = params
        rows = slice(8 * (step % 4), 8 * (step % 4) + 8)
        x, y = descend.tensor(X[rows].astype(np.float64)), descend.tensor(Y[rows].astype(np.float64))
        return (((x @ w1 + b1).tanh() @ w2 + b2 - y) ** 2).mean()

    def t_loss64(params, step):
        w1, b1, w2, b2 = params
        rows = slice(8 * (step % 4), 8 * (step % 4) + 8)
        x, y = torch.tensor(X[rows], dtype=torch.float64), torch.tensor(Y[rows], dtype=torch.float64)
        return (((x @ w1 + b1).tanh() @ w2 + b2 - y) ** 2).mean()

    dopt = optim.SGD(groups(dp), lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(groups(tp), lr=0.05, momentum=0.9)
    ds, ts = dsched.StepLR(dopt, 30, 0.5), torch.optim.lr_scheduler.StepLR(topt, 30, 0.5)
    dl, tl = train(dopt, dp, d_loss64, ds), train(topt, tp, t_loss64, ts)
    assert dl == tl and dl[-1] == [0.2 * 0.5 ** 3, 0.05 * 0.5 ** 3]
    assert_params_close(dp, tp, rtol=1e-10, atol=1e-12)
    assert [g["weight_decay"] for g in dopt.param_groups] == [0.01, 0]


def test_add_param_group_matches_torch():
    dp, tp = d_params(), t_params()
    dopt, topt = optim.Adam(dp[:2], lr=1e-2), torch.optim.Adam(tp[:2], lr=1e-2)
    train(dopt, dp, d_loss, steps=10)
    train(topt, tp, t_loss, steps=10)
    dopt.add_param_group({"params": dp[2:], "lr": 3e-3, "amsgrad": True})
    topt.add_param_group({"params": tp[2:], "lr": 3e-3, "amsgrad": True})
    train(dopt, dp, d_loss, steps=40, start=10)
    train(topt, tp, t_loss, steps=40, start=10)
    assert_params_close(dp, tp)


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.05)),
                                         ("RMSprop", dict(lr=0.01, centered=True, momentum=0.3)),
                                         ("Adagrad", dict(lr=0.1, lr_decay=0.1))])
def test_params_without_grads_are_skipped_like_torch(name, kwargs):
    """A parameter without a grad is not updated and its state (step count, moments) does not advance."""
    rng = np.random.default_rng(2)
    shapes = [(3, 4), (4,), (2, 2), (5,)]
    init = [rng.normal(size=s).astype(np.float32) for s in shapes]
    dp, tp = d_params(init), t_params(init)
    dopt, topt = getattr(optim, name)(dp, **kwargs), getattr(torch.optim, name)(tp, **kwargs)
    for k in range(30):
        # Each parameter has a grad on a different subset of steps; parameter 3 only from step 20 on.
        present = [k % 2 == 0, k % 3 != 0, True, k >= 20]
        for d, t, s, has in zip(dp, tp, shapes, present):
            g = rng.normal(size=s).astype(np.float32)
            d.grad = descend.tensor(g) if has else None
            t.grad = torch.tensor(g) if has else None
        dopt.step()
        topt.step()
        assert_params_close(dp, tp)
    dsd, tsd = dopt.state_dict(), topt.state_dict()
    assert sorted(dsd["state"]) == sorted(tsd["state"])
    for i in tsd["state"]:
        if "step" in tsd["state"][i]:
            assert dsd["state"][i]["step"] == float(tsd["state"][i]["step"])


def test_never_stepped_param_stays_and_has_no_state():
    dp = d_params()
    opt = optim.Adam(dp, lr=0.1)
    for _ in range(3):
        for p in dp[:3]:
            p.grad = descend.tensor(np.ones(p.shape, np.float32))
        dp[3].grad = None
        opt.step()
    np.testing.assert_array_equal(dp[3]._data, INIT[3])
    assert sorted(opt.state_dict()["state"]) == [0, 1, 2]
    assert opt.state_dict()["state"][0]["step"] == 3.0


def test_mixed_dtypes_in_one_group():
    rng = np.random.default_rng(3)
    init = [rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(3,)), rng.normal(size=(2,))]
    dp = [descend.tensor(a, dtype=a.dtype, requires_grad=True) for a in init]
    tp = [torch.tensor(a, requires_grad=True) for a in init]
    dopt, topt = optim.Adam(dp, lr=0.05), torch.optim.Adam(tp, lr=0.05)
    assert len(dopt._flats[0]) == 2  # one flat buffer per dtype
    for k in range(20):
        for d, t in zip(dp, tp):
            g = rng.normal(size=d.shape).astype(d.dtype)
            d.grad, t.grad = descend.tensor(g, dtype=g.dtype), torch.tensor(g)
        dopt.step()
        topt.step()
    assert [d.dtype for d in dp] == [np.float32, np.float64, np.float64]
    for d, t in zip(dp, tp):
        np.testing.assert_allclose(d._data, t.detach().numpy(), rtol=1e-6)


# --- state_dict round trip -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
                                         ("Adam", dict(lr=1e-2, amsgrad=True)), ("AdamW", dict(lr=1e-2)),
                                         ("RMSprop", dict(lr=1e-3, centered=True, momentum=0.9)),
                                         ("Adagrad", dict(lr=0.1, lr_decay=0.01))])
def test_state_dict_round_trip_continues_identically(name, kwargs):
    dp = d_params()
    opt = getattr(optim, name)(dp, **kwargs)
    sched = dsched.SequentialLR(opt, [dsched.LinearLR(opt, 0.1, total_iters=10),
                                      dsched.CosineAnnealingLR(opt, T_max=50)], milestones=[10])
    train(opt, dp, d_loss, sched, steps=25)
    # A checkpoint: plain data (NumPy arrays and numbers) that survives pickling.
    ckpt = pickle.loads(pickle.dumps({"params": [p._data.copy() for p in dp], "opt": opt.state_dict(),
                                      "sched": sched.state_dict()}))
    lrs_a = train(opt, dp, d_loss, sched, steps=25, start=25)
    dp2 = d_params(ckpt["params"])
    opt2 = getattr(optim, name)(dp2, lr=123.0)
    sched2 = dsched.SequentialLR(opt2, [dsched.LinearLR(opt2, 0.1, total_iters=10),
                                        dsched.CosineAnnealingLR(opt2, T_max=50)], milestones=[10])
    opt2.load_state_dict(ckpt["opt"])
    sched2.load_state_dict(ckpt["sched"])
    lrs_b = train(opt2, dp2, d_loss, sched2, steps=25, start=25)
    assert lrs_a == lrs_b
    for a, b in zip(dp, dp2):
        np.testing.assert_array_equal(a._data, b._data)


def test_state_dict_is_a_snapshot():
    dp = d_params()
    opt = optim.Adam(dp, lr=0.1)
    train(opt, dp, d_loss, steps=2)
    sd = opt.state_dict()
    before = sd["state"][0]["exp_avg"].numpy().copy()
    train(opt, dp, d_loss, steps=2, start=2)
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].numpy(), before)
    assert not np.array_equal(opt.state_dict()["state"][0]["exp_avg"].numpy(), before)


def test_writes_through_optimizer_state_reach_the_optimizer_as_in_torch():
    """optimizer.state[p] holds live tensors, as PyTorch's: resetting Adam's moments in place (a common
    fine-tuning idiom) changes the following steps the same way in both libraries."""
    dp, tp = d_params(), t_params()
    dopt, topt = optim.Adam(dp, lr=0.05), torch.optim.Adam(tp, lr=0.05)
    train(dopt, dp, d_loss, steps=3)
    train(topt, tp, t_loss, steps=3)
    for opt, params in ((dopt, dp), (topt, tp)):
        opt.state[params[0]]["exp_avg"].zero_()
        opt.state[params[2]]["exp_avg_sq"].mul_(4.0)
    assert float(dopt.state[dp[0]]["exp_avg"].abs().sum()) == 0.0
    train(dopt, dp, d_loss, steps=3, start=3)
    train(topt, tp, t_loss, steps=3, start=3)
    for a, b in zip(dp, tp):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_load_state_dict_errors():
    dp = d_params()
    opt = optim.Adam(dp, lr=0.1)
    train(opt, dp, d_loss, steps=2)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.Adam([{"params": dp[:2]}, {"params": dp[2:]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="group 0 has 4 parameters in the state dict but 3"):
        optim.Adam(d_params()[:3]).load_state_dict(sd)
    bad = copy.deepcopy(sd)
    bad["state"][1]["exp_avg"] = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 1 has shape \(2, 2\).*\(16,\)"):
        optim.Adam(d_params()).load_state_dict(bad)


# --- flat buffers --------------------------------------------------------------------------------------------
def test_parameters_are_views_updated_in_place():
    dp = d_params()
    opt = optim.Adam(dp, lr=0.1)
    arrays = [p._data for p in dp]
    for p, a in zip(dp, INIT):
        np.testing.assert_array_equal(p._data, a)  # values copied into the flat buffer
    train(opt, dp, d_loss, steps=3)
    assert all(p._data is a for p, a in zip(dp, arrays))  # step never rebinds ._data
    assert all(not np.array_equal(p._data, a) for p, a in zip(dp, INIT))


def test_grads_are_not_modified():
    """Grads may share memory (here one array is two parameters' grad): step must not write to them."""
    rng = np.random.default_rng(4)
    dp = [descend.tensor(rng.normal(size=(3,)).astype(np.float32), requires_grad=True) for _ in range(2)]
    shared = rng.normal(size=(3,)).astype(np.float32)
    keep = shared.copy()
    for opt in (optim.SGD(dp, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True, l1=0.1),
                optim.Adam(dp, lr=0.1, weight_decay=0.1, maximize=True, l1=0.1)):
        for p in dp:
            p.grad = descend.Tensor(shared)
        opt.step()
        opt.step()
        np.testing.assert_array_equal(shared, keep)


def test_rebound_data_is_taken_back_like_torch():
    """`p.data = new` between steps (e.g. a second optimizer on the same model) behaves as in PyTorch."""
    dp, tp = d_params(), t_params()
    dopt, topt = optim.SGD(dp, lr=0.1, momentum=0.9), torch.optim.SGD(tp, lr=0.1, momentum=0.9)
    train(dopt, dp, d_loss, steps=5)
    train(topt, tp, t_loss, steps=5)
    dp[0].data = descend.zeros(8, 16)
    with torch.no_grad():
        tp[0].data = torch.zeros(8, 16)
    # A second optimizer over the same parameters (an lr finder, say) adopts them in its own buffer.
    other = optim.SGD(dp, lr=0.01)
    train(other, dp, d_loss, steps=2, start=5)
    train(torch.optim.SGD(tp, lr=0.01), tp, t_loss, steps=2, start=5)
    train(dopt, dp, d_loss, steps=5, start=7)
    train(topt, tp, t_loss, steps=5, start=7)
    assert_params_close(dp, tp)
    dp[1]._data = np.zeros((3,), np.float32)
    with pytest.raises(RuntimeError, match=r"parameter 1 was replaced by an array of shape \(3,\).*\(16,\)"):
        dopt.step()


def test_zero_grad():
    dp = d_params()
    opt = optim.SGD(dp, lr=0.1)
    d_loss(dp, 0).backward()
    g0 = dp[0].grad._data
    keep = g0.copy()
    opt.zero_grad(set_to_none=False)
    assert dp[0].grad is not None and not dp[0].grad._data.any()
    np.testing.assert_array_equal(g0, keep)  # replaced, not zeroed in place
    opt.zero_grad()
    assert all(p.grad is None for p in dp)


def test_closure():
    dp, tp = d_params(), t_params()
    dopt, topt = optim.SGD(dp, lr=0.1), torch.optim.SGD(tp, lr=0.1)

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

    for _ in range(5):
        dl, tl = dopt.step(d_closure), topt.step(t_closure)
        assert dl.item() == pytest.approx(tl.item(), rel=1e-5)
    assert_params_close(dp, tp)


def test_constructor_errors():
    dp = d_params()
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(dp[0], lr=0.1)
    with pytest.raises(ValueError, match="same parameter twice"):
        optim.SGD([dp[0], dp[0]], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": dp[:2]}, {"params": dp[1:]}], lr=0.1)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.Adam([np.zeros(3)])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.Adam([dp[0] * 2])
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(dp, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="invalid learning rate: -1"):
        optim.Adam(dp, lr=-1)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.Adam(dp, betas=(0.9, 1.0))
    opt = optim.SGD(dp[:1], lr=0.1)
    with pytest.raises(RuntimeError, match="gradient of size"):  # as PyTorch
        dp[0].grad = descend.tensor(np.ones((3, 3), np.float32))
    dp[0]._grad = descend.tensor(np.ones((3, 3), np.float32))  # past the setter: the optimizer still says so
    with pytest.raises(ValueError, match=r"SGD: parameter 0 has shape \(8, 16\) but its grad has shape"):
        opt.step()


def test_block_boundaries(monkeypatch):
    """Updates split into cache-sized blocks (here 7 elements, across parameters) give the same result."""
    from descend.optim import optimizer as base

    results = []
    for block_bytes in (28, base._BLOCK_BYTES):
        monkeypatch.setattr(base, "_BLOCK_BYTES", block_bytes)
        dp = d_params()
        opt = optim.Adam(dp, lr=1e-2, weight_decay=0.01, amsgrad=True)
        assert opt._flats[0][0].block == (7 if block_bytes == 28 else sum(a.size for a in INIT))
        train(opt, dp, d_loss, steps=10)
        dp[1].grad = None
        opt.step()
        results.append([p._data.copy() for p in dp])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# --- L1 (lasso) option ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=1e-2)),
                                         ("AdamW", dict(lr=1e-2)), ("RMSprop", dict(lr=1e-3)),
                                         ("Adagrad", dict(lr=0.05))])
def test_l1_option_equals_explicit_penalty(name, kwargs):
    """l1=c gives the same run as adding c * sum(|p|) to the loss, in descend and in PyTorch."""
    c = 0.01

    def penalised(loss_fn):
        return lambda params, step: loss_fn(params, step) + c * sum(p.abs().sum() for p in params)

    dp_opt, dp_pen, tp = d_params(), d_params(), t_params()
    train(getattr(optim, name)(dp_opt, l1=c, **kwargs), dp_opt, d_loss)
    train(getattr(optim, name)(dp_pen, **kwargs), dp_pen, penalised(d_loss))
    train(getattr(torch.optim, name)(tp, **kwargs), tp, penalised(t_loss))
    for a, b in zip(dp_opt, dp_pen):
        np.testing.assert_allclose(a._data, b._data, rtol=1e-6, atol=1e-7)
    # Weights caught at the kink of |p| hop around 0 by ~lr * c; rounding decides the side, hence the atol.
    assert_params_close(dp_opt, tp, atol=1e-5)
    # ...and differs from the unpenalised run.
    dp_plain = d_params()
    train(getattr(optim, name)(dp_plain, **kwargs), dp_plain, d_loss)
    assert max(np.abs(a._data - b._data).max() for a, b in zip(dp_opt, dp_plain)) > 1e-4


def test_l1_shrinks_towards_zero_and_is_a_group_option():
    """With a zero loss gradient, SGD with l1 moves each weight by lr * l1 towards zero (sign(0) = 0)."""
    p = descend.tensor(np.array([0.5, -0.5, 0.0], np.float32), requires_grad=True)
    q = descend.tensor(np.array([0.5], np.float32), requires_grad=True)
    opt = optim.SGD([{"params": [p], "l1": 0.1}, {"params": [q]}], lr=1.0)
    for t in (p, q):
        t.grad = descend.tensor(np.zeros(t.shape, np.float32))
    opt.step()
    np.testing.assert_allclose(p._data, [0.4, -0.4, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(q._data, [0.5])
    assert opt.state_dict()["param_groups"][0]["l1"] == 0.1


def test_state_property_gives_live_views_per_parameter():
    dp = d_params()
    opt = optim.Adam(dp[:3], lr=0.1)
    dp[0].grad = descend.tensor(np.ones((8, 16), np.float32))
    opt.step()
    st = opt.state
    assert list(st) == [dp[0]] and st[dp[0]]["step"] == 1.0
    assert st[dp[0]]["exp_avg"].shape == (8, 16)
    np.testing.assert_allclose(st[dp[0]]["exp_avg"], 0.1, rtol=1e-6)  # (1 - beta1) * grad
    opt.step()
    np.testing.assert_allclose(st[dp[0]]["exp_avg"], 0.19, rtol=1e-6)  # a view: it follows the optimizer


def _state_edits(lib):
    """Edits of optimizer.state that PyTorch scripts make, and the parameters after the next step."""
    def make():
        p = lib.nn.Parameter(lib.tensor([1.0, 2.0]))
        return p, lib.optim.Adam([p], lr=0.1)

    def step(p, opt, n=1):
        for _ in range(n):
            opt.zero_grad()
            (p ** 2).sum().backward()
            opt.step()

    out = []
    p, opt = make()
    out.append((len(opt.state[p]), p in opt.state))
    step(p, opt, 2)
    s = opt.state[p]
    out.append((sorted(s), float(s["step"]), s is opt.state[p], s["exp_avg"] is opt.state[p]["exp_avg"]))
    edits = [lambda p, opt: opt.state[p].__setitem__("step", opt.state[p]["step"] + 10),
             lambda p, opt: (opt.state[p]["step"].zero_(), opt.state[p].__setitem__("step", opt.state[p]["step"] + 1)),
             lambda p, opt: opt.state[p].__setitem__("exp_avg", lib.zeros(2)),
             lambda p, opt: opt.state.clear(),
             lambda p, opt: opt.state.__delitem__(p)]
    for edit in edits:
        p, opt = make()
        step(p, opt, 2)
        edit(p, opt)
        step(p, opt)
        out.append(p.detach().numpy().tolist())
    return out


def test_optimizer_state_edits_act_as_in_torch() -> None:
    mine, ref = _state_edits(descend), _state_edits(torch)
    assert mine[:2] == ref[:2]
    for a, b in zip(mine[2:], ref[2:]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_custom_optimizer_keeps_its_own_state_as_in_torch() -> None:
    def run(lib):
        class MomentumSGD(lib.optim.Optimizer):
            def __init__(self, params, lr):
                super().__init__(params, dict(lr=lr))

            @lib.no_grad()
            def step(self):
                for group in self.param_groups:
                    for p in group["params"]:
                        if p.grad is None:
                            continue
                        state = self.state[p]
                        if len(state) == 0:
                            state["step"] = 0
                            state["buf"] = lib.zeros_like(p)
                        state["step"] += 1
                        state["buf"].mul_(0.9).add_(p.grad)
                        p.add_(state["buf"], alpha=-group["lr"])

        p = lib.nn.Parameter(lib.tensor([1.0, -2.0]))
        opt = MomentumSGD([p], lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            (p ** 2).sum().backward()
            opt.step()
        sd = opt.state_dict()
        again = MomentumSGD([lib.nn.Parameter(lib.tensor([0.0, 0.0]))], lr=0.1)
        again.load_state_dict(sd)
        return (p.detach().numpy().tolist(), int(opt.state[p]["step"]), sorted(opt.state[p]), sorted(sd["state"][0]),
                int(again.state[again.param_groups[0]["params"][0]]["step"]))
    mine, ref = run(descend), run(torch)
    np.testing.assert_allclose(mine[0], ref[0], rtol=1e-6)
    assert mine[1:] == ref[1:]


def _more_state_edits(lib):
    out = []
    w = lib.nn.Parameter(lib.tensor([1.0, -2.0]))
    opt = lib.optim.Adam([w], lr=0.1)
    opt.state[w] = {"step": lib.tensor(100.0), "exp_avg": lib.ones(2), "exp_avg_sq": lib.ones(2)}
    w.grad = lib.zeros(2)
    opt.step()
    out.append(w.detach().numpy().tolist() + [float(opt.state[w]["step"])])
    w = lib.nn.Parameter(lib.tensor([1.0, -2.0]))
    opt = lib.optim.SGD([w], lr=0.1, momentum=0.9)
    opt.state[w]["momentum_buffer"] = lib.ones(2)  # given before any step
    w.grad = lib.zeros(2)
    opt.step()
    out.append(w.detach().numpy().tolist())
    w = lib.nn.Parameter(lib.tensor([1.0, -2.0]))
    opt = lib.optim.Adam([w], lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        (w ** 2).sum().backward()
        opt.step()
    held_step, held_avg = opt.state[w]["step"], opt.state[w]["exp_avg"]
    opt.step()
    out.append([float(held_step)])  # a held step tensor follows the optimizer
    before = held_avg.detach().numpy().tolist()
    del opt.state[w]
    opt.step()
    out.append(before + held_avg.detach().numpy().tolist())  # old state tensors keep their values
    return out


def test_more_optimizer_state_edits_and_deepcopy_act_as_in_torch() -> None:
    for a, b in zip(_more_state_edits(descend), _more_state_edits(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    model = descend.nn.Linear(2, 1)
    opt = optim.Adam(model.parameters(), lr=0.1)
    model(descend.ones(1, 2)).sum().backward()
    opt.step()
    copied = copy.deepcopy({"model": model, "opt": opt})  # one memo: the copy optimizes the copied model
    copied["model"](descend.ones(1, 2)).sum().backward()
    copied["opt"].step()
    assert not np.array_equal(copied["model"].weight.detach().numpy(), model.weight.detach().numpy())
    assert float(copied["opt"].state[copied["model"].weight]["step"]) == 2.0
