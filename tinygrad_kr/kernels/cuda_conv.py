"""GPU versions of the 2-D convolution kernels (twins: ref_conv.py).

im2col and col2im are RawKernels, the contractions single 2-D cuBLAS GEMMs
(kernels/_cublas.py; the weight gradient of a chunked batch accumulates in place).  The column matrix of a batch of images takes the
batch into its columns ("CNHW" order, as Caffe and Chainer lay it out on GPUs):

    col[(c*kh + i)*kw + j, (n*OH + oh)*OW + ow] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]

(0 in the padding), so that the whole batch is one GEMM,
y_t = w.reshape(O, C*kh*kw) @ col of shape (O, N*OH*OW), and the weight
gradient is one GEMM too, gy_t @ col^T.  One small pass moves y_t to NCHW
(adding the bias on the way) and gy to the (O, N*OH*OW) order.  A batched
GEMM per image costs several times more launch overhead on the host, which
is what bounds a LeNet-sized step on a GPU.  col2im gathers, for each input
pixel, the taps that read it, so it needs no atomics and is deterministic.
The index arithmetic runs in 32 bits where the arrays allow (64-bit integer
division is emulated on GPUs and dominated these kernels).  The batch goes
through in chunks that keep the column buffer under ``COL_BYTES``.
"""
from ..backend import cupy_module
from . import _cublas
from ._gpu import check_float, on_device, raw
from .ref_conv import _check, _check_gy

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"]

COL_BYTES = 1 << 28   # 256 MiB of column buffer at most (unless one image needs more)
INT32_MAX = 2**31 - 1

# The geometry every conv kernel takes after its arrays: C, H, W, kh, kw, OH, OW,
# sh, sw, ph, pw, dh, dw, and NB (the images in this chunk).
_GEOMETRY = ("I C, I H, I W, I kh, I kw, I OH, I OW, I sh, I sw, I ph, I pw, I dh, I dw, "
             "I NB")
_GEOMETRY_ARGS = "C, H, W, kh, kw, OH, OW, sh, sw, ph, pw, dh, dw, NB"
_LONG_GEOMETRY = _GEOMETRY.replace("I ", "long long ")


def _dispatch_on_index_width(name, body_args):
    """The __global__ entry of a kernel whose body is a template over the index
    type I: 32-bit indices when ``small`` (every index fits), else 64-bit."""
    return f"""
extern "C" __global__ void {name}({body_args}, long long total, {_LONG_GEOMETRY}, int small) {{
    if (small) {name}_body<int>({_call_args(body_args)}, (int)total, {_casts("int")});
    else {name}_body<long long>({_call_args(body_args)}, total, {_GEOMETRY_ARGS});
}}
"""


def _call_args(decls):
    """The parameter names of C declarations: "const T* x, T* col" -> "x, col"."""
    return ", ".join(d.split()[-1].lstrip("*") for d in decls.split(","))


def _casts(ctype):
    """The geometry arguments cast to ``ctype``: "(int)C, (int)H, ..."."""
    return ", ".join(f"({ctype}){a.strip()}" for a in _GEOMETRY_ARGS.split(","))


_IM2COL_ARGS = "const T* x, T* col"
_im2col_kernel = raw(r"""
template <typename I>
__device__ void tkr_im2col_body(const T* x, T* col, I total, """ + _GEOMETRY + r""") {
    GRID_STRIDE_LOOP(k, total) {     // k indexes col (c, i, j, n, oh, ow)
        I t = (I)k;
        const I ow = t % OW; t /= OW;
        const I oh = t % OH; t /= OH;
        const I n = t % NB; t /= NB;
        const I j = t % kw; t /= kw;
        const I i = t % kh;
        const I c = t / kh;
        const I h = oh * sh - ph + i * dh, w = ow * sw - pw + j * dw;
        col[k] = (h >= 0 && h < H && w >= 0 && w < W) ? x[((n * C + c) * H + h) * W + w] : (T)0;
    }
}
""" + _dispatch_on_index_width("tkr_im2col", _IM2COL_ARGS), "tkr_im2col")

_COL2IM_ARGS = "const T* col, T* x"
_col2im_kernel = raw(r"""
template <typename I>
__device__ void tkr_col2im_body(const T* col, T* x, I total, """ + _GEOMETRY + r""") {
    const I cols = NB * OH * OW;     // the length of one row of col
    GRID_STRIDE_LOOP(k, total) {     // k indexes x (n, c, h, w)
        I t = (I)k;
        const I w = t % W; t /= W;
        const I h = t % H; t /= H;
        const I c = t % C, n = t / C;
        T sum = 0;
        for (I i = 0; i < kh; ++i) {
            const I th = h + ph - i * dh;        // = oh * sh for the output row that reads (h, w)
            if (th < 0 || th % sh != 0 || th / sh >= OH) continue;
            for (I j = 0; j < kw; ++j) {
                const I tw = w + pw - j * dw;
                if (tw < 0 || tw % sw != 0 || tw / sw >= OW) continue;
                sum += col[((c * kh + i) * kw + j) * cols + (n * OH + th / sh) * OW + tw / sw];
            }
        }
        x[k] = sum;
    }
}
""" + _dispatch_on_index_width("tkr_col2im", _COL2IM_ARGS), "tkr_col2im")

