"""Port of the earlier versions of pytorch/tutorials beginner_source/blitz/autograd_tutorial.py:
x + 2, y * y * 3, mean, backward to a matrix of 4.5; requires_grad_; a loop that doubles until
the norm of .data passes 1000, then backward with a given gradient; no_grad. And the first
version's Variable and FloatTensor."""
# ruff: noqa: E101, E402, W191  (kept in the original program's style)
import tinygrad_lstm as torch

x = torch.ones(2, 2, requires_grad=True)
print(x)

y = x + 2
print(y)

print(y.grad_fn)

z = y * y * 3
out = z.mean()

print(z, out)

a = torch.randn(2, 2)
a = ((a * 3) / (a - 1))
print(a.requires_grad)
a.requires_grad_(True)
print(a.requires_grad)
b = (a * a).sum()
print(b.grad_fn)

out.backward()

print(x.grad)

x = torch.randn(3, requires_grad=True)

y = x * 2
while y.data.norm() < 1000:
    y = y * 2

print(y)

gradients = torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float)
y.backward(gradients)

print(x.grad)

print(x.requires_grad)
print((x ** 2).requires_grad)

with torch.no_grad():
	print((x ** 2).requires_grad)

# the first version: Variable
from tinygrad_lstm.autograd import Variable

v = Variable(torch.ones(2, 2), requires_grad=True)
w = v + 2
out_v = (w * w * 3).mean()
out_v.backward()
print(v.grad)

v2 = torch.randn(3)
v2 = Variable(v2, requires_grad=True)

w2 = v2 * 2
while w2.data.norm() < 1000:
    w2 = w2 * 2

gradients_v = torch.FloatTensor([0.1, 1.0, 0.0001])
w2.backward(gradients_v)

print(v2.grad)
