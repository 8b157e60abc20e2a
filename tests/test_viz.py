"""Graph pictures and gradient flow: the DOT source is checked against counts known by hand,
gradient norms against NumPy, and the per-step ||dL/dh_t|| against hand-derived BPTT."""

import re
import shutil
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn, viz
from tinygrad_lstm.autograd import graph_scope
from tinygrad_lstm.nn import functional as F

_TOKEN = re.compile(r'^\s*(?:subgraph cluster_\w+ \{\n([^\n]*)|(\})|(\w+) -> (\w+)'
                    r'|(\w+) \[label=("[^"]*"|<<.*?>>|[^\s\]]+))', re.M | re.S)


def parse(source: str):
    """(nodes: id -> (label, path of enclosing cluster labels), edges: [(a, b)],
    clusters: [path of cluster labels])."""
    nodes, edges, clusters, path = {}, [], [], []
    for m in _TOKEN.finditer(source):
        cluster_attrs, close, a, b, node, label = m.groups()
        if cluster_attrs is not None:
            path.append(re.search(r'\blabel=("[^"]*"|\S+)', cluster_attrs)[1].strip('"'))
            clusters.append(tuple(path))
        elif close and path:
            path.pop()
        elif a is not None:
            edges.append((a, b))
        elif node is not None:
            nodes[node] = (label.strip('"'), tuple(path))
    return nodes, edges, clusters


def leaf(rng, *shape) -> Tensor:
    return Tensor(rng.standard_normal(shape), requires_grad=True)


def norm_in(label: str) -> float:
    return float(re.search(r"\|g\| (\S+)", label)[1])


class Model(nn.Module):
    """LSTM with a Linear readout over time: (T, N, I) -> (T, N, C)."""

    def __init__(self, input_size=3, hidden_size=4, classes=5):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size)
        self.decoder = nn.Linear(hidden_size, classes)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.decoder(out)


def lstm_loss(T: int, seed: int = 0):
    tl.manual_seed(seed)
    model = Model()
    logits = model(tl.randn(T, 2, 3))  # (T, 2, 5)
    target = Tensor(np.arange(2 * T) % 5)
    return model, F.cross_entropy(logits.reshape(-1, 5), target)


# ---------------------------------------------------------------- graph structure


def test_small_expression_counts_and_labels():
    rng = np.random.default_rng(0)
    x, w, b = leaf(rng, 2, 3), leaf(rng, 3, 4), leaf(rng, 4)
    c = Tensor(rng.standard_normal((2, 4)))  # needs no gradient: not drawn
    y = ((x @ w + b) * c).tanh().sum()
    nodes, edges, clusters = parse(viz.make_dot(y, params={"weight": w, "bias": b}).source)
    labels = sorted(label for label, _ in nodes.values())
    assert labels == sorted(["(2, 3)", "weight\n(3, 4)", "bias\n(4,)", "MatmulBackward\n(2, 4)",
                             "AddBackward\n(2, 4)", "MulBackward\n(2, 4)",
                             "TanhBackward\n(2, 4)", "SumBackward\n()"])
    assert len(edges) == 7  # x, w -> matmul -> add <- b; add -> mul -> tanh -> sum
    assert clusters == []
    ids = {label.split("\n")[0]: i for i, (label, _) in nodes.items()}
    assert (ids["weight"], ids["MatmulBackward"]) in edges
    assert (ids["bias"], ids["AddBackward"]) in edges
    assert (ids["TanhBackward"], ids["SumBackward"]) in edges


def test_reused_input_draws_one_edge_per_use():
    x = Tensor([1.0, 2.0], requires_grad=True)
    nodes, edges, _ = parse(viz.make_dot((x + x) * x).source)
    assert len(nodes) == 3 and len(edges) == 4


def test_labels_without_shapes_and_multi_output_ops():
    x = Tensor(np.ones((2, 8)), requires_grad=True)
    a, b = x.chunk(2, 1)
    y = (a * b).sum()
    nodes, _, _ = parse(viz.make_dot(y, {"x": x}).source)
    assert "SplitBackward\n2 x (2, 4)" in {label for label, _ in nodes.values()}
    nodes, _, _ = parse(viz.make_dot(y, {"x": x}, show_shapes=False).source)
    assert sorted(label for label, _ in nodes.values()) == ["MulBackward", "SplitBackward",
                                                           "SumBackward", "x"]


