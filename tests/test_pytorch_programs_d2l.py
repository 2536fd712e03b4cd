"""Dive into Deep Learning (d2l.ai, PyTorch edition): the from-scratch and
concise programs of the chapters a course teaches, as the book writes them,
with only the imports changed.

Each program is written once, as a function of the library it runs on
(``lib.torch``, ``lib.nn``, ``lib.F``, ``lib.data``); the helpers the book
takes from its ``d2l`` package are written here (:func:`d2l`).  The engine's
run must train (its loss falls); where PyTorch is installed, the
``..._matches_pytorch`` twin runs the same program on PyTorch, given the
random values the engine's run drew (:class:`Start`: initial weights, the
synthetic data), and compares the losses and parameters.
"""
import os
import random
import types

import numpy as np
import pytest

import tinygrad_kr
import tinygrad_kr.nn.functional
import tinygrad_kr.utils.data

from needs import unavailable

ENGINE = types.SimpleNamespace(torch=tinygrad_kr, nn=tinygrad_kr.nn,
                               F=tinygrad_kr.nn.functional, data=tinygrad_kr.utils.data)


def pytorch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional
    import torch.utils.data
    return types.SimpleNamespace(torch=torch, nn=torch.nn, F=torch.nn.functional,
                                 data=torch.utils.data)


class Start:
    """The random values a program draws (weights, synthetic data), recorded
    in the engine's run and given, in the same order, to PyTorch's run."""

    def __init__(self):
        self.values, self.replay = [], None

    def replaying(self):
        self.replay = iter(self.values)
        return self

    def __call__(self, torch, *tensors):
        for t in tensors:
            if self.replay is None:
                self.values.append(np.array(t.detach().numpy()))
            else:
                with torch.no_grad():
                    t.copy_(torch.from_numpy(next(self.replay)))
        return tensors[0] if len(tensors) == 1 else tensors

    def module(self, torch, net):
        self(torch, *net.state_dict().values())
        return net


def both(program, *args, **kwargs):
    """``program`` on the engine, then on PyTorch from the engine's start."""
    start = Start()
    random.seed(0)
    ours = program(ENGINE, start, *args, **kwargs)
    random.seed(0)
    theirs = program(pytorch(), start.replaying(), *args, **kwargs)
    return ours, theirs


