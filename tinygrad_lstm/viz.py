"""Pictures of the compute graph, and of the gradient's flow through time.

    dot = make_dot(loss, params=dict(model.named_parameters()), max_steps=2)
    render(dot, "docs/img/lstm.svg")

The graph is read from the tape itself: every node knows its inputs (`edges`), its sequence
number and the scope it was made in (`scope`: the module names pushed by Module.__call__ and
the time steps pushed by recurrent modules), so any user-written module is grouped for free.
"""

import math
import subprocess
import warnings
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import ops
from .tensor import Tensor

if TYPE_CHECKING:
    import graphviz

# blue (small) -> pale yellow -> red (large): ColorBrewer RdYlBu, reversed
_STOPS = ((49, 54, 149), (116, 173, 209), (255, 255, 191), (244, 109, 67), (165, 0, 38))
_PARAM, _INPUT, _OUTPUT, _ELIDED = "lightblue", "lightgrey", "darkolivegreen1", "white"
_BOX = "lavender"  # a module drawn as one node (max_depth)

# id(node or leaf) -> (weak reference to it, norm of the gradient that reached it), filled by
# record_grad_norms; weak, so graphs die as usual (not a WeakKeyDictionary: Tensor's == is
# elementwise)
_grad_norms = {}
_told_to_install = False


def _graphviz():
    """The graphviz package, imported at first use: `import tinygrad_lstm` needs only NumPy."""
    try:
        import graphviz
    except ImportError as e:
        raise ImportError("viz: drawing graphs needs the graphviz package: pip install graphviz "
                          "(or pip install -e \".[viz]\")") from e
    return graphviz


# ---------------------------------------------------------------- reading the graph


def _roots(output) -> list:
    outputs = [output] if isinstance(output, Tensor) else list(output)
    for t in outputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"make_dot: expected a Tensor or a sequence of Tensors, got "
                            f"{type(t).__name__}")
    return outputs


def _walk(roots: list) -> tuple[list, list, dict, list]:
    """(op nodes by seq, leaves in order of discovery, op node -> output shape(s), edges).

    An edge is (source, op node): the source is an op node or a leaf Tensor. Iterative, so a
    graph of any depth can be drawn. A leaf appears only if some op needed its gradient.
    """
    shapes = {}
    leaves = {}  # dict as an ordered set
    edges = []
    stack = []
    for t in roots:
        if t._ctx is None:
            leaves[t] = None
        elif t._ctx not in shapes:
            shapes[t._ctx] = t.shape
            stack.append(t._ctx)
    while stack:
        node = stack.pop()
        for edge in node.edges:
            if edge is None:
                continue
            producer, key, shape, _ = edge
            if producer is None:
                leaves[key] = None
                edges.append((key, node))
                continue
            edges.append((producer, node))
            if producer not in shapes:
                shapes[producer] = shape
                stack.append(producer)
    for node in shapes:
        if node.outputs is not None:
            shapes[node] = [s for s, _ in node.outputs]
    edges.sort(key=lambda e: e[1].seq)  # in tape order, which DOT's layout follows
    return sorted(shapes, key=lambda n: n.seq), list(leaves), shapes, edges


def _elided_steps(nodes: list, max_steps: int | None) -> dict:
    """Scope prefix of each recurrence -> the set of its time steps to leave out: all but the
    first and last `max_steps`."""
    if max_steps is None:
        return {}
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"make_dot: max_steps must be a positive int or None, got {max_steps}")
    steps = {}
    for node in nodes:
        for j, label in enumerate(node.scope):
            if type(label) is int:
                steps.setdefault(node.scope[:j], set()).add(label)
    elided = {}
    for prefix, ts in steps.items():
        ts = sorted(ts)
        if len(ts) > 2 * max_steps:
            elided[prefix] = set(ts[max_steps:-max_steps])
    return elided


def _summary_of(scope: tuple, elided: dict):
    """The recurrence (scope prefix) whose summary node stands for a node, or None."""
    for j, label in enumerate(scope):
        if type(label) is int and label in elided.get(scope[:j], ()):
            return scope[:j]
    return None


# ---------------------------------------------------------------- colours


