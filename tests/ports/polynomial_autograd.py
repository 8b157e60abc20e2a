"""Port of pytorch/tutorials examples_autograd/polynomial_autograd.py: the cubic fit with
autograd computing the gradients and an in-place update under no_grad."""
# ruff: noqa: UP004, UP008, UP015, B007, B008  (kept in the original program's style)
import math

import tinygrad_lstm as torch

dtype = torch.float
device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print(f"Using {device} device")
torch.set_default_device(device)

# tensors for input and output; no gradients needed for them
x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
y = torch.sin(x)

# weights y = a + b x + c x^2 + d x^3, with requires_grad=True
a = torch.randn((), dtype=dtype, requires_grad=True)
b = torch.randn((), dtype=dtype, requires_grad=True)
c = torch.randn((), dtype=dtype, requires_grad=True)
d = torch.randn((), dtype=dtype, requires_grad=True)

learning_rate = 1e-6
losses = []
for t in range(300):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3

    loss = (y_pred - y).pow(2).sum()
    losses.append(loss.item())
    if t % 100 == 99:
        print(t, loss.item())

    # autograd fills a.grad, b.grad, c.grad, d.grad
    loss.backward()

    # update the weights in place; no_grad because they require grad
    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad

        # zero the gradients after updating
        a.grad = None
        b.grad = None
        c.grad = None
        d.grad = None

print(f'Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3')
