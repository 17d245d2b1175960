"""descend.autograd.functional against torch.autograd.functional on the same functions (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import descend
import descend.autograd.functional as DF

torch = pytest.importorskip("torch")
TF = torch.autograd.functional

X, Y, V2, V3 = [1.0, -2.0], [0.5, -1.0, 3.0], [0.3, -0.7], [1.0, 2.0, -1.0]


def _f(x, y):
    return (x ** 2 * y.sum(), x.sin() * y[0] + y[:2].exp())


def _scalar(x, y):
    return (x ** 3).sum() * y[0] + (x[0] * y).tanh().sum()


def _args(lib):
    return lib.tensor(X, dtype=lib.float64), lib.tensor(Y, dtype=lib.float64)


def _flat(result):
    if isinstance(result, (tuple, list)):
        return [a for r in result for a in _flat(r)]
    return [result.detach().numpy()]


CASES = {
    "jacobian": lambda lib, mod: mod.jacobian(_f, _args(lib)),
    "jacobian_single": lambda lib, mod: mod.jacobian(lambda x: x ** 2 + x.sum(), _args(lib)[0]),
    "hessian": lambda lib, mod: mod.hessian(_scalar, _args(lib)),
    "hessian_single": lambda lib, mod: mod.hessian(lambda x: (x ** 3).sum() * x[0], _args(lib)[0]),
    "vjp": lambda lib, mod: mod.vjp(lambda x, y: x * y[1:], _args(lib), lib.tensor(V2, dtype=lib.float64)),
    "jvp": lambda lib, mod: mod.jvp(lambda x, y: x * y[1:], _args(lib), (lib.tensor(V2, dtype=lib.float64),
                                                                       lib.tensor(V3, dtype=lib.float64))),
    "hvp": lambda lib, mod: mod.hvp(_scalar, _args(lib), (lib.tensor(V2, dtype=lib.float64),
                                                          lib.tensor(V3, dtype=lib.float64))),
    "vjp_tuple_out": lambda lib, mod: mod.vjp(lambda x, y: (x * y[1:], (x ** 2).sum() + y), _args(lib),
                                              (lib.tensor(V2, dtype=lib.float64), lib.tensor(V3, dtype=lib.float64))),
    "jvp_tuple_out": lambda lib, mod: mod.jvp(lambda x, y: (x * y[1:], (x ** 2).sum() + y), _args(lib),
                                              (lib.tensor(V2, dtype=lib.float64), lib.tensor(V3, dtype=lib.float64))),
    "vhp": lambda lib, mod: mod.vhp(_scalar, _args(lib), (lib.tensor(V2, dtype=lib.float64),
                                                          lib.tensor(V3, dtype=lib.float64))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name: str) -> None:
    mine, ref = _flat(CASES[name](descend, DF)), _flat(CASES[name](torch, TF))
    assert [a.shape for a in mine] == [b.shape for b in ref]
    for a, b in zip(mine, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_create_graph_lets_a_jacobian_be_differentiated() -> None:
    for lib, mod in ((descend, DF), (torch, TF)):
        x = lib.tensor(X, dtype=lib.float64, requires_grad=True)
        j = mod.jacobian(lambda t: t ** 3, x, create_graph=True)
        j.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), 6 * np.array(X))