def _colour(t: float) -> str:
    """'#rrggbb' at position t in [0, 1] of the blue-to-red scale."""
    x = min(max(t, 0.0), 1.0) * (len(_STOPS) - 1)
    i = min(int(x), len(_STOPS) - 2)
    a, b = _STOPS[i], _STOPS[i + 1]
    return "#" + "".join(f"{round(p + (q - p) * (x - i)):02x}" for p, q in zip(a, b))


class _Scale:
    """Maps gradient norms to colours on a log scale between the smallest and largest norm."""

    def __init__(self, norms) -> None:
        logs = [math.log10(v) for v in norms if v > 0 and math.isfinite(v)]
        self.lo, self.hi = (min(logs), max(logs)) if logs else (0.0, 0.0)

    def position(self, norm: float) -> float:
        if not math.isfinite(norm):
            return 1.0
        return 0.5 if self.hi == self.lo else (math.log10(norm) - self.lo) / (self.hi - self.lo)

    def attrs(self, norm: float | None) -> dict:
        if norm is None:
            return {}  # no gradient reached the node
        if norm == 0:
            return {"fillcolor": "#eeeeee"}
        t = self.position(norm)
        return {"fillcolor": _colour(t), "fontcolor": self._ink(t)}

    @staticmethod
    def _ink(t: float) -> str:
        return "white" if t < 0.2 or t > 0.8 else "black"  # readable on the dark ends

    def legend(self) -> str:
        """An HTML-like table: five swatches with the norms they stand for."""
        cells = "".join(f'<td bgcolor="{_colour(i / 4)}"><font color="{self._ink(i / 4)}">'
                        f'{10 ** (self.lo + (self.hi - self.lo) * i / 4):.1e}</font></td>'
                        for i in range(5))
        return (f'<<table border="0" cellborder="1" cellspacing="0"><tr><td colspan="5">'
                f'gradient norm (log scale)</td></tr><tr>{cells}</tr></table>>')


# ---------------------------------------------------------------- make_dot


def _shape_text(shape) -> str:
    if isinstance(shape, list):  # a multi-output op
        if len(set(shape)) == 1:
            return f"{len(shape)} x {shape[0]}"
        return ", ".join(str(s) for s in shape)
    return str(tuple(shape))


def _scope_label(label) -> str:
    return f"t = {label}" if type(label) is int else str(label)


