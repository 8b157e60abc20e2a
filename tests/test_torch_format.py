"""load() of files written by torch.save, without torch; save() of whole modules; hostile files.

The files are made by tests/torch_files.py: opcode by opcode (minimal and hostile files), or
as torch.save writes them byte for byte, in the zip format (PyTorch 1.6 on) and the legacy
format before it.
"""

import hashlib
import io
import os
import pickle
import pickletools
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
from torch_files import (EMPTY_ORDERED_DICT, Storage, TorchTensor, archive, glob, i,
                         legacy_file, legacy_header, legacy_storages, ordered_dict, s,
                         state_dict, tensor, torch_pickle, tup, zip_file)

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn, torch_writer
from tinygrad_lstm.serialization import (UnpicklingError, add_safe_globals, clear_safe_globals,
                                         get_safe_globals, get_unsafe_globals_in_checkpoint,
                                         load, safe_globals, save)


def load_bytes(data: bytes, **kwargs):
    return load(io.BytesIO(data), **kwargs)


# ---------------------------------------------------------------- reading torch.save files


def test_state_dict_of_every_common_dtype():
    f32 = np.array([[0.5, -1.0, 2.25], [3.0, 1e-8, -0.0]], np.float32)
    f64 = np.array([np.pi, -np.e], np.float64)
    i64 = np.array([[-(2**40)], [7]], np.int64)
    b = np.array([True, False, True])
    f16 = np.array([65504.0, -0.5], np.float16)
    items = [
        (s("lstm.weight_ih_l0"), tensor("FloatStorage", "0", 6, (2, 3), (3, 1))),
        (s("double"), tensor("DoubleStorage", "1", 2, (2,), (1,))),
        (s("steps"), tensor("LongStorage", "2", 2, (2, 1), (1, 1))),
        (s("mask"), tensor("BoolStorage", "3", 3, (3,), (1,))),
        (s("half"), tensor("HalfStorage", "4", 2, (2,), (1,))),
        (s("scalar"), tensor("FloatStorage", "5", 1, (), ())),
    ]
    storages = {"0": f32.tobytes(), "1": f64.tobytes(), "2": i64.tobytes(), "3": b.tobytes(),
                "4": f16.tobytes(), "5": np.float32(4.5).tobytes()}
    sd = load_bytes(archive(ordered_dict(items), storages))
    assert type(sd) is OrderedDict and list(sd) == [
        "lstm.weight_ih_l0", "double", "steps", "mask", "half", "scalar"]
    assert sd._metadata == OrderedDict()
    for key, want in zip(sd, [f32, f64, i64, b, f16, np.array(4.5, np.float32)], strict=True):
        assert type(sd[key]) is Tensor and sd[key].requires_grad is False
        assert sd[key].dtype == want.dtype and sd[key].shape == want.shape
        assert sd[key].numpy().tobytes() == want.tobytes()


