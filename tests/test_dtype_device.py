"""dtype and device objects, PyTorch's type promotion, constructors and conversions.

The promotion tables are written out from PyTorch's "Type promotion" notes (torch.result_type,
torch.promote_types and the tensor-attributes page, whose examples are marked `doc`) and its
three rules: a higher category (bool < int < float) always wins; within a category,
dimensioned tensors decide over 0-d tensors, which decide over Python scalars; a Python float
stands for the default dtype.
"""

import operator
import pickle

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn
from tinygrad_lstm.autograd import Variable


@pytest.fixture
def default_float64():
    tl.set_default_dtype(tl.float64)
    yield
    tl.set_default_dtype(tl.float32)


def dim(dtype):  # a dimensioned tensor
    return tl.tensor([1, 2], dtype=dtype)


def zero(dtype):  # a 0-d tensor
    return tl.tensor(1, dtype=dtype)


# ---------------------------------------------------------------- dtype objects


def test_dtype_objects_and_aliases():
    assert tl.float is tl.float32 and tl.double is tl.float64 and tl.half is tl.float16
    assert tl.long is tl.int64 and tl.int is tl.int32 and tl.short is tl.int16
    assert repr(tl.float32) == "tinygrad_lstm.float32" and str(tl.long) == "tinygrad_lstm.int64"
    assert tl.float32.is_floating_point and tl.float16.is_floating_point
    assert not tl.int64.is_floating_point and not tl.bool.is_floating_point
    assert tl.float64.itemsize == 8 and tl.int16.itemsize == 2 and tl.bool.itemsize == 1
    assert isinstance(tl.float32, tl.dtype)
    assert pickle.loads(pickle.dumps(tl.float32)) is tl.float32  # one object per dtype


def test_numpy_takes_dtype_objects():
    assert np.dtype(tl.float32) == np.float32
    assert np.zeros(3, dtype=tl.float32).dtype == np.float32
    assert np.arange(3).astype(tl.float64).dtype == np.float64
    assert np.asarray([1, 2], tl.int32).dtype == np.int32
    # and a dtype object equals the NumPy dtype it wraps, both ways round
    assert tl.float32 == np.float32 and np.dtype(np.int64) == tl.int64
    assert tl.float32 != tl.float64 and tl.float32 != np.float64 and tl.float32 != "float32"


def test_tensor_dtype_is_the_object():
    assert Tensor([1.0]).dtype is tl.float32
    assert Tensor(np.zeros(2)).dtype is tl.float64
    assert tl.tensor([1, 2]).dtype is tl.int64
    assert tl.tensor([True]).dtype is tl.bool
    assert Tensor(np.zeros(2, np.uint8)).dtype is tl.uint8


@pytest.mark.parametrize("spelling", [tl.float64, tl.double, np.float64, np.dtype("float64"),
                                      "float64", "double", float])
def test_every_spelling_of_a_dtype_is_accepted(spelling):
    assert tl.zeros(2, dtype=spelling).dtype is tl.float64
    assert tl.tensor([1], dtype=spelling).dtype is tl.float64
    assert tl.ones(1).to(spelling).dtype is tl.float64
    assert tl.arange(3, dtype=spelling).dtype is tl.float64


def test_bad_dtypes_raise():
    with pytest.raises(TypeError, match="unknown dtype name 'flaot'"):
        tl.zeros(2, dtype="flaot")
    with pytest.raises(TypeError, match="dtype"):
        tl.zeros(2, dtype=object)


def test_default_dtype(default_float64):
    assert tl.get_default_dtype() is tl.float64
    assert Tensor([1, 2]).dtype is tl.float64 and tl.tensor([1.5]).dtype is tl.float64
    assert tl.zeros(2).dtype is tl.float64 and tl.randn(2).dtype is tl.float64
    assert tl.arange(0.0, 1.0, 0.5).dtype is tl.float64 and tl.full((2,), 1.5).dtype is tl.float64
    assert tl.tensor([1, 2]).dtype is tl.int64  # ints are not affected
    assert (dim(tl.int64) * 1.5).dtype is tl.float64
    assert (dim(tl.int64) / dim(tl.int64)).dtype is tl.float64
    assert dim(tl.int64).sqrt().dtype is tl.float64
    # parameters take the default too
    for layer in (nn.Linear(2, 3), nn.Embedding(4, 2), nn.LSTM(2, 3), nn.LayerNorm(3)):
        assert all(p.dtype is tl.float64 for p in layer.parameters()), layer


def test_set_default_dtype_takes_floating_types_only():
    with pytest.raises(TypeError, match="floating"):
        tl.set_default_dtype(tl.int64)
    assert tl.get_default_dtype() is tl.float32


