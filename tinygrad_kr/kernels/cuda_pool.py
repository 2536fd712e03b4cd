"""GPU versions of the 2-D pooling kernels (twins: ref_pool.py).

RawKernels, one thread per output element (forward) or per input element
(average-pool backward, which gathers the windows that cover it and so needs
no atomics).  Max-pool backward scatters each gradient to its argmax with an
atomic add: windows overlap, so two threads may add to one element (in an
unspecified order: float32 sums may differ from the twin's in the last bit).
The semantics (NaN wins, ties to the first maximum, the first in-bounds tap
for an all -inf window, index -1 for a window with no element, the average
divisors) are the twins'; geometry validation is the twins' own.
"""
import numpy as np

from ..backend import cupy_module
from ._gpu import check_float, on_device, raw
from .ref_pool import _check_divisor, _output_shape

__all__ = ["max_pool2d_forward", "max_pool2d_backward",
           "avg_pool2d_forward", "avg_pool2d_backward"]

_max_pool = raw(r"""
extern "C" __global__ void tkr_max_pool2d(const T* x, T* y, long long* indices, long long total,
        long long H, long long W, long long OH, long long OW, long long kh, long long kw,
        long long sh, long long sw, long long ph, long long pw, long long dh, long long dw) {
    GRID_STRIDE_LOOP(k, total) {     // k indexes y (plane, oh, ow)
        const long long ow = k % OW, oh = (k / OW) % OH, plane = k / (OW * OH);
        const T* img = x + plane * H * W;
        T best = -tkr_inf();
        long long best_at = -1;
        for (long long i = 0; i < kh; ++i) {
            const long long h = oh * sh - ph + i * dh;
            if (h < 0 || h >= H) continue;
            for (long long j = 0; j < kw; ++j) {
                const long long w = ow * sw - pw + j * dw;
                if (w < 0 || w >= W) continue;
                const T v = img[h * W + w];
                // the first in-bounds tap, then a strictly larger value, or any NaN (the last wins)
                if (best_at < 0 || v > best || v != v) { best = v; best_at = h * W + w; }
            }
        }
        y[k] = best;
        indices[k] = best_at;
    }
}
""", "tkr_max_pool2d")

_max_pool_backward = raw(r"""
// An index outside [-1, plane_in) (not one that max_pool2d_forward saved) is
// counted in *bad and skipped: checked here, in the pass that reads the
// indices anyway, instead of in a reduction of its own before the launch.
extern "C" __global__ void tkr_max_pool2d_backward(const T* gy, const long long* indices, T* gx,
        unsigned long long* bad, long long total, long long plane_in, long long plane_out) {
    GRID_STRIDE_LOOP(k, total) {
        const long long at = indices[k];
        if (at < -1 || at >= plane_in) atomicAdd(bad, 1ull);
        else if (at >= 0) atomicAdd(gx + (k / plane_out) * plane_in + at, gy[k]);
    }
}
""", "tkr_max_pool2d_backward")

# The divisor of the average-pool window at output (oh, ow): ``divisor`` when
# it is not 0 (divisor_override), else the window clipped to the padded input,
# or to the input itself without count_include_pad.  Also the window's bounds.
_AVG_WINDOW = r"""
struct Window { long long h0, h1, w0, w1; T divisor; };

__device__ Window avg_window(long long oh, long long ow, long long H, long long W, long long kh,
        long long kw, long long sh, long long sw, long long ph, long long pw,
        long long count_include_pad, double divisor) {
    Window win;
    win.h0 = oh * sh - ph; win.w0 = ow * sw - pw;
    win.h1 = min(win.h0 + kh, H + ph); win.w1 = min(win.w0 + kw, W + pw);
    const long long padded = (win.h1 - win.h0) * (win.w1 - win.w0);
    win.h0 = max(win.h0, 0LL); win.w0 = max(win.w0, 0LL);
    win.h1 = min(win.h1, H); win.w1 = min(win.w1, W);
    const long long inside = (win.h1 - win.h0) * (win.w1 - win.w0);
    win.divisor = divisor != 0 ? (T)divisor : (T)(count_include_pad ? padded : inside);
    return win;
}
"""

_avg_pool = raw(_AVG_WINDOW + r"""
extern "C" __global__ void tkr_avg_pool2d(const T* x, T* y, long long total, long long H,
        long long W, long long OH, long long OW, long long kh, long long kw, long long sh,
        long long sw, long long ph, long long pw, long long count_include_pad, double divisor) {
    GRID_STRIDE_LOOP(k, total) {     // k indexes y (plane, oh, ow)
        const long long ow = k % OW, oh = (k / OW) % OH, plane = k / (OW * OH);
        const T* img = x + plane * H * W;
        const Window win = avg_window(oh, ow, H, W, kh, kw, sh, sw, ph, pw, count_include_pad,
                                      divisor);
        T sum = 0;
        for (long long h = win.h0; h < win.h1; ++h)
            for (long long w = win.w0; w < win.w1; ++w) sum += img[h * W + w];
        y[k] = sum / win.divisor;
    }
}
""", "tkr_avg_pool2d")

