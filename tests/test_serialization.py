"""save/load: exact round trips, no pickle, atomic writes, and safetensors byte compatibility.

The safetensors oracles are byte strings written out by hand (three of them are the test
vectors of the library's own Rust tests); the library itself is used only if installed.
"""

import os
import pickle
import struct

import numpy as np
import pytest

from tinygrad_lstm import Tensor
from tinygrad_lstm.serialization import load, save


def assert_same(got, want):
    """Equal value, equal type all the way down (tuple stays tuple, int key stays int)."""
    assert type(got) is type(want), (type(got), type(want))
    if isinstance(want, Tensor):
        assert got.requires_grad is want.requires_grad and got.is_leaf  # as after torch.save
        assert_same(got.numpy(), want.numpy())
    elif isinstance(want, np.ndarray):
        assert (got.dtype, got.shape) == (want.dtype, want.shape)
        assert got.tobytes() == want.tobytes()
    elif isinstance(want, np.generic):
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    elif isinstance(want, dict):
        assert [(type(k), k) for k in got] == [(type(k), k) for k in want]
        for k in want:
            assert_same(got[k], want[k])
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same(g, w)
    else:
        assert repr(got) == repr(want)  # repr tells -0.0 from 0.0 and matches nan with nan


def checkpoint():
    rng = np.random.default_rng(0)
    gen = np.random.default_rng(1234)
    gen.standard_normal(3)  # move the state off its seed
    return {
        "model": {
            "rnn.weight_ih_l0": Tensor(rng.standard_normal((8, 3)).astype(np.float32)),
            "fc.bias": Tensor(rng.standard_normal(5).astype(np.float32), requires_grad=True),
            "counts": Tensor(np.array([3, -1, 2**40], dtype=np.int64)),
        },
        "optimizer": {
            "state": {
                0: {"step": 3, "exp_avg": rng.standard_normal((8, 3))},
                1: {"step": 3, "exp_avg": np.zeros(5, dtype=np.float32)},
            },
            "param_groups": [
                {
                    "lr": 0.1,
                    "betas": (0.9, 0.999),
                    "eps": 1e-8,
                    "weight_decay": 0.0,
                    "amsgrad": False,
                    "params": [0, 1],
                }
            ],
        },
        "vocab": {"stoi": {"a": 0, "b": 1, "\n": 2, "é": 3}, "itos": ["a", "b", "\n", "é"]},
        "rng": gen.bit_generator.state,
        "mask": rng.random((2, 3)) > 0.5,
        "scalars": [
            np.float32(1.5),
            np.int64(-7),
            0.1,
            -0.0,
            float("nan"),
            float("inf"),
            None,
            True,
            2**200,
            -(2**70),
            "",
        ],
        "empty": [(), [], {}, np.zeros((0, 3))],
    }


@pytest.mark.parametrize("name", ["ckpt.npz", "ckpt", "ckpt.bin"])
def test_round_trip_nested(tmp_path, name):
    obj = checkpoint()
    path = tmp_path / name
    save(obj, path)
    assert os.listdir(tmp_path) == [name]  # the path given is the path written, no ".npz" added
    assert_same(load(path), obj)
    assert_same(load(str(path)), obj)