# ---------------------------------------------------------------- promotion

PROMOTION = [  # (left, right, PyTorch's result dtype)
    # one category: dimensioned tensors decide
    (lambda: dim(tl.int32), lambda: 5, tl.int32),  # doc
    (lambda: dim(tl.int32), lambda: zero(tl.int64), tl.int32),  # doc
    (lambda: dim(tl.int64), lambda: dim(tl.int32), tl.int64),  # doc
    (lambda: dim(tl.uint8), lambda: zero(tl.int64), tl.uint8),  # doc (result_type)
    (lambda: dim(tl.uint8), lambda: dim(tl.int8), tl.int16),
    (lambda: dim(tl.float32), lambda: dim(tl.float64), tl.float64),  # doc
    (lambda: dim(tl.float32), lambda: zero(tl.float64), tl.float32),
    (lambda: dim(tl.float16), lambda: zero(tl.float64), tl.float16),
    (lambda: dim(tl.float16), lambda: 1.5, tl.float16),
    (lambda: dim(tl.bool), lambda: True, tl.bool),
    # a higher category wins, with the smallest dtype of it that is there
    (lambda: dim(tl.bool), lambda: dim(tl.int64), tl.int64),  # doc
    (lambda: dim(tl.bool), lambda: dim(tl.uint8), tl.uint8),  # doc
    (lambda: dim(tl.bool), lambda: dim(tl.int32), tl.int32),  # doc
    (lambda: dim(tl.int64), lambda: dim(tl.float32), tl.float32),  # doc
    (lambda: dim(tl.int64), lambda: dim(tl.float16), tl.float16),
    (lambda: dim(tl.float32), lambda: zero(tl.int64), tl.float32),  # issue 12
    (lambda: dim(tl.bool), lambda: 1, tl.int64),
    # a 0-d tensor of a higher category decides, at its own size
    (lambda: dim(tl.int64), lambda: zero(tl.float64), tl.float64),
    (lambda: dim(tl.int32), lambda: zero(tl.float16), tl.float16),
    (lambda: dim(tl.bool), lambda: zero(tl.int32), tl.int32),
    # a Python float of a higher category gives the default dtype
    (lambda: dim(tl.int32), lambda: 1.0, tl.float32),  # doc (result_type)
    (lambda: dim(tl.int64), lambda: 1.5, tl.float32),
    (lambda: zero(tl.int64), lambda: 1.5, tl.float32),  # issue 12
    (lambda: dim(tl.bool), lambda: 1.5, tl.float32),
    (lambda: zero(tl.bool), lambda: 2.5, tl.float32),
    # only 0-d tensors: they decide among themselves
    (lambda: zero(tl.int64), lambda: zero(tl.float64), tl.float64),
    (lambda: zero(tl.float64), lambda: 1.5, tl.float64),
    (lambda: zero(tl.int32), lambda: 5, tl.int32),
    (lambda: zero(tl.float32), lambda: zero(tl.float64), tl.float64),
    # NumPy scalars count as Python numbers (np.float64 is a Python float)
    (lambda: dim(tl.float32), lambda: np.float64(2.0), tl.float32),
    (lambda: dim(tl.int64), lambda: np.float32(2.0), tl.float32),
]


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul],
                         ids=["add", "sub", "mul"])
@pytest.mark.parametrize("left, right, expected", PROMOTION)
def test_promotion_table(op, left, right, expected):
    a, b = left(), right()
    if op is operator.sub and (a.dtype is tl.bool or b is True):
        return  # PyTorch refuses bool subtraction
    assert op(a, b).dtype is expected
    assert op(b, a).dtype is expected  # the order does not matter
    assert tl.result_type(a, b) is expected


def test_promoted_values_are_computed_in_the_result_dtype():
    np.testing.assert_array_equal((dim(tl.int64) * 1.5).numpy(), np.float32([1.5, 3.0]))
    np.testing.assert_array_equal((dim(tl.float32) + zero(tl.int64)).numpy(), [2, 3])
    out = zero(tl.int64) * 1.5
    assert out.shape == () and out.item() == 1.5
    # float32 + a 0-d float64: the 0-d value is rounded to float32 first, as PyTorch's kernel
    tiny = Tensor(np.float64(1e-9))
    assert (Tensor(np.float32([1.0])) + tiny).numpy()[0] == np.float32(1.0)