def test_long_chain_is_drawn_without_recursion():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    nodes, edges, _ = parse(viz.make_dot(y).source)
    assert len(nodes) == 3001 and len(edges) == 3000


def test_make_dot_rejects_non_tensors():
    with pytest.raises(TypeError, match="make_dot"):
        viz.make_dot(np.ones(3))
    with pytest.raises(ValueError, match="max_steps"):
        viz.make_dot(Tensor([1.0], requires_grad=True) * 2, max_steps=0)


# ---------------------------------------------------------------- clusters and elision


def unrolled(T: int, rng):
    """A tanh recurrence in hand-pushed scopes: ("rnn", t) for each step, ("head",) after."""
    w, u = leaf(rng, 3, 3), leaf(rng, 3, 3)
    xs = [Tensor(rng.standard_normal((2, 3))) for _ in range(T)]
    h = Tensor(np.zeros((2, 3)))
    with graph_scope("rnn"):
        for t in range(T):
            with graph_scope(t):
                h = (xs[t] @ w + h @ u).tanh()  # 4 ops per step
    with graph_scope("head"):
        y = h.sum()
    return y, {"w": w, "u": u}


def test_one_cluster_per_scope_and_time_step():
    y, params = unrolled(3, np.random.default_rng(0))
    nodes, _, clusters = parse(viz.make_dot(y, params).source)
    assert clusters == [("rnn",), ("rnn", "t = 0"), ("rnn", "t = 1"), ("rnn", "t = 2"),
                        ("head",)]
    per_cluster = {}
    for label, path in nodes.values():
        per_cluster.setdefault(path, []).append(label.split("\n")[0])
    assert sorted(per_cluster[("rnn", "t = 1")]) == ["AddBackward", "MatmulBackward",
                                                     "MatmulBackward", "TanhBackward"]
    assert len(per_cluster[("rnn", "t = 0")]) == 4
    assert per_cluster[("head",)] == ["SumBackward"]
    assert sorted(per_cluster[()]) == ["u", "w"]  # leaves stay outside the clusters
    nodes, _, clusters = parse(viz.make_dot(y, params, group=False).source)
    assert clusters == [] and len(nodes) == 2 + 3 * 4 + 1


def test_max_steps_draws_first_and_last_steps_and_one_summary():
    y, params = unrolled(10, np.random.default_rng(0))
    nodes, edges, clusters = parse(viz.make_dot(y, params, max_steps=2).source)
    assert clusters == [("rnn",), ("rnn", "t = 0"), ("rnn", "t = 1"), ("rnn", "t = 8"),
                        ("rnn", "t = 9"), ("head",)]
    summaries = [(label, path) for label, path in nodes.values() if "steps" in label]
    assert len(summaries) == 1
    label, path = summaries[0]
    assert path == ("rnn",) and "6 steps, t = 2..7" in label and "24 ops" in label
    assert len(nodes) == 2 + 4 * 4 + 1 + 1
    assert all(a in nodes and b in nodes for a, b in edges)
    assert len(edges) == len(set(edges))  # w, u and the steps around it meet the summary once
    summary = next(i for i, (label, _) in nodes.items() if "steps" in label)
    assert sorted(nodes[a][0] for a, b in edges if b == summary) == \
        ["TanhBackward\n(2, 3)", "u\n(3, 3)", "w\n(3, 3)"]
    # k large enough to keep every step: nothing elided
    nodes_all, _, _ = parse(viz.make_dot(y, params).source)
    nodes_k5, _, _ = parse(viz.make_dot(y, params, max_steps=5).source)
    assert len(nodes_k5) == len(nodes_all) == 2 + 10 * 4 + 1


def test_modules_are_clustered_by_attribute_name():
    model, loss = lstm_loss(3)
    nodes, _, clusters = parse(viz.make_dot(loss, dict(model.named_parameters())).source)
    assert clusters == [("model",), ("model", "lstm"), ("model", "lstm", "t = 0"),
                        ("model", "lstm", "t = 1"), ("model", "lstm", "t = 2"),
                        ("model", "decoder")]
    steps = [sum(path == ("model", "lstm", f"t = {t}") for _, path in nodes.values())
             for t in range(3)]
    assert steps[0] == steps[1] == steps[2] > 0
    names = {label.split("\n")[0] for label, path in nodes.values() if path == ()}
    assert set(dict(model.named_parameters())) <= names


