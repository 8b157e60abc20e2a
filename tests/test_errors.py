"""User errors: each raises at the call that caused it, with the right exception type and a
message that names the op and the shapes (or values) at fault; never a bare NumPy error from
inside backward.

Shape mismatches raise ValueError (PyTorch raises RuntimeError; both are in the house style),
index and dim errors IndexError, wrong types TypeError, autograd misuse RuntimeError.
"""

import re

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor
from tinygrad_lstm.autograd import Function


def raises(exc, fn, *fragments):
    """Call fn, check it raises `exc`, and that the message holds every fragment (a string, or
    a compiled regex where NumPy's spelling of a shape, `(4,2)`, is as good as ours)."""
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for fragment in fragments:
        found = fragment.search(msg) if isinstance(fragment, re.Pattern) else fragment in msg
        assert found, f"{fragment!r} not in {msg!r}"
    return msg


def shape(*dims):
    """A regex for a shape tuple, with or without spaces after the commas."""
    return re.compile(r"\(" + r", ?".join(map(str, dims)) + (",?" if len(dims) == 1 else "")
                      + r"\)")


def ones(*shape, requires_grad=False):
    return Tensor(np.ones(shape), requires_grad=requires_grad)


# ---------------------------------------------------------------- shapes


def test_matmul_inner_dimension_mismatch():
    raises(ValueError, lambda: ones(3, 4) @ ones(5, 2), "matmul", "(3, 4)", "(5, 2)", "4", "5")
    raises(ValueError, lambda: ones(4) @ ones(3), "matmul", "(4,)", "(3,)")
    raises(ValueError, lambda: ones(2, 3, 4) @ ones(2, 5, 2), "matmul", "(2, 3, 4)", "(2, 5, 2)")
    raises(ValueError, lambda: ones(3, 4).matmul(ones(3)), "matmul", "(3, 4)", "(3,)")


def test_matmul_batch_dims_that_do_not_broadcast():
    raises(ValueError, lambda: ones(2, 3, 4) @ ones(5, 4, 2), "matmul", "(2, 3, 4)", "(5, 4, 2)")


def test_matmul_of_a_0d_tensor():
    raises(ValueError, lambda: ones() @ ones(3), "matmul", "()", "(3,)")


@pytest.mark.parametrize("name, fn", [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b), ("pow", lambda a, b: a**b),
])
def test_broadcasting_mismatch(name, fn):
    raises(ValueError, lambda: fn(ones(2, 3, requires_grad=True), ones(4)), name, "(2, 3)",
           "(4,)")
    raises(ValueError, lambda: fn(ones(2, 3), ones(3, 2)), name, "(2, 3)", "(3, 2)")


def test_where_shape_mismatch():
    raises(ValueError, lambda: tl.where(np.ones(3, bool), ones(2), ones(3)), "where", "(2,)",
           "(3,)")


def test_reshape_to_an_incompatible_shape():
    raises(ValueError, lambda: ones(2, 3).reshape(4, 2), "reshape", "(2, 3)", shape(4, 2))
    raises(ValueError, lambda: ones(2, 3).view(-1, 4), "reshape", "(2, 3)", "4")
    raises(ValueError, lambda: ones(2, 3).reshape(-1, -1), "reshape", "(2, 3)")
    # PyTorch's type and words too (a program catching RuntimeError catches it)
    raises(RuntimeError, lambda: ones(64, 784).view(128, 1, 28, 28),
           "shape '[128, 1, 28, 28]' is invalid for input of size 50176", "(64, 784)")
    raises(RuntimeError, lambda: ones(2, 3).reshape(-1, -1), "only one dimension can be inferred")
    raises(RuntimeError, lambda: ones(2, 3).reshape(-2, 3), "invalid shape dimension -2")


def test_expand_to_an_incompatible_shape():
    raises(ValueError, lambda: ones(2, 3).expand(2, 4), "expand", "(2, 3)", shape(2, 4))


def test_cat_shape_mismatch():
    raises(ValueError, lambda: tl.cat([ones(2, 3), ones(2, 4)]), "cat", "(2, 3)", "(2, 4)")
    raises(ValueError, lambda: tl.cat([ones(2, 3), ones(3)]), "cat", "(2, 3)", "(3,)")
    raises(ValueError, lambda: tl.cat([]), "cat")


def test_stack_shape_mismatch():
    raises(ValueError, lambda: tl.stack([ones(2, 3), ones(3, 2)]), "stack", "(2, 3)", "(3, 2)")
    raises(ValueError, lambda: tl.stack([]), "stack")


