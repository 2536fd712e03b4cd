"""Plain-NumPy contenders: what a careful NumPy programmer writes by hand.

Shapes: x (N, C, H, W), w (F, C, kh, kw), logits (N, classes), labels (N,)
int64.  float32 in, float32 out.  Stride 1 convolutions, 2x2/2 pooling on
even sizes: the shapes the benchmark rows use.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["softmax_cross_entropy", "conv2d_forward_backward", "max_pool2x2_forward_backward",
           "NumpySLP"]


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy and its gradient w.r.t. the logits, in one pass."""
    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = np.log(s[:, 0]).mean() - z[rows, labels].mean()
    g = e / s
    g[rows, labels] -= 1
    g /= n
    return loss, g


def conv2d_forward_backward(x, w, b, gy, padding, input_grad=True):
    """y = conv2d(x, w, b) by im2col + GEMM, then (gx, gw, gb) for the output gradient gy
    (gx None unless ``input_grad``)."""
    kh, kw = w.shape[2:]
    p = padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x
    cols = sliding_window_view(xp, (kh, kw), axis=(2, 3))            # N, C, Ho, Wo, kh, kw
    y = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3]))             # N, Ho, Wo, F
    y = y.transpose(0, 3, 1, 2) + b[None, :, None, None]
    gw = np.tensordot(gy, cols, axes=([0, 2, 3], [0, 2, 3]))           # F, C, kh, kw
    gb = gy.sum(axis=(0, 2, 3))
    if not input_grad:
        return y, None, gw, gb
    # gx: full correlation of gy with the flipped kernel, cropped to x's size
    gyp = np.pad(gy, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    win = sliding_window_view(gyp, (kh, kw), axis=(2, 3))             # N, F, Hp, Wp, kh, kw
    gxp = np.tensordot(win, w[:, :, ::-1, ::-1], axes=([1, 4, 5], [0, 2, 3]))  # N, Hp, Wp, C
    H, W = x.shape[2:]
    gx = gxp.transpose(0, 3, 1, 2)[:, :, p:p + H, p:p + W]
    return y, gx, gw, gb


def max_pool2x2_forward_backward(x, gy):
    """2x2 max pooling with stride 2 (even H, W) and its input gradient."""
    n, c, h, w = x.shape
    xr = x.reshape(n, c, h // 2, 2, w // 2, 2)
    y = xr.max(axis=(3, 5))
    mask = xr == y[:, :, :, None, :, None]
    gx = (mask * gy[:, :, :, None, :, None]).reshape(n, c, h, w)
    return y, gx


class NumpySLP:
    """A single-layer perceptron trained with softmax cross-entropy and plain SGD.

    z = x @ W + b;  dz = (softmax(z) - onehot(y)) / N;  W -= lr * x.T @ dz;  b -= lr * sum(dz).
    """

    def __init__(self, n_in, n_out, lr=0.1, seed=0):
        rng = np.random.default_rng(seed)
        bound = 1.0 / np.sqrt(n_in)
        self.W = rng.uniform(-bound, bound, (n_in, n_out)).astype(np.float32)
        self.b = rng.uniform(-bound, bound, n_out).astype(np.float32)
        self.lr = lr

    def step(self, x, y):
        loss, dz = softmax_cross_entropy(x @ self.W + self.b, y)
        self.W -= self.lr * (x.T @ dz)
        self.b -= self.lr * dz.sum(axis=0)
        return loss

    def epoch(self, X, Y, batch, rng):
        """One pass over (X, Y) in shuffled mini-batches."""
        order = rng.permutation(len(X))
        for i in range(0, len(X), batch):
            idx = order[i:i + batch]
            self.step(X[idx], Y[idx])
