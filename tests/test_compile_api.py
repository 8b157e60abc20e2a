"""tl.compile's calling convention and its refusals: torch.compile's signature, what is
refused rather than ignored, and the state machine (eager, traced twice, then the program)
seen from outside. Equality of compiled and eager training is tests/test_compile.py's."""

import re
from collections import namedtuple

import numpy as np
import pytest
from test_compile import products_with_a_weight_written_between_steps

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn, optim
from tinygrad_lstm.jit import CompiledFunction, NotTraceable
from tinygrad_lstm.jit import passes
from tinygrad_lstm.jit.passes import scatter_in_place, typed_scalars
from tinygrad_lstm.jit.trace import Call, Var


def double_sum(x):
    return (x * 2).sum()


@pytest.mark.parametrize("make", [
    lambda: tl.compile(double_sum),
    lambda: tl.compile()(double_sum),  # @tl.compile()
    lambda: tl.compile(fullgraph=True, mode="reduce-overhead")(double_sum),
    lambda: tl.compile(double_sum, dynamic=False, backend="inductor"),
], ids=["call", "decorator()", "decorator(kwargs)", "kwargs"])
def test_every_form_of_the_call_compiles_and_gives_eager_results(make):
    fn = make()
    x = tl.Tensor(np.arange(6.0).reshape(2, 3))
    results = [fn(x).item() for _ in range(5)]
    assert results == [30.0] * 5
    assert isinstance(fn, CompiledFunction) and fn.__name__ == "double_sum"
    assert "built a program of 2 NumPy calls" in fn.explain()
    assert fn.code.startswith("from numpy import multiply\n\ndef step(x):\n")
    assert "\n    multiply(x, TWO_FLOAT64, out=MUL1)\n" in fn.code  # 2, as the array NumPy makes
    assert fn.code.endswith("\nTWO_FLOAT64 = np.float64(2.0)\n")


def test_the_program_runs_from_the_fourth_call_and_reads_new_inputs():
    def f(x):
        f.calls += 1  # Python runs in the eager and the two traced calls only
        return x * 3
    f.calls = 0

    fn = tl.compile(f)
    for k in range(6):
        assert np.array_equal(fn(tl.Tensor([float(k), 1.0])).numpy(), [3.0 * k, 3.0])
    assert f.calls == 3


def test_a_call_keeps_no_reference_to_its_arguments():
    """Freed by reference counting when the caller drops them, not later by the garbage
    collector (a cycle in the call's bookkeeping held every step's inputs: 2.4 MiB a step)."""
    import gc
    import weakref

    fn = tl.compile(lambda x: (x * 3).sum())
    gc.disable()
    try:
        for call in range(6):  # eager, traced twice, then the program
            x = tl.Tensor(np.full(4, float(call)))
            alive = weakref.ref(x)
            assert fn(x).item() == 12.0 * call
            del x
            assert alive() is None, f"call {call + 1} kept its argument alive"
    finally:
        gc.enable()

@pytest.mark.parametrize("kwargs, error, message", [
    ({"dynamic": True}, NotImplementedError, "dynamic=True"),
    ({"mode": "fastest"}, ValueError, "unknown mode 'fastest'"),
    ({"backend": "cudagraphs"}, ValueError, "unknown backend 'cudagraphs'"),
    ({"options": {"trace.enabled": True}}, ValueError, "options are not supported"),
])
def test_options_it_cannot_honour_are_refused_not_ignored(kwargs, error, message):
    with pytest.raises(error, match=message):
        tl.compile(double_sum, **kwargs)


def test_a_non_callable_is_refused():
    with pytest.raises(TypeError, match="expected a function or a Module, got int"):
        tl.compile(3)


def test_backend_eager_and_disable_run_the_function_as_it_is():
    for fn in (tl.compile(double_sum, backend="eager"), tl.compile(double_sum, disable=True)):
        for _ in range(5):
            assert fn(tl.ones(2)).item() == 4.0
        assert fn.explain() == "nothing yet"
        with pytest.raises(RuntimeError, match="no program has been built yet"):
            _ = fn.code


def test_code_before_the_program_exists_says_when_it_will():
    fn = tl.compile(double_sum)
    fn(tl.ones(2))
    with pytest.raises(RuntimeError, match="call the function three times"):
        _ = fn.code


def test_a_value_read_keeps_it_eager_with_the_reason_and_fullgraph_raises():
    def f(x):
        return x * 2 if x.sum().item() > 0 else x * -1

    fn = tl.compile(f)
    for sign in (1, 1, 1, -1, 1, -1):  # both branches, correct every time
        x = tl.ones(3) * sign
        assert np.array_equal(fn(x).numpy(), (x * 2 if sign > 0 else x * -1).numpy())
    assert "value is read into Python (item)" in fn.explain()
    assert "test_compile_api.py" in fn.explain()  # names the line
    strict = tl.compile(f, fullgraph=True)
    strict(tl.ones(3))
    with pytest.raises(NotTraceable, match=r"fullgraph=True.*item"):
        strict(tl.ones(3))


