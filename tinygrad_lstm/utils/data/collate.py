"""Default collation: a list of samples -> one batch, as torch.utils.data.default_collate."""

from __future__ import annotations

import collections.abc
import copy
import re
from typing import Any

import numpy as np

from ...tensor import Tensor, stack

_STR_OR_OBJECT = re.compile(r"[SaUO]")  # NumPy dtype codes of strings and objects
_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
          "found {}")


def default_collate(batch: list) -> Any:
    """Stack a list of samples along a new first dim, recursing into containers:

        Tensors, NumPy arrays (n of shape S)  -> Tensor (n, *S), dtype kept
        NumPy scalars                         -> Tensor (n,), dtype kept
        Python floats -> float64 (n,);  ints -> int64 (n,);  bools -> bool (n,)
        str, bytes                            -> the list unchanged
        dicts      -> a dict of collated values, key by key
        namedtuple -> the same namedtuple of collated fields
        tuples, lists of equal length -> a list of collated positions (tuples become lists)
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        if _STR_OR_OBJECT.search(elem.dtype.str) is not None:
            raise TypeError(_ERROR.format(elem.dtype))
        return stack([Tensor._make(np.asarray(b)) for b in batch], 0)
    if isinstance(elem, (np.bool_, np.number, np.object_)):
        return Tensor(np.array(batch))
    if isinstance(elem, float):
        return Tensor(batch, dtype=np.float64)
    if isinstance(elem, int):  # and bool: int64 or bool, as torch.tensor infers
        return Tensor._make(np.array(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        return _rebuild_mapping(elem, collated)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(samples)) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        collated = [default_collate(list(samples)) for samples in zip(*batch)]
        return collated if isinstance(elem, tuple) else _rebuild_sequence(elem, collated)
    raise TypeError(_ERROR.format(type(elem)))


def default_convert(data: Any) -> Any:
    """NumPy arrays and scalars -> Tensors (sharing memory), inside containers too; the
    collate_fn when the DataLoader does not batch (batch_size=None)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if _STR_OR_OBJECT.search(data.dtype.str) else Tensor._make(data)
    if isinstance(data, (np.bool_, np.number)):
        return Tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data


def _rebuild_mapping(elem, values: dict) -> Any:
    """A mapping of elem's type holding `values` (a plain dict if the type cannot be rebuilt)."""
    try:
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)  # keeps the mapping's own attributes
            clone.update(values)
            return clone
        return type(elem)(values)
    except TypeError:
        return values


def _rebuild_sequence(elem, values: list) -> Any:
    """A sequence of elem's type holding `values` (a list if the type cannot be rebuilt)."""
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, v in enumerate(values):
                clone[i] = v
            return clone
        return type(elem)(values)
    except TypeError:
        return values
