"""Port of pytorch/tutorials beginner_source/nlp/deep_learning_tutorial.py: affine maps,
nonlinearities, softmax, and a bag-of-words logistic regression (Spanish vs English)."""
# ruff: noqa: UP004, UP008, UP015, B007, B008  (kept in the original program's style)
import tinygrad_lstm as torch
import tinygrad_lstm.nn as nn
import tinygrad_lstm.nn.functional as F
import tinygrad_lstm.optim as optim

torch.manual_seed(1)

lin = nn.Linear(5, 3)  # maps R^5 to R^3, parameters A, b
data = torch.randn(2, 5)
print(lin(data))

data = torch.randn(2, 2)
print(data)
print(F.relu(data))

data = torch.randn(5)
print(F.softmax(data, dim=0))
print(F.softmax(data, dim=0).sum())  # sums to 1
print(F.log_softmax(data, dim=0))

# our own tiny corpus: (words, language)
data = [("yo como pan en la casa".split(), "SPANISH"),
        ("give it to me now".split(), "ENGLISH"),
        ("no creo que sea una casa".split(), "SPANISH"),
        ("it is not a good idea to get lost".split(), "ENGLISH")]
test_data = [("yo creo que si".split(), "SPANISH"),
             ("it is lost on me".split(), "ENGLISH")]

# word_to_ix maps each word in the vocab to a unique integer
word_to_ix = {}
for sent, _ in data + test_data:
    for word in sent:
        if word not in word_to_ix:
            word_to_ix[word] = len(word_to_ix)

VOCAB_SIZE = len(word_to_ix)
NUM_LABELS = 2


class BoWClassifier(nn.Module):
    def __init__(self, num_labels, vocab_size):
        super(BoWClassifier, self).__init__()
        self.linear = nn.Linear(vocab_size, num_labels)

    def forward(self, bow_vec):
        return F.log_softmax(self.linear(bow_vec), dim=1)


def make_bow_vector(sentence, word_to_ix):
    vec = torch.zeros(len(word_to_ix))
    for word in sentence:
        vec[word_to_ix[word]] += 1
    return vec.view(1, -1)


def make_target(label, label_to_ix):
    return torch.LongTensor([label_to_ix[label]])


model = BoWClassifier(NUM_LABELS, VOCAB_SIZE)
for param in model.parameters():
    print(param)

with torch.no_grad():
    sample = data[0]
    bow_vector = make_bow_vector(sample[0], word_to_ix)
    log_probs = model(bow_vector)
    print(log_probs)

label_to_ix = {"SPANISH": 0, "ENGLISH": 1}

with torch.no_grad():
    test_log_probs_before = [model(make_bow_vector(inst, word_to_ix)) for inst, _ in test_data]
creo_before = next(model.parameters())[:, word_to_ix["creo"]].clone()

loss_function = nn.NLLLoss()
optimizer = optim.SGD(model.parameters(), lr=0.1)

losses = []
for epoch in range(100):
    total = 0.0
    for instance, label in data:
        model.zero_grad()
        bow_vec = make_bow_vector(instance, word_to_ix)
        target = make_target(label, label_to_ix)
        log_probs = model(bow_vec)
        loss = loss_function(log_probs, target)
        loss.backward()
        optimizer.step()
        total += loss.item()
    losses.append(total)

with torch.no_grad():
    test_log_probs = [model(make_bow_vector(inst, word_to_ix)) for inst, _ in test_data]
    for log_probs in test_log_probs:
        print(log_probs)

creo_after = next(model.parameters())[:, word_to_ix["creo"]]
print(creo_before, creo_after)
