"""Hand-written NumPy training step of a char-level LSTM, the baseline the engine is timed against.

One step: one-hot tokens -> nn.LSTM(V, H) -> nn.Linear(H, V) -> mean cross-entropy over the T*B
tokens, then torch.optim.Adam (betas (0.9, 0.999), eps 1e-8, no weight decay). Written for this
one model only, as fast as we know how to write it in NumPy (issue 16: the ratio is measured
against the real limit, not against a convenient baseline):
- the input projection of all T*B tokens is one matmul, the four gates share one matmul per step;
- one tanh call activates all four gates: sigmoid(a) = 0.5 * tanh(a / 2) + 0.5, with the sigmoid
  gates' rows of a per-step copy of the weights and biases halved (exact: a power of two);
- every product that does not depend on the backward recursion runs once over all T steps, so
  a backward time step is 7 NumPy calls; weight gradients are one matmul each after the loop;
- parameters, gradients and Adam's moments are views of flat buffers (PyTorch's layout and
  names), so Adam is a dozen NumPy calls for all six parameters; every window-sized array is
  preallocated (still allocated per step: a few arrays of T*B numbers, gather's per-token rows).
This replaces the first, less tuned version (exp-form sigmoids per gate block, the backward
products inside the time loop, Adam per parameter) rather than standing beside it: a second
copy of the BPTT would only drift, and nothing measures against a slower baseline. The old one
is in git history, its speed next to this one's in the commit that replaced it.

With gather=True the input projection goes further than any layer that is handed a dense input
can: a one-hot row times weight_ih.T is a row of weight_ih.T, so the projection becomes a row
gather and its weight gradient per-token sums, skipping the I * 4H multiply-adds per token of
the dense product (a tenth of the model's FLOPs at H = 256, V = 65).

    python benchmarks/hand_lstm.py --V 65 --H 256 --T 64 --B 32 [--gather]

Shape: tokens, targets: (T, B) ints in [0, V); h0, c0, h_n, c_n: (1, B, H)
"""

import argparse
import time

import numpy as np
from numpy.typing import DTypeLike

SHAPES = {  # name: shape as a function of (V, H), in PyTorch's layout and state-dict order
    "lstm.weight_ih_l0": lambda V, H: (4 * H, V),
    "lstm.weight_hh_l0": lambda V, H: (4 * H, H),
    "lstm.bias_ih_l0": lambda V, H: (4 * H,),
    "lstm.bias_hh_l0": lambda V, H: (4 * H,),
    "fc.weight": lambda V, H: (V, H),
    "fc.bias": lambda V, H: (V,),
}


