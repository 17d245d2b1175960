"""Probes: optimizers (updates, groups, state dicts, LBFGS closure), gradient clipping."""

import copy

from tests.probes.harness import arr, fill, probe, probes


def _param(torch):
    return torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))


def _opt(name, **kw):
    """A maker of optimizer `name` with keyword arguments kw, for _steps."""
    return lambda optim, params: getattr(optim, name)(params, **kw)


def _sch(name, **kw):
    """A maker of scheduler `name` with keyword arguments kw, for _lrs."""
    return lambda lr_scheduler, optimizer: getattr(lr_scheduler, name)(optimizer, **kw)


def _sgd(torch, lr=0.3):
    return torch.optim.SGD([_param(torch)], lr=lr)


def _steps(torch, make, n=3):
    """Parameters after n steps of optimizer make(params) on a fixed quadratic-plus-quartic loss."""
    p = _param(torch)
    q = torch.nn.Parameter(torch.tensor([[0.5, -0.5], [0.25, 1.0]]))
    opt = make(torch.optim, [p, q])
    for _ in range(n):
        opt.zero_grad()
        loss = (p * p * torch.tensor([1.0, 0.5, 2.0])).sum() + (q ** 4).sum() + (p[0] * q[1, 1])
        loss.backward()
        opt.step()
    return p, q, loss.item()


probes("optim", {
    "sgd": lambda torch: _steps(torch, _opt("SGD", lr=0.1)),
    "sgd_momentum": lambda torch: _steps(torch, _opt("SGD", lr=0.05, momentum=0.9)),
    "sgd_nesterov": lambda torch: (
        _steps(torch, _opt("SGD", lr=0.05, momentum=0.9, nesterov=True))),
    "sgd_dampening": lambda torch: (
        _steps(torch, _opt("SGD", lr=0.05, momentum=0.5, dampening=0.3))),
    "sgd_weight_decay": lambda torch: (
        _steps(torch, _opt("SGD", lr=0.05, weight_decay=0.1))),
    "sgd_maximize": lambda torch: _steps(torch, _opt("SGD", lr=0.01, maximize=True)),
    "sgd_default_lr": lambda torch: _steps(torch, _opt("SGD")),
    "adam": lambda torch: _steps(torch, _opt("Adam", lr=0.1)),
    "adam_betas_eps": lambda torch: (
        _steps(torch, _opt("Adam", lr=0.05, betas=(0.5, 0.9), eps=1e-6))),
    "adam_weight_decay": lambda torch: (
        _steps(torch, _opt("Adam", lr=0.05, weight_decay=0.1))),
    "adam_amsgrad": lambda torch: (
        _steps(torch, _opt("Adam", lr=0.1, amsgrad=True), n=5)),
    "adam_foreach_fused_accepted": lambda torch: (
        _steps(torch, _opt("Adam", lr=0.1, foreach=False, capturable=False))),
    "adam_fused_false": lambda torch: _steps(torch, _opt("Adam", lr=0.1, fused=False)),
    "adamw": lambda torch: _steps(torch, _opt("AdamW", lr=0.1)),
    "adamw_makemore": lambda torch: (
        _steps(torch, _opt("AdamW", lr=5e-2, weight_decay=0.01, betas=(0.9, 0.99), eps=1e-8))),
    "adagrad": lambda torch: _steps(torch, _opt("Adagrad", lr=0.1)),
    "adagrad_lr_decay": lambda torch: (
        _steps(torch, _opt("Adagrad", lr=0.1, lr_decay=0.1, initial_accumulator_value=0.1))),
    "rmsprop": lambda torch: _steps(torch, _opt("RMSprop", lr=0.01)),
    "rmsprop_momentum_centered": lambda torch: (
        _steps(torch, _opt("RMSprop", lr=0.01, momentum=0.5, centered=True))),
    "adadelta": lambda torch: _steps(torch, _opt("Adadelta", lr=1.0)),
    "adadelta_rho": lambda torch: (
        _steps(torch, _opt("Adadelta", lr=0.5, rho=0.8, weight_decay=0.01))),
    "adamax": lambda torch: _steps(torch, _opt("Adamax", lr=0.1)),
    "nadam": lambda torch: _steps(torch, _opt("NAdam", lr=0.1)),
    "nadam_decoupled": lambda torch: (
        _steps(torch, _opt("NAdam", lr=0.1, weight_decay=0.1, decoupled_weight_decay=True))),
    "radam": lambda torch: _steps(torch, _opt("RAdam", lr=0.1), n=8),
    "radam_decoupled": lambda torch: (
        _steps(torch, _opt("RAdam", lr=0.1, weight_decay=0.1, decoupled_weight_decay=True), n=7)),
    "param_groups_lr": lambda torch: torch.optim.SGD([_param(torch)], lr=0.1).param_groups[0]["lr"],
    "param_groups_defaults": lambda torch: (
        sorted(k for k in _sgd(torch).param_groups[0]
               if k in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "params"))),
    "adam_group_betas": lambda torch: torch.optim.Adam([_param(torch)]).param_groups[0]["betas"],
    "defaults": lambda torch: torch.optim.Adam([_param(torch)], lr=0.01).defaults["lr"],
    "per_group_lr": lambda torch: _per_group(torch),
    "add_param_group": lambda torch: _add_group(torch),
    "set_lr_in_group": lambda torch: _set_lr(torch),
    "zero_grad_none": lambda torch: _zero(torch, None),
    "zero_grad_set_to_none_false": lambda torch: _zero(torch, False),
    "skips_none_grad": lambda torch: _skip_none(torch),
    "frozen_param_unchanged": lambda torch: _frozen(torch),
    "state_dict_structure": lambda torch: _state_structure(torch),
    "state_dict_momentum_buffer": lambda torch: _state_values(torch),
    "load_state_dict_resume": lambda torch: _resume(torch),
    "state_per_param": lambda torch: _state_keys(torch),
    "step_closure_returns_loss": lambda torch: _closure_sgd(torch),
    "optimizer_base_class": lambda torch: (
        isinstance(torch.optim.SGD([_param(torch)], lr=0.1), torch.optim.Optimizer)),
    "params_generator_accepted": lambda torch: (
        len(torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1).param_groups[0]["params"])),
    "named_parameters_list_of_dicts": lambda torch: [len(g["params"]) for g in torch.optim.SGD(
        [{"params": torch.nn.Linear(2, 2).parameters()}, {"params": [_param(torch)], "lr": 0.5}],
        lr=0.1).param_groups],
})