def close(ours, theirs, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(np.asarray(ours, dtype=np.float64),
                               np.asarray(theirs, dtype=np.float64), rtol=rtol, atol=atol)


# -- the d2l package's helpers ----------------------------------------------------------

def d2l(lib):
    torch, nn, data = lib.torch, lib.nn, lib.data

    def synthetic_data(w, b, num_examples):
        X = torch.normal(0, 1, (num_examples, len(w)))
        y = torch.matmul(X, w) + b
        y += torch.normal(0, 0.01, y.shape)
        return X, y.reshape((-1, 1))

    def linreg(X, w, b):
        return torch.matmul(X, w) + b

    def squared_loss(y_hat, y):
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    def sgd(params, lr, batch_size):
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    def load_array(data_arrays, batch_size, is_train=True):
        dataset = data.TensorDataset(*data_arrays)
        return data.DataLoader(dataset, batch_size, shuffle=is_train)

    class Accumulator:
        def __init__(self, n):
            self.data = [0.0] * n

        def add(self, *args):
            self.data = [a + float(b) for a, b in zip(self.data, args)]

        def reset(self):
            self.data = [0.0] * len(self.data)

        def __getitem__(self, idx):
            return self.data[idx]

    def accuracy(y_hat, y):
        if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
            y_hat = y_hat.argmax(axis=1)
        cmp = y_hat.type(y.dtype) == y
        return float(cmp.type(y.dtype).sum())

    def evaluate_accuracy(net, data_iter):
        if isinstance(net, torch.nn.Module):
            net.eval()
        metric = Accumulator(2)
        with torch.no_grad():
            for X, y in data_iter:
                metric.add(accuracy(net(X), y), y.numel())
        return metric[0] / metric[1]

    def train_epoch_ch3(net, train_iter, loss, updater):
        if isinstance(net, torch.nn.Module):
            net.train()
        metric = Accumulator(3)
        for X, y in train_iter:
            y_hat = net(X)
            l = loss(y_hat, y)
            if isinstance(updater, torch.optim.Optimizer):
                updater.zero_grad()
                l.mean().backward()
                updater.step()
            else:
                l.sum().backward()
                updater(X.shape[0])
            metric.add(float(l.sum()), accuracy(y_hat, y), y.numel())
        return metric[0] / metric[2], metric[1] / metric[2]

    def train_ch3(net, train_iter, test_iter, loss, num_epochs, updater):
        history = []
        for epoch in range(num_epochs):
            train_metrics = train_epoch_ch3(net, train_iter, loss, updater)
            test_acc = evaluate_accuracy(net, test_iter)
            history.append(train_metrics + (test_acc,))
        return history

    def evaluate_loss(net, data_iter, loss):
        metric = Accumulator(2)
        for X, y in data_iter:
            out = net(X)
            y = y.reshape(out.shape)
            l = loss(out, y)
            metric.add(l.sum(), l.numel())
        return metric[0] / metric[1]

    def try_gpu(i=0):
        if torch.cuda.device_count() >= i + 1:
            return torch.device(f'cuda:{i}')
        return torch.device('cpu')

    def evaluate_accuracy_gpu(net, data_iter, device=None):
        if isinstance(net, nn.Module):
            net.eval()
            if not device:
                device = next(iter(net.parameters())).device
        metric = Accumulator(2)
        with torch.no_grad():
            for X, y in data_iter:
                if isinstance(X, list):
                    X = [x.to(device) for x in X]
                else:
                    X = X.to(device)
                y = y.to(device)
                metric.add(accuracy(net(X), y), y.numel())
        return metric[0] / metric[1]

    def train_ch6(net, train_iter, test_iter, num_epochs, lr, device, start):
        def init_weights(m):
            if type(m) == nn.Linear or type(m) == nn.Conv2d:
                nn.init.xavier_uniform_(m.weight)
        net.apply(init_weights)
        start.module(torch, net)
        net.to(device)
        optimizer = torch.optim.SGD(net.parameters(), lr=lr)
        loss = nn.CrossEntropyLoss()
        history = []
        for epoch in range(num_epochs):
            metric = Accumulator(3)
            net.train()
            for i, (X, y) in enumerate(train_iter):
                optimizer.zero_grad()
                X, y = X.to(device), y.to(device)
                y_hat = net(X)
                l = loss(y_hat, y)
                l.backward()
                optimizer.step()
                with torch.no_grad():
                    metric.add(l * X.shape[0], accuracy(y_hat, y), X.shape[0])
            train_l = metric[0] / metric[2]
            train_acc = metric[1] / metric[2]
            test_acc = evaluate_accuracy_gpu(net, test_iter)
            history.append((train_l, train_acc, test_acc))
        return history

    return types.SimpleNamespace(**{k: v for k, v in locals().items() if not k.startswith("_")})


_FASHION = {}


def fashion_arrays(n_train=256, n_test=128):
    """The first images of Fashion-MNIST (MNIST where it is not installed), float32 in [0, 1]."""
    if (n_train, n_test) not in _FASHION:
        from tinygrad_kr.vision import datasets
        parts = None
        for cls in (datasets.FashionMNIST, datasets.MNIST):
            try:
                parts = [cls("data", train=train, download=False) for train in (True, False)]
                break
            except (RuntimeError, ImportError):
                continue
        if parts is None:
            unavailable("neither Fashion-MNIST nor MNIST is installed")
        out = []
        for ds, n in zip(parts, (n_train, n_test)):
            out.append((np.asarray(ds.data)[:n].astype(np.float32)[:, None] / 255,
                        np.asarray(ds.targets)[:n].astype(np.int64)))
        _FASHION[n_train, n_test] = out
    return _FASHION[n_train, n_test]


def load_data_fashion_mnist(lib, batch_size, n_train=256, n_test=128):
    """The book's loader on a small subset, unshuffled (both libraries see the same batches)."""
    (xs, ys), (xt, yt) = fashion_arrays(n_train, n_test)
    torch, data = lib.torch, lib.data
    train = data.TensorDataset(torch.from_numpy(xs.copy()), torch.from_numpy(ys.copy()))
    test = data.TensorDataset(torch.from_numpy(xt.copy()), torch.from_numpy(yt.copy()))
    return (data.DataLoader(train, batch_size, shuffle=False),
            data.DataLoader(test, batch_size, shuffle=False))


def falls(history, key=0):
    values = [h[key] if isinstance(h, tuple) else h for h in history]
    assert values[-1] < values[0], values


# -- 1. linear regression ----------------------------------------------------------------

def linear_regression_scratch(lib, start, num_epochs=3):
    torch, h = lib.torch, d2l(lib)

    def data_iter(batch_size, features, labels):
        num_examples = len(features)
        indices = list(range(num_examples))
        random.shuffle(indices)
        for i in range(0, num_examples, batch_size):
            batch_indices = torch.tensor(indices[i: min(i + batch_size, num_examples)])
            yield features[batch_indices], labels[batch_indices]

    true_w = torch.tensor([2, -3.4])
    true_b = 4.2
    features, labels = start(torch, *h.synthetic_data(true_w, true_b, 1000))
    assert features.shape == (1000, 2) and labels.shape == (1000, 1)
    batch_size = 10
    for X, y in data_iter(batch_size, features, labels):
        assert X.shape == (10, 2) and y.shape == (10, 1)
        break
    w = start(torch, torch.normal(0, 0.01, size=(2, 1), requires_grad=True))
    b = torch.zeros(1, requires_grad=True)
    lr, net, loss = 0.03, h.linreg, h.squared_loss
    losses = []
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = loss(net(X, w, b), y)
            l.sum().backward()
            h.sgd([w, b], lr, batch_size)
        with torch.no_grad():
            train_l = loss(net(features, w, b), labels)
            print(f'epoch {epoch + 1}, loss {float(train_l.mean()):f}')
            losses.append(float(train_l.mean()))
    print(f'error in estimating w: {true_w - w.reshape(true_w.shape)}')
    print(f'error in estimating b: {true_b - b}')
    assert w.requires_grad and w.is_leaf and w.grad is not None
    return losses, w.detach().numpy().copy(), b.detach().numpy().copy()


def linear_regression_concise(lib, start, is_train=True):
    torch, nn, h = lib.torch, lib.nn, d2l(lib)
    true_w = torch.tensor([2, -3.4])
    true_b = 4.2
    features, labels = start(torch, *h.synthetic_data(true_w, true_b, 1000))
    batch_size = 10
    data_iter = h.load_array((features, labels), batch_size, is_train)
    X0, y0 = next(iter(data_iter))
    assert X0.shape == (10, 2) and y0.shape == (10, 1)
    net = nn.Sequential(nn.Linear(2, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    start.module(torch, net)
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.03)
    losses = []
    for epoch in range(3):
        for X, y in data_iter:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
        l = loss(net(features), labels)
        print(f'epoch {epoch + 1}, loss {l:f}')
        losses.append(float(l))
    w = net[0].weight.data
    print('error in estimating w:', true_w - w.reshape(true_w.shape))
    b = net[0].bias.data
    print('error in estimating b:', true_b - b)
    return losses, w.numpy().copy(), b.numpy().copy()


def test_linear_regression_scratch():
    losses, w, b = linear_regression_scratch(ENGINE, Start())
    falls(losses)
    close(w.ravel(), [2, -3.4], atol=5e-3, rtol=0)
    close(b, [4.2], atol=5e-3, rtol=0)


def test_linear_regression_scratch_matches_pytorch():
    (l1, w1, b1), (l2, w2, b2) = both(linear_regression_scratch)
    close(l1, l2)
    close(w1, w2)
    close(b1, b2)


def test_linear_regression_concise():
    losses, w, b = linear_regression_concise(ENGINE, Start())
    falls(losses)
    close(w.ravel(), [2, -3.4], atol=5e-3, rtol=0)


def test_linear_regression_concise_matches_pytorch():
    (l1, w1, b1), (l2, w2, b2) = both(linear_regression_concise, is_train=False)
    close(l1, l2)
    close(w1, w2)
    close(b1, b2)


# -- 2. softmax regression ---------------------------------------------------------------

def softmax_scratch(lib, start, num_epochs=2, batch_size=64):
    torch, h = lib.torch, d2l(lib)
    train_iter, test_iter = load_data_fashion_mnist(lib, batch_size)
    num_inputs, num_outputs = 784, 10
    W = start(torch, torch.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True))
    b = torch.zeros(num_outputs, requires_grad=True)

    X = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert X.sum(0, keepdim=True).shape == (1, 3) and X.sum(1, keepdim=True).shape == (2, 1)

    def softmax(X):
        X_exp = torch.exp(X)
        partition = X_exp.sum(1, keepdim=True)
        return X_exp / partition

    X = torch.normal(0, 1, (2, 5))
    X_prob = softmax(X)
    close(X_prob.sum(1).numpy(), [1, 1], rtol=1e-6)

    def net(X):
        return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)

    y = torch.tensor([0, 2])
    y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    close(y_hat[[0, 1], y].numpy(), [0.1, 0.5])

    def cross_entropy(y_hat, y):
        return - torch.log(y_hat[range(len(y_hat)), y])

    close(cross_entropy(y_hat, y).numpy(), -np.log([0.1, 0.5]), rtol=1e-6)
    assert h.accuracy(y_hat, y) / len(y) == 0.5

    lr = 0.1

    def updater(batch_size):
        return h.sgd([W, b], lr, batch_size)

    assert not isinstance(net, torch.nn.Module)
    assert 0 <= h.evaluate_accuracy(net, test_iter) <= 1
    history = h.train_ch3(net, train_iter, test_iter, cross_entropy, num_epochs, updater)
    X, y = next(iter(test_iter))
    preds = net(X).argmax(axis=1)
    assert preds.shape == y.shape
    return history, W.detach().numpy().copy()


def softmax_concise(lib, start, num_epochs=2, batch_size=64):
    torch, nn, h = lib.torch, lib.nn, d2l(lib)
    train_iter, test_iter = load_data_fashion_mnist(lib, batch_size)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    start.module(torch, net)
    loss = nn.CrossEntropyLoss(reduction='none')
    trainer = torch.optim.SGD(net.parameters(), lr=0.1)
    history = h.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
    return history, net[1].weight.detach().numpy().copy()