DIM_ERRORS = [
    ("sum", lambda x: x.sum(2)),
    ("sum", lambda x: x.sum((0, -3))),
    ("mean", lambda x: x.mean(-3)),
    ("amax", lambda x: x.amax(5)),
    ("max", lambda x: x.max(2)),
    ("min", lambda x: x.min(dim=-4)),
    ("softmax", lambda x: x.softmax(2)),
    ("log_softmax", lambda x: x.log_softmax(-3)),
    ("transpose", lambda x: x.transpose(0, 2)),
    ("permute", lambda x: x.permute(0, 2)),
    ("unsqueeze", lambda x: x.unsqueeze(4)),
    ("squeeze", lambda x: x.squeeze(2)),
    ("split", lambda x: x.split(1, dim=2)),
    ("chunk", lambda x: x.chunk(2, dim=-3)),
    ("unbind", lambda x: x.unbind(2)),
    ("flatten", lambda x: x.flatten(0, 2)),
    ("size", lambda x: x.size(2)),
    ("cat", lambda x: tl.cat([x, x], dim=2)),
    ("stack", lambda x: tl.stack([x, x], dim=4)),
]


@pytest.mark.parametrize("name, fn", DIM_ERRORS, ids=[name for name, _ in DIM_ERRORS])
def test_dim_out_of_range(name, fn):
    # PyTorch: IndexError "Dimension out of range (expected to be in range of [-2, 1], but got 2)"
    msg = raises(IndexError, lambda: fn(ones(2, 3)), name)
    assert "range" in msg


def test_repeated_dim_in_a_reduction():
    raises((ValueError, RuntimeError), lambda: ones(2, 3).sum((0, 0)), "sum", "0")


def test_permute_not_a_permutation():
    raises(ValueError, lambda: ones(2, 3).permute(0, 0), "permute", "(2, 3)")
    raises(ValueError, lambda: ones(2, 3, 4).permute(1, 0), "permute", "(2, 3, 4)")


def test_split_sizes_not_summing():
    raises(ValueError, lambda: ones(5, 2).split([2, 2]), "split", "[2, 2]", "5", "(5, 2)")
    raises(ValueError, lambda: ones(5, 2).split(0), "split", "0")
    raises(ValueError, lambda: ones(5, 2).chunk(0), "chunk", "0")


def test_split_and_chunk_sizes_not_ints():
    # PyTorch: TypeError; every time, also after the same sizes were used as ints (the split
    # bounds are cached, and 2.0 == 2 as a key)
    ones(4, 2).chunk(2), ones(4, 2).split([2, 2])
    raises(TypeError, lambda: ones(4, 2).chunk(2.0), "chunk", "float")
    raises(TypeError, lambda: ones(4, 2).split([2.0, 2.0]), "split", "[2.0, 2.0]")
    raises(TypeError, lambda: ones(4, 2).split(2.0), "split", "2.0")


@pytest.mark.parametrize("index", [3, -4, (0, 5), (slice(None), 2, 0)],
                         ids=["int", "negative", "second_dim", "too_many"])
def test_getitem_out_of_range(index):
    # PyTorch and Python both raise IndexError for an index out of range
    raises(IndexError, lambda: ones(3, 2, requires_grad=True)[index], "3")


def test_getitem_array_out_of_range():
    raises(IndexError, lambda: ones(3)[[0, 3]], "3")
    raises(IndexError, lambda: ones(3)[tl.tensor([0, 7])], "7")


def test_getitem_float_index():
    # PyTorch: IndexError "tensors used as indices must be long, int, byte or bool tensors"
    raises(IndexError, lambda: ones(3)[Tensor([0.0, 1.0])])


# ---------------------------------------------------------------- types and values


def test_tensor_plus_a_string():
    raises(TypeError, lambda: ones(2) + "a", "add")
    raises(TypeError, lambda: "a" - ones(2), "sub")
    raises(TypeError, lambda: ones(2) * None, "mul")


def test_tensor_of_unsupported_data():
    raises(TypeError, lambda: Tensor(object()), "Tensor", "object")
    raises(TypeError, lambda: Tensor("abc"), "Tensor")
    raises(TypeError, lambda: Tensor(None), "Tensor")
    raises(TypeError, lambda: Tensor([1.0, "x"]), "Tensor")


def test_item_of_a_multi_element_tensor():
    raises(ValueError, lambda: ones(2, 3).item(), "item", "6")


def test_bool_of_a_multi_element_tensor():
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(ones(2) > 0)


def test_len_of_a_0d_tensor():
    raises(TypeError, lambda: len(ones()), "0-d")


def test_requires_grad_on_integers():
    raises(RuntimeError, lambda: tl.tensor([1, 2], requires_grad=True), "int64")
    raises(RuntimeError, lambda: tl.zeros(2, dtype=np.int32, requires_grad=True), "int32")


