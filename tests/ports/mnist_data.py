"""A stand-in for torchvision in the MNIST ports: `datasets.MNIST` gives (image, label) pairs of
MNIST's shapes and dtypes (28 x 28 uint8 images, int labels; 192 for training, 64 for testing),
`transforms` the few the examples use, and `save_image` records what it was given. The images
are a blob whose place depends on the digit, with noise, so that the labels can be learned."""
import numpy as np

import tinygrad_lstm as torch
from standins.transforms import Compose, Lambda  # torchvision's, as the basics ports use them


class MNIST:
    def __init__(self, root, train=True, download=False, transform=None):
        n = 192 if train else 64
        rng = np.random.default_rng(0 if train else 1)
        self.targets = rng.integers(0, 10, n)
        yy, xx = np.mgrid[:28, :28]
        images = []
        for t in self.targets:
            cy, cx = 6 + 4 * (t % 5), 8 + 12 * (t // 5)
            image = 255 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 12.0)
            images.append(np.clip(image + rng.uniform(0, 40, (28, 28)), 0, 255))
        self.data = np.stack(images).astype(np.uint8)
        self.transform = transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        image = self.data[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])


class ToTensor:
    """(28, 28) uint8 -> (1, 28, 28) float32 in [0, 1]."""

    def __call__(self, image):
        return torch.from_numpy(image[None].astype(np.float32) / 255)


class Normalize:
    def __init__(self, mean, std):
        self.mean, self.std = mean, std

    def __call__(self, x):
        return (x - self.mean[0]) / self.std[0]


class datasets:
    MNIST = MNIST


class transforms:
    ToTensor, Normalize, Compose, Lambda = ToTensor, Normalize, Compose, Lambda


saved_images = []


def save_image(tensor, fp, nrow=8):
    saved_images.append((fp, tuple(tensor.shape), nrow))
