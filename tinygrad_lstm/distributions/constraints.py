"""The constraints a distribution checks its parameters and samples against (PyTorch's
torch.distributions.constraints, the ones Categorical needs): `check(value)` is a bool Tensor."""

from tinygrad_lstm.tensor import Tensor


class Constraint:
    """A region of values; `check(value)` says, per value, whether it lies in it."""

    is_discrete = False
    event_dim = 0

    def check(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__[1:] + "()"


class _Real(Constraint):
    """Any real number but NaN (inf included, as in PyTorch)."""

    def check(self, value: Tensor) -> Tensor:
        return value == value  # False for NaN


class _IntegerInterval(Constraint):
    """The integers lower_bound <= k <= upper_bound."""

    is_discrete = True

    def __init__(self, lower_bound: int, upper_bound: int) -> None:
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value: Tensor) -> Tensor:
        return (value % 1 == 0) & (self.lower_bound <= value) & (value <= self.upper_bound)

    def __repr__(self) -> str:
        return (f"IntegerInterval(lower_bound={self.lower_bound}, "
                f"upper_bound={self.upper_bound})")


class _Simplex(Constraint):
    """Vectors in the last dim of non-negative entries summing to 1 (to within 1e-6)."""

    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        return (value >= 0).all(dim=-1) & ((value.sum(-1) - 1).abs() < 1e-6)


class _IndependentConstraint(Constraint):
    """A constraint on each element, checked as one event over the last
    reinterpreted_batch_ndims dims (all must hold)."""

    def __init__(self, base_constraint: Constraint, reinterpreted_batch_ndims: int) -> None:
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims
        self.event_dim = base_constraint.event_dim + reinterpreted_batch_ndims

    def check(self, value: Tensor) -> Tensor:
        result = self.base_constraint.check(value)
        for _ in range(self.reinterpreted_batch_ndims):
            result = result.all(dim=-1)
        return result

    def __repr__(self) -> str:
        return (f"IndependentConstraint({self.base_constraint!r}, "
                f"{self.reinterpreted_batch_ndims})")


real = _Real()
simplex = _Simplex()
independent = _IndependentConstraint
integer_interval = _IntegerInterval