def test_offsets_strides_and_shared_storages_are_views_as_in_pytorch():
    base = np.arange(6, dtype=np.float32)  # storage "0": 0 1 2 3 4 5
    body = tup(
        tensor("FloatStorage", "0", 6, (2, 3), (3, 1)),          # the matrix
        tensor("FloatStorage", "0", 6, (3, 2), (1, 3)),          # its transpose
        tensor("FloatStorage", "0", 6, (2,), (3,), offset=2),    # column 2: [2, 5]
        tensor("FloatStorage", "0", 6, (2, 3), (0, 1), offset=1),  # row [1 2 3] expanded
        tensor("FloatStorage", "0", 6, (0, 4), (4, 1), offset=6),  # empty, past the end
    )
    m, t, col, expanded, empty = load_bytes(archive(body, {"0": base.tobytes()}))
    np.testing.assert_array_equal(m.numpy(), [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(t.numpy(), [[0, 3], [1, 4], [2, 5]])
    np.testing.assert_array_equal(col.numpy(), [2, 5])
    np.testing.assert_array_equal(expanded.numpy(), [[1, 2, 3], [1, 2, 3]])
    assert empty.shape == (0, 4)
    m.numpy()[0, 2] = 9  # one storage, as torch.load gives: all its views see the write
    assert t.numpy()[2, 0] == 9 and col.numpy()[0] == 9 and expanded.numpy()[1, 1] == 9
    with pytest.raises(ValueError):  # PyTorch refuses writes to an expanded tensor too
        expanded.numpy()[0, 0] = 1


@pytest.mark.parametrize("offset, size, stride", [(5, (2,), (1,)), (0, (2, 4), (3, 1)),
                                                   (0, (7,), (1,))])
def test_a_tensor_reaching_past_its_storage_is_refused(offset, size, stride):
    data = archive(tensor("FloatStorage", "0", 6, size, stride, offset), {"0": bytes(24)})
    with pytest.raises(UnpicklingError, match="reaches element .* of a storage of 6"):
        load_bytes(data)


def test_nested_containers_numbers_strings_and_numpy_arrays():
    arr = np.arange(6, dtype=">i2").reshape(2, 3).T  # big-endian, Fortran order
    numpy_fragment = pickle.dumps(arr, protocol=2)[2:-1]  # NumPy's own pickling of it
    scalar_fragment = pickle.dumps(np.float64(0.25), protocol=2)[2:-1]
    body = (b"}" + b"(" + s("epoch") + i(3) + s("loss") + b"G" + struct.pack(">d", 0.125)
            + s("names") + b"]" + b"(" + s("a") + s("é") + b"N" + b"\x88" + b"e"
            + s("shape") + tup(i(2), i(70000), b"J" + struct.pack("<i", -5))
            + s("w") + tensor("FloatStorage", "0", 2, (2,), (1,), requires_grad=True)
            + s("array") + numpy_fragment + s("np_scalar") + scalar_fragment
            + s("bytes") + glob("_codecs", "encode") + tup(s("\x00\xff"), s("latin1")) + b"R"
            + s("set") + glob("__builtin__", "set") + b"]" + i(1) + b"a\x85R"
            + s("big") + b"\x8a\x09" + (2**70).to_bytes(9, "little", signed=True)
            + b"u")
    got = load_bytes(archive(body, {"0": np.array([1.5, -2], np.float32).tobytes()}))
    assert got["epoch"] == 3 and got["loss"] == 0.125 and got["big"] == 2**70
    assert got["names"] == ["a", "é", None, True] and got["shape"] == (2, 70000, -5)
    assert got["bytes"] == b"\x00\xff" and got["set"] == {1}
    assert type(got["w"]) is Tensor and got["w"].requires_grad is True
    np.testing.assert_array_equal(got["w"].numpy(), [1.5, -2])
    assert type(got["array"]) is np.ndarray and got["array"].dtype == np.int16
    np.testing.assert_array_equal(got["array"], arr)
    assert type(got["np_scalar"]) is np.float64 and got["np_scalar"] == 0.25


def test_big_endian_files_and_other_archive_names():
    w = np.array([1.0, -2.5, 3.25], np.float64)
    data = archive(tensor("DoubleStorage", "0", 3, (3,), (1,)), {"0": w.astype(">f8").tobytes()},
                   prefix="my_model", byteorder=b"big")
    np.testing.assert_array_equal(load_bytes(data).numpy(), w)
    no_byteorder = archive(tensor("DoubleStorage", "0", 3, (3,), (1,)), {"0": w.tobytes()},
                           byteorder=None)  # before PyTorch 2.1: little-endian
    np.testing.assert_array_equal(load_bytes(no_byteorder).numpy(), w)


def test_map_location_for_storages_saved_on_a_gpu(tmp_path):
    data = archive(tensor("FloatStorage", "0", 1, (1,), (1,), location="cuda:0"),
                   {"0": np.float32(2).tobytes()})
    (tmp_path / "gpu.pt").write_bytes(data)
    with pytest.raises(RuntimeError, match="'cuda:0'.*map_location='cpu'"):
        load(tmp_path / "gpu.pt")
    for where in ["cpu", {"cuda:0": "cpu"}, lambda storage, loc: storage]:
        assert load(tmp_path / "gpu.pt", map_location=where).numpy()[0] == 2
    with pytest.raises(RuntimeError, match="CPU only"):
        load(tmp_path / "gpu.pt", map_location="cuda")


def test_dtypes_numpy_cannot_hold_are_refused_by_name():
    data = archive(tensor("BFloat16Storage", "0", 2, (2,), (1,)), {"0": bytes(4)})
    with pytest.raises(UnpicklingError, match="BFloat16Storage.*NumPy cannot hold"):
        load_bytes(data)


def test_storage_record_of_the_wrong_size_or_missing():
    with pytest.raises(UnpicklingError, match="has 20 bytes, expected 24"):
        load_bytes(archive(tensor("FloatStorage", "0", 6, (6,), (1,)), {"0": bytes(20)}))
    with pytest.raises(UnpicklingError, match="'archive/data/1' is missing"):
        load_bytes(archive(tensor("FloatStorage", "1", 6, (6,), (1,)), {"0": bytes(24)}))


# ---------------------------------------------------------------- torch.save files, PyTorch 2.x
# zip_file writes what torch.save writes, record for record and byte for byte (checked against
# real files when written: test_the_generators_still_write_what_torch_wrote).

TORCH_2_RECORDS = ["data.pkl", ".format_version", ".storage_alignment", "byteorder", "data/0",
                   "data/1", "data/2", "data/3", "version", ".data/serialization_id"]
LSTM_SHAPES = {"weight_ih_l0": (12, 4), "weight_hh_l0": (12, 3), "bias_ih_l0": (12,),
               "bias_hh_l0": (12,)}  # nn.LSTM(4, 3): 4 gates of hidden size 3


def lstm_state_dict(keys=("0", "1", "2", "3")) -> tuple[OrderedDict, dict]:
    """nn.LSTM(4, 3).state_dict() as torch pickles it (a storage per parameter, keys in order
    of first use), and its values."""
    rng = np.random.default_rng(0)
    values = {k: rng.uniform(-3**-0.5, 3**-0.5, shape).astype(np.float32)
              for k, shape in LSTM_SHAPES.items()}
    sd = state_dict({name: TorchTensor(Storage(v, key=key), v.shape)
                     for key, (name, v) in zip(keys, values.items(), strict=True)})
    return sd, values


def assert_lstm_state_dict(got, values: dict) -> None:
    assert type(got) is OrderedDict and list(got) == list(LSTM_SHAPES)
    assert got._metadata == OrderedDict([("", {"version": 1})])
    for name, v in values.items():
        assert type(got[name]) is Tensor and got[name].requires_grad is False
        assert got[name].numpy().dtype == np.float32 and got[name].shape == v.shape
        np.testing.assert_array_equal(got[name].numpy(), v)


def data_offsets(data: bytes) -> list[int]:
    """Where each record's data starts (local header, name and extra field skipped)."""
    out = []
    for info in zipfile.ZipFile(io.BytesIO(data)).infolist():
        name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:][:4])
        out.append(info.header_offset + 30 + name_len + extra_len)
    return out