def test_promote_types():
    assert tl.promote_types(tl.int32, tl.float32) is tl.float32  # doc
    assert tl.promote_types(tl.uint8, tl.long) is tl.long  # doc
    assert tl.promote_types(tl.int64, tl.float16) is tl.float16  # NumPy would say float64
    assert tl.promote_types(tl.bool, tl.uint8) is tl.uint8


TRUE_DIVISION = [  # (left, right, result): integers divide into the default float dtype
    (lambda: dim(tl.int64), lambda: dim(tl.int64), tl.float32),
    (lambda: dim(tl.int32), lambda: 2, tl.float32),
    (lambda: zero(tl.int64), lambda: 2, tl.float32),
    (lambda: dim(tl.bool), lambda: dim(tl.bool), tl.float32),
    (lambda: dim(tl.float64), lambda: dim(tl.int64), tl.float64),
    (lambda: dim(tl.float16), lambda: 2, tl.float16),
]


@pytest.mark.parametrize("left, right, expected", TRUE_DIVISION)
def test_true_division(left, right, expected):
    a, b = left(), right()
    assert (a / b).dtype is expected and (b / a).dtype is expected
    np.testing.assert_allclose((a / b).numpy(), np.true_divide(np.asarray(a), np.asarray(b)))


@pytest.mark.parametrize("fn", [lambda t: t.sqrt(), lambda t: t.exp(), lambda t: t.log(),
                                lambda t: t.tanh(), lambda t: t.sigmoid(), lambda t: t ** 0.5],
                         ids=["sqrt", "exp", "log", "tanh", "sigmoid", "pow_half"])
def test_float_functions_of_integers_give_the_default_dtype(fn):
    for t in (tl.tensor([1, 4]), tl.tensor(4), tl.tensor([1, 4], dtype=tl.int8)):
        assert fn(t).dtype is tl.float32
    np.testing.assert_allclose(tl.tensor([1, 4]).sqrt().numpy(), [1, 2])


def test_integer_ops_stay_integer():
    assert (dim(tl.int64) ** 2).dtype is tl.int64
    assert abs(tl.tensor([-1, 2])).dtype is tl.int64 and tl.tensor([-1, 2]).relu().dtype is tl.int64
    assert (dim(tl.int32) * 2).dtype is tl.int32


def test_where_and_addcmul_promote():
    cond = Tensor([1.0, -1.0]) > 0
    assert tl.where(cond, dim(tl.int64), 1.5).dtype is tl.float32
    assert tl.where(cond, 1.0, 0.0).dtype is tl.float32
    assert tl.where(cond, 1, 0).dtype is tl.int64
    assert tl.where(cond, dim(tl.float32), dim(tl.float64)).dtype is tl.float64
    assert dim(tl.float32).addcmul(dim(tl.int64), zero(tl.float64)).dtype is tl.float32
    assert dim(tl.float32).addcmul(dim(tl.float64), dim(tl.float32)).dtype is tl.float64


def test_gradients_of_promoted_ops_keep_each_inputs_dtype():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * zero(tl.float64) + dim(tl.int64) / x).sum()  # float32 throughout
    assert y.dtype is tl.float32
    y.backward()
    assert x.grad.dtype is tl.float32
    np.testing.assert_allclose(x.grad.numpy(), [1 - 1 / 1, 1 - 2 / 4])


# ---------------------------------------------------------------- constructors


def test_tensor_constructor_forms():
    assert Tensor([0, 1]).dtype is tl.float32  # the issue: torch.Tensor is a float tensor
    assert Tensor([True, False]).dtype is tl.float32
    t = Tensor(2, 3)
    assert t.shape == (2, 3) and t.dtype is tl.float32
    assert Tensor(4).shape == (4,)
    assert Tensor().shape == (0,) and Tensor().dtype is tl.float32
    assert Tensor(np.arange(3)).dtype is tl.int64  # NumPy arrays keep their dtype
    assert Tensor(np.float64(2.0)).dtype is tl.float64
    assert Tensor([1, 2], dtype=tl.int32).dtype is tl.int32
    with pytest.raises(TypeError, match="sizes"):
        Tensor(2, [3])


def test_tensor_function_infers_like_torch_tensor():
    assert tl.tensor([True, False]).dtype is tl.bool
    assert tl.tensor([1, 2]).dtype is tl.int64 and tl.tensor(3).dtype is tl.int64
    assert tl.tensor([1, 2.5]).dtype is tl.float32 and tl.tensor(2.5).dtype is tl.float32
    assert tl.tensor(np.zeros(2, np.float64)).dtype is tl.float64
    assert tl.tensor(3).shape == () and tl.tensor([[1], [2]]).shape == (2, 1)


