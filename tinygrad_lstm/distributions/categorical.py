"""Categorical: K classes with probabilities `probs` (or unnormalized log-probabilities
`logits`) in the last dim, as torch.distributions.Categorical."""

import numpy as np

from tinygrad_lstm.autograd import no_grad
from tinygrad_lstm.creation import arange, full
from tinygrad_lstm.distributions import constraints
from tinygrad_lstm.distributions.distribution import Distribution, lazy_property
from tinygrad_lstm.tensor import Tensor


class Categorical(Distribution):
    """P(k) = probs[..., k], k in {0, ..., K-1}, K = probs.size(-1); one of probs or logits.

    probs are normalized to sum to 1 over the last dim; logits become log-probabilities
    (logits - logsumexp(logits)). The other one is computed on first use (log of probs clamped
    to [eps, 1 - eps]; softmax of logits). Samples are int64 of shape
    sample_shape + batch_shape, batch_shape = probs.shape[:-1].
    """

    arg_constraints = {"probs": constraints.simplex,
                       "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs: Tensor | None = None, logits: Tensor | None = None,
                 validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        name, param = ("probs", probs) if probs is not None else ("logits", logits)
        if not isinstance(param, Tensor):
            raise TypeError(f"Categorical: `{name}` must be a Tensor, got "
                            f"{type(param).__name__}")
        if param.dim() < 1:
            raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
        if probs is not None:
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            self.logits = logits - logits.logsumexp(dim=-1, keepdim=True)  # normalize
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.shape[-1]
        batch_shape = tuple(self._param.shape[:-1])
        super().__init__(batch_shape, validate_args=validate_args)

    @lazy_property
    def logits(self) -> Tensor:
        eps = float(np.finfo(self.probs.numpy().dtype).eps)
        return self.probs.clamp(min=eps, max=1 - eps).log()

    @lazy_property
    def probs(self) -> Tensor:
        return self.logits.softmax(dim=-1)

    @property
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def param_shape(self) -> tuple:
        return tuple(self._param.shape)

    @property
    def mean(self) -> Tensor:
        return full(self._extended_shape(), float("nan"), dtype=self.probs.dtype)

    @property
    def mode(self) -> Tensor:
        return self.probs.argmax(dim=-1)

    @property
    def variance(self) -> Tensor:
        return full(self._extended_shape(), float("nan"), dtype=self.probs.dtype)

    def sample(self, sample_shape: tuple = ()) -> Tensor:
        """Class indices, int64, of shape sample_shape + batch_shape (no gradient)."""
        sample_shape = tuple(sample_shape)
        n = int(np.prod(sample_shape, dtype=np.int64))
        with no_grad():
            probs_2d = self.probs.reshape(-1, self._num_events)
            samples_2d = probs_2d.multinomial(n, True).T  # (n, prod(batch_shape))
            return samples_2d.reshape(self._extended_shape(sample_shape))

    def log_prob(self, value: Tensor) -> Tensor:
        """log P(value): value's shape broadcast with batch_shape."""
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        shape = np.broadcast_shapes(tuple(value.shape), tuple(self.logits.shape))
        value = value.expand(*shape[:-1], 1)
        return self.logits.expand(*shape).gather(-1, value).squeeze(-1)

    def entropy(self) -> Tensor:
        """-sum_k p_k log p_k over the last dim (0 log 0 = 0)."""
        min_real = float(np.finfo(self.logits.numpy().dtype).min)
        logits = self.logits.clamp(min=min_real)  # -inf where p = 0: p log p is then 0
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """0, ..., K-1 along a new first dim, expanded over batch_shape (or of size 1)."""
        values = arange(self._num_events).view((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + self._batch_shape) if expand else values