def test_a_new_signature_gets_its_own_program_up_to_the_cache_limit():
    fn = tl.compile(double_sum)
    for n in range(1, 11):  # 10 shapes, 5 calls each
        for _ in range(5):
            assert fn(tl.ones(n)).item() == 2.0 * n
    log = fn.explain()
    assert log.count("built a program") == 8
    assert "more than 8 input signatures" in log


def test_a_compiled_module_keeps_its_attributes_and_compiles_its_eval_forward():
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 2))
    compiled = tl.compile(model)
    assert len(list(compiled.parameters())) == 4
    compiled.eval()
    assert model.training is False
    x = tl.randn(5, 3)
    with tl.no_grad():
        outs = [compiled(x) for _ in range(5)]
        truth = model(x)
    assert all(np.array_equal(o.numpy(), truth.numpy()) for o in outs)
    assert "built a program" in compiled.explain()


def test_a_forward_that_needs_its_graph_stays_eager_and_keeps_it():
    model = nn.Linear(3, 1)
    compiled = tl.compile(model)
    x = tl.randn(4, 3)
    for _ in range(5):
        model.zero_grad()
        compiled(x).sum().backward()  # the graph is needed after the call: no program
    assert np.allclose(model.bias.grad.numpy(), [4.0])
    assert "returns a tensor that requires grad without calling backward()" in \
        compiled.explain()


def test_a_compiled_function_called_inside_another_becomes_part_of_its_program():
    inner = tl.compile(lambda x: x * 2)
    outer = tl.compile(lambda x: inner(x) + 1)
    for k in range(6):
        assert np.array_equal(outer(tl.ones(2) * k).numpy(), [2.0 * k + 1] * 2)
    assert "multiply(x, TWO_FLOAT32)" in outer.code and "add(" in outer.code


