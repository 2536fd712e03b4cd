"""End-to-end training with the library as course code uses it: a seed-style
SLP on real MNIST, and a checkpoint resume that must not change a bit."""
import numpy as np
import pytest

import tinygrad_kr as torch
import tinygrad_kr.nn as nn
import tinygrad_kr.nn.functional as F
from tinygrad_kr.optim.lr_scheduler import StepLR
from tinygrad_kr.utils.data import DataLoader, TensorDataset
from needs import unavailable


def _mnist(tmp_path, train):
    from tinygrad_kr.vision import datasets
    try:
        ds = datasets.MNIST(tmp_path, train=train, download=False)
    except RuntimeError as e:          # no offline source installed: the message says which
        unavailable(str(e))
    x = ds.data.numpy().reshape(len(ds), 784).astype(np.float32) / 255.0
    return torch.from_numpy(x), ds.targets


def test_slp_on_mnist_with_sgd_and_steplr_passes_90_percent(tmp_path):
    """The course's first experiment, as its code reads with PyTorch."""
    torch.manual_seed(0)
    x_train, y_train = _mnist(tmp_path, True)
    x_test, y_test = _mnist(tmp_path, False)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=100, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    model = nn.Linear(784, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.5)
    for _ in range(2):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
    with torch.no_grad():
        accuracy = (model(x_test).argmax(dim=1) == y_test).float().mean().item()
    assert accuracy > 0.90


def _build():
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05, amsgrad=True)
    scheduler = StepLR(optimizer, step_size=2, gamma=0.5)
    return model, optimizer, scheduler


def _train(model, optimizer, scheduler, batches):
    model.train()
    for x, y in batches:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        scheduler.step()


def test_resuming_model_optimizer_and_scheduler_is_bit_identical(tmp_path):
    rng = np.random.default_rng(0)
    batches = [(torch.from_numpy(rng.standard_normal((8, 6)).astype(np.float32)),
                torch.from_numpy(rng.integers(0, 3, 8))) for _ in range(7)]

    torch.manual_seed(1)
    straight = _build()
    _train(*straight, batches)

    torch.manual_seed(1)
    first = _build()
    _train(*first, batches[:3])
    path = tmp_path / "checkpoint.tkr"
    torch.save({"model": first[0].state_dict(), "optimizer": first[1].state_dict(),
                "scheduler": first[2].state_dict(), "step": 3}, path)

    torch.manual_seed(123)                   # a different init: everything must come from the file
    model, optimizer, scheduler = _build()
    checkpoint = torch.load(path)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    assert checkpoint["step"] == 3
    _train(model, optimizer, scheduler, batches[3:])

    assert scheduler.get_last_lr() == straight[2].get_last_lr()
    for (name, a), (_, b) in zip(model.state_dict().items(), straight[0].state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    for p, q in zip(model.parameters(), straight[0].parameters()):
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            np.testing.assert_array_equal(optimizer.state[p][key].numpy(),
                                          straight[1].state[q][key].numpy(), err_msg=key)