@pytest.mark.parametrize("program", [softmax_scratch, softmax_concise])
def test_softmax_regression(program):
    history, _ = program(ENGINE, Start())
    falls(history)
    assert history[-1][1] > 0.3 and history[-1][2] > 0.3  # chance: 0.1


@pytest.mark.parametrize("program", [softmax_scratch, softmax_concise])
def test_softmax_regression_matches_pytorch(program):
    (h1, w1), (h2, w2) = both(program)
    close(h1, h2, rtol=1e-4)
    close(w1, w2, rtol=1e-3, atol=1e-5)


# -- 3. multilayer perceptrons -----------------------------------------------------------

def mlp_scratch(lib, start, num_epochs=2, batch_size=64):
    torch, nn, h = lib.torch, lib.nn, d2l(lib)
    train_iter, test_iter = load_data_fashion_mnist(lib, batch_size)
    num_inputs, num_outputs, num_hiddens = 784, 10, 256
    W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens, requires_grad=True) * 0.01)
    b1 = nn.Parameter(torch.zeros(num_hiddens, requires_grad=True))
    W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs, requires_grad=True) * 0.01)
    b2 = nn.Parameter(torch.zeros(num_outputs, requires_grad=True))
    params = [W1, b1, W2, b2]
    start(torch, *params)

    def relu(X):
        a = torch.zeros_like(X)
        return torch.max(X, a)

    close(relu(torch.tensor([-1.0, 0.0, 2.0])).numpy(), [0, 0, 2])

    def net(X):
        X = X.reshape((-1, num_inputs))
        H = relu(X @ W1 + b1)
        return (H @ W2 + b2)

    loss = nn.CrossEntropyLoss(reduction='none')
    lr = 0.1
    updater = torch.optim.SGD(params, lr=lr)
    history = h.train_ch3(net, train_iter, test_iter, loss, num_epochs, updater)
    return history, W1.detach().numpy().copy()


def mlp_concise(lib, start, num_epochs=2, batch_size=64):
    torch, nn, h = lib.torch, lib.nn, d2l(lib)
    train_iter, test_iter = load_data_fashion_mnist(lib, batch_size)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    start.module(torch, net)
    loss = nn.CrossEntropyLoss(reduction='none')
    trainer = torch.optim.SGD(net.parameters(), lr=0.1)
    history = h.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
    return history, net[1].weight.detach().numpy().copy()


@pytest.mark.parametrize("program", [mlp_scratch, mlp_concise])
def test_mlp(program):
    history, _ = program(ENGINE, Start(), num_epochs=3)
    falls(history)


@pytest.mark.parametrize("program", [mlp_scratch, mlp_concise])
def test_mlp_matches_pytorch(program):
    (h1, w1), (h2, w2) = both(program)
    close(h1, h2, rtol=1e-4)
    close(w1, w2, rtol=1e-3, atol=1e-5)


# -- 4. weight decay, dropout ------------------------------------------------------------

