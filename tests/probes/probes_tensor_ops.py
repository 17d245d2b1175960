"""Probes: the elementwise, comparison, logical and linear-algebra op surface."""

import math

from tests.probes.harness import arr, grad, probe, probes


def _x(torch):
    return torch.tensor([0.5, -1.5, 2.25, -0.2])


def _p(torch):
    return torch.tensor([0.5, 1.5, 2.25, 0.2])


def _m(torch, *shape, seed=0):
    return torch.tensor(arr(*shape, seed=seed))


def _g(torch, fn, values=None):
    """The value of fn(x) and the gradient of its sum."""
    x = torch.tensor(values or [0.5, -1.5, 2.25, -0.2], requires_grad=True)
    y = fn(x)
    y.sum().backward()
    return y, x.grad


probes("unary", {
    "sin": lambda torch: torch.sin(_x(torch)),
    "cos": lambda torch: _x(torch).cos(),
    "tan": lambda torch: torch.tan(_x(torch)),
    "asin": lambda torch: torch.asin(_x(torch) / 3),
    "acos": lambda torch: torch.acos(_x(torch) / 3),
    "atan": lambda torch: torch.atan(_x(torch)),
    "arctan_alias": lambda torch: torch.arctan(_x(torch)),
    "sinh": lambda torch: torch.sinh(_x(torch)),
    "cosh": lambda torch: torch.cosh(_x(torch)),
    "tanh": lambda torch: _x(torch).tanh(),
    "asinh": lambda torch: torch.asinh(_x(torch)),
    "exp": lambda torch: torch.exp(_x(torch)),
    "exp2": lambda torch: torch.exp2(_x(torch)),
    "expm1": lambda torch: torch.expm1(_x(torch) * 1e-4),
    "log": lambda torch: torch.log(_p(torch)),
    "log2": lambda torch: torch.log2(_p(torch)),
    "log10": lambda torch: _p(torch).log10(),
    "log1p": lambda torch: torch.log1p(_p(torch) * 1e-4),
    "sqrt": lambda torch: _p(torch).sqrt(),
    "rsqrt": lambda torch: torch.rsqrt(_p(torch)),
    "reciprocal": lambda torch: _x(torch).reciprocal(),
    "square": lambda torch: torch.square(_x(torch)),
    "abs": lambda torch: abs(_x(torch)),
    "neg": lambda torch: torch.neg(_x(torch)),
    "negative": lambda torch: torch.negative(_x(torch)),
    "sign": lambda torch: torch.sign(torch.tensor([-2.0, 0.0, 3.0])),
    "sgn": lambda torch: torch.sgn(torch.tensor([-2.0, 0.0, 3.0])),
    "floor": lambda torch: torch.floor(_x(torch)),
    "ceil": lambda torch: _x(torch).ceil(),
    "round": lambda torch: torch.round(torch.tensor([0.5, 1.5, 2.5, -0.5, 1.2])),
    "round_decimals": lambda torch: torch.round(torch.tensor([1.2345, -2.5678]), decimals=2),
    "trunc": lambda torch: torch.trunc(_x(torch)),
    "fix": lambda torch: torch.fix(_x(torch)),
    "frac": lambda torch: torch.frac(_x(torch)),
    "sigmoid": lambda torch: torch.sigmoid(_x(torch)),
    "logit": lambda torch: torch.logit(torch.tensor([0.25, 0.5])),
    "erf": lambda torch: torch.erf(_x(torch)),
    "erfc": lambda torch: torch.erfc(_x(torch)),
    "erfinv": lambda torch: torch.erfinv(torch.tensor([0.1, -0.5])),
    "lgamma": lambda torch: torch.lgamma(_p(torch)),
    "digamma": lambda torch: torch.digamma(_p(torch)),
    "relu_fn": lambda torch: torch.relu(_x(torch)),
    "relu_method": lambda torch: _x(torch).relu(),
    "softmax_fn": lambda torch: torch.softmax(_x(torch), dim=0),
    "softmax_method": lambda torch: _m(torch, 2, 3).softmax(-1),
    "log_softmax_method": lambda torch: _m(torch, 2, 3).log_softmax(dim=1),
    "nan_to_num": lambda torch: (
        torch.nan_to_num(torch.tensor([float("nan"), float("inf"), -float("inf"), 1.0]))),
    "nan_to_num_args": lambda torch: (
        torch.nan_to_num(torch.tensor([float("nan"), float("inf")]), nan=0.0, posinf=9.0)),
    "isnan": lambda torch: torch.isnan(torch.tensor([1.0, float("nan")])),
    "isinf": lambda torch: torch.isinf(torch.tensor([1.0, float("inf"), -float("inf")])),
    "isfinite": lambda torch: torch.isfinite(torch.tensor([1.0, float("nan"), float("inf")])),
    "isnan_method_any": lambda torch: torch.tensor([1.0, float("nan")]).isnan().any(),
    "isneginf": lambda torch: torch.isneginf(torch.tensor([1.0, -float("inf")])),
    "deg2rad": lambda torch: torch.deg2rad(torch.tensor([180.0])),
    "bitwise_not_bool": lambda torch: ~torch.tensor([True, False]),
    "bitwise_not_int": lambda torch: torch.bitwise_not(torch.tensor([0, 5])),
})

