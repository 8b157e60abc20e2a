"""Tensor functions and methods (issue 13 item 1): each op against NumPy with gradcheck, then the
named tuples, rounding rules, einsum equations, random factories and errors."""

import math

import numpy as np
import pytest
from helpers import (BINARY_SHAPES, UNARY_SHAPES, away_from_zero, check_op, distinct, normal,
                     positive)

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor
from tinygrad_lstm.autograd import gradcheck

ND_SHAPES = [((2,),), ((3, 2),), ((2, 1, 3),)]  # at least one dim
MATRIX_SHAPES = [((2, 3),), ((4, 4),), ((2, 3, 3),)]


# (id, fn on Tensors, NumPy reference, shape matrix, sampler)
FUNCTION_OPS = [
    ("sin", tl.sin, np.sin, UNARY_SHAPES, normal),
    ("cos", lambda x: x.cos(), np.cos, UNARY_SHAPES, normal),
    ("log1p", tl.log1p, np.log1p, UNARY_SHAPES, positive),
    ("expm1", lambda x: x.expm1(), np.expm1, UNARY_SHAPES, normal),
    ("rsqrt", tl.rsqrt, lambda x: 1 / np.sqrt(x), UNARY_SHAPES, positive),
    ("sqrt", tl.sqrt, np.sqrt, UNARY_SHAPES, positive),
    ("square", lambda x: x.square(), np.square, UNARY_SHAPES, normal),
    ("reciprocal", tl.reciprocal, np.reciprocal, UNARY_SHAPES, away_from_zero),
    ("neg", tl.neg, np.negative, UNARY_SHAPES, normal),
    ("abs_fn", tl.abs, np.abs, UNARY_SHAPES, away_from_zero),
    ("exp_fn", tl.exp, np.exp, UNARY_SHAPES, normal),
    ("pow_scalar", lambda x: tl.pow(x, 3), lambda x: x ** 3, UNARY_SHAPES, normal),
    ("pow_scalar_base", lambda x: tl.pow(2.0, x), lambda x: 2.0 ** x, UNARY_SHAPES, normal),
    ("pow_tensors", lambda x, y: x.pow(y), np.power, BINARY_SHAPES, positive),
    ("maximum", tl.maximum, np.maximum, BINARY_SHAPES, normal),
    ("minimum", lambda x, y: x.minimum(y), np.minimum, BINARY_SHAPES, normal),
    ("max_tensor", lambda x, y: tl.max(x, y), np.maximum, BINARY_SHAPES, normal),
    # seeded draws: no x / y lands next to a jump of the quotient
    ("remainder", tl.remainder, np.remainder, BINARY_SHAPES, away_from_zero),
    ("fmod", lambda x, y: x.fmod(y), np.fmod, BINARY_SHAPES, away_from_zero),
    ("div_fn", lambda x, y: tl.div(x, y), np.divide, BINARY_SHAPES, away_from_zero),
    ("prod_all", tl.prod, np.prod, UNARY_SHAPES, normal),
    ("prod_dim", lambda x: x.prod(-1), lambda x: np.prod(x, -1), ND_SHAPES, normal),
    ("prod_keepdim", lambda x: tl.prod(x, 0, keepdim=True),
     lambda x: np.prod(x, 0, keepdims=True), ND_SHAPES, normal),
    ("var", tl.var, lambda x: np.var(x, ddof=1), ND_SHAPES[1:], normal),
    ("var_dim_biased", lambda x: x.var(0, unbiased=False), lambda x: np.var(x, 0),
     ND_SHAPES, normal),
    ("var_correction", lambda x: x.var(-1, correction=2, keepdim=True),
     lambda x: np.var(x, -1, ddof=2, keepdims=True), [((3, 4),), ((2, 1, 3),)], normal),
    ("std", lambda x: tl.std(x, (0, -1)), lambda x: np.std(x, (0, -1), ddof=1),
     [((3, 2),), ((2, 2, 3),)], normal),
    ("norm_fro", tl.norm, lambda x: np.sqrt(np.sum(x * x)), UNARY_SHAPES, normal),
    ("norm_3_dim", lambda x: x.norm(3, dim=-1),
     lambda x: np.sum(np.abs(x) ** 3, -1) ** (1 / 3), ND_SHAPES, away_from_zero),
    ("norm_1", lambda x: x.norm(1, 0, keepdim=True), lambda x: np.abs(x).sum(0, keepdims=True),
     ND_SHAPES, away_from_zero),
    ("norm_inf", lambda x: x.norm(math.inf), lambda x: np.abs(x).max(), UNARY_SHAPES, distinct),
    ("logsumexp", lambda x: tl.logsumexp(x, -1), lambda x: np.log(np.exp(x).sum(-1)),
     ND_SHAPES, normal),
    ("logsumexp_keepdim", lambda x: x.logsumexp((0, 1), keepdim=True),
     lambda x: np.log(np.exp(x).sum((0, 1), keepdims=True)), [((3, 2),), ((2, 1, 3),)], normal),
    ("sort_values", lambda x: tl.sort(x).values, lambda x: np.sort(x, -1), ND_SHAPES, distinct),
    ("sort_desc", lambda x: x.sort(0, descending=True)[0], lambda x: -np.sort(-x, 0),
     ND_SHAPES, distinct),
    ("topk", lambda x: tl.topk(x, 1).values, lambda x: np.sort(x, -1)[..., ::-1][..., :1],
     ND_SHAPES, distinct),
    ("tril", lambda x: tl.tril(x), np.tril, MATRIX_SHAPES, normal),
    ("triu_1", lambda x: x.triu(1), lambda x: np.triu(x, 1), MATRIX_SHAPES, normal),
    ("tril_neg", lambda x: x.tril(-1), lambda x: np.tril(x, -1), MATRIX_SHAPES, normal),
    ("repeat", lambda x: x.repeat(2, 1, 3), lambda x: np.tile(x, (2, 1, 3)),
     [((2,),), ((3, 2),), ((2, 1, 3),)], normal),
    ("index_select", lambda x: tl.index_select(x, 0, tl.tensor([1, 0, 1])),
     lambda x: x[[1, 0, 1]], [((2,),), ((3, 2),)], normal),
    ("gather", lambda x: tl.gather(x, 1, tl.tensor([[0, 0], [1, 0]])),
     lambda x: np.take_along_axis(x[:2], np.array([[0, 0], [1, 0]]), 1), [((3, 2),)], normal),
    ("masked_fill", lambda x: x.masked_fill(tl.tensor([True, False]), -1.5),
     lambda x: np.where([True, False], -1.5, x), [((2,),), ((3, 2),)], normal),
    ("mm", tl.mm, np.matmul, [((2, 3), (3, 4)), ((1, 1), (1, 2))], normal),
    ("bmm", lambda x, y: x.bmm(y), np.matmul, [((2, 3, 4), (2, 4, 1))], normal),
    ("matmul_fn", tl.matmul, np.matmul, [((3,), (3, 2)), ((2, 2, 3), (3,))], normal),
    ("addmm_scaled", lambda a, b, c: tl.addmm(a, b, c, beta=0.5, alpha=2.0),
     lambda a, b, c: 0.5 * a + 2.0 * b @ c, [((2, 4), (2, 3), (3, 4)), ((4,), (2, 3), (3, 4))],
     normal),
    ("addcmul_value", lambda a, b, c: tl.addcmul(a, b, c, value=-0.5),
     lambda a, b, c: a - 0.5 * b * c, [((3,), (2, 3), (1, 3))], normal),
]


