"""descend.func (torch.func's transforms) against torch.func on the same functions (float64), composed."""

from __future__ import annotations

import numpy as np
import pytest

import descend

torch = pytest.importorskip("torch")


def _run(lib):
    f = lib.func
    x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)
    w = lib.tensor(np.arange(6.0).reshape(2, 3), dtype=lib.float64)
    batch = lib.tensor(np.arange(12.0).reshape(4, 3), dtype=lib.float64)
    lin = lib.nn.Linear(3, 2).double()
    with lib.no_grad():
        lin.weight.copy_(w)
        lin.bias.copy_(lib.tensor([0.5, -1.0], dtype=lib.float64))
    out, vjp_fn = f.vjp(lambda t: t ** 2, x)
    g_and_v = f.grad_and_value(lambda a, b: (a * b).sum(), argnums=(0, 1))(x, x + 1)
    return {
        "grad": f.grad(lambda t: (t ** 3).sum())(x),
        "grad_of_grad": f.grad(lambda t: f.grad(lambda y: (y ** 3).sum())(t).sum())(x),
        "grad_and_value": (g_and_v[0][0], g_and_v[0][1], g_and_v[1]),
        "grad_has_aux": f.grad(lambda t: ((t ** 2).sum(), t.mean()), has_aux=True)(x),
        "jacrev": f.jacrev(lambda t: w @ t.sin())(x),
        "jacfwd": f.jacfwd(lambda t: w @ t.sin())(x),
        "hessian": f.hessian(lambda t: (t ** 3).sum() * t[0])(x),
        "per_sample_grads": f.vmap(f.grad(lambda p, xi: ((p * xi).sum() - 1) ** 2), in_dims=(None, 0))(x, batch),
        "vmap_in_dims": lib.vmap(lambda a, b: (a * b).sum(), in_dims=(0, 1))(w, w.T.contiguous()),
        "vmap_tuple_out": lib.vmap(lambda a: (a.sum(), a * 2))(batch),
        "vjp": (out, vjp_fn(lib.ones(3, dtype=lib.float64))[0]),
        "functional_call": f.functional_call(lin, {"weight": w * 2, "bias": lib.zeros(2, dtype=lib.float64)}, (x,)),
        "module_untouched": lin(x),
    }


def _arrays(v):
    if isinstance(v, (tuple, list)):
        return [a for item in v for a in _arrays(item)]
    return [(v.detach().numpy(), bool(v.requires_grad))]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.func scripts its own helpers
def test_transforms_match_torch_func() -> None:
    mine, ref = _run(descend), _run(torch)
    for key in ref:
        for (a, ga), (b, gb) in zip(_arrays(mine[key]), _arrays(ref[key])):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=key)
            if key in ("grad", "grad_of_grad", "per_sample_grads"):
                assert ga == gb, key  # plain tensors outside any transform, as PyTorch's


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_per_sample_gradients_of_a_parameter_dict_and_plain_results_as_torch() -> None:
    """The torch.func recipe: vmap(grad(loss over functional_call)) over a dict of parameters; results outside
    any transform are plain tensors; keyword arguments pass through vmap unmapped."""
    def run(lib):
        model = lib.nn.Linear(3, 1)
        with lib.no_grad():
            model.weight.copy_(lib.tensor([[1.0, -2.0, 0.5]]))
            model.bias.fill_(0.3)
        params = {k: v.detach() for k, v in model.named_parameters()}

        def loss(p, x):
            return (lib.func.functional_call(model, p, (x,)) ** 2).sum()
        per = lib.func.vmap(lib.func.grad(loss), in_dims=(None, 0))(params, lib.arange(12.0).reshape(4, 3))
        out, vjp_fn = lib.func.vjp(lambda x: x ** 2, lib.tensor([1.0, 2.0]))
        return ({k: (tuple(v.shape), v.tolist()) for k, v in per.items()},
                lib.func.jacrev(lambda x: x ** 2)(lib.tensor([1.0, 2.0])).numpy().tolist(),
                lib.func.hessian(lambda x: (x ** 3).sum())(lib.tensor([1.0, 2.0])).numpy().tolist(),
                (out.requires_grad, vjp_fn(lib.ones(2))[0].requires_grad),
                lib.func.vmap(lambda a, scale=1.0: a.sum() * scale)(lib.ones(3, 2), scale=2.0).tolist())
    assert run(descend) == run(torch)
