"""The engine's fixed cost per recorded op: forward + backward on tiny arrays, against NumPy.

For each op an LSTM step uses, a chain of K such ops is recorded from a leaf of shape (N, D)
and backpropagated once; the same forward and VJP arithmetic written directly in NumPy (no
tape, no Tensors) is the reference. On arrays this small the NumPy time is mostly NumPy's own
call overhead, so `overhead` is what the engine adds per op: the Python around each primitive.

    python benchmarks/bench_ops.py [--shape 4 8] [--chain 50] [--repeats 30] [--json]
"""

import argparse
import json
import statistics
import time

import numpy as np

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def make_ops(N: int, D: int) -> dict:
    """name -> (engine step y -> y', NumPy forward+backward of a chain of k steps).

    Every step keeps y's shape (N, D) and keeps its values and gradients in a range that stays
    clear of float32 denormals over the chain. The engine's leaves (weights) require grad, so
    their gradients are computed too, as in an LSTM.
    """
    rng = np.random.default_rng(0)
    W = np.linalg.qr(rng.standard_normal((D, D)))[0].astype(np.float32)  # orthogonal: |y| stays
    z = rng.uniform(0.95, 1.05, (N, D)).astype(np.float32)
    b = rng.uniform(-0.1, 0.1, D).astype(np.float32)
    Wt, zt, bt = (Tensor(a, requires_grad=True) for a in (W, z, b))

    def np_matmul(y, g, k):
        ys, gW = [], np.zeros_like(W)
        for _ in range(k):
            ys.append(y)
            y = y @ W
        for yp in reversed(ys):
            gW += yp.T @ g
            g = g @ W.T
        return g, gW

    def np_add(y, g, k):
        gz = np.zeros_like(z)
        for _ in range(k):
            y = y + z
        for _ in range(k):
            gz += g
        return g, gz

    def np_add_bias(y, g, k):
        gb = np.zeros_like(b)
        for _ in range(k):
            y = y + b
        for _ in range(k):
            gb += g.sum(axis=0)  # undo the broadcast of b over the N rows
        return g, gb

    def np_mul(y, g, k):
        ys, gz = [], np.zeros_like(z)
        for _ in range(k):
            ys.append(y)
            y = y * z
        for yp in reversed(ys):
            gz += g * yp
            g = g * z
        return g, gz

    def np_addcmul(y, g, k):
        ys, gz = [], np.zeros_like(z)
        for _ in range(k):
            ys.append(y)
            y = z + y * z
        for yp in reversed(ys):
            gz += g + g * yp
            g = g * z
        return g, gz

    def np_sigmoid(y, g, k):
        outs = []
        for _ in range(k):
            y = _sigmoid(y)
            outs.append(y)
        for out in reversed(outs):
            g = g * out * (1 - out)
        return (g,)

    def np_tanh(y, g, k):
        outs = []
        for _ in range(k):
            y = np.tanh(y)
            outs.append(y)
        for out in reversed(outs):
            g = g * (1 - out * out)
        return (g,)

    def np_chunk_cat(y, g, k):
        for _ in range(k):
            y = np.concatenate(np.split(y, 4, axis=1), axis=1)
        for _ in range(k):
            g = np.concatenate(np.split(g, 4, axis=1), axis=1)
        return (g,)

    def np_unbind_stack(y, g, k):
        for _ in range(k):
            y = np.stack(list(y), axis=0)
        for _ in range(k):
            g = np.stack(list(g), axis=0)
        return (g,)

    return {
        "matmul (N,D)@(D,D)": (lambda y: y @ Wt, np_matmul),
        "add (N,D)+(N,D)": (lambda y: y + zt, np_add),
        "add bias (N,D)+(D,)": (lambda y: y + bt, np_add_bias),
        "mul (N,D)*(N,D)": (lambda y: y * zt, np_mul),
        "addcmul z+y*z": (lambda y: zt.addcmul(y, zt), np_addcmul),
        "sigmoid": (lambda y: y.sigmoid(), np_sigmoid),
        "tanh": (lambda y: y.tanh(), np_tanh),
        "chunk(4, dim=1) + cat": (lambda y: tl.cat(y.chunk(4, dim=1), dim=1), np_chunk_cat),
        "unbind(0) + stack": (lambda y: tl.stack(y.unbind(0)), np_unbind_stack),
    }, (Wt, zt, bt)


def measure(N: int, D: int, chain: int, repeats: int) -> list[dict]:
    """Median microseconds per op: NumPy forward+backward, engine forward, engine backward."""
    ops, leaves = make_ops(N, D)
    x0 = np.random.default_rng(1).uniform(-1, 1, (N, D)).astype(np.float32)
    g0 = np.ones((N, D), np.float32)
    rows = []
    for name, (step, np_fn) in ops.items():
        t_np, t_fwd, t_bwd = [], [], []
        for _ in range(repeats + 1):  # the first round warms up
            start = time.perf_counter()
            np_fn(x0, g0, chain)
            t_np.append(time.perf_counter() - start)

            x = Tensor(x0, requires_grad=True)
            for leaf in leaves:
                leaf.grad = None
            start = time.perf_counter()
            y = x
            for _ in range(chain):
                y = step(y)
            middle = time.perf_counter()
            y.backward(g0)
            t_bwd.append(time.perf_counter() - middle)
            t_fwd.append(middle - start)
        us = [statistics.median(t[1:]) / chain * 1e6 for t in (t_np, t_fwd, t_bwd)]
        rows.append({"op": name, "numpy_us": us[0], "engine_fwd_us": us[1],
                     "engine_bwd_us": us[2], "engine_us": us[1] + us[2],
                     "overhead_us": us[1] + us[2] - us[0], "ratio": (us[1] + us[2]) / us[0]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=2, default=(4, 8), metavar=("N", "D"),
                        help="shape of the arrays (D must be a multiple of 4)")
    parser.add_argument("--chain", type=int, default=50, help="ops recorded per backward")
    parser.add_argument("--repeats", type=int, default=30, help="timed chains per op (median)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    N, D = args.shape
    if N < 1 or D < 4 or D % 4:
        parser.error(f"--shape: need N >= 1 and D a positive multiple of 4, got {N} {D}")
    if args.chain < 1 or args.repeats < 1:
        parser.error("--chain and --repeats must be at least 1")
    rows = measure(N, D, args.chain, args.repeats)
    if args.json:
        print(json.dumps({"shape": [N, D], "chain": args.chain, "ops": rows}, indent=2))
        return
    print(f"microseconds per op, forward + backward, arrays ({N}, {D}) float32, "
          f"chains of {args.chain}")
    print(f"{'op':<24} {'numpy':>7} {'engine':>7} {'(fwd':>7} {'bwd)':>7} {'overhead':>9} "
          f"{'x':>6}")
    for r in rows:
        print(f"{r['op']:<24} {r['numpy_us']:>7.1f} {r['engine_us']:>7.1f} "
              f"{r['engine_fwd_us']:>7.1f} {r['engine_bwd_us']:>7.1f} {r['overhead_us']:>9.1f} "
              f"{r['ratio']:>6.1f}")


if __name__ == "__main__":
    main()
