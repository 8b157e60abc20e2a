"""torchvision.transforms' ToTensor, Lambda and Compose, as torchvision writes them."""
import numpy as np

import tinygrad_lstm as torch


class ToTensor:
    """An (H, W) or (H, W, C) uint8 image -> a float32 (C, H, W) tensor in [0, 1]."""

    def __call__(self, pic):
        img = torch.from_numpy(np.array(pic, copy=True))
        img = img.view(pic.shape[0], pic.shape[1], -1).permute((2, 0, 1)).contiguous()
        return img.to(dtype=torch.get_default_dtype()).div(255)


class Lambda:
    def __init__(self, lambd):
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)


class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img
