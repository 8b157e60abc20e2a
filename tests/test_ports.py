"""Run our ports of well-known PyTorch programs (tests/ports/, one file per program, only the
imports changed) and check what each computes against an independent truth: the loss falls,
shapes, values written out, brute force, finite differences.
"""

import itertools
import math
import os
import runpy
import sys

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.autograd import gradcheck

PORTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ports")


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Run tests/ports/<name>.py as a script in a scratch directory; return its globals."""
    monkeypatch.chdir(tmp_path)

    def _run(name, *argv, seed=0):
        path = os.path.join(PORTS, name + ".py")
        monkeypatch.setattr(sys, "argv", [path, *argv])
        # as `python path` does: the script's directory first on sys.path, so that a program
        # of several files (word_language_model) imports its own modules
        monkeypatch.syspath_prepend(os.path.dirname(path))
        before = set(sys.modules)
        tl.manual_seed(seed)
        np.random.seed(seed)
        try:
            return runpy.run_path(path, run_name="__main__")
        finally:
            tl.set_default_device("cpu")  # a script that set it must not leak it
            for module in set(sys.modules) - before:  # nor its modules (data, model)
                if (getattr(sys.modules[module], "__file__", None) or "").startswith(PORTS):
                    del sys.modules[module]
    return _run


def falls(losses, factor):
    return losses[-1] < factor * losses[0]


def monotone(losses):
    return all(b <= a for a, b in zip(losses, losses[1:]))


# --- the polynomial fits of "Learning PyTorch with Examples" ---------------------------------

def check_sin_data(g):
    x, y = g["x"].numpy(), g["y"].numpy()
    assert x.shape == (2000,) and x[0] == np.float32(-math.pi) and x[-1] == np.float32(math.pi)
    np.testing.assert_allclose(y, np.sin(x), atol=1e-6)


def test_polynomial_tensor_gradients_by_hand(run):
    g = run("polynomial_tensor")
    check_sin_data(g)
    assert monotone(g["losses"]) and falls(g["losses"], 0.1)


def test_polynomial_autograd_updates_leaves_in_place(run):
    g = run("polynomial_autograd")
    check_sin_data(g)
    assert monotone(g["losses"]) and falls(g["losses"], 0.1)
    for w in "abcd":  # still the same leaves, updated in place, gradients cleared
        assert g[w].is_leaf and g[w].requires_grad and g[w].grad is None


def test_polynomial_custom_function(run):
    g = run("polynomial_custom_function")
    assert monotone(g["losses"]) and falls(g["losses"], 0.5)
    # the hand-written backward of P3 agrees with finite differences
    x = tl.tensor(np.linspace(-1.5, 1.5, 7), dtype=tl.float64, requires_grad=True)
    assert gradcheck(g["LegendrePolynomial3"].apply, (x,))
    np.testing.assert_allclose(g["LegendrePolynomial3"].apply(tl.tensor([0.5])).item(),
                               0.5 * (5 * 0.125 - 1.5))


def test_polynomial_nn_sequential_with_flatten(run):
    g = run("polynomial_nn")
    x = g["x"].numpy()
    np.testing.assert_allclose(g["xx"].numpy(), np.stack([x, x ** 2, x ** 3], 1), rtol=1e-6)
    assert g["model"](g["xx"]).shape == (2000,)
    assert monotone(g["losses"]) and falls(g["losses"], 0.1)


def test_polynomial_optim_rmsprop(run):
    g = run("polynomial_optim")
    assert falls(g["losses"], 0.1)


def test_polynomial_custom_module(run):
    g = run("polynomial_module")
    assert [p.shape for p in g["model"].parameters()] == [()] * 4
    assert monotone(g["losses"]) and falls(g["losses"], 0.1)


def test_dynamic_net_reuses_a_parameter(run):
    import random
    random.seed(0)
    g = run("dynamic_net")
    assert min(g["losses"][-50:]) < 0.1 * g["losses"][0]


def test_two_layer_net_custom_function_my_relu(run):
    g = run("two_layer_net_custom_function")
    assert falls(g["losses"], 0.1)
    # the tutorial's MyReLU: its hand-written backward agrees with finite differences
    x = tl.tensor([[-1.5, -0.2, 0.3], [0.7, -2.0, 1.1]], dtype=tl.float64, requires_grad=True)
    assert gradcheck(g["MyReLU"].apply, (x,))
    np.testing.assert_array_equal(g["MyReLU"].apply(x).detach().numpy(),
                                  [[0, 0, 0.3], [0.7, 0, 1.1]])


def test_two_layer_net_nn_manual_update(run):
    g = run("two_layer_net_nn")
    assert falls(g["losses"], 0.01)
    assert [p.shape for p in g["model"].parameters()] == [(100, 1000), (100,), (10, 100), (10,)]


def test_two_layer_net_module_with_sgd(run):
    g = run("two_layer_net_module")
    assert falls(g["losses"], 0.01)


# --- the NLP tutorials -----------------------------------------------------------------------

def test_nlp_pytorch_tutorial_tensors_and_autograd(run):
    g = run("nlp_pytorch_tutorial")
    assert g["V"].dtype == tl.float32 and g["T"].shape == (2, 2, 2)
    assert g["z_1"].shape == (5, 5) and g["z_2"].shape == (2, 8)
    assert g["s"].item() == 21.0  # (1+4) + (2+5) + (3+6)
    assert g["new_z"].grad_fn is None and g["z"].requires_grad


def test_nlp_deep_learning_tutorial_bag_of_words(run):
    g = run("nlp_deep_learning_tutorial")
    assert falls(g["losses"], 0.1)
    # the test sentences are classified right: Spanish 0, English 1
    assert [lp.argmax(dim=1).item() for lp in g["test_log_probs"]] == [0, 1]
    # "creo" appears only in Spanish sentences: its weight moves toward SPANISH
    before, after = g["creo_before"].numpy(), g["creo_after"].numpy()
    assert after[0] - after[1] > before[0] - before[1]


def test_nlp_word_embeddings_ngram_model(run):
    g = run("nlp_word_embeddings")
    assert g["hello_embed"].shape == (1, 5)
    np.testing.assert_array_equal(g["hello_embed"].numpy()[0], g["embeds"].weight.numpy()[0])
    assert monotone(g["losses"]) and g["losses"][-1] < g["losses"][0]


def test_nlp_pos_tagger(run):
    g = run("nlp_pos_tagger")
    # the last output is the final hidden state; stepping equals the whole sequence at once
    np.testing.assert_allclose(g["out"][-1].numpy(), g["hidden"][0][0].numpy(), rtol=1e-6)
    for a, b in zip(g["stepped_hidden"], g["hidden"]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    assert falls(g["losses"], 0.1)
    assert g["predicted"] == [0, 1, 2, 0, 1]  # DET NN V DET NN


def test_nlp_bilstm_crf(run):
    g = run("nlp_bilstm_crf")
    losses = g["losses"]
    assert np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2])
    assert len(g["predicted"]) == len(g["training_data"][0][0])
    # the forward algorithm is the log of the sum over every tag path of exp(score)
    model, tag_to_ix = g["model"], g["tag_to_ix"]
    with tl.no_grad():
        feats = model._get_lstm_features(g["prepare_sequence"]("georgia tech is".split(),
                                                               g["word_to_ix"]))
        scores = [model._score_sentence(feats, tl.tensor(list(p))).item()
                  for p in itertools.product(range(len(tag_to_ix)), repeat=3)]
        np.testing.assert_allclose(model._forward_alg(feats).item(),
                                   np.logaddexp.reduce(scores), rtol=1e-5)
        # and Viterbi's path is the best one of them
        score, path = model._viterbi_decode(feats)
        np.testing.assert_allclose(score.item(), max(scores), rtol=1e-5)


# --- the char-RNN and seq2seq tutorials ------------------------------------------------------

def test_char_rnn_classification(run):
    import random
    random.seed(0)
    g = run("char_rnn_classification")
    assert (len(g["train_set"]), len(g["test_set"])) == (51, 9)  # 85% / 15% of 60
    assert falls(g["losses"], 0.5)
    rows = g["confusion"].sum(dim=1).numpy()
    assert all(np.isclose(r, 1.0) or r == 0 for r in rows)


def test_char_rnn_generation(run):
    g = run("char_rnn_generation")
    assert falls(g["all_losses"], 0.8)
    assert all(name.startswith(start) for start, name in g["samples"].items())


def test_seq2seq_translation_with_attention(run):
    g = run("seq2seq_translation")
    assert falls(g["losses"], 0.5)
    src = g["src"]
    assert g["attentions"].shape == (1, g["MAX_LENGTH"], len(src) + 1)
    np.testing.assert_allclose(g["attentions"].sum(dim=-1).numpy(), 1.0, rtol=1e-5)


def test_seq2seq_translation_classic_writes_encoder_outputs_row_by_row(run):
    import random
    random.seed(0)
    g = run("seq2seq_translation_classic")
    losses = g["losses"]
    assert np.mean(losses[-30:]) < 0.5 * np.mean(losses[:30])
    attentions = g["attentions"]
    assert attentions.shape[1] == g["MAX_LENGTH"] and attentions.shape[0] <= g["MAX_LENGTH"]
    np.testing.assert_allclose(attentions.sum(dim=1).numpy(), 1.0, rtol=1e-5)


# --- pytorch/examples ------------------------------------------------------------------------

def test_word_language_model(run, tmp_path):
    words = "the cat sat on a mat and dog ran to big red house".split()
    for name, n in [("train", 60), ("valid", 10), ("test", 10)]:
        lines = (" ".join(words[(3 * i + j) % len(words)] for j in range(8)) for i in range(n))
        (tmp_path / f"{name}.txt").write_text("\n".join(lines))
    g = run("word_language_model/main", "--data", str(tmp_path))
    assert len(g["corpus"].dictionary) == len(words) + 1  # and <eos>
    assert g["train_data"].shape == (60 * 9 // 4, 4)  # batchify: one column per stream
    assert g["val_losses"][-1] < 0.7 * g["val_losses"][0]
    # the reloaded whole model is a new RNNModel giving the best validation loss
    assert type(g["model"]).__name__ == "RNNModel"
    np.testing.assert_allclose(g["evaluate"](g["val_data"]), g["best_val_loss"], rtol=1e-5)


def test_time_sequence_prediction(run):
    g = run("time_sequence_prediction", "--steps", "2")
    assert g["input"].dtype == tl.float64 and g["y"].shape == (3, 59 + 20)
    assert g["losses"][-1] < 0.1 * g["losses"][0]
    assert g["test_losses"][-1] < g["test_losses"][0]


def test_word_language_model_tied_weights_stay_tied_through_save_and_load(run, tmp_path):
    words = "one two three four five six seven eight".split()
    for name in ("train", "valid", "test"):
        (tmp_path / f"{name}.txt").write_text("\n".join(" ".join(words) for _ in range(12)))
    g = run("word_language_model/main", "--data", str(tmp_path), "--tied", "--epochs", "2")
    model = g["model"]
    assert model.decoder.weight is model.encoder.weight  # one tensor after the load, too
    # the shared encoder/decoder weight once, 2 LSTM layers of 4, the decoder's bias
    assert len(list(model.parameters())) == 1 + 8 + 1


# --- "Learn the Basics" and the 60-minute blitz's autograd ------------------------------------
# FashionMNIST, vgg16, resnet18 and pyplot are the stand-ins of tests/ports/standins

def test_basics_tensorqs(run):
    g = run("basics_tensorqs")
    assert g["x_data"].dtype == tl.int64 and g["x_np"].dtype == tl.int64
    assert g["x_ones"].dtype == tl.int64 and g["x_ones"].tolist() == [[1, 1], [1, 1]]
    assert g["x_rand"].dtype == tl.float32 and 0 <= g["x_rand"].numpy().min() < 1
    ones = np.ones((4, 4), np.float32)
    ones[:, 1] = 0
    for y in "y1", "y2", "y3":  # the same value three ways, the last written by out=
        np.testing.assert_array_equal(g[y].numpy(), ones @ ones.T)
    for z in "z1", "z2", "z3":
        np.testing.assert_array_equal(g[z].numpy(), ones * ones)
    assert g["agg_item"] == 12.0 and type(g["agg_item"]) is float
    np.testing.assert_array_equal(g["tensor"].numpy(), ones + 5)
    np.testing.assert_array_equal(g["t1"].numpy(), np.concatenate([ones] * 3, axis=1))
    # the NumPy bridge shares memory both ways; from_numpy keeps float64
    assert g["t"].dtype == tl.float64 and g["t"].tolist() == [2.0] * 5
    g["n"][0] = 7
    assert g["t"][0].item() == 7


def test_basics_autogradqs_gradients_by_hand(run):
    g = run("basics_autogradqs")
    x, w, b = g["x"].numpy(), g["w"].detach().numpy(), g["b"].detach().numpy()
    z = x @ w + b
    sig = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(g["loss"].item(), np.mean(np.log1p(np.exp(z))), rtol=1e-5)
    np.testing.assert_allclose(g["b"].grad.numpy(), sig / 3, rtol=1e-5)  # (sigmoid(z) - 0) / 3
    np.testing.assert_allclose(g["w"].grad.numpy(), np.outer(x, sig / 3), rtol=1e-5)
    assert not g["z_det"].requires_grad
    # d/dinp of sum((inp + 1)^2) = 2 (inp + 1): 4 on the diagonal, 2 elsewhere, once after zero_
    np.testing.assert_array_equal(g["inp"].grad.numpy(), 2 * (np.eye(4, 5) + 1))


def test_blitz_autograd(run):
    g = run("blitz_autograd")
    assert g["a"].requires_grad is False and g["b"].requires_grad is True
    assert g["Q"].tolist() == [3 * 8 - 36, 3 * 27 - 16]
    model, optimizer = g["model"], g["optimizer"]
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]
    # a step of the fine-tuning optimizer moves the new head only, by -lr * grad (momentum's
    # buffer is the gradient at the first step)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model(g["data"]).sum().backward()
    optimizer.step()
    for n, p in model.named_parameters():
        want = before[n].numpy() - (0.01 * p.grad.numpy() if p.requires_grad else 0)
        np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-6, atol=1e-7)
    assert model.conv1.weight.grad is None


def test_blitz_autograd_classic(run):
    g = run("blitz_autograd_classic")
    assert g["out"].item() == 27.0 and g["x"].grad is not None
    np.testing.assert_array_equal(g["v"].grad.numpy(), np.full((2, 2), 4.5))  # 3/2 (x + 2)
    # y = x * 2^k: the gradient is the given one times 2^k, k from the loop
    for x, y, grad in [(g["x"], g["y"], [0.1, 1.0, 0.0001]),
                       (g["v2"], g["w2"], [0.1, 1.0, 0.0001])]:
        k = np.log2(y.detach().numpy()[0] / x.detach().numpy()[0])
        assert k == round(k) and np.linalg.norm(y.detach().numpy()) >= 1000
        np.testing.assert_allclose(x.grad.numpy(), np.float32(grad) * 2 ** round(k), rtol=1e-6)


def test_basics_buildmodel(run):
    g = run("basics_buildmodel")
    assert g["flat_image"].shape == (3, 784) and g["hidden1"].shape == (3, 20)
    assert g["hidden1"].numpy().min() >= 0
    np.testing.assert_allclose(g["pred_probab"].sum(dim=1).numpy(), 1.0, rtol=1e-6)
    names = [n for n, _ in g["model"].named_parameters()]
    assert names == [f"linear_relu_stack.{i}.{w}" for i in (0, 2, 4) for w in ("weight", "bias")]


def numpy_mlp_gradients(params, X, y):
    """The tutorials' Flatten, Linear 784-512, ReLU, Linear 512-512, ReLU, Linear 512-10 and
    cross-entropy, forward and backward by hand in float64: (loss, gradients)."""
    W1, b1, W2, b2, W3, b3 = params
    h0 = X.reshape(len(X), -1)
    z1 = h0 @ W1.T + b1
    z2 = np.maximum(z1, 0) @ W2.T + b2
    z3 = np.maximum(z2, 0) @ W3.T + b3
    p = np.exp(z3 - z3.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(len(y)), y]))
    dz3 = (p - np.eye(10)[y]) / len(y)
    dz2 = dz3 @ W3 * (z2 > 0)
    dz1 = dz2 @ W2 * (z1 > 0)
    return loss, [dz1.T @ h0, dz1.sum(0), dz2.T @ np.maximum(z1, 0), dz2.sum(0),
                  dz3.T @ np.maximum(z2, 0), dz3.sum(0)]


def test_basics_optimization_train_loop_steps_by_hand(run, capsys):
    g = run("basics_optimization")
    out = capsys.readouterr().out
    test_losses = [float(s.split("Avg loss: ")[1]) for s in out.splitlines() if "Avg loss" in s]
    assert len(test_losses) == 10 and monotone(test_losses)
    model = g["NeuralNetwork"]()
    before = [p.detach().numpy().astype(np.float64) for p in model.parameters()]
    X, y = next(iter(g["train_dataloader"]))
    batch = tl.utils.data.DataLoader(tl.utils.data.TensorDataset(X, y), batch_size=64)
    # the program's own train_loop, one batch, lr 1: each parameter moves by -grad
    g["train_loop"](batch, model, g["loss_fn"], tl.optim.SGD(model.parameters(), lr=1.0))
    loss, grads = numpy_mlp_gradients(before, X.numpy().astype(np.float64), y.numpy())
    for p, p0, grad in zip(model.parameters(), before, grads):
        np.testing.assert_allclose(p0 - p.detach().numpy(), grad, rtol=1e-3, atol=1e-6)


def test_basics_quickstart_trains_saves_and_loads(run, capsys):
    g = run("basics_quickstart")
    out = capsys.readouterr().out
    assert "Shape of X [N, C, H, W]: (64, 1, 28, 28)" in out and "(64,) tinygrad_lstm.int64" in out
    test_losses = [float(s.split("Avg loss: ")[1]) for s in out.splitlines() if "Avg loss" in s]
    assert len(test_losses) == 5 and monotone(test_losses)
    # the reloaded model computes the last test loss, by hand
    X = np.stack([g["test_data"][i][0].numpy() for i in range(len(g["test_data"]))])
    y = g["test_data"].targets.numpy()
    params = [p.detach().numpy().astype(np.float64) for p in g["model"].parameters()]
    batches = [numpy_mlp_gradients(params, X[i:i + 64], y[i:i + 64])[0] for i in range(0, 160, 64)]
    np.testing.assert_allclose(np.mean(batches), test_losses[-1], rtol=1e-5)
    np.testing.assert_allclose(X[0], g["test_data"].data[0].numpy()[None] / 255, rtol=1e-6)
    assert f'Actual: "{g["classes"][int(y[0])]}"' in out


def test_basics_data_indexing_and_shuffled_batches(run):
    g = run("basics_data")
    data = g["training_data"].data.numpy()
    assert len(g["plt"].shown) == 10
    for img in g["plt"].shown:  # each image shown is one of the data set's, scaled to [0, 1]
        assert img.shape == (28, 28) and img.dtype == np.float32
        assert np.any(np.all(np.abs(data / 255 - img) < 1e-6, axis=(1, 2)))
    assert g["train_features"].shape == (64, 1, 28, 28) and g["train_labels"].dtype == tl.int64
    targets = g["training_data"].targets.numpy()
    order = [int(np.flatnonzero(np.all(np.abs(data / 255 - f[0]) < 1e-6, axis=(1, 2)))[0])
             for f in g["train_features"].numpy()]
    assert len(set(order)) == 64 and order != list(range(64))  # shuffled, no repeats
    assert targets[order].tolist() == g["train_labels"].tolist()


def test_basics_saveloadrun(run):
    g = run("basics_saveloadrun")
    model = g["model"]
    assert type(model).__name__ == "VGG" and model.training is False
    pretrained = g["models"].vgg16(weights="IMAGENET1K_V1")
    for (n, p), (m, q) in zip(model.state_dict().items(), pretrained.state_dict().items()):
        assert n == m and np.array_equal(p.numpy(), q.numpy())
    x = tl.rand(2, 3, 8, 8)
    pretrained.eval()
    np.testing.assert_array_equal(model(x).detach().numpy(), pretrained(x).detach().numpy())


def test_basics_transforms_one_hot_labels_by_scatter_(run):
    g = run("basics_transforms")
    ds = g["ds"]
    for k in range(5):
        img, one_hot = ds[k]
        assert img.shape == (1, 28, 28) and img.dtype == tl.float32
        assert one_hot.dtype == tl.float32
        assert one_hot.tolist() == np.eye(10)[ds.targets[k].item()].tolist()
    assert g["target_transform"](7).tolist() == [0.0] * 7 + [1.0] + [0.0] * 2


# --- pytorch/examples reinforcement_learning: policy gradients with Categorical ---------------

def numpy_grads(loss, params, eps=1e-6):
    """Central differences of loss(params) in float64, for every entry of every array."""
    grads = {}
    for name, w in params.items():
        g = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            old = w[i]
            w[i] = old + eps
            up = loss(params)
            w[i] = old - eps
            g[i] = (up - loss(params)) / (2 * eps)
            w[i] = old
        grads[name] = g
    return grads


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def normalized_returns(rewards, gamma):
    returns, R = [], 0.0
    for r in rewards[::-1]:
        R = r + gamma * R
        returns.insert(0, R)
    returns = np.array(returns)
    return (returns - returns.mean()) / (returns.std(ddof=1) + np.finfo(np.float32).eps)


def gradients_of_one_update(g, model, states, rewards):
    """Run the program's own select_action on `states` (model in eval mode: no dropout) and
    finish_episode, with the optimizer's step recording the gradients instead of stepping."""
    program = g["finish_episode"].__globals__

    class Recorder:
        def zero_grad(self):
            model.zero_grad()

        def step(self):
            self.grads = {k: p.grad.numpy().astype(np.float64)
                          for k, p in model.named_parameters()}

    program["optimizer"] = recorder = Recorder()
    model.eval()
    actions = [g["select_action"](s) for s in states]
    model.rewards.extend(rewards)
    g["finish_episode"]()
    params = {k: p.detach().numpy().astype(np.float64) for k, p in model.named_parameters()}
    return actions, params, recorder.grads