@pytest.mark.parametrize("fn, ref_fn, shapes, sample", [op[1:] for op in FUNCTION_OPS],
                         ids=[op[0] for op in FUNCTION_OPS])
def test_function_op(fn, ref_fn, shapes, sample):
    check_op(fn, ref_fn, shapes, sample)


EINSUM_CASES = [  # (equation, operand shapes): forward against np.einsum, gradient by gradcheck
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit output: ik
    ("ba,bc", [(2, 3), (2, 4)]),  # implicit output sorted: ac
    ("i,j->ij", [(3,), (2,)]),
    ("ii->i", [(3, 3)]),  # diagonal
    ("ii", [(3, 3)]),  # trace
    ("bij->", [(2, 2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("i j , j ->i", [(2, 3), (3,)]),  # spaces
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 1)]),
    ("...ij,...jk->...ik", [(1, 2, 3), (4, 3, 2)]),  # ellipsis dims broadcast
    ("...ij,jk", [(4, 2, 3), (3, 2)]),  # implicit output with ellipsis: ...ik
    ("i...->...", [(3, 2, 2)]),
    ("ij,ij,j->i", [(2, 3), (2, 3), (3,)]),
    ("iij,jk->ik", [(2, 2, 3), (3, 2)]),  # a repeated letter and a contraction
    ("ij,k->ij", [(2, 3), (4,)]),  # k only summed within its operand
]