def test_an_lstm_state_dict_saved_by_torch_2_loads_into_our_lstm(tmp_path):
    sd, values = lstm_state_dict()
    data = zip_file(sd)  # torch.save(lstm.state_dict(), buffer)
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.namelist() == [f"archive/{r}" for r in TORCH_2_RECORDS]
    assert all(offset % 64 == 0 for offset in data_offsets(data))
    assert zf.read("archive/.format_version") == b"1" and zf.read("archive/version") == b"3\n"
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(zf.read("archive/data.pkl"))]
    assert ops[0] == ("PROTO", 2) and ("BUILD", None) in ops  # _metadata, set by BUILD
    # torch's pickler names each global once and gets it from the memo afterwards
    assert ops.count(("GLOBAL", "torch FloatStorage")) == 1
    assert ops.count(("GLOBAL", "torch._utils _rebuild_tensor_v2")) == 1
    assert ops.count(("BINPERSID", None)) == 4  # a storage per parameter
    (tmp_path / "lstm.pt").write_bytes(zip_file(sd, name="lstm"))  # torch.save(sd, "lstm.pt")
    for got in [load_bytes(data), load(tmp_path / "lstm.pt"), load_bytes(data, weights_only=False)]:
        assert_lstm_state_dict(got, values)
    assert get_unsafe_globals_in_checkpoint(io.BytesIO(data)) == []
    lstm = nn.LSTM(4, 3)
    lstm.load_state_dict(load_bytes(data))
    for name, p in lstm.named_parameters():
        assert type(p) is nn.Parameter and p.requires_grad
        np.testing.assert_array_equal(p.numpy(), values[name])


@pytest.mark.parametrize("layout, keys", [
    ("byteorder", ("0", "1", "2", "3")),
    ("first", ("94392480", "94389568", "94391712", "94390656")),  # 1.6 named storages by address
])
def test_earlier_zip_layouts_load_alike(layout, keys):
    sd, values = lstm_state_dict(keys)
    data = zip_file(sd, name="lstm_state", layout=layout)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names[0] == ("lstm_state/version" if layout == "first" else "lstm_state/data.pkl")
    assert [n for n in names if "/data/" in n] == [f"lstm_state/data/{k}" for k in sorted(keys)]
    assert_lstm_state_dict(load_bytes(data), values)


def test_our_writer_writes_torch_2s_records_and_pickle():
    sd, values = lstm_state_dict()
    ours = OrderedDict((name, Tensor(v)) for name, v in values.items())
    ours._metadata = OrderedDict([("", {"version": 1})])  # as torch's state_dict() has
    data = torch_writer.dumps(ours)
    zf, theirs = (zipfile.ZipFile(io.BytesIO(d)) for d in (data, zip_file(sd)))
    assert zf.namelist() == theirs.namelist()
    for name in theirs.namelist()[:-1]:  # the pickle too, byte for byte
        assert zf.read(name) == theirs.read(name), name
    assert len(zf.read("archive/.data/serialization_id")) == 40
    # every record's data where torch's writer puts it: .format_version "1" lets torch.load
    # compute these offsets (64-byte aligned, a 16-byte data descriptor after each record)
    assert data_offsets(data) == data_offsets(zip_file(sd))
    assert_lstm_state_dict(load_bytes(data), values)
    plain = load_bytes(torch_writer.dumps(nn.LSTM(4, 3).state_dict()))
    assert list(plain) == list(LSTM_SHAPES)


def test_our_writer_leaves_format_version_out_when_zip64_would_move_the_data(monkeypatch):
    monkeypatch.setattr(torch_writer, "_OFFSETS_LIMIT", 100)  # as for files of 1.9 GiB
    sd, values = lstm_state_dict()
    ours = OrderedDict((name, Tensor(v)) for name, v in values.items())
    data = torch_writer.dumps(ours)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == [f"archive/{r}" for r in TORCH_2_RECORDS if "format" not in r and
                     "alignment" not in r]
    got = load_bytes(data)
    np.testing.assert_array_equal(got["bias_hh_l0"].numpy(), values["bias_hh_l0"])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_generators_still_write_what_torch_wrote():
    """SHA-256 of the pickles in real torch.save files (test files of the candle and Pickle.jl
    projects, not kept here), which these generators reproduced byte for byte when written."""
    counts = TorchTensor(Storage(np.arange(1, 9), np.int64), (2, 4))
    body, _ = torch_pickle(OrderedDict(test=counts))  # a PyTorch 2.x zip's data.pkl
    assert sha256(body) == "1190a93e7828ea32c37241c09f8cb94a1bf1ed5db28c14a25d304a61431c8320"
    fortran = np.asfortranarray(np.arange(1, 25).reshape(2, 3, 4))
    body, _ = torch_pickle({"tensor_fortran": TorchTensor(
        Storage(fortran.ravel(order="F"), np.int64), (2, 3, 4), (1, 2, 6))})
    assert sha256(body) == "fef6fc5844efa1fd237be253ea64948b704bdf06265692aae93093ad1e93e11c"

    def legacy_pickles(obj) -> bytes:  # the five pickles of a legacy file saved on Windows
        data = legacy_file(obj, long_size=4)
        _, storages = torch_pickle(obj, legacy=True)
        return data[:len(data) - sum(8 + st.data.nbytes for st in storages.values())]

    linear = state_dict({  # nn.Linear(5, 3).state_dict()
        "weight": TorchTensor(Storage(np.zeros(15, np.float32), cdata=46702432), (3, 5)),
        "bias": TorchTensor(Storage(np.zeros(3, np.float32), cdata=40056784), (3,))})
    assert sha256(legacy_pickles(linear)) == (
        "adf2802579e2c9fd9779e8857b6f4a31eee39a2950ecc8f9c630cc285aaa3e2e")
    shared = Storage(np.zeros(300, np.float32), cdata=1195475296)
    assert sha256(legacy_pickles({"weight0": TorchTensor(shared, (3, 10, 10)),
                                  "weight1": TorchTensor(shared, (4, 5), (48, 3), 137)})) == (
        "fda6a51b31479f79500e8d92a7c084722ee21e7a3076be44d203f6aad22e6492")
    assert sha256(legacy_pickles({
        "a": TorchTensor(Storage(np.zeros(9, np.float32), cdata=71854480), (3, 3)),
        "b": TorchTensor(Storage(np.zeros(9, np.bool_), cdata=66275296), (3, 3))})) == (
        "322b6ebad58c093029c531c7481ead9dc9059b2a63d105cde165f85dad99896e")


