"""Port of pytorch/tutorials beginner_source/nlp/pytorch_tutorial.py: creating tensors,
indexing, operations, cat, view, and the computation graph behind requires_grad."""
# ruff: noqa: UP004, UP008, UP015, B007, B008  (kept in the original program's style)
import tinygrad_lstm as torch

torch.manual_seed(1)

# creating tensors from lists
V_data = [1., 2., 3.]
V = torch.tensor(V_data)
M_data = [[1., 2., 3.], [4., 5., 6]]
M = torch.tensor(M_data)
T_data = [[[1., 2.], [3., 4.]],
          [[5., 6.], [7., 8.]]]
T = torch.tensor(T_data)
print(V, M, T)

# indexing: a scalar, a vector, a matrix
print(V[0], V[0].item(), M[0], T[0])

x = torch.randn((3, 4, 5))
print(x)

# operations
x = torch.tensor([1., 2., 3.])
y = torch.tensor([4., 5., 6.])
z = x + y
print(z)

# concatenation: rows by default, columns with the second argument
x_1 = torch.randn(2, 5)
y_1 = torch.randn(3, 5)
z_1 = torch.cat([x_1, y_1])
x_2 = torch.randn(2, 3)
y_2 = torch.randn(2, 5)
z_2 = torch.cat([x_2, y_2], 1)
print(z_1, z_2)

# reshaping
x = torch.randn(2, 3, 4)
print(x.view(2, 12))
print(x.view(2, -1))

# computation graphs and automatic differentiation
x = torch.tensor([1., 2., 3], requires_grad=True)
y = torch.tensor([4., 5., 6], requires_grad=True)
z = x + y
print(z)
print(z.grad_fn)

s = z.sum()
print(s)
print(s.grad_fn)

s.backward()
print(x.grad)

x = torch.randn(2, 2)
y = torch.randn(2, 2)
print(x.requires_grad, y.requires_grad)
z = x + y
print(z.grad_fn)

x = x.requires_grad_()
y = y.requires_grad_()
z = x + y
print(z.grad_fn)
print(z.requires_grad)

new_z = z.detach()
print(new_z.grad_fn)

print(x.requires_grad)
print((x ** 2).requires_grad)

with torch.no_grad():
    print((x ** 2).requires_grad)
