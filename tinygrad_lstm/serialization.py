"""Checkpoints: `save(obj, f)` and `load(f)`, `f` a path or a binary file object.

`save` picks the format; `load` tells them apart by content (a path's extension aside):

`.npz` (the default, and what a file object gets): every array is stored as a plain `.npy`
member of an uncompressed zip, and one more member, `__structure__`, holds JSON (as UTF-8
bytes in a uint8 array) describing the nested dicts, lists, tuples and plain values around
them. Loading never unpickles, so a file cannot run code.

PyTorch's format: what `torch.save` writes (the zip, and the format before PyTorch 1.6).
`load` reads it without torch (`torch_format`) through a restricted unpickler (`unpickler`)
that allows only what PyTorch's `weights_only=True` allows, NumPy arrays, and the classes
listed with `add_safe_globals` / `safe_globals`; `load(f, weights_only=False)` runs whatever
the file names, for trusted files only. `save` writes the zip (`torch_writer`) only for an
object `.npz` cannot hold, such as a whole `nn.Module`: pickling is the only way to hold it,
as in PyTorch, and loading it then needs its classes allowed.

`.safetensors`: a flat dict name -> tensor in Hugging Face's format, written with numpy and
json alone and byte-identical to what the `safetensors` library writes: an 8-byte
little-endian header length, a compact JSON header padded with spaces to a multiple of 8,
then the raw little-endian bytes, tensors sorted by decreasing dtype alignment, then name.

A path is written atomically: to a temporary file in the target's directory, fsync'ed, then
`os.replace`d over the target, so a crash or error never leaves a half-written checkpoint.
"""

import io
import json
import math
import os
import struct
import secrets
import zipfile
from typing import Any

import numpy as np

from . import torch_format, torch_writer
from .creation import from_numpy
from .tensor import Tensor
from .unpickler import (UnpicklingError, add_safe_globals, clear_safe_globals, get_safe_globals,
                        safe_globals)

__all__ = ["UnpicklingError", "add_safe_globals", "atomic_write", "clear_safe_globals",
           "get_safe_globals", "get_unsafe_globals_in_checkpoint", "load", "safe_globals", "save"]

_STRUCTURE = "__structure__"
_FORMAT = "tinygrad_lstm.checkpoint"
_VERSION = 1

# safetensors dtype names in the library's `Dtype` enum order ("increasing alignment"), which
# sets the write order. None: a dtype the format knows but NumPy cannot hold.
_ST_DTYPES = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "F8_E5M2": None,
    "F8_E4M3": None,
    "I16": np.dtype(np.int16),
    "U16": np.dtype(np.uint16),
    "F16": np.dtype(np.float16),
    "BF16": None,
    "I32": np.dtype(np.int32),
    "U32": np.dtype(np.uint32),
    "F32": np.dtype(np.float32),
    "F64": np.dtype(np.float64),
    "I64": np.dtype(np.int64),
    "U64": np.dtype(np.uint64),
}
_ST_NAME = {dt: name for name, dt in _ST_DTYPES.items() if dt is not None}
_ST_RANK = {name: rank for rank, name in enumerate(_ST_DTYPES)}
_ST_MAX_HEADER = 100_000_000  # the library's MAX_HEADER_SIZE
_MAX_DEPTH = 200  # nesting of the .npz structure: deeper is refused, not a RecursionError
# deflate expands at most ~1032x: a member claiming more is a zip bomb, refused unread
_MAX_RATIO = 1100
# how torch.save wrote files before PyTorch 1.6: a pickled magic number first
_LEGACY_TORCH = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


def save(obj: Any, f) -> None:
    """Write `obj` to `f`, a path (atomically) or a binary file object (at its position).

    obj: nested dicts (str or int keys), lists, tuples, Tensors, ndarrays, NumPy scalars and
    int/float/bool/str/None go to `.npz`; a path ending in `.safetensors` holds a flat dict
    str -> Tensor/ndarray only. Anything else (a whole `nn.Module`, a set, your own class) is
    pickled in PyTorch's zip format, as `torch.save` does, except to a path ending in `.npz`.
    Raises TypeError for an object that cannot be saved (object arrays included), ValueError
    for a structure the format cannot hold; an existing file at `f` is then left as it was.
    """
    if isinstance(f, (str, os.PathLike)):
        path = _check_path(f, "save")
        payload = _payload(obj, path)
        atomic_write(path, lambda fh: fh.write(payload))
    elif hasattr(f, "write"):
        f.write(_payload(obj, ""))
    else:
        raise TypeError(f"save: expected a path or a binary file object, got "
                        f"{type(f).__name__}")


