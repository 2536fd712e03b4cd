"""nn.utils.prune: masks, the orig/mask/hook layout, iterative and global
pruning and remove, compared with PyTorch's."""
import numpy as np
import pytest

import tinygrad_kr as tg
from tinygrad_kr.nn.utils import prune

torch = pytest.importorskip("torch")
import torch.nn.utils.prune as torch_prune  # noqa: E402

W = np.random.default_rng(0).standard_normal((6, 5, 3)).astype(np.float32)


def conv_pair():
    mods = []
    for lib in (tg, torch):
        m = lib.nn.Conv1d(5, 6, 3)
        with lib.no_grad():
            m.weight.copy_(lib.tensor(W))
            m.bias.zero_()
        mods.append(m)
    return mods


def same(a, b):
    np.testing.assert_array_equal(np.asarray(a.detach().numpy() if hasattr(a, "detach") else a),
                                  b.detach().numpy())


@pytest.mark.parametrize("steps", [
    [("l1_unstructured", dict(amount=0.3))],
    [("l1_unstructured", dict(amount=7)), ("l1_unstructured", dict(amount=0.5))],
    [("ln_structured", dict(amount=2, n=2, dim=0)), ("l1_unstructured", dict(amount=0.25))],
    [("l1_unstructured", dict(amount=0.2)), ("ln_structured", dict(amount=0.5, n=1, dim=1))],
    [("ln_structured", dict(amount=1, n=float("inf"), dim=-1))],
    [("identity", {})],
])
def test_masks_layout_and_forward_equal_pytorchs(steps):
    ours, theirs = conv_pair()
    for fn, kw in steps:
        getattr(prune, fn)(ours, "weight", **kw)
        getattr(torch_prune, fn)(theirs, "weight", **kw)
        same(ours.weight_mask, theirs.weight_mask)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    x = np.random.default_rng(1).standard_normal((2, 5, 7)).astype(np.float32)
    y, yt = ours(tg.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    # gradients reach weight_orig, zero where pruned
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(ours.weight_orig.grad.numpy(), theirs.weight_orig.grad.numpy(),
                               rtol=1e-5, atol=1e-6)
    assert prune.is_pruned(ours)
    prune.remove(ours, "weight")
    torch_prune.remove(theirs, "weight")
    assert list(ours.state_dict()) == list(theirs.state_dict()) and not prune.is_pruned(ours)
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy())


def test_training_keeps_pruned_entries_zero():
    m = tg.nn.Linear(5, 3)
    prune.l1_unstructured(m, "weight", amount=0.4)
    opt = tg.optim.SGD(m.parameters(), lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        m(tg.randn(4, 5)).pow(2).sum().backward()
        opt.step()
    m(tg.randn(1, 5))
    assert (m.weight.detach().numpy() == 0).sum() == 6


def test_global_unstructured_and_custom_mask():
    nets = [lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.Linear(3, 2)) for lib in (tg, torch)]
    rng = np.random.default_rng(2)
    values = [rng.standard_normal((3, 4)), rng.standard_normal((2, 3))]
    for lib, net in zip((tg, torch), nets):
        with lib.no_grad():
            for layer, v in zip((net[0], net[1]), values):
                layer.weight.copy_(lib.tensor(v.astype(np.float32)))
    prune.global_unstructured([(nets[0][0], "weight"), (nets[0][1], "weight")],
                              pruning_method=prune.L1Unstructured, amount=0.5)
    torch_prune.global_unstructured([(nets[1][0], "weight"), (nets[1][1], "weight")],
                                    pruning_method=torch_prune.L1Unstructured, amount=0.5)
    same(nets[0][0].weight_mask, nets[1][0].weight_mask)
    same(nets[0][1].weight_mask, nets[1][1].weight_mask)
    mask = np.array([[1, 0, 1], [0, 1, 1]], dtype=np.float32)
    prune.custom_from_mask(nets[0][1], "bias", mask=tg.tensor(mask[0, :2]))
    np.testing.assert_array_equal(nets[0][1].bias_mask.numpy(), [1, 0])


def test_random_pruning_prunes_the_amount():
    m = tg.nn.Linear(10, 10)
    prune.random_unstructured(m, "weight", amount=0.3)
    assert (m.weight_mask.numpy() == 0).sum() == 30
    prune.random_structured(m, "weight", amount=2, dim=0)
    rows_zero = (m.weight_mask.numpy().sum(axis=1) == 0).sum()
    assert rows_zero >= 2


def test_errors_as_pytorchs():
    m = tg.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="amount=1.5 should either be a float in the range"):
        prune.l1_unstructured(m, "weight", amount=1.5)
    with pytest.raises(TypeError, match="Invalid type for amount"):
        prune.l1_unstructured(m, "weight", amount="half")
    with pytest.raises(ValueError, match="should be smaller than the number of parameters"):
        prune.l1_unstructured(m, "weight", amount=10)
    assert "weight" in dict(m.named_parameters())       # a failed pruning leaves it as it was
    with pytest.raises(ValueError, match="has to be pruned before pruning can be removed"):
        prune.remove(m, "weight")
    with pytest.raises(ValueError, match="Structured pruning can only be applied to "
                                         "multidimensional tensors"):
        prune.ln_structured(m, "bias", amount=1, n=2, dim=0)