@pytest.mark.parametrize("equation, shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_forward_and_gradient(equation, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    out = tl.einsum(equation, *xs)
    np.testing.assert_allclose(out.numpy(), np.einsum(equation.replace(" ", ""), *arrays),
                               rtol=1e-12, atol=1e-12)
    gradcheck(lambda *ts: tl.einsum(equation, *ts), xs)
    np.testing.assert_allclose(tl.einsum(equation, xs).numpy(), out.numpy())  # the list form


def test_einsum_gradient_of_a_trace_is_the_identity():
    x = Tensor(np.arange(9.0).reshape(3, 3), requires_grad=True)
    tl.einsum("ii", x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.eye(3))


def test_einsum_errors():
    a, b = tl.ones(2, 3), tl.ones(4, 5)
    with pytest.raises(ValueError, match="more operands were provided"):
        tl.einsum("ij->i", a, b)
    with pytest.raises(ValueError, match="fewer operands"):
        tl.einsum("ij,jk->ik", a)
    with pytest.raises(ValueError, match="subscripts 'ijk' of operand 0 do not match its 2"):
        tl.einsum("ijk->i", a)
    with pytest.raises(ValueError, match="subscript j has size 4 for one operand and 3"):
        tl.einsum("ij,jk->ik", a, b)


# ---------------------------------------------------------------- named tuples, sort, topk


def test_max_min_sort_topk_return_values_and_indices():
    x = tl.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    for result, values, indices in [
            (x.max(1), [3.0, 5.0], [0, 1]),
            (tl.min(x, 1), [1.0, 0.0], [1, 0]),
            (x.sort(), [[1.0, 2.0, 3.0], [0.0, 4.0, 5.0]], [[1, 2, 0], [0, 2, 1]]),
            (tl.topk(x, 2), [[3.0, 2.0], [5.0, 4.0]], [[0, 2], [1, 2]]),
            (x.topk(1, dim=0, largest=False), [[0.0, 1.0, 2.0]], [[1, 0, 0]])]:
        v, i = result
        assert v is result.values and i is result.indices
        np.testing.assert_array_equal(v.numpy(), values)
        np.testing.assert_array_equal(i.numpy(), indices)
        assert i.dtype == tl.int64


def test_sort_is_stable_both_ways_and_puts_nan_last():
    x = tl.tensor([3, 1, 3, 2, 1])
    v, i = x.sort(stable=True)
    assert v.tolist() == [1, 1, 2, 3, 3] and i.tolist() == [1, 4, 3, 0, 2]
    v, i = tl.sort(x, descending=True, stable=True)
    assert v.tolist() == [3, 3, 2, 1, 1] and i.tolist() == [0, 2, 3, 1, 4]
    assert tl.argsort(x).tolist() == [1, 4, 3, 0, 2]
    y = tl.tensor([1.0, float("nan"), 0.0])
    assert y.sort().indices.tolist() == [2, 0, 1]
    assert y.sort(descending=True).indices.tolist() == [1, 0, 2]


def test_sort_and_topk_gradients_follow_the_indices():
    x = Tensor([2.0, -1.0, 5.0, 0.5], requires_grad=True)
    (x.topk(2).values * tl.tensor([1.0, 10.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 0.0, 1.0, 0.0])


def test_topk_errors():
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        tl.ones(3).topk(4)


# ---------------------------------------------------------------- rounding


def test_div_rounding_modes():
    x, y = tl.tensor([-7.0, 7.0, -6.0, 7.5]), tl.tensor([2.0, -2.0, 3.0, 2.0])
    assert tl.div(x, y, rounding_mode="trunc").tolist() == [-3.0, -3.0, -2.0, 3.0]
    assert x.div(y, rounding_mode="floor").tolist() == [-4.0, -4.0, -2.0, 3.0]
    np.testing.assert_allclose(x.div(y).numpy(), [-3.5, -3.5, -2.0, 3.75])
    a, b = tl.tensor([-7, 7, -6, 5]), tl.tensor([2, -2, 3, 5])
    trunc, floor = a.div(b, rounding_mode="trunc"), tl.div(a, b, rounding_mode="floor")
    assert trunc.dtype == floor.dtype == tl.int64
    assert trunc.tolist() == [-3, -3, -2, 1] and floor.tolist() == [-4, -4, -2, 1]
    assert a.div(b).dtype == tl.float32  # true division of ints: the default float
    assert tl.floor_divide(a, 2).tolist() == [-4, 3, -3, 2]
    by_float = a.div(2.5, rounding_mode="floor")  # an int tensor and a float: the default float
    assert by_float.dtype == tl.float32 and by_float.tolist() == [-3.0, 2.0, -3.0, 2.0]
    with pytest.raises(ValueError, match="rounding_mode to be one of None, 'trunc', or 'floor'"):
        x.div(y, rounding_mode="round")
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        a.div(tl.tensor([1, 0, 1, 1]), rounding_mode="floor")


def test_div_with_rounding_has_zero_gradient():
    x = Tensor([1.5, -2.5], requires_grad=True)
    x.div(2.0, rounding_mode="floor").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_remainder_takes_the_divisor_sign_and_fmod_the_dividend_sign():
    x, y = tl.tensor([-3.0, 3.0, -3.0, 3.0]), tl.tensor([2.0, -2.0, -2.0, 2.0])
    assert tl.remainder(x, y).tolist() == [1.0, -1.0, -1.0, 1.0]
    assert tl.fmod(x, y).tolist() == [-1.0, 1.0, -1.0, 1.0]
    assert tl.tensor([-3, 3]).remainder(2).tolist() == [1, 1]
    assert tl.tensor([-3, 3]).fmod(2).dtype == tl.int64
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        tl.tensor([1, 2]).remainder(tl.tensor([1, 0]))
    a, b = Tensor([5.5], requires_grad=True), Tensor([-2.0], requires_grad=True)
    tl.remainder(a, b).backward()  # 5.5 - floor(-2.75) * -2: d/db = -floor(-2.75) = 3
    assert a.grad.tolist() == [1.0] and b.grad.tolist() == [3.0]


def test_percent_operator_is_remainder_and_in_place_for_percent_equals():
    # PyTorch's Tensor % is remainder (the divisor's sign, as Python's %); torch.distributions'
    # integer constraints use it (`value % 1 == 0`)
    x = Tensor([-3.5, 2.0, 7.0], requires_grad=True)
    assert (x % 2).tolist() == [0.5, 0.0, 1.0] and (x % -2).tolist() == [-1.5, 0.0, -1.0]
    (x % 2).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
    assert (7 % tl.tensor([2, -3, 4])).tolist() == [1, -2, 3]  # other % self
    a = tl.tensor([-7, 5])
    alias = a
    a %= 3
    assert a is alias and alias.tolist() == [2, 2]  # in place, as PyTorch's __imod__
    b = tl.tensor([5.0, -5.0])
    assert b.fmod_(3).tolist() == [2.0, -2.0] and b.remainder_(3).tolist() == [2.0, 1.0]


def test_rounding_functions_round_half_to_even_and_have_zero_gradient():
    x = Tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.7, 2.7], requires_grad=True)
    assert tl.round(x).tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, -3.0, 3.0]
    assert x.floor().tolist() == [0.0, 1.0, 2.0, -1.0, -2.0, -3.0, 2.0]
    assert tl.ceil(x).tolist() == [1.0, 2.0, 3.0, -0.0, -1.0, -2.0, 3.0]
    assert x.trunc().tolist() == [0.0, 1.0, 2.0, -0.0, -1.0, -2.0, 2.0]
    assert tl.sign(x).tolist() == [1.0, 1.0, 1.0, -1.0, -1.0, -1.0, 1.0]
    np.testing.assert_allclose(tl.tensor([1.234, -5.678]).round(decimals=2).numpy(),
                               [1.23, -5.68])
    (x.floor() + x.ceil() + x.round() + x.trunc() + x.sign()).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(7))
    ints = tl.tensor([-3, 4])
    for fn in (tl.floor, tl.ceil, tl.round, tl.trunc):
        assert fn(ints).dtype == tl.int64 and fn(ints).tolist() == [-3, 4]


