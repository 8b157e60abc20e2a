"""Text data utilities: vocabularies, read_text, train_val_split and the truncated-BPTT batcher."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lstm.data import BPTTBatcher, CharVocab, WordVocab, read_text, train_val_split

DATA = Path(__file__).resolve().parent.parent / "examples" / "data"
SHAKESPEARE = DATA / "tinyshakespeare.txt"
HAMLET = DATA / "hamlet_soliloquy.txt"


@pytest.fixture(scope="module")
def shakespeare() -> str:
    return read_text(SHAKESPEARE)


# ---- read_text ----


def test_read_text_bundled_files():
    assert len(read_text(HAMLET)) == 867  # 866 characters plus the final newline
    assert read_text(HAMLET).startswith("To be, or not to be")
    assert read_text(HAMLET) == HAMLET.read_bytes().decode("utf-8")


def test_read_text_keeps_crlf_and_drops_bom(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes(b"\xef\xbb\xbfab\r\nc")
    assert read_text(p) == "ab\r\nc"


def test_read_text_missing(tmp_path):
    p = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_text(p)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf"])
def test_read_text_empty(tmp_path, content):
    p = tmp_path / "empty.txt"
    p.write_bytes(content)
    with pytest.raises(ValueError, match="empty.txt' is empty"):
        read_text(p)


def test_read_text_binary(tmp_path):
    p = tmp_path / "bin.dat"
    p.write_bytes(b"abc\x00def")
    with pytest.raises(ValueError, match=r"bin.dat' looks binary: NUL byte at byte offset 3"):
        read_text(p)


@pytest.mark.parametrize(
    "content, offset, byte",
    [
        (b"hello \xff world", 6, "0xff"),
        ("caf\u00e9".encode("latin-1"), 3, "0xe9"),  # latin-1, not UTF-8
        (b"\xef\xbb\xbfab\x80", 5, "0x80"),  # the offset counts the BOM's 3 bytes
        ("ok \u2014".encode()[:-1], 3, "0xe2"),  # a truncated multi-byte character
    ],
)
def test_read_text_not_utf8(tmp_path, content, offset, byte):
    p = tmp_path / "latin.txt"
    p.write_bytes(content)
    with pytest.raises(
        ValueError, match=f"latin.txt' is not valid UTF-8: byte {byte} at byte offset {offset} "
    ):
        read_text(p)


# ---- CharVocab ----


def test_char_vocab_shakespeare(shakespeare):
    vocab = CharVocab.from_text(shakespeare)
    assert len(vocab) == 65
    assert (
        vocab.chars
        == "\n !$&',-.3:;?" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "abcdefghijklmnopqrstuvwxyz"
    )
    assert vocab.itos == list(vocab.chars)
    assert vocab.stoi == {ch: i for i, ch in enumerate(vocab.chars)}
    ids = vocab.encode(shakespeare)
    assert ids.dtype == np.int64 and ids.shape == (len(shakespeare),)
    # the independent truth: a plain dictionary lookup per character
    np.testing.assert_array_equal(ids[:5000], [vocab.stoi[c] for c in shakespeare[:5000]])
    assert vocab.decode(ids) == shakespeare
    assert CharVocab.from_text(shakespeare) == vocab  # same text, same ids


def test_char_vocab_hamlet_round_trip():
    text = read_text(HAMLET)
    vocab = CharVocab.from_text(text.lower())
    assert len(vocab) == 33  # 32 characters (em dash included) plus the newline
    assert "\u2014" in vocab and "T" not in vocab
    ids = vocab.encode(text.lower())
    assert ids.max() == len(vocab) - 1 == vocab.stoi["\u2014"]  # the em dash sorts last
    assert vocab.decode(ids) == text.lower()


def test_char_vocab_given_order_is_kept():
    # a vocabulary built from a list (e.g. a checkpoint) keeps that order, even if unsorted
    vocab = CharVocab(["z", "\u2014", "a", "\n"])
    np.testing.assert_array_equal(vocab.encode("a\u2014z\nza"), [2, 1, 0, 3, 0, 2])
    assert vocab.decode([3, 2, 1, 0]) == "\na\u2014z"


def test_char_vocab_decode_inputs():
    vocab = CharVocab.from_text("hello")  # e h l o
    assert vocab.decode(2) == "l"
    assert vocab.decode(np.int32(3)) == "o"
    assert vocab.decode([1, 0, 2, 2, 3]) == "hello"
    assert vocab.decode(np.array([1, 0], dtype=np.uint8)) == "he"
    assert vocab.decode([]) == ""
    assert vocab.encode("").shape == (0,)


def test_char_vocab_unknown_character():
    vocab = CharVocab.from_text("abc")
    msg = "CharVocab.encode: character 'Z' at position 3 is not in the vocabulary (3 characters)"
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        vocab.encode("abcZa")
    with pytest.raises(ValueError, match=r"character '\\n' at position 1 "):
        vocab.encode("a\nb")
    with pytest.raises(ValueError, match="character '0' at position 0 "):  # below every code
        vocab.encode("0")
    with pytest.raises(ValueError, match="character 'd' at position 0 "):  # above every code
        vocab.encode("d")


def test_char_vocab_decode_errors():
    vocab = CharVocab.from_text("abc")
    with pytest.raises(ValueError, match=r"id 3 at position 1 is out of range \[0, 3\)"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError, match=r"id -1 at position 0 is out of range"):
        vocab.decode(-1)
    with pytest.raises(TypeError, match="integer ids"):
        vocab.decode([0.0, 1.0])
    with pytest.raises(ValueError, match=r"shape \(1, 2\)"):
        vocab.decode([[0, 1]])


def test_char_vocab_constructor_errors():
    with pytest.raises(ValueError, match="unique"):
        CharVocab("aba")
    with pytest.raises(ValueError, match="entry 1 is 'bc'"):
        CharVocab(["a", "bc"])
    with pytest.raises(ValueError, match="empty"):
        CharVocab.from_text("")
    with pytest.raises(TypeError, match="expected str"):
        CharVocab.from_text(b"abc")
    with pytest.raises(TypeError, match="expected str"):
        CharVocab.from_text("abc").encode([1, 2])


def test_char_vocab_save_load(tmp_path, shakespeare):
    vocab = CharVocab.from_text(shakespeare[:2000] + "\u2014\u00e9")
    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert os.listdir(tmp_path) == ["vocab.json"]  # the temporary file is gone
    loaded = CharVocab.load(path)
    assert loaded == vocab and loaded.itos == vocab.itos
    assert json.loads(path.read_text(encoding="utf-8")) == vocab.to_dict()
    assert CharVocab.from_dict(json.loads(json.dumps(vocab.to_dict()))) == vocab
    vocab.save(path)  # overwriting works
    assert CharVocab.load(path) == vocab


def test_char_vocab_equality():
    assert CharVocab.from_text("abc") == CharVocab("abc")
    assert CharVocab.from_text("abc") != CharVocab("acb")
    assert CharVocab("abc") != WordVocab(["a", "b", "c"])


def test_char_vocab_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        CharVocab.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.json' is not valid JSON"):
        CharVocab.load(bad)
    bad.write_text(json.dumps(WordVocab(["a"]).to_dict()), encoding="utf-8")
    with pytest.raises(ValueError, match="CharVocab.from_dict"):
        CharVocab.load(bad)


# ---- WordVocab ----


def test_word_tokenize():
    vocab = WordVocab.from_text("x")
    text = "To be, or not to be: that's the question—Th'oppressor's wrong!"
    assert vocab.tokenize(text) == [
        "to", "be", ",", "or", "not", "to", "be", ":", "that's", "the", "question", "—",
        "th'oppressor's", "wrong", "!",
    ]  # fmt: skip
    assert WordVocab.from_text("x", lower=False).tokenize("A 'b' c.") == [
        "A",
        "'",
        "b",
        "'",
        "c",
        ".",
    ]


def test_word_vocab_hamlet_round_trip():
    text = read_text(HAMLET)
    vocab = WordVocab.from_text(text)
    tokens = vocab.tokenize(text)
    assert vocab.itos == sorted(set(tokens))
    ids = vocab.encode(text)
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [vocab.stoi[w] for w in tokens])
    decoded = vocab.decode(ids)
    # the spacing rule is simple: no space before any punctuation, so a leading quote sticks left
    assert decoded.startswith("to be, or not to be, that is the question: whether' tis nobler")
    assert vocab.tokenize(decoded) == tokens  # decoding loses only spacing


def test_word_vocab_decode_spacing():
    vocab = WordVocab(["hello", ",", "world", "!", "<unk>"], unk="<unk>")
    assert vocab.decode([0, 1, 2, 3]) == "hello, world!"
    assert vocab.decode([1, 0, 4]) == ", hello <unk>"
    assert vocab.decode(2) == "world"


def test_word_vocab_unk():
    vocab = WordVocab.from_text("the cat sat. The mat", unk="<unk>")
    assert vocab.itos == ["<unk>", ".", "cat", "mat", "sat", "the"]
    np.testing.assert_array_equal(vocab.encode("The dog sat"), [5, 0, 4])
    with pytest.raises(ValueError, match="unk token '<oov>' is not among the words"):
        WordVocab(["a"], unk="<oov>")


def test_word_vocab_unknown_word():
    vocab = WordVocab.from_text("the cat sat")
    with pytest.raises(ValueError, match="word 'dog' at token position 2 is not in the vocab"):
        vocab.encode("The cat dog")
    with pytest.raises(ValueError, match=r"id 3 at position 0 is out of range \[0, 3\)"):
        vocab.decode([3])
    with pytest.raises(ValueError, match="no tokens"):
        WordVocab.from_text("  \n ")


def test_word_vocab_case_sensitive():
    vocab = WordVocab.from_text("The the", lower=False)
    assert vocab.itos == ["The", "the"] and "The" in vocab
    with pytest.raises(ValueError, match="word 'THE'"):
        vocab.encode("THE")


def test_word_vocab_save_load(tmp_path):
    vocab = WordVocab.from_text(read_text(HAMLET), lower=False, unk="<unk>")
    path = tmp_path / "words.json"
    vocab.save(path)
    loaded = WordVocab.load(path)
    assert loaded == vocab
    assert (loaded.lower, loaded.unk) == (False, "<unk>")
    assert WordVocab.from_dict(vocab.to_dict()) == vocab
    assert vocab != WordVocab(vocab.itos, lower=True, unk="<unk>")


# ---- train_val_split ----


def test_train_val_split_sizes(shakespeare):
    train, val = train_val_split(shakespeare)
    assert (len(train), len(val)) == (1003854, 111540)  # int(1115394 * 0.9)
    assert train + val == shakespeare
    ids = np.arange(10)
    train, val = train_val_split(ids, val_fraction=0.25)
    np.testing.assert_array_equal(train, np.arange(7))
    np.testing.assert_array_equal(val, [7, 8, 9])
    assert train_val_split([1, 2], 0.5) == ([1], [2])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_train_val_split_bad_fraction(fraction):
    with pytest.raises(ValueError, match="val_fraction must be in"):
        train_val_split(np.arange(10), fraction)


def test_train_val_split_empty_part():
    with pytest.raises(ValueError, match="5 items with val_fraction=1e-17 give 5 training and 0"):
        train_val_split(np.arange(5), 1e-17)  # 1 - 1e-17 rounds to 1.0
    with pytest.raises(ValueError, match="give 0 training"):
        train_val_split([1], 0.5)
    with pytest.raises(TypeError, match="val_fraction"):
        train_val_split([1, 2], "0.5")


# ---- BPTTBatcher ----


def expected_windows(n, B, T, start=0):
    """Plainly written: stream b is tokens b*L .. b*L+L-1 of arange(n), L = n // B."""
    L = n // B
    out = []
    s = start
    while s < L - 1:
        t = min(T, L - 1 - s)
        x = [[b * L + s + i for b in range(B)] for i in range(t)]
        y = [[b * L + s + i + 1 for b in range(B)] for i in range(t)]
        out.append((np.array(x), np.array(y)))
        s += T
    return out