def check_learned(env, threshold):
    lengths = env.episode_lengths[1:]  # the first reset only seeds
    assert np.mean(lengths[-5:]) > threshold > np.mean(lengths[:10])


def test_reinforce(run):
    g = run("reinforce", "--seed", "1")  # the default 543 collapses to one action on this stub
    check_learned(g["env"], g["env"].spec.reward_threshold)
    # the policy gradient of one episode against finite differences of its loss written out
    states = np.random.default_rng(0).normal(0, 0.5, (6, 4)).astype(np.float32)
    rewards = [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    actions, params, grads = gradients_of_one_update(g, g["policy"], states, rewards)
    returns = normalized_returns(rewards, g["args"].gamma)

    def loss(p):
        h = np.maximum(states @ p["affine1.weight"].T + p["affine1.bias"], 0)
        logp = log_softmax(h @ p["affine2.weight"].T + p["affine2.bias"])
        return -(logp[np.arange(len(actions)), actions] * returns).sum()

    for name, expected in numpy_grads(loss, params).items():
        np.testing.assert_allclose(grads[name], expected, rtol=1e-3, atol=1e-5, err_msg=name)


def test_actor_critic(run):
    g = run("actor_critic")
    check_learned(g["env"], g["env"].spec.reward_threshold)
    states = np.random.default_rng(1).normal(0, 0.5, (5, 4)).astype(np.float32)
    rewards = [1.0, 1.0, 1.0, 0.0, 1.0]
    actions, params, grads = gradients_of_one_update(g, g["model"], states, rewards)
    returns = normalized_returns(rewards, g["args"].gamma)

    def forward(p):
        h = np.maximum(states @ p["affine1.weight"].T + p["affine1.bias"], 0)
        logp = log_softmax(h @ p["action_head.weight"].T + p["action_head.bias"])
        return logp[np.arange(len(actions)), actions], (h @ p["value_head.weight"].T)[:, 0] + \
            p["value_head.bias"]

    advantage = returns - forward(params)[1]  # value.item(): no gradient through it

    def loss(p):
        logp, value = forward(p)
        d = np.abs(value - returns)
        return -(logp * advantage).sum() + np.where(d < 1, 0.5 * d ** 2, d - 0.5).sum()

    for name, expected in numpy_grads(loss, params).items():
        np.testing.assert_allclose(grads[name], expected, rtol=1e-3, atol=1e-5, err_msg=name)


# --- pytorch/examples: regression, vae, mnist_rnn, mnist_forward_forward ---------------------

def test_regression_finds_the_polynomial(run):
    g = run("regression")
    assert g["loss"] < 1e-3
    # the data come from W_target and b_target: the fitted layer must be them
    np.testing.assert_allclose(g["fc"].weight.detach().numpy()[0], g["W_target"].numpy()[:, 0],
                               atol=0.2)
    np.testing.assert_allclose(g["fc"].bias.item(), g["b_target"].item(), atol=0.2)
    assert g["poly_desc"](tl.tensor([1.5, -2.0]), tl.tensor([0.25])) == \
        "y = +1.50 x^1 -2.00 x^2 +0.25"


def test_vae(run, capsys):
    g = run("vae", "--epochs", "3", "--batch-size", "64")
    test_losses = [float(line.split()[-1]) for line in capsys.readouterr().out.splitlines()
                   if line.startswith("====> Test set loss")]
    assert test_losses[-1] < 0.8 * test_losses[0]
    saved = g["save_image"].__globals__["saved_images"]
    assert saved[:2] == [("results/reconstruction_1.png", (16, 1, 28, 28), 8),
                         ("results/sample_1.png", (64, 1, 28, 28), 8)]
    # the loss, BCE summed plus the KL term, written out
    rng = np.random.default_rng(0)
    recon, x = rng.uniform(0.01, 0.99, (2, 784)), rng.uniform(0, 1, (2, 1, 28, 28))
    mu, logvar = rng.normal(size=(2, 20)), rng.normal(size=(2, 20))
    flat = x.reshape(2, 784)
    bce = -(flat * np.log(recon) + (1 - flat) * np.log(1 - recon)).sum()
    kld = -0.5 * (1 + logvar - mu ** 2 - np.exp(logvar)).sum()
    loss = g["loss_function"](*(tl.tensor(a) for a in (recon, x, mu, logvar)))
    np.testing.assert_allclose(loss.item(), bce + kld, rtol=1e-6)


def test_mnist_rnn(run, capsys, tmp_path):
    g = run("mnist_rnn", "--epochs", "3", "--lr", "1", "--gamma", "1", "--batch-size", "32",
            "--test-batch-size", "64", "--save-model")
    losses = [float(line.split()[4].rstrip(",")) for line in capsys.readouterr().out.splitlines()
              if line.startswith("Test set")]
    assert losses[-1] < 0.95 * losses[0]
    state = tl.load(tmp_path / "mnist_rnn.pt")
    assert state["batchnorm.num_batches_tracked"].item() == 3 * 192 // 32  # one per step
    # the program's Net in eval mode against its equations in NumPy
    model = g["Net"]()
    model.load_state_dict(state)
    model.eval()
    x = np.random.default_rng(0).normal(size=(3, 1, 28, 28)).astype(np.float32)
    p = {k: v.numpy().astype(np.float64) for k, v in state.items()}
    h, c = np.zeros((3, 64)), np.zeros((3, 64))
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    for t in range(28):
        gates = x[:, 0, t] @ p["rnn.weight_ih_l0"].T + p["rnn.bias_ih_l0"] + \
            h @ p["rnn.weight_hh_l0"].T + p["rnn.bias_hh_l0"]
        i, f, gg, o = np.split(gates, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(gg)
        h = sigmoid(o) * np.tanh(c)
    h = (h - p["batchnorm.running_mean"]) / np.sqrt(p["batchnorm.running_var"] + 1e-5) * \
        p["batchnorm.weight"] + p["batchnorm.bias"]
    h = np.maximum(h @ p["fc1.weight"].T + p["fc1.bias"], 0) @ p["fc2.weight"].T + p["fc2.bias"]
    with tl.no_grad():
        np.testing.assert_allclose(model(tl.tensor(x)).numpy(), log_softmax(h), rtol=1e-4,
                                   atol=1e-5)


def test_mnist_forward_forward(run, capsys):
    g = run("mnist_forward_forward", "--epochs", "10", "--train_size", "192", "--test_size",
            "64", "--log-interval", "3")
    out = capsys.readouterr().out
    errors = [float(line.split()[-1]) for line in out.splitlines() if "error:" in line]
    assert errors[0] < 0.5 and errors[1] < 0.5  # chance is 0.9
    # the label is written into the first 10 pixels, as the maximum of the whole batch
    x = tl.tensor([[0.5, 2.0, -1.0, 0.1] + [0.0] * 8, [0.3] * 12])
    overlaid = g["overlay_y_on_x"](x, tl.tensor([1, 3])).numpy()
    expected = np.zeros((2, 12), np.float32)
    expected[0, 1], expected[1, 3], expected[1, 10:] = 2.0, 2.0, 0.3
    np.testing.assert_array_equal(overlaid, expected)
    y = tl.tensor(list(range(10)) * 3)
    assert (g["get_y_neg"](y).numpy() != y.numpy()).all()
