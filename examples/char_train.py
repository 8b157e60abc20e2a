"""The training run that examples/char_lstm.py and examples/char_transformer.py share.

A model script describes its model in an Architecture and hands it to `cli`; everything else is
here: flags, data (tiny Shakespeare, the last 10% for validation), AdamW with clipping and a
cosine learning rate fitted to the time budget, evaluation, checkpoints and --resume, SIGTERM,
loss.csv, progress, the graph picture, loss.png and sampling. The training step (forward,
backward, clipping, AdamW, the lr schedule) runs under tl.compile: eagerly at its first call,
traced at its second and third, then as a generated NumPy program, with the same bits as an
eager step (--no-compile runs every step eagerly).

The model maps (T, B) character ids and a state to (T, B, V) logits and the state to carry into
the next window of the same B streams (detached: truncated BPTT). The state is zeros at the
start of an epoch (the model's own for None, given so that the step's inputs keep one
signature), and None always for a model that carries none (it sees its window, no more).
"""

import argparse
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn, optim, viz
from tinygrad_lstm.data import BPTTBatcher, CharVocab, train_val_split
from tinygrad_lstm.runs import CSVLog, Progress, StopSignals, read_csv_rows

from char_checks import (CHECKS, Parser, UsageError, budget_text, check_out,  # beside this
                         flag, load_checkpoint, number, prepare_out, read_data, restore, settle,
                         settle_budget)

HERE = os.path.dirname(os.path.abspath(__file__))
MINUTES = 2.5  # the budget when neither --minutes nor --steps is given
OUTPUTS = ["ckpt.npz", "loss.csv", "loss.png", "graph.svg", "graph.svg.dot"]
LOG_COLUMNS = ["step", "tokens", "seconds", "lr", "train_loss", "val_loss"]
HELP = {"minutes": "training time budget, in all",
        "steps": "stop after this many steps in all (and decay the lr over them)",
        "seq_len": "BPTT window length T", "batch_size": "parallel streams B",
        "lr": "peak AdamW learning rate", "weight_decay": "AdamW weight decay",
        "clip": "max gradient norm", "eval_every": "steps between evaluations",
        "seed": "random seed"}


@dataclass(frozen=True)
class Architecture:
    """What a model script brings: its name, settings and model. `model` holds the settings the
    model's shape depends on (--sample takes them from the checkpoint), `training` the rest;
    both are the defaults of a fresh run. `help` is one line of --help per model flag."""
    script: str  # its file name, the first word of its messages
    name: str  # "LSTM": in the plot's title and in messages
    doc: str  # its docstring, whose first paragraph --help prints
    model: dict
    training: dict
    help: dict
    build: Callable  # (vocab_size, args) -> the model
    check_size: Callable  # (vocab_size, args): UsageError if a step would not fit here
    state_shape: Callable  # args -> the shape of each state array, None if it carries none


class Diverged(Exception):
    """A non-finite loss or gradient: reported in one line, exit code 1."""


# ---------------------------------------------------------------- flags


def parse_args(arch: Architecture, argv=None) -> argparse.Namespace:
    p = Parser(prog=arch.script, description=arch.doc.split("\n\n")[0],
               epilog="With --resume or --sample, a setting not given is the checkpoint's.")
    p.add_argument("--data", default=os.path.join(HERE, "data", "tinyshakespeare.txt"),
                   help="any UTF-8 text file")
    p.add_argument("--out", default="out", help="directory for checkpoint, loss.csv, graph")
    defaults = {**arch.model, **arch.training, "minutes": MINUTES}
    helps = {"minutes": HELP["minutes"], "steps": HELP["steps"], **arch.help}
    for key, text in {**helps, **{k: v for k, v in HELP.items() if k not in helps}}.items():
        if key in defaults:
            text += f" (default {defaults[key]:g})"
        p.add_argument(flag(key), type=CHECKS[key], help=text)
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--overwrite", action="store_true", help="start afresh in a non-empty --out")
    p.add_argument("--no-compile", action="store_true",
                   help="run the training step eagerly, not as a tl.compile program")
    p.add_argument("--sample", action="store_true", help="only generate from the checkpoint")
    p.add_argument("--prompt", default=None, help="text to start sampling from (ROMEO:)")
    p.add_argument("--length", type=number(int, 1, 1_000_000), default=400,
                   help="characters to sample")
    p.add_argument("--temperature", type=number(float, 0.01, 100), default=0.8,
                   help="sampling temperature")
    p.add_argument("--top-k", type=number(int, 0), default=20,
                   help="sample among the k likeliest (0: all)")
    args = p.parse_args(argv)
    if args.steps is not None and args.minutes is not None:
        raise UsageError("--steps and --minutes: give one budget, not both")
    if args.prompt is not None and len(args.prompt) > 10_000:  # it is fed in one window
        raise UsageError(f"--prompt: {len(args.prompt):,} characters, more than 10,000")
    if args.resume and args.overwrite:
        raise UsageError("--resume continues the run in --out, --overwrite replaces it: not both")
    return args


