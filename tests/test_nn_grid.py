"""affine_grid and grid_sample against PyTorch (values, gradients to input,
grid and theta, float32 and float64, every padding mode, both modes,
align_corners), float64 gradchecks and gradgradchecks, PyTorch's errors,
and PyTorch's Spatial Transformer Networks tutorial run on both libraries."""
import warnings
import zlib

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradcheck, gradgradcheck

rng = np.random.default_rng(0)
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_affine_grid_and_grid_sample_match_torch(mode, padding_mode, align_corners, dtype):
    torch = _torch()
    key = (mode, padding_mode, align_corners, np.dtype(dtype).name)
    r = np.random.default_rng(zlib.crc32(repr(key).encode()))
    x = r.standard_normal((2, 3, 5, 6)).astype(dtype)
    theta = (r.standard_normal((2, 2, 3)) * 0.8).astype(dtype)    # reaches outside the image

    def run(lib, F_):
        xt, th = lib.tensor(x, requires_grad=True), lib.tensor(theta, requires_grad=True)
        grid = F_.affine_grid(th, (2, 3, 7, 4), align_corners=align_corners)
        y = F_.grid_sample(xt, grid, mode=mode, padding_mode=padding_mode,
                           align_corners=align_corners)
        (y * y).sum().backward()
        return y.detach().numpy(), grid.detach().numpy(), xt.grad.numpy(), th.grad.numpy()
    ours, theirs = run(tkr, F), run(torch, torch.nn.functional)
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype and a.shape == b.shape
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=TOL[dtype]["rtol"], atol=TOL[dtype]["atol"] * scale)


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_gradcheck(padding_mode, align_corners):
    x = tkr.tensor(rng.standard_normal((1, 2, 4, 5)), requires_grad=True)
    # inside and outside the image, away from pixel boundaries (where the
    # bilinear weights' derivative jumps)
    grid = tkr.tensor(rng.uniform(-1.3, 1.3, (1, 3, 2, 2)), requires_grad=True)

    def f(a, g):
        return F.grid_sample(a, g, padding_mode=padding_mode, align_corners=align_corners)
    assert gradcheck(f, (x, grid))
    assert gradgradcheck(lambda a, g: f(a, g) ** 2, (x, grid))
    theta = tkr.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    assert gradcheck(lambda t: F.affine_grid(t, (2, 1, 3, 4), align_corners=align_corners),
                     (theta,))
    nearest = tkr.tensor(rng.uniform(-1.3, 1.3, (1, 3, 2, 2)), requires_grad=True)
    assert gradcheck(lambda a: F.grid_sample(a, nearest, mode="nearest",
                                             align_corners=align_corners), (x,))


def test_grid_sample_nearest_gives_the_grid_zeros_as_torch():
    torch = _torch()
    x, grid = rng.standard_normal((1, 1, 3, 3)), rng.uniform(-1, 1, (1, 2, 2, 2))
    for lib in (tkr, torch):
        g = lib.tensor(grid, requires_grad=True)
        lib.nn.functional.grid_sample(lib.tensor(x), g, mode="nearest",
                                      align_corners=False).sum().backward()
        assert g.grad is not None and not g.grad.numpy().any()


def test_align_corners_default_warns_as_torch():
    theta = tkr.tensor(np.eye(2, 3)[None])
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        grid = F.affine_grid(theta, (1, 1, 2, 2))
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(tkr.ones(1, 1, 2, 2, dtype=tkr.float64), grid)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.grid_sample(tkr.ones(1, 1, 2, 2, dtype=tkr.float64), grid, align_corners=False)


GRID_ERRORS = [
    (lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2), m.zeros(1, 2, 2, 2), mode="cubic",
                                           align_corners=False), ValueError,
     "expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: 'cubic'"),
    (lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2), m.zeros(1, 2, 2, 2),
                                           padding_mode="wrap", align_corners=False), ValueError,
     "expected padding_mode to be 'zeros', 'border', or 'reflection'"),
    (lambda m: m.nn.functional.grid_sample(m.ones(2, 1, 2, 2), m.zeros(1, 2, 2, 2),
                                           align_corners=False), RuntimeError,
     "expected grid and input to have same batch size"),
    (lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2), m.zeros(1, 2, 2, 3),
                                           align_corners=False), RuntimeError,
     "expected grid to have size 2 in last dimension"),
    (lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2), m.zeros(1, 2, 2),
                                           align_corners=False), RuntimeError,
     "expected 4D or 5D input and grid with same number of dimensions"),
    (lambda m: m.nn.functional.affine_grid(m.zeros(1, 3, 3), (1, 1, 2, 2), align_corners=False),
     ValueError, r"Expected a batch of 2D affine matrices of shape Nx2x3 for size \[1, 1, 2, 2\]"),
    (lambda m: m.nn.functional.affine_grid(m.zeros(1, 2, 3), (1, 1, 0, 2), align_corners=False),
     ValueError, "Expected non-zero, positive output size"),
    (lambda m: m.nn.functional.affine_grid(m.zeros(1, 2, 3), (1, 2, 2), align_corners=False),
     NotImplementedError, "affine_grid only supports 4D and 5D sizes"),
]