@pytest.mark.parametrize("cls, dtype", [(tl.FloatTensor, tl.float32), (tl.DoubleTensor, tl.float64),
                                        (tl.LongTensor, tl.int64), (tl.IntTensor, tl.int32),
                                        (tl.BoolTensor, tl.bool)])
def test_legacy_typed_constructors(cls, dtype):
    t = cls([1, 0])
    assert isinstance(t, Tensor) and t.dtype is dtype and t.tolist() == [1, 0]
    assert cls(2, 3).shape == (2, 3) and cls(2, 3).dtype is dtype
    assert isinstance(t, cls) and not isinstance(tl.zeros(1, dtype=tl.float16), cls)
    assert tl.ones(2).type(cls).dtype is dtype
    assert t.type() == f"tinygrad_lstm.{cls.__name__}"


def test_variable_is_a_new_leaf_on_the_same_storage():
    x = tl.ones(2)
    v = Variable(x, requires_grad=True)
    assert v.requires_grad and v.is_leaf and isinstance(x, Variable)
    v.numpy()[0] = 5
    assert x.numpy()[0] == 5  # shares the storage
    (v * v).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [10, 2])
    with pytest.raises(TypeError, match="has to be a tensor"):
        Variable([1.0])


def test_linspace_eye_randint():
    np.testing.assert_array_equal(tl.linspace(0, 1, 5).numpy(), np.float32([0, .25, .5, .75, 1]))
    assert tl.linspace(0, 10, 3).dtype is tl.float32  # float even from ints, as PyTorch
    np.testing.assert_array_equal(tl.eye(2, 3).numpy(), [[1, 0, 0], [0, 1, 0]])
    r = tl.randint(3, 7, (100,))
    assert r.dtype is tl.int64 and r.shape == (100,) and 3 <= r.numpy().min() <= r.numpy().max() < 7
    assert tl.randint(2, (4,)).numpy().max() < 2 and tl.randint(0, 2, size=(3,)).shape == (3,)


def test_default_collate_infers_as_torch_tensor():
    from tinygrad_lstm.utils.data import default_collate

    assert default_collate([1, 2]).dtype is tl.int64
    assert default_collate([True, False]).dtype is tl.bool
    assert default_collate([1.5, 2.5]).dtype is tl.float64  # as PyTorch's collate


def test_new_tensors_like_another():
    x = Tensor(np.zeros(2, np.float64))
    assert x.new_zeros(2, 3).dtype is tl.float64 and x.new_zeros((2, 3)).shape == (2, 3)
    assert x.new_ones(2).numpy().tolist() == [1, 1]
    assert x.new_full((2,), 7).tolist() == [7, 7]
    assert x.new_tensor([1, 2]).dtype is tl.float64
    assert x.new_zeros(1, dtype=tl.int64).dtype is tl.int64


@pytest.mark.parametrize("factory", [
    lambda **k: tl.zeros(2, **k), lambda **k: tl.ones(2, **k), lambda **k: tl.empty(2, **k),
    lambda **k: tl.full((2,), 1.0, **k), lambda **k: tl.randn(2, **k),
    lambda **k: tl.rand(2, **k), lambda **k: tl.arange(2, **k), lambda **k: tl.tensor([1], **k),
    lambda **k: tl.zeros_like(tl.ones(2), **k), lambda **k: tl.ones_like(tl.ones(2), **k),
    lambda **k: tl.empty_like(tl.ones(2), **k), lambda **k: tl.full_like(tl.ones(2), 3, **k),
    lambda **k: tl.rand_like(tl.ones(2), **k), lambda **k: tl.randn_like(tl.ones(2), **k),
    lambda **k: Tensor([1.0], **k), lambda **k: tl.ones(2).new_zeros(2, **k),
    lambda **k: tl.linspace(0, 1, 3, **k), lambda **k: tl.eye(2, **k),
    lambda **k: tl.randint(0, 5, (3,), **k)])
def test_every_factory_takes_device_and_dtype(factory):
    assert factory(device="cpu").device == tl.device("cpu")
    assert factory(device=tl.device("cpu"), dtype=tl.float64).dtype is tl.float64
    with pytest.raises(RuntimeError, match="CPU only"):
        factory(device="cuda")


# ---------------------------------------------------------------- conversions


def test_python_number_conversions():
    assert float(tl.tensor(2.5)) == 2.5 and isinstance(float(tl.tensor([2])), float)
    assert int(tl.tensor([[7]])) == 7 and int(tl.tensor(2.7)) == 2
    assert bool(tl.tensor(0)) is False and bool(tl.tensor([1.5])) is True
    assert "abc"[tl.tensor(1)] == "b" and list(range(tl.tensor(3))) == [0, 1, 2]
    assert [10, 20, 30][tl.tensor([2])] == 30 and operator.index(tl.tensor(True)) == 1
    assert tl.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        operator.index(tl.tensor(1.0))  # a float tensor is no index
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        operator.index(tl.tensor([1, 2]))
    with pytest.raises(ValueError, match="only one element tensors"):
        float(tl.ones(2))