def make_dot(output: "Tensor | Sequence[Tensor]", params: Mapping | None = None,
             show_shapes: bool = True, group: bool = True, max_steps: int | None = None,
             show_grad: bool = False, max_depth: int | None = None) -> "graphviz.Digraph":
    """A graphviz.Digraph of the graph that produced `output` (a Tensor or a sequence of them).

    One node per op (its name and output shape) and per leaf whose gradient is needed
    (parameters named from `params`, a dict name -> Tensor matched by identity, other leaves
    by shape); edges follow the data. `group` clusters the ops by module scope and, inside a
    recurrent module, by time step. `max_steps=k` draws only the first and last k steps of
    each recurrence, with one summary node for the steps in between. `show_grad`, after a
    backward run inside `record_grad_norms(output)`, colours each node by the norm of the
    gradient that reached it, with a legend of the (log) scale. `max_depth=d` draws each
    scope d levels deep (a module, a layer `layers.2`, a time step) as one box naming its op
    count, with the parameters used only inside it: a deep model (a 4-layer Transformer
    encoder at max_depth=2 or 3) then reads layer by layer.
    """
    roots = _roots(output)
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(f"make_dot: params must be a dict name -> Tensor, such as "
                        f"dict(model.named_parameters()), got {type(params).__name__}")
    names = {id(p): name for name, p in (params or {}).items()}
    nodes, leaves, shapes, edges = _walk(roots)
    order = {id(p): i for i, p in enumerate((params or {}).values())}
    leaves.sort(key=lambda t: order.get(id(t), len(order)))  # parameters first, as listed
    elided = _elided_steps(nodes, max_steps)
    if max_depth is not None and (type(max_depth) is not int or max_depth < 1):
        raise ValueError(f"make_dot: max_depth must be a positive int or None, got {max_depth}")
    scale = None
    if show_grad:
        known = [_recorded_norm(x) for x in nodes + leaves]
        if all(v is None for v in known):
            raise RuntimeError("make_dot(show_grad=True): no gradient norms were recorded for "
                               "this graph; run backward inside "
                               "`with tinygrad_lstm.viz.record_grad_norms(output):`")
        scale = _Scale([v for v in known if v is not None])

    dot = _graphviz().Digraph(graph_attr={"ranksep": "0.25", "nodesep": "0.2"},
                           node_attr={"shape": "box", "style": "filled", "fillcolor": "white",
                                      "fontsize": "10", "height": "0.2"},
                           edge_attr={"arrowsize": "0.6"})
    ids = {}  # node or leaf -> DOT id
    items = {}  # scope -> [(id, label, attrs)] drawn in that cluster
    summaries = {}  # recurrence prefix -> [id, ops, steps]
    boxes = {}  # scope max_depth deep -> [id, ops, its last op]
    root_nodes = {t._ctx for t in roots}
    for node in nodes:
        recurrence = _summary_of(node.scope, elided) if elided else None
        if recurrence is not None:
            summary = summaries.get(recurrence)
            if summary is None:
                summary = summaries[recurrence] = [f"elided{len(summaries)}", 0, set()]
            summary[1] += 1
            summary[2].add(node.scope[len(recurrence)])
            ids[node] = summary[0]
            continue
        if max_depth is not None and len(node.scope) >= max_depth:
            box = node.scope[:max_depth]  # drawn as one node in its parent's cluster
            if box not in boxes:
                boxes[box] = [f"box{len(boxes)}", 0, node]
            boxes[box][1:] = boxes[box][1] + 1, node  # nodes come in tape order
            ids[node] = boxes[box][0]
            continue
        ids[node] = f"op{node.seq}"
        label = node.name() + (f"\n{_shape_text(shapes[node])}" if show_shapes else "")
        attrs = {"fillcolor": _OUTPUT} if node in root_nodes else {}
        if scale is not None:
            norm = _recorded_norm(node)
            attrs.update(scale.attrs(norm))
            label += "" if norm is None else f"\n|g| {norm:.2e}"
        items.setdefault(node.scope if group else (), []).append((ids[node], label, attrs))
    hidden = {}  # id(leaf) -> id of the box it is hidden in
    users = {}  # id(leaf) -> DOT ids of the drawn nodes that use it
    for source, node in edges:
        if isinstance(source, Tensor):
            users.setdefault(id(source), set()).add(ids[node])
    leaf_items = []
    for i, leaf in enumerate(leaves):
        used_by = users.get(id(leaf), set())
        if len(used_by) == 1 and next(iter(used_by)).startswith("box"):
            hidden[id(leaf)] = next(iter(used_by))  # used only inside one box: counted there
            continue
        ids[leaf] = f"leaf{i}"
        name = names.get(id(leaf))
        label = name if name is not None else ""
        if show_shapes or name is None:
            label = f"{label}\n{tuple(leaf.shape)}" if label else str(tuple(leaf.shape))
        attrs = {"fillcolor": _PARAM if name is not None else _INPUT}
        if scale is not None:
            norm = _recorded_norm(leaf)
            attrs.update(scale.attrs(norm))
            label += "" if norm is None else f"\n|g| {norm:.2e}"
        leaf_items.append((ids[leaf], label, attrs))
    items[()] = leaf_items + items.get((), [])  # leaves first, outside the clusters
    for box, (bid, count, last) in boxes.items():
        n_params = sum(1 for b in hidden.values() if b == bid)
        label = (f"{_scope_label(box[-1])}\n{count} ops"
                 + (f", {n_params} parameters" if n_params else "")
                 + (f"\n{_shape_text(shapes[last])}" if show_shapes else ""))
        items.setdefault(box[:-1] if group else (), []).append(
            (bid, label, {"fillcolor": _BOX, "style": "rounded,filled"}))
    for recurrence, (sid, count, steps) in summaries.items():
        label = (f"... {len(steps)} steps, t = {min(steps)}..{max(steps)}\n"
                 f"({count} ops not drawn)")
        items.setdefault(recurrence if group else (), []).append(
            (sid, label, {"fillcolor": _ELIDED, "style": "dashed"}))

    _emit(dot, items)
    drawn = set()
    for source, node in edges:
        if isinstance(source, Tensor) and id(source) in hidden:
            continue
        a, b = ids[source], ids[node]
        if a.startswith(("elided", "box")) or b.startswith(("elided", "box")):
            if a == b or (a, b) in drawn:
                continue  # a summary node stands for many ops: one edge per neighbour
            drawn.add((a, b))
        dot.edge(a, b)
    if scale is not None:
        dot.node("legend", scale.legend(), shape="plaintext", style="")
    return dot


