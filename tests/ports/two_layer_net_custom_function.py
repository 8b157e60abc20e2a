"""Port of pytorch/tutorials examples_autograd/two_layer_net_custom_function.py: a two-layer
ReLU network without biases whose ReLU is a custom autograd Function (MyReLU)."""
# ruff: noqa: UP004, UP008, UP015, B007, B008  (kept in the original program's style)
import tinygrad_lstm as torch


class MyReLU(torch.autograd.Function):
    """ReLU with a backward written by hand; forward and backward operate on Tensors."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


dtype = torch.float
device = torch.device("cpu")

# N is batch size; D_in is input dimension; H is hidden dimension; D_out is output dimension
N, D_in, H, D_out = 64, 1000, 100, 10

x = torch.randn(N, D_in, device=device, dtype=dtype)
y = torch.randn(N, D_out, device=device, dtype=dtype)

w1 = torch.randn(D_in, H, device=device, dtype=dtype, requires_grad=True)
w2 = torch.randn(H, D_out, device=device, dtype=dtype, requires_grad=True)

learning_rate = 1e-6
losses = []
for t in range(100):
    relu = MyReLU.apply

    y_pred = relu(x.mm(w1)).mm(w2)

    loss = (y_pred - y).pow(2).sum()
    losses.append(loss.item())

    loss.backward()

    with torch.no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad

        # zero the gradients after updating the weights
        w1.grad.zero_()
        w2.grad.zero_()