# ---------------------------------------------------------------- evaluation, sampling


EVAL_STREAMS = 64  # validation runs this many streams at once, whatever --batch-size is


@tl.no_grad()
def evaluate(model: nn.Module, ids: np.ndarray, seq_len: int,
             batch_size: int = EVAL_STREAMS) -> float:
    """Mean cross-entropy (nats/char) over all of `ids`, any state carried across windows."""
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
def sample(model: nn.Module, vocab: CharVocab, prompt: str, length: int, temperature: float,
           top_k: int, context: int | None = None) -> str:
    """Feed the prompt, then draw `length` characters one at a time. A model with a state is
    fed each new character with it; one without (context=T) its last T characters again."""
    model.eval()
    rng = tl.random.rng()
    ids = list(vocab.encode(prompt))
    logits, state = model(Tensor(np.array(ids[-context:] if context else ids)[:, None]))
    for _ in range(length):
        z = logits.numpy()[-1, 0].astype(np.float64) / temperature
        if 0 < top_k < len(z):
            z[z < np.partition(z, -top_k)[-top_k]] = -np.inf  # keep the k largest
        p = np.exp(z - z.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
        logits, state = model(Tensor(np.array(ids[-(context or 1):])[:, None]), state)  # (T, 1, V)
    model.train()
    return prompt + vocab.decode(ids[len(prompt):])


# ---------------------------------------------------------------- pictures


def draw_graph(loss: Tensor, model: nn.Module, out: str) -> str:
    """One picture of the graph of a training window, in a line that says where it went."""
    try:
        dot = viz.make_dot(loss, dict(model.named_parameters()), max_steps=2)
    except ImportError:
        return "graph of one window: not drawn (pip install graphviz)"
    with warnings.catch_warnings():  # said here in one line, not as a warning
        warnings.simplefilter("ignore")
        path = viz.render(dot, os.path.join(out, "graph.svg"))
    if path and path.endswith(".dot"):
        return f"graph of one window: {path} (install Graphviz's dot program for graph.svg)"
    return f"graph of one window: {path or 'not written'}"


def write_plot(csv_path: str, png_path: str, title: str) -> str | None:
    """loss.png from loss.csv with matplotlib, if it is installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = read_csv_rows(csv_path, LOG_COLUMNS)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([int(r["step"]) for r in rows], [float(r["train_loss"]) for r in rows],
            label="train (smoothed)")
    val = [(int(r["step"]), float(r["val_loss"])) for r in rows if r["val_loss"]]
    if val:
        ax.plot(*zip(*val), "o-", label="validation")
    ax.set(xlabel="step", ylabel="cross-entropy (nats/char)", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path


# ---------------------------------------------------------------- main


def main(arch: Architecture, argv=None) -> dict:
    args = parse_args(arch, argv)
    ckpt_path = os.path.join(args.out, "ckpt.npz")
    check_out(args.out, fresh=not (args.resume or args.sample), overwrite=args.overwrite)

    if args.sample:
        ckpt = load_checkpoint(ckpt_path, ("model", "vocab", "config"), arch.script)
        settle(args, ckpt["config"], arch.model)  # the model's shape is the checkpoint's
        vocab = ckpt["vocab"]
        try:
            model = arch.build(len(vocab), args)
        except (AssertionError, ValueError) as e:  # settings that make no model (edited)
            raise UsageError(f"checkpoint {ckpt_path}: its settings make no model ({e})") from None
        restore("model", ckpt_path, lambda: model.load_state_dict(ckpt["model"]))
        tl.manual_seed(arch.training["seed"] if args.seed is None else args.seed)
        context = None if arch.state_shape(args) else args.seq_len
        try:
            text = sample(model, vocab, args.prompt or "\n", args.length, args.temperature,
                          args.top_k, context)
        except ValueError as e:  # a prompt character the vocabulary does not have
            raise UsageError(str(e)) from None
        print(text)
        return {"sample": text}

    ckpt = None
    if args.resume:
        ckpt = load_checkpoint(ckpt_path, ("model", "optimizer", "scheduler", "vocab", "config",
                                           "rng", "step", "epoch", "window", "state", "elapsed",
                                           "horizon"), arch.script)
    settle(args, ckpt and ckpt["config"], {**arch.model, **arch.training})
    budget_note = settle_budget(args, ckpt and ckpt.get("budget"), MINUTES)

    # data: the first 90% of the characters to train on, the last 10% to validate
    text = read_data(args.data)
    vocab = CharVocab.from_text(text)
    if ckpt is not None and ckpt["vocab"] != vocab:
        raise UsageError(f"checkpoint {ckpt_path} was trained on a different vocabulary than "
                         f"{args.data}")
    if args.prompt and not all(ch in vocab for ch in args.prompt):
        raise UsageError(f"--prompt {args.prompt!r} has characters that {args.data} lacks")
    prompt = args.prompt or ("ROMEO:" if all(ch in vocab for ch in "ROMEO:") else text[0])
    arch.check_size(len(vocab), args)
    n_train = int(len(text) * 0.9)
    if n_train < args.batch_size * (args.seq_len + 1) or len(text) - n_train < 2:
        raise UsageError(f"{args.data}: {len(text)} characters are too few for one batch of "
                         f"{args.batch_size} x {args.seq_len + 1} (plus 10% for validation)")
    train_ids, val_ids = train_val_split(vocab.encode(text))
    # a model with a state sees the whole stream: evaluated in long windows; one without sees
    # --seq-len characters, its context, and is evaluated in windows of that length
    state_shape = arch.state_shape(args)
    context = None if state_shape else args.seq_len

    tl.manual_seed(args.seed)
    model = arch.build(len(vocab), args)
    opt = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    # cosine decay to lr/10 over `horizon` steps: --steps, or what the time budget should fit
    run = {"step": 0, "epoch": 0, "window": 0, "state": None, "elapsed": 0.0, "smooth": None,
           "horizon": args.steps}
    sched = optim.lr_scheduler.LambdaLR(opt, lambda step: 0.1 + 0.45 * (1 + math.cos(
        math.pi * min(1.0, step / run["horizon"]))) if run["horizon"] else 1.0)
    if ckpt is not None:
        restore("model", ckpt_path, lambda: model.load_state_dict(ckpt["model"]))
        restore("optimizer", ckpt_path, lambda: opt.load_state_dict(ckpt["optimizer"]))
        restore("scheduler", ckpt_path, lambda: sched.load_state_dict(ckpt["scheduler"]))
        restore("RNG state", ckpt_path, lambda: tl.random.set_rng_state(ckpt["rng"]))
        run.update({k: ckpt[k] for k in run if k in ckpt})
        if run["state"] is not None and (state_shape is None or
                                         any(s.shape != state_shape for s in run["state"])):
            raise UsageError(f"checkpoint {ckpt_path}: its {arch.name} state is not of shape "
                             f"{state_shape}" if state_shape else f"checkpoint {ckpt_path} "
                             f"holds a state, and a {arch.name} carries none")
        if args.steps:
            run["horizon"] = args.steps
        if args.steps and run["step"] >= args.steps or \
                args.minutes and run["elapsed"] >= args.minutes * 60:
            print(f"the run in {args.out} is finished: {run['step']} steps in "
                  f"{run['elapsed'] / 60:.1f} minutes ({budget_text(vars(args))}); to train on, "
                  f"pass --steps above {run['step']} or --minutes above "
                  f"{run['elapsed'] / 60:.1f}")
            return {"step": run["step"], "finished": True}
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{len(text):,} characters, {len(vocab)} distinct; {n_params:,} parameters; "
          f"{budget_note}\n{model}", flush=True)

    log_path = os.path.join(args.out, "loss.csv")
    budget = args.minutes * 60 if args.minutes else None
    tokens_per_step = args.batch_size * args.seq_len
    smooth, val_loss, last_loss, saved_step = run["smooth"], None, None, run["step"]
    state = tuple(Tensor(s) for s in run["state"]) if run["state"] is not None else None
    start = time.perf_counter() - run["elapsed"]
    session_start, first_step = time.perf_counter(), run["step"]
    pace_step = first_step

    def checkpoint():
        nonlocal saved_step
        try:
            log.commit()  # the rows first, so the log always reaches the checkpoint's step
            tl.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                     "scheduler": sched.state_dict(), "vocab": vocab.to_dict(),
                     "config": {k: getattr(args, k) for k in {**arch.model, **arch.training}},
                     "budget": {"steps": args.steps, "minutes": args.minutes},
                     "rng": tl.random.get_rng_state(),
                     **run, "elapsed": time.perf_counter() - start}, ckpt_path)
        except OSError as e:
            raise UsageError(f"--out {args.out}: cannot write the checkpoint: {e}") from None
        saved_step = run["step"]

    def diverged(what: str, value: float) -> Diverged:
        kept = f"the checkpoint of step {saved_step} is kept" if saved_step else "no checkpoint"
        return Diverged(f"stopped at step {run['step'] + 1}: the {what} is {value}; {kept} "
                        f"(try a smaller --lr or --clip)")

    def train_step(x: Tensor, y: Tensor, state):
        """One window: forward, backward, clipping, AdamW and the lr schedule. Returns the loss,
        the gradient norm (before clipping) and the state to carry on, all as tensors."""
        logits, new_state = model(x, state)  # (T, B, V)
        loss = nn.functional.cross_entropy(logits.reshape(-1, len(vocab)), y)
        opt.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        sched.step()
        # truncated BPTT: the state goes on, its graph does not
        return loss, norm, None if new_state is None else tuple(s.detach() for s in new_state)

    # perf: defaults, 30 s runs taken in turn: 298 and 317 steps eager, 339 and 346 as a program
    compiled = None if args.no_compile else tl.compile(train_step)
    compiled_calls = 0
    # at the start of an epoch, the zero state the model would make for None: so the step's
    # inputs keep one signature (a new one costs tl.compile an eager and two traced calls)
    zero_state = None if state_shape is None else \
        tuple(Tensor(np.zeros(state_shape, np.float32)) for _ in range(2))  # (h, c)

    lock = prepare_out(args.out, args.overwrite, OUTPUTS)  # one run at a time in --out
    with lock, StopSignals() as stop:
        try:  # a resumed run drops the rows past its checkpoint: it will write them again
            log = CSVLog(log_path, LOG_COLUMNS, keep_until=run["step"] if ckpt else None)
        except OSError as e:
            raise UsageError(f"--out {args.out}: cannot write {log_path}: {e.strerror}") from None
        progress = Progress(args.steps or budget, "step" if args.steps else "s",
                            initial=run["step"] if args.steps else run["elapsed"])
        try:
            done = False
            while not done:
                for k, (x, y) in enumerate(BPTTBatcher(train_ids, args.batch_size,
                                                       args.seq_len)):
                    if k < run["window"]:  # resuming inside an epoch
                        continue
                    t0 = time.perf_counter()
                    # the last, shorter window of an epoch runs eagerly: its shape would cost a
                    # program of its own (an eager and two traced calls) for one window an epoch
                    step_fn = train_step if compiled is None or len(x) < args.seq_len \
                        else compiled
                    loss, norm, new_state = step_fn(Tensor(x), Tensor(y.reshape(-1)),
                                                    zero_state if state is None else state)
                    # read out here: one read inside the step would keep it eager. So a
                    # non-finite value is seen after the update, which a stopped run never saves
                    last_loss, norm = loss.item(), norm.item()
                    if not math.isfinite(last_loss):
                        raise diverged("loss", last_loss)
                    if not math.isfinite(norm):
                        raise diverged("gradient norm", norm)
                    tok_s = tokens_per_step / (time.perf_counter() - t0)  # training alone
                    if step_fn is compiled:
                        compiled_calls += 1
                        if compiled_calls == 3:  # traced twice: a program now, or why not
                            progress.write(compile_note(compiled))
                    if run["step"] == 0:
                        progress.write(draw_graph(loss, model, args.out))
                    if new_state is not None:
                        state = new_state
                    smooth = last_loss if smooth is None else 0.98 * smooth + 0.02 * last_loss
                    run.update(step=run["step"] + 1, window=k + 1, smooth=smooth,
                               state=[s.numpy() for s in state] if state else None)
                    step, seconds = run["step"], time.perf_counter() - start
                    if step == first_step + 3:  # the pace is measured from here: tl.compile's
                        session_start = time.perf_counter()  # traced steps are slower
                        pace_step = step
                    done = step >= args.steps if args.steps else seconds >= budget
                    evaluated = step % args.eval_every == 0 or done or bool(stop)
                    if evaluated:
                        val_loss = evaluate(model, val_ids, context or 128)
                        if not math.isfinite(val_loss):
                            raise diverged("validation loss", val_loss)
                        progress.write(f"step {step}: train {smooth:.3f}, val {val_loss:.3f} "
                                       f"nats/char, lr {sched.get_last_lr()[0]:.2e}, "
                                       f"{seconds:.0f}s")
                    log.add([step, step * tokens_per_step, f"{seconds:.1f}",
                             f"{sched.get_last_lr()[0]:.3e}", f"{smooth:.4f}",
                             f"{val_loss:.4f}" if evaluated else ""])
                    if evaluated:
                        checkpoint()
                    if not args.steps and (step == first_step + 20 or evaluated):
                        # fit the lr decay to the time budget, at the pace so far (evals too)
                        now = time.perf_counter()
                        pace = (now - session_start) / (step - pace_step)
                        run["horizon"] = step + max(1, int((budget - (now - start)) / pace))
                    progress.update(step if args.steps else time.perf_counter() - start,
                                    f"loss {smooth:.3f}, {tok_s:,.0f} tok/s")
                    if stop:
                        progress.close()
                        print(f"stopped by {stop.name}: checkpoint saved to {ckpt_path} at step "
                              f"{step}; continue with --resume", flush=True)
                        sys.exit(stop.exit_code)
                    if done:
                        break
                else:
                    run.update(epoch=run["epoch"] + 1, window=0, state=None)
                    state = None
        finally:
            progress.close()
    try:
        plot = write_plot(log_path, os.path.join(args.out, "loss.png"),
                          f"char {arch.name}, tiny Shakespeare")
    except Exception as e:  # noqa: BLE001 - a picture must never cost the run's result
        print(f"{arch.script}: loss.png not drawn: {type(e).__name__}: {e}", file=sys.stderr)
        plot = None
    seconds = time.perf_counter() - start
    step = run["step"]
    text_out = sample(model, vocab, prompt, args.length, args.temperature, args.top_k, context)
    print(f"\nval loss {val_loss:.3f} nats/char after {step} steps "
          f"({step * tokens_per_step:,} tokens, {seconds:.0f}s); loss curve: {plot or 'not drawn'}"
          f"\n\n{text_out}")
    return {"val_loss": val_loss, "train_loss": smooth, "last_loss": last_loss, "step": step,
            "seconds": seconds, "sample": text_out,
            "compile": None if compiled is None else compiled.explain()}


def compile_note(step: tl.jit.CompiledFunction) -> str:
    """One line on what tl.compile made of the training step: a program, or why it runs
    eagerly (explain()'s reason, verbatim)."""
    try:
        source = step.code
    except RuntimeError:  # no program built
        source = None
    return f"training step: tl.compile {'' if source else 'fell back to eager: '}" \
        f"{step.explain()}"


def cli(arch: Architecture, argv=None) -> int:
    """main() as the command line runs it: the exit code, and any error as one stderr line."""
    try:
        main(arch, argv)
    except UsageError as e:  # one line even if a message from below has several
        print(f"{arch.script}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except Diverged as e:
        print(f"{arch.script}: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{arch.script}: interrupted (nothing saved since the last checkpoint)",
              file=sys.stderr)
        return 130
    return 0
