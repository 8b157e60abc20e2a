"""save/load keep requires_grad and Parameters, as torch.save / torch.load do: a tensor that
required grad loads as a leaf that requires grad, a Parameter as a Parameter."""

import io
import json

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import nn


def round_trip(obj, where):
    if where == "file":
        f = io.BytesIO()
        tl.save(obj, f)
        f.seek(0)
        return tl.load(f)
    tl.save(obj, where)
    return tl.load(where)


@pytest.mark.parametrize("name", ["file", "ckpt", "ckpt.npz"])
def test_requires_grad_and_parameters_survive_the_round_trip(tmp_path, name):
    w = tl.tensor([1.0, -2.0], requires_grad=True)
    obj = {"w": w, "nonleaf": w * 3, "p": nn.Parameter(tl.ones(2, 2)),
           "frozen": nn.Parameter(tl.zeros(3, dtype=tl.float64), requires_grad=False),
           "plain": tl.tensor([1, 2, 3])}
    got = round_trip(obj, name if name == "file" else str(tmp_path / name))
    # (class, requires_grad) as torch.load returns them; every tensor a leaf
    assert {k: (type(v).__name__, v.requires_grad) for k, v in got.items()} == {
        "w": ("Tensor", True), "nonleaf": ("Tensor", True), "p": ("Parameter", True),
        "frozen": ("Parameter", False), "plain": ("Tensor", False)}
    assert all(v.is_leaf and v.grad is None for v in got.values())
    assert got["frozen"].dtype == tl.float64 and got["plain"].dtype == tl.int64
    np.testing.assert_array_equal(got["nonleaf"].detach().numpy(), [3.0, -6.0])
    # training resumes from the loaded leaf: it gets its own gradient
    (got["w"] * got["w"]).sum().backward()
    np.testing.assert_array_equal(got["w"].grad.numpy(), [2.0, -4.0])


def test_a_crafted_file_with_an_integer_tensor_that_requires_grad_is_refused(tmp_path):
    meta = {"format": "tinygrad_lstm.checkpoint", "version": 1,
            "root": {"tensor_requires_grad": "a0"}}
    path = tmp_path / "bad.npz"
    np.savez(path, a0=np.arange(3), __structure__=np.frombuffer(
        json.dumps(meta).encode(), dtype=np.uint8))
    with pytest.raises(ValueError, match="load:.*bad.npz"):
        tl.load(str(path))
