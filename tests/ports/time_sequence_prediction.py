"""Port of pytorch/examples time_sequence_prediction (generate_sine_wave.py and train.py): two
stacked LSTMCells in float64 learn sine waves with LBFGS, then predict the future. The data
file is written with torch.save and read back with torch.load, as in the example. Run in a
scratch directory: python time_sequence_prediction.py --steps 2"""
# ruff: noqa: UP004, UP008, UP015, B007, B008  (kept in the original program's style)
import argparse

import numpy as np
import tinygrad_lstm as torch
import tinygrad_lstm.nn as nn
import tinygrad_lstm.optim as optim

# generate_sine_wave.py, smaller: N waves of length L with random phase
np.random.seed(2)
T, L, N = 20, 60, 8
x = np.empty((N, L), 'int64')
x[:] = np.array(range(L)) + np.random.randint(-4 * T, 4 * T, N).reshape(N, 1)
data = np.sin(x / 1.0 / T).astype('float64')
torch.save(data, open('traindata.pt', 'wb'))


class Sequence(nn.Module):
    def __init__(self):
        super(Sequence, self).__init__()
        self.lstm1 = nn.LSTMCell(1, 51)
        self.lstm2 = nn.LSTMCell(51, 51)
        self.linear = nn.Linear(51, 1)

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), 51, dtype=torch.double)
        c_t = torch.zeros(input.size(0), 51, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)

        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for i in range(future):  # if we should predict the future
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        outputs = torch.cat(outputs, dim=1)
        return outputs


parser = argparse.ArgumentParser()
parser.add_argument('--steps', type=int, default=15, help='steps to run')
opt = parser.parse_args()
np.random.seed(0)
torch.manual_seed(0)
# load data and make the training set
data = torch.load('traindata.pt')
input = torch.from_numpy(data[3:, :-1])
target = torch.from_numpy(data[3:, 1:])
test_input = torch.from_numpy(data[:3, :-1])
test_target = torch.from_numpy(data[:3, 1:])
# build the model
seq = Sequence()
seq.double()
criterion = nn.MSELoss()
# LBFGS, since the whole data set fits in one batch
optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
losses, test_losses = [], []
for i in range(opt.steps):
    print('STEP: ', i)

    def closure():
        optimizer.zero_grad()
        out = seq(input)
        loss = criterion(out, target)
        print('loss:', loss.item())
        losses.append(loss.item())
        loss.backward()
        return loss
    optimizer.step(closure)
    # predict; no need to track gradients here
    with torch.no_grad():
        future = 20
        pred = seq(test_input, future=future)
        loss = criterion(pred[:, :-future], test_target)
        print('test loss:', loss.item())
        test_losses.append(loss.item())
        y = pred.detach().numpy()