def test_200_step_lstm_with_max_steps_fits_on_a_screen():
    model, loss = lstm_loss(200)
    full, _, _ = parse(viz.make_dot(loss).source)
    nodes, edges, clusters = parse(viz.make_dot(loss, dict(model.named_parameters()),
                                                max_steps=2).source)
    assert len(full) > 1400  # 200 steps of 7 nodes, and the readout and loss
    assert len(nodes) < 150
    assert [c[-1] for c in clusters if len(c) == 3] == ["t = 0", "t = 1", "t = 198", "t = 199"]
    assert all(a in nodes and b in nodes for a, b in edges)


# ---------------------------------------------------------------- gradient colours


def test_show_grad_labels_nodes_with_the_norm_of_their_gradient():
    rng = np.random.default_rng(0)
    x, w = leaf(rng, 2, 3), leaf(rng, 3, 4)
    a, b = (x @ w).chunk(2, 1)
    y = (a.tanh() * 3.0).sum() + b.sum()
    with viz.record_grad_norms(y):
        y.backward()
    assert y.grad_fn.hooks is None  # the hooks are gone after the context
    nodes, _, _ = parse(viz.make_dot(y, {"w": w}, show_grad=True).source)
    got = {label.split("\n")[0]: norm_in(label) for label, _ in nodes.values() if "|g|" in label}
    z = x.numpy() @ w.numpy()  # (2, 4)
    dz = np.concatenate([3.0 * (1 - np.tanh(z[:, :2]) ** 2), np.ones((2, 2))], axis=1)
    expected = {"w": np.linalg.norm(x.numpy().T @ dz), "(2, 3)": np.linalg.norm(dz @ w.numpy().T),
                "MatmulBackward": np.linalg.norm(dz), "SplitBackward": np.linalg.norm(dz),
                "TanhBackward": np.sqrt(4 * 9.0), "AddBackward": 1.0}
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=6e-3, err_msg=name)
    assert "legend" in viz.make_dot(y, show_grad=True).source
    fills = re.findall(r'fillcolor="(#[0-9a-f]{6})"', viz.make_dot(y, show_grad=True).source)
    assert "#313695" in fills and "#a50026" in fills  # smallest and largest norm: the two ends


def test_show_grad_without_recording_says_how():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="record_grad_norms"):
        viz.make_dot(y, show_grad=True)


# ---------------------------------------------------------------- rendering


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_render_writes_a_valid_svg(tmp_path):
    y, params = unrolled(4, np.random.default_rng(0))
    path = viz.render(viz.make_dot(y, params, max_steps=1), tmp_path / "sub" / "g.svg")
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "TanhBackward" in (tmp_path / "sub" / "g.svg").read_text()


