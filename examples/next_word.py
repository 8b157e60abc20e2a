"""A word-level LSTM that learns a short paragraph and predicts the next words of a prompt.

    python examples/next_word.py
    python examples/next_word.py --prompt "the keeper climbed" --n-words 6

Embedding + LSTM + Linear over word ids, trained on every window of --seq-len words of the
paragraph below at once (one batch), each window from a zero state, since that is how a
prompt is read. A prompt with a word the model has never seen is a one-line error and exit
code 2 from the command line, a ValueError from `predict`.
"""

import os

# The matmuls here are small: OpenBLAS's threads cost more than they give at this size, and
# slow down many times over when another process holds a core. Set OPENBLAS_NUM_THREADS
# yourself to override (it must be set before NumPy loads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse

import numpy as np

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn, optim
from tinygrad_lstm.data import WordVocab

PARAGRAPH = """
The keeper of the lighthouse climbed the stairs every evening. He lit the lamp, wound the
clock and wrote the weather in his book. When the fog came in from the sea, he rang the bell,
and the ships that could not see the light heard the bell and kept away from the rocks. In the
morning he put out the lamp, cleaned the glass and walked down to the harbour for bread and
news. The fishermen told him which boats had come home and which were still out. He listened,
bought his bread and climbed back up the hill before the wind turned. On long nights he read
by the lamp and counted the ships, and when the last one had passed he slept until the gulls
woke him.
"""

PROMPTS = ["the keeper of", "when the fog", "in the morning he", "the fishermen told"]


class NextWord(nn.Module):
    """Embedding -> LSTM -> Linear over a vocabulary. Shape: x (T, N) int -> logits (T, N, V)."""

    def __init__(self, vocab: WordVocab, embed: int, hidden: int):
        super().__init__()
        self.vocab = vocab
        self.embed = nn.Embedding(len(vocab), embed)
        self.lstm = nn.LSTM(embed, hidden)
        self.head = nn.Linear(hidden, len(vocab))

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)  # (T, N, H)
        return self.head(out), state  # (T, N, V)

    def encode_prompt(self, text: str) -> np.ndarray:
        """text -> (T,) word ids; ValueError naming the first word the model does not know."""
        words = self.vocab.tokenize(text)
        if not words:
            raise ValueError("predict: the prompt has no words")
        for w in words:
            if w not in self.vocab:
                raise ValueError(f"predict: unknown word {w!r}; the model knows only the "
                                 f"{len(self.vocab)} words of its paragraph")
        return self.vocab.encode(text)

    def predict(self, text: str, n_words: int = 5) -> list[str]:
        """The n_words most likely next words after `text`, each fed back in (greedy)."""
        ids = self.encode_prompt(text)
        words = []
        with tl.no_grad():
            logits, state = self(Tensor(ids[:, None]))  # (T, 1, V): read the whole prompt
            for _ in range(n_words):
                next_id = int(logits.numpy()[-1, 0].argmax())
                words.append(self.vocab.itos[next_id])
                logits, state = self(Tensor(np.array([[next_id]])), state)
        return words


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--prompt", action="append", help="words to continue (repeatable)")
    p.add_argument("--n-words", type=int, default=5, help="words to predict per prompt")
    p.add_argument("--embed", type=int, default=32, help="embedding size")
    p.add_argument("--hidden", type=int, default=64, help="LSTM hidden size")
    p.add_argument("--seq-len", type=int, default=12, help="words per training window")
    p.add_argument("--steps", type=int, default=100, help="Adam steps (one batch each)")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    args = p.parse_args(argv)
    say = (lambda *a, **k: None) if args.quiet else print

    # data: every window of seq_len + 1 consecutive words, as one batch
    vocab = WordVocab.from_text(PARAGRAPH)
    ids = vocab.encode(PARAGRAPH)  # (L,)
    if not 1 <= args.seq_len < len(ids):
        p.error(f"--seq-len must be in [1, {len(ids) - 1}], got {args.seq_len}")
    starts = np.arange(len(ids) - args.seq_len)
    windows = np.stack([ids[s : s + args.seq_len + 1] for s in starts], axis=1)  # (T + 1, N)
    x, y = Tensor(windows[:-1]), windows[1:]  # (T, N) inputs, (T, N) next words

    # model; the prompts are checked before training, so a typo fails at once
    tl.manual_seed(args.seed)
    model = NextWord(vocab, args.embed, args.hidden)
    prompts = args.prompt or PROMPTS
    try:
        for prompt in prompts:
            model.encode_prompt(prompt)
    except ValueError as e:
        p.exit(2, f"{p.prog}: error: {e}\n")
    say(f"{len(ids)} words, {len(vocab)} distinct, {len(starts)} windows of {args.seq_len}")
    optimizer = optim.Adam(model.parameters(), lr=args.lr)

    # loop
    losses = []
    for step in range(args.steps):
        logits, _ = model(x)  # (T, N, V)
        loss = nn.functional.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == args.steps - 1:
            say(f"step {step:4d}  loss {losses[-1]:.4f}")

    # result
    predictions = {prompt: model.predict(prompt, args.n_words) for prompt in prompts}
    for prompt, words in predictions.items():
        say(f"{prompt!r} -> {' '.join(words)}")
    return {"model": model, "vocab": vocab, "losses": losses, "predictions": predictions}


if __name__ == "__main__":
    main()