# ---------------------------------------------------------------- gradients at special points


def test_maximum_and_minimum_split_the_gradient_on_ties():
    x, y = Tensor([1.0, 2.0, 3.0], requires_grad=True), Tensor([1.0, 5.0, 0.0],
                                                                requires_grad=True)
    (tl.maximum(x, y) + 10 * tl.minimum(x, y)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.5, 10.0, 1.0])
    np.testing.assert_array_equal(y.grad.numpy(), [5.5, 1.0, 10.0])
    assert tl.maximum(tl.tensor([1, 5]), tl.tensor([3, 2])).tolist() == [3, 5]


def test_prod_gradient_with_zeros_in_the_input():
    x = Tensor([2.0, 0.0, 3.0], requires_grad=True)
    x.prod().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 6.0, 0.0])
    y = Tensor([[0.0, 0.0, 4.0], [1.0, 2.0, 3.0]], requires_grad=True)
    y.prod(1).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0.0, 0.0, 0.0], [6.0, 3.0, 2.0]])
    gradcheck(lambda t: t.prod(0), Tensor(np.array([[0.0, 1.5], [2.0, 0.0], [0.0, 3.0]]),
                                          requires_grad=True))
    assert tl.tensor([2, 3]).prod().dtype == tl.int64


def test_norm_gradient_is_zero_at_a_zero_vector():
    x = Tensor(np.zeros(3), requires_grad=True)
    x.norm().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(3))
    y = Tensor([3.0, 0.0, -4.0], requires_grad=True)
    count = tl.norm(y, 0)
    count.backward()  # the count of nonzeros: in the graph, with gradient 0
    assert count.item() == 2.0 and y.grad.tolist() == [0.0, 0.0, 0.0]
    assert tl.tensor([3.0, -4.0]).norm(-math.inf).item() == 3.0
    with pytest.raises(NotImplementedError, match="p='nuc'"):
        tl.ones(2, 2).norm("nuc")