def _emit(dot: "graphviz.Digraph", items: dict) -> None:
    """Write the nodes into nested clusters, one per scope prefix (module or time step)."""
    children = {}  # scope -> child scopes, in order of first appearance
    for scope in items:
        for j in range(len(scope)):
            kids = children.setdefault(scope[:j], [])
            if scope[:j + 1] not in kids:
                kids.append(scope[:j + 1])
    count = [0]

    def emit(graph, scope):  # recursion depth is the scope depth, a handful
        for child in children.get(scope, ()):
            name = f"cluster_{count[0]}"
            count[0] += 1
            with graph.subgraph(name=name) as sub:
                sub.attr(label=_scope_label(child[-1]), style="rounded", color="grey50",
                         fontsize="10", labeljust="l")
                emit(sub, child)
        for node_id, label, attrs in items.get(scope, ()):
            graph.node(node_id, label, **attrs)

    emit(dot, ())


# ---------------------------------------------------------------- gradient norms


def _recorded_norm(x) -> float | None:
    entry = _grad_norms.get(id(x))
    return entry[1] if entry is not None and entry[0]() is x else None


def _norm(grad: Tensor) -> float:
    g = grad._array
    return float(np.sqrt(np.vdot(g, g).real))


def _hook(key, fn):
    """Attach fn to the gradient of a graph key (leaf Tensor, node or (node, output index)),
    as Tensor.register_hook does; returns a function that removes it again."""
    if isinstance(key, Tensor):
        return key.register_hook(fn).remove
    node, index = key if type(key) is tuple else (key, 0)
    return node.register_hook(index, fn)


class record_grad_norms:
    """Record, during the backward run inside it, the norm of the gradient reaching every node
    of `output`'s graph (for `make_dot(..., show_grad=True)`).

        with record_grad_norms(loss):
            loss.backward()
    """

    def __init__(self, output) -> None:
        self.roots = _roots(output)
        self.handles = []

    def __enter__(self) -> "record_grad_norms":
        nodes, leaves, _, _ = _walk(self.roots)
        for leaf in leaves:
            if leaf.requires_grad:
                self.handles.append(_hook(leaf, self._recorder(leaf, {}, 0)))
        for node in nodes:
            parts = {}  # output index -> norm: a multi-output node gets the norm of them all
            for i in range(len(node.outputs)) if node.outputs is not None else (0,):
                self.handles.append(_hook((node, i), self._recorder(node, parts, i)))
        return self

    @staticmethod
    def _recorder(key, parts: dict, index: int):
        def record(grad):
            parts[index] = _norm(grad)
            norm = math.sqrt(sum(v * v for v in parts.values()))
            k = id(key)
            try:
                _grad_norms[k] = (weakref.ref(key, lambda _: _grad_norms.pop(k, None)), norm)
            except TypeError:
                pass  # a user Function with __slots__ and no __weakref__: left uncoloured
        return record

    def __exit__(self, *exc) -> None:
        for remove in self.handles:
            remove()
        self.handles = []


# ---------------------------------------------------------------- rendering