def test_round_trip_dtypes_and_layouts(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    obj = {
        "f32": x.astype(np.float32),
        "f64": x,
        "i64": np.arange(-5, 5, dtype=np.int64),
        "bool": x > 0,
        "i32": np.arange(4, dtype=np.int32),
        "u8": np.arange(4, dtype=np.uint8),
        "f16": x.astype(np.float16),
        "0d": np.array(2.5),
        "transposed": x.T,
        "big_endian": x.astype(">f8"),
        "t_f64": Tensor(x),
        "t_i64": Tensor(np.arange(3, dtype=np.int64)),
        "t_bool": Tensor(x > 0),
    }
    save(obj, tmp_path / "d.npz")
    got = load(tmp_path / "d.npz")
    for k in ["f32", "f64", "i64", "bool", "i32", "u8", "f16", "0d", "t_f64", "t_i64", "t_bool"]:
        assert_same(got[k], obj[k])
    np.testing.assert_array_equal(got["transposed"], x.T)
    np.testing.assert_array_equal(got["big_endian"], x)
    assert got["t_f64"].dtype == np.float64 and got["t_bool"].numpy().dtype == np.bool_


def test_loaded_arrays_are_writable_and_independent(tmp_path):
    w = Tensor(np.ones((2, 2), dtype=np.float32))
    save({"w": w, "a": np.zeros(3)}, tmp_path / "c.npz")
    got = load(tmp_path / "c.npz")
    got["w"].numpy()[...] += 1  # optimizers update the array in place
    got["a"][0] = 5
    np.testing.assert_array_equal(w.numpy(), np.ones((2, 2)))


def test_rng_state_resumes_the_same_stream(tmp_path):
    gen = np.random.default_rng(7)
    gen.random(10)
    save({"rng": gen.bit_generator.state}, tmp_path / "r.npz")
    expected = gen.random(5)
    resumed = np.random.default_rng()
    resumed.bit_generator.state = load(tmp_path / "r.npz")["rng"]
    np.testing.assert_array_equal(resumed.random(5), expected)


_fired = []


def _payload():
    _fired.append(True)


class Payload:
    def __reduce__(self):
        return (_payload, ())


def test_pickled_npz_is_refused_and_never_runs(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, w=np.ones(2), x=np.array([Payload()], dtype=object))
    with pytest.raises(ValueError, match="refusing to load pickled data from .*evil.npz"):
        load(path)
    assert _fired == []
    np.load(path, allow_pickle=True)["x"]  # the payload is live: unpickling it does fire
    assert _fired == [True]
    _fired.clear()


def test_raw_pickle_is_refused_and_never_runs(tmp_path):
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ValueError, match="refusing to load pickled data from .*evil.npz"):
        load(path)
    assert _fired == []


def test_object_arrays_are_refused_at_save(tmp_path):
    with pytest.raises(TypeError, match="object arrays"):
        save({"x": np.array([1, "a"], dtype=object)}, tmp_path / "o.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "obj, err, msg",
    [
        ({"s": {1, 2}}, TypeError, r"cannot save set at obj\['s'\]"),
        ({1.5: 0}, TypeError, "dict keys must be str or int"),
        ({True: 0}, TypeError, "dict keys must be str or int"),
        ([object()], TypeError, r"cannot save object at obj\[0\]"),
    ],
)
def test_unsavable_objects_raise(tmp_path, obj, err, msg):
    with pytest.raises(err, match=msg):
        save(obj, tmp_path / "x.npz")


def test_circular_structure_raises(tmp_path):
    a = {"w": np.ones(2)}
    a["self"] = [a]
    with pytest.raises(ValueError, match="contains itself"):
        save(a, tmp_path / "x.npz")
    shared = [1, 2]
    save({"a": shared, "b": shared}, tmp_path / "y.npz")  # shared is not circular
    assert load(tmp_path / "y.npz") == {"a": [1, 2], "b": [1, 2]}


@pytest.mark.parametrize("name", ["c.npz", "c.safetensors"])
def test_missing_file(tmp_path, name):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / name)


