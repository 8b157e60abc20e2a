"""Variable-length sequences (torch.nn.utils.rnn): pad, pack and unpack ragged batches.

A PackedSequence holds B sequences sorted longest first, time step by time step: `data` is
step 0 of every sequence, then step 1 of those still running, and so on; `batch_sizes[t]` is
how many sequences run at step t. For lengths [3, 2, 1] and sequences a, b, c:

    data = [a0, b0, c0, a1, b1, a2],  batch_sizes = [3, 2, 1]

`sorted_indices[k]` is the original batch position of sorted row k (None when the batch came
sorted), `unsorted_indices` its inverse. Every function here is Tensor ops (one gather each),
so gradients flow through packing and unpacking.
"""

from collections import namedtuple

import numpy as np

from tinygrad_lstm.tensor import Tensor, cat

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pack_sequence",
           "pad_packed_sequence", "pad_sequence", "unpack_sequence", "unpad_sequence"]

_PackedSequenceBase = namedtuple("PackedSequence_",
                                 ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_PackedSequenceBase):
    """(data, batch_sizes, sorted_indices, unsorted_indices), PyTorch's PackedSequence.

    Shape: data: (sum of lengths, *); batch_sizes: (T,) int64; indices: (B,) int64 or None.
    Made by pack_padded_sequence / pack_sequence and by the recurrent modules, not by hand.
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PyTorch also takes the pair (data, batch_sizes) as data
            if not isinstance(data, (list, tuple)) or len(data) != 2:
                raise TypeError("PackedSequence: expected data and batch_sizes, or a pair "
                                "(data, batch_sizes) as the first argument")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> "PackedSequence":
        """data converted with Tensor.to; the integer bookkeeping stays as it is."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def float(self) -> "PackedSequence": return self.to(np.float32)
    def double(self) -> "PackedSequence": return self.to(np.float64)
    def long(self) -> "PackedSequence": return self.to(np.int64)
    def cpu(self) -> "PackedSequence": return self

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The permutation q with q[p[i]] = i (None stays None)."""
    if permutation is None:
        return None
    p = np.asarray(permutation._array if isinstance(permutation, Tensor) else permutation)
    inverse = np.empty_like(p, dtype=np.int64)
    inverse[p] = np.arange(len(p))
    return Tensor(inverse)


def _lengths_array(lengths) -> np.ndarray:
    """lengths (a list, array or Tensor) as a 1-d int64 array, as torch.as_tensor makes it."""
    arr = np.asarray(lengths._array if isinstance(lengths, Tensor) else lengths)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer)
                             or np.issubdtype(arr.dtype, np.floating)):
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                           f"{arr.ndim}D cpu {arr.dtype} tensor")
    return arr.astype(np.int64)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch: keep, time step by time step, the rows still running.

    Shape: input: (T, B, *), or (B, T, *) if batch_first; lengths: B ints (list or Tensor)
        -> PackedSequence with data (sum of lengths, *). enforce_sorted=False sorts the batch
        by decreasing length first (stably) and records the order in sorted_indices.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pack_padded_sequence: expected input to be a Tensor, got "
                        f"{type(input).__name__}")
    lengths = _lengths_array(lengths)
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: expected input of at least 2 dims (time and "
                         f"batch), got shape {input.shape}")
    if input.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    time_dim, batch_dim = (1, 0) if batch_first else (0, 1)
    batch_size = input.shape[batch_dim]
    if len(lengths) != batch_size:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(lengths)} (batch_size={batch_size})")
    if enforce_sorted:
        sorted_indices = None
    else:
        order = np.argsort(-lengths, kind="stable")  # longest first, ties in batch order
        sorted_indices, lengths = Tensor(order), lengths[order]
    # PyTorch's checks in its order: the (sorted) last length, then the sortedness
    if lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if np.any(lengths[1:] > lengths[:-1]):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                           "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                           "pack_padded_sequence and/or pack_sequence to sidestep this "
                           "requirement if you do not need ONNX exportability.")
    if lengths[0] > input.shape[time_dim]:
        # PyTorch packs fewer rows than batch_sizes promise here and fails later; refuse now
        raise RuntimeError(f"pack_padded_sequence: a sequence of length {lengths[0]} does not "
                           f"fit in the padded input of shape {input.shape} (time dim "
                           f"{time_dim} has {input.shape[time_dim]} steps)")
    # packed row k is time step t_k of sorted row b_k: time-major order of the running cells
    t_idx, b_idx = np.nonzero(np.arange(lengths[0])[:, None] < lengths[None, :])
    batch_sizes = np.bincount(t_idx).astype(np.int64)  # (T,)
    if sorted_indices is not None:
        b_idx = sorted_indices._array[b_idx]  # the sorted row's position in the input
    data = input[(b_idx, t_idx) if batch_first else (t_idx, b_idx)]  # (sum of lengths, *)
    return PackedSequence(data, Tensor(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None
                        ) -> tuple[Tensor, Tensor]:
    """The inverse of pack_padded_sequence: (padded, lengths), in the original batch order.

    Shape: data (sum of lengths, *) -> padded: (T, B, *), or (B, T, *) if batch_first, with
        T = total_length or the longest length; lengths: (B,) int64.
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got "
                        f"{type(sequence).__name__}")
    data = sequence.data
    sizes = _batch_sizes_array(sequence.batch_sizes)
    max_seq_length = len(sizes)
    if total_length is not None:
        if total_length < max_seq_length:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {max_seq_length}")
        max_seq_length = total_length
    batch_size, rows = int(sizes[0]), int(sizes.sum())
    if data.shape[0] != rows:
        raise RuntimeError(f"pad_packed_sequence: data has {data.shape[0]} rows but "
                           f"batch_sizes {sizes.tolist()} add up to {rows}")
    # grid[t, b]: the packed row of step t of sorted row b, or `rows` (a padding row) past its end
    running = np.arange(batch_size)[None, :] < sizes[:, None]  # (T_real, B)
    grid = np.full((max_seq_length, batch_size), rows, np.int64)
    grid[:len(sizes)][running] = np.arange(rows)
    lengths = running.sum(0).astype(np.int64)  # (B,)
    if sequence.unsorted_indices is not None:
        unsorted = sequence.unsorted_indices._array
        grid, lengths = grid[:, unsorted], lengths[unsorted]
    pad = Tensor(np.full((1, *data.shape[1:]), padding_value, data.dtype))
    padded = cat([data, pad], 0)[grid.T if batch_first else grid]
    return padded, Tensor(lengths)