def _payload(obj: Any, path: str) -> bytes:
    if path.endswith(".safetensors"):
        return _safetensors_bytes(obj, path)
    arrays: dict[str, np.ndarray] = {}
    try:
        root = _encode(obj, arrays, "obj", set())
    except _NeedsPickle as e:
        if path.endswith(".npz"):
            raise e.error from None
        return torch_writer.dumps(obj)
    meta = {"format": _FORMAT, "version": _VERSION, "root": root}
    text = json.dumps(meta, ensure_ascii=False, separators=(",", ":"))
    arrays[_STRUCTURE] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    buf = io.BytesIO()
    # no allow_pickle=False (older NumPy would save it as an array): _encode refused objects
    np.savez(buf, **arrays)
    return buf.getvalue()


def load(f, map_location=None, *, weights_only: bool | None = None, mmap: bool | None = None
         ) -> Any:
    """Read what `save` or `torch.save` wrote to `f` (a path or a binary file object).

    Our `.npz`: the same structure, Tensors as leaf Tensors that keep requires_grad, and
    Parameters as Parameters, as after torch.save. A safetensors file, or a plain
    `np.savez` archive: a dict name -> Tensor. A `torch.save` file: its
    object, tensors as Tensors with their dtypes (views of one storage share it), through
    an unpickler that allows only PyTorch's `weights_only=True` globals, NumPy arrays and what
    `add_safe_globals` / `safe_globals` list. `weights_only=False` imports and runs whatever
    the file names: use it for files you trust only. map_location: None, "cpu", a dict or a
    callable, as in PyTorch (the CPU is the only device). mmap is accepted and ignored.
    Raises FileNotFoundError for a missing file; ValueError (`UnpicklingError` for a refused
    pickle) naming the file for a corrupt, hostile or unsupported one.
    """
    buf, where = _read(f, "load")
    if where.endswith(".safetensors") or _is_safetensors(buf):
        return _safetensors_load(buf, where)
    if buf[:4] == b"PK\x03\x04":
        zf, prefix = _torch_archive(buf, where)
        if prefix is not None:
            return torch_format.load_archive(zf, prefix, where, map_location,
                                             weights_only is not False)
    if buf.startswith(_LEGACY_TORCH):
        return torch_format.load_legacy(buf, where, map_location, weights_only is not False)
    return _npz_load(where, buf)


def get_unsafe_globals_in_checkpoint(f) -> list[str]:
    """The "module.qualname" of every global in a torch.save file that `load` would refuse
    now (read without running anything): what to pass to `add_safe_globals` if you trust them.
    Our `.npz` and safetensors files name none."""
    buf, where = _read(f, "get_unsafe_globals_in_checkpoint")
    zf, prefix = _torch_archive(buf, where) if buf[:4] == b"PK\x03\x04" else (None, None)
    if prefix is None:
        return []
    try:
        return torch_format.unsafe_globals(zf, prefix)
    except UnpicklingError as e:
        raise UnpicklingError(f"get_unsafe_globals_in_checkpoint: {where!r}: {e}") from e
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise _corrupt(where, f"{type(e).__name__}: {e}") from e


def _read(f, fn: str) -> tuple[bytes, str]:
    """The bytes of a path or binary file object, and a name for messages."""
    if isinstance(f, (str, os.PathLike)):
        where = _check_path(f, fn)
        with open(where, "rb") as fh:
            return fh.read(), where
    if hasattr(f, "read"):
        buf = f.read()
        if not isinstance(buf, (bytes, bytearray, memoryview)):
            raise TypeError(f"{fn}: expected a binary file object, got one reading "
                            f"{type(buf).__name__}")
        return bytes(buf), str(getattr(f, "name", "<file object>"))
    raise TypeError(f"{fn}: expected a path or a binary file object, got {type(f).__name__}")