def _per_group(torch):
    a, b = _param(torch), _param(torch)
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.9)
    (a.sum() + b.sum()).backward()
    opt.step()
    return a, b, [g["lr"] for g in opt.param_groups], [g["momentum"] for g in opt.param_groups]


def _add_group(torch):
    a, b = _param(torch), _param(torch)
    opt = torch.optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.5})
    (a.sum() + b.sum()).backward()
    opt.step()
    return len(opt.param_groups), opt.param_groups[1]["betas"], a, b


def _set_lr(torch):
    a = _param(torch)
    opt = torch.optim.SGD([a], lr=0.1)
    for g in opt.param_groups:
        g["lr"] = 0.5
    a.sum().backward()
    opt.step()
    return a


def _zero(torch, set_to_none):
    a = _param(torch)
    opt = torch.optim.SGD([a], lr=0.1)
    a.sum().backward()
    opt.zero_grad() if set_to_none is None else opt.zero_grad(set_to_none=set_to_none)
    return a.grad


def _skip_none(torch):
    a, b = _param(torch), _param(torch)
    opt = torch.optim.Adam([a, b], lr=0.1)
    a.sum().backward()
    opt.step()
    return a, b, b.grad is None


def _frozen(torch):
    m = torch.nn.Linear(2, 1)
    m.bias.requires_grad_(False)
    before = m.bias.detach().clone()
    opt = torch.optim.SGD(m.parameters(), lr=1.0, momentum=0.9)
    m(torch.ones(3, 2)).sum().backward()
    opt.step()
    return torch.equal(before, m.bias)


def _state_structure(torch):
    a, b = _param(torch), _param(torch)
    opt = torch.optim.Adam([a, b], lr=0.1)
    (a * b).sum().backward()
    opt.step()
    sd = opt.state_dict()
    state, groups = sd["state"], sd["param_groups"]
    return list(sd), sorted(state), sorted(state[0]), groups[0]["params"], state[0]["step"]


def _state_values(torch):
    a = _param(torch)
    opt = torch.optim.SGD([a], lr=0.1, momentum=0.9)
    for _ in range(2):
        (a * a).sum().backward()
        opt.step()
    return opt.state_dict()["state"][0]["momentum_buffer"], opt.state[a]["momentum_buffer"]


def _resume(torch):
    def run(opt, p, n):
        for _ in range(n):
            opt.zero_grad()
            (p ** 4).sum().backward()
            opt.step()
    a = _param(torch)
    opt = torch.optim.Adam([a], lr=0.1)
    run(opt, a, 2)
    b = torch.nn.Parameter(a.detach().clone())
    opt2 = torch.optim.Adam([b], lr=0.7)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    run(opt, a, 2)
    run(opt2, b, 2)
    return torch.equal(a, b), opt2.param_groups[0]["lr"]


def _state_keys(torch):
    a = _param(torch)
    opt = torch.optim.Adam([a], lr=0.1)
    (a * a).sum().backward()
    opt.step()
    return sorted(opt.state[a]), opt.state[a]["exp_avg"], opt.state[a]["exp_avg_sq"]


