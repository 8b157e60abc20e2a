"""`Variable`, PyTorch's deprecated wrapper: today every Tensor is one."""

from ..tensor import Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor)  # as torch's: every Tensor is a Variable

    def __call__(cls, data: Tensor, requires_grad: bool = False, volatile: bool = False) -> Tensor:
        """A leaf on the same storage as `data` (a Tensor), with `requires_grad` set."""
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)


class Variable(metaclass=_VariableMeta):
    """`Variable(t, requires_grad=True)`: the Tensor `t` as a new leaf (PyTorch's deprecated
    API, kept so old programs run); `isinstance(t, Variable)` holds for every Tensor."""