def render(graph: "graphviz.Digraph", path: "str | Path") -> str | None:
    """Write `graph` to `path` in the format of its suffix (.svg, .png, .pdf, .dot...) with the
    Graphviz `dot` program; without it, write the DOT source next to it (path + '.dot') and
    say once how to install Graphviz. Returns the path written, or None if nothing could be
    written: only an unknown suffix raises (ValueError), so it is safe in a training run."""
    global _told_to_install
    graphviz = _graphviz()
    path = Path(path)
    fmt = path.suffix[1:].lower()
    if fmt not in graphviz.FORMATS and fmt not in ("dot", "gv"):
        raise ValueError(f"render: unknown format {path.suffix!r} of {str(path)!r}; use a "
                         f"suffix such as .svg, .png, .pdf or .dot")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt in ("dot", "gv"):
            path.write_text(graph.source)
            return str(path)
        try:
            path.write_bytes(graph.pipe(format=fmt))
            return str(path)
        except graphviz.ExecutableNotFound:
            if not _told_to_install:
                _told_to_install = True
                warnings.warn("render: the Graphviz `dot` program was not found, so the DOT "
                              "source is written instead. Install Graphviz to get pictures: "
                              "`apt install graphviz`, `brew install graphviz`, `conda install "
                              "graphviz` or https://graphviz.org/download/", stacklevel=2)
        except subprocess.CalledProcessError as e:
            warnings.warn(f"render: dot failed on {path} ({e}); writing the DOT source instead",
                          RuntimeWarning, stacklevel=2)
        source = path.with_name(path.name + ".dot")
        source.write_text(graph.source)
        return str(source)
    except OSError as e:
        warnings.warn(f"render: could not write {path}: {e}", RuntimeWarning, stacklevel=2)
        return None


# ---------------------------------------------------------------- gradient flow through time


def _step_keys(hidden) -> list:
    """Graph keys of the per-step tensors h_t: given as a sequence of Tensors, or found as the
    inputs of the stack that made a recurrent module's output (T, N, H) or (N, T, H)."""
    if not isinstance(hidden, Tensor):
        keys = []
        for h in hidden:
            if not isinstance(h, Tensor) or not h.requires_grad:
                raise TypeError("gradient_flow: the hidden states must be Tensors that require "
                                "grad")
            keys.append(h._key or h)
        return keys
    node = hidden._ctx
    # through a permute or a reshape, if any, to the op that joined the steps
    while isinstance(node, (ops.Permute, ops.Reshape)):
        node = node.edges[0][0]
    if not isinstance(node, ops.Stack):
        raise ValueError(f"gradient_flow: cannot find the time steps of a tensor of shape "
                         f"{hidden.shape} made by {hidden._ctx!r}; pass the list of per-step "
                         f"hidden states [h_1, ..., h_T] instead")
    return [edge[1] for edge in node.edges if edge is not None]


def gradient_flow(loss: Tensor, hidden: "Tensor | Sequence[Tensor]",
                  retain_graph: bool = False) -> np.ndarray:
    """Run `loss.backward()` and return ||dL/dh_t|| for every time step t, shape (T,).

    `hidden` is the output of a one-directional recurrent module (the per-step states of its
    last layer are found in the graph) or the list of per-step hidden states. dL/dh_t is the
    whole gradient reaching h_t: from the loss at step t and back through the later steps.
    Use it in place of loss.backward(): the parameters' gradients accumulate as usual.
    """
    keys = _step_keys(hidden)
    norms = np.zeros(len(keys))
    handles = []

    def recorder(t):
        def record(grad):
            norms[t] = _norm(grad)
        return record

    for t, key in enumerate(keys):
        handles.append(_hook(key, recorder(t)))
    try:
        loss.backward(retain_graph=retain_graph)
    finally:
        for remove in handles:
            remove()
    return norms


def plot_gradient_flow(flows: "np.ndarray | dict", path: "str | Path | None" = None,
                       title: str = "gradient flow through time"):
    """Plot ||dL/dh_t|| against t on a log scale: `flows` is one array or a dict label -> array.
    Saves to `path` if given; returns the matplotlib Figure, or None without matplotlib."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        warnings.warn("plot_gradient_flow: matplotlib is not installed (pip install "
                      "'tinygrad_lstm[plot]'); no plot drawn", stacklevel=2)
        return None
    if not isinstance(flows, dict):
        flows = {"||dL/dh_t||": flows}
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, norms in flows.items():
        norms = np.asarray(norms, dtype=float)
        ax.semilogy(np.arange(len(norms)), np.where(norms > 0, norms, np.nan), label=label)
    ax.set_xlabel("time step t")
    ax.set_ylabel("||dL/dh_t||")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    return fig


__all__ = ["gradient_flow", "make_dot", "plot_gradient_flow", "record_grad_norms", "render"]
