"""The tensor op surface beyond gradients (tests/registry_tensor.py has those): result dtypes, named
results, errors, memory layout and the random generators, each checked against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import descend
from descend import backend

torch = pytest.importorskip("torch")


def _both(values, dtype: str) -> tuple:
    arr = np.asarray(values, dtype=dtype)
    return descend.tensor(arr), torch.from_numpy(arr.copy())


def _dtype_name(dt) -> str:
    return str(dt).replace("torch.", "").replace("descend.", "")


def _same(ours, theirs) -> None:
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert _dtype_name(ours.dtype) == _dtype_name(theirs.dtype), (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(np.asarray(ours.detach().numpy(), dtype=np.float64),
                               theirs.detach().numpy().astype(np.float64), rtol=1e-5, atol=1e-6)


# ---- result dtypes -------------------------------------------------------------------------------------------

DTYPE_CASES = [
    ("sin of int", "int64", lambda m, x: m.sin(x)),
    ("sqrt of bool", "bool", lambda m, x: m.sqrt(x)),
    ("exp of int32", "int32", lambda m, x: x.exp()),
    ("floor of int keeps int", "int64", lambda m, x: m.floor(x)),
    ("round of int", "int32", lambda m, x: x.round()),
    ("sign of bool", "bool", lambda m, x: m.sign(x)),
    ("eq", "float32", lambda m, x: m.eq(x, 1.0)),
    ("gt method", "int64", lambda m, x: x.gt(0)),
    ("le tensor", "float32", lambda m, x: x.le(x * 2)),
    ("isnan", "float32", lambda m, x: m.isnan(x)),
    ("logical_xor", "int64", lambda m, x: m.logical_xor(x, x > 1)),
    ("bitwise_and", "int64", lambda m, x: m.bitwise_and(x, 6)),
    ("xor operator", "bool", lambda m, x: x ^ ~x),
    ("floordiv operator int", "int64", lambda m, x: x // 2),
    ("floordiv negative", "int64", lambda m, x: (-x) // 3),
    ("mod operator float", "float32", lambda m, x: x % 1.5),
    ("mod negative", "int64", lambda m, x: (-x) % 3),
    ("rfloordiv", "float32", lambda m, x: 7.0 // (x + 1)),
    ("fmod int", "int64", lambda m, x: m.fmod(-x, 3)),
    ("div trunc int", "int64", lambda m, x: m.div(-x, 4, rounding_mode="trunc")),
    ("div floor float", "float64", lambda m, x: m.div(x, -0.7, rounding_mode="floor")),
    ("cumsum of int32", "int32", lambda m, x: m.cumsum(x, 0)),
    ("cumprod of bool", "bool", lambda m, x: x.cumprod(0)),
    ("prod of int", "int32", lambda m, x: m.prod(x)),
    ("sum of uint8", "uint8", lambda m, x: x.sum()),
    ("count_nonzero", "float32", lambda m, x: m.count_nonzero(x)),
    ("argsort", "float32", lambda m, x: m.argsort(x, descending=True)),
    ("argmax", "int64", lambda m, x: x.argmax()),
    ("all", "float32", lambda m, x: x.all()),
    ("any dim", "int64", lambda m, x: m.any(x.reshape(2, 3), 1)),
    ("nonzero", "float32", lambda m, x: m.nonzero(x)),
    ("clamp int by float", "int64", lambda m, x: x.clamp(0.5, 2.5)),
    ("where of numbers", "float32", lambda m, x: m.where(x > 1, 1.0, 0.0)),
    ("where of ints", "float32", lambda m, x: m.where(x > 1, 1, 0)),
    ("cat of mixed", "float32", lambda m, x: m.cat([x, x.long()])),
    ("stack of mixed", "int32", lambda m, x: m.stack([x, x.double()])),
    ("where int and float", "int64", lambda m, x: m.where(x > 1, x, 0.5)),
    ("nan_to_num default", "float32", lambda m, x: m.nan_to_num(x / 0)),
    ("bincount", "int64", lambda m, x: m.bincount(x)),
    ("unique", "int64", lambda m, x: m.unique(x, return_counts=True)[1]),
    ("searchsorted", "float32", lambda m, x: m.searchsorted(m.sort(x).values, x)),
    ("histc", "float32", lambda m, x: m.histc(x, bins=3, min=0, max=5)),
    ("isin", "int64", lambda m, x: m.isin(x, m.tensor([2, 5]))),
    ("logspace", "float32", lambda m, x: m.logspace(0, 2, 5)),
    ("arange float step", "float32", lambda m, x: m.arange(0, 1, 0.1)),
]


@pytest.mark.parametrize("name, dtype, fn", DTYPE_CASES, ids=[c[0] for c in DTYPE_CASES])
def test_result_dtypes_and_values_match_torch(name: str, dtype: str, fn) -> None:
    ours, theirs = _both([0, 1, 2, 3, 0, 5], dtype)
    _same(fn(descend, ours), fn(torch, theirs))


def test_non_differentiable_results_do_not_require_grad() -> None:
    x = descend.randn(3, 4, requires_grad=True)
    for out in [x.eq(0), x > 0, x.argsort(), x.argmax(1), descend.nonzero(x > 0), x.isfinite(),
                x.sort().indices, x.topk(2).indices, descend.searchsorted(x.detach()[0].sort().values, x.detach()),
                descend.count_nonzero(x), x.max(1).indices]:
        assert not out.requires_grad


# ---- named results -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", ["max(x, 1)", "min(x, 0, keepdim=True)", "sort(x, 1)", "topk(x, 2)",
                                  "kthvalue(x, 2, 1)", "median(x, 1)", "cummax(x, 1)", "cummin(x, 0)",
                                  "aminmax(x, dim=1)", "nanmedian(x, 0)"])
def test_named_results_match_torch_return_types(call: str) -> None:
    data = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    ours = eval(call, {"max": descend.max, "min": descend.min, "sort": descend.sort, "topk": descend.topk,
                       "kthvalue": descend.kthvalue, "median": descend.median, "cummax": descend.cummax,
                       "cummin": descend.cummin, "aminmax": descend.aminmax, "nanmedian": descend.nanmedian,
                       "x": descend.tensor(data)})
    theirs = eval(call, {**{k: getattr(torch, k) for k in ("max", "min", "sort", "topk", "kthvalue", "median",
                                                            "cummax", "cummin", "aminmax", "nanmedian")},
                         "x": torch.from_numpy(data)})
    assert type(ours).__name__ == type(theirs).__name__
    for field in ours._fields:  # torch's are structseqs: the same names as attributes, in the same order
        _same(getattr(ours, field), getattr(theirs, field))
    for a, b in zip(ours, theirs):
        _same(a, b)


def test_global_median_is_the_lower_middle_value() -> None:
    x, t = _both([4.0, 1.0, 3.0, 2.0], "float32")
    _same(descend.median(x), torch.median(t))
    _same(x.quantile(0.5), t.quantile(0.5))


@pytest.mark.parametrize("q, dim, keepdim", [(0.25, None, False), ([0.1, 0.9], 1, False), ([0.5], 0, True),
                                             (0.7, -1, True), ([0.2, 0.4, 1.0], None, True)])
def test_quantile_shapes_and_values(q, dim, keepdim) -> None:
    data = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)
    qd = descend.tensor(q) if isinstance(q, list) else q
    qt = torch.tensor(q) if isinstance(q, list) else q
    _same(descend.quantile(descend.tensor(data), qd, dim, keepdim), torch.quantile(torch.from_numpy(data), qt, dim, keepdim))


# ---- shape ops: sizes of the pieces ----------------------------------------------------------------------------

@pytest.mark.parametrize("call", ["split(x, 2, 1)", "split(x, [1, 4, 2], 1)", "chunk(x, 3, 1)", "chunk(x, 4, 0)",
                                  "tensor_split(x, 3, 1)", "tensor_split(x, [1, 5], 1)", "unbind(x, 0)",
                                  "meshgrid(x[0], x[1, :3], indexing='xy')", "broadcast_tensors(x, x[0])"])
def test_multi_output_shape_ops_match_torch(call: str) -> None:
    data = np.arange(21, dtype=np.float32).reshape(3, 7)
    ours = eval(call, {k: getattr(descend, k) for k in ("split", "chunk", "tensor_split", "unbind", "meshgrid",
                                                         "broadcast_tensors")} | {"x": descend.tensor(data)})
    theirs = eval(call, {k: getattr(torch, k) for k in ("split", "chunk", "tensor_split", "unbind", "meshgrid",
                                                         "broadcast_tensors")} | {"x": torch.from_numpy(data)})
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        _same(a, b)


@pytest.mark.parametrize("eq, shapes", [("ii", [(3, 3)]), ("ii->i", [(3, 3)]), ("ij->", [(2, 3)]),
                                        ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("i,i->", [(4,), (4,)]),
                                        ("...j,j", [(2, 3, 4), (4,)]), ("ab,cd->abcd", [(2, 1), (1, 3)])])
def test_einsum_forward_matches_torch(eq: str, shapes: list) -> None:
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    _same(descend.einsum(eq, *[descend.tensor(a) for a in arrays]), torch.einsum(eq, *[torch.from_numpy(a) for a in arrays]))


def test_nonzero_and_one_argument_where() -> None:
    x, t = _both([[0, 2, 0], [3, 0, 4]], "int64")
    _same(descend.nonzero(x), torch.nonzero(t))
    for a, b in zip(descend.nonzero(x, as_tuple=True), torch.nonzero(t, as_tuple=True)):
        _same(a, b)
    for a, b in zip(descend.where(x > 0), torch.where(t > 0)):
        _same(a, b)
    _same(descend.argwhere(x), torch.argwhere(t))


# ---- layout: view, contiguity, clone, stride --------------------------------------------------------------------

def test_view_raises_where_torch_does_and_reshape_never_does() -> None:
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    x, t = descend.tensor(data), torch.from_numpy(data)
    assert x.t().is_contiguous() == t.t().is_contiguous() is False
    with pytest.raises(RuntimeError):
        t.t().view(-1)
    with pytest.raises(RuntimeError, match="view: .*not compatible.*reshape"):
        x.t().view(-1)
    _same(x.t().reshape(-1), t.t().reshape(-1))
    _same(x.t().contiguous().view(-1), t.t().contiguous().view(-1))
    assert x.t().contiguous().is_contiguous()
    # Views that strides do allow: splitting a dim of a transposed tensor, merging contiguous trailing dims.
    _same(x.t().view(2, 2, 3), t.t().view(2, 2, 3))
    y, u = descend.tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4)), torch.arange(24.0).reshape(2, 3, 4)
    _same(y[:, :, :2].view(2, 3, 2), u[:, :, :2].view(2, 3, 2))
    with pytest.raises(RuntimeError):
        y[:, :2].view(-1)
    with pytest.raises(RuntimeError):
        u[:, :2].view(-1)


def test_clone_preserves_strides_of_dense_tensors_and_stride_matches_torch() -> None:
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    x, t = descend.tensor(data), torch.from_numpy(data)
    assert x.t().clone().is_contiguous() == t.t().clone().is_contiguous()
    assert x.t().stride() == t.t().stride() and x.stride(1) == t.stride(1)
    assert x[:, ::2].clone().is_contiguous() == t[:, ::2].clone().is_contiguous()
    assert x.t().clone(memory_format=torch.contiguous_format).is_contiguous()
    assert x.view(4, 3).data_ptr() == x.data_ptr() and x.clone().data_ptr() != x.data_ptr()
    assert descend.Size([2, 3]) == (2, 3) and x.nelement() == t.nelement()
    assert f"{descend.tensor(0.5):.3f}" == f"{torch.tensor(0.5):.3f}"


def test_squeeze_tuple_mt_and_movedim_match_torch() -> None:
    data = np.random.default_rng(3).standard_normal((1, 3, 1, 2)).astype(np.float32)
    x, t = descend.tensor(data), torch.from_numpy(data)
    _same(x.squeeze((0, 2)), t.squeeze((0, 2)))
    _same(x.squeeze((1,)), t.squeeze((1,)))
    _same(x.mT, t.mT)
    _same(x.movedim((0, 3), (2, 0)), t.movedim((0, 3), (2, 0)))


# ---- errors: RuntimeError where PyTorch raises one -------------------------------------------------------------

ERRORS = [
    ("broadcast", lambda m: m.ones(3, 4) + m.ones(3), RuntimeError),
    ("matmul inner dims", lambda m: m.ones(2, 3) @ m.ones(2, 3), RuntimeError),
    ("cat shapes", lambda m: m.cat([m.ones(2, 3), m.ones(3, 2)]), RuntimeError),
    ("cat dim", lambda m: m.cat([m.ones(2)], 1), IndexError),
    ("gather index out of range", lambda m: m.ones(2, 2).gather(1, m.tensor([[0, 5]])), RuntimeError),
    ("index_select dim", lambda m: m.ones(2).index_select(3, m.tensor([0])), IndexError),
    ("mean of ints", lambda m: m.tensor([1, 2]).mean(), RuntimeError),
    ("var of ints", lambda m: m.tensor([1, 2]).var(), RuntimeError),
    ("split sizes", lambda m: m.ones(5).split([2, 2]), RuntimeError),
    ("topk too large", lambda m: m.ones(3).topk(4), RuntimeError),
    ("randint low >= high", lambda m: m.randint(3, 3, (2,)), RuntimeError),
    ("zeros negative", lambda m: m.zeros(-1), RuntimeError),
    ("arange zero step", lambda m: m.arange(0, 1, 0), RuntimeError),
    ("unsqueeze dim", lambda m: m.ones(2).unsqueeze(3), IndexError),
    ("multinomial too many", lambda m: m.multinomial(m.tensor([0.5, 0.5]), 3), RuntimeError),
    ("bitwise on float", lambda m: m.bitwise_and(m.ones(2), m.ones(2)), RuntimeError),
    ("einsum operand count", lambda m: m.einsum("ij,jk->ik", m.ones(2, 2)), RuntimeError),
    ("mm of vectors", lambda m: m.mm(m.ones(3), m.ones(3)), RuntimeError),
    ("inv of non-square", lambda m: m.linalg.inv(m.ones(2, 3)), RuntimeError),
]


@pytest.mark.parametrize("name, fn, kind", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_are_the_exception_torch_raises(name: str, fn, kind: type) -> None:
    with pytest.raises(kind):
        fn(torch)
    with pytest.raises(kind) as info:
        fn(descend)
    assert str(info.value)  # a message, naming the op


def test_errors_stay_value_errors_for_existing_callers() -> None:
    with pytest.raises(ValueError, match=r"add: shapes \(3, 4\) and \(3,\)"):
        descend.ones(3, 4) + descend.ones(3)


# ---- random ---------------------------------------------------------------------------------------------------

def test_global_stream_is_unchanged_by_the_generator_api() -> None:
    descend.manual_seed(7)
    ours = descend.randn(3, 4).numpy()
    ref = np.random.default_rng(7).standard_normal((3, 4), dtype=np.float32)
    np.testing.assert_array_equal(ours, ref)  # the same draws as before Generator objects existed
    g = descend.Generator().manual_seed(7)
    descend.manual_seed(7)
    descend.rand(5, generator=g)  # a private generator does not advance the global stream
    np.testing.assert_array_equal(descend.randn(3, 4).numpy(), ref)


def test_generator_seeding_state_and_independence() -> None:
    g1, g2 = descend.Generator().manual_seed(3), descend.Generator().manual_seed(3)
    assert isinstance(descend.manual_seed(0), descend.Generator)
    assert g1.initial_seed() == 3 and descend.initial_seed() == 0
    a = descend.randn(4, generator=g1)
    state = g1.get_state()
    assert state.dtype == descend.uint8
    b = descend.rand(3, generator=g1)
    g1.set_state(state)
    np.testing.assert_array_equal(descend.rand(3, generator=g1).numpy(), b.numpy())
    np.testing.assert_array_equal(descend.randn(4, generator=g2).numpy(), a.numpy())
    assert descend.randperm(6, generator=g1).sort().values.tolist() == list(range(6))
    assert descend.randint(0, 4, (50,), generator=g1).max().item() < 4
    s = g2.seed()
    assert g2.initial_seed() == s
    assert str(g1.device) == str(torch.Generator().device)


def test_get_and_set_rng_state_round_trip() -> None:
    descend.manual_seed(11)
    state = descend.get_rng_state()
    first = descend.randn(5).numpy()
    descend.randn(3)
    descend.set_rng_state(state)
    np.testing.assert_array_equal(descend.randn(5).numpy(), first)
    assert backend.get_rng_state() == descend.backend.get_rng_state()  # the checkpoint form is untouched


def test_multinomial_with_and_without_replacement() -> None:
    g = descend.Generator().manual_seed(0)
    probs = descend.tensor([0.1, 0.0, 0.6, 0.3])
    draws = descend.multinomial(probs, 20000, replacement=True, generator=g)
    assert draws.dtype == descend.int64 and draws.shape == (20000,)
    freq = np.bincount(draws.numpy(), minlength=4) / 20000
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.6, 0.3], atol=0.015)  # ~5 standard errors
    rows = descend.tensor([[1.0, 1.0, 1.0, 0.0], [0.0, 2.0, 1.0, 5.0]])
    picks = rows.multinomial(3, generator=g)
    assert picks.shape == (2, 3)
    for row, p in zip(rows.numpy(), picks.numpy()):
        assert len(set(p)) == 3 and all(row[i] > 0 for i in p)
    # Without replacement, the first pick follows the weights: P(first = 3) = 5/8 in row 1.
    firsts = [descend.multinomial(rows[1], 1, generator=g).item() for _ in range(4000)]
    assert abs(firsts.count(3) / 4000 - 5 / 8) < 0.04


def test_bernoulli_normal_poisson() -> None:
    g = descend.Generator().manual_seed(1)
    p = descend.full((20000,), 0.3)
    b = descend.bernoulli(p, generator=g)
    assert b.dtype == descend.float32 and set(np.unique(b.numpy())) <= {0.0, 1.0}
    assert abs(b.mean().item() - 0.3) < 0.02
    n = descend.normal(2.0, 3.0, (20000,), generator=g)
    assert n.dtype == descend.float32 and abs(n.mean().item() - 2) < 0.1 and abs(n.std().item() - 3) < 0.1
    m = descend.normal(descend.zeros(2, 3), descend.ones(3) * 0.0)
    np.testing.assert_array_equal(m.numpy(), np.zeros((2, 3)))
    k = descend.poisson(descend.full((20000,), 4.0), generator=g)
    assert abs(k.mean().item() - 4) < 0.1


def test_deterministic_algorithms_are_recorded() -> None:
    descend.use_deterministic_algorithms(True, warn_only=True)
    assert descend.are_deterministic_algorithms_enabled()
    descend.use_deterministic_algorithms(False)
    assert not descend.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("name", ["ndtr", "ndtri", "entr", "expit", "gammaln", "psi", "sinc", "log_ndtr", "erfinv",
                                  "logit", "erfc", "xlogy"])
def test_special_namespace_matches_torch_special(name: str) -> None:
    data = np.array([0.1, 0.5, 0.9, 0.0, 0.3], dtype=np.float32)
    ours, theirs = getattr(descend.special, name), getattr(torch.special, name)
    args = (2,) if name == "xlogy" else ()
    with np.errstate(divide="ignore", invalid="ignore"):
        _same(ours(*args, descend.tensor(data)) if args else ours(descend.tensor(data)),
              theirs(*args, torch.from_numpy(data)) if args else theirs(torch.from_numpy(data)))


# ---- edge cases: 0-D and empty tensors, ties, NaN, negative dims -------------------------------------------

EDGES = {
 "sort0d": lambda m: m.sort(m.tensor(3.0)).values,
 "sort_empty": lambda m: m.sort(m.zeros(0)).values,
 "topk0": lambda m: m.topk(m.ones(3), 0).values,
 "cumsum_empty": lambda m: m.cumsum(m.zeros(2, 0), 1),
 "cumsum0d": lambda m: m.cumsum(m.tensor(2.0), 0),
 "prod_empty": lambda m: m.prod(m.zeros(0)),
 "prod0d": lambda m: m.prod(m.tensor(3.0)),
 "split_empty": lambda m: len(m.split(m.zeros(0), 2)),
 "chunk_small": lambda m: len(m.chunk(m.ones(2), 5)),
 "gather_empty": lambda m: m.gather(m.ones(2, 3), 1, m.zeros(2, 0, dtype=m.long)),
 "norm_empty": lambda m: m.linalg.vector_norm(m.zeros(0)),
 "median_even": lambda m: m.median(m.tensor([1.0, 2.0])),
 "quantile_1": lambda m: m.quantile(m.tensor([5.0]), 0.7),
 "flip_0d": lambda m: m.flip(m.tensor(1.0), []),
 "roll_0": lambda m: m.roll(m.arange(4), 0),
 "repeat_0": lambda m: m.ones(2).repeat(0).shape,
 "tile_more": lambda m: m.tile(m.ones(2, 3), (2,)).shape,
 "einsum_zero": lambda m: m.einsum("ij,jk->ik", m.zeros(2, 0), m.zeros(0, 3)),
 "nonzero_0d": lambda m: m.nonzero(m.tensor(1.0)).shape,
 "where_1arg_0d": lambda m: len(m.where(m.tensor(True))),
 "argsort_desc_int": lambda m: m.argsort(m.tensor([1, 3, 2, 3]), descending=True, stable=True),
 "unique_dim": lambda m: m.unique(m.tensor([[1, 2], [1, 2], [0, 1]]), dim=0),
 "amax_neg_dim": lambda m: m.amax(m.ones(2, 3), -1),
 "logsumexp_inf": lambda m: m.logsumexp(m.tensor([-float("inf"), -float("inf")]), 0),
 "kthvalue_keep": lambda m: m.kthvalue(m.tensor([[3.0, 1.0], [2.0, 5.0]]), 1, 0, True).values,
 "diag_0": lambda m: m.diag(m.zeros(0)).shape,
 "tril_neg": lambda m: m.tril(m.ones(3, 4), -2),
 "triu_3d": lambda m: m.triu(m.ones(2, 3, 3), 1),
 "cummax_int": lambda m: m.cummax(m.tensor([1, 3, 2]), 0).values,
 "count_nonzero_dims": lambda m: m.count_nonzero(m.eye(3), (0, 1)),
 "all_empty": lambda m: m.all(m.zeros(0)),
 "any_dim_keep": lambda m: m.any(m.eye(2), 1, True),
 "nansum_int": lambda m: m.nansum(m.tensor([1, 2])),
 "std_mean_corr": lambda m: m.std_mean(m.arange(5.0), correction=0)[0],
 "var_mean_keep": lambda m: m.var_mean(m.ones(2, 3), 1, keepdim=True)[1].shape,
 "take_along_neg": lambda m: m.take_along_dim(m.arange(6.0).reshape(2, 3), m.tensor([[-1]]), 1),
 "index_select_neg_dim": lambda m: m.index_select(m.arange(6.0).reshape(2, 3), -1, m.tensor([2, 0])),
 "bincount_minlen": lambda m: m.bincount(m.tensor([1, 1]), minlength=4),
 "histc_auto": lambda m: m.histc(m.tensor([1.0, 2.0, 2.0, 4.0]), bins=3),
 "clamp_int_tensor": lambda m: m.clamp(m.tensor([1, 5, 9]), m.tensor([2, 2, 2]), m.tensor([6, 6, 6])),
 "remainder_int_neg": lambda m: m.remainder(m.tensor([-3, 3]), -2),
 "fmod_float": lambda m: m.fmod(m.tensor([-3.5, 3.5]), 2),
 "floor_divide_0": lambda m: m.floor_divide(m.tensor([1.0, -1.0]), 0.0),
 "round_half": lambda m: m.round(m.tensor([0.5, 1.5, 2.5, -0.5])),
 "sign_nan": lambda m: m.sign(m.tensor([float("nan"), -0.0])),
 "nan_to_num_f16": lambda m: m.nan_to_num(m.tensor([float("inf")], dtype=m.float16)),
 "lerp_tensor_w": lambda m: m.lerp(m.zeros(2), m.ones(2), m.tensor([0.25, 0.75])),
 "hypot_int": lambda m: m.hypot(m.tensor([3.0]), m.tensor([4.0])),
 "atan2_int": lambda m: m.atan2(m.tensor([1]), m.tensor([1])),
 "meshgrid_single": lambda m: m.meshgrid(m.arange(3), indexing="ij")[0],
 "outer_int": lambda m: m.outer(m.arange(2), m.arange(3)),
 "dot_int": lambda m: m.dot(m.arange(3), m.arange(3)),
 "matrix_power_0": lambda m: m.matrix_power(m.ones(2, 2), 0),
 "tensordot_list": lambda m: m.tensordot(m.ones(2, 3), m.ones(3, 2), dims=([1], [0])),
 "movedim_same": lambda m: m.movedim(m.ones(2, 3), 0, 0).shape,
 "squeeze_empty_tuple": lambda m: m.ones(1, 2).squeeze(()).shape,
 "unflatten_neg": lambda m: m.ones(2, 6).unflatten(-1, (3, 2)).shape,
 "narrow_neg_start": lambda m: m.narrow(m.arange(5), 0, -2, 2),
 "select_neg": lambda m: m.select(m.arange(6).reshape(2, 3), -1, -1),
 "repeat_interleave_tensor_dim": lambda m: m.repeat_interleave(m.arange(4).reshape(2, 2), m.tensor([1, 2]), dim=0),
 "scatter_add_1d": lambda m: m.scatter_add(m.zeros(3), 0, m.tensor([0, 0, 2]), m.ones(3)),
 "scatter_reduce_prod": lambda m: m.scatter_reduce(m.ones(3), 0, m.tensor([0, 0, 2]), m.tensor([2.0, 3.0, 4.0]),
                                                  "prod"),
 "masked_select_0": lambda m: m.masked_select(m.ones(2), m.tensor([False, False])),
}


def _canon(v):
    if hasattr(v, "numpy"):
        return (_dtype_name(v.dtype), tuple(v.shape), np.asarray(v.detach().numpy(), dtype=np.float64).round(4).tolist())
    if isinstance(v, tuple):
        return tuple(v)
    return v


@pytest.mark.parametrize("name", list(EDGES))
def test_edge_cases_match_torch(name: str) -> None:
    with np.errstate(all="ignore"):
        assert str(_canon(EDGES[name](descend))) == str(_canon(EDGES[name](torch)))


ZERO_D_DIM_OPS = ["max", "min", "argmax", "sum", "mean", "softmax", "log_softmax", "cumsum", "cumprod", "sort",
                  "argsort", "std", "var", "logsumexp", "amax", "median", "nanmedian", "prod", "flip",
                  "cummax", "cummin", "mode", "nanmean", "count_nonzero", "any", "all"]


@pytest.mark.parametrize("name", ZERO_D_DIM_OPS)
@pytest.mark.parametrize("dim", [0, -1])
def test_dim_ops_on_a_zero_dim_tensor_match_torch(name: str, dim: int) -> None:
    """PyTorch treats dim 0 (or -1) of a 0-d tensor as a dim of one element: values, shapes and gradients."""
    torch = pytest.importorskip("torch")
    got = []
    for lib in (descend, torch):
        x = lib.tensor(2.5, dtype=lib.float64, requires_grad=True)
        out = getattr(x, name)(dim)
        out = out[0] if isinstance(out, tuple) else out
        if out.dtype.is_floating_point:
            (out * 3).sum().backward()
        got.append((tuple(out.shape), out.detach().double().item(), None if x.grad is None else x.grad.item()))
    (shape, value, grad), (t_shape, t_value, t_grad) = got
    assert shape == t_shape
    np.testing.assert_allclose(value, t_value, rtol=1e-12)  # NaN == NaN here (std of one element)
    assert (grad is None) == (t_grad is None)
    if grad is not None:
        np.testing.assert_allclose(grad, t_grad, rtol=1e-12)


def test_zero_dim_index_ops_and_size_arithmetic_match_torch() -> None:
    torch = pytest.importorskip("torch")

    def run(lib):
        x = lib.tensor(3.5, requires_grad=True)
        out = [tuple(f().shape) for f in (lambda: x.movedim(0, 0), lambda: x.gather(0, lib.tensor(0)),
                                           lambda: x.index_select(0, lib.tensor([0])),
                                           lambda: x.scatter(0, lib.tensor(0), lib.tensor(1.0)))]
        s = lib.ones(2, 3).shape
        out += [type(v).__name__ for v in (s + (4,), (1,) + s, s * 2, s[1:])] + [(s + s).numel()]
        with pytest.raises(TypeError):
            lib.Size([2.5])
        out.append(tuple(lib.Size([lib.tensor(2), 3])))
        i16 = lib.arange(12, dtype=lib.int16).reshape(3, 4)
        with pytest.raises(RuntimeError):
            i16[:, 1:3].view(lib.int32)  # an odd storage offset
        out.append(i16[:, 2:4].view(lib.int32).tolist())
        return out
    assert run(descend) == run(torch)


def test_complex_conjugate_transposes_conjugate_as_torch() -> None:
    torch = pytest.importorskip("torch")

    def run(lib):
        x = lib.tensor([[1 + 2j, 3 - 1j]])
        return [v.tolist() for v in (x.H, x.mH, lib.adjoint(x), x.conj(), lib.conj(x), x.resolve_conj(),
                                     lib.ones(2, 3).H)]
    assert run(descend) == run(torch)
