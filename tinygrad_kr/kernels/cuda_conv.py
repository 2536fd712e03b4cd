"""GPU versions of the 2-D convolution kernels (twins: ref_conv.py).

im2col and col2im are RawKernels, the contractions cuBLAS GEMMs through
``cupy.matmul`` / ``cupy.tensordot``.  Per image, the column matrix is

    col[(c*kh + i)*kw + j, oh*OW + ow] = x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]

(0 in the padding), so that y[n] = w.reshape(O, C*kh*kw) @ col[n] is already
in (O, OH*OW) order.  col2im gathers, for each input pixel, the taps that read
it, so it needs no atomics and is deterministic.  The batch goes through in
chunks that keep the column buffer under ``COL_BYTES``; a 1x1 convolution with
stride 1 and no padding uses x itself as its column matrix.
"""
from ..backend import cupy_module
from ._gpu import check_float, on_device, raw
from .ref_conv import _check, _check_gy

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"]

COL_BYTES = 1 << 28   # 256 MiB of column buffer at most (unless one image needs more)

_im2col_kernel = raw(r"""
extern "C" __global__ void tkr_im2col(const T* x, T* col, long long total, long long C,
        long long H, long long W, long long kh, long long kw, long long OH, long long OW,
        long long sh, long long sw, long long ph, long long pw, long long dh, long long dw) {
    GRID_STRIDE_LOOP(k, total) {     // k indexes col (n, c, i, j, oh, ow)
        long long t = k;
        const long long ow = t % OW; t /= OW;
        const long long oh = t % OH; t /= OH;
        const long long j = t % kw; t /= kw;
        const long long i = t % kh; t /= kh;
        const long long c = t % C, n = t / C;
        const long long h = oh * sh - ph + i * dh, w = ow * sw - pw + j * dw;
        col[k] = (h >= 0 && h < H && w >= 0 && w < W) ? x[((n * C + c) * H + h) * W + w] : (T)0;
    }
}
""", "tkr_im2col")

_col2im_kernel = raw(r"""
extern "C" __global__ void tkr_col2im(const T* col, T* x, long long total, long long C,
        long long H, long long W, long long kh, long long kw, long long OH, long long OW,
        long long sh, long long sw, long long ph, long long pw, long long dh, long long dw) {
    GRID_STRIDE_LOOP(k, total) {     // k indexes x (n, c, h, w)
        long long t = k;
        const long long w = t % W; t /= W;
        const long long h = t % H; t /= H;
        const long long c = t % C, n = t / C;
        T sum = 0;
        for (long long i = 0; i < kh; ++i) {
            const long long th = h + ph - i * dh;        // = oh * sh for the output row that reads (h, w)
            if (th < 0 || th % sh != 0 || th / sh >= OH) continue;
            for (long long j = 0; j < kw; ++j) {
                const long long tw = w + pw - j * dw;
                if (tw < 0 || tw % sw != 0 || tw / sw >= OW) continue;
                sum += col[((((n * C + c) * kh + i) * kw + j) * OH + th / sh) * OW + tw / sw];
            }
        }
        x[k] = sum;
    }
}
""", "tkr_col2im")


def _geometry(x_shape, w_shape, stride, padding, dilation, fn):
    """The twin's checks; returns (C, H, W, kh, kw, OH, OW, sh, sw, ph, pw, dh, dw)."""
    OH, OW = _check(x_shape, w_shape, stride, padding, dilation, fn)
    return tuple(int(v) for v in (*x_shape[1:], *w_shape[2:], OH, OW, *stride, *padding,
                                  *dilation))


def _is_pointwise(geo):
    """A 1x1 kernel with stride 1 and no padding: col is x itself."""
    return geo[3:5] + geo[7:11] == (1, 1, 1, 1, 0, 0)


def _chunks(n, geo, itemsize):
    """(n0, n1) batch ranges whose column buffer fits in COL_BYTES."""
    C, _, _, kh, kw, OH, OW = geo[:7]
    step = max(1, COL_BYTES // max(1, C * kh * kw * OH * OW * itemsize))
    return [(n0, min(n, n0 + step)) for n0 in range(0, n, step)]


def _im2col(x, geo):
    """col (n, C*kh*kw, OH*OW) of the C-contiguous images x (n, C, H, W)."""
    C, H, W, kh, kw, OH, OW = geo[:7]
    if _is_pointwise(geo):
        return x.reshape(x.shape[0], C, H * W)
    col = cupy_module().empty((x.shape[0], C * kh * kw, OH * OW), dtype=x.dtype)
    _im2col_kernel(col.size, x, col, col.size, *geo)
    return col


def _col2im(col, out, geo):
    """Write into out (n, C, H, W) (C-contiguous) the image gradient of col."""
    if _is_pointwise(geo):
        out[...] = col.reshape(out.shape)
    else:
        _col2im_kernel(out.size, col, out, out.size, *geo)


def _gy_rows(gy, x_shape, w_shape, geo, fn):
    """gy (N, O, OH, OW), checked as by the twin, as a C-contiguous (N, O, OH*OW) array."""
    _check_gy(gy, x_shape, w_shape, geo[5:7], fn)
    return cupy_module().ascontiguousarray(gy).reshape(gy.shape[0], gy.shape[1], -1)


@on_device
def conv2d_forward(x, w, b, stride, padding, dilation):
    cp = cupy_module()
    check_float("conv2d_forward", x=x, w=w, b=b)
    geo = _geometry(x.shape, w.shape, stride, padding, dilation, "conv2d_forward")
    N, O, (OH, OW) = x.shape[0], w.shape[0], geo[5:7]
    x = cp.ascontiguousarray(x)
    w_rows = w.reshape(O, -1)
    y = cp.empty((N, O, OH * OW), dtype=x.dtype)
    for n0, n1 in _chunks(N, geo, x.itemsize):
        cp.matmul(w_rows, _im2col(x[n0:n1], geo), out=y[n0:n1])
    if b is not None:
        y += b.reshape(O, 1)
    return y.reshape(N, O, OH, OW)


@on_device
def conv2d_backward_input(gy, w, x_shape, stride, padding, dilation):
    cp = cupy_module()
    fn = "conv2d_backward_input"
    check_float(fn, gy=gy, w=w)
    x_shape = tuple(int(s) for s in x_shape)
    geo = _geometry(x_shape, w.shape, stride, padding, dilation, fn)
    gy = _gy_rows(gy, x_shape, w.shape, geo, fn)
    w_cols = w.reshape(w.shape[0], -1).T          # (C*kh*kw, O)
    gx = cp.empty(x_shape, dtype=gy.dtype)
    for n0, n1 in _chunks(x_shape[0], geo, gy.itemsize):
        _col2im(cp.matmul(w_cols, gy[n0:n1]), gx[n0:n1], geo)
    return gx


@on_device
def conv2d_backward_weight(gy, x, w_shape, stride, padding, dilation):
    cp = cupy_module()
    fn = "conv2d_backward_weight"
    check_float(fn, gy=gy, x=x)
    w_shape = tuple(int(s) for s in w_shape)
    geo = _geometry(x.shape, w_shape, stride, padding, dilation, fn)
    gy = _gy_rows(gy, x.shape, w_shape, geo, fn)
    x = cp.ascontiguousarray(x)
    gw = cp.zeros((w_shape[0], w_shape[1] * w_shape[2] * w_shape[3]), dtype=gy.dtype)
    for n0, n1 in _chunks(x.shape[0], geo, x.itemsize):
        gw += cp.tensordot(gy[n0:n1], _im2col(x[n0:n1], geo), axes=([0, 2], [0, 2]))
    return gw.reshape(w_shape)
