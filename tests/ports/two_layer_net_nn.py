"""Port of pytorch/tutorials examples_nn/two_layer_net_nn.py: nn.Sequential(Linear, ReLU,
Linear), a summed MSE loss, and a manual in-place update of every parameter."""
# ruff: noqa: UP004, UP008, UP015, B007, B008  (kept in the original program's style)
import tinygrad_lstm as torch

# N is batch size; D_in is input dimension; H is hidden dimension; D_out is output dimension
N, D_in, H, D_out = 64, 1000, 100, 10

x = torch.randn(N, D_in)
y = torch.randn(N, D_out)

model = torch.nn.Sequential(
    torch.nn.Linear(D_in, H),
    torch.nn.ReLU(),
    torch.nn.Linear(H, D_out),
)

loss_fn = torch.nn.MSELoss(reduction='sum')

learning_rate = 1e-4
losses = []
for t in range(100):
    y_pred = model(x)

    loss = loss_fn(y_pred, y)
    losses.append(loss.item())

    # zero the gradients before the backward pass
    model.zero_grad()

    loss.backward()

    # each parameter is a Tensor: a gradient descent step on it, in place
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad
