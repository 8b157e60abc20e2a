"""Text data utilities: vocabularies, a train/validation split and batches for truncated BPTT.

Usage:
    text = read_text("examples/data/tinyshakespeare.txt")
    vocab = CharVocab.from_text(text)                       # 65 characters, sorted
    train, val = train_val_split(vocab.encode(text))        # first 90% / last 10%
    for x, y in BPTTBatcher(train, batch_size=32, seq_len=64):  # x, y: (T, B) int64
        ...                                                 # y[t, b] == x[t + 1, b]
"""

import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from .serialization import atomic_write


def read_text(path: str | os.PathLike) -> str:
    """Read a UTF-8 text file exactly as stored (no newline translation; a leading BOM is dropped).

    Raises FileNotFoundError for a missing file, and ValueError for an empty file, a NUL byte
    (a binary file) or bytes that are not UTF-8, naming the path and the byte offset at fault.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(2, "read_text: no such file", os.fspath(path)) from None
    bom = b"\xef\xbb\xbf"
    skip = len(bom) if raw.startswith(bom) else 0
    if len(raw) == skip:
        raise ValueError(f"read_text: {os.fspath(path)!r} is empty")
    nul = raw.find(b"\x00")
    if nul != -1:
        raise ValueError(
            f"read_text: {os.fspath(path)!r} looks binary: NUL byte at byte offset {nul}"
        )
    try:
        return raw[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        offset = skip + e.start
        raise ValueError(
            f"read_text: {os.fspath(path)!r} is not valid UTF-8: byte 0x{raw[offset]:02x} "
            f"at byte offset {offset} ({e.reason})"
        ) from None


def _atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(os.fspath(path), lambda f: f.write(text.encode("utf-8")))


def _read_json(path: str | os.PathLike, who: str) -> dict:
    with open(path, encoding="utf-8") as f:
        try:
            d = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{who}.load: {os.fspath(path)!r} is not valid JSON ({e})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{who}.load: {os.fspath(path)!r} does not hold a JSON object")
    return d


def _ids_array(ids, who: str, size: int) -> np.ndarray:
    """ids (int, list, ndarray or Tensor) -> 1-D int64 array, every id checked against `size`."""
    if hasattr(ids, "numpy"):  # a Tensor; the data module does not import the engine
        ids = ids.numpy()
    arr = np.asarray(ids)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{who}.decode: expected integer ids, got dtype {arr.dtype}")
    if arr.ndim > 1:
        raise ValueError(f"{who}.decode: expected an int or a 1-D sequence, got shape {arr.shape}")
    arr = arr.reshape(-1).astype(np.int64)
    bad = np.flatnonzero((arr < 0) | (arr >= size))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{who}.decode: id {int(arr[i])} at position {i} is out of range [0, {size})"
        )
    return arr


class _Vocab:
    """What both vocabularies share: id i is `itos[i]`, `stoi` inverts it, JSON save/load."""

    itos: list[str]
    stoi: dict[str, int]
    __hash__ = None  # equality is by value and the lists are mutable

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON, atomically."""
        _atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=False))

    @classmethod
    def load(cls, path: str | os.PathLike):
        return cls.from_dict(_read_json(path, cls.__name__))

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token) -> bool:
        return token in self.stoi

    def __iter__(self) -> Iterator[str]:
        return iter(self.itos)


