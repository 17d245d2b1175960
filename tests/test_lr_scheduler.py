"""Learning-rate schedulers against torch.optim.lr_scheduler: the same lr and momentum, step for step."""

import math
import pickle
import warnings

import numpy as np
import pytest

import descend
from descend import optim
from descend.optim import lr_scheduler as dsched
from descend.optim import schedules

torch = pytest.importorskip("torch")
tsched = torch.optim.lr_scheduler

STEPS = 300


def make_opts(name="SGD", lrs=(0.1, 0.02), **kwargs):
    """The same optimizer in both frameworks, one param group per lr."""
    dgroups = [{"params": [descend.tensor(np.ones(2, np.float32), requires_grad=True)], "lr": lr} for lr in lrs]
    tgroups = [{"params": [torch.ones(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return getattr(optim, name)(dgroups, **kwargs), getattr(torch.optim, name)(tgroups, **kwargs)


def sequences(opt, sched, steps=STEPS, metrics=None):
    """lr of every group (from get_last_lr and from the groups) and momentum/beta1 before each step."""
    lrs, group_lrs, moms = [], [], []
    for i in range(steps):
        lrs.append(list(sched.get_last_lr()))
        group_lrs.append([g["lr"] for g in opt.param_groups])
        moms.append([g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups])
        opt.step()  # no grads: nothing moves, but torch wants optimizer.step() before scheduler.step()
        sched.step(metrics[i]) if metrics is not None else sched.step()
    return np.array(lrs), np.array(group_lrs), np.array(moms, dtype=float)


CASES = {
    "lambda": lambda m, o: m.LambdaLR(o, lambda e: 0.97 ** e),
    "lambda_per_group": lambda m, o: m.LambdaLR(o, [lambda e: 0.97 ** e, lambda e: 1.0 / (1 + e)]),
    "step": lambda m, o: m.StepLR(o, step_size=30, gamma=0.5),
    "step_0.1": lambda m, o: m.StepLR(o, step_size=7),
    "multistep": lambda m, o: m.MultiStepLR(o, milestones=[10, 50, 50, 120], gamma=0.3),
    "exponential": lambda m, o: m.ExponentialLR(o, gamma=0.99),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=100),
    "cosine_eta_min": lambda m, o: m.CosineAnnealingLR(o, T_max=70, eta_min=0.001),
    "linear": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=40),
    "linear_down": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=150),
    "linear_default": lambda m, o: m.LinearLR(o),
    "cyclic_triangular": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=20),
    "cyclic_triangular2": lambda m, o: m.CyclicLR(o, base_lr=[0.01, 0.001], max_lr=[0.1, 0.05], step_size_up=15,
                                                  step_size_down=25, mode="triangular2"),
    "cyclic_exp_range": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=15, mode="exp_range", gamma=0.99,
                                                base_momentum=0.7, max_momentum=0.95),
    "cyclic_scale_fn": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=10, scale_fn=lambda x: 1 / (1 + x),
                                               scale_mode="iterations"),
    "onecycle": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=STEPS),
    "onecycle_linear_3phase": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.3], epochs=10, steps_per_epoch=30,
                                                        anneal_strategy="linear", three_phase=True),
    "onecycle_options": lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=STEPS, pct_start=0.1,
                                                  div_factor=10.0, final_div_factor=100.0, base_momentum=0.8,
                                                  max_momentum=0.99),
    "sequential_warmup_cosine": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.01, total_iters=20), m.CosineAnnealingLR(o, T_max=280)],
        milestones=[20]),
    "sequential_three": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, 0.1, total_iters=10), m.ExponentialLR(o, 0.98), m.StepLR(o, 20, 0.5)], [10, 100]),
    "sequential_lambda_multistep": lambda m, o: m.SequentialLR(
        o, [m.LambdaLR(o, lambda e: (e + 1) / 25), m.MultiStepLR(o, [30, 60], 0.5)], milestones=[25]),
    "sequential_exp_cosine": lambda m, o: m.SequentialLR(
        o, [m.ExponentialLR(o, 0.9), m.CosineAnnealingLR(o, T_max=50, eta_min=0.001)], milestones=[7]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_lr_sequence_matches_torch(case):
    dopt, topt = make_opts(momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds, ts = CASES[case](dsched, dopt), CASES[case](tsched, topt)
        d_lrs, d_group, d_mom = sequences(dopt, ds)
        t_lrs, t_group, t_mom = sequences(topt, ts)
    np.testing.assert_allclose(d_lrs, t_lrs, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(d_lrs, d_group)
    np.testing.assert_allclose(d_mom, t_mom, rtol=1e-12)
    assert len(np.unique(t_lrs[:, 0])) > 3  # a changing schedule, not a constant one
    assert ds.last_epoch == ts.last_epoch == STEPS


@pytest.mark.parametrize("case", ["cyclic_triangular2", "cyclic_exp_range", "onecycle",
                                  "onecycle_linear_3phase"])
def test_adam_beta1_cycles_like_torch(case):
    dopt, topt = make_opts("Adam", betas=(0.9, 0.99))
    ds, ts = CASES[case](dsched, dopt), CASES[case](tsched, topt)
    d_lrs, _, d_mom = sequences(dopt, ds)
    t_lrs, _, t_mom = sequences(topt, ts)
    np.testing.assert_allclose(d_lrs, t_lrs, rtol=1e-12)
    np.testing.assert_allclose(d_mom, t_mom, rtol=1e-12)
    assert len(np.unique(d_mom[:, 0])) > 3
    assert all(g["betas"][1] == 0.99 for g in dopt.param_groups)


def test_cyclic_momentum_needs_momentum():
    dopt, _ = make_opts("Adagrad")
    with pytest.raises(ValueError, match="Adagrad has neither momentum nor betas"):
        dsched.CyclicLR(dopt, 0.01, 0.1)
    dsched.CyclicLR(dopt, 0.01, 0.1, cycle_momentum=False)
    with pytest.raises(ValueError, match="Adagrad has neither momentum nor betas"):
        dsched.OneCycleLR(make_opts("Adagrad")[0], 0.1, total_steps=10)


PLATEAUS = [
    dict(),
    dict(mode="max", factor=0.5, patience=2),
    dict(factor=0.5, patience=1, threshold=0.1, threshold_mode="abs", cooldown=3),
    dict(mode="max", factor=0.3, patience=0, threshold=0.05, threshold_mode="abs", min_lr=[1e-3, 1e-4]),
    dict(factor=0.5, patience=0, min_lr=0.01, eps=1e-3),
]


@pytest.mark.parametrize("kwargs", PLATEAUS, ids=[str(k) for k in PLATEAUS])
def test_reduce_on_plateau_matches_torch(kwargs):
    rng = np.random.default_rng(0)
    # A noisy curve that improves, stalls, and gets worse: exercises both modes.
    metrics = np.concatenate([np.linspace(1.0, 0.5, 60), np.full(80, 0.5), np.linspace(0.5, 0.9, 60)])
    metrics = list(metrics + rng.normal(0, 0.02, metrics.size))
    dopt, topt = make_opts()
    ds, ts = dsched.ReduceLROnPlateau(dopt, **kwargs), tsched.ReduceLROnPlateau(topt, **kwargs)
    d_lrs, _, _ = sequences(dopt, ds, steps=len(metrics), metrics=metrics)
    t_lrs, _, _ = sequences(topt, ts, steps=len(metrics), metrics=metrics)
    np.testing.assert_array_equal(d_lrs, t_lrs)
    assert len(np.unique(t_lrs[:, 0])) > 1
    assert (ds.best, ds.num_bad_epochs, ds.cooldown_counter, ds.last_epoch) == \
        (ts.best, ts.num_bad_epochs, ts.cooldown_counter, ts.last_epoch)


@pytest.mark.parametrize("case", list(CASES) + ["plateau"])
def test_state_dict_round_trip_continues_identically(case):
    def build(opt):
        if case == "plateau":
            return dsched.ReduceLROnPlateau(opt, factor=0.5, patience=2)
        return CASES[case](dsched, opt)

    metrics = list(np.abs(np.sin(np.arange(STEPS) * 0.3)) + 1.0 / (1 + np.arange(STEPS)))
    opt, _ = make_opts(momentum=0.9)
    sched = build(opt)
    m = metrics if case == "plateau" else None
    sequences(opt, sched, steps=120, metrics=m)
    ckpt = pickle.loads(pickle.dumps((opt.state_dict(), sched.state_dict())))
    rest = metrics[120:200] if m else None
    a = sequences(opt, sched, steps=80, metrics=rest)
    opt2, _ = make_opts(lrs=(7.0, 7.0), momentum=0.1)
    sched2 = build(opt2)
    opt2.load_state_dict(ckpt[0])
    sched2.load_state_dict(ckpt[1])
    b = sequences(opt2, sched2, steps=80, metrics=rest)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_lambda_state_dict_keeps_callable_object_attributes():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate ** epoch

    opt, _ = make_opts()
    sched = dsched.LambdaLR(opt, [Decay(0.5), lambda e: 1.0])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"rate": 0.5}, None]
    opt2, _ = make_opts()
    sched2 = dsched.LambdaLR(opt2, [Decay(0.9), lambda e: 1.0])
    sched2.load_state_dict(sd)
    sched2.step()
    assert sched2.get_last_lr() == [0.1 * 0.5, 0.02]


# --- the pure schedules ------------------------------------------------------------------------------------
def torch_lrs(build, steps=STEPS, lr=0.1):
    """PyTorch's lr sequence for the scheduler `build(optimizer)` makes."""
    _, topt = make_opts(lrs=(lr,), momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = build(topt)
        return sequences(topt, ts, steps)[0][:, 0]


def test_pure_schedules_equal_torch():
    cases = [
        (schedules.warmup_cosine(0.1, warmup_steps=20, decay_steps=280, start_factor=0.01),
         lambda o: tsched.SequentialLR(o, [tsched.LinearLR(o, 0.01, total_iters=20),
                                           tsched.CosineAnnealingLR(o, 280)], [20])),
        (schedules.join([schedules.constant(0.1), schedules.exponential(0.1, 0.95)], [50]),
         lambda o: tsched.SequentialLR(o, [tsched.LambdaLR(o, lambda e: 1.0), tsched.ExponentialLR(o, 0.95)],
                                       [50])),
        (schedules.one_cycle(STEPS, 0.1, three_phase=True), lambda o: tsched.OneCycleLR(o, 0.1, STEPS,
                                                                                        three_phase=True)),
        (schedules.cyclic(0.01, 0.1, 25, mode="triangular2"),
         lambda o: tsched.CyclicLR(o, 0.01, 0.1, 25, mode="triangular2")),
        (schedules.step_decay(0.1, 40, 0.5), lambda o: tsched.StepLR(o, 40, 0.5)),
        (schedules.multistep_decay(0.1, [30, 90], 0.1), lambda o: tsched.MultiStepLR(o, [30, 90])),
        (schedules.linear_warmup(0.1, 50), lambda o: tsched.LambdaLR(o, lambda e: min(e, 50) / 50)),
    ]
    for fn, build in cases:
        expected = torch_lrs(build)
        got = np.array([fn(t) for t in range(STEPS)])
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-18)


def test_one_cycle_momentum_schedule():
    _, topt = make_opts(lrs=(0.1,), momentum=0.9)
    ts = tsched.OneCycleLR(topt, 0.1, total_steps=100, base_momentum=0.8, max_momentum=0.95)
    expected = sequences(topt, ts, 100)[2][:, 0]
    fn = schedules.one_cycle_momentum(100, base_momentum=0.8, max_momentum=0.95)
    np.testing.assert_array_equal([fn(t) for t in range(100)], expected)


def test_schedule_values_by_hand():
    """A few values computed by hand, independent of PyTorch."""
    assert schedules.step_decay(1.0, 10, 0.5)(25) == 0.25
    assert schedules.cosine(1.0, 10)(5) == pytest.approx(0.5)
    assert schedules.cosine(1.0, 10, eta_min=0.2)(10) == pytest.approx(0.2)
    assert schedules.linear(1.0, 0.5, 1.0, 4)(2) == 0.75
    assert schedules.cyclic(0.0, 1.0, 4)(2) == 0.5 and schedules.cyclic(0.0, 1.0, 4)(4) == 1.0
    assert schedules.cyclic(0.0, 1.0, 4, mode="triangular2")(12) == 0.5
    warm = schedules.warmup_cosine(1.0, 10, 100, start_factor=0.0)
    assert warm(0) == 0.0 and warm(5) == 0.5 and warm(10) == 1.0 and warm(60) == pytest.approx(0.5)
    assert schedules.one_cycle(100, 1.0)(0) == pytest.approx(1 / 25)
    assert schedules.one_cycle(100, 1.0)(29) == pytest.approx(1.0)
    assert schedules.one_cycle(100, 1.0)(99) == pytest.approx(1 / 25 / 1e4)
    assert math.isclose(schedules.exponential(2.0, 0.5)(3), 0.25)


# --- errors ------------------------------------------------------------------------------------------------
def test_errors():
    opt, _ = make_opts()
    sched = dsched.OneCycleLR(opt, 0.1, total_steps=5)
    for _ in range(5):
        sched.step()
    with pytest.raises(ValueError, match="tried to step 6 times; the specified number of total steps is 5"):
        sched.step()
    opt, _ = make_opts()
    with pytest.raises(ValueError, match="does not support ReduceLROnPlateau"):
        dsched.SequentialLR(opt, [dsched.ReduceLROnPlateau(opt), dsched.StepLR(opt, 2)], [5])
    with pytest.raises(ValueError, match="one milestone fewer than schedulers"):
        dsched.SequentialLR(opt, [dsched.StepLR(opt, 2), dsched.StepLR(opt, 3)], [5, 6])
    other, _ = make_opts()
    with pytest.raises(ValueError, match="belongs to another optimizer"):
        dsched.SequentialLR(opt, [dsched.StepLR(opt, 2), dsched.StepLR(other, 3)], [5])
    with pytest.raises(ValueError, match="start_factor must be in"):
        dsched.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="2 values for 2 groups|one value per param group"):
        dsched.CyclicLR(opt, [0.1, 0.2, 0.3], 1.0)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        dsched.StepLR(object(), 3)
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        dsched.ReduceLROnPlateau(opt, factor=1.0)
    fresh, _ = make_opts()
    with pytest.raises(KeyError, match="initial_lr"):
        dsched.StepLR(fresh, 3, last_epoch=4)
