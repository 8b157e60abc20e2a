"""PyTorch's checkpoint format (`torch.save` since 1.6, and before), read without torch.

A zip archive, every record stored uncompressed at a 64-byte aligned offset:

    archive/data.pkl      pickle (protocol 2) of the object; a tensor is
                          torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
                          requires_grad, OrderedDict()), its storage the persistent id
                          ("storage", torch.FloatStorage, "0", "cpu", numel)
    archive/.format_version, archive/.storage_alignment
                          "1" and "64" (recent PyTorch 2.x only)
    archive/byteorder     "little" (absent before PyTorch 2.1: little)
    archive/data/0        the raw bytes of storage "0", and so on
    archive/version       "3" (PyTorch 1.6 wrote it first)
    archive/.data/serialization_id   an id of the file (PyTorch 2.x)

"archive" is the file's name without extension when torch.save was given a path.

The format before 1.6 (`load_legacy`) is read too. Reading goes through
`unpickler.RestrictedUnpickler` (PyTorch's `weights_only=True` rules)
unless the caller passes `weights_only=False`. Loaded tensors that shared a storage in the
file share one array here (views), as in PyTorch.
"""

import io
import math
import pickle
import struct
import zipfile
import zlib
from collections import Counter, OrderedDict
from typing import Any

import numpy as np

from .tensor import Tensor
from .unpickler import RestrictedUnpickler, UnpicklingError, globals_in, user_allowed_globals

# storage class name -> NumPy dtype; None: NumPy has no such dtype
_STORAGES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
    "ComplexDoubleStorage": np.complex128, "ComplexFloatStorage": np.complex64,
    "BFloat16Storage": None, "QInt8Storage": None, "QUInt8Storage": None,
    "QInt32Storage": None, "UntypedStorage": np.uint8,
}
_DTYPES = {
    "float64": np.float64, "float32": np.float32, "float16": np.float16, "int64": np.int64,
    "int32": np.int32, "int16": np.int16, "int8": np.int8, "uint8": np.uint8, "bool": np.bool_,
    "complex128": np.complex128, "complex64": np.complex64, "uint16": np.uint16,
    "uint32": np.uint32, "uint64": np.uint64, "bfloat16": None,
}
STORAGE_NAMES = {np.dtype(v): k for k, v in _STORAGES.items() if v is not None and
               k != "UntypedStorage"}


