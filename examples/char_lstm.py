"""Character-level LSTM language model on tiny Shakespeare: the main job.

    python examples/char_lstm.py                                # ~3 minutes, val loss <= 1.70
    python examples/char_lstm.py --minutes 15 --layers 2 --dropout 0.2 --out out/big  # <= 1.50
    python examples/char_lstm.py --resume                       # continue the run in out/
    python examples/char_lstm.py --resume --minutes 5           # ... to 5 minutes in all
    python examples/char_lstm.py --sample --prompt "ROMEO:"     # generate from out/ckpt.npz

Embedding -> LSTM -> Linear, trained with AdamW, gradient clipping and truncated BPTT: the
text is cut into B parallel streams and the hidden state is carried (detached) from one window
of T characters to the next. Losses are mean cross-entropy in nats per character; validation
is the last 10% of the text. Everything a run makes goes into --out: ckpt.npz (model,
optimizer, vocabulary, settings, step, RNG state, written atomically at every evaluation and on
Ctrl-C or SIGTERM), loss.csv (its rows made durable just before each checkpoint), loss.png
(with matplotlib) and graph.svg (graph.svg.dot without Graphviz's `dot`), the compute graph
of one window. A fresh run refuses a non-empty --out; --resume continues the run with the
settings it was started with (--minutes and --steps are its totals), --overwrite starts again.
The training step runs under tl.compile (--no-compile: eagerly, with the same numbers to the
bit), and the run says at its third step whether a program was built, or why not.
Bad flags end in one line on stderr and exit code 2; a diverging run stops with exit code 1.
The run itself (flags, loop, checkpoints, sampling) is examples/char_train.py, which
examples/char_transformer.py shares: this file is the LSTM and its sizes.
"""

import os

# The recurrent matmuls are small ((B, H) @ (H, 4H)): OpenBLAS's threads cost more than they
# give at this size, and slow down many times over when another process holds a core.
# Set OPENBLAS_NUM_THREADS yourself to override (it must be set before NumPy loads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys
from functools import partial

from tinygrad_lstm import Tensor, nn, optim  # noqa: F401 - tests reach AdamW as char_lstm.optim

import char_train  # beside this file
from char_checks import check_fits, flag
from char_train import LOG_COLUMNS, Architecture  # noqa: F401 - LOG_COLUMNS: loss.csv

# A run's settings. A fresh run takes these defaults for the flags not given; a resumed run
# (and --sample) takes the checkpoint's, and refuses a flag that contradicts them.
MODEL = {"hidden": 256, "layers": 1, "embed": 64, "dropout": 0.0}
TRAINING = {"seq_len": 64, "batch_size": 32, "lr": 3e-3, "weight_decay": 1e-4, "clip": 1.0,
            "eval_every": 250, "seed": 1337}
HELP = {"hidden": "LSTM hidden size", "layers": "LSTM layers",
        "embed": "character embedding size", "dropout": "dropout between/after layers"}


class CharLSTM(nn.Module):
    """Embedding -> LSTM -> (dropout) -> Linear.  Shape: x: (T, B) ints -> logits (T, B, V)."""

    def __init__(self, vocab_size: int, embed: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers,
                            dropout=dropout if layers > 1 else 0.0)  # between layers only
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x: Tensor, state=None):
        out, state = self.lstm(self.embed(x), state)  # (T, B, H)
        return self.head(self.drop(out)), state  # (T, B, V)


def build_model(vocab_size: int, args) -> CharLSTM:
    return CharLSTM(vocab_size, args.embed, args.hidden, args.layers, args.dropout)


def check_size(vocab_size: int, args) -> None:
    """Refuse a model whose training step would not fit in memory or would take hours.

    Memory, float32: weights, gradients and AdamW's two moments (4 x params), the activations
    one window keeps for backward (about 12 (B, H) arrays per layer and time step, the
    (T, B, V) logits thrice) and ~1 KiB of bookkeeping per recorded op (~10 per step and layer).
    Work: ~6 flops per weight use and character (forward 2, backward 4).
    """
    V, E, H, L, T, B = vocab_size, args.embed, args.hidden, args.layers, args.seq_len, \
        args.batch_size
    lstm = 4 * H * (E + H + 2) + (L - 1) * 4 * H * (2 * H + 2)  # weight_ih, weight_hh, biases
    params = V * E + lstm + H * V + V
    need = 4 * (4 * params + T * B * (E + 12 * L * H + 3 * V)) + 1024 * 10 * T * (L + 1)
    flops = 6 * T * B * (lstm + H * V)
    check_fits(" ".join(f"{flag(k)} {getattr(args, k)}"
                        for k in ("hidden", "layers", "embed", "seq_len", "batch_size")),
               need, flops)


# the LSTM's state (h, c) goes on from one window to the next: each (layers, B, hidden)
ARCH = Architecture(script="char_lstm.py", name="LSTM", doc=__doc__, model=MODEL,
                    training=TRAINING, help=HELP, build=build_model, check_size=check_size,
                    state_shape=lambda args: (args.layers, args.batch_size, args.hidden))


main = partial(char_train.main, ARCH)  # main(argv) -> the run's numbers
cli = partial(char_train.cli, ARCH)  # cli(argv) -> its exit code, errors as one stderr line


if __name__ == "__main__":
    sys.exit(cli())
