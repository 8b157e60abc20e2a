"""See the code: tl.compile writes out backpropagation through time for a 3-step LSTMCell.

    python examples/see_the_code.py [--steps 3] [--hidden 4]

The training step below (three calls of one LSTMCell, a squared error, SGD) is compiled; its
program is plain NumPy, printed in full. Read it top to bottom: the forward runs the cell at
call 0, 1, 2, then the backward runs each op's VJP at call 2, 1, 0: the gradient of h flows
back through the steps (each cell's AddmmBackward hands it to the call before), and the
gradients of the shared weights are summed over the steps (for weight_ih as one matmul over
all steps: the engine keeps a weight's gradient lazy). What a VJP needs only forward values for
(tanh' = 1 - tanh**2, sigmoid' = s * (1 - s)) is computed once for all calls, from the forward
values stacked as they were made (`lstmcell calls 0-2`), as one does by hand. That is BPTT, the
loop people write by hand, written by the engine. The script then checks the program's gradient
of weight_hh against central finite differences of the loss in float64.
"""

import argparse

import numpy as np

import tinygrad_lstm as tl
from tinygrad_lstm import nn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="time steps (default 3)")
    parser.add_argument("--hidden", type=int, default=4, help="hidden size (default 4)")
    args = parser.parse_args()
    if not 1 <= args.steps <= 50 or not 1 <= args.hidden <= 64:
        parser.error("--steps must be in 1..50 and --hidden in 1..64")

    tl.manual_seed(0)
    cell = nn.LSTMCell(3, args.hidden).double()
    optimizer = tl.optim.SGD(cell.parameters(), lr=0.0)  # lr 0: the weights stay put

    def bptt(xs: list, target: tl.Tensor) -> tl.Tensor:
        h = c = tl.zeros(1, args.hidden, dtype=tl.float64)
        for x in xs:
            h, c = cell(x, (h, c))
        loss = ((h - target) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    step = tl.compile(bptt)
    xs = [tl.randn(1, 3, dtype=tl.float64) for _ in range(args.steps)]
    target = tl.randn(1, args.hidden, dtype=tl.float64)
    for _ in range(4):  # eager, traced, traced again, then the program
        loss = step(xs, target)
    print(step.code)

    blocks = [line.strip()[2:] for line in step.code.splitlines() if line.strip().startswith("#")]
    print(f"# {step.explain()}")
    for part, is_backward in (("forward", False), ("backward", True)):
        order = [b.split(", ")[0] for b in blocks if b.startswith("lstmcell") and
                 " calls " not in b and b.endswith("Backward") == is_backward]
        calls = [c for i, c in enumerate(order) if i == 0 or c != order[i - 1]]
        print(f"# the {part}: {' -> '.join(calls)}")
    batched = dict.fromkeys(b for b in blocks if " calls " in b)  # scope, op
    print(f"# once for all calls: {'; '.join(batched)}")

    w = cell.weight_hh
    numeric = np.zeros_like(w.numpy())
    for index in np.ndindex(*w.shape):
        values = []
        for sign in (1, -1):
            with tl.no_grad():
                w.numpy()[index] += sign * 1e-6
                h = c = tl.zeros(1, args.hidden, dtype=tl.float64)
                for x in xs:
                    h, c = cell(x, (h, c))
                values.append(((h - target) ** 2).sum().item())
                w.numpy()[index] -= sign * 1e-6
        numeric[index] = (values[0] - values[1]) / 2e-6
    error = np.abs(w.grad.numpy() - numeric).max()
    print(f"# loss {loss.item():.6f}; the program's d loss / d weight_hh against finite "
          f"differences: max abs difference {error:.1e}")
    if not error < 1e-7:
        raise SystemExit("the program's gradient differs from finite differences")


if __name__ == "__main__":
    main()