def test_render_without_dot_writes_the_source_and_says_so_once(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` to be found
    monkeypatch.setattr(viz, "_told_to_install", False)
    dot = viz.make_dot(Tensor([1.0], requires_grad=True) * 2)
    with pytest.warns(UserWarning, match="Install Graphviz") as told:
        first = viz.render(dot, tmp_path / "a.svg")
        second = viz.render(dot, tmp_path / "b.png")
    assert first == str(tmp_path / "a.svg.dot") and second == str(tmp_path / "b.png.dot")
    assert (tmp_path / "a.svg.dot").read_text() == dot.source
    assert sum("Install Graphviz" in str(w.message) for w in told) == 1


def test_render_never_raises_on_an_unwritable_path(tmp_path):
    (tmp_path / "file").write_text("")
    dot = viz.make_dot(Tensor([1.0], requires_grad=True) * 2)
    with pytest.warns(RuntimeWarning, match="could not write"):
        assert viz.render(dot, tmp_path / "file" / "g.dot") is None
    assert viz.render(dot, tmp_path / "g.dot") == str(tmp_path / "g.dot")
    with pytest.raises(ValueError, match="unknown format"):
        viz.render(dot, tmp_path / "g.nope")


# ---------------------------------------------------------------- gradient flow


def rnn_dh_norms(w_ih, w_hh, b, x, dy):
    """min-char-rnn BPTT of h_t = tanh(x_t W_ih^T + h_{t-1} W_hh^T + b), h_0 = 0: ||dh_t||."""
    T = x.shape[0]
    hs = [np.zeros((x.shape[1], w_hh.shape[0]))]
    for t in range(T):
        hs.append(np.tanh(x[t] @ w_ih.T + hs[-1] @ w_hh.T + b))
    norms = np.zeros(T)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dh = dy[t] + dhnext
        norms[t] = np.linalg.norm(dh)
        dhraw = dh * (1 - hs[t + 1] ** 2)
        dhnext = dhraw @ w_hh
    return norms


def test_gradient_flow_of_a_module_matches_hand_bptt():
    rng = np.random.default_rng(0)
    tl.manual_seed(0)
    rnn = nn.RNN(3, 4).double()
    x = rng.standard_normal((7, 2, 3)).astype(rnn.weight_ih_l0.dtype)
    dy = rng.standard_normal((7, 2, 4))
    out, _ = rnn(Tensor(x))
    norms = viz.gradient_flow((out * Tensor(dy.astype(out.dtype))).sum(), out)
    p = {k: v.numpy().astype(np.float64) for k, v in rnn.named_parameters()}
    expected = rnn_dh_norms(p["weight_ih_l0"], p["weight_hh_l0"],
                            p["bias_ih_l0"] + p["bias_hh_l0"], x.astype(np.float64), dy)
    np.testing.assert_allclose(norms, expected, rtol=1e-10)
    assert rnn.weight_hh_l0.grad is not None  # it ran the backward


def test_gradient_flow_of_a_list_of_states_matches_hand_bptt():
    rng = np.random.default_rng(1)
    w_ih, w_hh, b = leaf(rng, 4, 3), leaf(rng, 4, 4), leaf(rng, 4)
    x = rng.standard_normal((5, 2, 3))
    dy = np.zeros((5, 2, 4))
    dy[-1] = rng.standard_normal((2, 4))  # the loss sees only the last step
    h, hs = Tensor(np.zeros((2, 4))), []
    for t in range(5):
        h = (Tensor(x[t]) @ w_ih.T + h @ w_hh.T + b).tanh()
        hs.append(h)
    norms = viz.gradient_flow((h * Tensor(dy[-1])).sum(), hs)
    np.testing.assert_allclose(norms, rnn_dh_norms(w_ih.numpy(), w_hh.numpy(), b.numpy(), x, dy),
                               rtol=1e-10)
    assert all(t.grad_fn.hooks is None for t in hs)


def test_gradient_flow_accumulates_the_same_gradients_as_backward():
    tl.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True)
    out, _ = lstm(tl.randn(2, 5, 3))  # (N, T, H)
    loss = (out * out).sum()
    loss.backward(retain_graph=True)
    expected = {k: v.grad.numpy().copy() for k, v in lstm.named_parameters()}
    lstm.zero_grad()
    norms = viz.gradient_flow(loss, out)
    assert norms.shape == (5,) and (norms > 0).all()
    np.testing.assert_allclose(norms[-1], np.linalg.norm(2 * out.numpy()[:, -1]), rtol=1e-6)
    for k, p in lstm.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), expected[k], rtol=1e-6, err_msg=k)


def test_gradient_flow_needs_the_time_steps():
    x = Tensor(np.ones((3, 2)), requires_grad=True)
    with pytest.raises(ValueError, match="per-step hidden states"):
        viz.gradient_flow((x * 2).sum(), x * 2)
    with pytest.raises(TypeError, match="params"):
        viz.make_dot(x * 2, params=[x])


def test_plot_gradient_flow_without_matplotlib_returns_none(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import fails
    with pytest.warns(UserWarning, match="matplotlib is not installed"):
        assert viz.plot_gradient_flow(np.ones(3)) is None


def test_plot_gradient_flow_writes_a_picture(tmp_path):
    pytest.importorskip("matplotlib")
    fig = viz.plot_gradient_flow({"rnn": np.logspace(-6, 0, 20), "lstm": np.ones(20)},
                                 tmp_path / "flow.png")
    assert (tmp_path / "flow.png").stat().st_size > 0
    assert fig.axes[0].get_yscale() == "log"
    plt = pytest.importorskip("matplotlib.pyplot")
    plt.close(fig)
