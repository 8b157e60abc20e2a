"""Port of pytorch/tutorials beginner_source/basics/transforms_tutorial.py: FashionMNIST (the
synthetic stand-in of tests/ports/standins) with ToTensor, and labels made one-hot by a Lambda
around scatter_."""
# ruff: noqa: E501  (kept in the original program's style)
import tinygrad_lstm as torch
from standins import datasets
from standins.transforms import Lambda, ToTensor

ds = datasets.FashionMNIST(
    root="data",
    train=True,
    download=True,
    transform=ToTensor(),
    target_transform=Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1))
)

target_transform = Lambda(lambda y: torch.zeros(
    10, dtype=torch.float).scatter_(dim=0, index=torch.tensor(y), value=1))
