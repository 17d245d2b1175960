"""Probes: learning-rate schedulers (closed forms, chaining, state dicts, plateau)."""

from tests.probes.harness import probes
from tests.probes.probes_optim import _param, _sch, _sgd


# ---- schedulers ----

def _lrs(torch, make, n=8, lr=0.1, opt="SGD"):
    p = _param(torch)
    optimizer = getattr(torch.optim, opt)([p], lr=lr)
    sched = make(torch.optim.lr_scheduler, optimizer)
    lrs = []
    for _ in range(n):
        optimizer.step()
        sched.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    return lrs, sched.get_last_lr()


probes("sched", {
    "step_lr": lambda torch: _lrs(torch, _sch("StepLR", step_size=3, gamma=0.5)),
    "multistep_lr": lambda torch: (
        _lrs(torch, _sch("MultiStepLR", milestones=[2, 5], gamma=0.1))),
    "exponential_lr": lambda torch: _lrs(torch, _sch("ExponentialLR", gamma=0.9)),
    "cosine_annealing": lambda torch: (
        _lrs(torch, _sch("CosineAnnealingLR", T_max=5, eta_min=0.01))),
    "cosine_warm_restarts": lambda torch: (
        _lrs(torch, _sch("CosineAnnealingWarmRestarts", T_0=3, T_mult=2, eta_min=0.001), n=12)),
    "constant_lr": lambda torch: (
        _lrs(torch, _sch("ConstantLR", factor=0.5, total_iters=3))),
    "linear_lr": lambda torch: (
        _lrs(torch, _sch("LinearLR", start_factor=0.25, total_iters=4))),
    "polynomial_lr": lambda torch: (
        _lrs(torch, _sch("PolynomialLR", total_iters=5, power=2.0))),
    "lambda_lr": lambda torch: (
        _lrs(torch, _sch("LambdaLR", lr_lambda=lambda e: 1 / (e + 1)))),
    "multiplicative_lr": lambda torch: (
        _lrs(torch, _sch("MultiplicativeLR", lr_lambda=lambda e: 0.8))),
    "one_cycle": lambda torch: (
        _lrs(torch, _sch("OneCycleLR", max_lr=1.0, total_steps=10), n=9)),
    "cyclic": lambda torch: (
        _lrs(torch, _sch("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=3))),
    "chained": lambda torch: (
        _lrs(torch, lambda s, o: s.ChainedScheduler([s.ConstantLR(o, factor=0.5, total_iters=2),
                                                     s.ExponentialLR(o, gamma=0.9)]))),
    "sequential": lambda torch: (
        _lrs(torch, lambda s, o: s.SequentialLR(o, [s.LinearLR(o, start_factor=0.1, total_iters=3),
                                                    s.CosineAnnealingLR(o, T_max=5)],
                                                milestones=[3]))),
    "step_lr_adam": lambda torch: (
        _lrs(torch, _sch("StepLR", step_size=1, gamma=0.7), opt="Adadelta", lr=1.0)),
    "initial_lr_set": lambda torch: (
        (lambda o: (torch.optim.lr_scheduler.StepLR(o, 2), o.param_groups[0]["initial_lr"])[1])(
            _sgd(torch))),
    "get_last_lr_before_step": lambda torch: (
        torch.optim.lr_scheduler.ExponentialLR(_sgd(torch), 0.5).get_last_lr()),
    "last_epoch": lambda torch: _last_epoch(torch),
    "state_dict_keys": lambda torch: (
        sorted(k for k in torch.optim.lr_scheduler.StepLR(_sgd(torch), 2).state_dict()
               if not k.startswith("_"))),
    "load_state_dict": lambda torch: _sched_resume(torch),
    "reduce_on_plateau": lambda torch: _plateau(torch),
    "lr_scheduler_base": lambda torch: (
        isinstance(torch.optim.lr_scheduler.StepLR(_sgd(torch), 2),
                   torch.optim.lr_scheduler.LRScheduler)),
})


def _last_epoch(torch):
    opt = _sgd(torch)
    s = torch.optim.lr_scheduler.StepLR(opt, 2)
    first = s.last_epoch
    opt.step()
    s.step()
    return first, s.last_epoch


def _sched_resume(torch):
    opt = torch.optim.SGD([_param(torch)], lr=1.0)
    s = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        opt.step()
        s.step()
    opt2 = torch.optim.SGD([_param(torch)], lr=1.0)
    s2 = torch.optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    s2.load_state_dict(s.state_dict())
    opt2.load_state_dict(opt.state_dict())
    opt2.step()
    s2.step()
    return s2.last_epoch, s2.get_last_lr(), opt2.param_groups[0]["lr"]


def _plateau(torch):
    opt = torch.optim.SGD([_param(torch)], lr=1.0)
    s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1)
    lrs = []
    for val in [1.0, 0.9, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7]:
        opt.step()
        s.step(val)
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


probes("sched", {
    "multistep_repeated_milestone": lambda torch: (
        _lrs(torch, _sch("MultiStepLR", milestones=[2, 2, 5], gamma=0.5))),
    "cosine_past_t_max": lambda torch: (
        _lrs(torch, _sch("CosineAnnealingLR", T_max=3), n=8)),
    "one_cycle_linear": lambda torch: (
        _lrs(torch, _sch("OneCycleLR", max_lr=1.0, total_steps=10, anneal_strategy="linear"), n=9)),
    "one_cycle_three_phase": lambda torch: (
        _lrs(torch, _sch("OneCycleLR", max_lr=1.0, total_steps=12, three_phase=True), n=11)),
    "one_cycle_epochs_steps": lambda torch: (
        _lrs(torch, _sch("OneCycleLR", max_lr=0.5, epochs=2, steps_per_epoch=4, pct_start=0.25),
             n=7)),
    "one_cycle_momentum": lambda torch: (
        _one_cycle_group(torch, torch.optim.SGD([_param(torch)], lr=0.1, momentum=0.9), "momentum")),
    "one_cycle_adam_betas": lambda torch: (
        _one_cycle_group(torch, torch.optim.Adam([_param(torch)], lr=0.1), "betas")),
    "cyclic_triangular2": lambda torch: (
        _lrs(torch, _sch("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=2, mode="triangular2"),
             n=10)),
    "cyclic_exp_range": lambda torch: (
        _lrs(torch, _sch("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=2, mode="exp_range",
                         gamma=0.9), n=8)),
    "cyclic_step_size_down": lambda torch: (
        _lrs(torch, _sch("CyclicLR", base_lr=0.0, max_lr=1.0, step_size_up=1, step_size_down=3),
             n=8)),
    "lambda_lr_per_group": lambda torch: _lambda_groups(torch),
    "linear_lr_end_factor": lambda torch: (
        _lrs(torch, _sch("LinearLR", start_factor=1.0, end_factor=0.1, total_iters=3))),
    "warm_restarts_t_mult1": lambda torch: (
        _lrs(torch, _sch("CosineAnnealingWarmRestarts", T_0=2), n=6)),
    "exponential_with_adam": lambda torch: (
        _lrs(torch, _sch("ExponentialLR", gamma=0.5), opt="Adam")),
    "sequential_three": lambda torch: (
        _lrs(torch, lambda s, o: s.SequentialLR(o, [s.ConstantLR(o, factor=0.1, total_iters=2),
                                                    s.ExponentialLR(o, gamma=0.9), s.StepLR(o, 2)],
                                                milestones=[2, 5]), n=9)),
    "plateau_max_mode": lambda torch: _plateau_kw(torch, mode="max", factor=0.1, patience=0),
    "plateau_threshold_abs_cooldown": lambda torch: (
        _plateau_kw(torch, threshold=0.05, threshold_mode="abs", cooldown=1, patience=0)),
    "plateau_min_lr": lambda torch: _plateau_kw(torch, factor=0.1, patience=0, min_lr=0.05),
})


def _one_cycle_group(torch, optimizer, key):
    torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1.0, total_steps=10)
    return optimizer.param_groups[0][key]


def _lambda_groups(torch):
    a, b = _param(torch), _param(torch)
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    s = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=[lambda e: 0.5 ** e,
                                                          lambda e: 1.0 / (1 + e)])
    out = []
    for _ in range(3):
        opt.step()
        s.step()
        out.append(s.get_last_lr())
    return out


def _plateau_kw(torch, **kw):
    opt = torch.optim.SGD([_param(torch)], lr=1.0)
    s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    lrs = []
    for val in [1.0, 0.98, 0.97, 1.2, 0.5, 0.49, 0.6, 0.61, 0.62]:
        opt.step()
        s.step(val)
        lrs.append(opt.param_groups[0]["lr"])
    return lrs