def test_truncated_torch_2_files_fail_cleanly():
    sd, _ = lstm_state_dict()
    data = zip_file(sd)
    for n in range(0, len(data), 11):
        with pytest.raises(ValueError):
            load_bytes(data[:n])


# ---------------------------------------------------------------- torch.save before PyTorch 1.6
# legacy_file writes what _legacy_save wrote: five pickles, then the storages in the order of
# the pickled (sorted) key list, each an int64 element count and its little-endian bytes.


def linear_legacy() -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    w = rng.uniform(-5**-0.5, 5**-0.5, (3, 5)).astype(np.float32)
    b = rng.uniform(-5**-0.5, 5**-0.5, 3).astype(np.float32)
    # keys are storage addresses: sorted, the bias's comes first though pickled second
    sd = state_dict({"weight": TorchTensor(Storage(w, cdata=94827362719808), (3, 5)),
                     "bias": TorchTensor(Storage(b, cdata=94827362687040), (3,))})
    return legacy_file(sd), w, b


def test_a_legacy_linear_state_dict_loads_into_our_linear():
    data, w, b = linear_legacy()
    assert data.endswith(struct.pack("<q", 3) + b.tobytes() + struct.pack("<q", 15) +
                         w.tobytes())
    for weights_only in [True, False]:
        sd = load_bytes(data, weights_only=weights_only)
        assert type(sd) is OrderedDict and list(sd) == ["weight", "bias"]
        assert sd._metadata == OrderedDict([("", {"version": 1})])
        assert sd["weight"].requires_grad is False and sd["weight"].numpy().dtype == np.float32
        np.testing.assert_array_equal(sd["weight"].numpy(), w)
        np.testing.assert_array_equal(sd["bias"].numpy(), b)
    fc = nn.Linear(5, 3)
    fc.load_state_dict(sd)
    x = np.array([[1.0, -2.0, 0.5, 3.0, 0.0]], np.float32)
    np.testing.assert_allclose(fc(Tensor(x)).numpy(), x @ w.T + b, rtol=1e-6)


def test_legacy_tensors_sharing_a_storage_with_offsets_and_strides():
    base = np.arange(12, dtype=np.float64) * 1.5
    st = Storage(base, cdata=140234567891200)
    tensors = [TorchTensor(st, (3, 4)),                        # the matrix
               TorchTensor(st, (4, 3), (1, 4)),                # its transpose
               TorchTensor(st, (3,), (4,), offset=2),          # column 2
               TorchTensor(st, (2, 4), (0, 1), offset=4),      # row 1, expanded
               TorchTensor(st, (), (), offset=11),             # a 0-d element
               TorchTensor(st, (0, 5), (5, 1), offset=12),     # empty, at the end
               TorchTensor(Storage(np.array([7, -8]), np.int64, cdata=140234567891264), (2,))]
    m, t, col, row, last, empty, ints = load_bytes(legacy_file(tensors))
    matrix = base.reshape(3, 4)
    np.testing.assert_array_equal(m.numpy(), matrix)
    np.testing.assert_array_equal(t.numpy(), matrix.T)
    np.testing.assert_array_equal(col.numpy(), matrix[:, 2])
    assert t.numpy().strides == (8, 32) and col.numpy().strides == (32,)  # torch's, as views
    np.testing.assert_array_equal(row.numpy(), [matrix[1], matrix[1]])
    assert last.shape == () and last.item() == 16.5 and empty.shape == (0, 5)
    assert ints.numpy().dtype == np.int64 and ints.numpy().tolist() == [7, -8]
    m.numpy()[0, 2] = 100  # one storage, as torch.load gives: every view sees the write
    assert t.numpy()[2, 0] == 100 and col.numpy()[0] == 100
    m.numpy()[1, 3] = -1
    assert row.numpy()[0, 3] == -1 and row.numpy()[1, 3] == -1
    assert not np.shares_memory(m.numpy(), ints.numpy())


def test_legacy_bool_and_half_storages():
    mask = np.array([[True, False, True], [False, False, True]])
    half = np.array([65504, -0.0, 2**-24, np.inf, -2.5], np.float16)
    hs = Storage(half, cdata=2000)
    got = load_bytes(legacy_file({"mask": TorchTensor(Storage(mask, cdata=1000), (2, 3)),
                                  "half": TorchTensor(hs, (5,)),
                                  "odd": TorchTensor(hs, (2,), (2,), offset=1)}))
    assert got["mask"].numpy().dtype == np.bool_ and got["half"].numpy().dtype == np.float16
    np.testing.assert_array_equal(got["mask"].numpy(), mask)
    assert got["half"].numpy().tobytes() == half.tobytes()  # -0.0, subnormal and inf exact
    assert got["odd"].numpy().tobytes() == half[1::2].tobytes()


