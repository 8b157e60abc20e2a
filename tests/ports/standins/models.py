"""torchvision.models.vgg16's name and classifier head over a small input, without its
convolutions (out of this project's scope) or a download: `weights` gives a fixed seeded draw."""
import tinygrad_lstm as torch
from tinygrad_lstm import nn


class VGG(nn.Module):
    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.avgpool = nn.Flatten()  # stands for the convolutions and the pooling: (N, 3*8*8)
        self.classifier = nn.Sequential(
            nn.Linear(3 * 8 * 8, 64), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(64, 64), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(64, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(x))


def vgg16(weights=None, pretrained=False, **kwargs):
    if weights is not None or pretrained:
        state = torch.random.get_rng_state()
        torch.manual_seed(16)  # the "pretrained" weights: the same every time
        model = VGG(**kwargs)
        torch.random.set_rng_state(state)
        return model
    return VGG(**kwargs)


class ResNet(nn.Module):
    """resnet18's interface: images (N, 3, H, W) -> (N, 1000) through `fc`, here after a mean over
    the pixels and one Linear in place of the convolutions."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Linear(3, 512)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        return self.fc(self.relu(self.conv1(x.mean((2, 3)))))  # (N, 3) -> (N, 512) -> (N, 1000)


class ResNet18_Weights:
    DEFAULT = IMAGENET1K_V1 = "IMAGENET1K_V1"


def resnet18(weights=None, pretrained=False, **kwargs):
    if weights is not None or pretrained:
        state = torch.random.get_rng_state()
        torch.manual_seed(18)
        model = ResNet(**kwargs)
        torch.random.set_rng_state(state)
        return model
    return ResNet(**kwargs)
