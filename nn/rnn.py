"""Recurrent layers: the cells RNNCell, LSTMCell, GRUCell and the sequence modules RNN, LSTM, GRU.

Each cell type's step is written once, as a module-level function of the precomputed input
part `xw = x @ W_ih.T (+ biases)`, and used both by the cell's forward and by the sequence
module's time loop. The sequence modules hoist the input projection of all time steps into one
`linear` per layer and direction, split it over time with one `unbind`, and take `W_hh.T` once.
"""

import math
import numbers
import warnings

import numpy as np

from tinygrad_lstm import ops
from tinygrad_lstm.autograd import graph_scope
from tinygrad_lstm.nn import functional as F
from tinygrad_lstm.nn.init import uniform_
from tinygrad_lstm.nn.module import Module, check_size, factory_dtype
from tinygrad_lstm.nn.parameter import Parameter
from tinygrad_lstm.nn.utils.rnn import PackedSequence, _batch_sizes_array
from tinygrad_lstm.tensor import Tensor, cat, stack

_PARAM_NAMES = ("weight_ih_l{}{}", "weight_hh_l{}{}", "bias_ih_l{}{}", "bias_hh_l{}{}")
_CELL_PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")

# ---------------------------------------------------------------- one time step per cell type
# state is a tuple: (h,) or (h, c). b_hh is None when the caller folded it into xw.


def _rnn_step(xw: Tensor, state: tuple, w_hh_t: Tensor, b_hh: Tensor | None,
              nonlinearity: str) -> tuple:
    """h' = act(xw + h @ W_hh.T + b_hh)."""
    a = xw.addmm(state[0], w_hh_t)  # (N, H)
    if b_hh is not None:
        a = a + b_hh
    return (a.tanh() if nonlinearity == "tanh" else a.relu(),)


def _lstm_step(xw: Tensor, state: tuple, w_hh_t: Tensor, b_hh: Tensor | None) -> tuple:
    """(h', c') from xw = x @ W_ih.T + b_ih (+ b_hh), gate order i, f, g, o."""
    h, c = state
    gates = xw.addmm(h, w_hh_t)  # (N, 4H)
    if b_hh is not None:
        gates = gates + b_hh
    # sigmoid(i), sigmoid(f), tanh(g), sigmoid(o) as one op (PERF below)
    i, f, g, o = ops.LSTMGates.apply(gates).chunk(4, 1)
    c = (f * c).addcmul(i, g)  # f * c + i * g
    return o * c.tanh(), c


def _gru_step(xw: Tensor, state: tuple, w_hh_t: Tensor, b_hh: Tensor | None) -> tuple:
    """h' from xw = x @ W_ih.T + b_ih, gate order r, z, n; b_hh stays apart (b_hn is gated)."""
    h = state[0]
    hw = h @ w_hh_t  # (N, 3H)
    if b_hh is not None:
        hw = hw + b_hh
    x_r, x_z, x_n = xw.chunk(3, 1)
    h_r, h_z, h_n = hw.chunk(3, 1)
    r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return (n + z * (h - n),)  # (1 - z) * n + z * h, with one op fewer


# ---------------------------------------------------------------- shared checks and init


def _check_sizes(name: str, input_size, hidden_size) -> None:
    check_size(name, "input_size", input_size)
    check_size(name, "hidden_size", hidden_size, positive=True)


def _check_input(name: str, x, ndims: tuple, input_size: int, dtype) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected input to be a Tensor, got {type(x).__name__}")
    if x.ndim not in ndims:
        raise ValueError(f"{name}: expected input of {ndims[0]} or {ndims[1]} dims, got {x.ndim}")
    if x.shape[-1] != input_size:
        raise RuntimeError(f"{name}: input of shape {x.shape} has size {x.shape[-1]} in its "
                           f"last dim, expected input_size {input_size}")
    if x._array.dtype != dtype:
        raise RuntimeError(f"{name}: input has dtype {x._array.dtype}, but the parameters are "
                           f"{dtype}; convert one of them with .float() or .double()")


def _check_states(name: str, hx: tuple, labels: tuple, shape: tuple, dtype) -> None:
    for label, s in zip(labels, hx):
        if not isinstance(s, Tensor):
            raise TypeError(f"{name}: expected {label} to be a Tensor, got {type(s).__name__}")
        if s.shape != shape:
            raise RuntimeError(f"{name}: expected {label} of shape {shape}, got {s.shape}")
        if s._array.dtype != dtype:
            raise RuntimeError(f"{name}: {label} has dtype {s._array.dtype}, but the parameters "
                               f"are {dtype}")