def test_to_forms():
    x = Tensor([1.0, 2.0])
    assert x.to(tl.float32) is x and x.to("cpu") is x and x.cpu() is x
    assert x.to(tl.float64).dtype is tl.float64
    assert x.to("cpu", tl.int64).dtype is tl.int64
    assert x.to(tl.device("cpu"), dtype=tl.float16).dtype is tl.float16
    assert x.to(device="cpu", dtype="float64").dtype is tl.float64
    assert x.to(tl.tensor([1])).dtype is tl.int64  # another tensor's dtype
    copy = x.to(tl.float32, copy=True)
    assert copy is not x and np.shares_memory(copy.numpy(), x.numpy()) is False
    assert x.float().dtype is tl.float32 and x.double().dtype is tl.float64
    assert x.long().dtype is tl.int64 and x.int().dtype is tl.int32 and x.bool().dtype is tl.bool
    assert x.half().dtype is tl.float16 and x.is_floating_point()
    assert not x.long().is_floating_point() and x.element_size() == 4
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.to(dtpye=tl.float64)


def test_to_a_float_dtype_is_differentiable():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x.to(tl.float64) * 3).sum().backward()
    assert x.grad.dtype is tl.float32 and x.grad.tolist() == [3, 3]
    assert not x.to(tl.int64).requires_grad  # an integer cast leaves the graph
    copy = x.to(tl.float32, copy=True)  # a copy stays in the graph
    (copy * 2).sum().backward()
    assert x.grad.tolist() == [5, 5]


# ---------------------------------------------------------------- devices


def test_device_objects():
    cpu = tl.device("cpu")
    assert cpu == tl.device("cpu") and cpu.type == "cpu" and cpu.index is None
    assert repr(cpu) == "device(type='cpu')" and str(cpu) == "cpu"
    assert str(tl.device("cuda:1")) == "cuda:1" and tl.device("cuda", 0).index == 0
    assert tl.device("cpu:0") != cpu and hash(cpu) == hash(tl.device("cpu"))
    assert Tensor([1.0]).device == cpu and not Tensor([1.0]).is_cuda
    assert tl.get_default_device() == cpu
    with pytest.raises(RuntimeError, match="Invalid device string"):
        tl.device("gpu")


def test_cuda_and_mps_raise_saying_cpu_only():
    assert tl.cuda.is_available() is False and tl.cuda.device_count() == 0
    tl.cuda.manual_seed(0)  # as in PyTorch without CUDA: silently nothing
    assert tl.backends.mps.is_available() is False
    tl.backends.cudnn.deterministic = True  # seeding code sets it; nothing reads it
    # the usual idiom builds the device it can use
    device = tl.device("cuda" if tl.cuda.is_available() else "cpu")
    assert tl.zeros(2, device=device).device == device
    x, model = tl.ones(2), nn.Linear(2, 2)
    for target in ("cuda", "cuda:0", "mps", tl.device("cuda")):
        with pytest.raises(RuntimeError, match="runs on the CPU only"):
            x.to(target)
        with pytest.raises(RuntimeError, match="runs on the CPU only"):
            model.to(target)
        with pytest.raises(RuntimeError, match="runs on the CPU only"):
            tl.set_default_device(target)
    with pytest.raises(RuntimeError, match="runs on the CPU only"):
        x.cuda()
    with pytest.raises(RuntimeError, match="runs on the CPU only"):
        model.cuda()
    tl.set_default_device("cpu")
    assert tl.get_default_device() == tl.device("cpu")


def test_module_to():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    weight = model[0].weight
    assert model.to("cpu") is model and model.cpu() is model
    assert model.to(tl.float64) is model and weight.dtype is tl.float64
    assert model[0].weight is weight  # the same Parameter objects, new arrays
    model.to(tl.device("cpu"), tl.float32)
    assert all(p.dtype is tl.float32 for p in model.parameters())
    model.to(Tensor(np.zeros(1)))  # another tensor's dtype
    assert all(p.dtype is tl.float64 for p in model.parameters())
    model.float()
    out = model(tl.ones(4, 2))
    assert out.dtype is tl.float32 and out.shape == (4, 1)
    with pytest.raises(TypeError, match="floating point"):
        model.to(tl.int64)
