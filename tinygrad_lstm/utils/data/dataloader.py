"""DataLoader: batches from a dataset in the main process (torch.utils.data.DataLoader)."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, _check_bool,
                      _check_positive_int)


def get_worker_info() -> None:
    """None: data is always loaded in the main process here."""
    return None


class DataLoader:
    """Iterate over `dataset` in batches: `collate_fn([dataset[i] for i in batch])` for each
    list of indices from `batch_sampler` (by default BatchSampler(RandomSampler or
    SequentialSampler, batch_size, drop_last)). batch_size=None turns batching off and converts
    each sample with default_convert. An IterableDataset is read in order, batch_size at a time.

    len(loader) = ⌈len(dataset) / batch_size⌉, or ⌊…⌋ with drop_last. Loading runs in the main
    process: num_workers > 0 (and the options that only apply to workers) raise an error;
    pin_memory is accepted and does nothing, as on a machine without an accelerator.
    """

    def __init__(
        self,
        dataset: Dataset | Iterable,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable[list] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        _check_single_process(num_workers, timeout, multiprocessing_context, prefetch_factor,
                              persistent_workers)
        if pin_memory:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=2)
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = persistent_workers
        self.in_order = in_order

        self._is_iterable = isinstance(dataset, IterableDataset)
        if self._is_iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                     f"{name} option, but got {name}={value}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None and not self._is_iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else \
                SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._is_iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        if self._is_iterable and batch_size is not None:  # BatchSampler's checks, for a stream
            _check_positive_int("batch_size", batch_size)
            _check_bool("drop_last", drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._is_iterable and self.batch_size is not None)

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> Iterator:
        if self._is_iterable:
            return self._iter_stream(iter(self.dataset))
        return self._iter_indexed()

    def _iter_indexed(self) -> Iterator:
        getitems = getattr(self.dataset, "__getitems__", None)
        if not self._auto_collation:
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])
            return
        for indices in self.batch_sampler:
            samples = getitems(indices) if callable(getitems) else \
                [self.dataset[i] for i in indices]
            yield self.collate_fn(samples)

    def _iter_stream(self, stream: Iterator) -> Iterator:
        if not self._auto_collation:
            for sample in stream:
                yield self.collate_fn(sample)
            return
        while True:
            batch = list(itertools.islice(stream, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield self.collate_fn(batch)

    def __len__(self) -> int:
        if not self._is_iterable:
            return len(self._index_sampler)
        length = len(self.dataset)  # TypeError for a stream without __len__, as in PyTorch
        if self.batch_size is not None:
            rounding = math.floor if self.drop_last else math.ceil
            length = rounding(length / self.batch_size)
        return length


def _check_single_process(num_workers: int, timeout: float, multiprocessing_context: Any,
                          prefetch_factor: int | None, persistent_workers: bool) -> None:
    """Refuse the worker options, with PyTorch's wording where PyTorch checks them too."""
    if num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                         "disable multiprocessing.")
    if num_workers > 0:
        raise NotImplementedError(
            f"DataLoader: num_workers={num_workers} is not supported: tinygrad_lstm loads data "
            "in the main process only; use num_workers=0"
        )
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if multiprocessing_context is not None:
        raise ValueError("multiprocessing_context can only be used with multi-process loading "
                         "(num_workers > 0), but got num_workers=0")
    if prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                         "let num_workers > 0 to enable multiprocessing, otherwise set "
                         "prefetch_factor to None.")
    if persistent_workers:
        raise ValueError("persistent_workers option needs num_workers > 0")