def weight_decay(lib, start, lambd=3, concise=False, num_epochs=20):
    torch, nn, h = lib.torch, lib.nn, d2l(lib)
    n_train, n_test, num_inputs, batch_size = 20, 100, 200, 5
    true_w, true_b = torch.ones((num_inputs, 1)) * 0.01, 0.05
    train_data = start(torch, *h.synthetic_data(true_w, true_b, n_train))
    train_iter = h.load_array(train_data, batch_size, is_train=False)
    test_data = start(torch, *h.synthetic_data(true_w, true_b, n_test))
    test_iter = h.load_array(test_data, batch_size, is_train=False)

    def init_params():
        w = torch.normal(0, 1, size=(num_inputs, 1), requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        return [w, b]

    def l2_penalty(w):
        return torch.sum(w.pow(2)) / 2

    def train(lambd):
        w, b = start(torch, *init_params())
        net, loss = lambda X: h.linreg(X, w, b), h.squared_loss
        lr = 0.003
        curve = []
        for epoch in range(num_epochs):
            for X, y in train_iter:
                l = loss(net(X), y) + lambd * l2_penalty(w)
                l.sum().backward()
                h.sgd([w, b], lr, batch_size)
            if (epoch + 1) % 5 == 0:
                curve.append((h.evaluate_loss(net, train_iter, loss),
                              h.evaluate_loss(net, test_iter, loss)))
        print('L2 norm of w:', torch.norm(w).item())
        return curve, torch.norm(w).item()

    def train_concise(wd):
        net = nn.Sequential(nn.Linear(num_inputs, 1))
        for param in net.parameters():
            param.data.normal_()
        start.module(torch, net)
        loss = nn.MSELoss(reduction='none')
        lr = 0.003
        trainer = torch.optim.SGD([
            {"params": net[0].weight, 'weight_decay': wd},
            {"params": net[0].bias}], lr=lr)
        curve = []
        for epoch in range(num_epochs):
            for X, y in train_iter:
                trainer.zero_grad()
                l = loss(net(X), y)
                l.mean().backward()
                trainer.step()
            if (epoch + 1) % 5 == 0:
                curve.append((h.evaluate_loss(net, train_iter, loss),
                              h.evaluate_loss(net, test_iter, loss)))
        print('L2 norm of w:', net[0].weight.norm().item())
        return curve, net[0].weight.norm().item()

    return train_concise(lambd) if concise else train(lambd)


@pytest.mark.parametrize("concise", [False, True])
def test_weight_decay(concise):
    curve0, norm0 = weight_decay(ENGINE, Start(), lambd=0, concise=concise)
    curve3, norm3 = weight_decay(ENGINE, Start(), lambd=3, concise=concise)
    falls(curve0)
    assert norm3 < norm0


@pytest.mark.parametrize("concise", [False, True])
def test_weight_decay_matches_pytorch(concise):
    (c1, n1), (c2, n2) = both(weight_decay, lambd=3, concise=concise)
    close(c1, c2, rtol=1e-4)
    close(n1, n2, rtol=1e-5)


def dropout_program(lib, start, concise=False, num_epochs=3, dropout1=0.2, dropout2=0.5):
    torch, nn, h = lib.torch, lib.nn, d2l(lib)

    def dropout_layer(X, dropout):
        assert 0 <= dropout <= 1
        if dropout == 1:
            return torch.zeros_like(X)
        if dropout == 0:
            return X
        mask = (torch.rand(X.shape) > dropout).float()
        return mask * X / (1.0 - dropout)

    X = torch.arange(16, dtype=torch.float32).reshape((2, 8))
    assert (dropout_layer(X, 0.) == X).all()
    assert (dropout_layer(X, 1.) == 0).all()
    Y = dropout_layer(X, 0.5)
    assert ((Y == 0) | (Y == 2 * X)).all()

    num_inputs, num_outputs, num_hiddens1, num_hiddens2 = 784, 10, 256, 256

    class Net(nn.Module):
        def __init__(self, num_inputs, num_outputs, num_hiddens1, num_hiddens2,
                     is_training=True):
            super(Net, self).__init__()
            self.num_inputs = num_inputs
            self.training = is_training
            self.lin1 = nn.Linear(num_inputs, num_hiddens1)
            self.lin2 = nn.Linear(num_hiddens1, num_hiddens2)
            self.lin3 = nn.Linear(num_hiddens2, num_outputs)
            self.relu = nn.ReLU()

        def forward(self, X):
            H1 = self.relu(self.lin1(X.reshape((-1, self.num_inputs))))
            if self.training == True:  # noqa: E712 (the book's)
                H1 = dropout_layer(H1, dropout1)
            H2 = self.relu(self.lin2(H1))
            if self.training == True:  # noqa: E712
                H2 = dropout_layer(H2, dropout2)
            out = self.lin3(H2)
            return out

    if concise:
        net = nn.Sequential(nn.Flatten(),
                            nn.Linear(784, 256), nn.ReLU(), nn.Dropout(dropout1),
                            nn.Linear(256, 256), nn.ReLU(), nn.Dropout(dropout2),
                            nn.Linear(256, 10))

        def init_weights(m):
            if type(m) == nn.Linear:
                nn.init.normal_(m.weight, std=0.01)

        net.apply(init_weights)
    else:
        net = Net(num_inputs, num_outputs, num_hiddens1, num_hiddens2)
    start.module(torch, net)
    lr, batch_size = 0.5, 64
    loss = nn.CrossEntropyLoss(reduction='none')
    train_iter, test_iter = load_data_fashion_mnist(lib, batch_size)
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    history = h.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
    assert not net.training
    return history


@pytest.mark.parametrize("concise", [False, True])
def test_dropout(concise):
    history = dropout_program(ENGINE, Start(), concise=concise)
    falls(history)


@pytest.mark.parametrize("concise", [False, True])
def test_dropout_without_dropping_matches_pytorch(concise):
    # the masks are random draws of each library: compare with nothing dropped
    h1, h2 = both(dropout_program, concise=concise, dropout1=0, dropout2=0)
    close(h1, h2, rtol=1e-4)


# -- 5. numerical stability, initialization, builders' guide -----------------------------

def numerical_stability(lib, start):
    torch = lib.torch
    x = torch.arange(-8.0, 8.0, 0.1, requires_grad=True)
    y = torch.sigmoid(x)
    y.backward(torch.ones_like(x))
    M = start(torch, torch.normal(0, 1, size=(4, 4)))
    for i in range(100):
        M = torch.mm(M, start(torch, torch.normal(0, 1, size=(4, 4))))
    return y.detach().numpy(), x.grad.numpy(), M.numpy()


def test_numerical_stability():
    y, g, M = numerical_stability(ENGINE, Start())
    close(g, y * (1 - y), rtol=1e-5, atol=1e-7)
    assert np.abs(M).max() > 1e20   # the product explodes


def test_numerical_stability_matches_pytorch():
    ours, theirs = both(numerical_stability)
    for a, b in zip(ours, theirs):
        close(a, b, rtol=1e-3, atol=1e-7)


def parameters_program(lib, start):
    """Parameter management, initialization, tied parameters."""
    torch, nn = lib.torch, lib.nn
    out = {}
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    start.module(torch, net)
    X = start(torch, torch.rand(size=(2, 4)))
    out["net(X)"] = net(X).detach().numpy()
    sd = net[2].state_dict()
    assert list(sd.keys()) == ["weight", "bias"]
    assert type(net[2].bias) is nn.parameter.Parameter
    assert isinstance(net[2].bias, torch.Tensor)
    out["bias.data"] = net[2].bias.data.numpy()
    assert type(net[2].bias.data) is torch.Tensor and not net[2].bias.data.requires_grad
    assert net[2].weight.grad == None  # noqa: E711 (the book's)
    out["names0"] = [(name, tuple(param.shape)) for name, param in net[0].named_parameters()]
    out["names"] = [(name, tuple(param.shape)) for name, param in net.named_parameters()]
    out["2.bias"] = net.state_dict()['2.bias'].data.numpy()
    out["print"] = (repr(net[2].state_dict()), str(net[2].bias))

    def block1():
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())

    def block2():
        net = nn.Sequential()
        for i in range(4):
            net.add_module(f'block {i}', block1())
        return net

    rgnet = nn.Sequential(block2(), nn.Linear(4, 1))
    start.module(torch, rgnet)
    out["rgnet(X)"] = rgnet(X).detach().numpy()
    out["repr"] = repr(rgnet)
    out["rgnet bias"] = rgnet[0][1][0].bias.data.numpy()
    out["rgnet names"] = [n for n, _ in rgnet.named_parameters()]

    def init_normal(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, mean=0, std=0.01)
            nn.init.zeros_(m.bias)

    net.apply(init_normal)
    assert float(net[0].weight.data.abs().max()) < 0.1 and (net[0].bias.data == 0).all()

    def init_constant(m):
        if type(m) == nn.Linear:
            nn.init.constant_(m.weight, 1)
            nn.init.zeros_(m.bias)

    net.apply(init_constant)
    out["constant"] = net[0].weight.data[0].numpy()
    out["constant bias"] = net[0].bias.data[0].item()

    def init_xavier(m):
        if type(m) == nn.Linear:
            nn.init.xavier_uniform_(m.weight)

    def init_42(m):
        if type(m) == nn.Linear:
            nn.init.constant_(m.weight, 42)

    net[0].apply(init_xavier)
    net[2].apply(init_42)
    bound = np.sqrt(6 / (4 + 8))
    assert float(net[0].weight.data.abs().max()) <= bound
    out["42"] = net[2].weight.data[0].numpy()

    def init_kaiming(m):
        if type(m) == nn.Linear:
            nn.init.kaiming_normal_(m.weight, nonlinearity='relu')

    net.apply(init_kaiming)
    assert float(net[0].weight.data.std()) > 0

    def my_init(m):
        if type(m) == nn.Linear:
            print("Init", *[(name, param.shape) for name, param in m.named_parameters()][0])
            nn.init.uniform_(m.weight, -10, 10)
            m.weight.data *= m.weight.data.abs() >= 5

    net.apply(my_init)
    w = net[0].weight.data.numpy()
    assert ((w == 0) | (np.abs(w) >= 5)).all() and (np.abs(w) <= 10).all()
    start.module(torch, net)
    net[0].weight.data[:] += 1
    net[0].weight.data[0, 0] = 42
    out["my_init"] = net[0].weight.data[0].numpy()
    net[0].weight.data[0] = 42
    assert (net[0].weight[0] == 42).all() and net[0].weight.requires_grad

    shared = nn.Linear(8, 8)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(),
                        nn.Linear(8, 1))
    start.module(torch, net)
    net(X)
    assert (net[2].weight.data[0] == net[4].weight.data[0]).all()
    net[2].weight.data[0, 0] = 100
    assert (net[2].weight.data[0] == net[4].weight.data[0]).all()
    assert len(list(net.parameters())) == 6 and len(net.state_dict()) == 8
    net(X).sum().backward()
    out["shared grad"] = net[2].weight.grad.numpy()
    return out


def test_parameters():
    out = parameters_program(ENGINE, Start())
    assert out["names"] == [("0.weight", (8, 4)), ("0.bias", (8,)), ("2.weight", (1, 8)),
                            ("2.bias", (1,))]
    assert out["rgnet names"][0] == "0.block 0.0.weight"


