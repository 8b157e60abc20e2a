"""FashionMNIST's shape without the download: 28x28 uint8 images and int labels 0..9. Each class
lights its own band of rows, so a classifier can learn it."""
import numpy as np

import tinygrad_lstm as torch
from tinygrad_lstm.utils.data import Dataset


class FashionMNIST(Dataset):
    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        n = 640 if train else 160
        rng = np.random.default_rng(0 if train else 1)
        targets = rng.integers(0, 10, n)
        data = rng.integers(0, 64, (n, 28, 28)).astype(np.uint8)  # (N, 28, 28)
        for image, label in zip(data, targets):
            image[2 + 2 * label:5 + 2 * label] += 191  # class k: rows 2k+2 .. 2k+4 brighter
        self.data, self.targets = torch.from_numpy(data), torch.from_numpy(targets)
        self.transform, self.target_transform = transform, target_transform

    def __getitem__(self, index):  # as torchvision's: the image as the PIL image's array
        img, target = self.data[index].numpy(), int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)