def test_legacy_nested_containers():
    step = TorchTensor(Storage([3.0], np.float32, cdata=30), ())
    exp_avg = TorchTensor(Storage([0.5, -0.25], np.float32, cdata=31), (2,))
    weight = TorchTensor(Storage([1.0, 2.0], np.float32, cdata=32), (2,), requires_grad=True)
    ckpt = {"epoch": 7, "loss": 0.125, "note": "é", "none": None, "done": False,
            "model": state_dict({"weight": weight}),
            "optimizer": {"state": {0: {"step": step, "exp_avg": exp_avg}},
                          "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0]}]},
            "history": [(1, 0.5), (2, 0.25)]}
    got = load_bytes(legacy_file(ckpt))
    assert {k: got[k] for k in ["epoch", "loss", "note", "none", "done", "history"]} == {
        "epoch": 7, "loss": 0.125, "note": "é", "none": None, "done": False,
        "history": [(1, 0.5), (2, 0.25)]}
    assert got["optimizer"]["param_groups"] == [{"lr": 1e-3, "betas": (0.9, 0.999),
                                                 "params": [0]}]
    state = got["optimizer"]["state"][0]
    assert state["step"].shape == () and state["step"].item() == 3.0
    np.testing.assert_array_equal(state["exp_avg"].numpy(), [0.5, -0.25])
    assert got["model"]["weight"].requires_grad is True
    assert got["model"]._metadata == OrderedDict([("", {"version": 1})])


def test_legacy_storages_saved_on_a_gpu_need_map_location():
    data = legacy_file([TorchTensor(Storage([2.0], np.float32, cdata=5, location="cuda:0"),
                                    (1,))])
    with pytest.raises(RuntimeError, match="'cuda:0'.*map_location='cpu'"):
        load_bytes(data)
    assert load_bytes(data, map_location="cpu")[0].numpy()[0] == 2


def test_a_map_location_function_sees_every_storage_once_in_both_formats():
    shared = Storage([1.0, 2.0, 3.0], np.float32, cdata=9, location="cuda:1")
    obj = [TorchTensor(shared, (3,)), TorchTensor(shared, (2,), offset=1),
           TorchTensor(Storage([5], np.int64, key="1", cdata=8), (1,))]
    for data in [legacy_file(obj), zip_file(obj)]:
        seen = []
        got = load_bytes(data, map_location=lambda st, loc, seen=seen: seen.append(loc))
        assert sorted(seen) == ["cpu", "cuda:1"]
        assert [t.numpy().tolist() for t in got] == [[1, 2, 3], [2, 3], [5]]


def small_legacy() -> tuple[bytes, bytes, dict]:
    """A legacy file, its object pickle and storages (keys "1000", "2000")."""
    obj = state_dict({"w": TorchTensor(Storage(np.arange(6, dtype=np.float32), cdata=1000),
                                       (2, 3)),
                      "b": TorchTensor(Storage(np.array([1, 2], np.int64), cdata=2000), (2,))})
    body, storages = torch_pickle(obj, legacy=True)
    return legacy_file(obj), body, storages


def test_truncated_legacy_files_fail_cleanly():
    data, _, _ = small_legacy()
    for n in range(len(data)):  # every prefix: in a pickle, between them, in the storages
        with pytest.raises(ValueError):
            load_bytes(data[:n])
    for n in range(14, len(data), 5):  # pickle's own reader (files one trusts) too
        with pytest.raises(ValueError, match="load: '<file object>'"):
            load_bytes(data[:n], weights_only=False)
    with pytest.raises(UnpicklingError, match="1 bytes after the last storage"):
        load_bytes(data + b"\0")


def test_legacy_storages_claiming_what_the_file_does_not_hold():
    data, _, _ = small_legacy()
    assert data.count(b"K\x06N") == 1  # the persistent id's numel 6, then its view: None
    huge = data.replace(b"K\x06N", b"J" + struct.pack("<i", 2**31 - 1) + b"N")
    with pytest.raises(UnpicklingError, match="storages claim more bytes than the file's"):
        load_bytes(huge)
    with pytest.raises(UnpicklingError, match="storage 1000: the file has no 7 elements"):
        load_bytes(data.replace(b"K\x06N", b"K\x07N"))  # the count before its bytes says 6
    with pytest.raises(UnpicklingError, match="BFloat16Storage.*NumPy cannot hold"):
        load_bytes(data.replace(b"torch\nFloatStorage", b"torch\nBFloat16Storage"))
    past = legacy_file([TorchTensor(Storage(np.zeros(6, np.float32), cdata=1), (2, 3), (3, 1),
                                    offset=1)])
    with pytest.raises(UnpicklingError, match="reaches element 6 of a storage of 6"):
        load_bytes(past)


@pytest.mark.parametrize("keys", [["1000"], ["1000", "2000", "2000"], ["1000", 2000],
                                  ["1000", ["2000"]], "1000 2000"])
def test_legacy_storage_list_must_name_the_storages_used(keys):
    _, body, storages = small_legacy()
    listed = [k for k in ["1000", "2000"] if k in keys]
    data = legacy_header() + body + pickle.dumps(keys, protocol=2)
    data += legacy_storages(storages, listed)[len(pickle.dumps(listed, protocol=2)):]
    with pytest.raises(UnpicklingError, match="the storage list .* does not match"):
        load_bytes(data)


def test_legacy_headers_are_checked():
    _, body, storages = small_legacy()
    tail = legacy_storages(storages, ["1000", "2000"])
    with pytest.raises(UnpicklingError, match="not a torch.save file"):
        load_bytes(legacy_header(protocol=1000) + body + tail)
    with pytest.raises(UnpicklingError, match="big-endian"):
        load_bytes(legacy_header(little_endian=False) + body + tail)
    with pytest.raises(UnpicklingError, match="nested deeper than"):
        load_bytes(legacy_header() + b"\x80\x02" + b"]" * 5000 + b"a" * 4999 + b"." + tail)


def test_a_legacy_file_calling_os_system_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    _, _, storages = small_legacy()
    data = legacy_header() + evil_pickle(marker) + legacy_storages(storages, [])
    with pytest.raises(UnpicklingError, match=rf"GLOBAL {os.system.__module__}\.system "
                       r"was not an allowed global"):
        load_bytes(data)
    assert not marker.exists()


def test_fuzzed_legacy_files_fail_cleanly():
    data, body, _ = small_legacy()
    start = data.index(body)
    rng = np.random.default_rng(0)
    for _ in range(300):  # damage the object pickle, the key list or the storage counts
        bad = bytearray(data)
        for pos in rng.integers(start, len(data), size=rng.integers(1, 4)):
            bad[pos] = rng.integers(256)
        try:
            load_bytes(bytes(bad))
        except (ValueError, RuntimeError):  # UnpicklingError is a ValueError
            pass


# ---------------------------------------------------------------- our save, file objects


def test_save_and_load_take_file_objects_and_detect_the_format():
    obj = {"w": Tensor(np.arange(3, dtype=np.float32)), "n": 1}
    buf = io.BytesIO()
    save(obj, buf)
    assert buf.getvalue()[:4] == b"PK\x03\x04"
    assert "__structure__.npy" in zipfile.ZipFile(io.BytesIO(buf.getvalue())).namelist()
    buf.seek(0)
    got = load(buf)
    np.testing.assert_array_equal(got["w"].numpy(), [0, 1, 2])
    assert got["n"] == 1
    st = io.BytesIO()
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    st.write(struct.pack("<Q", len(header)) + header + np.float32(7).tobytes())
    st.seek(0)
    assert load(st)["w"].numpy()[0] == 7  # safetensors found by content, no file name
    with pytest.raises(TypeError, match="binary file object"):
        load(io.StringIO("text"))
    with pytest.raises(TypeError, match="path or a binary file object"):
        save(obj, 3)


def test_objects_npz_cannot_hold_are_written_in_torch_format(tmp_path):
    obj = {"tags": {"a", "b"}, 1.5: "float key", "w": Tensor(np.eye(2, dtype=np.float32))}
    save(obj, tmp_path / "ckpt.pt")
    data = (tmp_path / "ckpt.pt").read_bytes()
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.namelist() == ["archive/data.pkl", "archive/.format_version",
                             "archive/.storage_alignment", "archive/byteorder", "archive/data/0",
                             "archive/version", "archive/.data/serialization_id"]
    assert zf.read("archive/byteorder") == b"little" and zf.read("archive/version") == b"3\n"
    for info in zf.infolist():  # torch's 64-byte alignment of every record's data
        assert info.compress_type == zipfile.ZIP_STORED
        name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:][:4])
        assert (info.header_offset + 30 + name_len + extra_len) % 64 == 0
    text = io.StringIO()
    pickletools.dis(zf.read("archive/data.pkl"), out=text)
    assert "PROTO      2" in text.getvalue()
    assert "GLOBAL     'torch._utils _rebuild_tensor_v2'" in text.getvalue()
    assert "GLOBAL     'torch FloatStorage'" in text.getvalue()
    assert zf.read("archive/data/0") == np.eye(2, dtype=np.float32).tobytes()
    got = load(tmp_path / "ckpt.pt")
    assert got["tags"] == {"a", "b"} and got[1.5] == "float key"
    np.testing.assert_array_equal(got["w"].numpy(), np.eye(2))
    with pytest.raises(TypeError, match="cannot save set"):  # .npz stays pickle-free
        save(obj, tmp_path / "ckpt.npz")


