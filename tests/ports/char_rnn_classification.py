"""Port of pytorch/tutorials intermediate_source/char_rnn_classification_tutorial.py: names
to one-hot tensors, a Dataset, random_split, an nn.RNN classifier trained in mini-batches of
summed losses, and a confusion matrix. Synthetic names stand in for the downloaded files."""
# ruff: noqa: UP004, UP008, UP015, B007, B008  (kept in the original program's style)
import random
import string
import time

import numpy as np
import tinygrad_lstm as torch
import tinygrad_lstm.nn as nn
from tinygrad_lstm.utils.data import Dataset

device = torch.device('cpu')
if torch.cuda.is_available():
    device = torch.device('cuda')
torch.set_default_device(device)

# "_" stands for any character the model does not handle
allowed_characters = string.ascii_letters + " .,;'" + "_"
n_letters = len(allowed_characters)


def letterToIndex(letter):
    if letter not in allowed_characters:
        return allowed_characters.find("_")
    return allowed_characters.find(letter)


# a line as a <line_length x 1 x n_letters> tensor of one-hot letter vectors
def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor


# three made-up "languages", each with its own letters and endings
random.seed(0)
LANGS = {"Alpha": ("aeiklm", "ski"), "Beta": ("ortuvz", "ov"), "Gamma": ("bdhnps", "ez")}
NAMES = {lang: ["".join(random.choice(letters) for _ in range(random.randint(2, 5))).title()
                + ending for _ in range(20)] for lang, (letters, ending) in LANGS.items()}


class NamesDataset(Dataset):

    def __init__(self, names):
        self.load_time = time.localtime  # for provenance of the dataset
        labels_set = set()
        self.data, self.data_tensors, self.labels, self.labels_tensors = [], [], [], []
        for label, lines in names.items():
            labels_set.add(label)
            for name in lines:
                self.data.append(name)
                self.data_tensors.append(lineToTensor(name))
                self.labels.append(label)
        self.labels_uniq = sorted(labels_set)
        for idx in range(len(self.labels)):
            temp_tensor = torch.tensor([self.labels_uniq.index(self.labels[idx])], dtype=torch.long)
            self.labels_tensors.append(temp_tensor)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, idx):
        return self.labels_tensors[idx], self.data_tensors[idx], self.labels[idx], self.data[idx]


alldata = NamesDataset(NAMES)
train_set, test_set = torch.utils.data.random_split(
    alldata, [.85, .15], generator=torch.Generator(device=device).manual_seed(2024))


class CharRNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(CharRNN, self).__init__()
        self.rnn = nn.RNN(input_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, line_tensor):
        rnn_out, hidden = self.rnn(line_tensor)
        output = self.h2o(hidden[0])
        output = self.softmax(output)
        return output


n_hidden = 32
rnn = CharRNN(n_letters, n_hidden, len(alldata.labels_uniq))


def label_from_output(output, output_labels):
    top_n, top_i = output.topk(1)
    label_i = top_i[0].item()
    return output_labels[label_i], label_i


def train(rnn, training_data, n_epoch=10, n_batch_size=64, report_every=50, learning_rate=0.2,
          criterion=nn.NLLLoss()):
    current_loss = 0
    all_losses = []
    rnn.train()
    optimizer = torch.optim.SGD(rnn.parameters(), lr=learning_rate)
    for iter in range(1, n_epoch + 1):
        rnn.zero_grad()
        # mini-batches by hand: the names have different lengths
        batches = list(range(len(training_data)))
        random.shuffle(batches)
        batches = np.array_split(batches, len(batches) // n_batch_size)
        for idx, batch in enumerate(batches):
            batch_loss = 0
            for i in batch:
                (label_tensor, text_tensor, label, text) = training_data[i]
                output = rnn.forward(text_tensor)
                loss = criterion(output, label_tensor)
                batch_loss += loss
            batch_loss.backward()
            nn.utils.clip_grad_norm_(rnn.parameters(), 3)
            optimizer.step()
            optimizer.zero_grad()
            current_loss += batch_loss.item() / len(batch)
        all_losses.append(current_loss / len(batches))
        if iter % report_every == 0:
            print(f"{iter} ({iter / n_epoch:.0%}): \t average batch loss = {all_losses[-1]}")
        current_loss = 0
    return all_losses


losses = train(rnn, train_set, n_epoch=12, n_batch_size=8, learning_rate=0.15, report_every=4)


def evaluate(rnn, testing_data, classes):
    confusion = torch.zeros(len(classes), len(classes))
    rnn.eval()
    with torch.no_grad():
        for i in range(len(testing_data)):
            (label_tensor, text_tensor, label, text) = testing_data[i]
            output = rnn(text_tensor)
            guess, guess_i = label_from_output(output, classes)
            label_i = classes.index(label)
            confusion[label_i][guess_i] += 1
    # normalize by dividing every row by its sum
    for i in range(len(classes)):
        denom = confusion[i].sum()
        if denom > 0:
            confusion[i] = confusion[i] / denom
    return confusion


confusion = evaluate(rnn, test_set, classes=alldata.labels_uniq)
print(confusion)
