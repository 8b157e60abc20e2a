"""Character-level LSTM language model on tiny Shakespeare: the main job.

    python examples/char_lstm.py                                # ~3 minutes, val loss <= 1.70
    python examples/char_lstm.py --minutes 15 --layers 2 --dropout 0.2   # val loss <= 1.50
    python examples/char_lstm.py --resume                       # continue from out/ckpt.npz
    python examples/char_lstm.py --sample --prompt "ROMEO:"     # generate from the checkpoint

Embedding -> LSTM -> Linear, trained with AdamW, gradient clipping and truncated BPTT: the
text is cut into B parallel streams and the hidden state is carried (detached) from one window
of T characters to the next. Losses are mean cross-entropy in nats per character; validation
is the last 10% of the text. Everything a run makes goes into --out: ckpt.npz (model,
optimizer, vocabulary, step, RNG state, written atomically at every evaluation and on Ctrl-C),
loss.csv (and loss.png with matplotlib) and graph.svg, the compute graph of one window.
"""

import os

# The recurrent matmuls are small ((B, H) @ (H, 4H)): OpenBLAS's threads cost more than they
# give at this size, and slow down many times over when another process holds a core.
# Set OPENBLAS_NUM_THREADS yourself to override (it must be set before NumPy loads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import csv
import math
import signal
import sys
import time

import numpy as np
from tqdm import tqdm

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn, optim, viz
from tinygrad_lstm.data import BPTTBatcher, CharVocab, read_text, train_val_split

HERE = os.path.dirname(os.path.abspath(__file__))


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.path.join(HERE, "data", "tinyshakespeare.txt"),
                   help="any UTF-8 text file")
    p.add_argument("--out", default="out", help="directory for checkpoint, loss.csv, graph")
    p.add_argument("--minutes", type=float, default=2.5, help="training time budget")
    p.add_argument("--steps", type=int, default=None,
                   help="stop after this many steps (and decay the lr over them) instead")
    p.add_argument("--hidden", type=int, default=256, help="LSTM hidden size")
    p.add_argument("--layers", type=int, default=1, help="LSTM layers")
    p.add_argument("--embed", type=int, default=64, help="character embedding size")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout between/after layers")
    p.add_argument("--seq-len", type=int, default=64, help="BPTT window length T")
    p.add_argument("--batch-size", type=int, default=32, help="parallel streams B")
    p.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay")
    p.add_argument("--clip", type=float, default=1.0, help="max gradient norm")
    p.add_argument("--eval-every", type=int, default=250, help="steps between evaluations")
    p.add_argument("--seed", type=int, default=1337, help="random seed")
    p.add_argument("--resume", action="store_true", help="continue from --out/ckpt.npz")
    p.add_argument("--sample", action="store_true", help="only generate from the checkpoint")
    p.add_argument("--prompt", default=None, help="text to start sampling from (ROMEO:)")
    p.add_argument("--length", type=int, default=400, help="characters to sample")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature")
    p.add_argument("--top-k", type=int, default=20, help="sample among the k likeliest (0: all)")
    args = p.parse_args(argv)
    for name in ("hidden", "layers", "embed", "seq_len", "batch_size", "eval_every", "length"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive")
    if not 0 <= args.dropout < 1:
        raise UsageError(f"--dropout must be in [0, 1), got {args.dropout}")
    if args.temperature <= 0:
        raise UsageError(f"--temperature must be positive, got {args.temperature}")
    return args


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


def config_of(args) -> dict:
    return {k: getattr(args, k) for k in ("hidden", "layers", "embed", "dropout")}


@tl.no_grad()
def evaluate(model: CharLSTM, ids: np.ndarray, batch_size: int = 64, seq_len: int = 128) -> float:
    """Mean cross-entropy (nats/char) over all of `ids`, streams carried across windows."""
    model.eval()
    total, count, state = 0.0, 0, None
    for x, y in BPTTBatcher(ids, min(batch_size, len(ids) // 2), seq_len):
        logits, state = model(Tensor(x), state)
        total += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             Tensor(y.reshape(-1)), reduction="sum").item()
        count += y.size
    model.train()
    return total / count


@tl.no_grad()
def sample(model: CharLSTM, vocab: CharVocab, prompt: str, length: int, temperature: float,
           top_k: int) -> str:
    """Feed the prompt, then draw `length` characters one at a time."""
    model.eval()
    rng = tl.random.rng()
    logits, state = model(Tensor(vocab.encode(prompt)[:, None]))  # (T, 1, V)
    out = []
    for _ in range(length):
        z = logits.numpy()[-1, 0].astype(np.float64) / temperature
        if 0 < top_k < len(z):
            z[z < np.partition(z, -top_k)[-top_k]] = -np.inf  # keep the k largest
        p = np.exp(z - z.max())
        idx = int(rng.choice(len(p), p=p / p.sum()))
        out.append(idx)
        logits, state = model(Tensor(np.array([[idx]])), state)
    model.train()
    return prompt + vocab.decode(out)


def save_checkpoint(path: str, model, opt, sched, vocab, args, **progress) -> None:
    """Everything a resumed run needs to continue exactly where this one stopped."""
    tl.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "vocab": vocab.to_dict(), "config": config_of(args),
             "rng": tl.random.get_rng_state(), **progress}, path)