def test_saved_views_share_one_storage_and_load_as_views(tmp_path):
    w = Tensor(np.arange(12, dtype=np.float64).reshape(3, 4))
    obj = {"w": w, "t": Tensor._make(w.numpy().T), "row": Tensor._make(w.numpy()[1]),
           "s": {0}}
    save(obj, tmp_path / "v.pt")
    assert len([n for n in zipfile.ZipFile(tmp_path / "v.pt").namelist() if "/data/" in n]) == 1
    got = load(tmp_path / "v.pt")
    np.testing.assert_array_equal(got["t"].numpy(), w.numpy().T)
    np.testing.assert_array_equal(got["row"].numpy(), [4, 5, 6, 7])
    got["w"].numpy()[1, 0] = -1
    assert got["row"].numpy()[0] == -1 and got["t"].numpy()[0, 1] == -1


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.rnn = nn.LSTM(3, 4, batch_first=True)
        self.fc = nn.Linear(4, 5)

    def forward(self, idx: Tensor) -> Tensor:
        return self.fc(self.rnn(self.emb(idx))[0])


def test_whole_module_round_trip_needs_its_classes_allowed(tmp_path):
    tl.manual_seed(0)
    model = TinyNet()
    model.fc.weight.numpy()[...] = 0.5
    save(model, tmp_path / "model.pth")
    with pytest.raises(UnpicklingError, match=r"GLOBAL test_torch_format\.TinyNet .*"
                       r"add_safe_globals\(\[TinyNet\]\)"):
        load(tmp_path / "model.pth")
    idx = Tensor(np.array([[1, 2, 3]]))
    classes = [TinyNet, nn.Embedding, nn.LSTM, nn.Linear]
    with safe_globals(classes):
        assert get_safe_globals() == classes
        loaded = load(tmp_path / "model.pth")
    assert get_safe_globals() == []
    assert type(loaded) is TinyNet and type(loaded.fc.weight) is nn.Parameter
    assert [n for n, _ in loaded.named_parameters()] == [n for n, _ in model.named_parameters()]
    np.testing.assert_array_equal(loaded(idx).numpy(), model(idx).numpy())
    add_safe_globals(classes)
    try:
        assert type(load(tmp_path / "model.pth")) is TinyNet
    finally:
        clear_safe_globals()
    assert type(load(tmp_path / "model.pth", weights_only=False)) is TinyNet  # trusted file
    assert get_unsafe_globals_in_checkpoint(tmp_path / "model.pth") == [
        "test_torch_format.TinyNet", "tinygrad_lstm.nn.sparse.Embedding",
        "tinygrad_lstm.nn.rnn.LSTM", "tinygrad_lstm.nn.linear.Linear"]
    with safe_globals([nn.LSTM]):
        assert "tinygrad_lstm.nn.rnn.LSTM" not in get_unsafe_globals_in_checkpoint(
            tmp_path / "model.pth")
    assert get_unsafe_globals_in_checkpoint(io.BytesIO(archive(evil_pickle("x")[2:-1], {}))) == [
        f"{os.system.__module__}.system"]
    with pytest.raises(TypeError, match="cannot save TinyNet"):
        save(model, tmp_path / "model.npz")