def test_a_call_from_inside_its_own_program_runs_eagerly_and_gives_eager_results():
    """An optimizer's step() is Python the program runs at every replay; if it calls the
    compiled function again, that call must not run the program whose arena is in use."""
    def train(compile_it):
        tl.manual_seed(0)
        model = nn.Linear(3, 2)
        x = tl.Tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
        inner, depth = [], [0]

        class Probing(tl.optim.SGD):
            def step(self, closure=None):
                if depth[0] == 0:
                    depth[0] += 1
                    inner.append(step(x * 0.5).item())
                    depth[0] -= 1
                return super().step()
        optimizer = Probing(model.parameters(), lr=0.01)

        def f(x):
            loss = model(x).pow(2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss
        step = tl.compile(f) if compile_it else f
        outer = [step(x).item() for _ in range(6)]
        return outer, inner, step

    eager_outer, eager_inner, _ = train(False)
    outer, inner, compiled = train(True)
    assert (outer, inner) == (eager_outer, eager_inner)
    assert compiled.explain().startswith("built a program")


def test_arrays_a_program_returns_are_its_callers_and_stay_as_they_were():
    """plan_buffers reuses memory across runs only for arrays that never leave the program:
    a returned value, a view of one, or one handed to Python are new at every run."""
    def f(x):
        doubled = x * 2.0
        shifted = (x + 1.0).exp()
        return doubled, shifted[1:], (doubled * shifted).sum()

    fn = tl.compile(f)
    kept = []
    for k in range(6):
        x = tl.Tensor(np.linspace(0.0, 1.0, 4) + k)
        results = fn(x)
        kept.append((x.numpy(), [t.numpy().copy() for t in results], results))
    for x, first, results in kept:  # each call's results, after every later call ran
        assert np.array_equal(results[0].numpy(), x * 2.0)
        assert np.array_equal(results[1].numpy(), np.exp(x + 1.0)[1:])
        assert [t.numpy().tolist() for t in results] == [a.tolist() for a in first]


def test_values_whose_lifetimes_do_not_overlap_share_the_arena():
    """Eight matmul results in a chain: each is dead once the next is made, so two places
    hold them all (white-box: the program's arena size)."""
    def f(x, w):
        for _ in range(8):
            x = (x @ w).tanh()  # tanh writes into the product in place (reuse pass)
        return x.sum()

    fn = tl.compile(f)
    x, w = tl.Tensor(np.ones((16, 32))), tl.Tensor(np.eye(32) * 0.5)
    results = [fn(x, w).item() for _ in range(5)]
    assert results == [f(x, w).item()] * 5
    program = fn._last.program
    assert fn.code.count("out=") >= 8
    assert program.arena_bytes == 2 * 16 * 32 * 8


def test_parts_of_a_concatenation_are_written_into_it_unless_it_is_written_later():
    """concatenate_in_place: the arithmetic that makes a part writes into its slice. A part
    also read later is then that slice, so only where the slice is laid out as the part was
    (whole rows) and the concatenation is not written afterwards; else the part keeps its own
    array and the concatenation is a copy. Either way the eager bits."""
    def only_for_the_cat(a, b):
        return tl.cat([a * 2.0, b.t() - 1.0, tl.zeros(2, 1, dtype=tl.float64)],
                      dim=1).exp().sum()

    def read_later_rows(a, b):
        doubled = a * 2.0
        return tl.cat([doubled, b.t() - 1.0], dim=0).exp().sum() + doubled.sum()

    def read_later_columns(a, b):  # its slice would be strided: its sum another order
        doubled = a * 2.0
        return tl.cat([doubled, b.t() - 1.0], dim=1).exp().sum() + doubled.sum()

    def written_later(a, b):
        doubled = a * 2.0
        cat = tl.cat([doubled, b.t() - 1.0], dim=0)
        cat += 1.0  # into the concatenation: doubled must not change
        return cat.exp().sum() + doubled.sum()

    for f, copies in ((only_for_the_cat, False), (read_later_rows, False),
                      (read_later_columns, True), (written_later, True)):
        fn = tl.compile(f)
        for k in range(5):
            a, b = tl.Tensor(np.full((2, 3), 0.1 * k)), tl.Tensor(np.full((3, 2), -0.2 * k))
            assert fn(a, b).item() == f(a, b).item()
        assert ("concatenate(" in fn.code) == copies, (f.__name__, fn.code)
        if not copies:
            assert re.search(r"multiply\(a, TWO_FLOAT64, out=\w+\)", fn.code), fn.code


def test_the_same_parts_concatenated_again_are_a_view_of_the_first_concatenation():
    """A second concatenation of the parts concatenate_in_place wrote into a first one, in the
    same order and laid out the same, is a reshape of it (an LSTM's gate gradients: stacked for
    the input projection's gradient, concatenated for W_hh's). In another order, or written
    later, it stays a copy. Either way the eager bits."""
    def parts(a):
        return [a * 2.0, a - 1.0, a + 3.0]

    def again(a):
        p = parts(a)
        return tl.stack(p).exp().sum() + (tl.cat(p) * a.sum()).sum()

    def other_order(a):
        p = parts(a)
        return tl.stack(p).exp().sum() + (tl.cat(p[::-1]) * a.sum()).sum()

    def written_later(a):
        p = parts(a)
        stacked, cat = tl.stack(p), tl.cat(p)
        with tl.no_grad():
            cat += 1.0  # the stack must not see it
        return stacked.exp().sum() + cat.sum()

    inputs = [(np.full((2, 3), 0.1 * k),) for k in range(5)]
    for f, copies in ((again, False), (other_order, True), (written_later, True)):
        code = assert_bitwise_twins(f, inputs).code
        assert ("concatenate(" in code or "stack(" in code) == copies, (f.__name__, code)
        assert (re.search(r"= \w+\.reshape\(6, 3\)", code) is not None) != copies, code

    # an LSTM: W_hh's gradient sums its terms in time order (OuterSum.materialize), the order
    # of the stacked gradient of the input projection, so the gate gradients are one array
    lstm = nn.LSTM(3, 4).double()

    def step(x):
        loss = lstm(x)[0].sum()
        loss.backward()
        return loss

    code = assert_bitwise_twins(step, [(np.full((5, 2, 3), 0.1 * k),) for k in range(5)]).code
    assert re.search(r"D_UNBIND\w* = D_PERMUTE\w*\.reshape\(5, 2, 16\)", code), code


def test_a_scatter_into_one_element_stays_a_copy():
    """scatter_in_place: `z[1] = v` for a 1-D z has no slot to write v into (z[1] is a NumPy
    scalar, a copy): the program keeps the copy, and runs."""
    w = tl.Tensor(np.array([0.5, -1.0, 2.0, 3.0]), requires_grad=True)

    def f(a):
        w.grad = None
        (w[1] * a.sum()).backward()  # w[1]'s gradient, a 0-d multiply, scattered into zeros
        return w.grad * 1.0

    rng = np.random.default_rng(0)
    code = assert_bitwise_twins(f, [(rng.standard_normal(3),) for _ in range(5)]).code
    assert re.search(r"\w+\[1\] = \w+", code), code


def test_the_trace_makes_eagers_memory_layout_where_eager_takes_a_shortcut_for_arrays():
    """Eager stacks plain arrays with np.array and makes a getitem VJP's zeros with np.zeros,
    both C-ordered; a trace's arrays take np.stack and the zeros of their dtype, which must be
    C-ordered too where the parts or the gradient are F-ordered (transposed): a later sum
    over the result would otherwise add in another order."""
    r = np.random.default_rng(9)
    b = tl.Tensor(r.standard_normal(()), requires_grad=True)  # its gradient sums everything
    w = tl.Tensor(r.standard_normal((7, 5)))

    def stack_of_transposed(a):
        return tl.stack([a.t() * 2.0, a.t() - 1.0]).exp().sum()

    def unbind_of_transposed_gradients(z):
        b.grad = None
        loss = 0
        for xk in (z + b).unbind(0):
            loss = loss + (xk.t() * xk.t() * w).sum()  # xk's gradient comes back F-ordered
        loss.backward()
        return b.grad * 1.0

    def getitem_of_a_transposed_gradient(z):
        b.grad = None
        s = (z + b)[1:6].t()  # its gradient (5, 7) comes back F-ordered
        (s * s * w).sum().backward()
        return b.grad * 1.0

    rng = np.random.default_rng(1)
    assert_bitwise_twins(stack_of_transposed, [(rng.standard_normal((3, 5)),) for _ in range(8)])
    assert_bitwise_twins(unbind_of_transposed_gradients,
                         [(rng.standard_normal((16, 5, 7)),) for _ in range(6)])
    assert_bitwise_twins(getitem_of_a_transposed_gradient,
                         [(rng.standard_normal((9, 7)),) for _ in range(8)])


def test_a_step_that_reads_this_steps_value_and_the_last_ones_is_not_batched_wrongly():
    """batch_over_steps: a call made at every step on h_t and h_{t-1} (two columns sharing
    values, shifted) cannot read both from one stack each: it stays per step (before, the
    second stack took the shared values over and the first was read unwritten)."""
    class Mul(nn.Module):
        def forward(self, a, b):
            return (a * b).reshape(-1)

    mul = Mul()

    def f(xs):
        hs = [xs[t].tanh() for t in range(5)]
        return tl.stack([mul(hs[t], hs[t - 1]) for t in range(1, 5)])

    rng = np.random.default_rng(0)
    assert_bitwise_twins(f, [(rng.standard_normal((5, 2, 3)),) for _ in range(6)])


def test_a_traced_call_adds_in_eagers_operand_order():
    """A trace's arrays take eager's branch of a binary op (addcmul: the product, then the
    input added into it): a sum of two NaNs keeps the first operand's sign, so another order
    gives another NaN."""
    negative_nan = np.copysign(np.nan, -1.0)
    for dtype in (np.float32, np.float64):
        inputs = [(np.full(4, negative_nan, dtype), np.full(4, np.nan, dtype),
                   np.full(4, 1.0 + k, dtype)) for k in range(5)]
        assert_bitwise_twins(lambda a, x, y: a.addcmul(x, y), inputs)


def test_constants_without_exact_text_are_read_as_objects():
    """A NaN's sign and payload and a complex's -0.0 or inf have no text that reads back as the
    same bits (float('nan'), (-0+1j), (inf+0.5j)): the program reads the objects themselves."""
    import math
    negative_nan = -math.nan
    inputs = [(np.array([1.0, -2.0], np.float32) * k,) for k in range(1, 6)]
    for f in (lambda x: tl.where(x > 0, x, negative_nan),
              lambda x: x.masked_fill(x < 0, negative_nan),
              lambda x: x * complex(-0.0, 1.0),
              lambda x: x * complex(math.inf, 0.5)):
        with np.errstate(invalid="ignore"):  # inf * 0 in the complex product: nan, as eager's
            assert_bitwise_twins(f, inputs)


def assert_bitwise_twins(f, inputs: list) -> CompiledFunction:
    """f eagerly and compiled over `inputs` (argument tuples of arrays): every result equal to
    the bit (-0.0 is not 0.0), no later call changed a result returned earlier, and a program
    was built. Returns the compiled function."""
    compiled, kept = tl.compile(f), []
    for args in inputs:
        eager = f(*[tl.Tensor(a.copy()) for a in args])
        got = compiled(*[tl.Tensor(a.copy()) for a in args])
        eager, got = (eager, got) if isinstance(eager, tuple) else ((eager,), (got,))
        for e, g in zip(eager, got):
            assert e.numpy().tobytes() == g.numpy().tobytes()
        kept.append([(g, g.numpy().copy()) for g in got])
    for results in kept:
        for g, first in results:
            assert g.numpy().tobytes() == first.tobytes()
    assert compiled.explain().startswith("built a program"), compiled.explain()
    return compiled


def test_concatenation_parts_found_by_a_review_stay_eagers():
    """Cases a review found: a view of a part taken before the concatenation and the
    concatenation written after; 0-d parts of a stack; a part eager made F-ordered and reduced
    after; a part returned with the concatenation (two arrays for the caller, as eager)."""
    rng = np.random.default_rng(0)
    small = [(rng.standard_normal((2, 3)),) for _ in range(6)]

    def view_before(x):
        with tl.no_grad():
            a = x * 2.0
            v = a[0]
            c = tl.cat([a, x * 3.0], 1)
            c.mul_(10.0)
        return v, c

    def scalar_parts(x):
        s = tl.stack([x.sum() * 2.0, (x * x).mean() + 1.0])
        return (s * 0.5).sum(), s

    def f_ordered(x, y):
        a = x.t() * 2.0  # F-ordered: its sum runs in that order
        c = tl.cat([a, y * 1.0], 0)
        return a.sum(1), c

    def returned_with_it(x):
        a = x * 2.0
        return a, tl.cat([a, x - 1.0], 0)

    assert_bitwise_twins(view_before, small)
    assert_bitwise_twins(scalar_parts, small)
    assert_bitwise_twins(f_ordered, [(rng.standard_normal((300, 64)).astype(np.float32),
                                rng.standard_normal((5, 300)).astype(np.float32))
                               for _ in range(6)])
    compiled = assert_bitwise_twins(returned_with_it, small)
    part, concatenation = compiled(tl.Tensor(np.ones((2, 3))))
    with tl.no_grad():
        concatenation.mul_(0.0)  # the caller's to change: the part is another array
    assert part.numpy().tolist() == [[2.0] * 3] * 2


@pytest.mark.parametrize("signs", [[0.0, -0.0, 0.0, -0.0],
                                   [float("nan"), -float("nan")] * 2])
def test_steps_that_differ_by_the_sign_of_a_zero_or_nan_constant_are_not_one_call(signs):

    class Scale(nn.Module):
        def forward(self, h, coefficient):
            return (h * coefficient).reshape(-1)  # a reshape: not written into the stack

    scale = Scale()

    def f(x):
        hs = [x[t].tanh() for t in range(4)]  # all made before the first product
        return tl.stack([scale(hs[t], signs[t]) for t in range(4)])

    assert_bitwise_twins(f, [(np.random.default_rng(i).standard_normal((4, 2, 3)),)
                       for i in range(6)])


def test_a_part_read_later_only_as_a_keyword_argument_is_still_read():
    """(A second review.) `np.clip(a, a_min=p)` reads p after the concatenation it is part of,
    which is written afterwards: p keeps its own array."""
    class Weird(tl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            a = x._array
            p = np.multiply(a, 2.0)
            c = np.concatenate([p, np.add(a, 1.0)])
            np.multiply(c, 3.0, out=c)
            return tl.Tensor(c[:len(a)] + np.clip(a, a_min=p, a_max=None))

        @staticmethod
        def backward(ctx, g):
            return g

    assert_bitwise_twins(lambda x: Weird.apply(x), [(np.linspace(-1, 1, 6) + k,) for k in range(6)])


def test_a_dropped_program_frees_its_arena_without_the_garbage_collector(monkeypatch):
    """A program compiled in pieces holds no reference cycle (each piece's globals would hold
    the piece): dropping the compiled function frees the arena at once."""
    import gc
    import weakref

    import tinygrad_lstm.jit.program as program

    monkeypatch.setattr(program, "COMPILE_LINES", 3)
    fn = tl.compile(lambda x: ((x * 2.0).exp() - 1.0).tanh().sum() * 3.0)
    for k in range(5):
        fn(tl.Tensor(np.full((4, 4), 0.1 * k)))
    assert len(fn.code.splitlines()) > 3 * 3, fn.code
    arena = weakref.ref(fn._last.program.arena[0])
    gc.disable()
    try:
        del fn
        assert arena() is None
    finally:
        gc.enable()


def test_names_of_a_line_are_found_by_pythons_tokenizer():
    from tinygrad_lstm.jit.program import _names_in

    assert _names_in("y = f('a\\'\"', x, 'b')") == {"y", "f", "x"}
    assert _names_in("a = np.add(b, c.T, out=BUF)  # c.T") == {"a", "np", "b", "c", "out", "BUF"}


def test_values_a_batched_recurrence_returns_are_arrays_of_their_own():
    """Per-step values the caller gets are not slices of one array of all steps (as in eager,
    each is its own array, and keeps no other step's memory alive)."""
    class Scale(nn.Module):
        def forward(self, h):
            return h * 2.0

    scale = Scale()

    def f(xs):
        hs = [xs[t].tanh() for t in range(5)]  # all made before the first product
        return tuple(scale(h) for h in hs)

    compiled = assert_bitwise_twins(f, [(np.random.default_rng(k).standard_normal((5, 2, 3)),)
                                  for k in range(6)])
    results = compiled(tl.Tensor(np.ones((5, 2, 3))))
    assert all(t.numpy().base is None for t in results), compiled.code


def test_a_tensor_written_between_steps_is_not_read_once_for_all_of_them():
    """A per-step product with a tensor the loop writes in place between steps: batching the
    products into one call would read the tensor once. (Inputs of the program count as written
    like the arrays it makes: a helper read their writes under another default.)"""
    w = tl.Tensor(np.ones(3))
    step = products_with_a_weight_written_between_steps(w)
    compiled = tl.compile(lambda xs: step(xs, w))
    for k in range(6):
        x = np.random.default_rng(k).standard_normal((3, 2, 3))
        w_before = w.numpy().copy()
        got = compiled(tl.Tensor(x)).numpy()
        expected = np.stack([(np.tanh(x[t]) * (w_before + t)).reshape(-1) for t in range(3)])
        assert got.tobytes() == expected.tobytes()
    assert compiled.explain().startswith("built a program")


def test_views_of_the_arena_are_made_once_and_a_reshape_that_copies_at_every_run():
    """fixed_views: a transpose or a slice of an array in the arena is the same view at every
    run, made with the arena; a reshape of the transposed array copies, so it stays a call of
    every run (made once, it would keep the first run's values). So does a reshape of a part
    that concatenate_in_place made a strided slice of the concatenation (a review found it
    made once: the trace had seen the part C-ordered)."""
    rng = np.random.default_rng(1)

    def f(x):
        with tl.no_grad():
            a = x * 2.0  # a place in the arena
            b = a.t().reshape(-1) + 1.0  # .t(): a fixed view; its reshape: a copy per run
            c = a[1:] * 3.0
            return b.sum() + c.sum()
    compiled = assert_bitwise_twins(f, [(rng.standard_normal((3, 4)),) for _ in range(6)])
    step, views = compiled.code.split("\n# made once")
    assert re.search(r"^PERMUTE\d+ = MUL\d+\.transpose\(\(1, 0\)\)$", views, re.M), views
    assert re.search(r"^GETITEM\d+ = MUL\d+\[1:, \.\.\.\]$", views, re.M), views
    assert re.search(r"^    reshape\d+ = PERMUTE\d+\.reshape\(\(-1,\)\)$", step, re.M), step

    def part_reshaped(x, y):
        with tl.no_grad():
            a = x * 2.0
            flat = a.reshape(6) * 1.0  # read before the concatenation: a is c[:, 0:3] there
            c = tl.cat([a, y * 3.0], 1)
            return flat, c.sum()
    pairs = [(rng.standard_normal((2, 3)), rng.standard_normal((2, 3))) for _ in range(6)]
    compiled = assert_bitwise_twins(part_reshaped, pairs)
    assert re.search(r"^MUL\d+ = CAT\d+\[:, 0:3\]$", compiled.code, re.M), compiled.code


def test_a_view_taken_again_in_the_same_way_is_made_once():
    """common_views: x.T taken twice, or the same slice twice, is one view of each per run (as
    W_hh.T's .T in every step's AddmmBackward); another slice is a view of its own."""
    rng = np.random.default_rng(4)

    def f(x):
        with tl.no_grad():
            a = x.T * 2.0 + x.T * 3.0
            return a.sum() + x[1:].sum() * x[1:].mean() + x[:1].sum()
    compiled = assert_bitwise_twins(f, [(rng.standard_normal((3, 4)),) for _ in range(6)])
    step = compiled.code.split("\n# made once")[0]
    assert len(re.findall(r"= x\.transpose\(\(1, 0\)\)$", step, re.M)) == 1, step
    assert len(re.findall(r"= x\[1:, \.\.\.\]$", step, re.M)) == 1, step
    assert len(re.findall(r"= x\[:1, \.\.\.\]$", step, re.M)) == 1, step


def test_a_scattered_gradient_is_written_into_its_slice():
    """scatter_in_place: a getitem's VJP scatters the gradient into zeros (`dx[:, 1:3] = g`);
    the multiply that makes g writes into that slice instead, the eager bits."""
    rng = np.random.default_rng(5)
    w = tl.Tensor(rng.standard_normal((2, 4)), requires_grad=True)

    def f(x):
        w.grad = None
        ((w * x)[:, 1:3] * 3.0).tanh().sum().backward()
        return w.grad * 1.0
    compiled = assert_bitwise_twins(f, [(rng.standard_normal((2, 4)),) for _ in range(6)])
    step, views = compiled.code.split("\n# made once")
    assert "] = " not in step, compiled.code
    slot = re.search(r"^(\w+) = D_GETITEM\d+\[:, 1:3\]$", views, re.M).group(1)
    assert re.search(rf"^    multiply\(MUL\d+, \w+, out={slot}\)$", step, re.M), compiled.code


def test_zeros_like_is_a_place_in_the_arena_zeroed_at_each_run():
    """A getitem's VJP scatters into np.zeros_like(g, shape=...): the program zeroes a place in
    the arena (`.fill(0)`) instead of allocating new zeros at each run."""
    rng = np.random.default_rng(7)
    w = tl.Tensor(rng.standard_normal((2, 4)), requires_grad=True)

    def f(x):
        w.grad = None
        (w * x)[:, 1:3].tanh().sum().backward()  # tanh's VJP writes its own array in place
        return w.grad * 1.0
    compiled = assert_bitwise_twins(f, [(rng.standard_normal((2, 4)),) for _ in range(6)])
    assert "zeros_like(" not in compiled.code and ".fill(0)" in compiled.code, compiled.code


def _scatter_tape(between=(), after=(), make=np.multiply, v_shape=(2, 2)):
    """z = zeros((2, 4)); v = make(a, b); *between; z[:, 1:3] = v; r = exp(z); *after, as a
    tape, and the Vars a, b, v, z."""
    f64 = np.dtype(np.float64)
    a, b = (Var(n, "input", ("arg", n), name, shape=v_shape, dtype=f64) for n, name in
            ((0, "a"), (1, "b")))
    v = Var(2, "op", None, "v", shape=v_shape, dtype=f64, c_contiguous=True)
    z = Var(3, "op", None, "z", shape=(2, 4), dtype=f64, c_contiguous=True)
    r = Var(4, "op", None, "r", shape=(2, 4), dtype=f64, c_contiguous=True)
    tape = [Call(np.zeros, ((2, 4), f64), {}, (z,)), Call(make, (a, b), {}, (v,)),
            *[fn(a, b, v, z) for fn in between],
            Call(("method", "__setitem__"), (z, (slice(None), slice(1, 3)), v), {}, (), (),
                 "", (z,)),
            Call(np.exp, (z,), {}, (r,)), *[fn(a, b, v, z) for fn in after]]
    return tape, r


def test_scatter_in_place_only_where_nothing_else_sees_the_difference():
    def scattered(tape, outputs) -> bool:
        new, made = scatter_in_place(tape, outputs, first_number=10)
        assert (new is tape) == (not made)
        return bool(made)

    tape, r = _scatter_tape()
    assert scattered(tape, [r])
    new, (slot,) = scatter_in_place(tape, [r], first_number=10)
    assert [c.fn for c in new] == [np.zeros, ("method", "__getitem__"), np.multiply, np.exp]
    assert new[2].kwargs == {"out": slot} and new[2].writes == (slot,)
    read_v_later = lambda a, b, v, z: Call(np.sum, (v,), {}, (Var(5, "op", None, "s"),))  # noqa: E731
    read_z_between = lambda a, b, v, z: Call(np.sum, (z,), {}, (Var(6, "op", None, "s"),))  # noqa: E731
    tape, r = _scatter_tape(after=[read_v_later])
    assert not scattered(tape, [r])  # v is still v afterwards
    tape, r = _scatter_tape(between=[read_z_between])
    assert not scattered(tape, [r])  # z read before the copy: it must still be all zeros
    tape, r = _scatter_tape(make=np.arctan2)
    assert not scattered(tape, [r])  # not an arithmetic ufunc: a strided out= may round apart
    tape, r = _scatter_tape(v_shape=(2, 1))
    assert not scattered(tape, [r])  # the copy broadcasts v
    tape, r = _scatter_tape()
    assert not scattered(tape, [r, tape[1].results[0]])  # v is returned


def test_a_value_read_slice_by_slice_lends_each_dead_slice_to_later_values(monkeypatch):
    """plan_buffers with _slice_ends: x is read one row at a time (as an LSTM reads its input
    projection one step at a time); each row's product with 3 is made after that row's last
    read and kept to the end, so rows 0-2 hold three of the four products (320 bytes, not 512).
    Read whole at the end, x keeps all its rows. The eager bits either way."""
    rng = np.random.default_rng(6)

    def by_rows(a, whole_too=False):
        with tl.no_grad():
            x = a * 2.0
            rows = [x[k] * 3.0 for k in range(4)]
            total = x.sum() if whole_too else rows.pop(0).sum()
            for row in rows:
                total = total + row.sum()
            return total

    def whole_too(a):
        return by_rows(a, True)
    arena = {}
    for f in (by_rows, whole_too):
        for sliced in (True, False):
            if not sliced:
                monkeypatch.setattr(passes, "_slice_ends", lambda *args: {})
            inputs = [(rng.standard_normal((4, 8)),) for _ in range(6)]
            arena[f.__name__, sliced] = \
                assert_bitwise_twins(f, inputs)._last.program.arena_bytes
            monkeypatch.undo()
    assert arena == {("by_rows", True): 320, ("by_rows", False): 512,
                     ("whole_too", True): 512, ("whole_too", False): 512}, arena


def test_a_copy_a_method_makes_is_deleted_after_its_last_use():
    """A copy made by advanced indexing or astype (which the alias analysis counts as possible
    views) is deleted after its last use, not kept to the end of the run: four such copies
    alive at once (a review found it) would be four times the memory."""
    rng = np.random.default_rng(2)
    index = rng.permutation(50)

    def f(x, i):
        with tl.no_grad():
            total = x.double().sum()
            for k in range(4):
                total = total + (x[i] * float(k + 1)).exp().sum()
            return total
    compiled = assert_bitwise_twins(f, [(rng.standard_normal(50), index) for _ in range(6)])
    step = compiled.code.split("\n# made once")[0]
    copies = re.findall(r"^    (getitem\d+|cast\d+) = ", step, re.M)
    assert len(copies) >= 5, step
    for name in copies:  # each deleted before the next line that makes one
        assert re.search(rf"^    del (\w+, )*{name}\b", step, re.M), (name, step)


def test_python_numbers_become_arrays_of_the_dtype_numpy_casts_them_to():
    """typed_scalars: a Python number beside float32 or int8 arrays is the 0-d array NumPy
    would cast it to (NEP 50), made once; the bits are eager's, -0.0 stays -0.0, a number that
    rounds (0.1, 1e-45) rounds alike. A number whose cast overflows stays a Python number, so
    the program warns as eager does."""
    rng = np.random.default_rng(3)

    def f(x, i):
        with tl.no_grad():
            a = (x * 0.1 + 3).sigmoid() - (-0.0)
            b = x * 1e-45 + x.tanh() * 1e300  # 1e300: inf in float32, with a warning
            c = (i + 7) // 2 + i * 0.5
            return a, b, c
    inputs = [(rng.standard_normal((2, 3)).astype(np.float32),
               rng.integers(-5, 5, (2, 3)).astype(np.int8)) for _ in range(6)]
    with pytest.warns(RuntimeWarning, match="overflow"):
        compiled = assert_bitwise_twins(f, inputs)
    step, numbers = compiled.code.split("\n# the numbers it reads")
    for text in ("np.float32(0.1)", "np.float32(3.0)", "np.float32(-0.0)", "np.float32(1e-45)",
                 "np.int8(7)", "np.int8(2)", "np.float32(0.5)"):
        assert re.search(rf"^[A-Z_0-9]+ = {re.escape(text)}$", numbers, re.M), (text, numbers)
    assert "MINUS_ZERO_FLOAT32 = np.float32(-0.0)" in numbers
    assert ", 1e+300, out=" in step  # left to NumPy, which warns at each call
    with pytest.warns(RuntimeWarning, match="overflow"):
        compiled(*[tl.Tensor(a) for a in inputs[0]])


@pytest.mark.parametrize("ufunc, dtype, number, typed", [
    (np.add, np.float32, 1, True),
    (np.multiply, np.float32, 0.1, True),  # rounds to float32 as NumPy rounds it
    (np.subtract, np.float64, -0.0, True),
    (np.not_equal, np.int64, -100, True),
    (np.power, np.int8, 2, True),
    (np.ldexp, np.float32, 2, False),  # its loop is (float, int): a float32 2 has none
    (np.add, np.int8, 300, False),  # NumPy raises at each call
    (np.add, np.int8, 7.0, False),  # a float beside integers: a float64 result
    (np.multiply, np.float32, 1e300, False),  # NumPy warns (overflow) at each call
    (np.logical_and, np.bool_, 1, False),
    (np.logical_or, np.float32, 5e-324, False),  # NumPy's loop is on bools: 5e-324 is True
    (np.logical_and, np.float16, 1e-8, False),
    (np.add, np.float32, 2**53, True),
    (np.add, np.float32, 2**70 + 1, False),  # beyond a double's integers: left to NumPy
])
def test_typed_scalars_only_where_numpy_casts_the_number_to_the_arrays_dtype(ufunc, dtype,
                                                                            number, typed):
    """typed_scalars, one call at a time: the number becomes a 0-d array of the dtype only where
    the ufunc then runs the same loop on the same values, and gives the same bits."""
    x = Var(0, "op", None, "x", shape=(5,), dtype=np.dtype(dtype))
    (call,) = typed_scalars([Call(ufunc, (x, number), {}, ())], first_number=1)
    constant = call.args[1]
    assert isinstance(constant, Var) == typed, call.args
    if typed:
        values = np.array([0.5, -3, 7, -0.0, 100]).astype(dtype)
        with np.errstate(all="ignore"):
            assert ufunc(values, constant.source).tobytes() == ufunc(values, number).tobytes()


def test_typed_scalars_leave_a_call_whose_dtype_or_signature_is_given_to_numpy():
    """`np.add(t, 0.1, dtype=np.float64)` on float32 adds the double 0.1: a float32 0.1 would
    be another number (a review found it)."""
    x = Var(0, "op", None, "x", shape=(3,), dtype=np.dtype(np.float32))
    for kwargs in ({"dtype": np.float64}, {"signature": (None, None, "d")}):
        (call,) = typed_scalars([Call(np.add, (x, 0.1), kwargs, ())], first_number=1)
        assert call.args[1] == 0.1, kwargs


def test_an_index_with_an_ellipsis_is_traced():
    """`t[..., 1]`: Getitem gives a view of one element by adding `...` to the index, which it
    must not do twice (a traced array is an ndarray subclass); calls 2 on raised IndexError."""
    rng = np.random.default_rng(4)
    compiled = assert_bitwise_twins(lambda t: t[..., 1] * 2.0 + t[1, ...].sum(),
                                    [(rng.standard_normal((2, 3)),) for _ in range(6)])
    assert "built a program" in compiled.explain()


def test_what_explain_says_is_logged_at_info_where_logging_is_in_use(caplog):
    """The notes of explain() go to the `tinygrad_lstm.compile` logger too (imported by
    pytest's caplog here, so in use)."""
    compiled = tl.compile(lambda t: t * 2.0)
    with caplog.at_level("INFO", logger="tinygrad_lstm.compile"):
        for _ in range(3):
            compiled(tl.Tensor(np.ones(3)))
    messages = [r.getMessage() for r in caplog.records if r.name == "tinygrad_lstm.compile"]
    assert len(messages) == 1 and messages[0].endswith(f"<lambda>: {compiled.explain()}")
    assert compiled.explain().startswith("built a program")


Step = namedtuple("Step", "loss out")


def test_a_namedtuple_result_and_a_tensor_returned_twice_come_back_as_they_were():
    def make():
        tl.manual_seed(0)
        model = nn.Linear(3, 2)
        opt = optim.SGD(model.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            out = model(x)
            loss = out.square().mean()
            loss.backward()
            opt.step()
            out = out.detach()
            return Step(loss.detach(), out), out
        return step

    eager, compiled = make(), tl.compile(make())
    x = Tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
    for i in range(6):
        (e, e_out), (c, c_out) = eager(x), compiled(x)
        assert type(c) is Step and c.out is c_out, i
        assert type(c.loss._array) is np.ndarray and type(c_out._array) is np.ndarray, i
        assert c.loss.numpy().tobytes() == e.loss.numpy().tobytes(), i
        assert c_out.numpy().tobytes() == e_out.numpy().tobytes(), i
    assert compiled.explain().startswith("built a program"), compiled.explain()


def test_returning_an_argument_says_so():
    compiled = tl.compile(lambda x: x)
    x = Tensor(np.ones(3, np.float32))
    for _ in range(5):
        assert compiled(x) is x
    assert "returns a tensor it did not compute (an argument" in compiled.explain()
