"""tinygrad_lstm.utils.data against values written out, NumPy's own permutations (the generator's
draws) and PyTorch's documented examples."""

import collections

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn, optim
from tinygrad_lstm.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                                      IterableDataset, RandomSampler, SequentialSampler, Subset,
                                      SubsetRandomSampler, TensorDataset, WeightedRandomSampler,
                                      default_collate, default_convert, random_split)


def arange_dataset(n=10):
    """Samples (x_i, y_i) = ([i, 10 i] as float32, i as int64)."""
    i = np.arange(n)
    return TensorDataset(Tensor(np.stack([i, 10 * i], 1).astype(np.float32)), Tensor(i))


def labels(loader):
    return [yb.numpy().tolist() for _, yb in loader]


class Stream(IterableDataset):
    def __init__(self, n, with_len=True):
        self.n, self.with_len = n, with_len

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        if not self.with_len:
            raise TypeError("Stream has no len()")
        return self.n


# ---------------------------------------------------------------- datasets


def test_import_paths():
    assert tl.utils.data.DataLoader is DataLoader
    assert set(tl.utils.data.__all__) >= {"Dataset", "TensorDataset", "IterableDataset",
                                          "Subset", "random_split", "DataLoader"}


def test_tensor_dataset():
    ds = arange_dataset(4)
    assert len(ds) == 4
    x, y = ds[2]
    np.testing.assert_array_equal(x.numpy(), [2.0, 20.0])
    assert y.item() == 2 and y.dtype == np.int64
    with pytest.raises(AssertionError, match=r"Size mismatch between tensors: first dims \[3, 2\]"):
        TensorDataset(tl.zeros(3, 2), tl.zeros(2))


def test_concat_subset_and_add():
    a, b = arange_dataset(3), arange_dataset(2)
    both = a + b
    assert isinstance(both, ConcatDataset) and len(both) == 5
    assert [both[i][1].item() for i in range(5)] == [0, 1, 2, 0, 1]
    assert both[-1][1].item() == 1 and both.cumulative_sizes == [3, 5]
    with pytest.raises(IndexError):
        both[5]
    sub = Subset(a, [2, 0])
    assert len(sub) == 2 and sub[0][1].item() == 2 and sub[1][1].item() == 0
    with pytest.raises(NotImplementedError, match="Subclasses of Dataset should implement"):
        Dataset()[0]


@pytest.mark.parametrize("n, fractions, lengths", [
    (10, [0.25, 0.25, 0.5], [3, 2, 5]),  # ⌊2.5⌋, ⌊2.5⌋, 5 and one left over for the first
    (30, [0.3, 0.3, 0.4], [9, 9, 12]),  # 30·0.3 = 8.999…: [8, 8, 12], two left over
    (11, [0.5, 0.5], [6, 5]),
    (7, [3, 4], [3, 4]),  # lengths, not fractions
])
def test_random_split_lengths_and_indices(n, fractions, lengths):
    splits = random_split(range(n), fractions, generator=np.random.default_rng(3))
    assert [len(s) for s in splits] == lengths
    # the indices are one permutation from the generator, cut in order
    perm = np.random.default_rng(3).permutation(n).tolist()
    assert [list(s) for s in splits] == \
        [perm[sum(lengths[:i]):sum(lengths[:i + 1])] for i in range(len(lengths))]
    assert sorted(sum((list(s) for s in splits), [])) == list(range(n))


def test_random_split_errors_and_global_generator():
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the "
                                         "input dataset"):
        random_split(range(5), [2, 2])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        random_split(range(5), [1.5, -0.5])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(1), [0.5, 0.5])
    tl.manual_seed(7)
    first = [list(s) for s in random_split(range(9), [0.5, 0.5])]
    tl.manual_seed(7)
    assert [list(s) for s in random_split(range(9), [0.5, 0.5])] == first
    with pytest.raises(TypeError, match="generator: expected a numpy.random.Generator-like"):
        random_split(range(9), [0.5, 0.5], generator=42)


# ---------------------------------------------------------------- samplers


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    assert list(RandomSampler(range(6), generator=np.random.default_rng(0))) == \
        np.random.default_rng(0).permutation(6).tolist()
    # num_samples beyond the dataset without replacement: whole permutations, then a cut one
    sampler = RandomSampler(range(4), num_samples=10, generator=np.random.default_rng(1))
    drawn = list(sampler)
    assert len(sampler) == 10 and sorted(drawn[:4]) == sorted(drawn[4:8]) == [0, 1, 2, 3]
    assert len(set(drawn[8:])) == 2
    with_replacement = list(RandomSampler(range(3), replacement=True, num_samples=50))
    assert len(with_replacement) == 50 and set(with_replacement) == {0, 1, 2}
    assert sorted(SubsetRandomSampler([5, 7, 9])) == [5, 7, 9]
    assert list(WeightedRandomSampler([0.0, 0.0, 2.0], 4)) == [2, 2, 2, 2]
    assert sorted(WeightedRandomSampler([1, 1, 1], 3, replacement=False)) == [0, 1, 2]
    # PyTorch's BatchSampler docstring example
    assert list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False)) == \
        [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=True)) == \
        [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(BatchSampler(range(10), 3, False)) == 4
    assert len(BatchSampler(range(10), 3, True)) == 3


def test_sampler_errors():
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got "
                                         "batch_size=0"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value, but got "
                                         "drop_last=1"):
        BatchSampler(range(3), 2, 1)
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(range(3), replacement="yes")
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but "
                                         "got num_samples=0"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(ValueError, match=r"weights should be a 1d sequence but given weights "
                                         r"have shape \(2, 2\)"):
        WeightedRandomSampler([[1, 2], [3, 4]], 2)