probes("unary_grad", {
    "sin": lambda torch: _g(torch, torch.sin),
    "cos": lambda torch: _g(torch, torch.cos),
    "tan": lambda torch: _g(torch, torch.tan),
    "atan": lambda torch: _g(torch, torch.atan),
    "exp": lambda torch: _g(torch, torch.exp),
    "log_abs": lambda torch: _g(torch, lambda x: x.abs().log()),
    "log1p": lambda torch: _g(torch, lambda x: torch.log1p(x.abs())),
    "expm1": lambda torch: _g(torch, torch.expm1),
    "rsqrt": lambda torch: _g(torch, lambda x: x.abs().rsqrt()),
    "reciprocal": lambda torch: _g(torch, torch.reciprocal),
    "sign": lambda torch: _g(torch, torch.sign),
    "floor": lambda torch: _g(torch, torch.floor),
    "round": lambda torch: _g(torch, torch.round),
    "frac": lambda torch: _g(torch, torch.frac),
    "sigmoid": lambda torch: _g(torch, torch.sigmoid),
    "tanh": lambda torch: _g(torch, torch.tanh),
    "relu": lambda torch: _g(torch, torch.relu),
    "abs": lambda torch: _g(torch, torch.abs),
    "pow3": lambda torch: _g(torch, lambda x: torch.pow(x, 3.0)),
    "sqrt_abs": lambda torch: _g(torch, lambda x: x.abs().sqrt()),
    "erf": lambda torch: _g(torch, torch.erf),
    "clamp": lambda torch: _g(torch, lambda x: x.clamp(-1, 1)),
    "softmax": lambda torch: _g(torch, lambda x: torch.softmax(x, 0) * torch.arange(4.0)),
    "gelu_tanh": lambda torch: (
        _g(torch, lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi)
                                                        * (x + 0.044715 * torch.pow(x, 3.0)))))),
    "nan_to_num": lambda torch: _g(torch, torch.nan_to_num),
})


