"""Hand-written NumPy training step of a char-level LSTM, the baseline the engine is timed against.

One step: one-hot tokens -> nn.LSTM(V, H) -> nn.Linear(H, V) -> mean cross-entropy over the T*B
tokens, then torch.optim.Adam (betas (0.9, 0.999), eps 1e-8, no weight decay). Written for this
one model only: the input projection of all T*B one-hot inputs is hoisted into one matmul, the
four gates share one matmul per step, the work that does not depend on the recurrence (weight
gradients, the output layer, the loss) runs once over all T*B tokens, and the time loops write
into preallocated buffers.

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


def _sigmoid(a: np.ndarray, out: np.ndarray) -> None:
    """out = 1 / (1 + exp(-a)); measured faster here than the tanh form, 0.5 * tanh(a / 2) + 0.5.

    exp(-a) overflows to inf for very negative a, and 1 / (1 + inf) = 0 is the right limit:
    call it under np.errstate(over="ignore").
    """
    np.negative(a, out=out)
    np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)


class HandLSTM:
    """nn.LSTM(V, H) + nn.Linear(H, V) + cross-entropy + Adam, forward and BPTT by hand."""

    def __init__(self, V: int, H: int, dtype: DTypeLike = np.float32, seed: int = 0,
                 gather: bool = False):
        self.V, self.H, self.dtype, self.gather = V, H, np.dtype(dtype), gather
        self.eye = np.eye(V, dtype=self.dtype)  # one-hot rows
        rng = np.random.default_rng(seed)
        k = 1.0 / np.sqrt(H)  # PyTorch: LSTM and Linear(H, V) both draw from U(-1/sqrt(H), ..)
        shapes = {
            "lstm.weight_ih_l0": (4 * H, V),
            "lstm.weight_hh_l0": (4 * H, H),
            "lstm.bias_ih_l0": (4 * H,),
            "lstm.bias_hh_l0": (4 * H,),
            "fc.weight": (V, H),
            "fc.bias": (V,),
        }
        self.params = {n: rng.uniform(-k, k, s).astype(self.dtype) for n, s in shapes.items()}
        self.exp_avg = {n: np.zeros_like(p) for n, p in self.params.items()}
        self.exp_avg_sq = {n: np.zeros_like(p) for n, p in self.params.items()}
        self.adam_buf = {n: np.empty_like(p) for n, p in self.params.items()}
        self.step = 0
        self._buffers_shape = None

    def _buffers(self, T: int, B: int) -> None:
        """Allocate the activations of a (T, B) window once and reuse them across steps."""
        if self._buffers_shape == (T, B):
            return
        H, dt = self.H, self.dtype
        self.gates = np.empty((T, B, 4 * H), dt)  # activated i, f, g, o
        self.h = np.empty((T + 1, B, H), dt)  # h[0] = h0, h[t + 1] = h_t
        self.c = np.empty((T + 1, B, H), dt)
        self.tanh_c = np.empty((T, B, H), dt)
        self.dgates = np.empty((T, B, 4 * H), dt)  # gradient wrt the gate pre-activations
        self.tmp, self.one_minus = np.empty((B, H), dt), np.empty((B, 4 * H), dt)
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
        """Mean cross-entropy, its gradients by parameter name, and the final (h_n, c_n)."""
        tokens, targets = self._check(tokens, targets, h0, c0)
        T, B = tokens.shape
        H, V, N = self.H, self.V, T * B
        self._buffers(T, B)
        p = self.params
        w_ih, w_hh = p["lstm.weight_ih_l0"], p["lstm.weight_hh_l0"]
        w_fc, b_fc = p["fc.weight"], p["fc.bias"]
        gates, h, c, tanh_c, dgates = self.gates, self.h, self.c, self.tanh_c, self.dgates
        tmp, one_minus = self.tmp, self.one_minus
        # column blocks of the gates, in PyTorch's order i, f, g, o
        I_, F_, G_, O_ = (slice(k * H, (k + 1) * H) for k in range(4))
        IF_ = slice(0, 2 * H)  # i and f are adjacent: one sigmoid call for both

        # forward: the input projection of every time step at once, both biases folded in
        if self.gather:  # one-hot @ W_ih.T picks rows of a contiguous copy of W_ih.T
            table = np.ascontiguousarray(w_ih.T)  # (V, 4H)
            table += p["lstm.bias_ih_l0"] + p["lstm.bias_hh_l0"]
            xw = table[tokens]  # (T, B, 4H)
        else:
            x = self.eye[tokens].reshape(N, V)  # (T*B, V) one-hot
            xw = np.dot(x, w_ih.T).reshape(T, B, 4 * H)  # np.dot: BLAS for any layout
            xw += p["lstm.bias_ih_l0"] + p["lstm.bias_hh_l0"]
        w_hh_t = np.ascontiguousarray(w_hh.T)  # (H, 4H)
        h[0] = 0.0 if h0 is None else h0[0]
        c[0] = 0.0 if c0 is None else c0[0]
        with np.errstate(over="ignore"):
            for t in range(T):
                a = gates[t]
                np.matmul(h[t], w_hh_t, out=a)
                a += xw[t]  # (B, 4H) pre-activations, then activated in place
                _sigmoid(a[:, IF_], a[:, IF_])
                np.tanh(a[:, G_], out=a[:, G_])
                _sigmoid(a[:, O_], a[:, O_])
                np.multiply(a[:, F_], c[t], out=c[t + 1])
                np.multiply(a[:, I_], a[:, G_], out=tmp)
                c[t + 1] += tmp  # c_t = f * c_{t-1} + i * g
                np.tanh(c[t + 1], out=tanh_c[t])
                np.multiply(a[:, O_], tanh_c[t], out=h[t + 1])
        hs = h[1:].reshape(N, H)
        logits = hs @ w_fc.T  # (N, V)
        logits += b_fc
        logits -= logits.max(axis=1, keepdims=True)  # subtract max for stability
        rows, cols = np.arange(N), targets.reshape(N)
        target_logits = logits[rows, cols]  # fancy indexing copies, before exp overwrites
        probs = np.exp(logits, out=logits)
        sums = probs.sum(axis=1)
        loss = float(np.mean(np.log(sums) - target_logits))

        # backward of the mean cross-entropy: (softmax - onehot) / N
        dlogits = probs
        dlogits *= (1.0 / sums)[:, None] / N
        dlogits[rows, cols] -= 1.0 / N
        grads = {"fc.weight": dlogits.T @ hs, "fc.bias": dlogits.sum(axis=0)}
        dhs = (dlogits @ w_fc).reshape(T, B, H)

        # BPTT. dhs[t] becomes dh in place; dc_next carries the cell gradient back in time.
        dhnext = np.zeros((B, H), self.dtype)
        dc_next = np.zeros((B, H), self.dtype)
        for t in reversed(range(T)):
            dh = dhs[t]
            dh += dhnext
            a, d = gates[t], dgates[t]
            i, f, g, o = a[:, I_], a[:, F_], a[:, G_], a[:, O_]
            # dc = dc_next + dh * o * (1 - tanh_c**2)
            np.multiply(tanh_c[t], tanh_c[t], out=tmp)
            np.subtract(1.0, tmp, out=tmp)
            tmp *= o
            tmp *= dh
            dc_next += tmp
            dc = dc_next
            # raw gate gradients: sigmoid' = s * (1 - s), tanh' = 1 - g**2
            np.multiply(dh, tanh_c[t], out=d[:, O_])  # do
            np.multiply(dc, g, out=d[:, I_])  # di
            np.multiply(dc, c[t], out=d[:, F_])  # df
            np.multiply(dc, i, out=d[:, G_])  # dg
            np.multiply(g, g, out=tmp)
            np.subtract(1.0, tmp, out=tmp)
            d[:, G_] *= tmp
            np.subtract(1.0, a, out=one_minus)  # its g block goes unused
            d[:, IF_] *= a[:, IF_]
            d[:, IF_] *= one_minus[:, IF_]
            d[:, O_] *= o
            d[:, O_] *= one_minus[:, O_]
            dc *= f  # dc_next for step t - 1
            np.matmul(d, w_hh, out=dhnext)
        dg_flat = dgates.reshape(N, 4 * H)
        grads["lstm.weight_hh_l0"] = dg_flat.T @ h[:-1].reshape(N, H)
        if self.gather:
            # row v of dW_ih.T is the sum of the gate gradients at token v; for a character
            # vocabulary this loop beats np.add.at (10x) and the one-hot matmul
            flat = tokens.reshape(N)
            dw_ih_t = np.empty((V, 4 * H), self.dtype)
            for v in range(V):
                np.sum(dg_flat[flat == v], axis=0, out=dw_ih_t[v])
            grads["lstm.weight_ih_l0"] = dw_ih_t.T
        else:
            grads["lstm.weight_ih_l0"] = np.dot(dg_flat.T, x)
        grads["lstm.bias_ih_l0"] = dg_flat.sum(axis=0)
        grads["lstm.bias_hh_l0"] = grads["lstm.bias_ih_l0"].copy()
        return loss, grads, (h[-1][None].copy(), c[-1][None].copy())

    def adam_step(self, grads: dict[str, np.ndarray], lr: float) -> None:
        """torch.optim.Adam's update with its defaults, in place on self.params."""
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        self.step += 1
        bias_correction1 = 1.0 - beta1**self.step
        bias_correction2_sqrt = (1.0 - beta2**self.step) ** 0.5
        step_size = lr / bias_correction1
        for name, param in self.params.items():
            grad, m, v = grads[name], self.exp_avg[name], self.exp_avg_sq[name]
            buf = self.adam_buf[name]
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
