"""Derivatives of derivatives: tanh's first four, a Hessian-vector product, a gradient penalty.

    python examples/higher_order.py                 # writes out/higher_order/tanh.png
    python examples/higher_order.py --out /tmp/hof --steps 50

Three uses of `create_graph=True`, which records a gradient so it can be differentiated again:

1. tanh and its first four derivatives on [-7, 7], each the gradient of the one before (the
   picture of HIPS autograd's README), checked against their closed forms;
2. the Hessian-vector product of a small MLP's loss (`autograd.functional.hvp`, by the
   double-vjp trick) against central differences of the gradient along v;
3. a WGAN-GP critic (Gulrajani et al. 2017) trained for a few Adam steps: its loss has the
   penalty lambda * (||d critic / d x_hat|| - 1)^2 at points x_hat between real and fake
   samples, so each step differentiates a gradient.
"""

import os

# The matmuls here are small: OpenBLAS's threads cost more than they give at this size, and
# slow down many times over when another process holds a core. Set OPENBLAS_NUM_THREADS
# yourself to override (it must be set before NumPy loads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys

import numpy as np

import tinygrad_lstm as tl
from tinygrad_lstm import Tensor, nn, optim
from tinygrad_lstm.autograd import functional as AF
from tinygrad_lstm.autograd import grad

from char_checks import number  # beside this file: the examples' checked flag types


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line on stderr and exit 2, not argparse's usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


# ---------------------------------------------------------------- 1. tanh, four times over


def tanh_derivatives(x: np.ndarray, n: int = 4) -> list[np.ndarray]:
    """[tanh(x), tanh'(x), ..., tanh^(n)(x)]: each the gradient of the one before, recorded."""
    x = Tensor(x, requires_grad=True)
    y, curves = x.tanh(), []
    for _ in range(n):
        curves.append(y.detach().numpy())
        (y,) = grad(y.sum(), x, create_graph=True)  # elementwise: the sum's gradient is y'
    return curves + [y.detach().numpy()]


def tanh_closed_forms(x: np.ndarray) -> list[np.ndarray]:
    t = np.tanh(x)
    s = 1 - t * t  # sech^2
    return [t, s, -2 * t * s, -2 * s * s + 4 * t * t * s, 16 * t * s * s - 8 * t ** 3 * s]


def plot_curves(x: np.ndarray, curves: list, path: str) -> str | None:
    """The curves in one picture, with matplotlib if it is installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, y in enumerate(curves):
        ax.plot(x, y, label="tanh" if k == 0 else f"derivative {k}")
    ax.set(xlabel="x", title="tanh and its first four derivatives (create_graph=True)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- 2. Hessian-vector product


def hvp_check(seed: int, eps: float = 1e-6) -> dict:
    """H v of an MLP's loss in its first-layer weight, by hvp and by central differences of the
    gradient: (g(w + eps v) - g(w - eps v)) / 2eps."""
    rng = np.random.default_rng(seed)
    data, target = Tensor(rng.standard_normal((8, 3))), Tensor(rng.standard_normal((8, 1)))
    w2 = Tensor(rng.standard_normal((4, 1)))
    w, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))  # float64

    def loss(w1: Tensor) -> Tensor:
        return (((data @ w1).tanh() @ w2 - target) ** 2).mean()

    def gradient(w1: np.ndarray) -> np.ndarray:
        p = Tensor(w1, requires_grad=True)
        return grad(loss(p), p)[0].numpy()

    _, hv = AF.hvp(loss, Tensor(w), Tensor(v))  # (3, 4)
    numerical = (gradient(w + eps * v) - gradient(w - eps * v)) / (2 * eps)
    return {"hvp": hv.numpy(), "numerical": numerical,
            "max_abs_diff": float(np.abs(hv.numpy() - numerical).max())}


# ---------------------------------------------------------------- 3. a gradient penalty


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP: mean over x_hat = a real + (1 - a) fake of (||d critic(x_hat) / d x_hat|| - 1)^2.
    Shape: real, fake: (N, D) -> ()."""
    a = tl.rand(real.shape[0], 1)  # (N, 1)
    x_hat = (a * real + (1 - a) * fake).requires_grad_()  # (N, D)
    (g,) = grad(critic(x_hat).sum(), x_hat, create_graph=True)  # (N, D), recorded
    return ((g.norm(dim=1) - 1) ** 2).mean()