def test_assigning_a_grad_of_the_wrong_shape():
    x = ones(2, 3, requires_grad=True)
    raises(RuntimeError, lambda: setattr(x, "grad", ones(3, 2)), "(3, 2)", "(2, 3)")
    raises(TypeError, lambda: setattr(x, "grad", np.ones((2, 3))), "grad")


def test_clamp_needs_a_bound():
    raises((ValueError, RuntimeError), lambda: ones(2).clamp(), "clamp")


def test_factories_reject_bad_shapes():
    raises(ValueError, lambda: tl.zeros(2, -1), "-1")
    raises(ValueError, lambda: tl.ones(2.5), "2.5")
    raises(TypeError, lambda: tl.manual_seed("seed"), "manual_seed")


# ---------------------------------------------------------------- autograd misuse


def test_backward_twice():
    x = ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    raises(RuntimeError, y.backward, "second time", "retain_graph")


def test_backward_on_a_tensor_without_grad():
    raises(RuntimeError, lambda: ones(2).sum().backward(), "does not require grad")


def test_backward_non_scalar_without_gradient():
    raises(RuntimeError, lambda: (ones(2, 3, requires_grad=True) * 2).backward(), "(2, 3)")


def test_backward_gradient_of_the_wrong_shape():
    y = ones(2, 3, requires_grad=True) * 2
    raises(RuntimeError, lambda: y.backward(np.ones(3)), "(3,)", "(2, 3)")


def test_inplace_on_a_leaf_that_requires_grad():
    w = ones(2, requires_grad=True)
    raises(RuntimeError, lambda: w.add_(1), "add_", "leaf")
    raises(RuntimeError, lambda: w.__setitem__(0, 5.0), "__setitem__", "leaf")
    raises(RuntimeError, lambda: w.zero_(), "zero_")


def test_inplace_shape_mismatch():
    with tl.no_grad():
        raises(RuntimeError, lambda: ones(2).add_(ones(3)), "add_", "(2,)", "(3,)")
        raises(RuntimeError, lambda: ones(2, 3).copy_(ones(3, 2)), "copy_", "(2, 3)", "(3, 2)")


def test_requires_grad_false_on_a_non_leaf():
    raises(RuntimeError, lambda: (ones(2, requires_grad=True) * 2).requires_grad_(False), "leaf")


def test_hook_returning_the_wrong_shape():
    x = ones(3, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g[:2])
    raises(RuntimeError, lambda: y.sum().backward(), "hook", "(2,)", "(3,)")


def test_hook_changing_the_dtype():
    # PyTorch refuses it too: the leaf's .grad would no longer match the leaf
    x = ones(3, requires_grad=True)  # float64
    x.register_hook(lambda g: g.float())
    raises(RuntimeError, lambda: (x * 2).sum().backward(), "hook", "float32", "float64")
    y = ones(3, requires_grad=True) * 2
    y.register_hook(lambda g: g.float())
    raises(RuntimeError, lambda: y.sum().backward(), "hook", "MulBackward", "float32")


def test_node_hook_on_an_output_the_node_does_not_have():
    y = ones(3, requires_grad=True) * 2
    raises(IndexError, lambda: y.grad_fn.register_hook(1, print), "MulBackward", "1 output")
    a, b = ones(4, requires_grad=True).chunk(2)
    raises(IndexError, lambda: a.grad_fn.register_hook(2, print), "SplitBackward", "2 output")
    raises(TypeError, lambda: a.grad_fn.register_hook("0", print), "must be an int", "str")
    a.grad_fn.register_hook(np.int64(1), print)  # any integer will do


def test_numpy_error_inside_a_backward_is_wrapped():
    class Broken(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g @ np.ones((4, 4))  # a NumPy shape error inside the VJP

    x = ones(3, requires_grad=True)
    y = Broken.apply(x)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    assert "BrokenBackward" in str(info.value)


def test_backward_not_defined():
    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    y = NoBackward.apply(ones(2, requires_grad=True)).sum()
    with pytest.raises((NotImplementedError, RuntimeError), match="NoBackward"):
        y.backward()


def test_dims_of_zero_dim_tensors_and_bad_flatten_ranges_are_named():
    raises(IndexError, lambda: Tensor(1.0).size(0), "size")
    raises(IndexError, lambda: Tensor(np.ones((2, 3))).argmax(5), "argmax")
    raises(ValueError, lambda: Tensor(np.ones((2, 3, 4))).flatten(2, 0), "flatten")
    assert Tensor(1.0).squeeze(0).shape == ()
