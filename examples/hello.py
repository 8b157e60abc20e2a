"""An LSTMCell learns to spell "hello", one character at a time; then an RNNCell does too.

    python examples/hello.py

At each step the cell reads the one-hot of a character and a Linear layer scores the next one:
h -> e, e -> l, l -> l, l -> o. The two l's have different successors, so the input alone does
not say what comes next: the cell's state has to remember whether an l has already been seen.
The loop over time is plain Python, as with torch.nn.LSTMCell; the engine does the BPTT.
"""

import os

# The matmuls here are small: OpenBLAS's threads cost more than they give at this size, and
# slow down many times over when another process holds a core. Set OPENBLAS_NUM_THREADS
# yourself to override (it must be set before NumPy loads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys

import numpy as np

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn, optim
from tinygrad_lstm.data import CharVocab

CELLS = {"lstm": nn.LSTMCell, "rnn": nn.RNNCell}


class Speller(nn.Module):
    """A recurrent cell run over the characters, then a Linear layer scoring the next character.

    Shape: x (T, N, V) one-hot -> logits (T, N, V).
    """

    def __init__(self, cell: nn.Module, vocab_size: int):
        super().__init__()
        self.cell = cell
        self.head = nn.Linear(cell.hidden_size, vocab_size)

    def forward(self, x: Tensor) -> Tensor:
        state, logits = None, []
        for x_t in x.unbind(0):  # (N, V)
            state = self.cell(x_t, state)  # LSTMCell: (h, c); RNNCell: h
            h = state[0] if isinstance(state, tuple) else state  # (N, H)
            logits.append(self.head(h))  # (N, V)
        return tl.stack(logits)  # (T, N, V)


def train(kind: str, word: str, args) -> dict:
    """Train one cell type on `word`; return its per-step predictions and losses."""
    vocab = CharVocab.from_text(word)
    ids = vocab.encode(word)  # (L,)
    x = Tensor(np.eye(len(vocab), dtype=np.float32)[ids[:-1], None])  # (T, 1, V) one-hot
    y = ids[1:]  # (T,) the next characters

    tl.manual_seed(args.seed)
    model = Speller(CELLS[kind](len(vocab), args.hidden), len(vocab))
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    losses = []
    for _ in range(args.steps):
        loss = nn.functional.cross_entropy(model(x)[:, 0], y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    with tl.no_grad():
        probs = model(x)[:, 0].softmax(-1).numpy()  # (T, V)
    predicted = vocab.decode(probs.argmax(-1))
    if not args.quiet:
        print(f"{type(model.cell).__name__}({len(vocab)}, {args.hidden}): loss {losses[0]:.3f} "
              f"-> {losses[-1]:.4f} in {args.steps} steps")
        for t in range(len(y)):
            ok = "ok" if predicted[t] == word[t + 1] else f"wrong, expected {word[t + 1]!r}"
            print(f"  {word[t]!r} -> {predicted[t]!r}  p={probs[t].max():.3f}  {ok}")
    return {"predicted": predicted, "expected": word[1:], "losses": losses}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--word", default="hello", help="the word to learn (at least 2 characters)")
    p.add_argument("--hidden", type=int, default=8, help="hidden size of the cells")
    p.add_argument("--steps", type=int, default=150, help="Adam steps per cell")
    p.add_argument("--lr", type=float, default=0.05, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    args = p.parse_args(argv)
    if len(args.word) < 2:
        p.error(f"--word needs at least 2 characters, got {args.word!r}")

    return {kind: train(kind, args.word, args) for kind in CELLS}


if __name__ == "__main__":
    results = main()
    sys.exit(0 if all(r["predicted"] == r["expected"] for r in results.values()) else 1)
