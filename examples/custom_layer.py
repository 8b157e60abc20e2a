"""Extending the framework: a custom op with autograd.Function and a custom recurrent cell.

    python examples/custom_layer.py

1. `HardSigmoid`, a new op: forward and backward on NumPy arrays, saving its input with
   ctx.save_for_backward, exactly as a torch.autograd.Function is written.
2. `PeepholeLSTMCell`, a new layer: an nn.Module built from Tensor ops only, so it needs no
   backward of its own. Its gates also look at the cell state (Gers & Schmidhuber, 2000), and
   the gate function is a parameter, here the HardSigmoid above.
Both are checked with gradcheck (float64 central differences against the engine's gradients),
then the cell is trained to recall the first symbol of a sequence after --seq-len steps of
distractors, a task it can only solve by holding the symbol in its state.
"""

import os

# The matmuls here are small: OpenBLAS's threads cost more than they give at this size, and
# slow down many times over when another process holds a core. Set OPENBLAS_NUM_THREADS
# yourself to override (it must be set before NumPy loads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import math
import sys

import numpy as np

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn, optim
from tinygrad_lstm.autograd import Function, gradcheck

# ---------------------------------------------------------------- a custom op


class HardSigmoid(Function):
    """hardsigmoid(x) = clip(x / 6 + 1/2, 0, 1), PyTorch's nn.Hardsigmoid.
    VJP: g / 6 where -3 < x < 3, else 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x / 6 + 0.5).clamp(0, 1)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * ((x > -3) & (x < 3)) / 6


def hard_sigmoid(x: Tensor) -> Tensor:
    return HardSigmoid.apply(x)


# ---------------------------------------------------------------- a custom layer


class PeepholeLSTMCell(nn.Module):
    """An LSTM cell with peephole connections from the cell state to its gates.

        i = gate(W_ii x + b_ii + W_hi h + b_hi + w_ci * c)
        f = gate(W_if x + b_if + W_hf h + b_hf + w_cf * c)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)
        c' = f * c + i * g
        o = gate(W_io x + b_io + W_ho h + b_ho + w_co * c')
        h' = o * tanh(c')

    Parameters as in nn.LSTMCell (gate order i, f, g, o) plus weight_ci, weight_cf,
    weight_co (H,), all from U(-1/sqrt(H), 1/sqrt(H)), except that the forget part of bias_ih
    starts at 1 so that the cell remembers by default (Jozefowicz et al., 2015).
    Shape: x: (N, I); hx = (h, c): (N, H) each, zeros if None -> h', c': (N, H)
    """

    def __init__(self, input_size: int, hidden_size: int, gate=Tensor.sigmoid):
        super().__init__()
        self.input_size, self.hidden_size, self.gate = input_size, hidden_size, gate
        self.weight_ih = nn.Parameter(np.empty((4 * hidden_size, input_size), np.float32))
        self.weight_hh = nn.Parameter(np.empty((4 * hidden_size, hidden_size), np.float32))
        self.bias_ih = nn.Parameter(np.empty(4 * hidden_size, np.float32))
        self.bias_hh = nn.Parameter(np.empty(4 * hidden_size, np.float32))
        self.weight_ci = nn.Parameter(np.empty(hidden_size, np.float32))
        self.weight_cf = nn.Parameter(np.empty(hidden_size, np.float32))
        self.weight_co = nn.Parameter(np.empty(hidden_size, np.float32))
        stdv = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -stdv, stdv)
        self.bias_ih.numpy()[hidden_size : 2 * hidden_size] = 1.0  # the forget gate's part

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, Tensor]:
        if hx is None:
            zeros = tl.zeros(x.shape[0], self.hidden_size, dtype=x.dtype)
            hx = (zeros, zeros)
        h, c = hx
        gates = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh  # (N, 4H)
        i, f, g, o = gates.chunk(4, 1)  # (N, H) each
        i = self.gate(i + self.weight_ci * c)
        f = self.gate(f + self.weight_cf * c)
        c = f * c + i * g.tanh()
        o = self.gate(o + self.weight_co * c)  # the output gate peeks at the new cell state
        return o * c.tanh(), c

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, gate={self.gate.__name__}"


class Recaller(nn.Module):
    """The cell over a sequence, then a Linear layer on its last h. (T, N, I) -> (N, K)."""

    def __init__(self, input_size: int, hidden_size: int, n_symbols: int):
        super().__init__()
        self.cell = PeepholeLSTMCell(input_size, hidden_size, gate=hard_sigmoid)
        self.head = nn.Linear(hidden_size, n_symbols)

    def forward(self, x: Tensor) -> Tensor:
        state = None
        for x_t in x.unbind(0):  # (N, I)
            state = self.cell(x_t, state)
        return self.head(state[0])  # (N, K)


def recall_batch(rng: np.random.Generator, n: int, seq_len: int, k: int):
    """n sequences of seq_len one-hots over 2k channels: a symbol in channels [0, k) at t = 0,
    then random distractors in channels [k, 2k). Shape: x (T, n, 2k) float32, y (n,) int."""
    y = rng.integers(0, k, n)
    x = np.zeros((seq_len, n, 2 * k), np.float32)
    x[0, np.arange(n), y] = 1
    distractors = rng.integers(k, 2 * k, (seq_len - 1, n))
    np.put_along_axis(x[1:], distractors[..., None], 1, axis=2)
    return Tensor(x), y


def check_gradients() -> dict:
    """gradcheck the op and the cell (with the op as its gate), in float64."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-5, 5, (4, 5))
    x[np.abs(np.abs(x) - 3) < 1e-3] = 0.0  # central differences straddling a kink at +-3 fail
    x = Tensor(x, requires_grad=True)
    op_ok = gradcheck(hard_sigmoid, (x,))

    cell = PeepholeLSTMCell(3, 4, gate=hard_sigmoid).double()
    x, h, c = (Tensor(rng.standard_normal(s), requires_grad=True) for s in [(2, 3), (2, 4), (2, 4)])
    params = tuple(cell.parameters())
    # the parameters go in as inputs too, so gradcheck perturbs (and checks) them as well
    cell_ok = gradcheck(lambda x, h, c, *_: cell(x, (h, c)), (x, h, c, *params))
    return {"hard_sigmoid": op_ok, "peephole_cell": cell_ok}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--symbols", type=int, default=4, help="number of symbols to recall")
    p.add_argument("--seq-len", type=int, default=10, help="steps per sequence")
    p.add_argument("--hidden", type=int, default=16, help="hidden size of the cell")
    p.add_argument("--batch-size", type=int, default=64, help="sequences per step")
    p.add_argument("--steps", type=int, default=300, help="Adam steps")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    args = p.parse_args(argv)
    if args.symbols < 2 or args.seq_len < 1:
        p.error(f"need --symbols >= 2 and --seq-len >= 1, got {args.symbols} and {args.seq_len}")
    say = (lambda *a, **k: None) if args.quiet else print

    checks = check_gradients()
    say(f"gradcheck: {checks}")

    tl.manual_seed(args.seed)
    data_rng = np.random.default_rng(args.seed)
    model = Recaller(2 * args.symbols, args.hidden, args.symbols)
    say(model)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    losses = []
    for step in range(args.steps):
        x, y = recall_batch(data_rng, args.batch_size, args.seq_len, args.symbols)
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == args.steps - 1:
            say(f"step {step:4d}  loss {np.mean(losses[-50:]):.4f}")

    x, y = recall_batch(data_rng, 1000, args.seq_len, args.symbols)
    with tl.no_grad():
        accuracy = float((model(x).numpy().argmax(-1) == y).mean())
    say(f"recall accuracy on 1000 new sequences: {accuracy:.1%} "
        f"(chance {1 / args.symbols:.0%}, loss {losses[0]:.3f} -> {losses[-1]:.3f})")
    return {"gradcheck": checks, "losses": losses, "accuracy": accuracy}


if __name__ == "__main__":
    sys.exit(0 if main()["accuracy"] > 0.9 else 1)