class StorageType:
    """Stands for torch.FloatStorage & co. in a pickle: the dtype of a storage."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = None if _STORAGES[name] is None else np.dtype(_STORAGES[name])

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class Storage:
    """One storage of the file: a 1-d native-order array that tensors view."""

    def __init__(self, array: np.ndarray, key: str) -> None:
        self.array, self.key = array, key

    def __repr__(self) -> str:
        return f"Storage(key={self.key!r}, dtype={self.array.dtype}, numel={self.array.size})"


def _fail(msg: str) -> UnpicklingError:
    return UnpicklingError(msg)  # load_archive adds "load: <file>: "


def _is_int(x, low: int = 0) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= low


# ---------------------------------------------------------------- rebuild functions


def _view(storage, offset, size, stride) -> np.ndarray:
    """The tensor (offset, size, stride) into `storage`, bounds-checked, sharing its memory."""
    if not isinstance(storage, Storage):
        raise _fail(f"a tensor's storage must be a storage, got {type(storage).__name__}")
    size, stride = tuple(size), tuple(stride)
    if not (_is_int(offset) and all(_is_int(n) for n in size) and all(_is_int(s) for s in stride)
            and len(size) == len(stride)):
        raise _fail(f"bad tensor geometry: offset {offset!r}, size {size!r}, stride {stride!r}")
    a = storage.array
    if math.prod(size) == 0:
        return np.empty(size, a.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if last >= a.size:
        raise _fail(f"tensor of size {list(size)}, stride {list(stride)} at offset {offset} "
                    f"reaches element {last} of a storage of {a.size} elements")
    view = np.lib.stride_tricks.as_strided(
        a[offset:], shape=size, strides=tuple(s * a.itemsize for s in stride),
        writeable=not _overlaps(size, stride))
    return view


def _overlaps(size: tuple, stride: tuple) -> bool:
    """True if two indices reach the same element (an expanded tensor): PyTorch refuses
    writes to those, and so does the read-only view we give."""
    extent = 0
    for s, n in sorted((s, n) for n, s in zip(size, stride, strict=True) if n > 1):
        if s <= extent:
            return True
        extent += s * (n - 1)
    return False


def _tensor(array: np.ndarray, requires_grad, hooks, metadata=None) -> Tensor:
    if hooks or metadata:
        raise _fail("tensors with backward hooks or metadata are not supported")
    if not isinstance(requires_grad, bool):
        raise _fail(f"requires_grad must be a bool, got {requires_grad!r}")
    return Tensor._make(array).requires_grad_(requires_grad)


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                      metadata=None) -> Tensor:
    return _tensor(_view(storage, storage_offset, size, stride), requires_grad, backward_hooks,
                   metadata)


def rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                      dtype, metadata=None) -> Tensor:
    """v2 with the tensor's dtype given apart from its storage's (reinterpreting the bytes)."""
    if not isinstance(dtype, np.dtype):
        raise _fail(f"bad dtype {dtype!r}")
    if isinstance(storage, Storage) and storage.array.dtype != dtype:
        if storage.array.nbytes % dtype.itemsize:
            raise _fail(f"storage {storage.key} holds no whole number of {dtype} elements")
        storage = Storage(storage.array.view(np.uint8).view(dtype), storage.key)
    return rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
                             backward_hooks, metadata)


def rebuild_tensor(storage, storage_offset, size, stride) -> Tensor:
    return rebuild_tensor_v2(storage, storage_offset, size, stride, False, OrderedDict())


def rebuild_parameter(data, requires_grad, backward_hooks, state=None) -> Any:
    """nn.Parameter on data's storage, as torch's rebuild shares it (a copy per Parameter
    would let a small file of many Parameters on one storage fill the memory)."""
    # the engine imports nn only here, at load time, when the package has loaded it already
    from tinygrad_lstm.nn.parameter import Parameter

    if not isinstance(data, Tensor) or not isinstance(requires_grad, bool):
        raise _fail(f"bad Parameter arguments {type(data).__name__}, {requires_grad!r}")
    if backward_hooks or state:
        raise _fail("Parameters with backward hooks or extra state are not supported")
    p = Parameter(np.empty(0, data.dtype), requires_grad=False)
    p._array = data._array
    return p.requires_grad_(requires_grad)


def rebuild_device_tensor_from_numpy(data, dtype, device, requires_grad) -> Tensor:
    if not isinstance(data, np.ndarray) or not isinstance(dtype, np.dtype) or \
            dtype.kind not in "biufc":
        raise _fail(f"bad tensor from NumPy: {type(data).__name__} of {dtype!r:.40}")
    return _tensor(data.astype(dtype), requires_grad, None)


def _bytearray(*args) -> bytearray:  # bytearray(text, "latin-1"), never bytearray(size)
    if not (args == () or (len(args) == 2 and isinstance(args[0], str) and
                           args[1] in ("latin-1", "latin1")) or
            (len(args) == 1 and isinstance(args[0], (bytes, bytearray)))):
        raise _fail(f"bytearray{args!r:.60} is not bytes")
    return bytearray(*args)


class _Name:
    """A global that may be named in a pickle (an argument) but not called."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_NDARRAY = _Name("numpy.ndarray")


def _size(*args) -> tuple:  # torch.Size(seq)
    return tuple(*args)


def _device(*args) -> str:  # torch.device("cpu") or ("cuda", 0): its name
    return ":".join(str(a) for a in args)


def _codecs_encode(text, encoding="utf-8") -> bytes:  # how protocol 2 writes bytes
    if not isinstance(text, str) or encoding != "latin1":
        raise _fail(f"_codecs.encode only decodes latin1 text, got {encoding!r}")
    return text.encode("latin1")


# ---------------------------------------------------------------- NumPy arrays in a pickle
# Arrays pickle as _reconstruct(ndarray, (0,), b"b") then BUILD (1, shape, dtype, fortran,
# bytes); dtypes as dtype("f8", False, True) then BUILD (3, "<", ...). Rather than hand
# NumPy's __setstate__ a hostile state, REDUCE gives a stand-in whose __setstate__ checks the
# state and returns the real object, which the unpickler puts in the stand-in's place.