def _torch_archive(buf: bytes, where: str) -> tuple:
    """(zip, "name/") for a torch.save archive, (zip, None) for another zip, (None, None) if
    the zip does not open (the .npz reader then says why)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(buf))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return None, None
    _check_zip(zf, len(buf), where)
    if any(n.endswith("constants.pkl") for n in zf.namelist()):
        raise ValueError(f"load: {where!r} is a TorchScript archive (torch.jit.save), which "
                         f"holds code; only torch.save files are read")
    return zf, torch_format.archive_prefix(zf)


def _is_safetensors(buf: bytes) -> bool:
    """An 8-byte little-endian length, then a JSON object of that length."""
    if len(buf) < 10:
        return False
    (n,) = struct.unpack("<Q", buf[:8])
    return 2 <= n <= len(buf) - 8 and buf[8:9] == b"{"


def _check_zip(zf: zipfile.ZipFile, size: int, where: str) -> None:
    """Refuse, before reading anything, members no honest zip of `size` bytes could hold."""
    total = 0
    for info in zf.infolist():
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _corrupt(where, f"member {info.filename!r} uses compression method "
                                  f"{info.compress_type}; only stored and deflated are read")
        if info.file_size > _MAX_RATIO * info.compress_size + 1024:
            raise _corrupt(where, f"member {info.filename!r} claims {info.file_size} bytes "
                                  f"from {info.compress_size} compressed bytes (a zip bomb?)")
        total += info.compress_size
    if total > size:
        raise _corrupt(where, f"members claim {total} compressed bytes in a file of {size} "
                              f"(overlapping members: a zip bomb?)")


def _check_path(path, fn: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{fn}: expected a str or os.PathLike path, got {type(path).__name__}")
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"{fn}: expected a str path, got {type(path).__name__}")
    return path


def atomic_write(path: str, write) -> None:
    """Run `write(f)` on a new file next to `path`, fsync it, then rename it over `path`."""
    dirname, basename = os.path.split(os.path.abspath(path))
    tmp = os.path.join(dirname, f".{basename}.{secrets.token_hex(6)}.tmp")
    # O_EXCL never clobbers; mode 0o666 lets the umask decide, as for an ordinary open()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if os.name == "posix":  # make the rename itself durable
        dir_fd = os.open(dirname, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _corrupt(path: str, what: str) -> ValueError:
    return ValueError(f"load: {path!r} is not a valid checkpoint: {what}")


# ---------------------------------------------------------------- .npz: structure <-> JSON
# Plain values are JSON scalars; everything else is a one-key JSON object naming its kind,
# so the two never collide: {"dict": [[key, value], ...]}, {"list": [...]}, {"tuple": [...]},
# {"tensor": member}, {"ndarray": member}, {"scalar": member} (NumPy scalar as a 0-d array),
# and, so that they load as torch.load gives them back, {"tensor_requires_grad": member} and
# {"parameter": [member, requires_grad]}.


class _NeedsPickle(Exception):
    """An object the .npz format cannot hold; `error` is what saving to `.npz` raises."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _encode(obj, arrays: dict, where: str, active: set):
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj  # json writes repr(obj), which reads back to the same float (nan/inf too)
    if isinstance(obj, Tensor):
        member = _add_array(obj._array, arrays, where)
        if type(obj) is not Tensor:
            from tinygrad_lstm.nn.parameter import Parameter  # loaded when one exists

            if isinstance(obj, Parameter):
                return {"parameter": [member, obj.requires_grad]}
        return {"tensor_requires_grad" if obj.requires_grad else "tensor": member}
    if isinstance(obj, np.ndarray):
        return {"ndarray": _add_array(obj, arrays, where)}
    if isinstance(obj, np.generic):
        return {"scalar": _add_array(np.asarray(obj), arrays, where)}
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in active:
            raise ValueError(f"save: {where} contains itself")
        if len(active) >= _MAX_DEPTH:
            raise ValueError(f"save: {where} is nested deeper than {_MAX_DEPTH} levels")
        active.add(id(obj))
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if isinstance(k, bool) or not isinstance(k, (str, int)):
                    raise _NeedsPickle(TypeError(
                        f"save: dict keys must be str or int, got {type(k).__name__} {k!r} "
                        f"in {where}"
                    ))
                items.append([k, _encode(v, arrays, f"{where}[{k!r}]", active)])
            out = {"dict": items}
        else:
            kind = "list" if isinstance(obj, list) else "tuple"
            out = {kind: [_encode(v, arrays, f"{where}[{i}]", active) for i, v in enumerate(obj)]}
        active.discard(id(obj))
        return out
    raise _NeedsPickle(TypeError(f"save: cannot save {type(obj).__name__} at {where}"))


def _add_array(a: np.ndarray, arrays: dict, where: str) -> str:
    if a.dtype.hasobject:
        raise TypeError(f"save: object arrays need pickle and are refused ({where})")
    key = f"a{len(arrays)}"
    arrays[key] = np.asarray(a)  # an ndarray subclass is stored as the plain array
    return key