def _check_param_dtypes(name: str, module: Module, param_names: tuple) -> None:
    """Refuse parameters of mixed dtypes (one converted by hand), as PyTorch's layers do."""
    dtypes = [getattr(module, n)._array.dtype for n in param_names]
    if any(d != dtypes[0] for d in dtypes):
        listed = ", ".join(f"{n} {d}" for n, d in zip(param_names, dtypes))
        raise RuntimeError(f"{name}: parameters of mixed dtypes ({listed}); convert the whole "
                           f"module with .float() or .double()")


def _as_state_tuple(name: str, hx, labels: tuple) -> tuple | None:
    """hx as a tuple of states: LSTMs take a pair (h_0, c_0), the others one Tensor."""
    if hx is None:
        return None
    if len(labels) == 1:
        return (hx,)
    if not isinstance(hx, (tuple, list)) or len(hx) != len(labels):
        raise TypeError(f"{name}: expected hx to be a tuple ({', '.join(labels)}), got "
                        f"{type(hx).__name__}")
    return tuple(hx)


def _reset_uniform(module: Module, hidden_size: int) -> None:
    """Every parameter from U(-1/sqrt(H), 1/sqrt(H)), as PyTorch's recurrent layers do."""
    stdv = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        uniform_(p, -stdv, stdv)


# ---------------------------------------------------------------- cells


class RNNCellBase(Module):
    """Parameters, init and input checks shared by RNNCell, LSTMCell and GRUCell.

    Subclasses set `_step` (one time step, see above) and `_state_labels` (names of the states).
    """

    _state_labels = ("hx",)

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size)
        dt = factory_dtype(type(self).__name__, device, dtype)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gate_size = num_chunks * hidden_size
        self.weight_ih = Parameter(np.empty((gate_size, input_size), dt))
        self.weight_hh = Parameter(np.empty((gate_size, hidden_size), dt))
        if bias:
            self.bias_ih = Parameter(np.empty(gate_size, dt))
            self.bias_hh = Parameter(np.empty(gate_size, dt))
        else:
            self.bias_ih = self.bias_hh = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_uniform(self, self.hidden_size)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _forward(self, x: Tensor, hx) -> tuple:
        """Check x and hx, run one step on (N, I) and return the new states, unbatched again
        if x was."""
        name, dtype = type(self).__name__, self.weight_ih._array.dtype
        _check_param_dtypes(name, self, _CELL_PARAM_NAMES[:4 if self.bias else 2])
        hx = _as_state_tuple(name, hx, self._state_labels)
        _check_input(name, x, (1, 2), self.input_size, dtype)
        batched = x.ndim == 2
        shape = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if hx is None:
            state = tuple(Tensor(np.zeros(shape, dtype)) for _ in self._state_labels)
        else:
            _check_states(name, hx, self._state_labels, shape, dtype)
            state = hx
        if not batched:
            x, state = x.unsqueeze(0), tuple(s.unsqueeze(0) for s in state)
        xw = F.linear(x, self.weight_ih, self.bias_ih)  # (N, chunks*H)
        state = self._step(xw, state, self.weight_hh.T, self.bias_hh)
        return state if batched else tuple(s.squeeze(0) for s in state)