def test_a_training_program_saves_and_resumes_a_whole_model_the_pytorch_way():
    rng = np.random.default_rng(0)
    idx = Tensor(rng.integers(0, 5, size=(8, 6)))
    target = Tensor(np.roll(idx.numpy(), -1, axis=1).reshape(-1))  # predict the next token
    tl.manual_seed(1)
    model = TinyNet()
    opt = tl.optim.Adam(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()

    def train(model, opt, steps):
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            loss = loss_fn(model(idx).reshape(-1, 5), target)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    first = train(model, opt, 10)
    buf = io.BytesIO()
    save({"model": model, "optimizer": opt.state_dict(), "epoch": 1}, buf)
    buf.seek(0)
    with safe_globals([TinyNet, nn.Embedding, nn.LSTM, nn.Linear]):
        ckpt = load(buf)
    model2 = ckpt["model"]
    opt2 = tl.optim.Adam(model2.parameters(), lr=0.05)
    opt2.load_state_dict(ckpt["optimizer"])
    np.testing.assert_array_equal(model2(idx).numpy(), model(idx).numpy())
    resumed = train(model2, opt2, 10)
    assert ckpt["epoch"] == 1 and resumed[-1] < first[-1] < first[0]
    assert resumed == train(model, opt, 10)  # the same run as never stopping


def test_safe_globals_by_explicit_name():
    body = glob("mymod", "Thing") + tup(i(1), i(2)) + b"R"
    data = archive(body, {})
    with pytest.raises(UnpicklingError, match="GLOBAL mymod.Thing"):
        load_bytes(data)
    with safe_globals([(complex, "mymod.Thing")]):
        assert load_bytes(data) == 1 + 2j
    with pytest.raises(TypeError, match="no module and qualname"):
        add_safe_globals([3])
    with pytest.raises(ValueError, match="module.qualname"):
        add_safe_globals([(complex, 3)])
    assert get_safe_globals() == []


# ---------------------------------------------------------------- hostile files


def evil_pickle(path) -> bytes:
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {path}",))

    return pickle.dumps(Evil(), protocol=2)


def test_a_pickle_calling_os_system_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    data = archive(evil_pickle(marker)[2:-1], {})
    with pytest.raises(pickle.UnpicklingError, match=rf"GLOBAL {os.system.__module__}\.system "
                       r"was not an allowed global.*add_safe_globals"):
        load_bytes(data)
    raw = tmp_path / "evil.pt"
    raw.write_bytes(evil_pickle(marker))
    with pytest.raises(ValueError, match="refusing to load pickled data"):
        load(raw)
    assert not marker.exists()


@pytest.mark.parametrize("body", [
    b"]" * 5000 + b"a" * 4999,          # lists in lists, no MARK needed
    b"(" * 5000,                        # MARKs
    b")" + b"\x85" * 5000,              # tuples in tuples
])
def test_deeply_nested_pickles_are_refused(body):
    with pytest.raises(UnpicklingError, match="nested deeper than"):
        load_bytes(archive(body, {}))


def test_nesting_built_through_the_memo_is_measured_on_the_result():
    n = 3000  # lists made flat, then linked one into the next through memo GETs
    put = [b"r" + struct.pack("<I", k) for k in range(n)]
    get = [b"j" + struct.pack("<I", k) for k in range(n)]
    body = b"".join(b"]" + put[k] + b"0" for k in range(n))
    body += b"".join(get[k] + get[k + 1] + b"a0" for k in range(n - 1)) + get[0]
    with pytest.raises(UnpicklingError, match="nested deeper than 1000"):
        load_bytes(archive(body, {}))
    cyclic = b"]" + put[0] + get[0] + b"a"  # a list holding itself is not deep
    got = load_bytes(archive(cyclic, {}))
    assert got[0] is got


def test_parameters_share_their_storage_instead_of_copying_it():
    param = (glob("torch._utils", "_rebuild_parameter")
             + tup(tensor("FloatStorage", "0", 4, (4,), (1,)), b"\x88", EMPTY_ORDERED_DICT)
             + b"R")
    body = b"]" + b"(" + param * 3 + b"e"
    a, b, c = load_bytes(archive(body, {"0": np.arange(4, dtype=np.float32).tobytes()}))
    assert type(a) is nn.Parameter and a.requires_grad is True
    np.testing.assert_array_equal(a.numpy(), [0, 1, 2, 3])
    assert np.shares_memory(a.numpy(), b.numpy()) and np.shares_memory(a.numpy(), c.numpy())


@pytest.mark.parametrize("body, msg", [
    (b"\x8e" + struct.pack("<Q", 2**62), "truncated pickle"),  # BINBYTES8 of 4 EiB
    (b"\x8b" + struct.pack("<i", 2**30), "truncated pickle"),  # LONG4 of 1 GiB
    (b"h\x07", "memo key 7"),
    (b"\x82\x03", "unsupported pickle opcode"),                  # EXT1: the copyreg registry
    (b"i__builtin__\neval\n", "unsupported pickle opcode"),      # INST
    (glob("builtins", "eval") + tup(s("1")) + b"R", "GLOBAL builtins.eval"),
    (b"N" + glob("collections", "OrderedDict") + b")R" + b"a", "can only APPEND"),
    (b"N)b", "BUILD of NoneType"),
    (b"NN", "STOP with a stack of 2"),
    # allowed names that would allocate what the file does not hold, if called so
    (glob("numpy", "ndarray") + tup(tup(b"J" + struct.pack("<i", 2**31 - 1))) + b"R",
     "REDUCE of numpy.ndarray"),
    (glob("numpy", "ndarray") + tup(tup(b"J" + struct.pack("<i", 2**31 - 1))) + b"\x81",
     "NEWOBJ of numpy.ndarray"),
    (glob("__builtin__", "bytearray") + tup(b"J" + struct.pack("<i", 2**31 - 1)) + b"R",
     "is not bytes"),
])
def test_corrupt_pickles_give_unpickling_errors(body, msg):
    with pytest.raises(UnpicklingError, match=msg):
        load_bytes(archive(body, {}))


def test_corrupt_pickles_read_by_pickle_itself_give_our_error():
    # weights_only=False reads with pickle's own Unpickler, whose errors are not ValueErrors
    data = archive(b"X" + struct.pack("<I", 100) + b"abc", {})  # a str longer than the file
    with pytest.raises(UnpicklingError, match=r"load: '<file object>': corrupt pickle "
                       r"\(UnpicklingError: pickle data was truncated\)"):
        load_bytes(data, weights_only=False)


def test_fuzzed_torch_files_fail_cleanly():
    body = ordered_dict([(s("w"), tensor("FloatStorage", "0", 4, (2, 2), (2, 1))),
                         (s("b"), tensor("LongStorage", "1", 2, (2,), (1,)))])
    storages = {"0": bytes(16), "1": bytes(16)}
    rng = np.random.default_rng(0)
    for _ in range(300):  # damage the pickle itself (the zip's CRCs would catch damage)
        bad = bytearray(body)
        for pos in rng.integers(0, len(body), size=rng.integers(1, 4)):
            bad[pos] = rng.integers(256)
        try:
            load_bytes(archive(bytes(bad), storages))
        except (ValueError, RuntimeError):  # UnpicklingError is a ValueError
            pass
    good = archive(body, storages)
    bad = bytearray(good)
    bad[good.index(b"_rebuild")] ^= 1
    with pytest.raises(ValueError, match="Bad CRC-32"):
        load_bytes(bytes(bad))
    for n in [len(good) // 3, len(good) // 2, len(good) - 30, len(good) - 1]:
        with pytest.raises(ValueError):
            load_bytes(good[:n])


def npy_member(shape, dtype="<f8", data=b"") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def zip_of(members: dict, method=zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def test_npy_header_claiming_a_huge_shape_is_refused_before_allocating():
    data = zip_of({"w.npy": npy_member((10**12,), data=bytes(8))})
    with pytest.raises(ValueError, match=r"claims shape \(1000000000000,\) of float64 but "
                       r"holds 8 bytes"):
        load_bytes(data)


def test_safetensors_header_claiming_a_huge_shape_is_refused():
    header = b'{"w":{"dtype":"F64","shape":[1000000,1000000],"data_offsets":[0,8]}}'
    with pytest.raises(ValueError, match="8 bytes for shape"):
        load_bytes(struct.pack("<Q", len(header)) + header + bytes(8))


def test_compression_bombs_are_refused_unread():
    data = bytearray(zip_of({"w.npy": npy_member((4,), data=bytes(32))}, zipfile.ZIP_DEFLATED))
    central = data.rindex(b"PK\x01\x02")  # claim 10**11 uncompressed bytes
    data[central + 24:central + 28] = struct.pack("<I", 2**32 - 2)
    with pytest.raises(ValueError, match="claims 4294967294 bytes from 69 compressed bytes"):
        load_bytes(bytes(data))
    bz = zip_of({"w.npy": npy_member((4,), data=bytes(32))}, zipfile.ZIP_BZIP2)
    with pytest.raises(ValueError, match="compression method 12"):
        load_bytes(bz)


def test_honest_compressed_npz_at_deflates_best_ratio_loads():
    buf = io.BytesIO()
    np.savez_compressed(buf, z=np.zeros(300_000), o=np.ones((3, 4), np.float32))
    got = load_bytes(buf.getvalue())
    assert got["z"].shape == (300_000,) and not got["z"].numpy().any()
    np.testing.assert_array_equal(got["o"].numpy(), np.ones((3, 4)))


def test_zip_without_arrays_and_other_archives_are_refused():
    with pytest.raises(ValueError, match="no arrays"):
        load_bytes(zip_of({"readme.txt": b"hello"}))
    with pytest.raises(ValueError, match="TorchScript"):
        load_bytes(zip_of({"m/data.pkl": b"\x80\x02).", "m/constants.pkl": b"\x80\x02).",
                           "m/code/__torch__/m.py": b""}))


def test_deeply_nested_npz_structure_is_refused(tmp_path):
    deep = b'{"format":"tinygrad_lstm.checkpoint","version":1,"root":' + b'{"list":[' * 300
    deep += b"1" + b"]}" * 300 + b"}"
    for structure in [deep, b"[" * 100_000 + b"]" * 100_000]:
        np.savez(tmp_path / "d.npz", __structure__=np.frombuffer(structure, dtype=np.uint8))
        with pytest.raises(ValueError, match="nested"):
            load(tmp_path / "d.npz")
    nested = []
    for _ in range(300):
        nested = [nested]
    with pytest.raises(ValueError, match="nested deeper than 200"):
        save(nested, tmp_path / "n.npz")