class CharVocab(_Vocab):
    """A character vocabulary: id i is the i-th character of `chars`.

    `CharVocab.from_text(text)` sorts the unique characters, so the same text always gives the
    same ids. Shape: encode: str of length N -> (N,) int64; decode: (N,) ints -> str.
    """

    def __init__(self, chars: Iterable[str]):
        self.itos: list[str] = list(chars)
        for i, ch in enumerate(self.itos):
            if not isinstance(ch, str) or len(ch) != 1:
                raise ValueError(f"CharVocab: entry {i} is {ch!r}, not a single character")
        if len(set(self.itos)) != len(self.itos):
            raise ValueError("CharVocab: characters must be unique")
        if not self.itos:
            raise ValueError("CharVocab: the vocabulary is empty")
        self.stoi: dict[str, int] = {ch: i for i, ch in enumerate(self.itos)}
        # encode maps code points to ids with one searchsorted over the sorted code points
        codes = np.array([ord(ch) for ch in self.itos], dtype=np.int64)
        self._order = np.argsort(codes, kind="stable")
        self._sorted_codes = codes[self._order]
        self._itos_array = np.array(self.itos, dtype="<U1")

    @classmethod
    def from_text(cls, text: str) -> "CharVocab":
        """The vocabulary of the sorted unique characters of `text`."""
        if not isinstance(text, str):
            raise TypeError(f"CharVocab.from_text: expected str, got {type(text).__name__}")
        if not text:
            raise ValueError("CharVocab.from_text: the text is empty")
        return cls(sorted(set(text)))

    @property
    def chars(self) -> str:
        """All characters in id order, as one string."""
        return "".join(self.itos)

    def encode(self, text: str) -> np.ndarray:
        """str of length N -> (N,) int64 ids; an unknown character raises ValueError."""
        if not isinstance(text, str):
            raise TypeError(f"CharVocab.encode: expected str, got {type(text).__name__}")
        # utf-32 gives one 4-byte code point per character; surrogatepass keeps lone surrogates
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        codes = codes.astype(np.int64)
        pos = np.searchsorted(self._sorted_codes, codes).clip(max=len(self) - 1)
        unknown = np.flatnonzero(self._sorted_codes[pos] != codes)
        if unknown.size:
            i = int(unknown[0])
            raise ValueError(
                f"CharVocab.encode: character {text[i]!r} at position {i} is not in the "
                f"vocabulary ({len(self)} characters)"
            )
        return self._order[pos]

    def decode(self, ids) -> str:
        """An int, a list or a (N,) integer array of ids -> str; an id out of range raises."""
        arr = _ids_array(ids, "CharVocab", len(self))
        return "".join(self._itos_array[arr].tolist())

    def to_dict(self) -> dict:
        """Plain JSON-able data (for checkpoints); `CharVocab.from_dict` inverts it."""
        return {"type": "CharVocab", "chars": list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict) -> "CharVocab":
        if not isinstance(d, dict) or d.get("type") != "CharVocab" or "chars" not in d:
            raise ValueError("CharVocab.from_dict: expected {'type': 'CharVocab', 'chars': [...]}")
        return cls(d["chars"])

    def __eq__(self, other):
        return isinstance(other, CharVocab) and self.itos == other.itos

    def __repr__(self):
        return f"CharVocab({len(self)} characters: {self.chars!r})"



# a word (letters, digits, _) with internal apostrophes (don't, o'er), or any other single
# non-space character: punctuation is one token per character
_TOKEN_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_PUNCT_RE = re.compile(r"[^\w\s]")


class WordVocab(_Vocab):
    """A word vocabulary: id i is the i-th entry of `words` (including `unk`, if any).

    Tokenizer: the regex `\\w+(?:'\\w+)*|[^\\w\\s]`, i.e. words (with internal apostrophes)
    and every punctuation character as a separate token; whitespace only separates.
    `WordVocab.from_text(text, lower=True, unk=None)` puts `unk` first, then the sorted unique
    tokens. Without `unk`, an unknown word raises ValueError; with it, it maps to `unk`.
    Shape: encode: str of N tokens -> (N,) int64; decode: (N,) ints -> str.
    """

    def __init__(self, words: Iterable[str], lower: bool = True, unk: str | None = None):
        self.itos: list[str] = list(words)
        for i, w in enumerate(self.itos):
            if not isinstance(w, str) or not w:
                raise ValueError(f"WordVocab: entry {i} is {w!r}, not a non-empty string")
        if len(set(self.itos)) != len(self.itos):
            raise ValueError("WordVocab: words must be unique")
        if not self.itos:
            raise ValueError("WordVocab: the vocabulary is empty")
        if unk is not None and unk not in self.itos:
            raise ValueError(f"WordVocab: unk token {unk!r} is not among the words")
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}
        self.lower = bool(lower)
        self.unk = unk

    @staticmethod
    def _split(text: str, lower: bool) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"WordVocab: expected str, got {type(text).__name__}")
        return _TOKEN_RE.findall(text.lower() if lower else text)

    @classmethod
    def from_text(cls, text: str, lower: bool = True, unk: str | None = None) -> "WordVocab":
        """`unk` (if given) first, then the sorted unique tokens of `text`."""
        tokens = set(cls._split(text, lower))
        if not tokens:
            raise ValueError("WordVocab.from_text: the text has no tokens")
        specials = [] if unk is None else [unk]
        return cls(specials + sorted(tokens - set(specials)), lower=lower, unk=unk)

    @property
    def words(self) -> list[str]:
        return list(self.itos)

    def tokenize(self, text: str) -> list[str]:
        """str -> list of tokens (lower-cased if the vocabulary is)."""
        return self._split(text, self.lower)

    def encode(self, text: str) -> np.ndarray:
        """str of N tokens -> (N,) int64 ids."""
        tokens = self.tokenize(text)
        unk_id = None if self.unk is None else self.stoi[self.unk]
        ids = np.empty(len(tokens), dtype=np.int64)
        for i, w in enumerate(tokens):
            j = self.stoi.get(w, unk_id)
            if j is None:
                raise ValueError(
                    f"WordVocab.encode: word {w!r} at token position {i} is not in the "
                    f"vocabulary ({len(self)} words; pass unk='<unk>' to map unknown words)"
                )
            ids[i] = j
        return ids

    def decode(self, ids) -> str:
        """ids -> tokens joined by single spaces, with no space before a punctuation token
        (so an opening quote attaches to the word before it: "whether' tis")."""
        out = []
        for j in _ids_array(ids, "WordVocab", len(self)).tolist():
            w = self.itos[j]
            if out and not _PUNCT_RE.fullmatch(w):
                out.append(" ")
            out.append(w)
        return "".join(out)

    def to_dict(self) -> dict:
        """Plain JSON-able data (for checkpoints); `WordVocab.from_dict` inverts it."""
        return {"type": "WordVocab", "words": list(self.itos), "lower": self.lower, "unk": self.unk}

    @classmethod
    def from_dict(cls, d: dict) -> "WordVocab":
        if not isinstance(d, dict) or d.get("type") != "WordVocab" or "words" not in d:
            raise ValueError("WordVocab.from_dict: expected {'type': 'WordVocab', 'words': [...]}")
        return cls(d["words"], lower=d.get("lower", True), unk=d.get("unk"))

    def __repr__(self):
        return f"WordVocab({len(self)} words, lower={self.lower}, unk={self.unk!r})"

    def __eq__(self, other):  # same ids and same tokenization
        return (
            isinstance(other, WordVocab)
            and self.itos == other.itos
            and self.lower == other.lower
            and self.unk == other.unk
        )