class _NpArray:
    _pickle_standin = True

    def __setstate__(self, state) -> np.ndarray:
        ok = isinstance(state, tuple) and len(state) == 5
        if ok:
            _, shape, dtype, fortran, raw = state
            ok = (isinstance(shape, tuple) and all(_is_int(n) for n in shape)
                  and isinstance(dtype, np.dtype) and isinstance(raw, (bytes, bytearray)))
        if not ok:
            raise _fail(f"bad NumPy array state {state!r:.100}")
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
            raise _fail(f"NumPy arrays of dtype {dtype} are not supported")
        if len(raw) != math.prod(shape) * dtype.itemsize:
            raise _fail(f"NumPy array of shape {shape} {dtype} has {len(raw)} bytes")
        a = np.frombuffer(bytes(raw), dtype).reshape(shape, order="F" if fortran else "C")
        return a.astype(dtype.newbyteorder("="))  # a writable native copy


def _np_reconstruct(cls, shape, typecode) -> _NpArray:
    if cls is not _NDARRAY:
        raise _fail(f"only plain NumPy arrays are supported, got {cls!r:.80}")
    return _NpArray()


class _NpDtype:
    _pickle_standin = True

    def __init__(self, code, align=False, copy=True) -> None:
        if not isinstance(code, str) or code not in _NP_CODES:
            raise _fail(f"NumPy dtype {code!r:.40} is not supported")
        self.dtype = np.dtype(code)

    def __setstate__(self, state) -> np.dtype:
        if not (isinstance(state, tuple) and len(state) >= 2 and state[1] in ("<", ">", "|")):
            raise _fail(f"bad NumPy dtype state {state!r:.100}")
        return self.dtype.newbyteorder(state[1]) if state[1] != "|" else self.dtype


_NP_CODES = {"f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1", "c8",
             "c16"}


def _np_scalar(dtype, raw) -> np.generic:
    if not isinstance(dtype, np.dtype) or not isinstance(raw, (bytes, str)):
        raise _fail("bad NumPy scalar")
    raw = raw.encode("latin1") if isinstance(raw, str) else raw
    if dtype.hasobject or len(raw) != dtype.itemsize:
        raise _fail(f"bad NumPy scalar of dtype {dtype}")
    return np.frombuffer(raw, dtype)[0]


def default_globals() -> dict[str, Any]:
    """Full name -> our object for every global allowed by default (PyTorch's list, plus
    NumPy arrays, dtypes and scalars, which we rebuild ourselves)."""
    g: dict[str, Any] = {
        "collections.OrderedDict": OrderedDict, "collections.Counter": Counter,
        "builtins.set": set, "builtins.bytearray": _bytearray, "builtins.complex": complex,
        "_codecs.encode": _codecs_encode, "torch.Size": _size, "torch.device": _device,
        "torch._utils._rebuild_tensor": rebuild_tensor,
        "torch._utils._rebuild_tensor_v2": rebuild_tensor_v2,
        "torch._utils._rebuild_tensor_v3": rebuild_tensor_v3,
        "torch._utils._rebuild_parameter": rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": rebuild_parameter,
        "torch._utils._rebuild_device_tensor_from_numpy": rebuild_device_tensor_from_numpy,
    }
    for name in _STORAGES:
        g[f"torch.{name}"] = StorageType(name)
    g["torch.storage.UntypedStorage"] = g["torch.UntypedStorage"]
    for name, dt in _DTYPES.items():
        g[f"torch.{name}"] = np.dtype(dt) if dt is not None else StorageType("BFloat16Storage")
    for core in ("numpy.core.multiarray", "numpy._core.multiarray"):
        g[f"{core}._reconstruct"] = _np_reconstruct
        g[f"{core}.scalar"] = _np_scalar
    g["numpy.ndarray"] = _NDARRAY  # an argument of _reconstruct: np.ndarray(n) would allocate
    g["numpy.dtype"] = _NpDtype
    return g


_DEFAULT_GLOBALS = default_globals()


# ---------------------------------------------------------------- reading


