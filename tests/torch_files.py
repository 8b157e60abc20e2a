"""torch.save files made without torch, byte for byte as PyTorch writes them: test fixtures.

Two ways to make one:

- a hand assembler of pickle opcodes (`glob`, `s`, `i`, `tup`, `tensor`, `ordered_dict`) and
  `archive`, a torch zip made with zipfile: for minimal and hostile files;
- `TorchPickler`, the standard library's pickler (the same encoder torch.save calls, protocol
  2) on stand-ins for torch's objects (`Storage`, `TorchTensor`), so that opcodes, memo puts and
  gets come out as torch's; `legacy_file` and `zip_file` wrap its pickle the way
  torch/serialization.py's `_legacy_save` and `_save` (through PyTorchStreamWriter, miniz) do.
  While these were written they reproduced real torch.save files byte for byte (zips from
  PyTorch 2.x, but for the serialization id's C++ std::hash digits; legacy files from
  PyTorch < 1.6); test_torch_format.py keeps the SHA-256 of those files' pickles as a check
  that they still do.
"""

import io
import pickle
import struct
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

# ---------------------------------------------------------------- a tiny pickle assembler


def glob(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def s(text: str) -> bytes:
    b = text.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def i(n: int) -> bytes:
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if 0 <= n < 65536:
        return b"M" + struct.pack("<H", n)
    return b"J" + struct.pack("<i", n)


def tup(*parts: bytes) -> bytes:
    return b"(" + b"".join(parts) + b"t"


EMPTY_ORDERED_DICT = glob("collections", "OrderedDict") + b")R"


def tensor(stype: str, key: str, numel: int, size, stride, offset=0, requires_grad=False,
           location="cpu") -> bytes:
    pid = tup(s("storage"), glob("torch", stype), s(key), s(location), i(numel)) + b"Q"
    args = tup(pid, i(offset), tup(*map(i, size)), tup(*map(i, stride)),
               b"\x88" if requires_grad else b"\x89", EMPTY_ORDERED_DICT)
    return glob("torch._utils", "_rebuild_tensor_v2") + args + b"R"


def ordered_dict(items: list, metadata: bool = True) -> bytes:
    out = EMPTY_ORDERED_DICT + b"(" + b"".join(k + v for k, v in items) + b"u"
    if metadata:  # state_dict() carries a _metadata attribute, set by BUILD
        out += b"}" + s("_metadata") + EMPTY_ORDERED_DICT + b"sb"
    return out


def archive(pickle_body: bytes, storages: dict, prefix="archive", byteorder=b"little",
            proto=b"\x80\x02") -> bytes:
    """A torch.save zip: stored records, each record's data at a 64-byte aligned offset."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        records = [("data.pkl", proto + pickle_body + b".")]
        if byteorder is not None:
            records.append(("byteorder", byteorder))
        records += [(f"data/{k}", v) for k, v in storages.items()]
        records.append(("version", b"3\n"))
        for name, data in records:
            name = f"{prefix}/{name}"
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            pad = -(out.tell() + 30 + len(name) + 4) % 64
            info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
            zf.writestr(info, data)
    return out.getvalue()


# ---------------------------------------------------------------- torch's pickler, emulated
# torch.save pickles with pickle.Pickler (protocol 2) and a persistent_id for storages. A
# tensor reduces (torch.Tensor._reduce_ex_internal, CPU) to
#   torch._utils._rebuild_tensor_v2(storage, offset, tuple(size), stride, requires_grad,
#                                   OrderedDict())
# with new size/stride tuples and a new OrderedDict every time (so never memo hits), and the
# storage's persistent id is ("storage", torch.FloatStorage, key, "cpu", numel), plus a
# view field None in the legacy format. The memo decides which objects repeat as BINGET:
# the literal "storage" and "cpu", the storage class, the rebuild function and the
# OrderedDict class; the zip format's key (id_map's str) for a shared storage, but not the
# legacy format's (str(storage._cdata), a new str per call).


class Global:
    """A global that torch's pickle names (torch is not importable here)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args):  # the pickler wants reduce functions callable; never called
        raise NotImplementedError(f"{self.module}.{self.name} is a stand-in")

    def __reduce_ex__(self, protocol):
        return self.name  # a str: pickle it as a global (TorchPickler.save_global)


STORAGE_TYPES = {np.dtype(dt): Global("torch", name) for dt, name in [
    (np.float64, "DoubleStorage"), (np.float32, "FloatStorage"), (np.float16, "HalfStorage"),
    (np.int64, "LongStorage"), (np.int32, "IntStorage"), (np.int16, "ShortStorage"),
    (np.int8, "CharStorage"), (np.uint8, "ByteStorage"), (np.bool_, "BoolStorage")]}
REBUILD_TENSOR_V2 = Global("torch._utils", "_rebuild_tensor_v2")


class Storage:
    """A torch storage: its elements (1-d) and where torch.save's persistent_id finds it.

    key: the zip format's name ("0", "1", ... in order of first use); cdata: the address
    the legacy format names it by (str(storage._cdata))."""

    def __init__(self, data, dtype=None, key: str = "0", cdata: int = 0,
                 location: str = "cpu") -> None:
        self.data = np.asarray(data, dtype).reshape(-1)
        self.key, self.cdata, self.location = key, cdata, location


class TorchTensor:
    """A CPU tensor as torch pickles it: a view (offset, size, stride) into a Storage."""

    def __init__(self, storage: Storage, size, stride=None, offset: int = 0,
                 requires_grad: bool = False) -> None:
        if stride is None:  # contiguous
            stride = [int(np.prod(size[k + 1:])) for k in range(len(size))]
        self.storage, self.offset, self.requires_grad = storage, offset, requires_grad
        self.size, self.stride = list(size), list(stride)

    def __reduce_ex__(self, protocol):
        return REBUILD_TENSOR_V2, (self.storage, self.offset, tuple(self.size),
                                   tuple(self.stride), self.requires_grad, OrderedDict())


def state_dict(params: dict, version: int = 1) -> OrderedDict:
    """Module.state_dict() of a module without children: its tensors in order, and
    `_metadata` {"": {"version": Module._version}} as an attribute (pickled by BUILD)."""
    sd = OrderedDict(params)
    sd._metadata = OrderedDict([("", {"version": version})])
    return sd


class TorchPickler(pickle._Pickler):
    """torch.save's pickler: storages by persistent id (legacy: with the view field). The
    pure-Python pickler, which writes the same opcodes as the C one torch uses, but lets
    save_global write names it cannot import."""

    def __init__(self, file, legacy: bool = False) -> None:
        super().__init__(file, protocol=2)
        self.legacy = legacy
        self.storages: dict[str, Storage] = {}  # key -> storage, in order of first use

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        stype = STORAGE_TYPES[obj.data.dtype]
        if self.legacy:
            key = str(obj.cdata)  # a new str each time, as str(storage._cdata)
            self.storages.setdefault(key, obj)
            return ("storage", stype, key, obj.location, obj.data.size, None)
        self.storages.setdefault(obj.key, obj)
        return ("storage", stype, obj.key, obj.location, obj.data.size)

    def save_global(self, obj, name=None) -> None:
        if isinstance(obj, Global):  # written as pickle writes an importable global
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def torch_pickle(obj, legacy: bool = False) -> tuple[bytes, dict]:
    """(the pickle torch.save writes for obj, its storages by key in order of first use)."""
    buf = io.BytesIO()
    pickler = TorchPickler(buf, legacy)
    pickler.dump(obj)
    return buf.getvalue(), pickler.storages


# ---------------------------------------------------------------- the format before 1.6

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch/serialization.py MAGIC_NUMBER
LEGACY_PROTOCOL = 1001  # PROTOCOL_VERSION


def legacy_header(long_size: int = 8, protocol: int = LEGACY_PROTOCOL,
                  little_endian: bool = True) -> bytes:
    """The three pickles a legacy file starts with: magic number, protocol version, system
    info (long_size: C long's size on the saving machine, 8 on Linux and macOS, 4 on
    Windows)."""
    sys_info = dict(protocol_version=protocol, little_endian=little_endian,
                    type_sizes=dict(short=2, int=4, long=long_size))
    return b"".join(pickle.dumps(x, protocol=2) for x in (LEGACY_MAGIC, protocol, sys_info))


def legacy_storages(storages: dict, keys: list) -> bytes:
    """The pickled key list, then per key the element count (int64) and little-endian bytes."""
    out = [pickle.dumps(keys, protocol=2)]
    for key in keys:
        data = storages[key].data
        out += [struct.pack("<q", data.size), data.astype(data.dtype.newbyteorder("<")).tobytes()]
    return b"".join(out)


def legacy_file(obj, long_size: int = 8) -> bytes:
    """torch.save(obj, f, _use_new_zipfile_serialization=False), as `_legacy_save` writes:
    pickles of the magic number, the protocol version, the system info and obj, then of the
    sorted storage keys; then the storages in that order."""
    body, storages = torch_pickle(obj, legacy=True)
    return legacy_header(long_size) + body + legacy_storages(storages, sorted(storages))


# ---------------------------------------------------------------- the zip format (>= 1.6)


def zip_file(obj, name: str = "archive", layout: str = "latest") -> bytes:
    """torch.save(obj, f): torch/serialization.py's `_save` through PyTorchStreamWriter.

    Records under `name/` ("archive" when f is a file object, the file's name without its
    extension for a path), in the order written:
      layout "latest" (PyTorch 2.x now): data.pkl, .format_version "1", .storage_alignment
        "64", byteorder "little", data/<key> in order of first use, version "3\n",
        .data/serialization_id;
      "byteorder" (PyTorch 2.1 on, before .format_version): data.pkl, byteorder, data/<key>
        in sorted order, version, .data/serialization_id;
      "first" (PyTorch 1.6, whose writer put version first): version, data.pkl, data/<key>
        in sorted order."""
    body, storages = torch_pickle(obj)
    keys = list(storages) if layout == "latest" else sorted(storages)
    records = [("version", b"3\n")] if layout == "first" else []
    records.append(("data.pkl", body))
    if layout == "latest":
        records += [(".format_version", b"1"), (".storage_alignment", b"64")]
    if layout != "first":
        records.append(("byteorder", b"little"))
    for key in keys:
        data = storages[key].data
        records.append((f"data/{key}", data.astype(data.dtype.newbyteorder("<")).tobytes()))
    if layout != "first":
        records.append(("version", b"3\n"))
        records.append((".data/serialization_id", serialization_id(records)))
    return miniz_zip([(f"{name}/{record}", data) for record, data in records])


def serialization_id(records: list) -> bytes:
    """40 digits: a hash of the record names (C++ std::hash, which depends on the standard
    library: here a fixed stand-in) and c10::hash_combine of the records' CRC-32s."""
    crcs = 0
    for _, data in records:
        crcs = (crcs ^ (zlib.crc32(data) + 0x9E3779B9 + (crcs << 6) + (crcs >> 2))) % 2**64
    return f"{12345678901234567890:020d}{crcs:020d}".encode()


def miniz_zip(records: list) -> bytes:
    """A zip as miniz writes PyTorchStreamWriter's: every record stored, its data at a
    multiple of 64 bytes (an extra field "FB" of "Z"s pads the local header), flags 0x0808
    (UTF-8 names, CRC and sizes in a data descriptor after the data; the local header holds
    zeros), no dates, and the zip64 end records always."""
    out, central = bytearray(), bytearray()
    for name, data in records:
        raw = name.encode()
        offset, crc = len(out), zlib.crc32(data)
        pad = -(offset + 30 + len(raw) + 4) % 64
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, 0x0808, 0, 0, 0, 0, 0, 0, len(raw),
                           len(extra)) + raw + extra + data
        out += struct.pack("<IIII", 0x08074B50, crc, len(data), len(data))
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0, 0, 0x0808, 0, 0, 0, crc,
                               len(data), len(data), len(raw), 0, 0, 0, 0, 0, offset) + raw
    n, cd_offset = len(records), len(out)
    out += central
    zip64_end = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 0x2D, 0, 0, n, n, len(central),
                       cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, zip64_end, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), cd_offset, 0)
    return bytes(out)