def test_logsumexp_is_stable_and_handles_minus_inf():
    x = tl.tensor([1000.0, 1000.0])
    assert x.logsumexp(0).item() == pytest.approx(1000 + math.log(2))
    assert tl.logsumexp(tl.tensor([-math.inf, -math.inf]), 0).item() == -math.inf


def test_std_and_var_argument_forms():
    x = tl.tensor([[1.0, 2.0], [3.0, 5.0]])
    assert x.var().item() == pytest.approx(np.var([1, 2, 3, 5], ddof=1))
    assert x.var(False).item() == pytest.approx(np.var([1, 2, 3, 5]))
    assert tl.std(x, 1, True, True).shape == (2, 1)
    assert x.std(dim=0, correction=0).tolist() == [1.0, 1.5]


def test_mean_of_ints_raises_and_sum_takes_a_dtype():
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype"):
        tl.tensor([1, 2]).mean()
    assert tl.tensor([1, 2]).mean(dtype=tl.float64).item() == 1.5
    assert tl.sum(tl.tensor([1.5, 2.0]), dtype=tl.float64).dtype == tl.float64


# ---------------------------------------------------------------- comparisons


def test_comparisons_return_bool_tensors():
    x, y = tl.tensor([1.0, 2.0, 3.0]), tl.tensor([2.0, 2.0, 2.0])
    for fn, expected in [(tl.eq, [0, 1, 0]), (tl.ne, [1, 0, 1]), (tl.lt, [1, 0, 0]),
                         (tl.le, [1, 1, 0]), (tl.gt, [0, 0, 1]), (tl.ge, [0, 1, 1])]:
        for out in (fn(x, y), getattr(x, fn.__name__)(y)):
            assert out.dtype == tl.bool and out.tolist() == [bool(e) for e in expected]
    z = tl.tensor([1.0, math.nan, math.inf, -math.inf])
    assert tl.isnan(z).tolist() == [False, True, False, False]
    assert z.isinf().tolist() == [False, False, True, True]
    assert tl.isfinite(z).tolist() == [True, False, False, False]
    m = tl.tensor([[True, False], [True, True]])
    assert tl.any(m).item() and not m.all().item()
    assert m.all(1).tolist() == [False, True] and tl.any(m, 0, keepdim=True).shape == (1, 2)
    assert tl.equal(x, x.clone()) and not x.equal(y)


# ---------------------------------------------------------------- indexing