_avg_pool_backward = raw(_AVG_WINDOW + r"""
extern "C" __global__ void tkr_avg_pool2d_backward(const T* gy, T* gx, long long total,
        long long H, long long W, long long OH, long long OW, long long kh, long long kw,
        long long sh, long long sw, long long ph, long long pw, long long count_include_pad,
        double divisor) {
    GRID_STRIDE_LOOP(k, total) {     // k indexes gx (plane, h, w)
        const long long w = k % W, h = (k / W) % H, plane = k / (W * H);
        // the outputs whose window [o*s - p, o*s - p + k) covers (h, w)
        const long long oh0 = h + ph < kh ? 0 : (h + ph - kh) / sh + 1;
        const long long oh1 = min((h + ph) / sh, OH - 1);
        const long long ow0 = w + pw < kw ? 0 : (w + pw - kw) / sw + 1;
        const long long ow1 = min((w + pw) / sw, OW - 1);
        T sum = 0;
        for (long long oh = oh0; oh <= oh1; ++oh)
            for (long long ow = ow0; ow <= ow1; ++ow)
                sum += gy[(plane * OH + oh) * OW + ow] /
                       avg_window(oh, ow, H, W, kh, kw, sh, sw, ph, pw, count_include_pad,
                                  divisor).divisor;
        gx[k] = sum;
    }
}
""", "tkr_avg_pool2d_backward")


def _ints(*pairs):
    return tuple(int(v) for pair in pairs for v in pair)


@on_device
def max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode):
    cp = cupy_module()
    check_float("max_pool2d_forward", x=x)
    out = _output_shape(x.shape, kernel_size, stride, padding, dilation, ceil_mode,
                        "max_pool2d_forward")
    N, C, H, W = x.shape
    y = cp.empty((N, C) + out, dtype=x.dtype)
    indices = cp.empty((N, C) + out, dtype=np.int64)
    _max_pool(y.size, cp.ascontiguousarray(x), y, indices, y.size, H, W, *out,
              *_ints(kernel_size, stride, padding, dilation))
    return y, indices


_IGNORED_COUNTS = {}    # device -> a counter the kernel may add to and no one reads


@on_device
def max_pool2d_backward(gy, indices, x_shape, indices_checked=False):
    cp = cupy_module()
    N, C, H, W = x_shape
    if gy.shape != indices.shape or gy.ndim != 4 or gy.shape[:2] != (N, C):
        raise ValueError(f"max_pool2d_backward: gy {gy.shape} and indices {indices.shape} "
                         f"do not match the input shape {tuple(x_shape)}")
    if indices.dtype != np.int64:
        raise TypeError(f"max_pool2d_backward: indices must be int64, got {indices.dtype}")
    check_float("max_pool2d_backward", gy=gy)
    gx = cp.zeros(tuple(x_shape), dtype=gy.dtype)
    # The kernel skips a bad index and counts it; reading the count is a host
    # sync (the GPU's queue drains), so indices the caller vouches for (the
    # forward's own, see the twin) go unread: twice per LeNet step.
    if indices_checked:
        key = str(gy.device)
        bad = _IGNORED_COUNTS.get(key)
        if bad is None:
            bad = _IGNORED_COUNTS[key] = cp.zeros(1, dtype=np.uint64)
    else:
        bad = cp.zeros(1, dtype=np.uint64)
    _max_pool_backward(gy.size, cp.ascontiguousarray(gy), cp.ascontiguousarray(indices), gx, bad,
                       gy.size, H * W, gy.shape[2] * gy.shape[3])
    if not indices_checked and int(bad[0]):
        raise IndexError(f"max_pool2d_backward: indices must lie in [0, {H * W}) (or be -1 "
                         f"for an empty window) for a {H}x{W} input")
    return gx


@on_device
def avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override):
    cp = cupy_module()
    check_float("avg_pool2d_forward", x=x)
    _check_divisor(divisor_override, "avg_pool2d_forward")
    out = _output_shape(x.shape, kernel_size, stride, padding, (1, 1), ceil_mode,
                        "avg_pool2d_forward")
    N, C, H, W = x.shape
    y = cp.empty((N, C) + out, dtype=x.dtype)
    _avg_pool(y.size, cp.ascontiguousarray(x), y, y.size, H, W, *out,
              *_ints(kernel_size, stride, padding), int(bool(count_include_pad)),
              float(divisor_override or 0))
    return y


@on_device
def avg_pool2d_backward(gy, x_shape, kernel_size, stride, padding, ceil_mode,
                        count_include_pad, divisor_override):
    cp = cupy_module()
    check_float("avg_pool2d_backward", gy=gy)
    _check_divisor(divisor_override, "avg_pool2d_backward")
    out = _output_shape(x_shape, kernel_size, stride, padding, (1, 1), ceil_mode,
                        "avg_pool2d_backward")
    if gy.shape != tuple(x_shape[:2]) + out:
        raise ValueError(f"avg_pool2d_backward: gy has shape {gy.shape}, expected "
                         f"{tuple(x_shape[:2]) + out}")
    N, C, H, W = x_shape
    gx = cp.empty(tuple(x_shape), dtype=gy.dtype)
    _avg_pool_backward(gx.size, cp.ascontiguousarray(gy), gx, gx.size, H, W, *out,
                       *_ints(kernel_size, stride, padding), int(bool(count_include_pad)),
                       float(divisor_override or 0))
    return gx
