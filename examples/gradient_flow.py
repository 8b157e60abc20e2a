"""Watch the gradient flow back through time in a vanilla RNN and in an LSTM.

The task needs a long memory: each sequence is T random symbols and the class to predict, at
the last step, is the *first* symbol. Learning it needs dL/dh_t to reach t = 0. We record
||dL/dh_t|| for every step (hooks on the hidden states during backward) for:

- a tanh RNN: every step back multiplies the gradient by W_hh^T diag(1 - h_t^2), which
  shrinks it, so it vanishes geometrically;
- an LSTM at PyTorch's default init: the cell path c_t = f * c_{t-1} + i * g passes
  dL/dc_{t-1} = f * dL/dc_t back, but the forget gate starts near sigmoid(0) = 0.5, so this
  gradient halves at each step too;
- the same LSTM with its forget-gate bias set to --forget-bias (Gers et al. 2000; "chrono"
  init, Tallec & Ollivier 2018, picks values up to log(T)): f near 1, and the gradient reaches
  the first step.

    python examples/gradient_flow.py                # prints the norms, plots if matplotlib exists
    python examples/gradient_flow.py --steps 100 --plot docs/img/gradient_flow.png
"""

import argparse

import numpy as np

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn, viz
from tinygrad_lstm.nn import functional as F

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=50, help="sequence length T")
parser.add_argument("--symbols", type=int, default=4, help="size of the alphabet (= classes)")
parser.add_argument("--hidden", type=int, default=32, help="hidden size H")
parser.add_argument("--batch", type=int, default=16, help="sequences per batch")
parser.add_argument("--forget-bias", type=float, default=3.0,
                    help="forget-gate bias of the third model (sigmoid(3) = 0.95)")
parser.add_argument("--plot", default=None, help="save the plot to this file")
parser.add_argument("--seed", type=int, default=0, help="random seed")
args = parser.parse_args()

# ---------------------------------------------------------------- data: remember the first symbol

rng = np.random.default_rng(args.seed)
symbols = rng.integers(0, args.symbols, (args.steps, args.batch))  # (T, N)
x = Tensor(np.eye(args.symbols, dtype=np.float32)[symbols])  # (T, N, C) one-hot
target = Tensor(symbols[0])  # (N,) the first symbol


# ---------------------------------------------------------------- models


class Classifier(nn.Module):
    """A recurrent layer over the sequence, a Linear readout of its last hidden state."""

    def __init__(self, recurrent: nn.Module) -> None:
        super().__init__()
        self.rnn = recurrent
        self.head = nn.Linear(args.hidden, args.symbols)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        output, _ = self.rnn(x)  # (T, N, H)
        return output, self.head(output[-1])  # (N, C)


tl.manual_seed(args.seed)
models = {
    "RNN (tanh)": Classifier(nn.RNN(args.symbols, args.hidden)),
    "LSTM": Classifier(nn.LSTM(args.symbols, args.hidden)),
    f"LSTM, forget bias {args.forget_bias:g}": Classifier(nn.LSTM(args.symbols, args.hidden)),
}
lstm = models[f"LSTM, forget bias {args.forget_bias:g}"].rnn
with tl.no_grad():  # gate order i, f, g, o: the forget gate is the second quarter
    lstm.bias_ih_l0[args.hidden:2 * args.hidden] = args.forget_bias
    lstm.bias_hh_l0[args.hidden:2 * args.hidden] = 0.0

# ---------------------------------------------------------------- one backward each, recorded

flows = {}
for name, model in models.items():
    output, logits = model(x)
    loss = F.cross_entropy(logits, target)
    flows[name] = viz.gradient_flow(loss, output)  # runs loss.backward(), returns (T,)

print(f"||dL/dh_t|| for a loss at the last step t = {args.steps - 1}")
print(f"{'t':>4} " + " ".join(f"{name:>24}" for name in flows))
for t in list(range(0, args.steps, max(args.steps // 10, 1))) + [args.steps - 1]:
    print(f"{t:>4} " + " ".join(f"{norms[t]:>24.2e}" for norms in flows.values()))
print("ratio first/last step: " + ", ".join(f"{name} {norms[0] / norms[-1]:.1e}"
                                             for name, norms in flows.items()))

if viz.plot_gradient_flow(flows, args.plot, title=f"gradient flow through {args.steps} steps"):
    if args.plot:
        print("plot written to", args.plot)
    else:
        import matplotlib.pyplot as plt

        plt.show()