def test_gather_scatter_values_and_gradients():
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    index = tl.tensor([[0, 0], [1, 0]])
    out = tl.gather(x, 1, index)
    assert out.tolist() == [[1.0, 1.0], [4.0, 3.0]]
    out.sum().backward()
    assert x.grad.tolist() == [[2.0, 0.0], [1.0, 1.0]]
    src = Tensor([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]], requires_grad=True)
    base = Tensor(np.zeros((2, 3)), requires_grad=True)
    s = base.scatter(0, tl.tensor([[1, 0, 1]]), src)
    assert s.tolist() == [[0.0, 20.0, 0.0], [10.0, 0.0, 30.0]]
    (s * tl.arange(6.0).reshape(2, 3)).sum().backward()
    assert base.grad.tolist() == [[0.0, 0.0, 2.0], [0.0, 4.0, 0.0]]
    assert src.grad.tolist() == [[3.0, 1.0, 5.0], [0.0, 0.0, 0.0]]
    assert tl.scatter(tl.zeros(3), 0, tl.tensor([2]), value=7.0).tolist() == [0.0, 0.0, 7.0]
    with pytest.raises(RuntimeError, match="Expected dtype int64 for index"):
        x.gather(1, tl.tensor([[0.0]]))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(1, tl.tensor([0]))
    with pytest.raises(RuntimeError, match="index 2 is out of bounds for dimension 1"):
        x.gather(1, tl.tensor([[2]]))


def test_masked_fill_needs_a_bool_mask_and_passes_the_gradient_elsewhere():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = tl.masked_fill(x, tl.tensor([False, True, False]), 0.0)
    out.sum().backward()
    assert out.tolist() == [1.0, 0.0, 3.0] and x.grad.tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(RuntimeError, match="masked_fill only supports boolean masks"):
        x.masked_fill(tl.tensor([1, 0, 0]), 0.0)


def test_repeat_tril_index_select_errors():
    with pytest.raises(RuntimeError, match="Number of dimensions of repeat dims"):
        tl.ones(2, 2).repeat(2)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        tl.ones(3).tril()
    with pytest.raises(IndexError, match="index out of range"):
        tl.ones(3).index_select(0, tl.tensor([3]))


def test_mm_and_bmm_take_only_their_ranks():
    with pytest.raises(RuntimeError, match="self must be a matrix"):
        tl.mm(tl.ones(2, 2, 2), tl.ones(2, 2))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and "
                                           r"2x3\)"):
        tl.ones(2, 3).mm(tl.ones(2, 3))
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        tl.bmm(tl.ones(2, 2), tl.ones(2, 2))
    with pytest.raises(RuntimeError, match=r"batch2 tensor to be: \[2, 3\] but got: \[2, 4\]"):
        tl.ones(2, 2, 3).bmm(tl.ones(2, 4, 3))


# ---------------------------------------------------------------- both forms exist


BOTH_FORMS = """pow sin cos exp log log1p expm1 sqrt rsqrt abs sign neg reciprocal square matmul mm
bmm addmm t sum mean prod std var norm logsumexp max min sort argmax argmin topk clone narrow
flatten div remainder fmod floor ceil round trunc eq ne lt le gt ge isnan isinf any all maximum
minimum masked_fill gather scatter index_select tril triu""".split()
METHODS_ONLY = """contiguous repeat expand expand_as new_zeros new_ones new_full new_tensor
new_empty type cpu""".split()
FACTORIES = """linspace logspace eye full_like randint randint_like randperm multinomial bernoulli
normal rand_like randn_like empty_like einsum Generator""".split()


def test_every_name_exists_in_its_forms():
    missing = [n for n in BOTH_FORMS if not (hasattr(tl, n) and hasattr(Tensor, n))]
    missing += [n for n in METHODS_ONLY if not hasattr(Tensor, n)]
    missing += [n for n in FACTORIES if not hasattr(tl, n)]
    assert not missing


# ---------------------------------------------------------------- random factories


def test_generator_seeds_and_streams():
    g = tl.Generator()
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    a = tl.rand(4, generator=g)
    b = tl.rand(4, generator=tl.Generator().manual_seed(5))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    s = g.seed()
    assert isinstance(s, int) and g.initial_seed() == s
    glob = tl.manual_seed(3)
    assert glob is tl.default_generator and isinstance(glob, tl.Generator)
    first = tl.randn(3).numpy()
    tl.manual_seed(3)
    tl.rand(2, generator=tl.Generator().manual_seed(0))  # its own stream: the global one stays
    np.testing.assert_array_equal(tl.randn(3).numpy(), first)
    with pytest.raises(TypeError, match="expected a tinygrad_lstm.Generator"):
        tl.rand(2, generator=3)


