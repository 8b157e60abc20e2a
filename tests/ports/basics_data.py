"""Port of pytorch/tutorials beginner_source/basics/data_tutorial.py, the parts that need no
image files on disk: FashionMNIST (the synthetic stand-in of tests/ports/standins) indexed like a
list and shown with pyplot (a stand-in that records the arrays), then a shuffling DataLoader."""
# ruff: noqa: E402  (kept in the original program's style)
import tinygrad_lstm as torch
from standins import datasets
from standins import pyplot as plt
from standins.transforms import ToTensor
from tinygrad_lstm.utils.data import Dataset  # noqa: F401  (the custom data set, on files)

training_data = datasets.FashionMNIST(
    root="data",
    train=True,
    download=True,
    transform=ToTensor()
)

test_data = datasets.FashionMNIST(
    root="data",
    train=False,
    download=True,
    transform=ToTensor()
)

labels_map = {
    0: "T-Shirt",
    1: "Trouser",
    2: "Pullover",
    3: "Dress",
    4: "Coat",
    5: "Sandal",
    6: "Shirt",
    7: "Sneaker",
    8: "Bag",
    9: "Ankle Boot",
}
figure = plt.figure(figsize=(8, 8))
cols, rows = 3, 3
for i in range(1, cols * rows + 1):
    sample_idx = torch.randint(len(training_data), size=(1,)).item()
    img, label = training_data[sample_idx]
    figure.add_subplot(rows, cols, i)
    plt.title(labels_map[label])
    plt.axis("off")
    plt.imshow(img.squeeze(), cmap="gray")
plt.show()

# (the custom Dataset on image files and a CSV of labels is left out: it reads files from disk)

from tinygrad_lstm.utils.data import DataLoader

train_dataloader = DataLoader(training_data, batch_size=64, shuffle=True)
test_dataloader = DataLoader(test_data, batch_size=64, shuffle=True)

# Display image and label.
train_features, train_labels = next(iter(train_dataloader))
print(f"Feature batch shape: {train_features.size()}")
print(f"Labels batch shape: {train_labels.size()}")
img = train_features[0].squeeze()
label = train_labels[0]
plt.imshow(img, cmap="gray")
plt.show()
print(f"Label: {label}")