def test_parameters_matches_pytorch():
    ours, theirs = both(parameters_program)
    for key in ours:
        if isinstance(ours[key], np.ndarray):
            close(ours[key], theirs[key], rtol=1e-5)
        else:
            assert ours[key] == theirs[key], key


def layers_and_files(lib, start, tmp_path):
    """Custom blocks and layers, file I/O."""
    torch, nn, F = lib.torch, lib.nn, lib.F
    out = {}

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(20, 256)
            self.output = nn.Linear(256, 10)

        def forward(self, X):
            return self.output(F.relu(self.hidden(X)))

    class MySequential(nn.Module):
        def __init__(self, *args):
            super().__init__()
            for idx, module in enumerate(args):
                self._modules[str(idx)] = module

        def forward(self, X):
            for block in self._modules.values():
                X = block(X)
            return X

    class FixedHiddenMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.rand_weight = torch.rand((20, 20), requires_grad=False)
            self.linear = nn.Linear(20, 20)

        def forward(self, X):
            X = self.linear(X)
            X = F.relu(torch.mm(X, self.rand_weight) + 1)
            X = self.linear(X)
            while X.abs().sum() > 1:
                X /= 2
            return X.sum()

    class NestMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
            self.linear = nn.Linear(32, 16)

        def forward(self, X):
            return self.linear(self.net(X))

    X = start(torch, torch.rand(2, 20))
    net = start.module(torch, MLP())
    out["mlp"] = net(X).detach().numpy()
    net = start.module(torch, MySequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10)))
    assert len(list(net.parameters())) == 4
    out["mysequential"] = net(X).detach().numpy()
    fixed = FixedHiddenMLP()
    start(torch, fixed.rand_weight)
    start.module(torch, fixed)
    assert len(list(fixed.parameters())) == 2
    chimera = nn.Sequential(NestMLP(), nn.Linear(16, 20), FixedHiddenMLP())
    start.module(torch, chimera)
    start(torch, chimera[2].rand_weight)
    out["fixed"] = float(fixed(X).detach())
    out["chimera"] = float(chimera(X).detach())

    class CenteredLayer(nn.Module):
        def __init__(self):
            super().__init__()

        def forward(self, X):
            return X - X.mean()

    layer = CenteredLayer()
    out["centered"] = layer(torch.FloatTensor([1, 2, 3, 4, 5])).numpy()
    net = nn.Sequential(nn.Linear(8, 128), CenteredLayer())
    Y = net(torch.rand(4, 8))
    assert abs(float(Y.mean())) < 1e-5

    class MyLinear(nn.Module):
        def __init__(self, in_units, units):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(in_units, units))
            self.bias = nn.Parameter(torch.randn(units,))

        def forward(self, X):
            linear = torch.matmul(X, self.weight.data) + self.bias.data
            return F.relu(linear)

    linear = start.module(torch, MyLinear(5, 3))
    out["mylinear repr"] = repr(linear.weight).startswith("Parameter containing:")
    x5 = start(torch, torch.rand(2, 5))
    out["mylinear"] = linear(x5).numpy()
    net = start.module(torch, nn.Sequential(MyLinear(64, 8), MyLinear(8, 1)))
    out["mylinear net"] = net(start(torch, torch.rand(2, 64))).numpy()

    os.chdir(tmp_path)
    x = torch.arange(4)
    torch.save(x, 'x-file')
    x2 = torch.load('x-file')
    assert (x2 == x).all() and x2.dtype == torch.int64
    y = torch.zeros(4)
    torch.save([x, y], 'x-files')
    x2, y2 = torch.load('x-files')
    assert (x2 == x).all() and (y2 == y).all()
    mydict = {'x': x, 'y': y}
    torch.save(mydict, 'mydict')
    mydict2 = torch.load('mydict')
    assert list(mydict2) == ['x', 'y'] and (mydict2['y'] == y).all()

    net = start.module(torch, MLP())
    X = start(torch, torch.randn(size=(2, 20)))
    Y = net(X)
    torch.save(net.state_dict(), 'mlp.params')
    clone = MLP()
    print(clone.load_state_dict(torch.load('mlp.params')))
    print(clone.eval())
    Y_clone = clone(X)
    assert (Y_clone == Y).all()
    out["clone"] = Y_clone.detach().numpy()
    return out


def test_layers_and_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = layers_and_files(ENGINE, Start(), tmp_path)
    close(out["centered"], [-2, -1, 0, 1, 2])


def test_layers_and_files_matches_pytorch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    start = Start()
    ours = layers_and_files(ENGINE, start, tmp_path / "a")
    theirs = layers_and_files(pytorch(), start.replaying(), tmp_path / "b")
    for key in ours:
        close(ours[key], theirs[key], rtol=1e-5, atol=1e-6)


# -- 6. convolutional networks ---------------------------------------------------------

def corr2d_factory(torch):
    def corr2d(X, K):
        h, w = K.shape
        Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
        for i in range(Y.shape[0]):
            for j in range(Y.shape[1]):
                Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
        return Y
    return corr2d


