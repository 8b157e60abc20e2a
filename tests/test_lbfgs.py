"""LBFGS against independent truths: iterates worked out by hand, the textbook BFGS matrix
update (Nocedal & Wright eq. 7.19) instead of the two-loop recursion, the strong Wolfe
conditions, the Hermite cubic's minimiser, and least squares solved by NumPy."""

import numpy as np
import pytest

from tinygrad_lstm import Tensor, optim
from tinygrad_lstm.optim.lbfgs import _cubic_interpolate, _strong_wolfe


def make_closure(opt, loss_fn, params, log=None):
    """PyTorch's closure: zero the grads, loss, backward; `log` records the points visited."""
    def closure():
        opt.zero_grad()
        if log is not None:
            log.append(np.concatenate([p.numpy().ravel() for p in params]))
        loss = loss_fn()
        loss.backward()
        return loss
    return closure


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_one_dimensional_quadratic_by_hand(line_search_fn):
    # f(x) = (x - 3)², x0 = 0: g0 = -6, t = min(1, 1/6) = 1/6, x1 = 0 + t·6 = 1 (g1 = -4, which
    # meets the Wolfe conditions: |-24| <= 0.9·36). Then y = 2, s = 1, ρ = 1/2, H_diag = 2/4,
    # two-loop: α = s·4·ρ = 2, q = 4 - 2·2 = 0, r = 0 + s·(α - 0) = 2, so d = 2, t = 1: x2 = 3.
    x = Tensor(np.array([0.0]), requires_grad=True)
    opt = optim.LBFGS([x], line_search_fn=line_search_fn)
    visited = []
    loss = opt.step(make_closure(opt, lambda: ((x - 3) ** 2).sum(), [x], visited))
    assert loss.item() == 9.0  # the loss of the first evaluation, as in PyTorch
    np.testing.assert_allclose(np.ravel(visited), [0.0, 1.0, 3.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(x.numpy(), [3.0], atol=1e-15)
    state = opt.state[x]
    assert (state["func_evals"], state["n_iter"]) == (3, 2)
    assert (state["t"], state["H_diag"], state["ro"], state["prev_loss"]) == (1, 0.5, [0.5], 4.0)
    np.testing.assert_allclose(state["d"], [2.0])
    np.testing.assert_allclose(state["old_dirs"], [[2.0]])
    np.testing.assert_allclose(state["old_stps"], [[1.0]])
    np.testing.assert_allclose(state["prev_flat_grad"], [-4.0])
    assert state["al"] == [2.0] + [None] * 99


def test_first_iterate_by_hand():
    # f = ½(x² + 10 y²) at (1, 1): g = (1, 10), |g|₁ = 11, first step t = 1/11 along -g
    w = Tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = optim.LBFGS([w], max_iter=1)
    opt.step(make_closure(opt, lambda: 0.5 * (w[0] ** 2 + 10 * w[1] ** 2), [w]))
    np.testing.assert_allclose(w.numpy(), [10 / 11, 1 / 11], rtol=1e-15)
    assert opt.state[w]["func_evals"] == 1  # the last iteration does not re-evaluate


def reference_lbfgs(A, b, x0, lr, history_size, n_iters):
    """Iterates x_0..x_n on f = ½xᵀAx - bᵀx without line search, the inverse Hessian built by
    the BFGS matrix update H ← (I - ρ s yᵀ) H (I - ρ y sᵀ) + ρ s sᵀ from H₀ = (sᵀy / yᵀy) I over
    the last history_size pairs (not the two-loop recursion the optimizer runs)."""
    I = np.eye(len(x0))
    x, g = x0, A @ x0 - b
    xs, pairs = [x0], []
    x_prev = g_prev = None
    for k in range(n_iters):
        if k == 0:
            d, t = -g, min(1.0, 1.0 / np.abs(g).sum()) * lr
        else:
            pairs = (pairs + [(x - x_prev, g - g_prev)])[-history_size:]
            s, y = pairs[-1]
            H = (s @ y) / (y @ y) * I
            for s, y in pairs:
                rho = 1.0 / (y @ s)
                H = (I - rho * np.outer(s, y)) @ H @ (I - rho * np.outer(y, s)) + \
                    rho * np.outer(s, s)
            d, t = -H @ g, lr
        x_prev, g_prev = x, g
        x = x + t * d
        g = A @ x - b
        xs.append(x)
    return np.array(xs)


@pytest.mark.parametrize("history_size", [2, 100])
def test_iterates_match_bfgs_matrix_form_across_steps(history_size):
    rng = np.random.default_rng(0)
    M = rng.standard_normal((5, 5))
    A, b = M @ M.T + 5 * np.eye(5), rng.standard_normal(5)
    x = Tensor(np.zeros(5), requires_grad=True)
    # tolerances 0 so that every step runs its max_iter iterations
    opt = optim.LBFGS([x], lr=0.5, max_iter=4, history_size=history_size, tolerance_grad=0,
                      tolerance_change=0)
    visited = []
    closure = make_closure(opt, lambda: 0.5 * (x @ (Tensor(A) @ x)) - Tensor(b) @ x, [x],
                           visited)
    for _ in range(3):  # 3 steps × 4 iterations; the state carries over between steps
        opt.step(closure)
    expected = reference_lbfgs(A, b, np.zeros(5), 0.5, history_size, 12)
    np.testing.assert_allclose(np.array(visited), expected[:12], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.numpy(), expected[12], rtol=1e-10, atol=1e-12)
    state = opt.state[x]
    assert (state["func_evals"], state["n_iter"]) == (12, 12)
    assert len(state["old_dirs"]) == min(history_size, 11)


def test_cubic_interpolate_is_the_hermite_cubic_minimiser():
    rng = np.random.default_rng(1)
    checked = 0
    while checked < 20:
        x1, x2 = sorted(rng.uniform(-2, 2, 2))
        f1, g1, f2, g2 = rng.standard_normal(4) * 3
        # the cubic p with p(x1) = f1, p'(x1) = g1, p(x2) = f2, p'(x2) = g2
        V = np.array([[x**3, x**2, x, 1] for x in (x1, x2)]
                     + [[3 * x**2, 2 * x, 1, 0] for x in (x1, x2)])
        c = np.linalg.solve(V, [f1, f2, g1, g2])
        roots = np.roots([3 * c[0], 2 * c[1], c[2]])
        minima = [r.real for r in roots if abs(r.imag) < 1e-12 and 6 * c[0] * r.real + 2 * c[1] > 0]
        if len(minima) != 1 or not x1 < minima[0] < x2:
            continue
        assert _cubic_interpolate(x1, f1, g1, x2, f2, g2) == pytest.approx(minima[0], rel=1e-9)
        assert _cubic_interpolate(x2, f2, g2, x1, f1, g1) == pytest.approx(minima[0], rel=1e-9)
        checked += 1
    # p(x) = x³ + x has no minimum: the middle of the bounds; a minimum outside them is clipped
    assert _cubic_interpolate(0.0, 0.0, 1.0, 1.0, 2.0, 4.0) == 0.5
    # p(x) = (x - 3)², sampled at 0 and 1, has its minimum at 3, clipped to the bound 2
    assert _cubic_interpolate(0.0, 9.0, -6.0, 1.0, 4.0, -4.0, bounds=(1.0, 2.0)) == 2.0


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def rosenbrock_grad(x):
    return np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2),
                     200 * (x[1] - x[0] ** 2)])


