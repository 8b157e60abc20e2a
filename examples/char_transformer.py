"""Character-level causal Transformer on tiny Shakespeare: char_lstm.py's job, with attention.

    python examples/char_transformer.py --out out/tf             # ~3 minutes
    python examples/char_transformer.py --minutes 15 --layers 4 --dropout 0.1 --out out/tf-big
    python examples/char_transformer.py --resume --out out/tf    # continue the run in out/tf
    python examples/char_transformer.py --sample --prompt "ROMEO:" --out out/tf

A decoder-only (GPT-style) model from the library's modules: Embedding plus a learned position
embedding -> nn.TransformerEncoder (pre-norm layers, feed-forward 4 x d_model) under a causal
mask -> LayerNorm -> Linear. Each window of --seq-len characters is its whole context: no state
goes on to the next window, and validation is scored in windows of that length (a character at
window position t is predicted from the t before it). Everything else, the text and its split,
flags, AdamW, the lr schedule, checkpoints, --resume, loss.csv, graph.svg and sampling, is
char_lstm.py's (examples/char_train.py, which both share).
"""

import os

# single-threaded BLAS, as char_lstm.py and for the same reason (set before NumPy loads)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys
from functools import partial

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn

import char_train  # beside this file
from char_checks import UsageError, check_fits, flag
from char_train import EVAL_STREAMS, Architecture

# A run's settings, as in char_lstm.py. The window length is the model's context (the size of
# its position embedding), so it is a model setting here.
MODEL = {"d_model": 128, "heads": 4, "layers": 2, "dropout": 0.0, "seq_len": 64}
TRAINING = {"batch_size": 32, "lr": 6e-3, "weight_decay": 1e-4, "clip": 1.0, "eval_every": 250,
            "seed": 1337}
HELP = {"d_model": "width of the embeddings and layers", "heads": "attention heads per layer",
        "layers": "Transformer layers", "dropout": "dropout in every layer",
        "seq_len": "context: the window length T"}


class CharTransformer(nn.Module):
    """Embedding + position embedding -> causal TransformerEncoder -> LayerNorm -> Linear.
    Position t attends to positions <= t only.  Shape: x: (T, B) ints, T <= context ->
    logits (T, B, V)."""

    def __init__(self, vocab_size: int, d_model: int, heads: int, layers: int, dropout: float,
                 context: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(context, d_model)
        self.drop = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=4 * d_model,
                                           dropout=dropout, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model),
                                             enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, x: Tensor, state=None):
        T = x.shape[0]
        h = self.drop(self.embed(x) + self.pos(tl.arange(T))[:, None])  # (T, B, E)
        mask = nn.Transformer.generate_square_subsequent_mask(T)  # -inf above the diagonal
        h = self.encoder(h, mask=mask, is_causal=True)  # (T, B, E)
        return self.head(h), None  # (T, B, V), and no state for the next window


def build_model(vocab_size: int, args) -> CharTransformer:
    return CharTransformer(vocab_size, args.d_model, args.heads, args.layers, args.dropout,
                           args.seq_len)


def check_size(vocab_size: int, args) -> None:
    """Refuse a model that cannot be built, or whose training step would not fit in memory or
    would take hours.

    Memory, float32: weights, gradients and AdamW's two moments (4 x params), the activations
    one window keeps for backward (about 20 E-wide vectors per layer and character, the
    attention weights thrice, the (T, B, V) logits thrice) and ~1 KiB of bookkeeping per
    recorded op (~40 per layer). Validation (no gradients) runs EVAL_STREAMS windows at once:
    its attention weights and their softmax temporaries, thrice (EVAL_STREAMS A, T, T), must fit
    too. Work: ~6 flops per weight use and character, and 12 T E per layer and character for
    the attention itself.
    """
    V, E, A, L, T, B = vocab_size, args.d_model, args.heads, args.layers, args.seq_len, \
        args.batch_size
    sizes = " ".join(f"{flag(k)} {getattr(args, k)}"
                     for k in ("d_model", "heads", "layers", "seq_len", "batch_size"))
    if E % A:
        raise UsageError(f"{sizes}: --d-model must be a multiple of --heads")
    layers = L * (12 * E * E + 13 * E)  # attention 4 E x E, feed-forward 2 E x 4E, norms, biases
    params = V * E + T * E + layers + 2 * E + E * V + V
    need = 4 * (4 * params + T * B * (E + L * (20 * E + 3 * A * T) + 3 * V)) + 1024 * 40 * L
    evaluation = 4 * EVAL_STREAMS * T * (3 * A * T + 20 * E + 3 * V)
    flops = 6 * T * B * (layers + E * V) + 12 * T * T * B * E * L
    check_fits(sizes, max(need, evaluation), flops)


ARCH = Architecture(script="char_transformer.py", name="Transformer", doc=__doc__, model=MODEL,
                    training=TRAINING, help=HELP, build=build_model, check_size=check_size,
                    state_shape=lambda args: None)


main = partial(char_train.main, ARCH)  # main(argv) -> the run's numbers
cli = partial(char_train.cli, ARCH)  # cli(argv) -> its exit code, errors as one stderr line


if __name__ == "__main__":
    sys.exit(cli())
