"""`OuterSum`: a weight's gradient x_1^T g_1 + x_2^T g_2 + ..., kept as its factors.

The whole protocol is here. A matrix product's VJP returns one for the weight instead of the
product. The engine keeps adding OuterSums for the same weight lazily (`extend`: the factor
lists grow) and calls `dense` wherever it needs an array: before a node's VJP runs (unless the
op `takes_outer_sum`: a transpose forms the transposed sum, `transposed`), when an array
gradient meets the sum, and at the leaves. When the same weight is used at every step
of a recurrence, the gradient is then one GEMM over all T steps at once instead of T thin
ones, each added into a full-size buffer.
"""

import numpy as np


class OuterSum:
    """x_1^T g_1 + x_2^T g_2 + ...: x_i: (N_i, K), g_i: (N_i, M) -> (K, M)."""

    __slots__ = ("xs", "gs", "shape", "dtype")

    def __init__(self, x: np.ndarray, g: np.ndarray) -> None:
        self.xs, self.gs = [x], [g]
        self.shape = (x.shape[1], g.shape[1])
        self.dtype = g.dtype if x.dtype == g.dtype else np.promote_types(x.dtype, g.dtype)

    def extend(self, other: "OuterSum") -> None:
        self.xs += other.xs
        self.gs += other.gs

    def transposed(self) -> "OuterSum":
        """The sum's transpose, g_1^T x_1 + g_2^T x_2 + ..., as factors again: formed, it is
        C-ordered, where the transpose of the formed sum is F-ordered (a leaf's `.grad` would
        be a transposing copy of it)."""
        t = OuterSum.__new__(OuterSum)
        t.xs, t.gs, t.shape, t.dtype = list(self.gs), list(self.xs), self.shape[::-1], self.dtype
        return t

    def materialize(self) -> np.ndarray:
        """The sum as a new array (the caller may write into it)."""
        if len(self.xs) == 1:
            return np.dot(self.xs[0].T, self.gs[0])
        # the terms in the order the forward made them (backward adds the last first): for a
        # recurrence, time order, where a gradient of all its steps' inputs stacks them, so
        # tl.compile's program makes that array once (an LSTM's gate gradients)
        xs, gs = self.xs[::-1], self.gs[::-1]
        # perf: the smaller side concatenated first (an LSTM's states before its gate
        # gradients, in either orientation): the other order peaks 6% higher at bench_lstm's
        # large config (eager, 368 against 347 MiB)
        if xs[0].shape[1] <= gs[0].shape[1]:
            x = np.concatenate(xs)
            return np.dot(x.T, np.concatenate(gs))
        g = np.concatenate(gs)
        return np.dot(np.concatenate(xs).T, g)


def dense(g):
    """g as an array (or, under create_graph, a Tensor): an OuterSum materialized."""
    return g.materialize() if type(g) is OuterSum else g