# y[n, o, p] = y_t[o, n, p] (+ b[o]): the GEMM's (O, N*P) result in NCHW order.
_to_nchw_kernel = raw(r"""
extern "C" __global__ void tkr_conv_to_nchw(const T* yt, const T* b, T* y, long long total,
        long long O, long long NB, long long P, int has_bias) {
    GRID_STRIDE_LOOP(k, total) {     // k indexes y (n, o, p)
        const long long p = k % P, o = (k / P) % O, n = k / (P * O);
        const T v = yt[(o * NB + n) * P + p];
        y[k] = has_bias ? v + b[o] : v;
    }
}
""", "tkr_conv_to_nchw")

# a_t[o, n, p] = a[n, o, p]: NCHW (gy, or x of a 1x1 convolution) to the GEMMs' order.
_to_cnhw_kernel = raw(r"""
extern "C" __global__ void tkr_conv_to_cnhw(const T* a, T* at, long long total, long long O,
        long long NB, long long P) {
    GRID_STRIDE_LOOP(k, total) {     // k indexes at (o, n, p)
        const long long p = k % P, n = (k / P) % NB, o = k / (P * NB);
        at[k] = a[(n * O + o) * P + p];
    }
}
""", "tkr_conv_to_cnhw")


def _geometry(x_shape, w_shape, stride, padding, dilation, fn):
    """The twin's checks; returns (C, H, W, kh, kw, OH, OW, sh, sw, ph, pw, dh, dw)."""
    OH, OW = _check(x_shape, w_shape, stride, padding, dilation, fn)
    return tuple(int(v) for v in (*x_shape[1:], *w_shape[2:], OH, OW, *stride, *padding,
                                  *dilation))


def _is_pointwise(geo):
    """A 1x1 kernel with stride 1 and no padding: col is x in CNHW order."""
    return geo[3:5] + geo[7:11] == (1, 1, 1, 1, 0, 0)


def _chunks(n, geo, itemsize):
    """(n0, n1) batch ranges whose column buffer fits in COL_BYTES."""
    C, _, _, kh, kw, OH, OW = geo[:7]
    step = max(1, COL_BYTES // max(1, C * kh * kw * OH * OW * itemsize))
    return [(n0, min(n, n0 + step)) for n0 in range(0, n, step)]


def _small(*arrays):
    return int(max(a.size for a in arrays) <= INT32_MAX)


def _to_cnhw(a):
    """a (nb, O, *spatial), C-contiguous, as a (O, nb*P) matrix."""
    nb, O = a.shape[:2]
    P = a.size // (nb * O) if nb * O else 0
    at = cupy_module().empty((O, nb * P), dtype=a.dtype)
    _to_cnhw_kernel(at.size, a, at, at.size, O, nb, P)
    return at


def _im2col(x, geo):
    """col (C*kh*kw, nb*OH*OW) of the C-contiguous images x (nb, C, H, W)."""
    C, H, W, kh, kw, OH, OW = geo[:7]
    if _is_pointwise(geo):
        return _to_cnhw(x)
    col = cupy_module().empty((C * kh * kw, x.shape[0] * OH * OW), dtype=x.dtype)
    _im2col_kernel(col.size, x, col, col.size, *geo, x.shape[0], _small(x, col))
    return col


def _col2im(col, out, geo):
    """Write into out (nb, C, H, W) (C-contiguous) the image gradient of col."""
    _col2im_kernel(out.size, col, out, out.size, *geo, out.shape[0], _small(col, out))


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
    w_rows = cp.ascontiguousarray(w).reshape(O, -1)
    bias = w_rows if b is None else cp.ascontiguousarray(b)   # (never read without a bias)
    y = cp.empty((N, O, OH * OW), dtype=x.dtype)
    for n0, n1 in _chunks(N, geo, x.itemsize):
        yt = _cublas.gemm(w_rows, _im2col(x[n0:n1], geo))     # (O, nb*OH*OW)
        out = y[n0:n1]
        _to_nchw_kernel(out.size, yt, bias, out, out.size, O, n1 - n0, OH * OW, int(b is not None))
    return y.reshape(N, O, OH, OW)


@on_device
def conv2d_backward_input(gy, w, x_shape, stride, padding, dilation):
    cp = cupy_module()
    fn = "conv2d_backward_input"
    check_float(fn, gy=gy, w=w)
    x_shape = tuple(int(s) for s in x_shape)
    geo = _geometry(x_shape, w.shape, stride, padding, dilation, fn)
    gy = _gy_rows(gy, x_shape, w.shape, geo, fn)
    w_rows = cp.ascontiguousarray(w).reshape(w.shape[0], -1)       # (O, C*kh*kw)
    gx = cp.empty(x_shape, dtype=gy.dtype)
    for n0, n1 in _chunks(x_shape[0], geo, gy.itemsize):
        _col2im(_cublas.gemm(w_rows, _to_cnhw(gy[n0:n1]), trans_a=True), gx[n0:n1], geo)
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
    gw = cp.empty((w_shape[0], w_shape[1] * w_shape[2] * w_shape[3]), dtype=gy.dtype)
    if x.shape[0] == 0:     # an empty batch
        gw.fill(0)
    for n0, n1 in _chunks(x.shape[0], geo, x.itemsize):
        # (O, nb*OH*OW) @ (C*kh*kw, nb*OH*OW)^T, summed over the chunks in place
        _cublas.gemm(_to_cnhw(gy[n0:n1]), _im2col(x[n0:n1], geo), trans_b=True, out=gw,
                     accumulate=n0 > 0)
    return gw.reshape(w_shape)