def convolutions(lib, start):
    torch, nn = lib.torch, lib.nn
    corr2d = corr2d_factory(torch)
    out = {}
    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    out["corr2d"] = corr2d(X, K).numpy()

    class Conv2D(nn.Module):
        def __init__(self, kernel_size):
            super().__init__()
            self.weight = nn.Parameter(torch.rand(kernel_size))
            self.bias = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return corr2d(x, self.weight) + self.bias

    X = torch.ones((6, 8))
    X[:, 2:6] = 0
    K = torch.tensor([[1.0, -1.0]])
    Y = corr2d(X, K)
    out["edge"] = Y.numpy()
    out["edge t"] = corr2d(X.t(), K).numpy()

    # the from-scratch layer learns too: Y[i, j] = ... records the assignments
    conv = start.module(torch, Conv2D(kernel_size=(1, 2)))
    for i in range(3):
        l = ((conv(X) - Y) ** 2).sum()
        conv.zero_grad()
        l.backward()
        with torch.no_grad():
            conv.weight -= 3e-2 * conv.weight.grad
            conv.bias -= 3e-2 * conv.bias.grad
    out["scratch conv"] = conv.weight.detach().numpy()

    conv2d = start.module(torch, nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False))
    X = X.reshape((1, 1, 6, 8))
    Y = Y.reshape((1, 1, 6, 7))
    lr = 3e-2
    losses = []
    for i in range(10):
        Y_hat = conv2d(X)
        l = (Y_hat - Y) ** 2
        conv2d.zero_grad()
        l.sum().backward()
        conv2d.weight.data[:] -= lr * conv2d.weight.grad
        if (i + 1) % 2 == 0:
            print(f'epoch {i + 1}, loss {l.sum():.3f}')
        losses.append(float(l.sum().detach()))
    out["learn losses"] = losses
    out["learned"] = conv2d.weight.data.reshape((1, 2)).numpy()

    def comp_conv2d(conv2d, X):
        X = X.reshape((1, 1) + X.shape)
        Y = conv2d(X)
        return Y.reshape(Y.shape[2:])

    X = start(torch, torch.rand(size=(8, 8)))
    shapes = []
    for conv2d in (nn.Conv2d(1, 1, kernel_size=3, padding=1),
                   nn.Conv2d(1, 1, kernel_size=(5, 3), padding=(2, 1)),
                   nn.Conv2d(1, 1, kernel_size=3, padding=1, stride=2),
                   nn.Conv2d(1, 1, kernel_size=(3, 5), padding=(0, 1), stride=(3, 4))):
        start.module(torch, conv2d)
        Y = comp_conv2d(conv2d, X)
        shapes.append(tuple(Y.shape))
        out[f"comp {len(shapes)}"] = Y.detach().numpy()
    out["shapes"] = shapes

    def corr2d_multi_in(X, K):
        return sum(corr2d(x, k) for x, k in zip(X, K))

    X = torch.tensor([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
                      [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
    K = torch.tensor([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
    out["multi in"] = corr2d_multi_in(X, K).numpy()

    def corr2d_multi_in_out(X, K):
        return torch.stack([corr2d_multi_in(X, k) for k in K], 0)

    K = torch.stack((K, K + 1, K + 2), 0)
    assert K.shape == (3, 2, 2, 2)
    out["multi in out"] = corr2d_multi_in_out(X, K).numpy()

    def corr2d_multi_in_out_1x1(X, K):
        c_i, h, w = X.shape
        c_o = K.shape[0]
        X = X.reshape((c_i, h * w))
        K = K.reshape((c_o, c_i))
        Y = torch.matmul(K, X)
        return Y.reshape((c_o, h, w))

    X = start(torch, torch.normal(0, 1, (3, 3, 3)))
    K = start(torch, torch.normal(0, 1, (2, 3, 1, 1)))
    Y1 = corr2d_multi_in_out_1x1(X, K)
    Y2 = corr2d_multi_in_out(X, K)
    assert float(torch.abs(Y1 - Y2).sum()) < 1e-6
    return out


def test_convolutions():
    out = convolutions(ENGINE, Start())
    close(out["corr2d"], [[19, 25], [37, 43]])
    assert (out["edge t"] == 0).all()
    falls(out["learn losses"])
    close(out["learned"], [[1, -1]], atol=0.1)
    assert out["shapes"] == [(8, 8), (8, 8), (4, 4), (2, 2)]
    close(out["multi in"], [[56, 72], [104, 120]])


def test_convolutions_matches_pytorch():
    ours, theirs = both(convolutions)
    for key in ours:
        close(ours[key], theirs[key], rtol=1e-5, atol=1e-6)


def pooling(lib, start):
    torch, nn = lib.torch, lib.nn
    out = {}

    def pool2d(X, pool_size, mode='max'):
        p_h, p_w = pool_size
        Y = torch.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1))
        for i in range(Y.shape[0]):
            for j in range(Y.shape[1]):
                if mode == 'max':
                    Y[i, j] = X[i: i + p_h, j: j + p_w].max()
                elif mode == 'avg':
                    Y[i, j] = X[i: i + p_h, j: j + p_w].mean()
        return Y

    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    out["max"] = pool2d(X, (2, 2)).numpy()
    out["avg"] = pool2d(X, (2, 2), 'avg').numpy()
    X = torch.arange(16, dtype=torch.float32).reshape((1, 1, 4, 4))
    out["pool3"] = nn.MaxPool2d(3)(X).numpy()
    out["pool3 padded"] = nn.MaxPool2d(3, padding=1, stride=2)(X).numpy()
    out["pool23"] = nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))(X).numpy()
    X = torch.cat((X, X + 1), 1)
    out["channels"] = nn.MaxPool2d(3, padding=1, stride=2)(X).numpy()
    out["avgpool"] = nn.AvgPool2d(2, stride=2)(X).numpy()
    return out


def test_pooling():
    out = pooling(ENGINE, Start())
    close(out["max"], [[4, 5], [7, 8]])
    close(out["avg"], [[2, 3], [5, 6]])
    close(out["pool3 padded"], [[[[5, 7], [13, 15]]]])
    assert out["channels"].shape == (1, 2, 2, 2)


def test_pooling_matches_pytorch():
    ours, theirs = both(pooling)
    for key in ours:
        close(ours[key], theirs[key], rtol=1e-6)


def lenet(lib, start, norm=None, num_epochs=2, lr=0.9):
    """LeNet; with norm='scratch' or 'concise', the batch-norm chapter's LeNet."""
    torch, nn, h = lib.torch, lib.nn, d2l(lib)

    def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
        if not torch.is_grad_enabled():
            X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
        else:
            assert len(X.shape) in (2, 4)
            if len(X.shape) == 2:
                mean = X.mean(dim=0)
                var = ((X - mean) ** 2).mean(dim=0)
            else:
                mean = X.mean(dim=(0, 2, 3), keepdim=True)
                var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
            X_hat = (X - mean) / torch.sqrt(var + eps)
            moving_mean = momentum * moving_mean + (1.0 - momentum) * mean
            moving_var = momentum * moving_var + (1.0 - momentum) * var
        Y = gamma * X_hat + beta
        return Y, moving_mean.data, moving_var.data

    class BatchNorm(nn.Module):
        def __init__(self, num_features, num_dims):
            super().__init__()
            if num_dims == 2:
                shape = (1, num_features)
            else:
                shape = (1, num_features, 1, 1)
            self.gamma = nn.Parameter(torch.ones(shape))
            self.beta = nn.Parameter(torch.zeros(shape))
            self.moving_mean = torch.zeros(shape)
            self.moving_var = torch.ones(shape)

        def forward(self, X):
            if self.moving_mean.device != X.device:
                self.moving_mean = self.moving_mean.to(X.device)
                self.moving_var = self.moving_var.to(X.device)
            Y, self.moving_mean, self.moving_var = batch_norm(
                X, self.gamma, self.beta, self.moving_mean,
                self.moving_var, eps=1e-5, momentum=0.9)
            return Y

    if norm is None:
        net = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
            nn.Linear(120, 84), nn.Sigmoid(),
            nn.Linear(84, 10))
        X = torch.rand(size=(1, 1, 28, 28), dtype=torch.float32)
        shapes = []
        for layer in net:
            X = layer(X)
            print(layer.__class__.__name__, 'output shape: \t', X.shape)
            shapes.append(tuple(X.shape))
        assert shapes[-1] == (1, 10) and shapes[6] == (1, 400)
    elif norm == "scratch":
        net = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5), BatchNorm(6, num_dims=4), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), BatchNorm(16, num_dims=4), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
            nn.Linear(16 * 4 * 4, 120), BatchNorm(120, num_dims=2), nn.Sigmoid(),
            nn.Linear(120, 84), BatchNorm(84, num_dims=2), nn.Sigmoid(),
            nn.Linear(84, 10))
    else:
        net = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
            nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
            nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
            nn.Linear(84, 10))
    batch_size = 64
    train_iter, test_iter = load_data_fashion_mnist(lib, batch_size)
    history = h.train_ch6(net, train_iter, test_iter, num_epochs, lr, h.try_gpu(), start)
    if norm == "scratch":
        gamma = net[1].gamma.reshape((-1,)).detach().numpy()
        moving = net[1].moving_mean.reshape((-1,)).numpy()
        assert not net[1].moving_mean.requires_grad
    elif norm == "concise":
        gamma = net[1].weight.reshape((-1,)).detach().numpy()
        moving = net[1].running_mean.numpy()
    else:
        gamma = moving = net[0].weight.detach().numpy()
    return history, gamma, moving