def load_checkpoint(path: str, args) -> dict:
    if not os.path.exists(path):
        raise UsageError(f"no checkpoint at {path} (train first, or pass the right --out)")
    try:
        ckpt = tl.load(path)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if ckpt.get("config") != config_of(args):
        raise UsageError(f"checkpoint {path} was trained with {ckpt.get('config')}, but the "
                         f"flags ask for {config_of(args)}")
    return ckpt


def build_model(vocab_size: int, args) -> CharLSTM:
    return CharLSTM(vocab_size, args.embed, args.hidden, args.layers, args.dropout)


def load_weights(model: CharLSTM, ckpt: dict) -> None:
    try:
        model.load_state_dict(ckpt["model"])
    except (KeyError, RuntimeError, ValueError) as e:
        raise UsageError(f"checkpoint does not fit the model: {e}") from None


def write_plot(csv_path: str, png_path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    steps = [int(r["step"]) for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [float(r["train_loss"]) for r in rows], label="train (smoothed)")
    val = [(int(r["step"]), float(r["val_loss"])) for r in rows if r["val_loss"]]
    if val:
        ax.plot(*zip(*val), "o-", label="validation")
    ax.set(xlabel="step", ylabel="cross-entropy (nats/char)", title="char LSTM, tiny Shakespeare")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)