def train_val_split(ids: Sequence, val_fraction: float = 0.1) -> tuple:
    """First (1 - val_fraction) of `ids` for training, the rest for validation (no shuffling).

    Works on anything sliceable (array, list, str). The training part has
    int(len(ids) * (1 - val_fraction)) items, as in char-rnn and nanoGPT; both parts must be
    non-empty.
    """
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)):
        raise TypeError(f"train_val_split: val_fraction must be a float, got {val_fraction!r}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"train_val_split: val_fraction must be in (0, 1), got {val_fraction}")
    n = len(ids)
    n_train = int(n * (1.0 - val_fraction))
    if n_train == 0 or n_train == n:
        raise ValueError(
            f"train_val_split: {n} items with val_fraction={val_fraction} give {n_train} "
            f"training and {n - n_train} validation items; both must be non-empty"
        )
    return ids[:n_train], ids[n_train:]


class BPTTBatcher:
    """(input, target) windows over B parallel streams of one long sequence, for truncated BPTT.

    Like PyTorch's word_language_model `batchify` + `get_batch` (and char-rnn): the tail that
    does not fill a whole column is dropped, the rest is cut into B contiguous streams
    (`data[:L*B].reshape(B, L).T`, shape (L, B)), and the windows go down the streams in order:
    window k is x = streams[s:s+T], y = streams[s+1:s+1+T] with s = start + k*T. So stream b
    continues at the next window exactly where it stopped, and the hidden state can be carried
    over (detached). The last window is shorter (T' < T) when L - 1 - start is not a multiple
    of T, as in get_batch. For a random offset per epoch, pass start=rng.integers(seq_len).
    Shape: x, y: (T, B) int64, or (B, T) with batch_first=True.
    """

    def __init__(
        self, data, batch_size: int, seq_len: int, batch_first: bool = False, start: int = 0
    ):
        for name, v in (("batch_size", batch_size), ("seq_len", seq_len)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"BPTTBatcher: {name} must be a positive int, got {v!r}")
        arr = np.asarray(data)
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"BPTTBatcher: expected integer token ids, got dtype {arr.dtype}")
        if arr.ndim != 1:
            raise ValueError(f"BPTTBatcher: expected a 1-D sequence of ids, got shape {arr.shape}")
        L = len(arr) // batch_size
        if L < 2:  # each stream needs one input and the target after it
            raise ValueError(
                f"BPTTBatcher: {len(arr)} tokens are too few for batch_size={batch_size}; "
                f"need at least 2 * batch_size = {2 * batch_size}"
            )
        if (
            isinstance(start, bool)
            or not isinstance(start, (int, np.integer))
            or not 0 <= start < L - 1
        ):
            raise ValueError(f"BPTTBatcher: start must be an int in [0, {L - 1}), got {start!r}")
        self.batch_size, self.seq_len, self.batch_first = int(batch_size), int(seq_len), batch_first
        self.start = int(start)
        streams = arr[: L * batch_size].astype(np.int64).reshape(batch_size, L)  # (B, L)
        self.streams = np.ascontiguousarray(streams.T)  # (L, B)

    def __len__(self) -> int:
        return -(-(len(self.streams) - 1 - self.start) // self.seq_len)  # ceil division

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        L = len(self.streams)
        for s in range(self.start, L - 1, self.seq_len):
            T = min(self.seq_len, L - 1 - s)
            x, y = self.streams[s : s + T], self.streams[s + 1 : s + 1 + T]  # (T, B)
            if self.batch_first:
                yield x.T.copy(), y.T.copy()  # (B, T)
            else:
                yield x.copy(), y.copy()

    def __repr__(self):
        return (
            f"BPTTBatcher(batch_size={self.batch_size}, seq_len={self.seq_len}, "
            f"stream_len={len(self.streams)}, windows={len(self)})"
        )
