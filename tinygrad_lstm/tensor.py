"""Tensor: one NumPy array, the node that produced it, and its gradient."""

import weakref

import numpy as np

from .composites import Composites
from .conversions import Conversions
from .device import as_device
from .dims import (_bounds, _check_empty_reduction, _index_along, _is_int, _normalize_dim,
                   _normalize_dims, _sizes)
from .dtypes import by_numpy, default_float, to_numpy
from .recording import _state, read_array, version_of

_FLOATS = (np.float16, np.float32, np.float64)


def _as_array(data, dtype, infer: bool) -> np.ndarray:
    """Copy user data into an array. A NumPy array or a Tensor keeps its dtype; Python numbers
    become the default float dtype, or with `infer` (tl.tensor) bool, int64 or the default."""
    if isinstance(data, Tensor):
        data = data._array
    from_python = not isinstance(data, (np.ndarray, np.generic))
    try:
        arr = np.array(data, dtype=to_numpy(dtype))
    except (TypeError, ValueError) as e:
        raise TypeError(f"Tensor: cannot convert {type(data).__name__} to a tensor: {e}") from None
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError(f"Tensor: cannot make a tensor of {type(data).__name__} "
                        f"(NumPy dtype {arr.dtype})")
    if from_python and dtype is None and (arr.dtype.kind == "f" or not infer):
        arr = arr.astype(default_float(), copy=False)  # float32 unless set_default_dtype
    return arr


def _data_or_size(args: tuple):
    """torch.Tensor's forms: Tensor(data), Tensor(*sizes) (ints), Tensor() (empty)."""
    if not args:
        return np.empty(0, default_float())
    if all(type(a) is int for a in args):  # Tensor(2, 3): uninitialized in PyTorch, zeros here
        return np.zeros(args, default_float())
    if len(args) > 1:
        raise TypeError(f"Tensor: expected data or sizes (ints), got {len(args)} arguments of "
                        f"types {', '.join(type(a).__name__ for a in args)}")
    return args[0]