@pytest.mark.parametrize("name", ["c.npz", "c.safetensors"])
def test_truncated_and_garbage_files_raise_valueerror_naming_the_file(tmp_path, name):
    save({"w": np.arange(64, dtype=np.float32), "b": np.ones(3)}, tmp_path / name)
    data = (tmp_path / name).read_bytes()
    bad = tmp_path / ("bad_" + name)
    garbage = b"not a checkpoint " + np.random.default_rng(0).bytes(200)
    for content in [data[: len(data) // 2], data[:-1], data[:5], b"", garbage]:
        bad.write_bytes(content)
        with pytest.raises(ValueError, match="bad_c"):
            load(bad)


def _npz_with_structure(path, structure: bytes, **arrays):
    np.savez(path, __structure__=np.frombuffer(structure, dtype=np.uint8), **arrays)


@pytest.mark.parametrize(
    "structure, msg",
    [
        (b"{not json", "bad JSON"),
        (b"\xff\xfe", "bad JSON"),
        (b'{"format":"other","version":1,"root":1}', "does not describe"),
        (b'{"format":"tinygrad_lstm.checkpoint","version":99,"root":1}', "version 99"),
        (
            b'{"format":"tinygrad_lstm.checkpoint","version":1,"root":{"ndarray":"a5"}}',
            "missing array 'a5'",
        ),
        (b'{"format":"tinygrad_lstm.checkpoint","version":1,"root":{"what":1}}', "unknown"),
        (
            b'{"format":"tinygrad_lstm.checkpoint","version":1,"root":{"dict":[[1.5,1]]}}',
            "bad dict item",
        ),
    ],
)
def test_corrupt_structure_raises(tmp_path, structure, msg):
    path = tmp_path / "s.npz"
    _npz_with_structure(path, structure, a0=np.ones(2))
    with pytest.raises(ValueError, match=msg) as e:
        load(path)
    assert "s.npz" in str(e.value)


def test_plain_npz_loads_as_a_flat_dict_of_tensors(tmp_path):
    # e.g. np.savez(path, **{k: v.numpy() for k, v in torch_model.state_dict().items()})
    w, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64)
    np.savez(tmp_path / "plain.npz", **{"lstm.weight_ih_l0": w, "fc.bias": b})
    loaded = load(tmp_path / "plain.npz")
    assert sorted(loaded) == ["fc.bias", "lstm.weight_ih_l0"]
    assert all(isinstance(t, Tensor) for t in loaded.values())
    np.testing.assert_array_equal(loaded["lstm.weight_ih_l0"].numpy(), w)
    assert loaded["fc.bias"].dtype == np.int64


@pytest.mark.parametrize("name", ["c.npz", "c.safetensors"])
def test_failed_save_leaves_previous_file_and_no_temp_files(tmp_path, name, monkeypatch):
    path = tmp_path / name
    save({"w": np.arange(4.0)}, path)
    before = path.read_bytes()
    with pytest.raises((TypeError, ValueError)):
        save({"w": {1, 2}}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == [name]

    def fail(fd):  # the disk fails after the bytes were written to the temporary file
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        save({"w": np.zeros(100)}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == [name]
    monkeypatch.undo()
    save({"w": np.zeros(2)}, path)  # and a good save replaces it
    assert_same(load(path)["w"], Tensor(np.zeros(2)) if name.endswith("tensors") else np.zeros(2))
    assert os.listdir(tmp_path) == [name]


# ---------------------------------------------------------------- safetensors


def st_bytes(header: str, data: bytes, pad: int = 0) -> bytes:
    text = header.encode() + b" " * pad
    return struct.pack("<Q", len(text)) + text + data


F32_0_TO_5 = bytes(
    [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64]
)


@pytest.mark.parametrize(
    "obj, expected",
    [
        # the library's test_empty, test_serialization and test_serialization_forced_alignement
        ({}, st_bytes("{}", b"", pad=6)),
        (
            {"attn.0": np.arange(6, dtype=np.float32).reshape(1, 2, 3)},
            st_bytes(
                '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}', F32_0_TO_5
            ),
        ),
        (
            {"attn0": Tensor(np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3))},
            st_bytes(
                '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}',
                F32_0_TO_5,
                pad=7,
            ),
        ),
        # larger alignment first, then by name: I64, F64, F32 (b1 before b2), BOOL
        (
            {
                "a": np.array([True, False]),
                "b2": np.array([1.0, 2.0], dtype=np.float32),
                "b1": np.array([0.5], dtype=np.float32),
                "d": np.array(3.0),
                "c": np.array([[1], [-2]]),
            },
            st_bytes(
                '{"c":{"dtype":"I64","shape":[2,1],"data_offsets":[0,16]},'
                '"d":{"dtype":"F64","shape":[],"data_offsets":[16,24]},'
                '"b1":{"dtype":"F32","shape":[1],"data_offsets":[24,28]},'
                '"b2":{"dtype":"F32","shape":[2],"data_offsets":[28,36]},'
                '"a":{"dtype":"BOOL","shape":[2],"data_offsets":[36,38]}}',
                bytes(
                    [
                        1,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        254,
                        255,
                        255,
                        255,
                        255,
                        255,
                        255,
                        255,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        8,
                        64,
                        0,
                        0,
                        0,
                        63,
                        0,
                        0,
                        128,
                        63,
                        0,
                        0,
                        0,
                        64,
                        1,
                        0,
                    ]
                ),
                pad=1,
            ),
        ),
    ],
)
def test_safetensors_bytes_match_the_format(tmp_path, obj, expected):
    save(obj, tmp_path / "m.safetensors")
    assert (tmp_path / "m.safetensors").read_bytes() == expected
    got = load(tmp_path / "m.safetensors")
    assert sorted(got) == sorted(obj)
    for k, v in obj.items():
        assert_same(got[k], v if isinstance(v, Tensor) else Tensor(v))


def test_safetensors_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    obj = {
        "f32": Tensor(x.astype(np.float32)),
        "f64": Tensor(x),
        "i64": Tensor(np.arange(5)),
        "bool": Tensor(x > 0),
        "f16": x.astype(np.float16),
        "i32": np.arange(3, dtype=np.int32),
        "empty": np.zeros((0, 2), dtype=np.float32),
        "é.w": x.T,
        "big": x.astype(">f4"),
    }
    save(obj, tmp_path / "m.safetensors")
    got = load(tmp_path / "m.safetensors")
    assert sorted(got) == sorted(obj)
    for k, v in obj.items():
        assert type(got[k]) is Tensor and got[k].requires_grad is False
        want = v.numpy() if isinstance(v, Tensor) else v
        assert got[k].numpy().dtype == want.dtype.newbyteorder("=")
        np.testing.assert_array_equal(got[k].numpy(), want)


@pytest.mark.parametrize(
    "obj",
    [
        {"a": {"b": np.ones(2)}},
        [np.ones(2)],
        {"a": 1.0},
        {1: np.ones(2)},
        {"a": np.array(["x"])},
        {"a": np.array([None], dtype=object)},
        {"__metadata__": np.ones(1)},
    ],
)
def test_safetensors_refuses_what_it_cannot_hold(tmp_path, obj):
    with pytest.raises(ValueError, match="m.safetensors"):
        save(obj, tmp_path / "m.safetensors")
    assert os.listdir(tmp_path) == []


GOOD = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'


@pytest.mark.parametrize(
    "content, msg",
    [
        (b"\x08\x00", "shorter than"),
        (struct.pack("<Q", 1000) + b"{}", "header length 1000"),
        (st_bytes("{bad", b""), "bad safetensors header"),
        (st_bytes("[1, 2]", b""), "not a JSON object"),
        (st_bytes(GOOD.replace("F32", "F7"), bytes(8)), "unknown dtype 'F7'"),
        (st_bytes(GOOD.replace("F32", "BF16"), bytes(8)), "BF16.*no NumPy"),
        (st_bytes(GOOD.replace("[2]", "[3]"), bytes(8)), "8 bytes for shape"),
        (st_bytes(GOOD.replace("[0,8]", "[4,12]"), bytes(12)), "not contiguous"),
        (st_bytes(GOOD.replace("[0,8]", "[8,0]"), bytes(8)), "not contiguous"),
        (st_bytes(GOOD, bytes(4)), "past the 4 data bytes"),
        (st_bytes(GOOD, bytes(9)), "cover 8 of the 9"),
        (st_bytes(GOOD.replace('"shape":[2]', '"shape":[-2]'), bytes(8)), "bad entry"),
        (st_bytes(GOOD.replace('"shape"', '"shap"'), bytes(8)), "bad entry"),
        (st_bytes('{"__metadata__":{"a":1},' + GOOD[1:], bytes(8)), "__metadata__"),
    ],
)
def test_safetensors_load_validates(tmp_path, content, msg):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=msg) as e:
        load(path)
    assert "bad.safetensors" in str(e.value)


def test_safetensors_load_reads_metadata_and_any_entry_order(tmp_path):
    header = (
        '{"__metadata__":{"format":"pt"},"b":{"dtype":"I32","shape":[1],'
        '"data_offsets":[4,8]},"a":{"dtype":"U8","shape":[2,2],"data_offsets":[0,4]}}'
    )
    path = tmp_path / "m.safetensors"
    path.write_bytes(st_bytes(header, bytes([1, 2, 3, 4, 7, 0, 0, 0])))
    got = load(path)
    assert_same(got["a"], Tensor(np.array([[1, 2], [3, 4]], dtype=np.uint8)))
    assert_same(got["b"], Tensor(np.array([7], dtype=np.int32)))


def test_safetensors_library_reads_ours_and_we_read_its(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(0)
    obj = {
        "w": rng.standard_normal((3, 4)).astype(np.float32),
        "b": rng.standard_normal(4),
        "idx": np.arange(5),
        "m": rng.random(3) > 0.5,
        "h": np.ones(2, dtype=np.float16),
    }
    save(obj, tmp_path / "ours.safetensors")
    theirs = st.load_file(str(tmp_path / "ours.safetensors"))
    assert sorted(theirs) == sorted(obj)
    for k in obj:
        assert_same(theirs[k], obj[k])
    st.save_file(obj, str(tmp_path / "theirs.safetensors"))
    assert (tmp_path / "theirs.safetensors").read_bytes() == (
        tmp_path / "ours.safetensors"
    ).read_bytes()
    st.save_file(obj, str(tmp_path / "meta.safetensors"), metadata={"format": "np"})
    got = load(tmp_path / "meta.safetensors")
    for k in obj:
        assert_same(got[k], Tensor(obj[k]))