class RNNCell(RNNCellBase):
    """An Elman RNN cell, PyTorch's nn.RNNCell.

        h' = tanh(W_ih x + b_ih + W_hh h + b_hh)    (relu instead of tanh if nonlinearity='relu')

    Shape: x: (N, I) or (I,); hx: (N, H) or (H,), zeros if None -> h': (N, H) or (H,)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity '{nonlinearity}'; select from "
                             f"'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def _step(self, xw, state, w_hh_t, b_hh):
        return _rnn_step(xw, state, w_hh_t, b_hh, self.nonlinearity)

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._forward(x, hx)[0]


class LSTMCell(RNNCellBase):
    """A long short-term memory cell, PyTorch's nn.LSTMCell (gate order i, f, g, o).

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)
        f = sigmoid(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)
        o = sigmoid(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g
        h' = o * tanh(c')

    Shape: x: (N, I) or (I,); hx = (h, c): (N, H) or (H,) each, zeros if None
        -> (h', c'): (N, H) or (H,) each
    """

    _state_labels = ("h_0", "c_0")
    _step = staticmethod(_lstm_step)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, Tensor]:
        return self._forward(x, hx)


class GRUCell(RNNCellBase):
    """A gated recurrent unit cell, PyTorch's nn.GRUCell (gate order r, z, n).

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    Shape: x: (N, I) or (I,); hx: (N, H) or (H,), zeros if None -> h': (N, H) or (H,)
    """

    _step = staticmethod(_gru_step)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._forward(x, hx)[0]


# ---------------------------------------------------------------- sequence modules


class RNNBase(Module):
    """Layers x directions of one cell type over a sequence, with PyTorch's parameter names.

    Subclasses set `_num_chunks`, `_step`, `_state_labels` and `_fold_hh_bias` (whether b_hh
    may be added once to the hoisted input projection instead of at every step).
    """

    _num_chunks = 1
    _state_labels = ("h_0",)
    _fold_hh_bias = True

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size)
        dt = factory_dtype(name, device, dtype)
        if proj_size != 0:  # PyTorch's check first, then what this build lacks
            if name != "LSTM":
                raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
            raise NotImplementedError(f"LSTM: proj_size={proj_size} (LSTM with projections) is "
                                      f"not supported; use proj_size=0")
        if not isinstance(num_layers, (int, np.integer)) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be an int greater than zero, got "
                             f"{num_layers}")
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) \
                or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing "
                             f"the probability of an element being zeroed, got {dropout}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout adds dropout after all but the last recurrent layer, "
                          f"so non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        num_directions = 2 if bidirectional else 1
        gate_size = self._num_chunks * hidden_size
        names = []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else hidden_size * num_directions
            shapes = ((gate_size, layer_input_size), (gate_size, hidden_size), (gate_size,),
                      (gate_size,))
            for direction in range(num_directions):
                for param_name, shape in zip(self._param_names(layer, direction), shapes):
                    setattr(self, param_name, Parameter(np.empty(shape, dt)))
                    names.append(param_name)
        self._all_param_names = tuple(names)  # for the dtype check at every forward
        self.reset_parameters()

    def _param_names(self, layer: int, direction: int) -> list:
        suffix = "_reverse" if direction == 1 else ""
        return [n.format(layer, suffix) for n in _PARAM_NAMES[:4 if self.bias else 2]]

    def reset_parameters(self) -> None:
        _reset_uniform(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """Does nothing: PyTorch packs the weights into one buffer for cuDNN here."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _forward(self, x: Tensor, hx) -> tuple:
        """Check x and hx, run every layer and direction; return (output, final states)."""
        if isinstance(x, PackedSequence):
            return self._forward_packed(x, hx)
        name, dtype = type(self).__name__, self.weight_ih_l0._array.dtype
        _check_param_dtypes(name, self, self._all_param_names)
        hx = _as_state_tuple(name, hx, self._state_labels)
        _check_input(name, x, (2, 3), self.input_size, dtype)
        batched = x.ndim == 3
        batch_dim = 0 if self.batch_first else 1
        if not batched:
            x = x.unsqueeze(batch_dim)
        time_dim = 1 - batch_dim
        if x.shape[time_dim] == 0:
            raise RuntimeError(f"{name}: expected a sequence length larger than 0, got input "
                               f"of shape {x.shape}")
        num_directions = 2 if self.bidirectional else 1
        n = self.num_layers * num_directions
        shape = (n, x.shape[batch_dim], self.hidden_size)
        if hx is None:
            hx = tuple(Tensor(np.zeros(shape, dtype)) for _ in self._state_labels)
        else:
            _check_states(name, hx, self._state_labels, shape if batched else (n, shape[2]),
                          dtype)
            if not batched:
                hx = tuple(s.unsqueeze(1) for s in hx)
        initial = list(zip(*(s.unbind(0) for s in hx)))  # per layer and direction: (h, c)
        finals = []
        layer_input = x
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                layer_input = F.dropout(layer_input, self.dropout)
            outputs = []
            for direction in range(num_directions):
                out, state = self._run(layer_input, initial[layer * num_directions + direction],
                                       layer, direction, time_dim)
                outputs.append(out)
                finals.append(state)
            layer_input = outputs[0] if num_directions == 1 else cat(outputs, 2)
        state = tuple(stack(s) for s in zip(*finals))  # (L*D, N, H) each
        if not batched:
            return layer_input.squeeze(batch_dim), tuple(s.squeeze(1) for s in state)
        return layer_input, state

    def _weights(self, layer: int, direction: int) -> tuple:
        """(W_ih, b_ih, W_hh, b_hh) of one layer and direction, b_hh folded into b_ih where
        the cell allows it."""
        names = self._param_names(layer, direction)
        w_ih, w_hh = getattr(self, names[0]), getattr(self, names[1])
        b_ih = b_hh = None
        if self.bias:
            b_ih, b_hh = getattr(self, names[2]), getattr(self, names[3])
            if self._fold_hh_bias:
                b_ih, b_hh = b_ih + b_hh, None
        return w_ih, b_ih, w_hh, b_hh

    def _run(self, x: Tensor, state: tuple, layer: int, direction: int, time_dim: int) -> tuple:
        """One layer in one direction over x (time along time_dim); returns (hs, final state)."""
        w_ih, b_ih, w_hh, b_hh = self._weights(layer, direction)
        # the input projection of every time step at once, then split over time
        xws = F.linear(x, w_ih, b_ih).unbind(time_dim)  # T x (N, chunks*H)
        # perf: W_hh.T after the projection, so backward forms W_hh's gradient (one GEMM over
        # all steps) before the projection's: taken before it, peak RSS +19% at large (bench_lstm)
        w_hh_t = w_hh.T
        T = len(xws)
        hs = [None] * T
        # the reverse direction walks back in time but files each h_t under its own t
        for t in (range(T - 1, -1, -1) if direction else range(T)):
            with graph_scope(t):
                state = self._step(xws[t], state, w_hh_t, b_hh)
            hs[t] = state[0]
        return stack(hs, time_dim), state

    # ------------------------------------------------------------ packed (ragged) batches

    def _forward_packed(self, packed: PackedSequence, hx) -> tuple:
        """The layers over a PackedSequence: (PackedSequence output, final states).

        hx and the final states are in the caller's batch order; inside, the rows follow the
        packed (sorted) order, as PyTorch's permute_hidden does.
        """
        name, dtype = type(self).__name__, self.weight_ih_l0._array.dtype
        _check_param_dtypes(name, self, self._all_param_names)
        hx = _as_state_tuple(name, hx, self._state_labels)
        data, batch_sizes, sorted_indices, unsorted_indices = packed
        if not isinstance(data, Tensor) or data.ndim != 2:
            shape = data.shape if isinstance(data, Tensor) else type(data).__name__
            raise ValueError(f"{name}: expected PackedSequence data of 2 dims (sum of lengths, "
                             f"input_size), got {shape}")
        _check_input(name, data, (2, 2), self.input_size, dtype)
        sizes = _batch_sizes_array(batch_sizes).tolist()
        if data.shape[0] != sum(sizes):
            raise RuntimeError(f"{name}: PackedSequence data has {data.shape[0]} rows but "
                               f"batch_sizes {sizes} add up to {sum(sizes)}")
        num_directions = 2 if self.bidirectional else 1
        shape = (self.num_layers * num_directions, sizes[0], self.hidden_size)
        if hx is None:
            hx = tuple(Tensor(np.zeros(shape, dtype)) for _ in self._state_labels)
        else:
            _check_states(name, hx, self._state_labels, shape, dtype)
            if sorted_indices is not None:
                hx = tuple(s[:, sorted_indices._array] for s in hx)
        initial = list(zip(*(s.unbind(0) for s in hx)))  # per layer and direction: (h, c)
        finals = []
        layer_input = data
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                layer_input = F.dropout(layer_input, self.dropout)
            outputs = []
            for direction in range(num_directions):
                out, state = self._run_packed(layer_input, initial[layer * num_directions
                                                                   + direction],
                                              layer, direction, sizes)
                outputs.append(out)
                finals.append(state)
            layer_input = outputs[0] if num_directions == 1 else cat(outputs, 1)
        state = tuple(stack(s) for s in zip(*finals))  # (L*D, N, H) each, in sorted order
        if unsorted_indices is not None:
            state = tuple(s[:, unsorted_indices._array] for s in state)
        return PackedSequence(layer_input, batch_sizes, sorted_indices, unsorted_indices), state

    def _run_packed(self, x: Tensor, state: tuple, layer: int, direction: int,
                    sizes: list) -> tuple:
        """One layer in one direction over packed rows x (sum of sizes, I), sizes[t] rows at
        step t: the batch shrinks as sequences end. Returns (hs (sum of sizes, H), final state)
        with each row's final state taken at its own last step (forward) or at step 0 (reverse,
        which starts each row from its initial state at its own last step)."""
        w_ih, b_ih, w_hh, b_hh = self._weights(layer, direction)
        xws = F.linear(x, w_ih, b_ih).split(sizes, 0)  # T x (sizes[t], chunks*H)
        w_hh_t = w_hh.T  # after the projection, as in _run (perf)
        T = len(sizes)
        hs = [None] * T
        if direction == 0:
            ended = []  # states of the rows that ended, latest rows first
            for t in range(T):
                n = sizes[t]
                if n < state[0].shape[0]:  # rows n: ended at step t - 1: set their states aside
                    parts = [s.split([n, s.shape[0] - n], 0) for s in state]
                    ended.append(tuple(p[1] for p in parts))
                    state = tuple(p[0] for p in parts)
                with graph_scope(t):
                    state = self._step(xws[t], state, w_hh_t, b_hh)
                hs[t] = state[0]
            ended.append(state)
            final = tuple(cat(list(s), 0) for s in zip(*reversed(ended)))  # rows in order
        else:
            # the initial states cut where the batch grows (walking back), one piece per size
            bounds = sorted(set(sizes))
            sections = [b - a for a, b in zip([0] + bounds[:-1], bounds)]
            pieces = dict(zip(bounds, zip(*(s.split(sections, 0) for s in state))))
            state = pieces[sizes[-1]]
            for t in range(T - 1, -1, -1):
                if sizes[t] > state[0].shape[0]:  # rows that start here, from their h_0
                    state = tuple(cat([s, p], 0) for s, p in zip(state, pieces[sizes[t]]))
                with graph_scope(t):
                    state = self._step(xws[t], state, w_hh_t, b_hh)
                hs[t] = state[0]
            final = state
        return cat(hs, 0), final