class Tensor(Composites, Conversions):
    """An n-dimensional array that records the ops applied to it, for reverse-mode autograd.

    `Tensor(data)` copies data: Python numbers become the default float dtype (float32), a
    NumPy array or Tensor keeps its dtype. `Tensor(2, 3)` is a (2, 3) tensor of zeros.
    """

    # _retain (the remover of retain_grad's hook) is set by retain_grad only, and read with
    # getattr: every op makes Tensors, and one store fewer each is measurable
    __slots__ = ("_array", "requires_grad", "_grad", "_ctx", "_key", "_hooks", "_view",
                 "_retain", "__weakref__")

    def __init__(self, *data, requires_grad: bool = False, dtype=None, device=None) -> None:
        as_device(device)
        self._array = _as_array(_data_or_size(data), dtype, infer=False)
        self._grad = self._ctx = self._key = self._hooks = self._view = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_()

    @staticmethod
    def _make(data, ctx=None, key=None) -> "Tensor":
        """Wrap an op's result without copying; `ctx` is its node when it needs a gradient."""
        t = object.__new__(Tensor)
        t._array = data if type(data) is np.ndarray else np.asarray(data)
        t.requires_grad = ctx is not None
        t._ctx, t._key = ctx, key
        t._grad = t._hooks = t._view = None  # _view: how a view was made, set by ops
        return t

    # ------------------------------------------------------------ attributes

    @property
    def data(self) -> "Tensor":
        """The same storage as a Tensor cut from the graph (PyTorch's `.data`): updates through
        it are not recorded. The NumPy array itself is `.numpy()`."""
        return Tensor._make(read_array(self))

    @data.setter
    def data(self, value: "Tensor") -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}; wrap a NumPy "
                            f"array with tinygrad_lstm.from_numpy")
        if _state.tracer is not None:
            _state.tracer.refuse("`.data = ...` inside the function rebinds a tensor to another "
                                 "array, which a program would not do again; write into it "
                                 "instead (`p.data.copy_(...)`, `p -= ...` under no_grad)")
        self._array = value._array

    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: by_numpy[self._array.dtype])  # a dtype object: tl.float32
    ndim = property(lambda self: self._array.ndim)
    is_leaf = property(lambda self: self._ctx is None)
    grad_fn = property(lambda self: self._ctx)
    _version = property(lambda self: version_of(self._array))  # shared by all views of the data

    @property
    def grad(self) -> "Tensor | None":
        if _state.tracer is not None:
            _state.tracer.grad_read(self)  # tl.compile: a replay reads this tensor's .grad then
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad must be a Tensor or None, got "
                                f"{type(value).__name__}")
            if value.shape != self.shape or value.dtype != self.dtype:
                raise RuntimeError(f"assigned grad has shape {value.shape} and dtype "
                                   f"{value.dtype}, but the tensor has {self.shape} {self.dtype}")
        if _state.tracer is not None:  # tl.compile: `p.grad = None` is a call of the program
            _state.tracer.call(_set_grad, (self, value), {})
        else:
            self._grad = value

    def size(self, dim: int | None = None) -> "tuple | int":
        if dim is not None and self.ndim == 0:
            raise IndexError(f"size: dimension specified as {dim} but the tensor has no dims")
        return self.shape if dim is None else self.shape[_normalize_dim(dim, self.ndim, "size")]

    def dim(self) -> int:
        return self._array.ndim

    def numel(self) -> int:
        return self._array.size

    def numpy(self) -> np.ndarray:
        if _state.differentiating and self.requires_grad:
            self._cut_from_recorded_backward()
        if _state.tracer is not None:
            _state.tracer.refuse("a tensor's array is handed to NumPy code (.numpy()) inside "
                                 "the function: what is done with it may not be recorded")
        return self._array

    def item(self) -> "float | int | bool":
        if self._array.size != 1:
            raise ValueError(f"item: a Tensor with {self._array.size} elements cannot be "
                             f"converted to a Python number")
        return read_array(self).item()  # under tl.compile: a value read, refused

    def tolist(self) -> list:
        return read_array(self).tolist()

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if _state.differentiating and self.requires_grad:
            self._cut_from_recorded_backward()
        return self._array if dtype is None else self._array.astype(dtype)

    def _cut_from_recorded_backward(self) -> None:
        raise RuntimeError(f"create_graph: a backward turned a tensor of shape {self.shape} "
                           f"that requires grad into a NumPy array, which would cut the graph of "
                           f"the recorded gradient; use Tensor ops in backward")

    # NumPy's ufuncs and functions on Tensors (recorded where a gradient flows): array_protocol.py
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return array_protocol.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return array_protocol.function(func, args, kwargs)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self._array.size != 1:
            raise RuntimeError(f"Boolean value of a Tensor with {self._array.size} values is "
                               f"ambiguous")
        return bool(read_array(self))

    def __format__(self, spec: str) -> str:
        """A 0-d tensor formats as its number (`f"{loss:.3f}"`), as in PyTorch."""
        return format(self.item(), spec) if self.ndim == 0 else object.__format__(self, spec)

    __hash__ = object.__hash__  # identity, although == is elementwise

    def __repr__(self) -> str:
        body = np.array2string(self._array, separator=", ", prefix="tensor(", precision=4)
        extra = f"dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{self._ctx.name()}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}, {extra})"

    # ------------------------------------------------------------ autograd

    def backward(self, gradient=None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate the gradient of this tensor into every leaf's `.grad` (or, with `inputs`,
        into those tensors' `.grad` only)."""
        from .autograd import gradients

        gradients.backward(self, None if gradient is None else (gradient,), retain_graph,
                           create_graph, inputs)

    def detach(self) -> "Tensor":
        """The same data, cut from the graph."""
        return Tensor._make(read_array(self))

    def detach_(self) -> "Tensor":
        """Cut this tensor from the graph, in place: it becomes a leaf."""
        if self._view is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._ctx = self._key = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if self._ctx is not None:
            if not requires_grad:
                raise RuntimeError("requires_grad_: you can only change requires_grad flags of "
                                   "leaf tensors; use detach() to cut a non-leaf from the graph")
            return self
        if requires_grad and self._array.dtype.type not in _FLOATS:
            raise RuntimeError(f"requires_grad_: only tensors of floating point dtype can "
                               f"require gradients, got {self.dtype}")
        if _state.tracer is not None:
            # tl.compile: on a tensor made before the call, a call of the program (a GAN's
            # freezing of its discriminator)
            _state.tracer.requires_grad_changes(self, bool(requires_grad), _set_requires_grad)
        else:
            self.requires_grad = bool(requires_grad)
        return self

    def register_hook(self, fn) -> "_HookHandle":
        """Call fn(grad) when this tensor's gradient is computed; a returned tensor replaces it."""
        if _state.tracer is not None:
            _state.tracer.refuse("register_hook inside the function: a program would not "
                                 "register it again at each call")
        if not fresh(self).requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't "
                               "require grad")
        if self._ctx is not None:
            index = self._key[1] if type(self._key) is tuple else 0
            return _HookHandle(self._ctx.register_hook(index, fn))
        if self._hooks is None:
            self._hooks = []
        hooks = self._hooks
        hooks.append(fn)

        def remove() -> None:
            if fn in hooks:
                hooks.remove(fn)

        return _HookHandle(remove)

    def retain_grad(self) -> None:
        """Keep `.grad` on a non-leaf tensor after backward (leaves always keep it); the tensor
        keeps it through in-place ops, which give it a new history."""
        if fresh(self)._ctx is None or self.retains_grad:
            return
        ref = weakref.ref(self)

        def keep(grad):
            t = ref()
            if t is None:
                return
            if grad.requires_grad:  # recorded (create_graph=True): keep its graph, as PyTorch
                t._grad = grad.clone() if t._grad is None else t._grad + grad
            else:
                t._grad = Tensor._make(grad._array.copy()) if t._grad is None else \
                    Tensor._make(t._grad._array + grad._array)

        keep.retains_grad = True  # runs after the tensor's other hooks, whenever registered
        self._retain = self.register_hook(keep).remove

    @property
    def retains_grad(self) -> bool:
        return getattr(self, "_retain", None) is not None

    # ------------------------------------------------------------ operators

    def __add__(self, other): return ops.Add.apply(self, other)
    def __radd__(self, other): return ops.Add.apply(other, self)  # other + self
    def __sub__(self, other): return ops.Sub.apply(self, other)
    def __rsub__(self, other): return ops.Sub.apply(other, self)  # other - self
    def __mul__(self, other): return ops.Mul.apply(self, other)
    def __rmul__(self, other): return ops.Mul.apply(other, self)  # other * self
    def __truediv__(self, other): return ops.Div.apply(self, other)
    def __rtruediv__(self, other): return ops.Div.apply(other, self)  # other / self
    def __pow__(self, other): return ops.Pow.apply(self, other)
    def __rpow__(self, other): return ops.Pow.apply(other, self)  # other ** self
    def __matmul__(self, other): return ops.Matmul.apply(self, other)
    def __rmatmul__(self, other): return ops.Matmul.apply(other, self)  # other @ self
    def __neg__(self): return ops.Neg.apply(self)
    def __getitem__(self, index): return ops.Getitem.apply(self, _unwrap_index(index))

    # comparisons have no gradient: they return boolean tensors
    def __lt__(self, other): return Tensor._make(read_array(self) < _array_of(other))
    def __le__(self, other): return Tensor._make(read_array(self) <= _array_of(other))
    def __gt__(self, other): return Tensor._make(read_array(self) > _array_of(other))
    def __ge__(self, other): return Tensor._make(read_array(self) >= _array_of(other))
    def __eq__(self, other): return Tensor._make(read_array(self) == _array_of(other))
    def __ne__(self, other): return Tensor._make(read_array(self) != _array_of(other))
    def __and__(self, other): return Tensor._make(read_array(self) & _array_of(other))
    def __or__(self, other): return Tensor._make(read_array(self) | _array_of(other))
    def __xor__(self, other): return Tensor._make(read_array(self) ^ _array_of(other))
    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__  # symmetric: `mask & t` as `t & mask`
    def __floordiv__(self, other): return Tensor._make(read_array(self) // _array_of(other))
    def __rfloordiv__(self, other): return Tensor._make(_array_of(other) // read_array(self))
    def __invert__(self): return Tensor._make(~read_array(self))
    def __mod__(self, other): return ops.Remainder.apply(self, other, False)  # Python's sign
    def __rmod__(self, other): return ops.Remainder.apply(other, self, False)  # other % self

    # ------------------------------------------------------------ primitive ops

    def exp(self) -> "Tensor": return ops.Exp.apply(self)
    def log(self) -> "Tensor": return ops.Log.apply(self)
    def tanh(self) -> "Tensor": return ops.Tanh.apply(self)
    def sigmoid(self) -> "Tensor": return ops.Sigmoid.apply(self)
    def relu(self) -> "Tensor": return ops.Relu.apply(self)
    def matmul(self, other) -> "Tensor": return ops.Matmul.apply(self, other)
    def sin(self) -> "Tensor": return ops.Sin.apply(self)
    def cos(self) -> "Tensor": return ops.Cos.apply(self)
    def log1p(self) -> "Tensor": return ops.Log1p.apply(self)
    def expm1(self) -> "Tensor": return ops.Expm1.apply(self)
    def true_divide(self, other) -> "Tensor": return ops.Div.apply(self, other)
    def maximum(self, other) -> "Tensor": return ops.Maximum.apply(self, other)
    def minimum(self, other) -> "Tensor": return ops.Minimum.apply(self, other)
    def remainder(self, other) -> "Tensor": return ops.Remainder.apply(self, other, False)
    def fmod(self, other) -> "Tensor": return ops.Remainder.apply(self, other, True)

    def _stepwise(self, fn, *others) -> "Tensor":
        """fn(self, *others) for a piecewise constant fn on arrays: gradient 0."""
        return ops.Stepwise.apply(fn, self, *others)

    def where(self, condition, other) -> "Tensor":
        """self where condition holds, else other (PyTorch's x.where(condition, y))."""
        return where(condition, self, other)

    def addmm(self, mat1: "Tensor", mat2: "Tensor", *, beta: float = 1,
              alpha: float = 1) -> "Tensor":
        """beta * self + alpha * mat1 @ mat2, in one op when beta = alpha = 1, for mat1: (N, K),
        mat2: (K, M) (PyTorch's addmm)."""
        if beta == 1 and alpha == 1:
            return ops.Addmm.apply(self, mat1, mat2)
        return self * beta + mat1.mm(mat2) * alpha

    def addcmul(self, tensor1, tensor2, *, value: float = 1) -> "Tensor":
        """self + value * tensor1 * tensor2, in one op when value = 1, elementwise with
        broadcasting (PyTorch's addcmul)."""
        if value == 1:
            return ops.Addcmul.apply(self, tensor1, tensor2)
        return self + tensor1 * tensor2 * value

    def gather(self, dim: int, index: "Tensor") -> "Tensor":
        """out[i] = self[i with i[dim] replaced by index[i]], in index's shape."""
        d, i = _index_along(self, dim, index, "gather")
        out = ops.Gather.apply(self, d, i)
        return out.reshape(()) if out.ndim > np.ndim(getattr(index, "_array", index)) else out

    def scatter(self, dim: int, index: "Tensor", src=None, *, value=None,
                reduce: str | None = None) -> "Tensor":
        """A copy of self with self[i with i[dim] replaced by index[i]] = src[i] (or value) for
        each position i of index; reduce='add' adds instead (as scatter_add)."""
        if reduce not in (None, "add"):
            raise NotImplementedError(f"scatter: reduce={reduce!r} is not supported (None and "
                                      f"'add' are)")
        if (src is None) == (value is None):
            raise TypeError("scatter: expected exactly one of src and value")
        d, i = _index_along(self, dim, index, "scatter")
        src = value if src is None else src
        if isinstance(src, Tensor) and (src.ndim != i.ndim or any(
                n > m for n, m in zip(i.shape, src.shape))):
            raise RuntimeError(f"scatter: Expected index {i.shape} to be smaller than src "
                               f"{src.shape} apart from dimension {d}")
        return ops.Scatter.apply(self, d, i, src, reduce == "add")

    def scatter_add(self, dim: int, index: "Tensor", src: "Tensor") -> "Tensor":
        """A copy of self with src[i] added at self[i with i[dim] replaced by index[i]]."""
        return self.scatter(dim, index, src, reduce="add")

    def sum(self, dim=None, keepdim: bool = False, *, dtype=None) -> "Tensor":
        x = self if dtype is None else self.to(dtype)
        return ops.Sum.apply(x, _normalize_dims(dim, x.ndim, "sum"), keepdim)

    def amax(self, dim=None, keepdim: bool = False) -> "Tensor":
        axes = _normalize_dims(dim, self.ndim, "amax")
        if self._array.size == 0:
            _check_empty_reduction(self.shape, dim, "amax()")
        return ops.Max.apply(self, axes, keepdim)

    def prod(self, dim: int | None = None, keepdim: bool = False, *, dtype=None) -> "Tensor":
        x = self if dtype is None else self.to(dtype)
        axis = None if dim is None or x.ndim == 0 else _normalize_dim(dim, x.ndim, "prod")
        return ops.Prod.apply(x, axis, keepdim and axis is not None)

    def _norm(self, p: float, axes, keepdim: bool) -> "Tensor":  # the p-norm primitive
        return ops.Norm.apply(self, p, axes, keepdim)

    def reshape(self, *shape) -> "Tensor":
        return ops.Reshape.apply(self, _sizes(shape))

    def permute(self, *dims) -> "Tensor":
        dims = _sizes(dims)
        axes = tuple(_normalize_dim(d, self.ndim, "permute") for d in dims)
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"permute: dims {dims} are not a permutation of the "
                             f"{self.ndim} dims of a tensor of shape {self.shape}")
        return ops.Permute.apply(self, axes)

    def _split(self, bounds: tuple, dim: int) -> tuple:  # views x[..., a:b] per (a, b)
        return ops.Split.apply(self, bounds, dim)

    def unbind(self, dim: int = 0) -> tuple:
        if self.ndim == 0:
            raise IndexError("unbind: Dimension specified as 0 but tensor has no dimensions")
        return ops.Unbind.apply(self, _normalize_dim(dim, self.ndim, "unbind"))

    def log_softmax(self, dim: int) -> "Tensor":
        return ops.LogSoftmax.apply(self, _normalize_dim(dim, self.ndim, "log_softmax"))

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        axes = list(range(self.ndim))
        d0, d1 = _normalize_dim(dim0, self.ndim, "transpose"), _normalize_dim(dim1, self.ndim,
                                                                               "transpose")
        if axes:  # a 0-d tensor takes dims 0 and -1 and stays as it is
            axes[d0], axes[d1] = axes[d1], axes[d0]
        return ops.Permute.apply(self, tuple(axes))

    @property
    def T(self) -> "Tensor":
        return ops.Permute.apply(self, tuple(range(self.ndim))[::-1])  # a view, even for 1-D

    def t(self) -> "Tensor":
        """The transpose of a matrix; a 0-d or 1-D tensor as it is (PyTorch's t())."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.ndim}D")
        return self.T

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        """`chunks` pieces of equal size ceil(n / chunks) along dim (the last may be smaller)."""
        if type(chunks) is not int and not _is_int(chunks):
            raise TypeError(f"chunk: chunks must be an int, got {type(chunks).__name__}")
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        shape = self._array.shape  # not the properties: chunk runs at every LSTM step
        if not shape:
            raise RuntimeError("chunk expects at least a 1-dimensional tensor")
        dim = _normalize_dim(dim, len(shape), "chunk")
        n = shape[dim]
        # every LSTM step chunks its gates: straight to Split, no detour via split(). An empty
        # dim gives `chunks` empty pieces, as in PyTorch (split gives one)
        bounds = _bounds(n, -(-n // chunks)) if n else ((0, 0),) * chunks
        return ops.Split.apply(self, bounds, dim)

    def expand(self, *shape) -> "Tensor":
        shape = _sizes(shape)
        shape = tuple(n if s == -1 else s for s, n in
                      zip(shape, (1,) * (len(shape) - self.ndim) + self.shape))
        ok = len(shape) >= self.ndim and all(n in (1, s) for n, s in
                                             zip(self.shape[::-1], shape[::-1]))
        if not ok:
            raise ValueError(f"expand: cannot expand a tensor of shape {self.shape} to {shape}")
        return ops.Expand.apply(self, shape)

    def clone(self, *, memory_format=None) -> "Tensor":  # one memory format here: C order
        return ops.Clone.apply(self)

    def contiguous(self, memory_format=None) -> "Tensor":
        return self if self._array.flags.c_contiguous else ops.Clone.apply(self)

    def is_contiguous(self) -> bool:
        return self._array.flags.c_contiguous

    # in-place view ops: the tensor itself becomes the view
    def unsqueeze_(self, dim: int) -> "Tensor": return self._become(Tensor.unsqueeze, dim)
    def squeeze_(self, dim: int | None = None) -> "Tensor": return self._become(Tensor.squeeze, dim)
    def t_(self) -> "Tensor": return self._become(Tensor.t)

    def transpose_(self, dim0: int, dim1: int) -> "Tensor":
        return self._become(Tensor.transpose, dim0, dim1)

    def _become(self, view_op, *args) -> "Tensor":
        """This tensor becomes view_op(itself): a leaf stays a leaf, a view stays a view of its
        base (through a stand-in for its old self)."""
        source = self
        if self._view is not None:
            source = Tensor._make(self._array, self._ctx, self._key)
            source._view = self._view
        view = view_op(source, *args)
        self._array = view._array  # views taken of the old self now refuse in-place use
        if self._view is not None:
            self._view = view._view
        if self._ctx is not None:
            set_history(self, view)
        return self

    def erf(self) -> "Tensor": return ops.Erf.apply(self)  # a primitive; here for nn's GELU

    # ------------------------------------------------------------ in-place (inplace.py)

    def add_(self, other, alpha: float = 1) -> "Tensor":
        return inplace.update(self, "add_", _add_scaled_t, (other, alpha), _add_scaled)

    def sub_(self, other, alpha: float = 1) -> "Tensor":
        return inplace.update(self, "sub_", _add_scaled_t, (other, -alpha), _add_scaled)

    def mul_(self, other) -> "Tensor":
        return inplace.update(self, "mul_", Tensor.__mul__, (other,), _mul_into)

    def div_(self, other) -> "Tensor":
        return inplace.update(self, "div_", Tensor.__truediv__, (other,), _div_into)

    def pow_(self, exponent) -> "Tensor":
        return inplace.update(self, "pow_", Tensor.__pow__, (exponent,))

    def floor_divide_(self, other) -> "Tensor":
        return inplace.update(self, "floor_divide_", Tensor.__floordiv__, (other,))

    def remainder_(self, other) -> "Tensor":
        return inplace.update(self, "remainder_", Tensor.remainder, (other,))

    def fmod_(self, other) -> "Tensor":
        return inplace.update(self, "fmod_", Tensor.fmod, (other,))

    def matmul_(self, other) -> "Tensor":  # for @=: PyTorch keeps the tensor, so must the shape
        return inplace.update(self, "matmul_", Tensor.matmul, (other,))

    def neg_(self) -> "Tensor": return inplace.update(self, "neg_", Tensor.__neg__, ())
    def exp_(self) -> "Tensor": return inplace.update(self, "exp_", Tensor.exp, ())
    def log_(self) -> "Tensor": return inplace.update(self, "log_", Tensor.log, ())
    def tanh_(self) -> "Tensor": return inplace.update(self, "tanh_", Tensor.tanh, ())
    def sigmoid_(self) -> "Tensor": return inplace.update(self, "sigmoid_", Tensor.sigmoid, ())
    def relu_(self) -> "Tensor": return inplace.update(self, "relu_", Tensor.relu, ())
    def abs_(self) -> "Tensor": return inplace.update(self, "abs_", Tensor.abs, ())
    def sqrt_(self) -> "Tensor": return inplace.update(self, "sqrt_", Tensor.sqrt, ())

    def clamp_(self, min=None, max=None) -> "Tensor":
        return inplace.update(self, "clamp_", Tensor.clamp, (min, max), _clip_into)

    clip_ = clamp_

    def zero_(self) -> "Tensor":
        return inplace.update(self, "zero_", _filled, (0,), _copy_into)

    def fill_(self, value) -> "Tensor":
        return inplace.update(self, "fill_", _filled, (value,), _copy_into, cast="unsafe")

    def copy_(self, src) -> "Tensor":
        """self := src (broadcast to self's shape, cast to self's dtype by any cast)."""
        return inplace.update(self, "copy_", _filled, (src,), _copy_into, cast="unsafe")

    def scatter_(self, dim: int, index: "Tensor", src=None, *, value=None,
                 reduce: str | None = None) -> "Tensor":
        return inplace.update(self, "scatter_", _scattered, (dim, index, src, value, reduce))

    def scatter_add_(self, dim: int, index: "Tensor", src: "Tensor") -> "Tensor":
        return inplace.update(self, "scatter_add_", _scattered, (dim, index, src, None, "add"))

    def masked_fill_(self, mask, value) -> "Tensor":
        return inplace.update(self, "masked_fill_", _masked_filled, (mask, value), cast="unsafe")

    def __setitem__(self, index, value) -> None:
        inplace.setitem(self, index, value)

    def __iadd__(self, other): return self.add_(other)  # self += other, in place
    def __isub__(self, other): return self.sub_(other)  # self -= other, in place
    def __imul__(self, other): return self.mul_(other)  # self *= other, in place
    def __itruediv__(self, other): return self.div_(other)  # self /= other, in place
    def __ifloordiv__(self, other): return self.floor_divide_(other)  # self //= other
    def __imod__(self, other): return self.remainder_(other)  # self %= other, in place
    def __ipow__(self, other): return self.pow_(other)  # self **= other, in place
    def __imatmul__(self, other): return self.matmul_(other)  # self @= other, in place

    def __iand__(self, other):  # self &= other, in place (bool and int tensors)
        return inplace.update(self, "__iand__", Tensor.__and__, (other,), _and_into)

    def __ior__(self, other):  # self |= other, in place
        return inplace.update(self, "__ior__", Tensor.__or__, (other,), _or_into)

    def __ixor__(self, other):  # self ^= other, in place
        return inplace.update(self, "__ixor__", Tensor.__xor__, (other,), _xor_into)


class _HookHandle:
    """What register_hook returns, as in PyTorch: `.remove()` takes the hook off again."""

    def __init__(self, remove) -> None:
        self.remove = remove


def _array_of(x):
    """x's array (read_array: under tl.compile, a value of the trace) or x itself."""
    return read_array(x) if isinstance(x, Tensor) else x


def _add_scaled(x, y, alpha):
    if alpha == -1:  # sub_(y), every optimizer's update: no scaled copy of y
        np.subtract(x, y, out=x)
    else:
        np.add(x, y if alpha == 1 else np.multiply(y, alpha), out=x)


def _add_scaled_t(x: Tensor, y, alpha) -> Tensor:
    return x + y if alpha == 1 else x + y * alpha


def _scattered(x: Tensor, dim: int, index, src, value, reduce) -> Tensor:
    return x.scatter(dim, index, src, value=value, reduce=reduce)


def _filled(x: Tensor, value) -> Tensor:
    """value everywhere; x stays in the graph with gradient 0, as PyTorch's fill_ keeps it."""
    return where(True, value, x)


def _masked_filled(x: Tensor, mask, value) -> Tensor:
    return where(mask, value, x)


def _mul_into(x, y): np.multiply(x, y, out=x)
def _div_into(x, y): np.divide(x, y, out=x)
def _clip_into(x, lo, hi): np.clip(x, lo, hi, out=x)
def _copy_into(x, y): np.copyto(x, y, casting="unsafe")
def _and_into(x, y): np.bitwise_and(x, y, out=x)
def _or_into(x, y): np.bitwise_or(x, y, out=x)
def _xor_into(x, y): np.bitwise_xor(x, y, out=x)


def _unwrap_index(index):
    """Tensors inside an index become their arrays (integer or boolean)."""
    if type(index) is tuple:
        return tuple([_array_of(i) for i in index])
    return _array_of(index)


def cat(tensors: "list[Tensor]", dim: int = 0) -> Tensor:
    """Concatenate along an existing dim. As in PyTorch, a 1-D empty tensor may stand beside
    tensors of any shape (its legacy rule): it is left out."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    shapes = [np.shape(_array_of(t)) for t in tensors]
    if () in shapes:
        raise ValueError(f"cat: zero-dimensional tensor (at position {shapes.index(())}) cannot "
                         f"be concatenated")
    kept = [s for s in shapes if s != (0,)]
    if not kept:  # only 1-D empty tensors: PyTorch gives (0,), whatever dim says
        return ops.Cat.apply(0, *tensors)
    r = kept[0]
    axis = _normalize_dim(dim, len(r), "cat")
    for s in kept[1:]:
        if len(s) != len(r) or s[:axis] + s[axis + 1:] != r[:axis] + r[axis + 1:]:
            raise ValueError(f"cat: shapes {r} and {s} differ outside dim {dim}")
    return ops.Cat.apply(axis, *tensors)


def stack(tensors: "list[Tensor]", dim: int = 0) -> Tensor:
    """Stack along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    axis = _normalize_dim(dim, np.ndim(_array_of(tensors[0])) + 1, "stack")
    return ops.Stack.apply(axis, *tensors)  # NumPy's shape check is named by Function.apply


def where(condition: "Tensor | np.ndarray", x: "Tensor | float",
          y: "Tensor | float") -> Tensor:
    """x where condition holds, else y (with broadcasting); no gradient for condition."""
    return ops.Where.apply(np.asarray(_array_of(condition), dtype=bool), x, y)


# tl.compile replays these as calls of a program (Tensor.grad's setter, requires_grad_)
def _set_grad(t: Tensor, value: Tensor | None) -> None:
    t._grad = value


def _set_requires_grad(t: Tensor, value: bool) -> None:
    t.requires_grad = value


# The layers above Tensor, which Tensor's methods call: each of their modules imports Tensor, so
# they are imported once it is defined. Below it (imported at the top) nothing imports upwards.
from . import array_protocol, inplace, ops  # noqa: E402
from .autograd.primitive import fresh, set_history  # noqa: E402