def _views(flat: np.ndarray, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Consecutive views of one flat buffer, one per name, with the given shapes."""
    views, offset = {}, 0
    for name, shape in shapes.items():
        size = int(np.prod(shape))
        views[name] = flat[offset:offset + size].reshape(shape)
        offset += size
    return views


class HandLSTM:
    """nn.LSTM(V, H) + nn.Linear(H, V) + cross-entropy + Adam, forward and BPTT by hand."""

    def __init__(self, V: int, H: int, dtype: DTypeLike = np.float32, seed: int = 0,
                 gather: bool = False):
        self.V, self.H, self.dtype, self.gather = V, H, np.dtype(dtype), gather
        self.eye = np.eye(V, dtype=self.dtype)  # one-hot rows
        rng = np.random.default_rng(seed)
        k = 1.0 / np.sqrt(H)  # PyTorch: LSTM and Linear(H, V) both draw from U(-1/sqrt(H), ..)
        shapes = {n: f(V, H) for n, f in SHAPES.items()}
        size = sum(int(np.prod(s)) for s in shapes.values())
        # perf: flat buffers make Adam one pass over all six parameters: 148 us against 182 us
        # per parameter at tiny, 3.07 against 3.22 ms at large
        self.flat = {b: np.zeros(size, self.dtype)
                     for b in ("params", "grads", "exp_avg", "exp_avg_sq", "adam_buf")}
        self.params = _views(self.flat["params"], shapes)
        for p in self.params.values():  # drawn in the order of the state dict
            p[...] = rng.uniform(-k, k, p.shape).astype(self.dtype)
        self.grads = _views(self.flat["grads"], shapes)
        self.exp_avg = _views(self.flat["exp_avg"], shapes)
        self.exp_avg_sq = _views(self.flat["exp_avg_sq"], shapes)
        self.step = 0
        # activated = tanh(scale * a) * scale + shift: sigmoid for i, f, o; tanh for g.
        # perf: against 1 / (1 + exp(-a)) on i, f and o, step speed tiny 1.24x, small 1.09x,
        # medium 1.02x, large 1.00x; halving a in the time loop instead of in the per-step
        # weight copies (which the transposes make anyway) measured the same (within 2%)
        self.scale = np.full(4 * H, 0.5, self.dtype)
        self.scale[2 * H:3 * H] = 1.0
        self.shift = self.scale.copy()
        self.shift[2 * H:3 * H] = 0.0
        self.w_ih_t = np.empty((V, 4 * H), self.dtype)  # scale * weight_ih.T (gather: + bias)
        self.w_hh_t = np.empty((H, 4 * H), self.dtype)  # scale * weight_hh.T
        self.bias = np.empty(4 * H, self.dtype)  # scale * (bias_ih + bias_hh)
        self._buffers_shape = None

    def _buffers(self, T: int, B: int) -> None:
        """Allocate the activations of a (T, B) window once and reuse them across steps."""
        if self._buffers_shape == (T, B):
            return
        H, V, N, dt = self.H, self.V, T * B, self.dtype
        self.x = np.empty((N, V), dt)  # one-hot inputs
        self.gates = np.empty((T, B, 4 * H), dt)  # pre-activations, then activated i, f, g, o
        self.h = np.empty((T + 1, B, H), dt)  # h[0] = h0, h[t + 1] = h_t
        self.c = np.empty((T + 1, B, H), dt)
        self.tanh_c = np.empty((T, B, H), dt)
        self.dc_dh = np.empty((T, B, H), dt)  # o * (1 - tanh(c)**2)
        self.dgates = np.empty((T, B, 4 * H), dt)  # gradient wrt the gate pre-activations
        self.logits, self.dhs = np.empty((N, V), dt), np.empty((T, B, H), dt)
        self.row_max, self.sums = np.empty((N, 1), dt), np.empty(N, dt)
        self.hw, self.tmp = np.empty((B, 4 * H), dt), np.empty((B, H), dt)
        self.dhnext, self.dc = np.empty((B, H), dt), np.empty((B, H), dt)
        self._buffers_shape = (T, B)

    def _check(self, tokens, targets, h0, c0):
        tokens, targets = np.asarray(tokens), np.asarray(targets)
        if tokens.ndim != 2 or tokens.shape != targets.shape:
            raise ValueError(
                f"HandLSTM: tokens and targets must both be (T, B), "
                f"got {tokens.shape} and {targets.shape}"
            )
        for label, a in (("tokens", tokens), ("targets", targets)):
            if a.dtype.kind not in "iu":
                raise TypeError(f"HandLSTM: {label} must be integers, got {a.dtype}")
            if a.size and (a.min() < 0 or a.max() >= self.V):
                raise ValueError(
                    f"HandLSTM: {label} must lie in [0, {self.V}), got [{a.min()}, {a.max()}]"
                )
        shape = (1, tokens.shape[1], self.H)
        for label, s in (("h0", h0), ("c0", c0)):
            if s is not None and np.shape(s) != shape:
                raise ValueError(f"HandLSTM: {label} must be {shape}, got {np.shape(s)}")
        return tokens, targets

    def loss_and_grads(
        self,
        tokens: np.ndarray,
        targets: np.ndarray,
        h0: np.ndarray | None = None,
        c0: np.ndarray | None = None,
    ) -> tuple[float, dict[str, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """Mean cross-entropy, its gradients by parameter name, and the final (h_n, c_n).

        The gradients are views of a buffer that the next call overwrites.
        """
        tokens, targets = self._check(tokens, targets, h0, c0)
        T, B = tokens.shape
        H, V, N = self.H, self.V, T * B
        self._buffers(T, B)
        p, grads = self.params, self.grads
        w_hh, w_fc = p["lstm.weight_hh_l0"], p["fc.weight"]
        gates, h, c, tanh_c, dc_dh = self.gates, self.h, self.c, self.tanh_c, self.dc_dh
        dgates, hw, tmp, scale = self.dgates, self.hw, self.tmp, self.scale
        # column blocks of the gates, in PyTorch's order i, f, g, o
        I_, F_, G_, O_ = (slice(k * H, (k + 1) * H) for k in range(4))

        # forward: the input projection of every time step at once, both biases folded in
        np.multiply(p["lstm.weight_ih_l0"].T, scale, out=self.w_ih_t)  # (V, 4H)
        np.multiply(w_hh.T, scale, out=self.w_hh_t)  # (H, 4H)
        np.add(p["lstm.bias_ih_l0"], p["lstm.bias_hh_l0"], out=self.bias)
        self.bias *= scale
        flat_tokens, gates_flat = tokens.reshape(N), gates.reshape(N, 4 * H)
        # the tokens are checked; mode="clip" spares np.take a buffered copy of out (perf:
        # hand-gather peak RSS at large 344 -> 280 MiB)
        if self.gather:  # one-hot @ W_ih.T picks rows of W_ih.T
            self.w_ih_t += self.bias
            np.take(self.w_ih_t, flat_tokens, axis=0, out=gates_flat, mode="clip")
        else:
            np.take(self.eye, flat_tokens, axis=0, out=self.x, mode="clip")  # (N, V) one-hot
            np.matmul(self.x, self.w_ih_t, out=gates_flat)
            gates_flat += self.bias
        h[0] = 0.0 if h0 is None else h0[0]
        c[0] = 0.0 if c0 is None else c0[0]
        for t in range(T):
            a = gates[t]
            np.matmul(h[t], self.w_hh_t, out=hw)
            a += hw  # (B, 4H) pre-activations, halved for i, f, o
            np.tanh(a, out=a)
            a *= scale  # sigmoid(a) = 0.5 * tanh(a / 2) + 0.5
            a += self.shift
            np.multiply(a[:, F_], c[t], out=c[t + 1])
            np.multiply(a[:, I_], a[:, G_], out=tmp)
            c[t + 1] += tmp  # c_t = f * c_{t-1} + i * g
            np.tanh(c[t + 1], out=tanh_c[t])
            np.multiply(a[:, O_], tanh_c[t], out=h[t + 1])
        hs = h[1:].reshape(N, H)
        logits = self.logits
        np.matmul(hs, w_fc.T, out=logits)  # (N, V)
        logits += p["fc.bias"]
        np.max(logits, axis=1, keepdims=True, out=self.row_max)
        logits -= self.row_max  # subtract max for stability
        target_idx = np.arange(0, N * V, V) + targets.reshape(N)  # into logits.reshape(N * V)
        target_logits = logits.reshape(N * V)[target_idx]
        np.exp(logits, out=logits)
        sums = np.sum(logits, axis=1, out=self.sums)
        loss = float(np.mean(np.log(sums) - target_logits))

        # backward of the mean cross-entropy: (softmax - onehot) / N
        dlogits = logits
        np.reciprocal(sums, out=sums)
        sums *= 1.0 / N
        dlogits *= sums[:, None]
        dlogits.reshape(N * V)[target_idx] -= 1.0 / N
        np.matmul(dlogits.T, hs, out=grads["fc.weight"])
        np.sum(dlogits, axis=0, out=grads["fc.bias"])
        dhs = self.dhs
        np.matmul(dlogits, w_fc, out=dhs.reshape(N, H))

        # the local derivatives, over all T at once: dgates = (dc or dh) * dgates after the loop.
        # perf: in cache-sized blocks of time steps, each just before its part of the loop,
        # no faster (within 2%, tiny to large)
        i, f, g, o = (gates[..., s] for s in (I_, F_, G_, O_))  # (T, B, H) each
        np.subtract(1.0, gates, out=dgates)  # sigmoid' = s * (1 - s); its g block is replaced
        dgates *= gates
        np.multiply(g, g, out=dgates[..., G_])
        np.subtract(1.0, dgates[..., G_], out=dgates[..., G_])  # tanh' = 1 - g**2
        dgates[..., I_] *= g  # di = dc * g * i'
        dgates[..., F_] *= c[:-1]  # df = dc * c_{t-1} * f'
        dgates[..., G_] *= i  # dg = dc * i * g'
        dgates[..., O_] *= tanh_c  # do = dh * tanh(c) * o'
        np.multiply(tanh_c, tanh_c, out=dc_dh)
        np.subtract(1.0, dc_dh, out=dc_dh)
        dc_dh *= o

        # BPTT. dhs[t] becomes dh in place; dc carries the cell gradient back in time.
        dgates_ifg = dgates[..., :3 * H].reshape(T, B, 3, H)  # i, f, g: times dc
        dgates_o = dgates[..., O_]  # times dh
        dhnext, dc = self.dhnext, self.dc
        dhnext.fill(0.0)
        dc.fill(0.0)
        dc_ifg = dc[:, None, :]  # (B, 1, H)
        for t in reversed(range(T)):
            dh = dhs[t]
            dh += dhnext
            np.multiply(dh, dc_dh[t], out=tmp)
            dc += tmp  # dc = dc_next + dh * o * (1 - tanh(c)**2)
            dgates_ifg[t] *= dc_ifg
            dgates_o[t] *= dh
            if t:  # the gradients wrt h0 and c0 are not needed (the state is detached)
                dc *= f[t]  # dc_next for step t - 1
                np.matmul(dgates[t], w_hh, out=dhnext)
        dg_flat = dgates.reshape(N, 4 * H)
        np.matmul(dg_flat.T, h[:-1].reshape(N, H), out=grads["lstm.weight_hh_l0"])
        if self.gather:
            # row v of dW_ih.T is the sum of the gate gradients at token v. perf: step speed
            # with the one-hot matmul instead tiny 1.37x, small 1.01x, medium 0.97x, large
            # 0.88x; with np.add.reduceat over the rows sorted by token small 0.96x; np.add.at
            # is 10x slower (alternating steps, 2 cores); at tiny the dense model is the faster
            dw_ih_t = self.w_ih_t  # (V, 4H) scratch: the forward is done with it
            for v in range(V):
                np.sum(dg_flat[flat_tokens == v], axis=0, out=dw_ih_t[v])
            grads["lstm.weight_ih_l0"][...] = dw_ih_t.T
        else:
            np.matmul(dg_flat.T, self.x, out=grads["lstm.weight_ih_l0"])
        np.sum(dg_flat, axis=0, out=grads["lstm.bias_ih_l0"])
        grads["lstm.bias_hh_l0"][...] = grads["lstm.bias_ih_l0"]
        return loss, grads, (h[-1][None].copy(), c[-1][None].copy())

    def adam_step(self, grads: dict[str, np.ndarray], lr: float) -> None:
        """torch.optim.Adam's update with its defaults, in place on self.params."""
        for name, grad in grads.items():  # those of loss_and_grads are already in place
            if grad is not self.grads[name]:
                self.grads[name][...] = grad
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        self.step += 1
        bias_correction1 = 1.0 - beta1**self.step
        bias_correction2_sqrt = (1.0 - beta2**self.step) ** 0.5
        step_size = lr / bias_correction1
        param, grad, m, v, buf = (self.flat[b] for b in
                                  ("params", "grads", "exp_avg", "exp_avg_sq", "adam_buf"))
        m *= beta1  # m = beta1 * m + (1 - beta1) * grad
        np.multiply(grad, 1.0 - beta1, out=buf)
        m += buf
        v *= beta2  # v = beta2 * v + (1 - beta2) * grad**2
        np.multiply(grad, grad, out=buf)
        buf *= 1.0 - beta2
        v += buf
        np.sqrt(v, out=buf)  # denom = sqrt(v) / sqrt(bias_correction2) + eps
        buf /= bias_correction2_sqrt
        buf += eps
        np.divide(m, buf, out=buf)  # param -= step_size * m / denom
        buf *= step_size
        param -= buf

    def train_step(
        self,
        tokens: np.ndarray,
        targets: np.ndarray,
        lr: float,
        state: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
        """One truncated-BPTT window: loss, grads, Adam; returns (loss, (h_n, c_n))."""
        h0, c0 = (None, None) if state is None else state
        loss, grads, state = self.loss_and_grads(tokens, targets, h0, c0)
        self.adam_step(grads, lr)
        return loss, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--V", type=int, default=65, help="vocabulary size")
    parser.add_argument("--H", type=int, default=256, help="hidden size")
    parser.add_argument("--T", type=int, default=64, help="time steps per window")
    parser.add_argument("--B", type=int, default=32, help="batch size")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--gather", action="store_true",
                        help="input projection as a row gather instead of the one-hot matmul")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    model = HandLSTM(args.V, args.H, gather=args.gather)
    tokens = rng.integers(0, args.V, (args.T + 1, args.B))
    loss, state = model.train_step(tokens[:-1], tokens[1:], 1e-3)  # allocates the buffers
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        loss, state = model.train_step(tokens[:-1], tokens[1:], 1e-3, state)
        times.append(time.perf_counter() - start)
    ms = 1e3 * float(np.median(times))  # the median resists a noisy machine
    print(f"V={args.V} H={args.H} T={args.T} B={args.B}: {ms:.2f} ms/step, loss {loss:.4f}")


if __name__ == "__main__":
    main()
