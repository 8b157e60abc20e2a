"""Draw the compute graphs that a few lines of model code build.

Three pictures: one LSTMCell step; a 3-step LSTM with a Linear readout and cross-entropy,
coloured by the norm of the gradient that reached each op; and a 100-step LSTM, drawn with
only its first and last steps (max_steps=2) and one summary node for the rest.

    python examples/graph.py                 # writes out/graphs/*.svg (*.svg.dot without dot)
    python examples/graph.py --out docs/img  # refresh the README's pictures
    python examples/graph.py --out /tmp/g --format png
"""

import argparse
import os
from pathlib import Path

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn, viz
from tinygrad_lstm.nn import functional as F

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default=os.path.join("out", "graphs"),
                    help="directory for the pictures (docs/img for the README's)")
parser.add_argument("--format", default="svg", help="svg, png, pdf... (dot writes it)")
parser.add_argument("--steps", type=int, default=100, help="length of the long sequence")
parser.add_argument("--max-steps", type=int, default=2,
                    help="first and last steps drawn of the long sequence")
parser.add_argument("--seed", type=int, default=0, help="random seed")
args = parser.parse_args()
out = Path(args.out)
tl.manual_seed(args.seed)
input_size, hidden_size, classes, batch = 3, 4, 5, 2  # small: the shapes label the nodes

# ---------------------------------------------------------------- one LSTMCell step

cell = nn.LSTMCell(input_size, hidden_size)
x = tl.randn(batch, input_size)
h, c = cell(x, (tl.zeros(batch, hidden_size), tl.zeros(batch, hidden_size)))
dot = viz.make_dot((h, c), params=dict(cell.named_parameters()))
print("one LSTMCell step:", viz.render(dot, out / f"lstm_cell.{args.format}"))


# ---------------------------------------------------------------- an unrolled LSTM and a loss


class Tagger(nn.Module):
    """An LSTM over the sequence and a Linear readout at each step: (T, N, I) -> (T, N, C)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size)
        self.decoder = nn.Linear(hidden_size, classes)

    def forward(self, x: Tensor) -> Tensor:
        output, _ = self.lstm(x)  # (T, N, H)
        return self.decoder(output)  # (T, N, C)


model = Tagger()
params = dict(model.named_parameters())


def loss_of(steps: int) -> Tensor:
    logits = model(tl.randn(steps, batch, input_size))  # (T, N, C)
    target = Tensor((tl.rand(steps * batch).numpy() * classes).astype("int64"))
    return F.cross_entropy(logits.reshape(-1, classes), target)


loss = loss_of(3)
with viz.record_grad_norms(loss):  # hooks on every node note the gradient passing through
    loss.backward()
dot = viz.make_dot(loss, params=params, show_grad=True)
print("3-step LSTM, coloured by gradient norm:",
      viz.render(dot, out / f"lstm_3_steps.{args.format}"))

# ---------------------------------------------------------------- a long sequence, elided

loss = loss_of(args.steps)
full = viz.make_dot(loss, params=params)
dot = viz.make_dot(loss, params=params, max_steps=args.max_steps)
nodes_full, nodes_drawn = full.source.count(" [label="), dot.source.count(" [label=")
print(f"{args.steps}-step LSTM, {nodes_full} nodes, {nodes_drawn} drawn with max_steps="
      f"{args.max_steps}:", viz.render(dot, out / f"lstm_{args.steps}_steps.{args.format}"))