def _npz_load(path: str, buf: bytes):
    if buf[:1] == b"\x80":  # a pickle stream (protocol 2+) starts with PROTO
        raise ValueError(f"load: refusing to load pickled data from {path!r}")
    if not zipfile.is_zipfile(io.BytesIO(buf)):
        raise _corrupt(path, "not a zip archive (truncated or not an .npz file)")
    arrays = {}
    try:
        with zipfile.ZipFile(io.BytesIO(buf)) as zf:
            _check_zip(zf, len(buf), path)
            members = [n for n in zf.namelist() if n.endswith(".npy")]
            if not members:
                raise _corrupt(path, "a zip archive with no arrays (.npy members) in it")
            # check every header before reading any data, so a pickled member is refused
            # whether or not the structure mentions it, and a shape the member cannot hold
            # is refused before read_array allocates it
            for name in members:
                with zf.open(name) as f:
                    shape, dtype = _npy_header(f)
                    if dtype.hasobject:
                        raise ValueError(f"load: refusing to load pickled data from {path!r}")
                    held = zf.getinfo(name).file_size - f.tell()
                    if math.prod(shape) * dtype.itemsize > held:
                        raise _corrupt(path, f"{name!r} claims shape {shape} of {dtype} but "
                                             f"holds {held} bytes")
            for name in members:
                with zf.open(name) as f:
                    arrays[name[: -len(".npy")]] = np.lib.format.read_array(f, allow_pickle=False)
    except ValueError as e:
        if str(e).startswith("load: "):
            raise
        raise _corrupt(path, str(e)) from e
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise _corrupt(path, f"{type(e).__name__}: {e}") from e
    if _STRUCTURE not in arrays:  # a plain np.savez archive, e.g. weights exported from torch
        return {name: from_numpy(a) for name, a in arrays.items()}
    raw = arrays.pop(_STRUCTURE)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _corrupt(path, f"{_STRUCTURE!r} is not a 1-d uint8 array")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _corrupt(path, f"bad JSON in {_STRUCTURE!r}: {e}") from e
    except RecursionError:
        raise _corrupt(path, f"JSON in {_STRUCTURE!r} nested too deeply") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT or "root" not in meta:
        raise _corrupt(path, f"{_STRUCTURE!r} does not describe a {_FORMAT}")
    if meta.get("version") != _VERSION:
        raise _corrupt(path, f"unsupported format version {meta.get('version')!r}")
    return _decode(meta["root"], arrays, path)


