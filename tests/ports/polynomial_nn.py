"""Port of pytorch/tutorials examples_nn/polynomial_nn.py: the cubic fit as
nn.Sequential(Linear(3, 1), Flatten(0, 1)) on the features (x, x^2, x^3), manual SGD."""
# ruff: noqa: UP004, UP008, UP015, B007, B008  (kept in the original program's style)
import math

import tinygrad_lstm as torch

x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)

# the features (x, x^2, x^3): (2000, 1) ** (3,) broadcasts to (2000, 3)
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)

model = torch.nn.Sequential(
    torch.nn.Linear(3, 1),
    torch.nn.Flatten(0, 1)
)
loss_fn = torch.nn.MSELoss(reduction='sum')

learning_rate = 1e-6
losses = []
for t in range(300):
    y_pred = model(xx)

    loss = loss_fn(y_pred, y)
    losses.append(loss.item())
    if t % 100 == 99:
        print(t, loss.item())

    model.zero_grad()

    loss.backward()

    # each parameter is a Tensor: update it in place with its gradient
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad

linear_layer = model[0]
print(f'Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + '
      f'{linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3')
