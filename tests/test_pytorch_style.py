"""Five small programs written the PyTorch way; only the import lines name tinygrad_lstm.

Each trains on a tiny synthetic task and checks that its loss falls (issue 13, "Done when").
The bodies are what a PyTorch user would write, call for call.
"""

import io

import tinygrad_lstm as torch
from tinygrad_lstm import nn, optim
from tinygrad_lstm.nn.utils.rnn import pack_padded_sequence, pad_sequence
from tinygrad_lstm.utils.data import DataLoader, TensorDataset
import tinygrad_lstm.nn.functional as F


def test_mlp_with_sequential_and_activations_learns_xor():
    torch.manual_seed(0)
    X = torch.tensor([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])
    y = torch.tensor([[0.], [1.], [1.], [0.]])
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(),
                          nn.Linear(16, 1), nn.Sigmoid())
    loss_fn = nn.BCELoss()
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(150):
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]
    with torch.no_grad():
        pred = (model(X) > 0.5).float()
    assert pred.tolist() == y.tolist()


class SentenceClassifier(nn.Module):
    """Embedding -> LSTM over a packed batch -> Linear on the last hidden state."""

    def __init__(self, vocab_size, embed_dim, hidden_dim, num_classes):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, num_classes)

    def forward(self, padded, lengths):
        embedded = self.embedding(padded)
        packed = pack_padded_sequence(embedded, lengths, batch_first=True,
                                      enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return self.fc(h_n[-1])


def test_packed_sequence_lstm_classifier_over_sentences_of_different_lengths():
    torch.manual_seed(0)
    # class 1 iff the sentence contains token 3; lengths 2..6, padding index 0
    sentences = [[1, 2], [3, 1, 2], [2, 2, 2, 1], [4, 4, 3, 1, 2], [1, 4], [2, 3],
                 [4, 1, 2, 2, 4, 1], [3, 4, 4, 4, 4, 4]]
    labels = torch.tensor([1 if 3 in s else 0 for s in sentences])
    seqs = [torch.tensor(s) for s in sentences]
    lengths = torch.tensor([len(s) for s in sentences])
    padded = pad_sequence(seqs, batch_first=True)
    assert padded.shape == (8, 6)
    model = SentenceClassifier(vocab_size=5, embed_dim=8, hidden_dim=12, num_classes=2)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = criterion(model(padded, lengths), labels)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    with torch.no_grad():
        assert model(padded, lengths).argmax(dim=1).tolist() == labels.tolist()


def test_dataloader_loop_with_tensor_dataset_and_shuffle():
    torch.manual_seed(0)
    X = torch.randn(64, 3)
    true_w = torch.tensor([[2.0], [-1.0], [0.5]])
    y = X @ true_w + 0.3
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
    model = nn.Linear(3, 1)
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    epoch_losses = []
    for _epoch in range(30):
        running = 0.0
        n_batches = 0
        for xb, yb in loader:
            assert xb.shape == (16, 3) and yb.shape == (16, 1)
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            running += loss.item()
            n_batches += 1
        assert n_batches == len(loader) == 4
        epoch_losses.append(running / n_batches)
    assert epoch_losses[-1] < 1e-2 * epoch_losses[0]
    assert abs(model.bias.item() - 0.3) < 0.01


def test_lbfgs_fit_with_closure():
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 50).unsqueeze(1)
    y = 0.5 * x ** 3 - x + 0.2
    model = nn.Sequential(nn.Linear(1, 10), nn.Tanh(), nn.Linear(10, 1))
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(model.parameters(), lr=1, max_iter=20,
                            line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        return loss

    first = closure().item()
    for _ in range(5):
        optimizer.step(closure)
    assert closure().item() < 1e-3 * first


class TinyLM(nn.Module):
    def __init__(self, ntoken=6, nhid=8):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, nhid)
        self.rnn = nn.LSTM(nhid, nhid)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, x):
        output, _ = self.rnn(self.encoder(x))
        return F.log_softmax(self.decoder(output), dim=-1)


def _lm_step(model, optimizer, data, target):
    optimizer.zero_grad()
    out = model(data)
    loss = F.nll_loss(out.view(-1, out.size(-1)), target.view(-1))
    loss.backward()
    optimizer.step()
    return loss.item()


def test_whole_module_save_and_load_resumes_training():
    torch.manual_seed(0)
    seq = torch.tensor([0, 1, 2, 3, 4, 5] * 4).view(-1, 1)  # (T, N=1)
    data, target = seq[:-1], seq[1:]
    model = TinyLM()
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    losses = [_lm_step(model, optimizer, data, target) for _ in range(20)]

    f = io.BytesIO()
    torch.save(model, f)
    f.seek(0)
    with torch.serialization.safe_globals([TinyLM, nn.modules.sparse.Embedding,
                                           nn.modules.rnn.LSTM, nn.modules.linear.Linear]):
        restored = torch.load(f)
    assert isinstance(restored, TinyLM) and restored is not model
    for (name, p), (name2, q) in zip(model.named_parameters(), restored.named_parameters()):
        assert name == name2 and p.tolist() == q.tolist()

    # resume: the restored model continues from where the first left off
    with torch.no_grad():
        out = restored(data)
        resumed_loss = F.nll_loss(out.view(-1, 6), target.view(-1)).item()
    assert resumed_loss < losses[0]
    optimizer = optim.Adam(restored.parameters(), lr=0.05)
    more = [_lm_step(restored, optimizer, data, target) for _ in range(30)]
    assert more[-1] < 0.5 * resumed_loss