@pytest.mark.parametrize("call, exc, message", GRID_ERRORS)
def test_errors_as_torch(call, exc, message):
    torch = _torch()
    with pytest.raises(exc, match=message):
        call(tkr)
    with pytest.raises(exc):
        call(torch)


def test_spatial_transformer_tutorial_runs_as_in_torch():
    """PyTorch's "Spatial Transformer Networks" tutorial's model (imports
    changed only), trained for a few SGD steps on both libraries from the same
    weights on the same MNIST-sized batch: the same losses and gradients."""
    torch = _torch()

    def build(lib):
        nn, F_ = lib.nn, lib.nn.functional

        class Net(nn.Module):
            def __init__(self):
                super(Net, self).__init__()
                self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
                self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
                self.conv2_drop = nn.Dropout2d()
                self.fc1 = nn.Linear(320, 50)
                self.fc2 = nn.Linear(50, 10)

                # Spatial transformer localization-network
                self.localization = nn.Sequential(
                    nn.Conv2d(1, 8, kernel_size=7),
                    nn.MaxPool2d(2, stride=2),
                    nn.ReLU(True),
                    nn.Conv2d(8, 10, kernel_size=5),
                    nn.MaxPool2d(2, stride=2),
                    nn.ReLU(True)
                )

                # Regressor for the 3 * 2 affine matrix
                self.fc_loc = nn.Sequential(
                    nn.Linear(10 * 3 * 3, 32),
                    nn.ReLU(True),
                    nn.Linear(32, 3 * 2)
                )

                # Initialize the weights/bias with identity transformation
                self.fc_loc[2].weight.data.zero_()
                self.fc_loc[2].bias.data.copy_(lib.tensor([1, 0, 0, 0, 1, 0],
                                                          dtype=lib.float))

            # Spatial transformer network forward function
            def stn(self, x):
                xs = self.localization(x)
                xs = xs.view(-1, 10 * 3 * 3)
                theta = self.fc_loc(xs)
                theta = theta.view(-1, 2, 3)

                grid = F_.affine_grid(theta, x.size(), align_corners=False)
                x = F_.grid_sample(x, grid, align_corners=False)

                return x

            def forward(self, x):
                # transform the input
                x = self.stn(x)

                # Perform the usual forward pass
                x = F_.relu(F_.max_pool2d(self.conv1(x), 2))
                x = F_.relu(F_.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
                x = x.view(-1, 320)
                x = F_.relu(self.fc1(x))
                x = F_.dropout(x, training=self.training)
                x = self.fc2(x)
                return F_.log_softmax(x, dim=1)
        return Net()

    theirs, ours = build(torch), build(tkr)
    # the same weights, with the regressor's last layer perturbed so that the
    # transform (and the gradient through grid_sample to theta) is not the identity
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    state["fc_loc.2.weight"] += np.random.default_rng(1).normal(0, 0.01, (6, 32)).astype(
        np.float32)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    ours.load_state_dict({k: tkr.tensor(v) for k, v in state.items()})
    data = np.random.default_rng(2).random((16, 1, 28, 28)).astype(np.float32)
    target = np.random.default_rng(3).integers(0, 10, 16)
    losses = {}
    for name, lib, model in (("ours", tkr, ours), ("theirs", torch, theirs)):
        model.eval()      # dropout off: the two libraries' masks differ
        optimizer = lib.optim.SGD(model.parameters(), lr=0.01)
        losses[name] = []
        for _ in range(4):
            optimizer.zero_grad()
            output = model(lib.tensor(data))
            loss = lib.nn.functional.nll_loss(output, lib.tensor(target))
            loss.backward()
            optimizer.step()
            losses[name].append(loss.item())
    np.testing.assert_allclose(losses["ours"], losses["theirs"], rtol=1e-5)
    for (k, a), b in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-3, atol=1e-6,
                                   err_msg=k)
