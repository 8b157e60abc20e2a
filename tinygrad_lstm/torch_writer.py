"""torch.save's zip format, written without torch (read by `torch_format`, and by PyTorch).

A tensor pickles as torch._utils._rebuild_tensor_v2 on a persistent storage id, a Parameter
as torch._utils._rebuild_parameter; tensors on views of one NumPy array share one storage.
Everything else pickles as pickle does (protocol 2, as torch.save's default).
"""

import io
import pickle
import struct
import zipfile
import zlib
from collections import OrderedDict
from typing import Any

import numpy as np

from .tensor import Tensor
from .torch_format import STORAGE_NAMES


class _Global:
    """A name written as a GLOBAL opcode (torch's names, which we cannot import)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle wants a callable in a reduce tuple; never called
        raise NotImplementedError(f"{self.module}.{self.name} is a name to write, not call")


_REBUILD_V2 = _Global("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _Global("torch._utils", "_rebuild_parameter")
_STORAGE_TYPES: dict[str, _Global] = {}


def _storage_type(name: str) -> _Global:
    """torch.FloatStorage & co., one object per name: pickle's memo then writes a repeated
    one as BINGET, as torch's pickle does with the class."""
    return _STORAGE_TYPES.setdefault(name, _Global("torch", name))


class _Pickler(pickle._Pickler):
    """Protocol 2, as torch.save writes: tensors as torch._utils._rebuild_tensor_v2 calls on
    persistent storages; the pure-Python pickler, whose save_global can write torch names."""

    def __init__(self, file) -> None:
        super().__init__(file, protocol=2)
        self.storages: dict[int, _StorageRef] = {}  # id(base array) -> its storage

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            from tinygrad_lstm.nn.parameter import Parameter  # loaded when one exists

            if isinstance(obj, Parameter):
                return _REBUILD_PARAMETER, (Tensor._make(obj._array), obj.requires_grad,
                                            OrderedDict())
            storage, offset, stride = self.storage_of(obj._array)
            return _REBUILD_V2, (storage, offset, obj.shape, stride, obj.requires_grad,
                                 OrderedDict())
        return NotImplemented

    def save_torch_global(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch = {**pickle._Pickler.dispatch, _Global: save_torch_global}

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", _storage_type(obj.type_name), obj.key, "cpu", obj.numel)
        return None

    def storage_of(self, a: np.ndarray) -> tuple:
        """(storage, offset, stride) in elements; views of one array share its storage."""
        if a.dtype.hasobject or a.dtype.newbyteorder("=") not in STORAGE_NAMES:
            raise TypeError(f"save: cannot save a tensor of dtype {a.dtype}")
        base = a
        while isinstance(base.base, np.ndarray):
            base = base.base
        item = a.itemsize
        offset = a.__array_interface__["data"][0] - base.__array_interface__["data"][0]
        shareable = (base.dtype == a.dtype and a.dtype.isnative and base.flags.c_contiguous
                     and offset % item == 0 and all(s >= 0 and s % item == 0 for s in a.strides))
        if not shareable:
            base, offset = np.ascontiguousarray(a, a.dtype.newbyteorder("=")), 0
        if id(base) not in self.storages:
            self.storages[id(base)] = _StorageRef(str(len(self.storages)), base)
        ref = self.storages[id(base)]
        if shareable:
            return ref, offset // item, tuple(s // item for s in a.strides)
        return ref, 0, tuple(s // item for s in base.strides)


class _StorageRef:
    def __init__(self, key: str, base: np.ndarray) -> None:
        self.key, self.base, self.numel = key, base, base.size
        self.type_name = STORAGE_NAMES[base.dtype]


def dumps(obj: Any) -> bytes:
    """The bytes of a torch zip archive holding `obj`, as torch.save writes them."""
    buf = io.BytesIO()
    pickler = _Pickler(buf)
    try:
        pickler.dump(obj)
    except (pickle.PicklingError, AttributeError) as e:
        raise TypeError(f"save: cannot pickle {type(obj).__name__}: {e}") from e
    # torch 2.x's records in its order (torch/serialization.py _save, then
    # PyTorchStreamWriter's end of file: version and serialization_id)
    records = [("data.pkl", buf.getvalue())]
    storages = [(f"data/{ref.key}", ref.base.astype(ref.base.dtype.newbyteorder("<"),
                                                    copy=False).tobytes())
                for ref in pickler.storages.values()]
    if sum(len(data) for _, data in storages) < _OFFSETS_LIMIT:
        records += [(".format_version", b"1"), (".storage_alignment", b"64")]
    records += [("byteorder", b"little"), *storages, ("version", b"3\n")]
    records.append((".data/serialization_id", _serialization_id(records)))
    out = io.BytesIO()
    with zipfile.ZipFile(_WriteOnly(out), "w", zipfile.ZIP_STORED) as zf:
        for name, data in records:
            _write_aligned(zf, f"archive/{name}", data)
    return out.getvalue()


# .format_version "1" tells torch.load it may compute where each storage's data starts (in
# meta/fake-tensor loads, say) from the storages before it, assuming PyTorch's writer: data
# at 64-byte multiples, each record followed by a 16-byte data descriptor. zipfile writes
# those to a stream it cannot seek, but switches to zip64 headers (longer ones) for members
# past about 1.9 GiB: larger files go without the record, and torch reads every offset.
_OFFSETS_LIMIT = int(zipfile.ZIP64_LIMIT / 1.05) - 2**20


class _WriteOnly:
    """A stream zipfile cannot seek or tell: it then writes each record's CRC-32 and sizes
    in a data descriptor after the data, as PyTorch's writer (miniz) does."""

    def __init__(self, f: io.BytesIO) -> None:
        self.write, self.flush = f.write, f.flush


def _serialization_id(records: list) -> bytes:
    """40 digits identifying the file, as PyTorchStreamWriter's: 20 of a hash of the record
    names, 20 of c10::hash_combine over the records' CRC-32s (torch hashes the names with
    C++'s std::hash, which varies with the library; CRC-32 here)."""
    def combine(seed: int, value: int) -> int:
        return (seed ^ (value + 0x9E3779B9 + (seed << 6) + (seed >> 2))) % 2**64

    names = crcs = 0
    for name, data in records:
        names, crcs = combine(names, zlib.crc32(name.encode())), combine(crcs, zlib.crc32(data))
    return f"{names:020d}{crcs:020d}".encode()


def _write_aligned(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    """A stored record whose data starts at a multiple of 64 bytes, padded as PyTorch pads
    (an extra field "FB" of "Z" bytes), so PyTorch can memory-map it."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    start = zf.fp.tell() + 30 + len(name.encode("utf-8")) + 4
    pad = -start % 64
    info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
    info.compress_type = zipfile.ZIP_STORED
    zf.writestr(info, data)