def _batch_sizes_array(batch_sizes) -> np.ndarray:
    sizes = np.asarray(batch_sizes._array if isinstance(batch_sizes, Tensor) else batch_sizes)
    if sizes.ndim != 1 or len(sizes) == 0 or sizes[-1] <= 0 or np.any(sizes[1:] > sizes[:-1]):
        raise ValueError(f"PackedSequence: batch_sizes must be a non-empty, non-increasing "
                         f"list of positive ints, got {sizes.tolist()}")
    return sizes.astype(np.int64)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of different lengths, padded with padding_value to the longest.

    Shape: B tensors (L_i, *) -> (T, B, *), or (B, T, *) if batch_first, T = max L_i.
    """
    sequences = tuple(sequences)
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    if len(sequences) == 0:
        raise RuntimeError("received an empty list of sequences")
    trailing = sequences[0].shape[1:]
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor) or s.ndim == 0 or s.shape[1:] != trailing:
            shape = s.shape if isinstance(s, Tensor) else type(s).__name__
            raise RuntimeError(f"pad_sequence: sequence {i} is {shape}; expected a Tensor of "
                               f"shape (L, *{trailing}) like sequence 0")
    lens = np.array([s.shape[0] for s in sequences])
    max_len, total = int(lens.max()), int(lens.sum())
    # grid[t, b]: the row of sequence b's step in the concatenation, or `total` (padding)
    steps = np.arange(max_len)[:, None]
    start = max_len - lens[None, :] if padding_side == "left" else 0
    inside = (steps >= start) & (steps < start + lens[None, :])  # (T, B)
    grid = np.full((max_len, len(sequences)), total, np.int64)
    grid.T[inside.T] = np.arange(total)  # sequence by sequence: the concatenation's order
    pad = Tensor(np.full((1, *trailing), padding_value, sequences[0].dtype))
    return cat([*sequences, pad], 0)[grid.T if batch_first else grid]


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """The inverse of pad_sequence: B tensors (L_i, *) from (T, B, *) or (B, T, *)."""
    lengths = _lengths_array(lengths)
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[b, :int(n)] for b, n in enumerate(lengths)]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack B tensors (L_i, *): pad_sequence then pack_padded_sequence."""
    sequences = tuple(sequences)
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The inverse of pack_sequence: B tensors (L_i, *) in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