def test_random_factories_shapes_dtypes_and_ranges():
    g = tl.Generator().manual_seed(0)
    r = tl.randint(3, 7, (200,), generator=g)
    assert r.dtype == tl.int64 and r.shape == (200,)
    assert r.numpy().min() == 3 and r.numpy().max() == 6
    assert tl.randint(5, (2, 3)).shape == (2, 3) and tl.randint(0, 2, size=(4,)).shape == (4,)
    like = tl.randint_like(tl.zeros(2, 2), 10)
    assert like.dtype == tl.float32 and like.numpy().max() < 10
    p = tl.randperm(6, generator=g)
    assert p.dtype == tl.int64 and sorted(p.tolist()) == list(range(6))
    assert tl.randperm(0).shape == (0,)
    n = tl.normal(0.0, 1.0, (2, 3))
    assert n.shape == (2, 3) and n.dtype == tl.float32
    assert tl.normal(tl.zeros(2, 1, dtype=tl.float64), tl.ones(3)).shape == (2, 3)
    assert tl.normal(tl.zeros(4)).dtype == tl.float32
    b = tl.bernoulli(tl.tensor([0.0, 1.0, 0.0, 1.0]), generator=g)
    assert b.tolist() == [0.0, 1.0, 0.0, 1.0]
    np.testing.assert_allclose(tl.logspace(0, 2, 3).numpy(), [1.0, 10.0, 100.0])
    np.testing.assert_allclose(tl.logspace(0, 3, 4, base=2).numpy(), [1.0, 2.0, 4.0, 8.0])
    with pytest.raises(RuntimeError, match="expects 'from' to be less than 'to'"):
        tl.randint(3, 3, (2,))
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0"):
        tl.normal(0.0, -1.0, (2,))


def test_random_factories_reproduce_with_a_seed():
    def draws(seed):
        g = tl.Generator().manual_seed(seed)
        return [tl.randn(3, generator=g), tl.randint(0, 9, (3,), generator=g),
                tl.randperm(5, generator=g), tl.normal(1.0, 2.0, (3,), generator=g),
                tl.multinomial(tl.tensor([1.0, 2.0, 3.0]), 2, generator=g),
                tl.ones(4).mul(0.5).bernoulli(generator=g)]
    for a, b in zip(draws(1), draws(1)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert any(not np.array_equal(a.numpy(), b.numpy()) for a, b in zip(draws(1), draws(2)))


def test_random_distributions_by_their_moments():
    g = tl.Generator().manual_seed(1234)
    n = tl.normal(2.0, 3.0, (20000,), generator=g).numpy()
    assert abs(n.mean() - 2.0) < 0.1 and abs(n.std() - 3.0) < 0.1
    b = tl.bernoulli(tl.full((20000,), 0.3), generator=g).numpy()
    assert abs(b.mean() - 0.3) < 0.02
    m = tl.multinomial(tl.tensor([1.0, 3.0]), 20000, replacement=True, generator=g).numpy()
    assert abs(m.mean() - 0.75) < 0.02  # category 1 with probability 3/4
    u = tl.randint(0, 10, (20000,), generator=g).numpy()
    assert abs(u.mean() - 4.5) < 0.1


def test_multinomial_without_replacement_and_errors():
    g = tl.Generator().manual_seed(0)
    rows = tl.multinomial(tl.tensor([[1.0, 1.0, 1.0], [0.0, 2.0, 1.0]]), 2, generator=g)
    assert rows.shape == (2, 2) and rows.dtype == tl.int64
    assert all(len(set(r)) == 2 for r in rows.tolist()) and 0 not in rows.tolist()[1]
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist.size"):
        tl.multinomial(tl.tensor([1.0, 0.0]), 2)
    with pytest.raises(RuntimeError, match="invalid multinomial distribution"):
        tl.tensor([1.0, -1.0]).multinomial(1)
    with pytest.raises(RuntimeError, match="Expected p_in >= 0 && p_in <= 1"):
        tl.tensor([1.5]).bernoulli()


def test_data_loader_shuffles_reproducibly_with_a_generator():
    from tinygrad_lstm.utils.data import DataLoader

    def order(seed):
        loader = DataLoader(list(range(10)), batch_size=10, shuffle=True,
                            generator=tl.Generator().manual_seed(seed))
        return next(iter(loader)).tolist()
    assert order(4) == order(4) and sorted(order(4)) == list(range(10))
    assert order(4) != order(5)


def test_scatter_add_adds_at_repeated_indices_and_passes_gradients():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    src = Tensor([10.0, 20.0, 30.0, 40.0], requires_grad=True)
    out = tl.scatter_add(x, 0, tl.tensor([0, 2, 0, 1]), src)
    assert out.tolist() == [41.0, 42.0, 23.0]
    assert x.scatter(0, tl.tensor([0, 2, 0, 1]), src, reduce="add").tolist() == out.tolist()
    (out * tl.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0] and src.grad.tolist() == [1.0, 3.0, 1.0, 2.0]
    gradcheck(lambda a, b: a.scatter_add(1, tl.tensor([[0, 1, 1]]), b),
              [Tensor(np.ones((2, 2)), requires_grad=True),
               Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)])
    with pytest.raises(NotImplementedError, match="reduce='multiply'"):
        x.scatter(0, tl.tensor([0]), src, reduce="multiply")


