"""nn.EmbeddingBag / F.embedding_bag against PyTorch (modes, offsets, empty
bags, padding_idx, per_sample_weights, include_last_offset, 2-D input),
float64 gradchecks, errors, and the model of PyTorch's "Text classification
with the torchtext library" tutorial trained on both libraries."""
import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradcheck

rng = np.random.default_rng(0)
W = rng.standard_normal((10, 3))
FLAT = np.array([1, 2, 4, 5, 4, 3, 2, 9, 7])


def _torch():
    return pytest.importorskip("torch")


CASES = [  # input, offsets, include_last_offset
    (FLAT, np.array([0, 4]), False),
    (FLAT, np.array([0, 4, 4, 9]), True),            # an empty bag in the middle
    (FLAT, np.array([0, 0, 3, 9]), False),           # empty first and last bags
    (FLAT.reshape(3, 3), None, False),               # 2-D: one bag per row
]


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_bag_matches_torch(case, mode, padding_idx):
    torch = _torch()
    inp, off, last = CASES[case]
    ours = nn.EmbeddingBag.from_pretrained(tkr.tensor(W), freeze=False, mode=mode,
                                           include_last_offset=last, padding_idx=padding_idx)
    theirs = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(W), freeze=False, mode=mode,
                                                   include_last_offset=last,
                                                   padding_idx=padding_idx)
    assert repr(ours) == repr(theirs)
    y = ours(tkr.tensor(inp), None if off is None else tkr.tensor(off))
    ty = theirs(torch.tensor(inp), None if off is None else torch.tensor(off))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    g = np.cos(np.arange(ty.numel())).reshape(tuple(ty.shape))
    y.backward(tkr.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)


def test_per_sample_weights_match_torch_and_gradcheck():
    torch = _torch()
    psw = rng.random(FLAT.size)
    off = np.array([0, 2, 7])
    w, p = tkr.tensor(W, requires_grad=True), tkr.tensor(psw, requires_grad=True)
    tw, tp = torch.tensor(W, requires_grad=True), torch.tensor(psw, requires_grad=True)
    y = F.embedding_bag(tkr.tensor(FLAT), w, tkr.tensor(off), mode="sum", per_sample_weights=p)
    ty = torch.nn.functional.embedding_bag(torch.tensor(FLAT), tw, torch.tensor(off), mode="sum",
                                           per_sample_weights=tp)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)
    for mode in ("sum", "mean", "max"):
        assert gradcheck(lambda a: F.embedding_bag(tkr.tensor(FLAT), a, tkr.tensor(off),
                                                   mode=mode), (tkr.tensor(W, requires_grad=True),))
    assert gradcheck(lambda a, b: F.embedding_bag(tkr.tensor(FLAT), a, tkr.tensor(off),
                                                  mode="sum", per_sample_weights=b),
                     (tkr.tensor(W, requires_grad=True), tkr.tensor(psw, requires_grad=True)))


@pytest.mark.parametrize("call, exc, message", [
    (lambda m: m.nn.functional.embedding_bag(m.tensor([[1, 2]]), m.ones(3, 2), m.tensor([0])),
     ValueError, "if input is 2D, then offsets has to be None"),
    (lambda m: m.nn.functional.embedding_bag(m.tensor([1, 2]), m.ones(3, 2)), ValueError,
     "offsets has to be a 1D Tensor but got None"),
    (lambda m: m.nn.functional.embedding_bag(m.tensor([1, 2]), m.ones(3, 2), m.tensor([0]),
                                             mode="min"), ValueError,
     "mode has to be one of sum, mean or max"),
    (lambda m: m.nn.functional.embedding_bag(m.tensor([1, 2]), m.ones(3, 2), m.tensor([0]),
                                             per_sample_weights=m.ones(2)), NotImplementedError,
     "per_sample_weights is only supported for mode='sum'"),
    (lambda m: m.nn.functional.embedding_bag(m.tensor([1, 2]), m.ones(3, 2), m.tensor([1])),
     RuntimeError, "offsets\\[0\\] has to be 0"),
])
def test_errors_as_torch(call, exc, message):
    torch = _torch()
    with pytest.raises(exc, match=message):
        call(tkr)
    with pytest.raises(exc):
        call(torch)


def test_text_classification_tutorial_model_trains_as_torch():
    """The tutorial's TextClassificationModel (imports changed only) on a fixed
    batch of token streams with offsets: equal losses over a few SGD steps."""
    torch = _torch()

    def build(lib):
        nn_ = lib.nn

        class TextClassificationModel(nn_.Module):
            def __init__(self, vocab_size, embed_dim, num_class):
                super(TextClassificationModel, self).__init__()
                self.embedding = nn_.EmbeddingBag(vocab_size, embed_dim, sparse=False)
                self.fc = nn_.Linear(embed_dim, num_class)
                self.init_weights()

            def init_weights(self):
                initrange = 0.5
                self.embedding.weight.data.uniform_(-initrange, initrange)
                self.fc.weight.data.uniform_(-initrange, initrange)
                self.fc.bias.data.zero_()

            def forward(self, text, offsets):
                embedded = self.embedding(text, offsets)
                return self.fc(embedded)
        return TextClassificationModel(50, 8, 4)

    theirs, ours = build(torch), build(tkr)
    ours.load_state_dict({k: tkr.tensor(v.detach().numpy()) for k, v in
                          theirs.state_dict().items()})
    text = np.random.default_rng(1).integers(0, 50, 40)
    offsets = np.array([0, 7, 15, 22, 30])
    label = np.array([0, 3, 1, 2, 1])
    losses = {}
    for name, lib, model in (("ours", tkr, ours), ("theirs", torch, theirs)):
        criterion = lib.nn.CrossEntropyLoss()
        optimizer = lib.optim.SGD(model.parameters(), lr=5)
        losses[name] = []
        for _ in range(4):
            optimizer.zero_grad()
            loss = criterion(model(lib.tensor(text), lib.tensor(offsets)), lib.tensor(label))
            loss.backward()
            lib.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            optimizer.step()
            losses[name].append(loss.item())
    np.testing.assert_allclose(losses["ours"], losses["theirs"], rtol=1e-5)


def test_max_mode_over_many_bags_matches_torch():
    torch = _torch()
    r = np.random.default_rng(5)
    weight = r.standard_normal((30, 4))
    idx = r.integers(0, 30, 3000)
    off = np.r_[0, np.sort(r.choice(np.arange(1, 3000), 700, replace=False))]
    w, tw = tkr.tensor(weight, requires_grad=True), torch.tensor(weight, requires_grad=True)
    y = F.embedding_bag(tkr.tensor(idx), w, tkr.tensor(off), mode="max")
    ty = torch.nn.functional.embedding_bag(torch.tensor(idx), tw, torch.tensor(off), mode="max")
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    g = r.standard_normal(tuple(ty.shape))
    y.backward(tkr.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