def main(argv=None) -> dict:
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    ckpt_path = os.path.join(args.out, "ckpt.npz")

    if args.sample:
        ckpt = load_checkpoint(ckpt_path, args)
        vocab = CharVocab.from_dict(ckpt["vocab"])
        model = build_model(len(vocab), args)
        load_weights(model, ckpt)
        tl.manual_seed(args.seed)
        try:
            text = sample(model, vocab, args.prompt or "\n", args.length, args.temperature,
                          args.top_k)
        except ValueError as e:  # a prompt character the vocabulary does not have
            raise UsageError(str(e)) from None
        print(text)
        return {"sample": text}

    # data: the first 90% of the characters to train on, the last 10% to validate
    try:
        text = read_text(args.data)
    except (OSError, ValueError) as e:
        raise UsageError(str(e)) from None
    vocab = CharVocab.from_text(text)
    if args.prompt is not None and not all(ch in vocab for ch in args.prompt):
        raise UsageError(f"--prompt {args.prompt!r} has characters that {args.data} lacks")
    prompt = args.prompt or ("ROMEO:" if all(ch in vocab for ch in "ROMEO:") else text[0])
    train_ids, val_ids = train_val_split(vocab.encode(text))
    if len(train_ids) < args.batch_size * (args.seq_len + 1) or len(val_ids) < 2:
        raise UsageError(f"{args.data}: {len(text)} characters are too few for one batch of "
                         f"{args.batch_size} x {args.seq_len + 1} (plus 10% for validation)")

    tl.manual_seed(args.seed)
    model = build_model(len(vocab), args)
    opt = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    # cosine decay to lr/10 over `horizon` steps: --steps, or what the time budget should fit
    run = {"step": 0, "epoch": 0, "window": 0, "state": None, "elapsed": 0.0,
           "horizon": args.steps}
    sched = optim.lr_scheduler.LambdaLR(opt, lambda step: 0.1 + 0.45 * (1 + math.cos(
        math.pi * min(1.0, step / run["horizon"]))) if run["horizon"] else 1.0)
    if args.resume:
        ckpt = load_checkpoint(ckpt_path, args)
        if CharVocab.from_dict(ckpt["vocab"]) != vocab:
            raise UsageError(f"checkpoint {ckpt_path} was trained on a different vocabulary "
                             f"than {args.data}")
        load_weights(model, ckpt)
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        run.update({k: ckpt[k] for k in run})
        tl.random.set_rng_state(ckpt["rng"])
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{len(text):,} characters, {len(vocab)} distinct; {n_params:,} parameters\n{model}")

    log_path = os.path.join(args.out, "loss.csv")
    log = open(log_path, "a" if args.resume else "w", newline="")
    writer = csv.writer(log)
    if not args.resume:
        writer.writerow(["step", "tokens", "seconds", "lr", "train_loss", "val_loss"])
    budget = args.minutes * 60
    tokens_per_step = args.batch_size * args.seq_len
    smooth = val_loss = last_loss = None
    state = tuple(Tensor(s) for s in run["state"]) if run["state"] is not None else None
    start = time.perf_counter() - run["elapsed"]
    # Ctrl-C only asks to stop: the step in flight finishes, so the checkpoint is consistent
    interrupted = []
    previous_handler = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    bar = tqdm(desc="train", unit="step", initial=run["step"], disable=None, mininterval=1.0)

    def checkpoint():
        save_checkpoint(ckpt_path, model, opt, sched, vocab, args,
                        **{**run, "elapsed": time.perf_counter() - start})

    session_start, first_step = time.perf_counter(), run["step"]
    try:
        done = False
        while not done:
            for k, (x, y) in enumerate(BPTTBatcher(train_ids, args.batch_size, args.seq_len)):
                if k < run["window"]:  # resuming inside an epoch
                    continue
                t0 = time.perf_counter()
                logits, new_state = model(Tensor(x), state)  # (T, B, V)
                loss = nn.functional.cross_entropy(logits.reshape(-1, len(vocab)),
                                                   Tensor(y.reshape(-1)))
                if run["step"] == 0:  # one picture of the graph of a training window
                    viz.render(viz.make_dot(loss, dict(model.named_parameters()), max_steps=2),
                               os.path.join(args.out, "graph.svg"))
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
                opt.step()
                sched.step()
                state = tuple(s.detach() for s in new_state)  # truncated BPTT: cut the graph
                run.update(step=run["step"] + 1, window=k + 1,
                           state=[s.numpy() for s in state])
                step, last_loss = run["step"], loss.item()
                smooth = last_loss if smooth is None else 0.98 * smooth + 0.02 * last_loss
                seconds = time.perf_counter() - t0
                bar.update()
                bar.set_postfix(loss=f"{smooth:.3f}", refresh=False,
                                tok_s=f"{tokens_per_step / seconds:,.0f}")
                done = step >= args.steps if args.steps else \
                    time.perf_counter() - start >= budget
                evaluated = step % args.eval_every == 0 or done or interrupted
                if evaluated:
                    val_loss = evaluate(model, val_ids)
                    bar.write(f"step {step}: train {smooth:.3f}, val {val_loss:.3f} nats/char, "
                              f"lr {sched.get_last_lr()[0]:.2e}, "
                              f"{time.perf_counter() - start:.0f}s")
                    checkpoint()
                if not args.steps and (step == first_step + 20 or evaluated):
                    # fit the lr decay to the time budget, at the pace so far (evaluations too)
                    now = time.perf_counter()
                    pace = (now - session_start) / (step - first_step)
                    run["horizon"] = step + max(1, int((budget - (now - start)) / pace))
                writer.writerow([step, step * tokens_per_step,
                                 f"{time.perf_counter() - start:.1f}",
                                 f"{sched.get_last_lr()[0]:.3e}", f"{smooth:.4f}",
                                 f"{val_loss:.4f}" if evaluated else ""])
                if interrupted:
                    bar.close()
                    print(f"interrupted: checkpoint saved to {ckpt_path} at step {step}; "
                          f"continue with --resume")
                    sys.exit(130)
                if done:
                    break
            else:
                run.update(epoch=run["epoch"] + 1, window=0, state=None)
                state = None
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        log.close()
    bar.close()
    write_plot(log_path, os.path.join(args.out, "loss.png"))
    seconds = time.perf_counter() - start
    step = run["step"]
    text_out = sample(model, vocab, prompt, args.length, args.temperature, args.top_k)
    print(f"\nval loss {val_loss:.3f} nats/char after {step} steps "
          f"({step * tokens_per_step:,} tokens, {seconds:.0f}s)\n\n{text_out}")
    return {"val_loss": val_loss, "train_loss": smooth, "last_loss": last_loss, "step": step,
            "seconds": seconds, "sample": text_out}


if __name__ == "__main__":
    try:
        main()
    except UsageError as e:
        print(f"char_lstm.py: error: {e}", file=sys.stderr)
        sys.exit(2)