probes("binary", {
    "add": lambda torch: torch.add(_x(torch), _p(torch)),
    "add_alpha": lambda torch: torch.add(_x(torch), _p(torch), alpha=2),
    "add_method_alpha": lambda torch: _x(torch).add(_p(torch), alpha=-0.5),
    "sub_alpha": lambda torch: torch.sub(_x(torch), _p(torch), alpha=3),
    "subtract": lambda torch: torch.subtract(_x(torch), 1),
    "rsub": lambda torch: torch.rsub(_x(torch), 1),
    "mul": lambda torch: torch.mul(_x(torch), 2),
    "multiply": lambda torch: torch.multiply(_x(torch), _p(torch)),
    "div": lambda torch: torch.div(_x(torch), _p(torch)),
    "divide": lambda torch: torch.divide(_x(torch), 4),
    "true_divide": lambda torch: torch.true_divide(torch.tensor([3, 4]), 2),
    "floor_divide": lambda torch: torch.floor_divide(torch.tensor([7.0, -7.0]), 2),
    "floordiv_float": lambda torch: torch.tensor([7.5, -7.5]) // 2,
    "remainder": lambda torch: torch.remainder(torch.tensor([-3.0, 5.0]), 3),
    "fmod": lambda torch: torch.fmod(torch.tensor([-3.0, 5.0]), 3),
    "pow_tensor": lambda torch: torch.pow(_p(torch), _x(torch)),
    "pow_scalar_base": lambda torch: torch.pow(2, _x(torch)),
    "float_power": lambda torch: torch.float_power(torch.tensor([2, 3]), 2),
    "atan2": lambda torch: torch.atan2(_x(torch), _p(torch)),
    "arctan2": lambda torch: torch.arctan2(_x(torch), -_p(torch)),
    "hypot": lambda torch: torch.hypot(_x(torch), _p(torch)),
    "maximum": lambda torch: torch.maximum(_x(torch), torch.zeros(4)),
    "minimum": lambda torch: torch.minimum(_x(torch), torch.zeros(4)),
    "fmax_nan": lambda torch: (
        torch.fmax(torch.tensor([float("nan"), 1.0]), torch.tensor([2.0, 0.0]))),
    "maximum_nan": lambda torch: (
        torch.maximum(torch.tensor([float("nan"), 1.0]), torch.tensor([2.0, 0.0]))),
    "max_binary": lambda torch: torch.max(_x(torch), _p(torch)),
    "min_binary": lambda torch: torch.min(_x(torch), torch.zeros(4)),
    "clamp_tensor_bounds": lambda torch: (
        torch.clamp(_x(torch), min=torch.zeros(4), max=torch.ones(4))),
    "clamp_max_only": lambda torch: torch.clamp(_x(torch), max=0.0),
    "clamp_min_fn": lambda torch: torch.clamp_min(_x(torch), 0.0),
    "clip_fn": lambda torch: torch.clip(_x(torch), -1, 1),
    "addcmul": lambda torch: torch.addcmul(_x(torch), _p(torch), _p(torch), value=0.5),
    "addcdiv": lambda torch: torch.addcdiv(_x(torch), _p(torch), _p(torch) + 1, value=2),
    "lerp_scalar": lambda torch: torch.lerp(_x(torch), _p(torch), 0.3),
    "lerp_tensor": lambda torch: torch.lerp(_x(torch), _p(torch), torch.full((4,), 0.75)),
    "xlogy": lambda torch: torch.xlogy(torch.tensor([0.0, 2.0]), torch.tensor([0.0, 3.0])),
    "copysign": lambda torch: torch.copysign(_p(torch), _x(torch)),
    "logaddexp": lambda torch: torch.logaddexp(_x(torch), _p(torch)),
    "broadcast_add": lambda torch: _m(torch, 3, 1) + _m(torch, 1, 4, seed=1),
    "broadcast_three": lambda torch: (_m(torch, 2, 1, 3) * _m(torch, 4, 1, seed=2)).shape,
    "scalar_left_ops": lambda torch: (2 - _x(torch), 3 / _p(torch), 2 * _x(torch)),
    "matmul_operator": lambda torch: _m(torch, 2, 3) @ _m(torch, 3, 2, seed=1),
    "tensor_times_0d": lambda torch: _x(torch) * torch.tensor(2.0),
})

probes("binary_grad", {
    "div": lambda torch: _g(torch, lambda x: x / (x * x + 1)),
    "pow_tensor_exp": lambda torch: _g(torch, lambda x: torch.pow(torch.tensor(2.0), x)),
    "atan2": lambda torch: _g(torch, lambda x: torch.atan2(x, torch.ones(4))),
    "maximum": lambda torch: _g(torch, lambda x: torch.maximum(x, torch.zeros(4))),
    "addcmul": lambda torch: _g(torch, lambda x: torch.addcmul(x, x, x, value=2)),
    "addcdiv": lambda torch: _g(torch, lambda x: torch.addcdiv(x, x, x * x + 1)),
    "lerp": lambda torch: _g(torch, lambda x: torch.lerp(x, torch.zeros(4), 0.25)),
    "remainder": lambda torch: _g(torch, lambda x: x % 1.0),
    "where": lambda torch: _g(torch, lambda x: torch.where(x > 0, x * 2, x * x)),
    "masked_fill": lambda torch: _g(torch, lambda x: x.masked_fill(x < 0, 0.0)),
    "sub_alpha": lambda torch: _g(torch, lambda x: torch.sub(x, x * x, alpha=2)),
})


probes("compare", {
    "eq": lambda torch: _x(torch).eq(0.5),
    "eq_tensor": lambda torch: torch.eq(_x(torch), _p(torch)),
    "ne": lambda torch: _x(torch).ne(_p(torch)),
    "gt": lambda torch: _x(torch).gt(0),
    "lt": lambda torch: torch.lt(_x(torch), 0),
    "ge": lambda torch: _x(torch).ge(_p(torch)),
    "le": lambda torch: _x(torch).le(0.5),
    "greater": lambda torch: torch.greater(_x(torch), 0),
    "ops": lambda torch: (_x(torch) > 0, _x(torch) <= 0.5, _x(torch) == -1.5, _x(torch) != 0.5),
    "eq_view_as": lambda torch: (
        torch.tensor([[1], [2]]).eq(torch.tensor([1, 3]).view_as(torch.tensor([[1], [2]])))),
    "equal": lambda torch: (torch.equal(_x(torch), _x(torch)), torch.equal(_x(torch), _p(torch))),
    "equal_shape_mismatch": lambda torch: torch.equal(torch.ones(2), torch.ones(3)),
    "allclose": lambda torch: torch.allclose(_x(torch), _x(torch) + 1e-9),
    "allclose_tol": lambda torch: torch.allclose(torch.ones(2), torch.ones(2) * 1.01, rtol=0.1),
    "isclose": lambda torch: torch.isclose(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.1])),
    "isin": lambda torch: torch.isin(torch.tensor([1, 2, 3]), torch.tensor([2, 5])),
    "eq_none_false": lambda torch: (_x(torch) == None) is False,  # noqa: E711
    "argmax_eq_target": lambda torch: (
        (_m(torch, 4, 3).argmax(dim=1) == torch.tensor([0, 1, 2, 0])).float().mean()),
    "pred_eq_view_as_sum": lambda torch: (lambda pred, t: pred.eq(t.view_as(pred)).sum().item())(
        _m(torch, 5, 3).argmax(dim=1, keepdim=True), torch.tensor([0, 1, 2, 0, 1])),
})