@pytest.mark.parametrize("n, B, T", [(26, 3, 4), (24, 3, 7), (20, 4, 4), (10, 1, 3), (6, 3, 5)])
def test_bptt_windows(n, B, T):
    batcher = BPTTBatcher(np.arange(n), batch_size=B, seq_len=T)
    windows = list(batcher)
    expected = expected_windows(n, B, T)
    assert len(batcher) == len(windows) == len(expected)
    for (x, y), (ex, ey) in zip(windows, expected, strict=True):
        assert x.dtype == y.dtype == np.int64
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)


def test_bptt_streams_contiguous_and_shifted():
    # 26 tokens, B=3: L = 8 (the last 2 tokens are dropped), windows of T = 3, 3, 1
    batcher = BPTTBatcher(list(range(26)), batch_size=3, seq_len=3)
    windows = list(batcher)
    assert [x.shape for x, _ in windows] == [(3, 3), (3, 3), (1, 3)]
    np.testing.assert_array_equal(windows[0][0], [[0, 8, 16], [1, 9, 17], [2, 10, 18]])
    np.testing.assert_array_equal(windows[2][1], [[7, 15, 23]])
    xs = np.concatenate([x for x, _ in windows])  # (L - 1, B)
    ys = np.concatenate([y for _, y in windows])
    for b in range(3):  # each stream runs on without a gap from one window to the next
        np.testing.assert_array_equal(xs[:, b], np.arange(8 * b, 8 * b + 7))
    np.testing.assert_array_equal(ys, xs + 1)  # targets are the inputs shifted by one