class RNN(RNNBase):
    """Multi-layer Elman RNN over a sequence, PyTorch's nn.RNN.

    For each layer, direction and time step (x_t: the input, or the layer below's output,
    dropped out in training when dropout > 0):
        h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)    (relu if nonlinearity='relu')

    Shape: x: (T, N, I), or (N, T, I) if batch_first, or (T, I) unbatched;
        h_0: (L*D, N, H), zeros if None
        -> output: (T, N, D*H), or (N, T, D*H) if batch_first; h_n: (L*D, N, H)
        with L = num_layers and D = 2 if bidirectional else 1.
    x may be a PackedSequence (a ragged batch): output is then one too, with each sequence's
    final states at its own last step, in the caller's batch order.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity '{nonlinearity}'; select from 'tanh' "
                             f"or 'relu'")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)
        self.nonlinearity = nonlinearity

    def _step(self, xw, state, w_hh_t, b_hh):
        return _rnn_step(xw, state, w_hh_t, b_hh, self.nonlinearity)

    def forward(self, x: Tensor | PackedSequence, hx: Tensor | None = None) -> tuple:
        output, (h_n,) = self._forward(x, hx)
        return output, h_n


class LSTM(RNNBase):
    """Multi-layer LSTM over a sequence, PyTorch's nn.LSTM (gate order i, f, g, o).

    For each layer, direction and time step (x_t: the input, or the layer below's output,
    dropped out in training when dropout > 0), the LSTMCell equations:
        i, f, o = sigmoid(W_i* x_t + b_i* + W_h* h_{t-1} + b_h*),  g = tanh(...)
        c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)

    Shape: x: (T, N, I), or (N, T, I) if batch_first, or (T, I) unbatched;
        hx = (h_0, c_0): (L*D, N, H) each, zeros if None
        -> output: (T, N, D*H), or (N, T, D*H) if batch_first; (h_n, c_n): (L*D, N, H) each
        with L = num_layers and D = 2 if bidirectional else 1.
    x may be a PackedSequence (a ragged batch): output is then one too, with each sequence's
    final states at its own last step, in the caller's batch order.
    """

    _num_chunks = 4
    _state_labels = ("h_0", "c_0")
    _step = staticmethod(_lstm_step)

    def forward(self, x: Tensor | PackedSequence, hx: tuple[Tensor, Tensor] | None = None
                ) -> tuple:
        output, (h_n, c_n) = self._forward(x, hx)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Multi-layer GRU over a sequence, PyTorch's nn.GRU (gate order r, z, n).

    For each layer, direction and time step (x_t: the input, or the layer below's output,
    dropped out in training when dropout > 0), the GRUCell equations:
        r, z = sigmoid(W_i* x_t + b_i* + W_h* h_{t-1} + b_h*)
        n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn)),   h_t = (1 - z) * n + z * h_{t-1}

    Shape: x: (T, N, I), or (N, T, I) if batch_first, or (T, I) unbatched;
        h_0: (L*D, N, H), zeros if None
        -> output: (T, N, D*H), or (N, T, D*H) if batch_first; h_n: (L*D, N, H)
        with L = num_layers and D = 2 if bidirectional else 1.
    x may be a PackedSequence (a ragged batch): output is then one too, with each sequence's
    final states at its own last step, in the caller's batch order.
    """

    _num_chunks = 3
    _step = staticmethod(_gru_step)
    _fold_hh_bias = False  # b_hn is multiplied by r, so it must be added at each step

    def forward(self, x: Tensor | PackedSequence, hx: Tensor | None = None) -> tuple:
        output, (h_n,) = self._forward(x, hx)
        return output, h_n