# ---------------------------------------------------------------- collation


def test_default_collate_numbers_arrays_tensors():
    ints = default_collate([0, 1, 2, 3])
    assert ints.dtype == np.int64 and ints.numpy().tolist() == [0, 1, 2, 3]
    floats = default_collate([0.5, 1.5])
    assert floats.dtype == np.float64 and floats.numpy().tolist() == [0.5, 1.5]
    bools = default_collate([True, False])
    assert bools.dtype == np.bool_ and bools.numpy().tolist() == [True, False]
    np_scalars = default_collate([np.float32(1), np.float32(2)])
    assert np_scalars.dtype == np.float32 and np_scalars.shape == (2,)
    arrays = default_collate([np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    assert arrays.dtype == np.float64 and arrays.numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]
    tensors = default_collate([tl.ones(2, 3), tl.zeros(2, 3)])
    assert tensors.shape == (2, 2, 3) and tensors.dtype == np.float32
    assert default_collate(["a", "b", "c"]) == ["a", "b", "c"]


def test_default_collate_containers():
    # PyTorch's docstring examples
    d = default_collate([{"A": 0, "B": 1}, {"A": 100, "B": 100}])
    assert list(d) == ["A", "B"] and d["A"].numpy().tolist() == [0, 100]
    assert d["B"].numpy().tolist() == [1, 100]
    Point = collections.namedtuple("Point", ["x", "y"])
    p = default_collate([Point(0, 0), Point(1, 1)])
    assert type(p) is Point and p.x.numpy().tolist() == [0, 1] and p.y.numpy().tolist() == [0, 1]
    pairs = default_collate([(0, 1), (2, 3)])
    assert type(pairs) is list and [t.numpy().tolist() for t in pairs] == [[0, 2], [1, 3]]
    lists = default_collate([[0, 1], [2, 3]])
    assert [t.numpy().tolist() for t in lists] == [[0, 2], [1, 3]]
    nested = default_collate([(np.array([1, 2]), {"w": 0.5}), (np.array([3, 4]), {"w": 1.5})])
    assert nested[0].numpy().tolist() == [[1, 2], [3, 4]]
    assert nested[1]["w"].numpy().tolist() == [0.5, 1.5] and nested[1]["w"].dtype == np.float64


def test_default_collate_errors_and_convert():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal "
                                           "size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy "
                                        "arrays, numbers, dicts or lists; found <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(TypeError, match="found <class 'object'>"):
        default_collate([object(), object()])
    converted = default_convert((np.array([1, 2]), {"k": np.float32(3)}, "s"))
    assert isinstance(converted, list) and isinstance(converted[0], Tensor)
    assert converted[1]["k"].dtype == np.float32 and converted[2] == "s"
    arr = np.array([1.0, 2.0])
    assert np.shares_memory(default_convert(arr).numpy(), arr)  # as torch.as_tensor


# ---------------------------------------------------------------- DataLoader


def test_dataloader_sequential_batches():
    loader = DataLoader(arange_dataset(10), batch_size=4)
    assert len(loader) == 3
    assert labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    xb, yb = next(iter(loader))
    assert xb.shape == (4, 2) and xb.dtype == np.float32 and yb.dtype == np.int64
    np.testing.assert_array_equal(xb.numpy()[:, 1], [0, 10, 20, 30])
    dropping = DataLoader(arange_dataset(10), batch_size=4, drop_last=True)
    assert len(dropping) == 2 and labels(dropping) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert labels(DataLoader(arange_dataset(3))) == [[0], [1], [2]]  # batch_size defaults to 1


def test_dataloader_shuffle_draws_a_permutation_per_epoch():
    loader = DataLoader(arange_dataset(10), batch_size=3, shuffle=True,
                        generator=np.random.default_rng(4))
    ref = np.random.default_rng(4)
    for _ in range(2):  # each epoch is the generator's next permutation
        perm = ref.permutation(10).tolist()
        assert labels(loader) == [perm[0:3], perm[3:6], perm[6:9], perm[9:]]
    # the global generator by default: manual_seed makes the order reproducible
    tl.manual_seed(0)
    first = labels(DataLoader(arange_dataset(10), batch_size=5, shuffle=True))
    tl.manual_seed(0)
    assert labels(DataLoader(arange_dataset(10), batch_size=5, shuffle=True)) == first
    assert sorted(sum(first, [])) == list(range(10))


def test_dataloader_sampler_batch_sampler_collate_fn():
    ds = arange_dataset(6)
    assert labels(DataLoader(ds, batch_size=2, sampler=[5, 3, 1])) == [[5, 3], [1]]
    assert labels(DataLoader(ds, batch_sampler=[[0, 4], [2]])) == [[0, 4], [2]]
    shuffled = labels(DataLoader(ds, batch_size=3, sampler=SubsetRandomSampler([0, 2, 4])))
    assert len(shuffled) == 1 and sorted(shuffled[0]) == [0, 2, 4]

    def pad_collate(batch):  # variable-length sequences, padded with zeros, and their lengths
        lengths = [len(s) for s in batch]
        out = np.zeros((len(batch), max(lengths)), np.int64)
        for i, s in enumerate(batch):
            out[i, :len(s)] = s
        return Tensor(out), lengths

    seqs = [[1, 2, 3], [4], [5, 6]]
    padded, lengths = next(iter(DataLoader(seqs, batch_size=3, collate_fn=pad_collate)))
    assert padded.numpy().tolist() == [[1, 2, 3], [4, 0, 0], [5, 6, 0]] and lengths == [3, 1, 2]


def test_dataloader_without_batching_converts_samples():
    samples = list(DataLoader([np.array([1.0, 2.0]), np.array([3.0, 4.0])], batch_size=None))
    assert len(samples) == 2 and isinstance(samples[0], Tensor)
    assert samples[1].numpy().tolist() == [3.0, 4.0]
    assert len(DataLoader(range(5), batch_size=None)) == 5


def test_dataloader_uses_subset_getitems():
    class Batched(Dataset):
        def __init__(self):
            self.calls = []

        def __getitem__(self, i):
            return i

        def __getitems__(self, indices):
            self.calls.append(indices)
            return [10 * i for i in indices]

        def __len__(self):
            return 4

    base = Batched()
    loader = DataLoader(Subset(base, [3, 2, 1]), batch_size=2)
    assert [b.numpy().tolist() for b in loader] == [[30, 20], [10]]
    assert base.calls == [[3, 2], [1]]


def test_dataloader_iterable_dataset():
    assert [b.numpy().tolist() for b in DataLoader(Stream(7), batch_size=3)] == \
        [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.numpy().tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == \
        [[0, 1, 2], [3, 4, 5]]
    assert len(DataLoader(Stream(7), batch_size=3)) == 3
    assert len(DataLoader(Stream(7), batch_size=3, drop_last=True)) == 2
    assert list(DataLoader(Stream(2), batch_size=None)) == [0, 1]
    with pytest.raises(TypeError, match="Stream has no len"):
        len(DataLoader(Stream(7, with_len=False), batch_size=3))
    with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified "
                                         "shuffle option, but got shuffle=True"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler option"):
        DataLoader(Stream(3), sampler=[0, 1])
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        DataLoader(Stream(3), batch_size=0)
    chained = list(DataLoader(Stream(2) + Stream(3), batch_size=None))
    assert chained == [0, 1, 0, 1, 2]


def test_dataloader_errors():
    ds = arange_dataset(4)
    with pytest.raises(NotImplementedError, match="num_workers=2 is not supported: "
                                                  "tinygrad_lstm loads data in the main process"):
        DataLoader(ds, num_workers=2)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive with "
                                         "batch_size, shuffle, sampler, and drop_last"):
        DataLoader(ds, batch_size=2, batch_sampler=[[0, 1]])
    with pytest.raises(ValueError, match="batch_size=None option disables auto-batching and is "
                                         "mutually exclusive with drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified in "
                                         "multiprocessing"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no "
                                         "accelerator is found"):
        DataLoader(ds, pin_memory=True)


def test_dataloader_training_loop_loss_falls():
    # y = 3 x₀ - 2 x₁ + 1 fitted by minibatch SGD through a shuffled DataLoader
    tl.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 2)).astype(np.float32)
    y = (X @ np.array([3.0, -2.0], np.float32) + 1)[:, None]
    train, val = random_split(TensorDataset(Tensor(X), Tensor(y)), [0.75, 0.25])
    model = nn.Linear(2, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()

    def val_loss():
        with tl.no_grad():
            return float(np.mean([loss_fn(model(xb), yb).item()
                                  for xb, yb in DataLoader(val, batch_size=16)]))

    before = val_loss()
    for _ in range(10):
        for xb, yb in DataLoader(train, batch_size=8, shuffle=True):
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
    assert val_loss() < 1e-3 * before