def test_bptt_batch_first_and_start():
    data = np.arange(40)
    time_major = list(BPTTBatcher(data, 4, 3))
    batch_first = list(BPTTBatcher(data, 4, 3, batch_first=True))
    for (x, y), (xb, yb) in zip(time_major, batch_first, strict=True):
        np.testing.assert_array_equal(xb, x.T)
        np.testing.assert_array_equal(yb, y.T)
    shifted = BPTTBatcher(data, 4, 3, start=2)
    assert len(shifted) == 3  # L = 10: windows start at 2, 5, 8 (the last one 1 long)
    for (x, y), (ex, ey) in zip(shifted, expected_windows(40, 4, 3, start=2), strict=True):
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)


def test_bptt_windows_are_copies():
    batcher = BPTTBatcher(np.arange(12), 2, 2)
    x, _ = next(iter(batcher))
    x[:] = -1
    assert next(iter(batcher))[0][0, 0] == 0


def test_bptt_shakespeare(shakespeare):
    ids = CharVocab.from_text(shakespeare).encode(shakespeare)
    batcher = BPTTBatcher(ids, batch_size=32, seq_len=64)
    L = len(ids) // 32
    assert len(batcher) == -(-(L - 1) // 64)
    x, y = next(iter(batcher))
    assert x.shape == y.shape == (64, 32)
    np.testing.assert_array_equal(x[:, 5], ids[5 * L : 5 * L + 64])
    np.testing.assert_array_equal(y[:, 5], ids[5 * L + 1 : 5 * L + 65])


def test_bptt_errors():
    with pytest.raises(
        ValueError,
        match="5 tokens are too few for batch_size=3; need at least 2 \\* batch_size = 6",
    ):
        BPTTBatcher(np.arange(5), 3, 2)
    BPTTBatcher(np.arange(6), 3, 2)  # exactly enough: one window of length 1
    for B, T in [(0, 2), (2, 0), (-1, 2), (2.0, 2), (True, 2)]:
        with pytest.raises(ValueError, match="must be a positive int"):
            BPTTBatcher(np.arange(10), B, T)
    with pytest.raises(TypeError, match="integer token ids, got dtype float64"):
        BPTTBatcher(np.arange(10.0), 2, 2)
    with pytest.raises(ValueError, match=r"1-D sequence of ids, got shape \(2, 5\)"):
        BPTTBatcher(np.arange(10).reshape(2, 5), 2, 2)
    with pytest.raises(ValueError, match=r"start must be an int in \[0, 4\), got 4"):
        BPTTBatcher(np.arange(10), 2, 2, start=4)