@pytest.mark.parametrize("t0", [1.0, 1e-4, 2e-3], ids=["zoom", "extrapolate", "near"])
def test_strong_wolfe_returns_a_point_meeting_the_conditions(t0):
    x0 = np.array([-1.2, 1.0])
    f0, g0 = rosenbrock(x0), rosenbrock_grad(x0)
    d = -g0
    evals = []

    def obj_func(x, t, d):
        evals.append(t)
        return rosenbrock(x + t * d), rosenbrock_grad(x + t * d)

    gtd = g0 @ d
    f_new, g_new, t, n_evals = _strong_wolfe(obj_func, x0, t0, d, f0, g0, gtd)
    assert n_evals == len(evals) and t in evals
    assert f_new == rosenbrock(x0 + t * d)
    np.testing.assert_array_equal(g_new, rosenbrock_grad(x0 + t * d))
    assert f_new <= f0 + 1e-4 * t * gtd  # sufficient decrease (Armijo)
    assert abs(g_new @ d) <= -0.9 * gtd  # strong curvature condition


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rosenbrock_converges_with_strong_wolfe(dtype):
    x = Tensor(np.array([-1.5, 2.0], dtype=dtype), requires_grad=True)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe")
    closure = make_closure(opt, lambda: rosenbrock(x), [x])
    for _ in range(5):
        loss = opt.step(closure)
    assert x.dtype == dtype and opt.state[x]["prev_flat_grad"].dtype == dtype
    atol = 1e-5 if dtype == np.float64 else 2e-3
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0], atol=atol)
    assert loss.item() < (1e-9 if dtype == np.float64 else 1e-5)  # at the last step's start
    assert opt.state[x]["func_evals"] <= 5 * 25  # max_eval = max_iter·5//4 per step