def train_critic(steps: int, lr: float, lam: float, batch: int, seed: int, say) -> dict:
    """A critic learns to tell points on the unit circle (real) from a Gaussian blob (fake)."""
    tl.manual_seed(seed)
    rng = np.random.default_rng(seed)
    critic = nn.Sequential(nn.Linear(2, 32), nn.SiLU(), nn.Linear(32, 32), nn.Tanh(),
                           nn.Linear(32, 1))  # smooth: the penalty needs a second derivative
    optimizer = optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.9))
    penalties, distances = [], []
    for step in range(steps):
        angle = rng.uniform(0, 2 * np.pi, batch)
        real = Tensor(np.stack([np.cos(angle), np.sin(angle)], 1).astype(np.float32))  # (N, 2)
        fake = Tensor((0.3 * rng.standard_normal((batch, 2))).astype(np.float32))  # (N, 2)
        distance = critic(real).mean() - critic(fake).mean()  # the Wasserstein estimate
        penalty = gradient_penalty(critic, real, fake)
        loss = -distance + lam * penalty
        optimizer.zero_grad()
        loss.backward()  # through the recorded gradient into the critic's weights
        optimizer.step()
        penalties.append(penalty.item())
        distances.append(distance.item())
        if step % max(1, steps // 5) == 0 or step == steps - 1:
            say(f"  step {step:3d}  critic distance {distances[-1]:7.4f}  "
                f"gradient penalty {penalties[-1]:.4f}")
    return {"penalties": penalties, "distances": distances}


# ---------------------------------------------------------------- main


def main(argv=None) -> dict:
    p = Parser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join("out", "higher_order"),
                   help="directory for tanh.png")
    p.add_argument("--points", type=number(int, 2), default=400, help="grid points on [-7, 7]")
    p.add_argument("--steps", type=number(int, 1), default=30, help="critic training steps")
    p.add_argument("--batch", type=number(int, 1), default=64,
                   help="real and fake samples per step")
    p.add_argument("--lr", type=number(float, 0, 1, low_open=True), default=1e-3,
                   help="Adam learning rate of the critic")
    p.add_argument("--gp-lambda", type=number(float, 0, 1e6), default=10.0,
                   help="weight of the penalty")
    p.add_argument("--seed", type=number(int, 0, 2**32 - 1), default=0, help="random seed")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    args = p.parse_args(argv)
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        p.error(f"--out {args.out}: {e.strerror}")
    say = (lambda *a, **k: None) if args.quiet else print

    # 1. tanh and four derivatives
    x = np.linspace(-7, 7, args.points)
    curves = tanh_derivatives(x)
    error = max(float(np.abs(c - t).max()) for c, t in zip(curves, tanh_closed_forms(x)))
    png = plot_curves(x, curves, os.path.join(args.out, "tanh.png"))
    say(f"tanh and 4 derivatives on [-7, 7]; largest difference from the closed forms {error:.1e}")
    if png:
        say(f"  plotted into {png}")
    else:
        say("  matplotlib is not installed, so no picture; at x = -1, 0, 1:")
        for k, c in enumerate(curves):
            say(f"  derivative {k}: " + "  ".join(f"{np.interp(u, x, c):+.4f}" for u in (-1, 0, 1)))

    # 2. H v against finite differences of the gradient
    hv = hvp_check(args.seed)
    say(f"\nHessian-vector product of an MLP loss (3x4 weight): hvp[0] = "
        f"{np.array2string(hv['hvp'][0], precision=5)}")
    say(f"  central differences of the gradient:          "
        f"{np.array2string(hv['numerical'][0], precision=5)}")
    say(f"  largest difference {hv['max_abs_diff']:.1e}")

    # 3. a critic with a gradient penalty
    say(f"\nWGAN-GP critic, {args.steps} Adam steps (lambda = {args.gp_lambda:g}):")
    critic = train_critic(args.steps, args.lr, args.gp_lambda, args.batch, args.seed, say)
    return {"x": x, "curves": curves, "tanh_error": error, "png": png, **hv, **critic}


if __name__ == "__main__":
    out = main()
    sys.exit(0 if out["tanh_error"] < 1e-10 and out["max_abs_diff"] < 1e-6
             and np.isfinite(out["penalties"]).all() else 1)