def test_scatter__and_scatter_add__write_in_place_and_record_the_gradient():
    # the transforms tutorial's one-hot label: a 0-d index into a 1-d tensor, as PyTorch takes it
    one_hot = tl.zeros(10, dtype=tl.float)
    assert one_hot.scatter_(0, tl.tensor(3), value=1) is one_hot
    assert one_hot.tolist() == [0.0] * 3 + [1.0] + [0.0] * 6 and one_hot._version == 1
    assert tl.arange(5.0).gather(0, tl.tensor(2)).shape == ()  # a 0-d index, a 0-d result
    x = tl.zeros(2, 3)
    assert x.scatter_(1, tl.tensor([[2], [0]]), 5.0).tolist() == [[0, 0, 5], [5, 0, 0]]
    assert x.scatter_add_(0, tl.tensor([[1, 1, 1]]), tl.ones(1, 3)).tolist() == \
        [[0, 0, 5], [6, 1, 1]]
    w = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    src = Tensor([[7.0], [8.0]], requires_grad=True)
    y = w * 1
    y.scatter_(1, tl.tensor([[0], [1]]), src)
    assert y.tolist() == [[7, 2, 3], [4, 8, 6]]
    y.sum().backward()  # the overwritten positions pass nothing back to w
    assert w.grad.tolist() == [[0, 1, 1], [1, 0, 1]] and src.grad.tolist() == [[1], [1]]
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        w.scatter_(1, tl.tensor([[0], [1]]), 0.0)


def test_randint_forms_and_the_where_method():
    tl.manual_seed(0)
    for r in (tl.randint(5, (3,)), tl.randint(2, 5, (3,)), tl.randint(low=2, high=5, size=(3,)),
              tl.randint(5, size=(3,)), tl.randint(high=5, size=(3,))):
        assert r.shape == (3,) and r.numpy().max() < 5
    with pytest.raises(TypeError, match=r"randint: expected \(high, size\)"):
        tl.randint(3)
    x = Tensor([1.0, -2.0], requires_grad=True)
    y = x.where(tl.tensor([True, False]), 0.0)
    y.sum().backward()
    assert y.tolist() == [1.0, 0.0] and x.grad.tolist() == [1.0, 0.0]
    assert tl.initial_seed() == 0 and isinstance(tl.seed(), int)
    tl.manual_seed(0)  # the global generator seeded again for the tests after this one


def test_in_place_random_fills():
    g = tl.Generator().manual_seed(0)
    w = tl.zeros(2000, dtype=tl.float64)
    assert w.uniform_(-0.5, 0.5, generator=g) is w and w.dtype == tl.float64
    assert -0.5 <= w.numpy().min() and w.numpy().max() < 0.5 and abs(w.numpy().mean()) < 0.05
    w.normal_(1.0, 2.0, generator=g)
    assert abs(w.numpy().mean() - 1.0) < 0.2 and abs(w.numpy().std() - 2.0) < 0.2
    assert set(w.bernoulli_(0.5, generator=g).tolist()) == {0.0, 1.0}
    a = tl.zeros(3).uniform_(generator=tl.Generator().manual_seed(7))
    b = tl.zeros(3).uniform_(generator=tl.Generator().manual_seed(7))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    p = Tensor(np.zeros(3), requires_grad=True)
    p.data.uniform_(-1.0, 1.0)  # the usual init through .data
    assert p.numpy().any()
    with pytest.raises(RuntimeError, match="leaf"):
        p.normal_()


def test_kthvalue():
    x = Tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], requires_grad=True)
    v, i = tl.kthvalue(x, 2, 1)
    assert v.tolist() == [2.0, 4.0] and i.tolist() == [2, 2]
    v.sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]
    r = x.kthvalue(1, 0, keepdim=True)
    assert r.values.tolist() == [[0.0, 1.0, 2.0]] and r.indices.tolist() == [[1, 0, 0]]
    with pytest.raises(IndexError, match="k out of range"):
        x.kthvalue(4)
