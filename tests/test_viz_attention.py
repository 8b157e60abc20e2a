"""Graph pictures of attention: clusters by layer, module and the attention core of each
MultiheadAttention, and `max_depth`, which draws each deep scope as one box so that a 4-layer
encoder reads layer by layer. The DOT source is checked against counts known by hand."""

import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn, viz
from tinygrad_lstm.autograd import graph_scope

pytest.importorskip("graphviz")
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.test_viz import parse  # noqa: E402

ENC = "transformerencoder"
LAYER_PARTS = ["self_attn", "dropout1", "norm1", "linear1", "dropout", "linear2", "dropout2",
               "norm2"]  # in the order the layer runs them


def encoder_loss(num_layers=4):
    tl.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    enc = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(8))
    x = tl.randn(5, 2, 8)
    return enc, enc(x, mask=nn.Transformer.generate_square_subsequent_mask(5)).sum()


def test_encoder_is_clustered_by_layer_module_and_attention_core():
    enc, loss = encoder_loss()
    nodes, _, clusters = parse(viz.make_dot(loss, dict(enc.named_parameters())).source)
    layers = [c for c in clusters if len(c) == 2]
    assert layers == [(ENC, f"layers.{i}") for i in range(4)] + [(ENC, "norm")]
    for i in range(4):
        inside = [c[2] for c in clusters if len(c) == 3 and c[1] == f"layers.{i}"]
        assert inside == LAYER_PARTS  # in training mode, so the dropouts draw too
        assert (ENC, f"layers.{i}", "self_attn", "attention (2 heads)") in clusters
    core = [label.split("\n")[0] for label, path in nodes.values()
            if path == (ENC, "layers.2", "self_attn", "attention (2 heads)")]
    assert core.count("MatmulBackward") == 2  # q k^T and weights @ v, all heads at once


def test_max_depth_draws_a_4_layer_encoder_layer_by_layer():
    enc, loss = encoder_loss()
    params = dict(enc.named_parameters())
    full, _, _ = parse(viz.make_dot(loss, params).source)
    nodes, edges, clusters = parse(viz.make_dot(loss, params, max_depth=2).source)
    assert len(full) > 250
    assert clusters == [(ENC,)]
    labels = sorted(label for label, _ in nodes.values())
    layer_boxes = [lab for lab in labels if lab.startswith("layers.")]
    assert [lab.split("\n")[0] for lab in layer_boxes] == [f"layers.{i}" for i in range(4)]
    assert all("12 parameters" in lab and "(5, 2, 8)" in lab for lab in layer_boxes)
    assert len(nodes) == 6  # four layers, the final norm, the sum
    ids = {label.split("\n")[0]: i for i, (label, _) in nodes.items()}
    chain = ["layers.0", "layers.1", "layers.2", "layers.3", "norm", "SumBackward"]
    assert edges == [(ids[a], ids[b]) for a, b in zip(chain, chain[1:])]

    nodes, edges, clusters = parse(viz.make_dot(loss, params, max_depth=3).source)
    assert len(nodes) < 70 and all(a in nodes and b in nodes for a, b in edges)
    boxes = [label.split("\n")[0] for label, path in nodes.values()
             if path == (ENC, "layers.1") and "ops" in label]
    assert boxes == LAYER_PARTS
    to_boxes = [e for e in edges if e[0].startswith("box") or e[1].startswith("box")]
    assert len(set(to_boxes)) == len(to_boxes)  # one edge per pair of boxes


def test_max_depth_keeps_a_parameter_used_in_two_boxes():
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    x = Tensor(rng.standard_normal((2, 3)))
    with graph_scope("a"):
        with graph_scope("inner"):
            h = (x @ w).tanh()
    with graph_scope("b"):
        with graph_scope("inner"):
            y = (h @ w).sum()
    nodes, edges, _ = parse(viz.make_dot(y, {"w": w}, max_depth=1).source)
    assert sorted(label.split("\n")[0] for label, _ in nodes.values()) == ["a", "b", "w"]
    ids = {label.split("\n")[0]: i for i, (label, _) in nodes.items()}
    assert sorted(edges) == sorted([(ids["w"], ids["a"]), (ids["w"], ids["b"]),
                                    (ids["a"], ids["b"])])
    with pytest.raises(ValueError, match="max_depth must be a positive int"):
        viz.make_dot(y, max_depth=0)