def _closure_sgd(torch):
    a = _param(torch)
    opt = torch.optim.SGD([a], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss
    loss = opt.step(closure)
    return loss, a


@probe("optim")
def lbfgs_closure(torch):
    x = torch.nn.Parameter(torch.tensor([1.5, -0.5]))
    opt = torch.optim.LBFGS([x], lr=1, max_iter=20)

    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 10 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss
    losses = [opt.step(closure).item() for _ in range(3)]
    return x, losses


@probe("optim", rtol=1e-3, atol=1e-4)
def lbfgs_strong_wolfe(torch):
    x = torch.nn.Parameter(torch.tensor([1.5, -0.5]))
    opt = torch.optim.LBFGS([x], lr=1, max_iter=10, history_size=5, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 10 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss
    opt.step(closure)
    return x


@probe("optim")
def regression_with_optimizer(torch):
    torch.manual_seed(0)
    fc = fill(torch, torch.nn.Linear(3, 1))
    x = torch.tensor(arr(8, 3))
    y = torch.tensor(arr(8, 1, seed=1))
    opt = torch.optim.SGD(fc.parameters(), lr=0.1, momentum=0.9)
    for _ in range(5):
        opt.zero_grad()
        loss = torch.nn.functional.smooth_l1_loss(fc(x), y)
        loss.backward()
        opt.step()
    return fc.weight.view(-1), fc.bias.item(), loss.item()


# ---- gradient clipping ----

def _clip(torch, fn):
    a = torch.nn.Parameter(torch.tensor([3.0, -4.0]))
    b = torch.nn.Parameter(torch.tensor([[12.0]]))
    (a * a / 2).sum().backward()
    (b * b / 2).sum().backward()
    out = fn(torch.nn.utils, [a, b])
    return out, a.grad, b.grad


probes("clip", {
    "clip_grad_norm": lambda torch: _clip(torch, lambda u, ps: u.clip_grad_norm_(ps, max_norm=1.0)),
    "clip_grad_norm_noop": lambda torch: _clip(torch, lambda u, ps: u.clip_grad_norm_(ps, 100.0)),
    "clip_grad_norm_inf": lambda torch: (
        _clip(torch, lambda u, ps: u.clip_grad_norm_(ps, 2.0, norm_type=float("inf")))),
    "clip_grad_norm_p1": lambda torch: (
        _clip(torch, lambda u, ps: u.clip_grad_norm_(ps, 2.0, norm_type=1))),
    "clip_grad_norm_foreach": lambda torch: (
        _clip(torch, lambda u, ps: u.clip_grad_norm_(ps, 1.0, foreach=True))),
    "clip_grad_norm_single_tensor": lambda torch: (
        _clip(torch, lambda u, ps: u.clip_grad_norm_(ps[0], 1.0))),
    "clip_grad_norm_generator": lambda torch: (
        _clip(torch, lambda u, ps: u.clip_grad_norm_(iter(ps), 1.0))),
    "clip_grad_norm_error_ok": lambda torch: (
        _clip(torch, lambda u, ps: u.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True))),
    "clip_grad_norm_nonfinite_nan": lambda torch: (
        _clip(torch, lambda u, ps: (setattr(ps[0], "grad", torch.tensor([float("nan"), 1.0])),
                                    u.clip_grad_norm_(ps, 1.0))[1])),
    "clip_grad_value": lambda torch: _clip(torch, lambda u, ps: u.clip_grad_value_(ps, 3.5)),
    "get_total_norm": lambda torch: (
        _clip(torch, lambda u, ps: u.get_total_norm([p.grad for p in ps]))),
    "clip_module_params": lambda torch: _clip_module(torch),
    "parameters_to_vector": lambda torch: (
        torch.nn.utils.parameters_to_vector(fill(torch, torch.nn.Linear(2, 2)).parameters())),
    "vector_to_parameters": lambda torch: (
        (lambda m: (torch.nn.utils.vector_to_parameters(torch.arange(6.0), m.parameters()),
                    m.weight, m.bias)[1:])(torch.nn.Linear(2, 2))),
})


probes("optim", {
    "adam_maximize": lambda torch: _steps(torch, _opt("Adam", lr=0.05, maximize=True)),
    "adamw_amsgrad": lambda torch: (
        _steps(torch, _opt("AdamW", lr=0.1, amsgrad=True, weight_decay=0.1), n=5)),
    "sgd_nesterov_weight_decay": lambda torch: (
        _steps(torch, _opt("SGD", lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05))),
    "adagrad_weight_decay": lambda torch: (
        _steps(torch, _opt("Adagrad", lr=0.1, weight_decay=0.1))),
    "rmsprop_weight_decay_alpha": lambda torch: (
        _steps(torch, _opt("RMSprop", lr=0.01, alpha=0.9, weight_decay=0.1, eps=1e-6))),
    "adamax_weight_decay": lambda torch: (
        _steps(torch, _opt("Adamax", lr=0.1, weight_decay=0.1, betas=(0.8, 0.9)))),
    "nadam_momentum_decay": lambda torch: (
        _steps(torch, _opt("NAdam", lr=0.1, momentum_decay=0.01))),
    "adam_lr_tensor": lambda torch: _steps(torch, _opt("Adam", lr=torch.tensor(0.1))),
    "adam_many_steps": lambda torch: _steps(torch, _opt("Adam", lr=0.01), n=20),
    "sgd_momentum_many_steps": lambda torch: (
        _steps(torch, _opt("SGD", lr=0.01, momentum=0.9), n=20)),
})


def _clip_module(torch):
    m = fill(torch, torch.nn.Linear(3, 2))
    m(torch.ones(2, 3) * 10).sum().backward()
    return torch.nn.utils.clip_grad_norm_(m.parameters(), 0.25), m.weight.grad