probes("logical", {
    "and": lambda torch: torch.tensor([True, False]) & torch.tensor([True, True]),
    "or": lambda torch: torch.tensor([True, False]) | torch.tensor([False, False]),
    "xor": lambda torch: torch.tensor([True, False]) ^ torch.tensor([True, True]),
    "logical_and": lambda torch: torch.logical_and(_x(torch) > 0, _x(torch) < 1),
    "logical_or": lambda torch: torch.logical_or(_x(torch) > 2, _x(torch) < -1),
    "logical_not": lambda torch: torch.logical_not(_x(torch) > 0),
    "logical_not_float": lambda torch: torch.logical_not(torch.tensor([0.0, 1.5])),
    "logical_xor": lambda torch: torch.logical_xor(torch.tensor([1, 0]), torch.tensor([1, 1])),
    "mask_and_float": lambda torch: ((_x(torch) > -1) & (_x(torch) < 1)).float(),
    "bitwise_and_int": lambda torch: torch.tensor([6, 3]) & torch.tensor([3, 1]),
    "bitwise_or_int": lambda torch: torch.bitwise_or(torch.tensor([4]), torch.tensor([1])),
    "shift": lambda torch: torch.tensor([1, 2]) << 2,
    "where_method": lambda torch: _x(torch).where(_x(torch) > 0, torch.zeros(4)),
    "where_scalar": lambda torch: torch.where(_x(torch) > 0, _x(torch), 0.0),
    "where_scalars_both": lambda torch: torch.where(_x(torch) > 0, 1.0, -1.0),
    "where_single_arg": lambda torch: torch.where(torch.tensor([[0, 1], [1, 0]])),
    "masked_fill": lambda torch: _x(torch).masked_fill(_x(torch) < 0, float("-inf")),
    "masked_fill_broadcast_mask": lambda torch: (
        torch.ones(2, 3, 3).masked_fill(torch.tril(torch.ones(3, 3)) == 0, 0.0)),
    "masked_select": lambda torch: torch.masked_select(_x(torch), _x(torch) > 0),
    "bool_index_select": lambda torch: _x(torch)[_x(torch) > 0],
    "causal_mask": lambda torch: torch.ones(3, 3).tril().view(1, 1, 3, 3)[:, :, :2, :2] == 0,
    "any_all_bool": lambda torch: (
        (torch.tensor([False, True]).any(), torch.tensor([False, True]).all())),
})