@pytest.mark.parametrize("norm", [None, "scratch", "concise"])
def test_lenet(norm):
    history, _, _ = lenet(ENGINE, Start(), norm, num_epochs=3)
    falls(history)


@pytest.mark.parametrize("norm", [None, "scratch", "concise"])
def test_lenet_matches_pytorch(norm):
    (h1, g1, m1), (h2, g2, m2) = both(lenet, norm)
    close(h1, h2, rtol=1e-3, atol=1e-4)
    close(g1, g2, rtol=1e-3, atol=1e-4)
    close(m1, m2, rtol=1e-3, atol=1e-4)


def resnet(lib, start, num_epochs=2, lr=0.05):
    """ResNet (nn.Conv2d as the book's first edition writes it), narrow and on 28x28 images."""
    torch, nn, F, h = lib.torch, lib.nn, lib.F, d2l(lib)

    class Residual(nn.Module):
        def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1,
                                   stride=strides)
            self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
            if use_1x1conv:
                self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1,
                                       stride=strides)
            else:
                self.conv3 = None
            self.bn1 = nn.BatchNorm2d(num_channels)
            self.bn2 = nn.BatchNorm2d(num_channels)

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            Y += X
            return F.relu(Y)

    blk = Residual(3, 3)
    X = torch.rand(4, 3, 6, 6)
    assert blk(X).shape == (4, 3, 6, 6)
    blk = Residual(3, 6, use_1x1conv=True, strides=2)
    assert blk(X).shape == (4, 6, 3, 3)

    b1 = nn.Sequential(nn.Conv2d(1, 8, kernel_size=7, stride=2, padding=3),
                       nn.BatchNorm2d(8), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
            else:
                blk.append(Residual(num_channels, num_channels))
        return blk

    b2 = nn.Sequential(*resnet_block(8, 8, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(8, 16, 2))
    net = nn.Sequential(b1, b2, b3, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                        nn.Linear(16, 10))
    X = torch.rand(size=(1, 1, 28, 28))
    for layer in net:
        X = layer(X)
        print(layer.__class__.__name__, 'output shape:\t', X.shape)
    assert X.shape == (1, 10)
    train_iter, test_iter = load_data_fashion_mnist(lib, 64, n_train=128, n_test=64)
    history = h.train_ch6(net, train_iter, test_iter, num_epochs, lr, h.try_gpu(), start)
    return history, net[0][1].running_var.numpy()


def test_resnet():
    history, _ = resnet(ENGINE, Start(), num_epochs=3)
    falls(history)


def test_resnet_matches_pytorch():
    (h1, v1), (h2, v2) = both(resnet)
    close(h1, h2, rtol=1e-3, atol=1e-4)
    close(v1, v2, rtol=1e-3, atol=1e-5)


# -- what the programs found missing -------------------------------------------------------

def test_normal_takes_pytorchs_four_forms():
    torch = tinygrad_kr
    x = torch.normal(0, 1, (1000, 2))                       # synthetic_data
    assert x.shape == (1000, 2) and x.dtype == torch.float32 and not x.requires_grad
    assert abs(float(x.mean())) < 0.1 and abs(float(x.std()) - 1) < 0.1
    y = torch.normal(0, 0.01, torch.Size([3, 1]))
    assert y.shape == (3, 1) and float(y.abs().max()) < 0.1
    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    assert w.requires_grad and w.is_leaf
    assert torch.normal(torch.zeros(3, dtype=torch.float64), 1.0).dtype == torch.float64
    assert torch.normal(2.0, torch.ones(2, 1)).shape == (2, 1)
    m = torch.normal(torch.full((1000,), 5.0), torch.full((1, 1000), 0.5))
    assert m.shape == (1, 1000) and abs(float(m.mean()) - 5) < 0.1
    assert torch.normal(0, 1, (2,), dtype=torch.float64).dtype == torch.float64
    torch.manual_seed(3)
    a = torch.normal(0, 1, (4,))
    torch.manual_seed(3)
    assert (torch.normal(0, 1, (4,)) == a).all()
    with pytest.raises(TypeError, match="invalid combination"):
        torch.normal(0, 1)
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        torch.normal(0, -1.0, (2,))


def test_factories_take_size_as_a_keyword():
    torch = tinygrad_kr
    for f in (torch.rand, torch.randn, torch.zeros, torch.ones, torch.empty):
        assert f(size=(2, 4)).shape == (2, 4)
        assert f(size=[3]).shape == (3,)
        assert f(2, 4).shape == f((2, 4)).shape == (2, 4)
    assert torch.zeros(size=(2,), dtype=torch.int64).dtype == torch.int64
    with pytest.raises(TypeError, match="size"):
        torch.zeros(2, size=(2,))


def test_legacy_typed_constructors():
    torch = tinygrad_kr
    x = torch.FloatTensor([1, 2, 3, 4, 5])
    assert x.dtype == torch.float32 and x.tolist() == [1, 2, 3, 4, 5]
    assert torch.FloatTensor(2, 3).shape == (2, 3)
    assert torch.FloatTensor(torch.Size([2])).shape == (2,)
    assert torch.LongTensor([1, 2]).dtype == torch.int64
    assert torch.DoubleTensor([1]).dtype == torch.float64
    assert isinstance(x, torch.FloatTensor) and isinstance(x, torch.Tensor)
    assert not isinstance(x, torch.LongTensor) and not isinstance([1.0], torch.FloatTensor)
    with pytest.raises(TypeError):
        torch.FloatTensor(torch.tensor([1, 2]))


def test_numpy_keyword_names_as_pytorch():
    """PyTorch takes NumPy's ``axis=`` and ``keepdims=`` for ``dim=`` and
    ``keepdim=``: d2l writes ``y_hat.argmax(axis=1)``, ``A.sum(axis=1, keepdims=True)``,
    ``A.cumsum(axis=0)``."""
    torch = tinygrad_kr
    a = np.arange(20, dtype=np.float32).reshape(5, 4) % 7
    A = torch.tensor(a)
    calls = {
        "argmax": lambda A: A.argmax(axis=1), "argmin": lambda A: A.argmin(axis=0),
        "argmax keepdims": lambda A: A.argmax(axis=1, keepdims=True),
        "sum": lambda A: A.sum(axis=1, keepdims=True), "mean": lambda A: A.mean(axis=0,
                                                                                keepdims=True),
        "max": lambda A: A.max(axis=1, keepdims=True).values,
        "min": lambda A: A.min(axis=0).indices, "amax": lambda A: A.amax(axis=0),
        "amin": lambda A: A.amin(axis=1, keepdims=True), "var": lambda A: A.var(axis=0),
        "std": lambda A: A.std(axis=1, keepdims=True), "cumsum": lambda A: A.cumsum(axis=0),
        "torch.sum": lambda A: A.__class__.sum(A, axis=[0, 1]),
    }
    expected = {
        "argmax": a.argmax(1), "argmin": a.argmin(0), "argmax keepdims": a.argmax(1)[:, None],
        "sum": a.sum(1, keepdims=True), "mean": a.mean(0, keepdims=True),
        "max": a.max(1, keepdims=True), "min": a.argmin(0), "amax": a.max(0),
        "amin": a.min(1, keepdims=True), "var": a.var(0, ddof=1),
        "std": a.std(1, ddof=1, keepdims=True), "cumsum": a.cumsum(0), "torch.sum": a.sum(),
    }
    for name, call in calls.items():
        close(call(A).numpy(), expected[name], rtol=1e-6)
    with pytest.raises(TypeError, match="dim"):
        A.cumsum()


def test_mv():
    torch = tinygrad_kr
    A = torch.arange(20, dtype=torch.float64).reshape(5, 4)
    x = torch.ones(4, dtype=torch.float64, requires_grad=True)
    y = torch.mv(A, x)
    close(y.detach().numpy(), A.numpy() @ np.ones(4))
    y.sum().backward()
    close(x.grad.numpy(), A.numpy().sum(0))
    assert A.mv(x.detach()).shape == (5,)
    assert tinygrad_kr.autograd.gradcheck(lambda v: torch.mv(A, v), (x,))
    with pytest.raises(RuntimeError, match="vector \\+ matrix @ vector expected, got 1, 1, 1"):
        torch.mv(x, x)
    with pytest.raises(RuntimeError, match="size mismatch"):
        torch.mv(A, torch.ones(5, dtype=torch.float64))


def resnet_lazy(lib, start, num_epochs=2, lr=0.05):
    """The second edition's ResNet: nn.LazyConv2d / nn.LazyBatchNorm2d / nn.LazyLinear,
    initialized by a forward pass (``apply_init``) before the optimizer is built."""
    torch, nn, F = lib.torch, lib.nn, lib.F

    class Residual(nn.Module):
        def __init__(self, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1, stride=strides)
            self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
            if use_1x1conv:
                self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides)
            else:
                self.conv3 = None
            self.bn1 = nn.LazyBatchNorm2d()
            self.bn2 = nn.LazyBatchNorm2d()

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            Y += X
            return F.relu(Y)

    blk = Residual(6, use_1x1conv=True, strides=2)
    X = torch.randn(4, 3, 6, 6)
    assert blk(X).shape == (4, 6, 3, 3)
    assert type(blk.conv1) is nn.Conv2d and blk.conv1.in_channels == 3

    def block(num_residuals, num_channels, first_block=False):
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(num_channels, use_1x1conv=True, strides=2))
            else:
                blk.append(Residual(num_channels))
        return nn.Sequential(*blk)

    net = nn.Sequential(
        nn.Sequential(nn.LazyConv2d(8, kernel_size=7, stride=2, padding=3),
                      nn.LazyBatchNorm2d(), nn.ReLU(),
                      nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        block(1, 8, first_block=True), block(1, 16),
        nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(10)))

    def init_cnn(module):
        if type(module) == nn.Linear or type(module) == nn.Conv2d:
            nn.init.xavier_uniform_(module.weight)

    net(torch.zeros(1, 1, 28, 28))        # apply_init: the shapes, then the init
    net.apply(init_cnn)
    start.module(torch, net)
    assert all(type(p) is nn.Parameter for p in net.parameters())
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    train_iter, _ = load_data_fashion_mnist(lib, 64, n_train=128, n_test=64)
    losses = []
    for epoch in range(num_epochs):
        for X, y in train_iter:
            l = loss(net(X), y)
            optimizer.zero_grad()
            l.backward()
            optimizer.step()
            losses.append(float(l.detach()))
    return losses