def load_archive(zf: zipfile.ZipFile, prefix: str, where: str, map_location,
                 weights_only: bool) -> Any:
    """The object in a torch zip archive whose records start with `prefix` ("archive/")."""
    names = set(zf.namelist())
    order = "little"
    if prefix + "byteorder" in names:
        order = zf.read(prefix + "byteorder").decode("ascii", "replace").strip()
        if order not in ("little", "big"):
            raise _fail(f"unknown byteorder {order!r}")
    storages: dict[str, Storage] = {}

    def persistent_load(pid) -> Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise _fail(f"unsupported persistent id {pid!r:.100}")
        _, stype, key, location, numel = pid
        if not isinstance(stype, StorageType) or not isinstance(key, str) or \
                not isinstance(location, str) or not _is_int(numel):
            raise _fail(f"bad storage id {pid!r:.100}")
        if stype.dtype is None:
            raise _fail(f"storage {key} is torch.{stype.name}, which NumPy cannot "
                        f"hold; convert it in PyTorch first (e.g. .float())")
        _check_location(location, map_location, where)
        if key not in storages:
            record = f"{prefix}data/{key}"
            if record not in names:
                raise _fail(f"storage record {record!r} is missing")
            nbytes = numel * stype.dtype.itemsize
            if zf.getinfo(record).file_size != nbytes:
                raise _fail(f"storage {key} has {zf.getinfo(record).file_size} bytes, "
                            f"expected {nbytes} for {numel} elements of {stype.dtype}")
            raw = np.frombuffer(zf.read(record), stype.dtype.newbyteorder(
                "<" if order == "little" else ">"))
            array = raw.astype(stype.dtype)  # writable, native order
            storage = Storage(array, key)
            if callable(map_location):
                storage = map_location(storage, location) or storage
            storages[key] = storage
        storage = storages[key]
        if storage.array.dtype != stype.dtype:
            raise _fail(f"storage {key} is read as {storage.array.dtype} and "
                        f"{stype.dtype}")
        return storage

    try:
        data = zf.read(prefix + "data.pkl")
        if weights_only:
            return RestrictedUnpickler(data, _DEFAULT_GLOBALS, persistent_load).load()
        return _TrustedUnpickler(io.BytesIO(data), persistent_load).load()
    except UnpicklingError as e:
        raise UnpicklingError(f"load: {where!r}: {e}") from e
    except pickle.UnpicklingError as e:  # weights_only=False: pickle's own reader
        raise _corrupt_pickle(where, e) from e
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as e:
        raise ValueError(f"load: {where!r} is not a valid checkpoint: {type(e).__name__}: "
                         f"{e}") from e


