"""Port of pytorch/tutorials beginner_source/nlp/sequence_models_tutorial.py: nn.LSTM stepped
and run whole, then an LSTM part-of-speech tagger trained on two sentences."""
# ruff: noqa: UP004, UP008, UP015, B007, B008  (kept in the original program's style)
import tinygrad_lstm as torch
import tinygrad_lstm.nn as nn
import tinygrad_lstm.nn.functional as F
import tinygrad_lstm.optim as optim

torch.manual_seed(1)

lstm = nn.LSTM(3, 3)  # input dim 3, output dim 3
inputs = [torch.randn(1, 3) for _ in range(5)]  # a sequence of length 5

# step through the sequence one element at a time
hidden0 = (torch.randn(1, 1, 3), torch.randn(1, 1, 3))
hidden = hidden0
for i in inputs:
    out, hidden = lstm(i.view(1, 1, -1), hidden)
stepped_hidden = hidden

# or the entire sequence at once: out holds every hidden state, hidden the last one
inputs = torch.cat(inputs).view(len(inputs), 1, -1)
out, hidden = lstm(inputs, hidden0)
print(out)
print(hidden)


def prepare_sequence(seq, to_ix):
    idxs = [to_ix[w] for w in seq]
    return torch.tensor(idxs, dtype=torch.long)


training_data = [
    ("The dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
    ("Everybody read that book".split(), ["NN", "V", "DET", "NN"])
]
word_to_ix = {}
for sent, tags in training_data:
    for word in sent:
        if word not in word_to_ix:
            word_to_ix[word] = len(word_to_ix)
print(word_to_ix)
tag_to_ix = {"DET": 0, "NN": 1, "V": 2}

EMBEDDING_DIM = 6
HIDDEN_DIM = 6


class LSTMTagger(nn.Module):

    def __init__(self, embedding_dim, hidden_dim, vocab_size, tagset_size):
        super(LSTMTagger, self).__init__()
        self.hidden_dim = hidden_dim

        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)

        # the LSTM maps word embeddings to hidden states of size hidden_dim
        self.lstm = nn.LSTM(embedding_dim, hidden_dim)

        # the linear layer maps hidden states to tag space
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)
        lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
        tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
        tag_scores = F.log_softmax(tag_space, dim=1)
        return tag_scores


model = LSTMTagger(EMBEDDING_DIM, HIDDEN_DIM, len(word_to_ix), len(tag_to_ix))
loss_function = nn.NLLLoss()
optimizer = optim.SGD(model.parameters(), lr=0.1)

with torch.no_grad():
    inputs = prepare_sequence(training_data[0][0], word_to_ix)
    tag_scores = model(inputs)
    print(tag_scores)

losses = []
for epoch in range(300):  # toy data: many epochs
    for sentence, tags in training_data:
        # clear the accumulated gradients before each instance
        model.zero_grad()

        sentence_in = prepare_sequence(sentence, word_to_ix)
        targets = prepare_sequence(tags, tag_to_ix)

        tag_scores = model(sentence_in)

        loss = loss_function(tag_scores, targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

with torch.no_grad():
    inputs = prepare_sequence(training_data[0][0], word_to_ix)
    tag_scores = model(inputs)
    # element i, j is the score of tag j for word i; expect DET NN V DET NN = 0 1 2 0 1
    print(tag_scores)
    predicted = tag_scores.argmax(dim=1).tolist()