probes("linalg", {
    "matmul_vec": lambda torch: torch.matmul(_m(torch, 2, 3), _m(torch, 3, seed=1)),
    "matmul_batched": lambda torch: torch.matmul(_m(torch, 2, 2, 3), _m(torch, 3, 4, seed=1)),
    "matmul_broadcast_batch": lambda torch: (
        torch.matmul(_m(torch, 2, 1, 2, 3), _m(torch, 3, 3, 2, seed=1)).shape),
    "mm": lambda torch: torch.mm(_m(torch, 2, 3), _m(torch, 3, 2, seed=1)),
    "mm_method": lambda torch: _m(torch, 2, 3).mm(_m(torch, 3, 2, seed=1)),
    "mv": lambda torch: torch.mv(_m(torch, 2, 3), _m(torch, 3, seed=1)),
    "dot": lambda torch: torch.dot(_m(torch, 3), _m(torch, 3, seed=1)),
    "vdot_method": lambda torch: _m(torch, 3).dot(_m(torch, 3, seed=1)),
    "outer": lambda torch: torch.outer(_m(torch, 2), _m(torch, 3, seed=1)),
    "ger_alias": lambda torch: torch.ger(_m(torch, 2), _m(torch, 3, seed=1)),
    "bmm": lambda torch: torch.bmm(_m(torch, 2, 2, 3), _m(torch, 2, 3, 2, seed=1)),
    "bmm_method": lambda torch: _m(torch, 2, 2, 3).bmm(_m(torch, 2, 3, 1, seed=1)),
    "addmm": lambda torch: (
        torch.addmm(_m(torch, 2), _m(torch, 3, 4, seed=1), _m(torch, 4, 2, seed=2))),
    "addmm_beta_alpha": lambda torch: (
        torch.addmm(_m(torch, 2, 2), _m(torch, 2, 3, seed=1), _m(torch, 3, 2, seed=2), beta=0.5,
                    alpha=2)),
    "baddbmm": lambda torch: (
        torch.baddbmm(_m(torch, 2, 2, 2), _m(torch, 2, 2, 3, seed=1), _m(torch, 2, 3, 2, seed=2))),
    "addmv": lambda torch: torch.addmv(_m(torch, 2), _m(torch, 2, 3, seed=1), _m(torch, 3, seed=2)),
    "einsum_matmul": lambda torch: (
        torch.einsum("ij,jk->ik", _m(torch, 2, 3), _m(torch, 3, 2, seed=1))),
    "einsum_batch": lambda torch: (
        torch.einsum("bij,bjk->bik", _m(torch, 2, 2, 3), _m(torch, 2, 3, 2, seed=1))),
    "einsum_trace": lambda torch: torch.einsum("ii", _m(torch, 3, 3)),
    "einsum_outer_list": lambda torch: (
        torch.einsum("i,j->ij", [_m(torch, 2), _m(torch, 3, seed=1)])),
    "einsum_attention": lambda torch: (
        torch.einsum("bhqd,bhkd->bhqk", _m(torch, 1, 2, 3, 4), _m(torch, 1, 2, 3, 4, seed=1))),
    "tensordot": lambda torch: torch.tensordot(_m(torch, 2, 3), _m(torch, 3, 2, seed=1), dims=1),
    "kron": lambda torch: torch.kron(torch.eye(2), torch.ones(2, 2)),
    "trace": lambda torch: torch.trace(_m(torch, 3, 3)),
    "det": lambda torch: torch.linalg.det(_m(torch, 3, 3)),
    "inv": lambda torch: torch.linalg.inv(torch.eye(2) * 2 + _m(torch, 2, 2) * 0.1),
    "solve": lambda torch: torch.linalg.solve(torch.eye(2) * 3, torch.ones(2)),
    "cross": lambda torch: torch.linalg.cross(torch.tensor([1.0, 0, 0]), torch.tensor([0.0, 1, 0])),
    "vector_norm": lambda torch: torch.linalg.vector_norm(_m(torch, 2, 3)),
    "vector_norm_ord_dim": lambda torch: torch.linalg.vector_norm(_m(torch, 2, 3), ord=1, dim=1),
    "linalg_norm_fro": lambda torch: torch.linalg.norm(_m(torch, 3, 3)),
    "linalg_norm_vec": lambda torch: torch.linalg.norm(_m(torch, 4), ord=float("inf")),
    "matrix_norm": lambda torch: torch.linalg.matrix_norm(_m(torch, 3, 3)),
    "cdist": lambda torch: torch.cdist(_m(torch, 2, 3), _m(torch, 4, 3, seed=1)),
    "matmul_grad": lambda torch: _matmul_grads(torch),
    "einsum_grad": lambda torch: (
        grad(lambda a: torch.einsum("ij,ij->i", a, a), torch.tensor(arr(2, 3), requires_grad=True))),
    "mv_grad": lambda torch: (
        grad(lambda a: torch.mv(a, torch.ones(3)), torch.tensor(arr(2, 3), requires_grad=True))),
    "baddbmm_grad": lambda torch: (
        grad(lambda a: torch.baddbmm(torch.zeros(1, 2, 2), a, a.transpose(1, 2)),
             torch.tensor(arr(1, 2, 3), requires_grad=True))),
})


def _matmul_grads(torch):
    a = torch.tensor(arr(2, 3), requires_grad=True)
    b = torch.tensor(arr(3, 2, seed=1), requires_grad=True)
    (a @ b).sum().backward()
    return a.grad, b.grad


@probe("linalg")
def polynomial_features(torch):
    # regression.py: columns x, x^2, x^3 built with cat over a comprehension.
    x = torch.tensor([1.0, 2.0, -0.5]).unsqueeze(1)
    return torch.cat([x ** i for i in range(1, 4)], 1)