# ---------------------------------------------------------------- the format before 1.6
# torch.save before PyTorch 1.6 (and with _use_new_zipfile_serialization=False) writes five
# pickles one after the other: a magic number, the protocol version 1001, a dict of system
# info, the object (storage ids ("storage", type, key, location, numel, view)), the list of
# storage keys; then per key an int64 element count and the raw little-endian bytes.

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def load_legacy(buf: bytes, where: str, map_location, weights_only: bool) -> Any:
    """The object in a legacy torch.save file (`buf`), read like `load_archive`."""
    storages: dict[str, Storage] = {}
    budget = [len(buf)]  # storage bytes not yet claimed: none may exceed what the file holds

    def persistent_load(pid) -> Any:
        if isinstance(pid, tuple) and len(pid) == 4 and pid[0] == "module":
            return pid[1]  # a Module class, already through the allowlist as a GLOBAL
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise _fail(f"unsupported persistent id {pid!r:.100}")
        _, stype, key, location, numel, view = pid
        if not isinstance(stype, StorageType) or not isinstance(key, str) or \
                not isinstance(location, str) or not _is_int(numel):
            raise _fail(f"bad storage id {pid!r:.100}")
        if stype.dtype is None:
            raise _fail(f"storage {key} is torch.{stype.name}, which NumPy cannot hold; "
                        f"convert it in PyTorch first (e.g. .float())")
        _check_location(location, map_location, where)
        if key not in storages:
            budget[0] -= numel * stype.dtype.itemsize
            if budget[0] < 0:
                raise _fail(f"storages claim more bytes than the file's {len(buf)}")
            storage = Storage(np.zeros(numel, stype.dtype), key)  # filled below
            if callable(map_location):  # called before the data is read, as in PyTorch
                storage = map_location(storage, location) or storage
            storages[key] = storage
        storage = storages[key]
        if storage.array.dtype != stype.dtype or storage.array.size != numel:
            raise _fail(f"storage {key} is read as {numel} {stype.dtype} and "
                        f"{storage.array.size} {storage.array.dtype}")
        if view is not None:  # a view of storage `key` (PyTorch < 0.4)
            if not (isinstance(view, tuple) and len(view) == 3 and _is_int(view[1])
                    and _is_int(view[2]) and view[1] + view[2] <= numel):
                raise _fail(f"bad storage view {view!r:.100}")
            return Storage(storage.array[view[1]:view[1] + view[2]], f"{key}:{view[0]}")
        return storage

    try:
        if weights_only:
            unpickler = RestrictedUnpickler(buf, _DEFAULT_GLOBALS, persistent_load)
            loads = [unpickler.load, unpickler.load, unpickler.load, unpickler.load,
                     unpickler.load]
            magic, protocol, info, obj, keys = (f() for f in loads)
            pos = unpickler.pos
        else:
            f = io.BytesIO(buf)
            magic, protocol, info, obj, keys = (
                _TrustedUnpickler(f, persistent_load).load() for _ in range(5))
            pos = f.tell()
        if magic != LEGACY_MAGIC or protocol != 1001:
            raise _fail(f"not a torch.save file (magic {magic!r:.40}, protocol {protocol!r:.40})")
        if not isinstance(info, dict) or info.get("little_endian") is not True:
            raise _fail("saved on a big-endian machine, which this reader does not support")
        if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys) and
                sorted(keys) == sorted(storages) and len(set(keys)) == len(keys)):
            raise _fail(f"the storage list {keys!r:.100} does not match the storages used")
        for key in keys:  # each storage: int64 element count, then its bytes
            a = storages[key].array
            if pos + 8 + a.nbytes > len(buf) or struct.unpack_from("<q", buf, pos)[0] != a.size:
                raise _fail(f"storage {key}: the file has no {a.size} elements for it at "
                            f"byte {pos}")
            a[...] = np.frombuffer(buf, a.dtype.newbyteorder("<"), a.size, pos + 8)
            pos += 8 + a.nbytes
        if pos != len(buf):
            raise _fail(f"{len(buf) - pos} bytes after the last storage")
        return obj
    except UnpicklingError as e:
        raise UnpicklingError(f"load: {where!r}: {e}") from e
    except (pickle.UnpicklingError, EOFError) as e:  # weights_only=False: pickle's own reader
        raise _corrupt_pickle(where, e) from e


def _corrupt_pickle(where: str, e: Exception) -> UnpicklingError:
    """pickle's errors for a truncated or corrupt file, as ours: both UnpicklingError (as
    PyTorch raises) and ValueError, naming the file."""
    return UnpicklingError(f"load: {where!r}: corrupt pickle ({type(e).__name__}: {e})")


def unsafe_globals(zf: zipfile.ZipFile, prefix: str) -> list[str]:
    """Globals in the archive's pickle that `weights_only=True` does not allow right now."""
    allowed = {**_DEFAULT_GLOBALS, **user_allowed_globals()}
    return [g for g in globals_in(zf.read(prefix + "data.pkl")) if g not in allowed]


def _check_location(location: str, map_location, where: str) -> None:
    if callable(map_location):
        return
    if isinstance(map_location, dict):
        location = map_location.get(location, location)
    elif map_location is not None:
        location = str(map_location)
    if not isinstance(location, str) or location.split(":")[0] != "cpu":
        raise RuntimeError(
            f"load: {where} holds a storage saved on device {location!r}, and tinygrad_lstm "
            f"runs on the CPU only: pass map_location='cpu' to map storages to the CPU")


class _TrustedUnpickler(pickle.Unpickler):
    """weights_only=False: any global the file names is imported (runs code: trusted files
    only); PyTorch's own names map to ours, since torch is not installed."""

    def __init__(self, file, persistent_load) -> None:
        super().__init__(file)
        self._persistent_load = persistent_load

    def persistent_load(self, pid):
        return self._persistent_load(pid)

    def find_class(self, module: str, name: str):
        full = f"{module}.{name}"
        if full in _DEFAULT_GLOBALS and not module.startswith("numpy"):
            return _DEFAULT_GLOBALS[full]
        return super().find_class(module, name)


def archive_prefix(zf: zipfile.ZipFile) -> str | None:
    """"name/" if the zip is a torch archive (a `name/data.pkl` record), else None."""
    for n in zf.namelist():
        if n.endswith("/data.pkl") and n.count("/") == 1:
            return n[: -len("data.pkl")]
    return None
