"""Stand-ins for what the basics tutorials import from torchvision and matplotlib, neither of
which is installed here: FashionMNIST as a small synthetic data set of the same item shapes and
dtypes, ToTensor as torchvision writes it, and a pyplot that only records what it is shown."""