def test_resnet_lazy():
    losses = resnet_lazy(ENGINE, Start(), num_epochs=3)
    falls(losses[::2])


def test_resnet_lazy_matches_pytorch():
    ours, theirs = both(resnet_lazy)
    close(ours, theirs, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("make, x", [
    (lambda nn: nn.LazyLinear(3), (2, 5)),
    (lambda nn: nn.LazyConv2d(4, 3, padding=1, groups=2), (2, 6, 5, 5)),
    (lambda nn: nn.LazyBatchNorm1d(), (4, 5)),
    (lambda nn: nn.LazyBatchNorm2d(affine=False), (4, 3, 2, 2)),
])
def test_lazy_layers(make, x):
    """Uninitialized until the first input; then materialized in place (an
    optimizer built before holds the same objects) and the plain layer."""
    import copy
    torch, nn = tinygrad_kr, tinygrad_kr.nn
    layer = make(nn)
    params = list(layer.parameters())
    assert all(isinstance(p, nn.parameter.UninitializedParameter) for p in params)
    assert layer.has_uninitialized_params()
    twin = copy.deepcopy(layer)
    opt = torch.optim.Adam(params, lr=0.1) if params else None
    y = layer(torch.randn(*x))
    assert type(layer).__name__ == type(layer).__name__.replace("Lazy", "")
    assert list(layer.parameters()) == params and all(type(p) is nn.Parameter for p in params)
    assert isinstance(layer, nn.Module) and not hasattr(layer, "_initialize_hook")
    if params:
        y.square().sum().backward()
        before = [p.detach().clone() for p in params]
        opt.step()
        assert any((p != b).any() for p, b in zip(params, before))
    assert twin(torch.randn(*x)).shape == y.shape      # the copy initializes on its own
    reference = {"LazyLinear": lambda: nn.Linear(5, 3),
                 "LazyConv2d": lambda: nn.Conv2d(6, 4, 3, padding=1, groups=2),
                 "LazyBatchNorm1d": lambda: nn.BatchNorm1d(5),
                 "LazyBatchNorm2d": lambda: nn.BatchNorm2d(3, affine=False)}
    plain = reference[type(make(nn)).__name__]()
    assert repr(layer) == repr(plain)
    assert {k: tuple(v.shape) for k, v in layer.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in plain.state_dict().items()}


@pytest.mark.parametrize("lazy,plain,shape", [
    (lambda nn: nn.LazyLinear(3), lambda nn: nn.Linear(5, 3), (2, 5)),
    (lambda nn: nn.LazyConv2d(4, 3), lambda nn: nn.Conv2d(2, 4, 3), (1, 2, 6, 6)),
    (lambda nn: nn.LazyBatchNorm2d(), lambda nn: nn.BatchNorm2d(2), (2, 2, 3, 3))])
def test_lazy_layers_load_a_checkpoint_before_their_first_forward(lazy, plain, shape):
    """Build the lazy model, load a trained state, then run it (PyTorch fills the
    parameters in from the checkpoint; the first forward keeps them)."""
    nn = tinygrad_kr.nn
    source, model = plain(nn), lazy(nn)
    with tinygrad_kr.no_grad():
        for t in source.state_dict(keep_vars=True).values():
            if t.is_floating_point():
                t.copy_(tinygrad_kr.randn(*t.shape).abs())   # abs: a valid running_var
    model.load_state_dict(source.state_dict())
    source.eval()
    model.eval()
    x = tinygrad_kr.randn(*shape)
    np.testing.assert_allclose(model(x).detach().numpy(), source(x).detach().numpy(), rtol=1e-6)
    assert type(model) is type(source) and repr(model) == repr(source)