def test_least_squares_over_several_parameters():
    # a Linear-like fit y = X W + c over two parameters of different shapes; the truth is
    # NumPy's least squares on the augmented design matrix
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    W = Tensor(np.zeros((3, 2)), requires_grad=True)
    c = Tensor(np.zeros(2), requires_grad=True)
    opt = optim.LBFGS([W, c], line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                      tolerance_change=1e-14)
    closure = make_closure(opt, lambda: ((Tensor(X) @ W + c - Tensor(Y)) ** 2).mean(), [W, c])
    for _ in range(3):
        opt.step(closure)
    solution = np.linalg.lstsq(np.hstack([X, np.ones((20, 1))]), Y, rcond=None)[0]
    np.testing.assert_allclose(W.numpy(), solution[:3], atol=1e-8)
    np.testing.assert_allclose(c.numpy(), solution[3], atol=1e-8)
    assert list(opt.state) == [W]  # the global state sits on the first parameter


def test_stops_at_once_when_the_gradient_is_zero_and_counts_missing_grads_as_zero():
    x = Tensor(np.array([3.0]), requires_grad=True)
    unused = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.LBFGS([x, unused])
    loss = opt.step(make_closure(opt, lambda: ((x - 3) ** 2).sum(), [x, unused]))
    assert loss.item() == 0.0 and opt.state[x] == {"func_evals": 1, "n_iter": 0}
    np.testing.assert_array_equal(unused.numpy(), [1.0, 2.0])


def test_defaults_and_errors():
    x = Tensor(np.zeros(2), requires_grad=True)
    opt = optim.LBFGS([x])
    assert {k: v for k, v in opt.param_groups[0].items() if k != "params"} == dict(
        lr=1, max_iter=20, max_eval=25, tolerance_grad=1e-7, tolerance_change=1e-9,
        history_size=100, line_search_fn=None)
    assert optim.LBFGS([x], max_iter=10).defaults["max_eval"] == 12
    with pytest.raises(ValueError, match=r"LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": [x]}, {"params": [Tensor(np.zeros(1), requires_grad=True)]}])
    with pytest.raises(ValueError, match="only 'strong_wolfe' is supported"):
        optim.LBFGS([x], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.LBFGS([x], lr=-1)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'closure'"):
        opt.step()
    with pytest.raises(TypeError, match="LBFGS.step: a closure .* is required"):
        opt.step(None)
    with pytest.raises(TypeError, match="the closure must return the loss, got None"):
        opt.step(lambda: None)


def test_state_dict_round_trip_continues_the_same_iterates():
    # two parameters of different shapes: the flat state vectors fit neither
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))

    def setup(W0, c0):
        W, c = Tensor(W0.copy(), requires_grad=True), Tensor(c0.copy(), requires_grad=True)
        opt = optim.LBFGS([W, c], max_iter=3, history_size=2)
        loss = lambda: ((Tensor(X) @ W + c - Tensor(Y)) ** 2).sum()  # noqa: E731
        return W, c, opt, make_closure(opt, loss, [W, c])

    W, c, opt, closure = setup(np.zeros((3, 2)), np.zeros(2))
    opt.step(closure)
    sd = opt.state_dict()
    W2, c2, opt2, closure2 = setup(W.numpy(), c.numpy())
    opt2.load_state_dict(sd)
    # max_eval = 3·5//4 = 3 evaluations a step: 2 iterations, 1 curvature pair
    assert (sd["state"][0]["n_iter"], len(sd["state"][0]["old_dirs"])) == (2, 1)
    opt.step(closure)
    assert len(opt.state[W]["old_dirs"]) == 2
    assert len(sd["state"][0]["old_dirs"]) == 1  # the snapshot did not follow the step
    opt2.step(closure2)
    np.testing.assert_array_equal(W2.numpy(), W.numpy())
    np.testing.assert_array_equal(c2.numpy(), c.numpy())
    assert opt2.state[W2]["n_iter"] == opt.state[W]["n_iter"] == 4


def test_pytorch_style_fit_of_a_linear_model():
    # the way a PyTorch program uses LBFGS: an nn module, a loss module, a closure
    from tinygrad_lstm import nn
    rng = np.random.default_rng(4)
    X = rng.standard_normal((32, 3)).astype(np.float32)
    Y = (X @ np.array([[1.5], [-2.0], [0.5]], np.float32) + 0.3
         + 0.1 * rng.standard_normal((32, 1)).astype(np.float32))
    model = nn.Linear(3, 1)
    loss_fn = nn.MSELoss()
    opt = optim.LBFGS(model.parameters(), lr=1, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_fn(model(Tensor(X)), Tensor(Y))
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(4)]
    assert losses[-1] < losses[0]
    solution = np.linalg.lstsq(np.hstack([X, np.ones((32, 1))]).astype(np.float64), Y,
                               rcond=None)[0]
    np.testing.assert_allclose(model.weight.numpy(), solution[:3].T, atol=1e-4)
    np.testing.assert_allclose(model.bias.numpy(), solution[3], atol=1e-4)