def _npy_header(f) -> tuple:
    """(shape, dtype) from an .npy header."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    return shape, dtype


def _decode(node, arrays: dict, path: str, depth: int = 0):
    if depth > _MAX_DEPTH:
        raise _corrupt(path, f"structure nested deeper than {_MAX_DEPTH} levels")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, dict) and len(node) == 1:
        ((kind, body),) = node.items()
        if kind == "parameter" and isinstance(body, list) and len(body) == 2:
            member, requires_grad = body
            if not isinstance(requires_grad, bool):
                raise _corrupt(path, f"bad parameter node {node!r}"[:200])
            # the engine imports nn only here, at load time, when the package has loaded it
            from tinygrad_lstm.nn.parameter import Parameter

            data = _decode({"tensor": member}, arrays, path, depth + 1)
            return _grad_leaf(lambda: Parameter(data, requires_grad=requires_grad), path)
        if kind == "tensor_requires_grad":
            data = _decode({"tensor": body}, arrays, path, depth + 1)
            return _grad_leaf(data.requires_grad_, path)
        if kind in ("tensor", "ndarray", "scalar"):
            if not isinstance(body, str) or body not in arrays:
                raise _corrupt(path, f"missing array {body!r}")
            a = arrays[body]
            if kind == "tensor":
                return from_numpy(a)  # a fresh array: no need to copy it
            return a if kind == "ndarray" else a[()]
        if kind in ("list", "tuple") and isinstance(body, list):
            out = [_decode(v, arrays, path, depth + 1) for v in body]
            return out if kind == "list" else tuple(out)
        if kind == "dict" and isinstance(body, list):
            out = {}
            for item in body:
                ok = isinstance(item, list) and len(item) == 2
                if not ok or isinstance(item[0], bool) or not isinstance(item[0], (str, int)):
                    raise _corrupt(path, f"bad dict item {item!r}")
                out[item[0]] = _decode(item[1], arrays, path, depth + 1)
            return out
    raise _corrupt(path, f"unknown structure node {node!r}"[:200])


def _grad_leaf(make, path: str):
    """make(), with the error for a crafted file (an integer tensor that requires grad) as a
    `load:` error naming the file."""
    try:
        return make()
    except RuntimeError as e:
        raise _corrupt(path, str(e)) from e


# ---------------------------------------------------------------- safetensors


def _safetensors_bytes(obj, path: str) -> bytes:
    """The whole file for a flat dict name -> Tensor/ndarray, as the library would write it."""
    if not isinstance(obj, dict):
        raise ValueError(
            f"save: safetensors holds a flat dict name -> tensor, got {type(obj).__name__} "
            f"for {path!r}"
        )
    tensors = []
    for name, value in obj.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(
                f"save: safetensors names must be str (not '__metadata__'), got "
                f"{name!r} for {path!r}"
            )
        if isinstance(value, Tensor):
            value = value._array
        if not isinstance(value, np.ndarray):
            raise ValueError(
                f"save: safetensors holds tensors only, got "
                f"{type(value).__name__} for {name!r} in {path!r}"
            )
        if value.dtype.newbyteorder("=") not in _ST_NAME:
            raise ValueError(
                f"save: dtype {value.dtype} of {name!r} has no safetensors equivalent ({path!r})"
            )
        dtype = _ST_NAME[value.dtype.newbyteorder("=")]
        tensors.append((name, dtype, value))
    # the library's order: decreasing dtype alignment, then name (Python compares str by code
    # point, the same order as Rust's bytewise UTF-8 comparison)
    tensors.sort(key=lambda t: (-_ST_RANK[t[1]], t[0]))
    header, chunks, offset = {}, [], 0
    for name, dtype, value in tensors:
        data = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": dtype,
            "shape": list(value.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    # serde_json's compact form, UTF-8 unescaped; padding keeps the data 8-byte aligned
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def _safetensors_load(buf: bytes, path: str) -> dict:
    if len(buf) < 8:
        raise _corrupt(path, f"{len(buf)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > _ST_MAX_HEADER or 8 + n > len(buf):
        raise _corrupt(path, f"header length {n} does not fit in a file of {len(buf)} bytes")
    try:
        header = json.loads(buf[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _corrupt(path, f"bad safetensors header: {e}") from e
    except RecursionError:
        raise _corrupt(path, "safetensors header nested too deeply") from None
    if not isinstance(header, dict):
        raise _corrupt(path, "safetensors header is not a JSON object")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise _corrupt(path, "__metadata__ must map str to str")
    entries = []
    for name, info in header.items():
        if (
            not isinstance(info, dict)
            or set(info) != {"dtype", "shape", "data_offsets"}
            or not _int_list(info["shape"])
            or not _int_list(info["data_offsets"])
            or len(info["data_offsets"]) != 2
        ):
            raise _corrupt(path, f"bad entry for tensor {name!r}: {info!r}"[:300])
        if info["dtype"] not in _ST_DTYPES:
            raise _corrupt(path, f"unknown dtype {info['dtype']!r} of tensor {name!r}")
        if _ST_DTYPES[info["dtype"]] is None:
            raise ValueError(
                f"load: dtype {info['dtype']} of tensor {name!r} in {path!r} "
                f"has no NumPy equivalent"
            )
        entries.append((info["data_offsets"], name, info))
    entries.sort(key=lambda e: e[0])
    out, start, data = {}, 0, memoryview(buf)[8 + n :]
    for (begin, end), name, info in entries:
        dtype = _ST_DTYPES[info["dtype"]]
        if begin != start or end < begin:
            raise _corrupt(
                path,
                f"offsets {[begin, end]} of {name!r} are not contiguous "
                f"(expected to begin at {start})",
            )
        if end - begin != math.prod(info["shape"]) * dtype.itemsize:
            raise _corrupt(
                path, f"{name!r}: {end - begin} bytes for shape {info['shape']} of {info['dtype']}"
            )
        if end > len(data):
            raise _corrupt(path, f"{name!r} ends at {end}, past the {len(data)} data bytes")
        a = np.frombuffer(data[begin:end], dtype=dtype.newbyteorder("<"))
        a = a.astype(dtype).reshape(info["shape"])  # native order, writable copy
        out[name] = from_numpy(a)
        start = end
    if start != len(data):
        raise _corrupt(path, f"tensors cover {start} of the {len(data)} data bytes")
    return out


def _int_list(x) -> bool:
    return isinstance(x, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in x
    )
